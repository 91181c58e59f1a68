//! The receiver configs users copy (`examples/receivers/`) work as shipped: with only their
//! paths and ports changed, a real rsyslog and a real syslog-ng take siemfwd's records over
//! mutual TLS and decode the CEF, and rsyslog's RELP config takes RELP. The test harnesses' own
//! receivers load the same rulebases and parsers, so they cannot drift.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::certs::Certs;
use crate::support::files::read_lines;
use crate::support::ports::free_ports;
use crate::support::receiver::validate;
use crate::support::relp::RelpClient;
use crate::support::rsyslog::{module_dir, rsyslogd_path};
use crate::support::syslog_ng::{include_path, syslog_ng_path};
use crate::support::tempdir::TestDir;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/receivers");

#[test]
fn the_shipped_rsyslog_config_takes_siemfwd_over_mutual_tls_and_decodes_the_cef() {
    let dir = TestDir::new("example-rsyslog");
    let certs = Certs::generate(&dir.join("certs"));
    let etc = install(&dir, &certs, &["cef.rb", "leef.rb"]);
    let out = dir.mkdir("out");
    let ports = free_ports(2);
    let conf = shipped_rsyslog_conf(
        &dir,
        "rsyslog-siemfwd.conf",
        &etc,
        &[("6514", ports[0]), ("1514", ports[1])],
    );
    let mut rsyslogd = start_rsyslogd(&dir, &conf, &ports);

    send_sample(&dir, &certs, ports[0]);
    let line = first_line(&out.join("alerts.jsonl"));
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

/// The shipped rsyslog config `name` as a user adapts it: its paths in `dir` (`etc` for
/// `/etc/rsyslog.d/siemfwd`, `dir/work`, `dir/out`) and each shipped port replaced by a free
/// one; written to `dir/rsyslog.conf`.
fn shipped_rsyslog_conf(
    dir: &TestDir,
    name: &str,
    etc: &Path,
    ports: &[(&str, u16)],
) -> std::path::PathBuf {
    let work = dir.mkdir("work");
    let mut conf = std::fs::read_to_string(Path::new(EXAMPLES).join(name))
        .unwrap()
        .replace("/etc/rsyslog.d/siemfwd", etc.to_str().unwrap())
        .replace("/var/spool/rsyslog", work.to_str().unwrap())
        .replace("/var/log/siemfwd", dir.join("out").to_str().unwrap());
    for (shipped, free) in ports {
        conf = conf.replace(&format!("port=\"{shipped}\""), &format!("port=\"{free}\""));
    }
    let path = dir.join("rsyslog.conf");
    std::fs::write(&path, conf).unwrap();
    path
}

/// rsyslogd in the foreground on `conf`, once it listens on every one of `ports`.
fn start_rsyslogd(dir: &TestDir, conf: &Path, ports: &[u16]) -> Child {
    let rsyslogd = Command::new(rsyslogd_path())
        .arg("-n")
        .arg("-f")
        .arg(conf)
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
        ports
            .iter()
            .all(|p| std::net::TcpStream::connect(("127.0.0.1", *p)).is_ok())
    });
    assert!(
        listening,
        "rsyslogd did not listen: {}",
        std::fs::read_to_string(dir.join("rsyslogd.stderr")).unwrap_or_default()
    );
    rsyslogd
}

/// `dir/etc` as a receiver's config folder holds it: the CA, the server's certificate and key,
/// and the shipped `files` of `examples/receivers/`.
fn install(dir: &TestDir, certs: &Certs, files: &[&str]) -> std::path::PathBuf {
    let etc = dir.mkdir("etc");
    for (from, to) in [
        (&certs.ca_crt, "ca.crt"),
        (&certs.server_crt, "server.crt"),
        (&certs.server_key, "server.key"),
    ] {
        std::fs::copy(from, etc.join(to)).unwrap();
    }
    for file in files {
        std::fs::copy(Path::new(EXAMPLES).join(file), etc.join(file)).unwrap();
    }
    etc
}

/// `siemfwd map` of the sample alert through a mutual-TLS output to 127.0.0.1:`port`.
fn send_sample(dir: &TestDir, certs: &Certs, port: u16) {
    let config = dir.join("siemfwd.toml");
    std::fs::write(
        &config,
        format!(
            "state_dir = \"{}\"\n[[output]]\nname = \"receiver\"\ntype = \"tls\"\n\
             address = \"127.0.0.1:{port}\"\nca_file = \"{}\"\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
            dir.join("state").display(),
            certs.ca_crt.display(),
            certs.client_crt.display(),
            certs.client_key.display()
        ),
    )
    .unwrap();
    let sent = Command::new(env!("CARGO_BIN_EXE_siemfwd"))
        .args(["map", "--output", "receiver", "--config"])
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
}

/// The first line of `file`, waited for.
fn first_line(file: &Path) -> String {
    (0..200)
        .find_map(|_| {
            std::thread::sleep(Duration::from_millis(50));
            std::fs::read_to_string(file)
                .ok()
                .and_then(|t| t.lines().next().map(str::to_owned))
        })
        .unwrap_or_else(|| panic!("nothing in {}", file.display()))
}

#[test]
fn the_shipped_syslog_ng_config_takes_siemfwd_over_mutual_tls_and_decodes_the_cef() {
    let dir = TestDir::new("example-syslog-ng");
    let certs = Certs::generate(&dir.join("certs"));
    let etc = install(&dir, &certs, &["siemfwd-parsers.conf"]);
    let out = dir.mkdir("out");
    let port = free_ports(1)[0];
    let conf = std::fs::read_to_string(Path::new(EXAMPLES).join("syslog-ng-siemfwd.conf"))
        .unwrap()
        // The unpacked syslog-ng of the tests keeps scl.conf out of its compiled-in path.
        .replacen(
            "@include \"scl.conf\"",
            &format!(
                "@define include-path \"{}\"\n@include \"scl.conf\"",
                include_path()
            ),
            1,
        )
        .replace("/etc/syslog-ng/siemfwd", etc.to_str().unwrap())
        .replace("/var/log/siemfwd", out.to_str().unwrap())
        .replace("port(6514)", &format!("port({port})"));
    let conf_path = dir.join("syslog-ng.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let mut daemon = Command::new(syslog_ng_path())
        .arg("-F")
        .arg("-f")
        .arg(&conf_path)
        .arg("-R")
        .arg(dir.join("syslog-ng.persist"))
        .arg("-p")
        .arg(dir.join("syslog-ng.pid"))
        .arg("-c")
        .arg(dir.join("syslog-ng.ctl"))
        .arg("--no-caps")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("syslog-ng.stderr")).unwrap())
        .spawn()
        .unwrap();
    let listening = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(
        listening,
        "syslog-ng did not listen: {}",
        std::fs::read_to_string(dir.join("syslog-ng.stderr")).unwrap_or_default()
    );
    send_sample(&dir, &certs, port);
    let line = first_line(&out.join("alerts.jsonl"));
    let _ = daemon.kill();
    let _ = daemon.wait();
    let event: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(event["_cef"]["device_vendor"], "Microsoft", "{line}");
    assert_eq!(
        event["_cef"]["ext"]["externalId"], "da638672170592213380_1847720195",
        "{line}"
    );
}

#[test]
fn the_shipped_rsyslog_relp_config_has_written_what_it_acknowledged_when_killed_and_decodes_the_cef()
 {
    let dir = TestDir::new("example-rsyslog-relp");
    let certs = Certs::generate(&dir.join("certs"));
    let etc = install(&dir, &certs, &["cef.rb", "leef.rb"]);
    let out = dir.mkdir("out");
    let ports = free_ports(2);
    let (tls_port, plain_port) = (ports[0], ports[1]);
    let conf = shipped_rsyslog_conf(
        &dir,
        "rsyslog-relp.conf",
        &etc,
        &[("2515", tls_port), ("2514", plain_port)],
    );
    let mut check = Command::new(rsyslogd_path());
    check
        .arg("-N1")
        .arg("-f")
        .arg(&conf)
        .arg("-M")
        .arg(module_dir());
    if let Err(e) = validate(check, true) {
        panic!("rsyslogd -N1 rejected rsyslog-relp.conf:\n{e}");
    }
    let mut rsyslogd = start_rsyslogd(&dir, &conf, &ports);

    let mut relp = RelpClient::open(plain_port);
    let sent: Vec<String> = (0..50)
        .map(|i| {
            format!(
                "<13>1 2024-05-01T10:00:00Z host siemfwd - - - CEF:0|Microsoft|\
                 Microsoft Defender for Endpoint|1.0|x|Suspicious activity|8|externalId=da{i}"
            )
        })
        .collect();
    for m in &sent {
        assert_eq!(relp.syslog(m), "200 OK");
    }
    // SIGKILL right after the last acknowledgement: the direct-mode ruleset has written them.
    let _ = rsyslogd.kill();
    let _ = rsyslogd.wait();
    let lines = read_lines(&out.join("alerts.jsonl"));
    assert_eq!(
        lines.len(),
        sent.len(),
        "acknowledged records missing after kill -9: {}",
        std::fs::read_to_string(dir.join("rsyslogd.stderr")).unwrap_or_default()
    );
    let last = lines.last().unwrap();
    let event: serde_json::Value = serde_json::from_str(last).unwrap();
    assert_eq!(event["inputname"], "siemfwd_relp", "{last}");
    let cef = &event["$!"]["cef"]["cef"];
    assert_eq!(cef["DeviceVendor"], "Microsoft", "{last}");
    assert_eq!(cef["Extensions"]["externalId"], "da49", "{last}");
}
