//! A real rsyslogd (8.2302, Debian) with mmnormalize/liblognorm as a strict CEF/LEEF checker.
//!
//! Inputs (all 127.0.0.1, see [`RsyslogPorts`]): TLS gtls (`x509/certvalid`), TLS gtls
//! (`x509/name`, permitted peer `mde-forwarder`), TLS ossl (`x509/name`, same peer), plain TCP
//! (octet-counted and LF frames on one port), UDP, RELP (imrelp) plain and over TLS (client
//! certificate must chain to the CA; librelp through OpenSSL, see the template). Input names in
//! `raw.log`/`inputname`: `tls_gtls`, `tls_gtls_name`, `tls_ossl`, `tcp_plain`, `udp_plain`,
//! `relp_plain`, `relp_tls`.
//!
//! The RELP inputs feed a ruleset in direct mode: each message is written to `out/raw.log` and
//! `out/parsed.jsonl` (and handed to the OS) before rsyslog acknowledges it, so a
//! [`Home::kill9`] of rsyslogd loses no message it acknowledged.
//!
//! Config: `tests/it/receivers/rsyslog.conf.in` (from shared/reference/rsyslog.conf) with
//! rulebases `examples/receivers/cef.rb` and `leef.rb` (the ones users copy). Every message is written to
//! `out/raw.log` as `INPUTNAME RAWMSG` and, as rsyslog's `%jsonmesg%`, to `out/parsed.jsonl`;
//! decoded CEF is under `$!` → `cefparse` → `cef` → {`DeviceVendor`, `DeviceProduct`,
//! `DeviceVersion`, `SignatureID`, `Name`, `Severity`, `Extensions` {key: unescaped value}},
//! decoded LEEF under `$!` → `leefparse`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::ports::free_ports;
use super::process::{LaunchError, Launcher, find_executable, is_bound_by};
use super::receiver::{self, Home};

const CONF_TEMPLATE: &str = include_str!("../receivers/rsyslog.conf.in");
const CEF_RB: &str = include_str!("../../../examples/receivers/cef.rb");
const LEEF_RB: &str = include_str!("../../../examples/receivers/leef.rb");

const NOT_FOUND: &str = "rsyslogd not found: run scripts/install-receivers.sh";

/// rsyslogd: how long to wait for it to listen on all its ports, and what it says when one is
/// taken.
const LAUNCHER: Launcher = Launcher {
    name: "rsyslogd",
    timeout: Duration::from_secs(15),
    // imrelp: "error while binding relp tcp socket on port ..." (and it keeps running).
    port_taken: &[
        "Address already in use",
        "Could not create",
        "error while binding relp",
    ],
};
/// How many times to pick new ports when one was taken meanwhile.
const START_ATTEMPTS: usize = 5;

/// Options for [`Rsyslog::start`].
#[derive(Debug, Clone)]
pub struct RsyslogOpts {
    /// rsyslog `global(maxMessageSize=...)`, e.g. `"64k"` (rsyslog's own default is 8k).
    pub max_message_size: String,
    /// rsyslog `parser.escapeControlCharactersOnReceive`: stock rsyslog (true) turns control
    /// characters other than TAB (kept by this config) into `#ooo` (octal) on receipt.
    pub escape_control_characters: bool,
    /// Client certificate name the `tls_ossl` input accepts (`permittedPeer`).
    pub permitted_peer: String,
}

impl Default for RsyslogOpts {
    fn default() -> Self {
        RsyslogOpts {
            max_message_size: "64k".to_string(),
            escape_control_characters: true,
            permitted_peer: super::certs::CLIENT_CN.to_string(),
        }
    }
}

/// Ports of the running receiver (all on 127.0.0.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RsyslogPorts {
    /// TLS (gtls driver), client certificate must chain to the CA (`x509/certvalid`).
    pub tls_gtls: u16,
    /// TLS (gtls driver), client certificate must chain to the CA and have the permitted
    /// peer name (`x509/name`). Use this one for negative client-name tests.
    pub tls_gtls_name: u16,
    /// TLS (ossl driver), client certificate must chain to the CA and have the permitted
    /// peer name (`x509/name`) -- but rsyslog's ossl driver does not reliably refuse other
    /// names (upstream rsyslog issue #6350), so do not test rejection on this port.
    pub tls_ossl: u16,
    /// Plain TCP, octet-counted and LF-framed messages on the same port.
    pub tcp: u16,
    /// UDP.
    pub udp: u16,
    /// RELP (imrelp), plain; input name `relp_plain`.
    pub relp: u16,
    /// RELP (imrelp) over TLS; the client certificate must chain to the CA
    /// (`tls.authMode="certvalid"`); input name `relp_tls`.
    pub relp_tls: u16,
}

/// A running rsyslogd in its own temp dir. Stopped (by pid) and the dir removed on drop.
#[derive(Debug)]
pub struct Rsyslog {
    home: Home<RsyslogOpts, RsyslogPorts>,
    rsyslogd: PathBuf,
    module_dir: PathBuf,
}

impl std::ops::Deref for Rsyslog {
    type Target = Home<RsyslogOpts, RsyslogPorts>;
    fn deref(&self) -> &Self::Target {
        &self.home
    }
}

impl std::ops::DerefMut for Rsyslog {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.home
    }
}

/// Path of rsyslogd (`$SIEMFWD_RSYSLOGD`, /usr/sbin/rsyslogd, or `$PATH`); panics with
/// "rsyslogd not found: run scripts/install-receivers.sh" when absent.
pub fn rsyslogd_path() -> PathBuf {
    if let Some(p) = std::env::var_os("SIEMFWD_RSYSLOGD").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "{NOT_FOUND} (SIEMFWD_RSYSLOGD={})",
            p.display()
        );
        return p;
    }
    find_executable("rsyslogd", &["/usr/sbin/rsyslogd", "/sbin/rsyslogd"]).expect(NOT_FOUND)
}

/// rsyslog's module directory (`$SIEMFWD_RSYSLOG_MODDIR` or the Debian multiarch path).
pub fn module_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("SIEMFWD_RSYSLOG_MODDIR").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    for d in [
        "/usr/lib/x86_64-linux-gnu/rsyslog",
        "/usr/lib/aarch64-linux-gnu/rsyslog",
        "/usr/lib/rsyslog",
        "/usr/lib64/rsyslog",
    ] {
        if Path::new(d).join("imtcp.so").is_file() {
            return PathBuf::from(d);
        }
    }
    panic!("rsyslog modules (imtcp.so) not found: run scripts/install-receivers.sh")
}

/// The config template filled in for `work` dir, `ports` and `opts`.
pub fn render_config(work: &Path, ports: &RsyslogPorts, opts: &RsyslogOpts) -> String {
    let work = work.to_str().expect("utf-8 temp dir path");
    assert!(
        !work.contains('"') && !work.contains('\''),
        "temp dir path must not contain quotes: {work}"
    );
    CONF_TEMPLATE
        .replace("@WORK@", work)
        .replace("@PORT_GTLS@", &ports.tls_gtls.to_string())
        .replace("@PORT_GTLS_NAME@", &ports.tls_gtls_name.to_string())
        .replace("@PORT_OSSL@", &ports.tls_ossl.to_string())
        .replace("@PORT_TCP@", &ports.tcp.to_string())
        .replace("@PORT_UDP@", &ports.udp.to_string())
        .replace("@PORT_RELP@", &ports.relp.to_string())
        .replace("@PORT_RELP_TLS@", &ports.relp_tls.to_string())
        .replace("@MAX_MESSAGE_SIZE@", &opts.max_message_size)
        .replace(
            "@ESCAPE_CC@",
            if opts.escape_control_characters {
                "on"
            } else {
                "off"
            },
        )
        .replace("@PERMITTED_PEER@", &opts.permitted_peer)
}

impl Rsyslog {
    /// Makes a temp dir with certs, rulebases and config, starts rsyslogd in the foreground and
    /// waits until all its listeners are up. Picks new ports and retries if one was taken.
    pub fn start(opts: RsyslogOpts) -> Rsyslog {
        let home = Home::new("rsyslogd", opts);
        for sub in ["work", "out"] {
            home.dir.mkdir(sub);
        }
        std::fs::write(home.dir.join("cef.rb"), CEF_RB).expect("write cef.rb");
        std::fs::write(home.dir.join("leef.rb"), LEEF_RB).expect("write leef.rb");
        let mut me = Rsyslog {
            home,
            rsyslogd: rsyslogd_path(),
            module_dir: module_dir(),
        };
        LAUNCHER.start_on_free_ports(START_ATTEMPTS, || {
            let p = free_ports(7);
            me.ports = RsyslogPorts {
                tls_gtls: p[0],
                tls_gtls_name: p[1],
                tls_ossl: p[2],
                tcp: p[3],
                udp: p[4],
                relp: p[5],
                relp_tls: p[6],
            };
            me.try_launch()
        });
        me
    }

    /// Stops rsyslogd (if it still runs; after [`Home::kill9`] it does not) and starts it again
    /// with the same config and ports (output files are kept and appended to). Retries for a
    /// while if a port is still/already in use.
    pub fn restart(&mut self) {
        self.stop();
        LAUNCHER.restart(|| self.try_launch());
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("rsyslog.conf")
    }

    /// Runs `rsyslogd -N1` on the generated config; `Err(output)` if it is rejected.
    pub fn validate_config(&self) -> Result<String, String> {
        let mut cmd = Command::new(&self.rsyslogd);
        cmd.arg("-N1")
            .arg("-f")
            .arg(self.config_path())
            .arg("-M")
            .arg(&self.module_dir);
        receiver::validate(cmd, true)
    }

    fn try_launch(&mut self) -> Result<(), LaunchError> {
        let conf = self.config_path();
        let work = self.dir.path().to_path_buf();
        std::fs::write(&conf, render_config(&work, &self.ports, &self.opts))
            .expect("write rsyslog.conf");
        let pidfile = self.dir.join("rsyslogd.pid");
        let _ = std::fs::remove_file(&pidfile);
        let mut cmd = Command::new(&self.rsyslogd);
        cmd.arg("-n")
            .arg("-f")
            .arg(&conf)
            .arg("-i")
            .arg(&pidfile)
            .arg("-M")
            .arg(&self.module_dir);
        let p = self.ports;
        let ready = |pid| {
            is_bound_by(pid, p.tls_gtls, false)
                && is_bound_by(pid, p.tls_gtls_name, false)
                && is_bound_by(pid, p.tls_ossl, false)
                && is_bound_by(pid, p.tcp, false)
                && is_bound_by(pid, p.udp, true)
                && is_bound_by(pid, p.relp, false)
                && is_bound_by(pid, p.relp_tls, false)
                && std::net::TcpStream::connect(("127.0.0.1", p.tcp)).is_ok()
        };
        let daemon = LAUNCHER.launch(
            cmd,
            self.dir.path(),
            &conf,
            &p,
            "listen on all its ports",
            ready,
        )?;
        self.daemon = Some(daemon);
        Ok(())
    }
}
