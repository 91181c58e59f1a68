//! The receiver configs users copy (`examples/receivers/`) work as shipped: with only their
//! paths and ports changed, a real rsyslog takes siemfwd's records over mutual TLS and decodes
//! the CEF. The test harness's own rsyslog loads the same rulebases, so they cannot drift.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::certs::Certs;
use crate::support::ports::free_ports;
use crate::support::rsyslog::{module_dir, rsyslogd_path};
use crate::support::tempdir::TestDir;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/receivers");

#[test]
fn the_shipped_rsyslog_config_takes_siemfwd_over_mutual_tls_and_decodes_the_cef() {
    let dir = TestDir::new("example-rsyslog");
    let certs = Certs::generate(&dir.join("certs"));
    let etc = dir.mkdir("etc");
    for (from, to) in [
        (&certs.ca_crt, "ca.crt"),
        (&certs.server_crt, "server.crt"),
        (&certs.server_key, "server.key"),
    ] {
        std::fs::copy(from, etc.join(to)).unwrap();
    }
    for rb in ["cef.rb", "leef.rb"] {
        std::fs::copy(Path::new(EXAMPLES).join(rb), etc.join(rb)).unwrap();
    }
    let (work, out) = (dir.mkdir("work"), dir.mkdir("out"));
    let ports = free_ports(2);
    let conf = std::fs::read_to_string(Path::new(EXAMPLES).join("rsyslog-siemfwd.conf"))
        .unwrap()
        .replace("/etc/rsyslog.d/siemfwd", etc.to_str().unwrap())
        .replace("/var/spool/rsyslog", work.to_str().unwrap())
        .replace("/var/log/siemfwd", out.to_str().unwrap())
        .replace("port=\"6514\"", &format!("port=\"{}\"", ports[0]))
        .replace("port=\"1514\"", &format!("port=\"{}\"", ports[1]));
    let conf_path = dir.join("rsyslog.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let mut rsyslogd = Command::new(rsyslogd_path())
        .arg("-n")
        .arg("-f")
        .arg(&conf_path)
        .arg("-i")
        .arg(dir.join("rsyslogd.pid"))
        .arg("-M")
        .arg(module_dir())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("rsyslogd.stderr")).unwrap())
        .spawn()
        .unwrap();
    let listening = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        std::net::TcpStream::connect(("127.0.0.1", ports[0])).is_ok()
    });
    assert!(
        listening,
        "rsyslogd did not listen: {}",
        std::fs::read_to_string(dir.join("rsyslogd.stderr")).unwrap_or_default()
    );

    let config = dir.join("siemfwd.toml");
    std::fs::write(
        &config,
        format!(
            "state_dir = \"{}\"\n[[output]]\nname = \"rsyslog\"\ntype = \"tls\"\n\
             address = \"127.0.0.1:{}\"\nca_file = \"{}\"\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
            dir.join("state").display(),
            ports[0],
            certs.ca_crt.display(),
            certs.client_crt.display(),
            certs.client_key.display()
        ),
    )
    .unwrap();
    let sent = Command::new(env!("CARGO_BIN_EXE_siemfwd"))
        .args(["map", "--output", "rsyslog", "--config"])
        .arg(&config)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/alerts/single.json"
        ))
        .output()
        .unwrap();
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    let decoded = out.join("alerts.jsonl");
    let line = (0..200)
        .find_map(|_| {
            std::thread::sleep(Duration::from_millis(50));
            std::fs::read_to_string(&decoded)
                .ok()
                .and_then(|t| t.lines().next().map(str::to_owned))
        })
        .unwrap_or_else(|| panic!("nothing in {}", decoded.display()));
    let _ = rsyslogd.kill();
    let _ = rsyslogd.wait();
    let event: serde_json::Value = serde_json::from_str(&line).unwrap();
    let cef = &event["$!"]["cef"]["cef"];
    assert_eq!(cef["DeviceVendor"], "Microsoft", "{line}");
    assert_eq!(
        cef["Extensions"]["externalId"], "da638672170592213380_1847720195",
        "{line}"
    );
}
