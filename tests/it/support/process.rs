//! Foreground daemon processes started by tests, stopped by pid; starting one on free ports
//! and waiting until it is up ([`Launcher`]).

use std::fmt::Debug;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// First of `candidates` that exists as a file, else `name` looked up in `$PATH`.
pub fn find_executable(name: &str, candidates: &[&str]) -> Option<PathBuf> {
    for c in candidates {
        let p = Path::new(c);
        if p.is_file() {
            return Some(p.to_path_buf());
        }
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A daemon running in the foreground as a child of the test, with stdout/stderr captured to
/// files. Stopped (SIGTERM, then SIGKILL after a grace period) and reaped on drop.
#[derive(Debug)]
pub struct Daemon {
    name: String,
    child: Option<Child>,
    stdout_path: PathBuf,
    stderr_path: PathBuf,
}

impl Daemon {
    /// Spawns `cmd` with stdin closed and stdout/stderr appended to `<log_prefix>.stdout` /
    /// `<log_prefix>.stderr`.
    pub fn spawn(name: &str, mut cmd: Command, log_prefix: &Path) -> std::io::Result<Daemon> {
        let stdout_path = log_prefix.with_extension("stdout");
        let stderr_path = log_prefix.with_extension("stderr");
        let open = |p: &Path| File::options().create(true).append(true).open(p);
        cmd.stdin(Stdio::null())
            .stdout(open(&stdout_path)?)
            .stderr(open(&stderr_path)?);
        let child = cmd.spawn()?;
        Ok(Daemon {
            name: name.to_string(),
            child: Some(child),
            stdout_path,
            stderr_path,
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `Some(status)` if the process has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// What the daemon wrote to stderr (and stdout) so far.
    pub fn output(&self) -> String {
        let err = std::fs::read_to_string(&self.stderr_path).unwrap_or_default();
        let out = std::fs::read_to_string(&self.stdout_path).unwrap_or_default();
        if out.trim().is_empty() {
            err
        } else {
            format!("{err}\n--- stdout ---\n{out}")
        }
    }

    pub fn stderr_path(&self) -> &Path {
        &self.stderr_path
    }

    /// Sends SIGTERM by pid and waits up to 5 s; then SIGKILL and waits. Idempotent.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        signal(child.id(), "TERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        eprintln!(
            "{} (pid {}) ignored SIGTERM; killing",
            self.name,
            child.id()
        );
        let _ = child.kill();
        child.wait().ok()
    }

    /// SIGKILL by pid and reaps it; panics if it had exited by itself, `None` if it was
    /// already stopped or killed.
    pub fn kill9(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{} (pid {}) had already exited: {status}",
                self.name,
                child.id()
            );
        }
        child.kill().expect("kill -9");
        child.wait().ok()
    }
}

/// `kill -SIG PID` (std has no signal API other than SIGKILL).
pub fn signal(pid: u32, sig: &str) -> bool {
    Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether process `pid` has a socket listening on 127.0.0.1:`port` (`udp == false`: TCP in
/// LISTEN state), per /proc/net/{tcp,udp} and /proc/PID/fd. Does not connect, so TLS
/// listeners do not log handshake errors, and a port taken by another process does not count.
pub fn is_bound_by(pid: u32, port: u16, udp: bool) -> bool {
    let file = if udp {
        "/proc/net/udp"
    } else {
        "/proc/net/tcp"
    };
    let Ok(table) = std::fs::read_to_string(file) else {
        return false;
    };
    let local = format!("0100007F:{port:04X}");
    let inodes: Vec<String> = table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let ok = cols.len() > 9 && cols[1] == local && (udp || cols[3] == "0A");
            ok.then(|| format!("socket:[{}]", cols[9]))
        })
        .collect();
    if inodes.is_empty() {
        return false;
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .is_ok_and(|t| inodes.iter().any(|i| t.as_os_str() == i.as_str()))
    })
}

/// Why a daemon did not come up.
#[derive(Debug)]
pub enum LaunchError {
    /// A port it was given was taken meanwhile: try again, on other ports or a little later.
    PortTaken(String),
    /// Anything else.
    Fatal(String),
}

/// How to start one kind of daemon and tell when it is up, for [`Launcher::launch`].
#[derive(Debug, Clone, Copy)]
pub struct Launcher {
    /// Its name, for messages and its log files (`<dir>/<name>.stderr`, `.stdout`).
    pub name: &'static str,
    /// How long it may take to come up (and how long a restart retries).
    pub timeout: Duration,
    /// What it writes to stderr when a port it was given is taken.
    pub port_taken: &'static [&'static str],
}

impl Launcher {
    /// Spawns `cmd` ([`Daemon::spawn`], logs in `dir`) and polls until `ready(pid)`: the
    /// daemon on success; [`LaunchError::PortTaken`] when its new stderr output says a port is
    /// taken, [`LaunchError::Fatal`] when it exits or is not ready within the timeout (it is
    /// stopped then). `config` (its config file), `ports` and `ready_means` (what `ready`
    /// waits for, e.g. "listen on its ports") are for the messages.
    pub fn launch(
        &self,
        cmd: Command,
        dir: &Path,
        config: &Path,
        ports: &dyn Debug,
        ready_means: &str,
        mut ready: impl FnMut(u32) -> bool,
    ) -> Result<Daemon, LaunchError> {
        let name = self.name;
        let log_prefix = dir.join(name);
        let stderr_path = log_prefix.with_extension("stderr");
        let before = std::fs::metadata(&stderr_path).map_or(0, |m| m.len() as usize);
        let program = PathBuf::from(cmd.get_program());
        let mut daemon = Daemon::spawn(name, cmd, &log_prefix)
            .map_err(|e| LaunchError::Fatal(format!("cannot run {}: {e}", program.display())))?;
        let new_output = || {
            let all = std::fs::read(&stderr_path).unwrap_or_default();
            String::from_utf8_lossy(all.get(before..).unwrap_or_default()).into_owned()
        };
        let deadline = Instant::now() + self.timeout;
        loop {
            let out = new_output();
            if self.port_taken.iter().any(|m| out.contains(m)) {
                daemon.stop();
                return Err(LaunchError::PortTaken(format!(
                    "port in use ({ports:?}): {out}"
                )));
            }
            if let Some(status) = daemon.try_wait() {
                return Err(LaunchError::Fatal(format!(
                    "{name} exited during startup ({status}); config {}; stderr:\n{}",
                    config.display(),
                    new_output()
                )));
            }
            if ready(daemon.pid().unwrap_or(0)) {
                return Ok(daemon);
            }
            if Instant::now() >= deadline {
                daemon.stop();
                return Err(LaunchError::Fatal(format!(
                    "{name} did not {ready_means} within {:?} (ports {ports:?}); config {}; \
                     stderr:\n{}",
                    self.timeout,
                    config.display(),
                    new_output()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Calls `try_launch` (which picks new free ports each time and launches) until the daemon
    /// is up, at most `attempts` times while a port was taken meanwhile; panics otherwise.
    pub fn start_on_free_ports(
        &self,
        attempts: usize,
        mut try_launch: impl FnMut() -> Result<(), LaunchError>,
    ) {
        let mut last_err = String::new();
        for _ in 0..attempts {
            match try_launch() {
                Ok(()) => return,
                Err(LaunchError::PortTaken(e)) => last_err = e,
                Err(LaunchError::Fatal(e)) => panic!("{e}"),
            }
        }
        panic!(
            "{} did not start after {attempts} attempts: {last_err}",
            self.name
        );
    }

    /// Calls `try_launch` (on the ports the daemon had) until the daemon is up, retrying for
    /// the timeout while a port is still or already in use; panics otherwise.
    pub fn restart(&self, mut try_launch: impl FnMut() -> Result<(), LaunchError>) {
        let deadline = Instant::now() + self.timeout;
        loop {
            match try_launch() {
                Ok(()) => return,
                Err(LaunchError::PortTaken(e)) if Instant::now() < deadline => {
                    eprintln!("{} restart: {e}; retrying", self.name);
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(LaunchError::PortTaken(e) | LaunchError::Fatal(e)) => {
                    panic!("{} restart failed: {e}", self.name)
                }
            }
        }
    }
}

/// Sends `sig` to `child` and waits (off the async runtime) until it exits: its status, and
/// how long that took from the signal.
pub async fn signal_and_wait(mut child: Child, sig: &str) -> (ExitStatus, Duration) {
    let sent = Instant::now();
    assert!(signal(child.id(), sig), "kill -{sig} {}", child.id());
    tokio::task::spawn_blocking(move || (child.wait().unwrap(), sent.elapsed()))
        .await
        .unwrap()
}
