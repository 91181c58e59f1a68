//! What the test receivers (rsyslog, syslog-ng) have in common: a daemon in its own temp dir
//! with its options, ports and certificates, the files it writes there, and waiting on them.
//! Each receiver derefs to its [`Home`].

use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::certs::Certs;
use super::files;
use super::process::Daemon;
use super::tempdir::TestDir;

/// A receiver daemon's process and temp dir. Stopped (by pid) and the dir removed on drop.
#[derive(Debug)]
pub struct Home<O, P> {
    // Field order matters: the daemon is stopped before the dir is removed.
    pub(super) daemon: Option<Daemon>,
    pub(super) opts: O,
    pub(super) ports: P,
    pub(super) certs: Certs,
    pub(super) dir: TestDir,
    /// The daemon's name: its `<name>.stderr` / `<name>.stdout` in the dir, and messages.
    name: &'static str,
    /// A log of the daemon's own, whose last lines go into panic messages.
    own_log: Option<PathBuf>,
}

impl<O, P: Copy + Default> Home<O, P> {
    /// A temp dir named after `name` with certificates in `certs/`; no daemon yet.
    pub fn new(name: &'static str, opts: O) -> Home<O, P> {
        let dir = TestDir::new(name);
        let certs = Certs::generate(&dir.join("certs"));
        Home {
            daemon: None,
            opts,
            ports: P::default(),
            certs,
            dir,
            name,
            own_log: None,
        }
    }

    /// Panic messages end with the last lines of `file` (relative to the dir).
    pub(super) fn with_own_log(mut self, file: &str) -> Self {
        self.own_log = Some(self.dir.join(file));
        self
    }

    /// Stops the daemon (SIGTERM by pid, wait; SIGKILL after 5 s). The dir stays until drop.
    pub fn stop(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            d.stop();
        }
    }

    /// Kills the daemon with SIGKILL by pid (no chance to flush or finish anything) and reaps
    /// it. The dir, its files and the ports stay: `restart()` starts it again on them.
    /// Panics if the daemon was not running.
    pub fn kill9(&mut self) {
        let mut d = self
            .daemon
            .take()
            .expect("kill9: the daemon is not running");
        d.kill9();
    }

    /// Whether the daemon is (still) running.
    pub fn is_running(&mut self) -> bool {
        self.daemon.as_mut().is_some_and(|d| d.try_wait().is_none())
    }

    pub fn pid(&self) -> Option<u32> {
        self.daemon.as_ref().and_then(Daemon::pid)
    }

    pub fn ports(&self) -> P {
        self.ports
    }

    pub fn certs(&self) -> &Certs {
        &self.certs
    }

    pub fn opts(&self) -> &O {
        &self.opts
    }

    /// The temp dir (config, `certs/`, `out/`, the daemon's own files).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `out/raw.log`: one line per received message, `INPUT RAWMSG`.
    pub fn raw_log(&self) -> PathBuf {
        self.dir.join("out/raw.log")
    }

    /// `out/parsed.jsonl`: one JSON object per received message.
    pub fn parsed_jsonl(&self) -> PathBuf {
        self.dir.join("out/parsed.jsonl")
    }

    /// What the daemon wrote to stderr (and stdout, if anything) so far, over all its runs.
    pub fn daemon_output(&self) -> String {
        let read = |ext| {
            std::fs::read_to_string(self.dir.join(format!("{}.{ext}", self.name)))
                .unwrap_or_default()
        };
        let (err, out) = (read("stderr"), read("stdout"));
        if out.trim().is_empty() {
            err
        } else {
            format!("{err}\n--- stdout ---\n{out}")
        }
    }

    /// The daemon's output and the end of its own log, for panic messages.
    pub fn diagnostics(&self) -> String {
        let mut text = format!("{} stderr:\n{}", self.name, self.daemon_output());
        if let Some(log) = &self.own_log {
            let lines = files::read_lines(log);
            let skip = lines.len().saturating_sub(40);
            text.push_str(&format!(
                "\n{} (last 40 lines):\n{}",
                log.display(),
                lines[skip..].join("\n")
            ));
        }
        text
    }

    /// Waits until `file` has at least `n` complete lines and returns them; panics after
    /// `timeout` with the file's content and [`Home::diagnostics`].
    pub fn wait_for_lines(&self, file: &Path, n: usize, timeout: Duration) -> Vec<String> {
        files::try_wait_for_lines(file, n, timeout)
            .unwrap_or_else(|e| panic!("{e}\n{}", self.diagnostics()))
    }

    /// Waits until a line of `file` contains `needle`; returns the lines up to it.
    pub fn wait_for_line_containing(
        &self,
        file: &Path,
        needle: &str,
        timeout: Duration,
    ) -> Vec<String> {
        files::try_wait_for_line_containing(file, needle, timeout)
            .unwrap_or_else(|e| panic!("{e}\n{}", self.diagnostics()))
    }
}

impl<O, P> Drop for Home<O, P> {
    fn drop(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            d.stop();
        }
        if std::thread::panicking() && !super::tempdir::keep_test_dirs() {
            eprintln!(
                "{} test dir {} is removed; set SIEMFWD_KEEP_TEST_DIRS=1 to keep it",
                self.name,
                self.dir.path().display()
            );
        }
    }
}

/// Runs a daemon's config check (`cmd`); `Err(output)` when it exits non-zero or, with
/// `error_fails`, says "error" (rsyslogd -N1 exits 0 on warnings too).
pub fn validate(mut cmd: std::process::Command, error_fails: bool) -> Result<String, String> {
    let out = cmd.output().expect("run the config check");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let errors = error_fails && text.to_ascii_lowercase().contains("error");
    if out.status.success() && !errors {
        Ok(text)
    } else {
        Err(text)
    }
}
