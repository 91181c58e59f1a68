//! A real syslog-ng (3.38, Debian 12 packages unpacked by `scripts/install-receivers.sh` under
//! [`super::receivers_dir`]`/syslog-ng`) as a strict CEF/LEEF, framing and TLS checker.
//!
//! Sources (all 127.0.0.1, see [`SyslogNgPorts`]; source names in `raw.log`/`SOURCE`):
//! `s_tls_framed` (RFC 5425: `syslog()` driver, TLS, octet counting, client certificate must
//! chain to the CA: `peer-verify(required-trusted)`), `s_tcp_framed` (RFC 6587 octet counting;
//! a frame over `log-msg-size` closes the connection), `s_tcp_framed_trim` (same, but an
//! oversize message is cut to `log-msg-size` bytes and the connection kept), `s_tcp_lf` (LF
//! framing, BSD/RFC 3164 parsing), `s_tcp_lf5424` (LF framing, RFC 5424 parsing), `s_tls_lf`
//! (LF framing over TLS, client certificate optional), `s_udp`.
//!
//! Config: `tests/it/receivers/syslog-ng.conf.in` (from shared/reference/syslog-ng.conf; parsers
//! `p_cef` and `p_leef` verbatim). Every message is written to `out/raw.log` as
//! `SOURCE RAWMSG` and, as `$(format-json ...)`, to `out/parsed.jsonl`; syslog-ng's own messages
//! (connections, oversize frames, TLS errors) go to `out/internal.log`.
//!
//! JSON layout (seen with 3.38.1): format-json nests dotted names and turns the leading dot into
//! `_`, so `.cef.ext.src` is `{"_cef": {"ext": {"src": "..."}}}`. Use [`field`] to read a
//! dotted name either way. All values are strings. Decoded CEF: `.cef.` {`version`,
//! `device_vendor`, `device_product`, `device_version`, `device_event_class_id`, `name`,
//! `severity`} (header `\|` and `\\` unescaped), `.cef.extension` (raw), `.cef.ext.KEY` (values
//! still ESCAPED, e.g. `a\=b`), `.cef.extension_strict_ok` = `"yes"` or absent. Decoded LEEF:
//! `.leef.` {`version`, `vendor`, `product`, `product_version`, `event_id`, `delimiter`,
//! `attrs`} and `.leef.attr.KEY`. Also `SOURCE`, `RAWMSG`, `HOST`, `PROGRAM`, `MSGID`,
//! `MESSAGE`, `_SDATA` (nested: `{"_SDATA": {"id@pen": {"param": "v"}}}`), ...; keys `"0"`,
//! `"1"`, ... are leftover regexp match groups: ignore them. No `.tls.*` keys appear.
//!
//! The `.cef.extension_strict_ok` pattern is the reference one rewritten with possessive
//! quantifiers: the reference pattern exhausts PCRE's JIT stack on extensions over ~1.35 KB
//! (`Error while matching regexp; error_code='-27'` in `internal.log`) and then leaves the flag
//! unset. [`SyslogNg::regexp_errors`] counts such errors, which a test should expect to be 0.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::certs::Certs;
use super::files;
use super::ports::free_ports;
use super::process::{LaunchError, Launcher, is_bound_by};
use super::receiver::{self, Home};

const CONF_TEMPLATE: &str = include_str!("../receivers/syslog-ng.conf.in");

const NOT_FOUND: &str = "syslog-ng not found: run scripts/install-receivers.sh";

/// syslog-ng: how long to wait for it to listen on all its ports and log [`STARTED`], and what
/// it says when a port is taken.
const LAUNCHER: Launcher = Launcher {
    name: "syslog-ng",
    timeout: Duration::from_secs(20),
    port_taken: &["Address already in use"],
};
/// How many times to pick new ports when one was taken meanwhile.
const START_ATTEMPTS: usize = 5;
/// What syslog-ng logs (to `internal.log`) once its main loop runs.
const STARTED: &str = "syslog-ng starting up";

/// Options for [`SyslogNg::start`].
#[derive(Debug, Clone)]
pub struct SyslogNgOpts {
    /// `log-msg-size()` in bytes: the largest message (octet-counted frame) accepted.
    pub log_msg_size: usize,
    /// `max-connections()` of each TCP/TLS source (syslog-ng's own default is 10).
    pub max_connections: usize,
}

impl Default for SyslogNgOpts {
    fn default() -> Self {
        SyslogNgOpts {
            log_msg_size: 65536,
            max_connections: 100,
        }
    }
}

/// Ports of the running receiver (all on 127.0.0.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SyslogNgPorts {
    /// RFC 5425: `syslog()` driver, TLS, octet counting; client certificate required and must
    /// chain to the CA (`peer-verify(required-trusted)`, `ca-file` = [`Certs::ca_crt`]).
    pub tls_framed: u16,
    /// RFC 6587 octet counting over TCP (RFC 5424 parsing). A frame longer than
    /// `log_msg_size` is dropped and the connection closed.
    pub tcp_framed: u16,
    /// Like `tcp_framed` with `trim-large-messages(yes)`: an oversize message is cut to
    /// `log_msg_size` bytes and the connection stays open.
    pub tcp_framed_trim: u16,
    /// LF-framed TCP, BSD (RFC 3164) parsing.
    pub tcp_lf: u16,
    /// LF-framed TCP, RFC 5424 parsing (`flags(syslog-protocol)`).
    pub tcp_lf5424: u16,
    /// LF-framed TLS, client certificate optional (`peer-verify(optional-untrusted)`).
    pub tls_lf: u16,
    /// UDP, one message per datagram (BSD parsing, RFC 5424 recognised).
    pub udp: u16,
}

impl SyslogNgPorts {
    fn tcp(&self) -> [u16; 6] {
        [
            self.tls_framed,
            self.tcp_framed,
            self.tcp_framed_trim,
            self.tcp_lf,
            self.tcp_lf5424,
            self.tls_lf,
        ]
    }
}

/// A running syslog-ng in its own temp dir. Stopped (by pid) and the dir removed on drop.
#[derive(Debug)]
pub struct SyslogNg {
    home: Home<SyslogNgOpts, SyslogNgPorts>,
    syslog_ng: PathBuf,
    include_path: String,
}

impl std::ops::Deref for SyslogNg {
    type Target = Home<SyslogNgOpts, SyslogNgPorts>;
    fn deref(&self) -> &Self::Target {
        &self.home
    }
}

impl std::ops::DerefMut for SyslogNg {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.home
    }
}

/// The syslog-ng wrapper script `<receivers_dir>/syslog-ng/bin/syslog-ng`; panics with
/// "syslog-ng not found: run scripts/install-receivers.sh" when absent.
pub fn syslog_ng_path() -> PathBuf {
    let p = super::receivers_dir().join("syslog-ng/bin/syslog-ng");
    assert!(p.is_file(), "{NOT_FOUND} (no {})", p.display());
    p
}

/// The include path that holds `scl.conf` (`<receivers_dir>/syslog-ng/include-path`).
pub fn include_path() -> String {
    let f = super::receivers_dir().join("syslog-ng/include-path");
    let s = std::fs::read_to_string(&f)
        .unwrap_or_else(|e| panic!("{NOT_FOUND} (cannot read {}: {e})", f.display()));
    s.trim().to_string()
}

fn conf_str<'a>(what: &str, s: &'a str) -> &'a str {
    assert!(
        !s.contains(['"', '\'', '\\', '`', '\n']),
        "{what} must not contain quotes, backslashes or newlines: {s}"
    );
    s
}

fn path_str<'a>(what: &str, p: &'a Path) -> &'a str {
    conf_str(what, p.to_str().expect("utf-8 path"))
}

/// The config template filled in for `work` dir, `ports`, `certs` and `opts`.
pub fn render_config(
    work: &Path,
    include_path: &str,
    ports: &SyslogNgPorts,
    certs: &Certs,
    opts: &SyslogNgOpts,
) -> String {
    CONF_TEMPLATE
        .replace("@WORK@", path_str("temp dir path", work))
        .replace("@INCLUDE_PATH@", conf_str("include path", include_path))
        .replace(
            "@EXAMPLES@",
            concat!(env!("CARGO_MANIFEST_DIR"), "/examples/receivers"),
        )
        .replace("@CA_FILE@", path_str("CA path", &certs.ca_crt))
        .replace("@SERVER_CERT@", path_str("cert path", &certs.server_crt))
        .replace("@SERVER_KEY@", path_str("key path", &certs.server_key))
        .replace("@LOG_MSG_SIZE@", &opts.log_msg_size.to_string())
        .replace("@MAX_CONNECTIONS@", &opts.max_connections.to_string())
        .replace("@LOG_IW_SIZE@", &(opts.max_connections * 100).to_string())
        .replace("@PORT_TLS_FRAMED@", &ports.tls_framed.to_string())
        .replace("@PORT_TCP_FRAMED@", &ports.tcp_framed.to_string())
        .replace("@PORT_TCP_FRAMED_TRIM@", &ports.tcp_framed_trim.to_string())
        .replace("@PORT_TCP_LF@", &ports.tcp_lf.to_string())
        .replace("@PORT_TCP_LF5424@", &ports.tcp_lf5424.to_string())
        .replace("@PORT_TLS_LF@", &ports.tls_lf.to_string())
        .replace("@PORT_UDP@", &ports.udp.to_string())
}

/// The string at dotted name `dotted` (as written in the syslog-ng config, e.g.
/// `.cef.ext.src`, `.leef.attr.usrName`, `SOURCE`) of one `parsed.jsonl` event. format-json
/// writes `.cef.ext.src` as `{"_cef": {"ext": {"src": ...}}}`; flat keys (`".cef.ext.src"`,
/// `"_cef.ext.src"`) and keys that themselves contain dots are found too. `None` if absent or
/// not a string.
pub fn field<'a>(event: &'a Value, dotted: &str) -> Option<&'a str> {
    if dotted.is_empty() {
        return None;
    }
    if let Some(s) = event.get(dotted).and_then(Value::as_str) {
        return Some(s);
    }
    match dotted.strip_prefix('.') {
        Some(rest) => {
            let underscored = format!("_{rest}");
            let segs: Vec<&str> = underscored.split('.').collect();
            lookup(event, &segs)
        }
        None => lookup(event, &dotted.split('.').collect::<Vec<_>>()),
    }
}

/// `segs` joined with dots, each prefix tried as one key (longest first), then the rest below.
fn lookup<'a>(v: &'a Value, segs: &[&str]) -> Option<&'a str> {
    let obj = v.as_object()?;
    for i in (1..=segs.len()).rev() {
        let Some(child) = obj.get(&segs[..i].join(".")) else {
            continue;
        };
        let found = if i == segs.len() {
            child.as_str()
        } else {
            lookup(child, &segs[i..])
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

impl SyslogNg {
    /// Makes a temp dir with certs and config, starts syslog-ng in the foreground and waits
    /// until all its listeners are up and its main loop runs. Picks new ports and retries if
    /// one was taken.
    pub fn start(opts: SyslogNgOpts) -> SyslogNg {
        let home = Home::new("syslog-ng", opts).with_own_log("out/internal.log");
        home.dir.mkdir("out");
        let mut me = SyslogNg {
            home,
            syslog_ng: syslog_ng_path(),
            include_path: include_path(),
        };
        LAUNCHER.start_on_free_ports(START_ATTEMPTS, || {
            let p = free_ports(7);
            me.ports = SyslogNgPorts {
                tls_framed: p[0],
                tcp_framed: p[1],
                tcp_framed_trim: p[2],
                tcp_lf: p[3],
                tcp_lf5424: p[4],
                tls_lf: p[5],
                udp: p[6],
            };
            me.try_launch()
        });
        me
    }

    /// Stops syslog-ng and starts it again with the same config and ports (output files and
    /// the persist file are kept; files are appended to). Retries for a while if a port is
    /// still/already in use.
    pub fn restart(&mut self) {
        self.stop();
        LAUNCHER.restart(|| self.try_launch());
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("syslog-ng.conf")
    }

    /// `out/internal.log`: syslog-ng's own messages (BSD format), e.g. `Syslog connection
    /// accepted`, `Incoming frame larger than log_msg_size()`, `SSL error while reading
    /// stream; tls_error='...'`, `Certificate validation failed; ...`.
    pub fn internal_log(&self) -> PathBuf {
        self.dir.join("out/internal.log")
    }

    /// Waits until `parsed.jsonl` has at least `n` events and returns all of them, parsed.
    pub fn wait_for_events(&self, n: usize, timeout: Duration) -> Vec<Value> {
        let file = self.parsed_jsonl();
        self.wait_for_lines(&file, n, timeout)
            .iter()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| {
                    panic!("{}: not JSON ({e}): {l}", file.display());
                })
            })
            .collect()
    }

    /// How many times `internal.log` says a regexp match failed (`Error while matching
    /// regexp`), e.g. the `.cef.extension_strict_ok` check on a long extension (PCRE JIT stack
    /// limit, `error_code='-27'`).
    pub fn regexp_errors(&self) -> usize {
        files::read_lines(&self.internal_log())
            .iter()
            .filter(|l| l.contains("Error while matching regexp"))
            .count()
    }

    /// Runs `syslog-ng --syntax-only` on the generated config; `Err(output)` if rejected.
    pub fn validate_config(&self) -> Result<String, String> {
        let mut cmd = Command::new(&self.syslog_ng);
        cmd.arg("--syntax-only").arg("-f").arg(self.config_path());
        receiver::validate(cmd, false)
    }

    fn try_launch(&mut self) -> Result<(), LaunchError> {
        let conf = self.config_path();
        std::fs::write(
            &conf,
            render_config(
                self.dir.path(),
                &self.include_path,
                &self.ports,
                &self.certs,
                &self.opts,
            ),
        )
        .expect("write syslog-ng.conf");
        let pidfile = self.dir.join("syslog-ng.pid");
        let _ = std::fs::remove_file(&pidfile);
        let started_before = self.startups();
        let mut cmd = Command::new(&self.syslog_ng);
        cmd.arg("-F")
            .arg("-f")
            .arg(&conf)
            .arg("-R")
            .arg(self.dir.join("syslog-ng.persist"))
            .arg("-p")
            .arg(&pidfile)
            .arg("-c")
            .arg(self.dir.join("syslog-ng.ctl"))
            .arg("--no-caps");
        // The wrapper script execs syslog-ng, so the child's pid is the daemon's.
        let p = self.ports;
        let ready = |pid| {
            p.tcp().iter().all(|&port| is_bound_by(pid, port, false))
                && is_bound_by(pid, p.udp, true)
                && self.startups() > started_before
        };
        let ready_means = format!("listen on all its ports and log {STARTED:?}");
        let daemon = LAUNCHER.launch(cmd, self.dir.path(), &conf, &p, &ready_means, ready)?;
        self.daemon = Some(daemon);
        Ok(())
    }

    /// Number of "syslog-ng starting up" lines in internal.log.
    fn startups(&self) -> usize {
        files::read_lines(&self.internal_log())
            .iter()
            .filter(|l| l.contains(STARTED))
            .count()
    }
}
