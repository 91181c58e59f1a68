//! A lean rsyslogd for benchmarks: one gtls input (client certificate required) and one
//! `omfile` of each raw message, so the receiver costs as little as a real rsyslog can.
//! `BENCH_RSYSLOG_DRIVER=ossl` picks rsyslog's OpenSSL driver; `BENCH_RSYSLOG_OMFILE` adds
//! omfile parameters (e.g. ` ioBufferSize="256k" flushOnTXEnd="off"`).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support;
use crate::support::certs::Certs;

/// rsyslogd with one gtls input (client certificate required) and one omfile action.
pub fn start(dir: &Path, certs: &Certs) -> (support::process::Daemon, u16) {
    let port = support::ports::free_port();
    let conf = dir.join("lean.conf");
    std::fs::create_dir_all(dir.join("work")).unwrap();
    std::fs::write(
        &conf,
        format!(
            r#"global(workDirectory="{d}/work" maxMessageSize="64k"
  defaultNetstreamDriverCAFile="{ca}" defaultNetstreamDriverCertFile="{crt}" defaultNetstreamDriverKeyFile="{key}")
module(load="imtcp")
input(type="imtcp" port="{port}" address="127.0.0.1" streamDriver.name="{driver}" streamDriver.mode="1"
      streamDriver.authMode="x509/certvalid")
template(name="raw" type="string" string="%rawmsg%\n")
action(type="omfile" file="{d}/out.log" template="raw"{omfile})
"#,
            d = dir.display(),
            driver = std::env::var("BENCH_RSYSLOG_DRIVER").unwrap_or_else(|_| "gtls".into()),
            omfile = std::env::var("BENCH_RSYSLOG_OMFILE").unwrap_or_default(),
            ca = certs.ca_crt.display(),
            crt = certs.server_crt.display(),
            key = certs.server_key.display(),
        ),
    )
    .unwrap();
    let mut cmd = std::process::Command::new(support::rsyslog::rsyslogd_path());
    cmd.arg("-n")
        .arg("-f")
        .arg(&conf)
        .arg("-i")
        .arg(dir.join("pid"))
        .arg("-M")
        .arg(support::rsyslog::module_dir());
    let mut daemon =
        support::process::Daemon::spawn("rsyslogd", cmd, &dir.join("rsyslogd")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !daemon
        .pid()
        .is_some_and(|pid| support::process::is_bound_by(pid, port, false))
    {
        assert!(
            Instant::now() < deadline && daemon.try_wait().is_none(),
            "lean rsyslogd did not start: {}",
            daemon.output()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (daemon, port)
}
