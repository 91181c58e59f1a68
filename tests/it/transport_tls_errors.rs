//! What a user is told when TLS to the SIEM does not work, checked against real receivers:
//! syslog-ng 3.38 (`tls_framed`: RFC 5425, client certificate required, OpenSSL) and rsyslog
//! 8.2302 (`tls_gtls`, `tls_gtls_name`: GnuTLS, client certificate required; the latter also
//! checks its name). Each case sends one alert through a configured output with
//! `delivery_timeout = "1s"` and looks at `DeliveryError.reason`; the positive cases check that
//! the same receiver accepts the alert when the setting is right, so no negative case passes
//! for a reason of its own.
//!
//! Also: TLS settings refused when the config is read or the output started, and the exit
//! status of `siemfwd map --config FILE --output NAME` when the records cannot be delivered.
//!
//! Needs syslog-ng (`scripts/install-receivers.sh`) and rsyslogd. `SIEMFWD_KEEP_TEST_DIRS=1`
//! keeps the receivers' temp dirs.
//!
//! Long (over 500 lines) by the number of ways TLS fails, each with the exact message a user
//! sees.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use siemfwd::alert::Timestamp;
use siemfwd::config::Config;
use siemfwd::mapping::TenantIdentity;
use siemfwd::reader::{Item, read_alerts};
use siemfwd::transport::{DeliveryError, Output};
use support::certs::Certs;
use support::rsyslog::{Rsyslog, RsyslogOpts};
use support::syslog_ng::{SyslogNg, SyslogNgOpts, field};
use support::tempdir::TestDir;

const WAIT: Duration = Duration::from_secs(20);
/// Retry settings that make an undeliverable batch come back quickly.
const FAST: &str = "delivery_timeout = \"1s\"\nreconnect_backoff = \"100ms\"\nreconnect_backoff_max = \"200ms\"\nconnect_timeout = \"2s\"\n";
/// `id` of the alert in examples/alerts/single.json.
const SINGLE_ID: &str = "da638672170592213380_1847720195";

fn single_json() -> PathBuf {
    support::manifest_dir().join("examples/alerts/single.json")
}

/// A config whose output `x` is `type = "tls"` to `address` with `keys` (TOML lines) and the
/// fast retry settings.
fn tls_config(address: &str, keys: &str) -> Config {
    let text = format!(
        "[[output]]\nname = \"x\"\ntype = \"tls\"\naddress = \"{address}\"\n{FAST}{keys}\n"
    );
    Config::from_toml("test.toml", &text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// `key = "path"` lines.
fn keys(pairs: &[(&str, &Path)]) -> String {
    pairs
        .iter()
        .map(|(k, p)| format!("{k} = \"{}\"\n", p.display()))
        .collect()
}

/// CA, client certificate and key of `certs`.
fn trust_and_identity(certs: &Certs) -> String {
    keys(&[
        ("ca_file", &certs.ca_crt),
        ("cert_file", &certs.client_crt),
        ("key_file", &certs.client_key),
    ])
}

fn client_identity(certs: &Certs) -> String {
    keys(&[
        ("cert_file", &certs.client_crt),
        ("key_file", &certs.client_key),
    ])
}

/// Sends the alert of single.json through output `x` of `cfg`, then shuts the output down.
async fn deliver(cfg: &Config) -> Result<(), DeliveryError> {
    let out = Output::start(cfg.output("x").unwrap(), None).unwrap_or_else(|e| panic!("{e}"));
    let bytes = std::fs::read(single_json()).unwrap();
    let mut batch = out.new_batch();
    let now = Timestamp::from_unix_nanos(1_795_000_000_000_000_000, 6);
    let tenant = TenantIdentity {
        name: "Contoso",
        id: "00000000-1111-2222-3333-444444444444",
    };
    read_alerts(&bytes[..], |item| {
        match item {
            Item::Alert(a) => {
                out.encoder()
                    .encode(&a, tenant, now, &mut batch)
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            Item::Malformed(m) => panic!("{m}"),
        }
        Ok::<(), ()>(())
    })
    .unwrap();
    assert_eq!(batch.len(), 1);
    let r = out.send(batch).await.map(|_| ());
    out.shutdown().await;
    r
}

/// Delivery must succeed (`case` names it in the panic message).
async fn assert_delivers(cfg: &Config, case: &str) {
    deliver(cfg).await.unwrap_or_else(|e| panic!("{case}: {e}"));
}

/// Delivery must fail, for a reason that says each of `says`; returns the reason after
/// checking that too, the batch came back whole and the error came within the delivery timeout
/// (plus a connect).
async fn undeliverable(cfg: &Config, case: &str, says: &[&str]) -> String {
    let started = Instant::now();
    let e = match deliver(cfg).await {
        Ok(()) => panic!("{case}: delivered, but it must not be"),
        Err(e) => e,
    };
    let took = started.elapsed();
    eprintln!("{case}: after {took:?}: {e}");
    assert!(took < Duration::from_secs(5), "{case}: took {took:?}");
    assert_eq!(e.output, "x");
    assert_eq!(e.batch.len(), 1, "{case}: the batch comes back");
    assert_eq!(e.batch.alert_ids().collect::<Vec<_>>(), [SINGLE_ID]);
    let shown = e.to_string();
    assert!(
        shown.contains("output \"x\"") && shown.contains(&e.reason) && shown.contains(&e.target),
        "{case}: {shown}"
    );
    for needle in says {
        assert_contains(&e.reason, needle, case);
    }
    e.reason
}

fn assert_contains(reason: &str, needle: &str, case: &str) {
    assert!(
        reason.contains(needle),
        "{case}: the reason should say {needle:?}, it says: {reason}"
    );
}

/// Waits for the `n`th event at syslog-ng and checks it is the alert of single.json.
fn assert_arrived(sng: &SyslogNg, n: usize) {
    let events = sng.wait_for_events(n, WAIT);
    assert_eq!(events.len(), n, "{events:?}");
    let e = &events[n - 1];
    assert_eq!(field(e, ".cef.ext.externalId"), Some(SINGLE_ID), "{e}");
    assert_eq!(field(e, ".cef.extension_strict_ok"), Some("yes"), "{e}");
}

/// Nothing reached syslog-ng's output files.
fn assert_nothing_arrived(sng: &SyslogNg) {
    let raw = support::files::read_lines(&sng.raw_log());
    assert!(raw.is_empty(), "received: {raw:?}");
}

fn syslog_ng() -> SyslogNg {
    SyslogNg::start(SyslogNgOpts::default())
}

fn tls_framed(sng: &SyslogNg) -> String {
    format!("127.0.0.1:{}", sng.ports().tls_framed)
}

/// `ca_file` and the client certificate and key of `certs`.
fn ca_file_and_identity(ca_file: &Path, certs: &Certs) -> String {
    format!(
        "{}{}",
        keys(&[("ca_file", ca_file)]),
        client_identity(certs)
    )
}

/// TLS to `sng`'s `tls_framed` with its client certificate, trusting only the CA of `ca_file`.
fn trusting(sng: &SyslogNg, ca_file: &Path) -> Config {
    tls_config(
        &tls_framed(sng),
        &ca_file_and_identity(ca_file, sng.certs()),
    )
}

/// TLS to `sng`'s `tls_framed`, trusting its CA, without a client certificate.
fn without_client_cert(sng: &SyslogNg) -> Config {
    tls_config(&tls_framed(sng), &keys(&[("ca_file", &sng.certs().ca_crt)]))
}

/// Nothing reached `sng` so far, and with the right CA and client certificate the alert does.
async fn assert_only_right_settings_deliver(sng: &SyslogNg) {
    assert_nothing_arrived(sng);
    let cfg = tls_config(&tls_framed(sng), &trust_and_identity(sng.certs()));
    assert_delivers(&cfg, "right settings").await;
    assert_arrived(sng, 1);
}

/// A second, unrelated PKI (another CA, server and client certificate), made in `dir`.
fn foreign_certs(dir: &Path) -> Certs {
    Certs::generate(&dir.join("foreign"))
}

/// A CA certificate named `CN=Other Test CA` (not the `CN=Test CA` of every [`Certs`]), made
/// with openssl in `dir`.
fn other_named_ca(dir: &Path) -> PathBuf {
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args([
            "-nodes",
            "-keyout",
            "other-ca.key",
            "-out",
            "other-ca.crt",
            "-days",
            "30",
        ])
        .args(["-subj", "/CN=Other Test CA"])
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir.join("other-ca.crt")
}

// --------------------------------------------------------- server verification ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_certificate_from_another_ca_is_unknown_authority() {
    let sng = syslog_ng();
    let other_ca = other_named_ca(sng.dir());

    // ca_file with another CA: says which file did not have it
    let says = [
        "certificate signed by unknown authority",
        &format!("ca_file {}", other_ca.display()),
        &tls_framed(&sng),
    ];
    undeliverable(&trusting(&sng, &other_ca), "wrong ca_file", &says).await;

    // no ca_file: the system's CAs, which do not have the test CA
    let cfg = tls_config(&tls_framed(&sng), &client_identity(sng.certs()));
    undeliverable(
        &cfg,
        "no ca_file",
        &["certificate signed by unknown authority (set ca_file)"],
    )
    .await;

    // the same receiver takes it with the right CA
    assert_only_right_settings_deliver(&sng).await;
}

/// A ca_file with a different CA of the same name (`CN=Test CA`; e.g. the CA was made again
/// by the same script): webpki finds the issuer by name, the signature does not verify, and
/// rustls reports `BadSignature` rather than `UnknownIssuer`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_certificate_from_a_same_named_other_ca_is_unknown_authority() {
    let sng = syslog_ng();
    let cfg = trusting(&sng, &foreign_certs(sng.dir()).ca_crt);
    let says = ["ca_file", "certificate signed by unknown authority"];
    undeliverable(&cfg, "same-named other CA", &says).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_name_not_in_certificate_is_refused() {
    let sng = syslog_ng();
    let ok = trust_and_identity(sng.certs());

    let cfg = tls_config(
        &tls_framed(&sng),
        &format!("{ok}server_name = \"wrong.example\"\n"),
    );
    // and names what the certificate is for: localhost and 127.0.0.1
    let says = [
        "server name wrong.example does not match certificate",
        "localhost",
    ];
    undeliverable(&cfg, "server_name", &says).await;

    // the address by another name of 127.0.0.1 that the certificate does not carry (this
    // machine's host name, when it resolves to 127.0.0.1)
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host = host.trim();
    let port = sng.ports().tls_framed;
    let loopback = std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
        .map(|mut a| a.any(|a| a.ip() == std::net::Ipv4Addr::LOCALHOST))
        .unwrap_or(false);
    if !host.is_empty() && host != "localhost" && loopback {
        let cfg = tls_config(&format!("{host}:{port}"), &ok);
        undeliverable(
            &cfg,
            "address by host name",
            &[&format!("server name {host} does not match certificate")],
        )
        .await;
    } else {
        eprintln!("host name {host:?} does not resolve to 127.0.0.1; that case is skipped");
    }
    assert_nothing_arrived(&sng);

    // a name the certificate has: in the address, and as server_name
    let cfg = tls_config(&format!("localhost:{port}"), &ok);
    assert_delivers(&cfg, "address localhost").await;
    assert_arrived(&sng, 1);
    let cfg = tls_config(
        &tls_framed(&sng),
        &format!("{ok}server_name = \"localhost\"\n"),
    );
    assert_delivers(&cfg, "server_name localhost").await;
    assert_arrived(&sng, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pinned_fingerprint_must_match() {
    let sng = syslog_ng();
    let ok = trust_and_identity(sng.certs());
    let pin = sng.certs().server_fingerprint_sha256();
    let pinned = |p: &str| tls_config(&tls_framed(&sng), &format!("{ok}pin_sha256 = \"{p}\"\n"));

    // the server's own fingerprint (openssl's AA:BB:... form)
    assert_delivers(&pinned(&pin), "right pin").await;
    assert_arrived(&sng, 1);
    // lower case without colons is the same pin
    let plain = pin.replace(':', "").to_lowercase();
    assert_delivers(&pinned(&plain), "right pin, plain hex").await;
    assert_arrived(&sng, 2);

    // another certificate's fingerprint
    let wrong = format!(
        "{}{}",
        &pin[..pin.len() - 2],
        if pin.ends_with("00") { "01" } else { "00" }
    );
    // names what the server presented, so the user can compare
    undeliverable(&pinned(&wrong), "wrong pin", &["pin_sha256", &pin]).await;
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(support::files::read_lines(&sng.raw_log()).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insecure_skip_verify_delivers_without_ca_file() {
    let sng = syslog_ng();
    // neither the CA nor the name (wrong.example) would verify
    let cfg = tls_config(
        &tls_framed(&sng),
        &format!(
            "{}insecure_skip_verify = true\nserver_name = \"wrong.example\"\n",
            client_identity(sng.certs())
        ),
    );
    assert_delivers(&cfg, "insecure_skip_verify").await;
    assert_arrived(&sng, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_port_is_named() {
    let port = support::ports::free_ports(1)[0];
    let dir = TestDir::new("tls-errors");
    let certs = Certs::generate(&dir.join("certs"));
    let cfg = tls_config(&format!("127.0.0.1:{port}"), &trust_and_identity(&certs));
    undeliverable(
        &cfg,
        "refused",
        &[&format!("connection refused to 127.0.0.1:{port}")],
    )
    .await;
}

// --------------------------------------------------------- client certificates ----

/// syslog-ng (OpenSSL, TLS 1.3) requires a client certificate chained to its CA. Without one
/// the handshake completes on our side and the server's alert comes right after; the output
/// waits for that verdict before it calls the connection good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syslog_ng_requires_a_client_certificate_from_its_ca() {
    let sng = syslog_ng();
    let no_cert = without_client_cert(&sng);
    let says = ["server requires a client certificate (set cert_file/key_file)"];
    undeliverable(&no_cert, "no client cert", &says).await;

    let foreign = foreign_certs(sng.dir());

    let cfg = tls_config(
        &tls_framed(&sng),
        &keys(&[
            ("ca_file", &sng.certs().ca_crt),
            ("cert_file", &foreign.client_crt),
            ("key_file", &foreign.client_key),
        ]),
    );
    undeliverable(
        &cfg,
        "foreign client cert",
        &["rejected our client certificate"],
    )
    .await;

    assert_only_right_settings_deliver(&sng).await;
}

/// rsyslog (GnuTLS): `tls_gtls` requires a client certificate chained to the CA,
/// `tls_gtls_name` also one named `mde-forwarder`. rsyslog completes the handshake (TLS 1.3
/// and 1.2 alike), then checks the certificate and closes the TCP connection without an alert
/// or close_notify (checked with `openssl s_client -msg`; rsyslogd logs "peer did not provide
/// a certificate, not permitted to talk to it").
const RSYSLOG_REJECTIONS: [(&str, &str); 3] = [
    (
        "no client cert",
        "server requires a client certificate (set cert_file/key_file)",
    ),
    (
        "client name not permitted",
        "rejected our client certificate",
    ),
    ("foreign client cert", "rejected our client certificate"),
];

/// The three rejected cases of [`RSYSLOG_REJECTIONS`], in order, and the reason of each.
async fn rsyslog_rejections(rs: &Rsyslog) -> Vec<String> {
    let p = rs.ports();
    let gtls = format!("127.0.0.1:{}", p.tls_gtls);
    let gtls_name = format!("127.0.0.1:{}", p.tls_gtls_name);
    let ca = keys(&[("ca_file", &rs.certs().ca_crt)]);
    let (crt, key) = rs.certs().extra_client("intruder", "/CN=intruder");
    let foreign = foreign_certs(rs.dir());
    let cases = [
        tls_config(&gtls, &ca),
        tls_config(
            &gtls_name,
            &format!("{ca}{}", keys(&[("cert_file", &crt), ("key_file", &key)])),
        ),
        tls_config(
            &gtls,
            &format!(
                "{ca}{}",
                keys(&[
                    ("cert_file", &foreign.client_crt),
                    ("key_file", &foreign.client_key)
                ])
            ),
        ),
    ];
    let mut reasons = Vec::new();
    for (cfg, (case, _)) in cases.iter().zip(RSYSLOG_REJECTIONS) {
        reasons.push(undeliverable(cfg, &format!("rsyslog, {case}"), &[]).await);
    }
    reasons
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsyslog_refuses_a_missing_or_unpermitted_client_certificate() {
    let rs = Rsyslog::start(RsyslogOpts::default());
    rsyslog_rejections(&rs).await;
    std::thread::sleep(Duration::from_millis(300));
    let raw = support::files::read_lines(&rs.raw_log());
    assert!(raw.is_empty(), "rsyslog received: {raw:?}");
    // both ports take the right certificate
    let p = rs.ports();
    for (i, port) in [p.tls_gtls, p.tls_gtls_name].into_iter().enumerate() {
        let address = format!("127.0.0.1:{port}");
        let cfg = tls_config(&address, &trust_and_identity(rs.certs()));
        assert_delivers(&cfg, &address).await;
        let raw = rs.wait_for_lines(&rs.raw_log(), i + 1, WAIT);
        assert!(raw[i].contains(SINGLE_ID), "{raw:?}");
    }
    let raw = rs.wait_for_lines(&rs.raw_log(), 2, WAIT);
    assert!(raw[0].starts_with("tls_gtls "), "{raw:?}");
    assert!(raw[1].starts_with("tls_gtls_name "), "{raw:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsyslog_rejections_of_the_client_certificate_are_explained() {
    let rs = Rsyslog::start(RsyslogOpts::default());
    let reasons = rsyslog_rejections(&rs).await;
    for (reason, (case, needle)) in reasons.iter().zip(RSYSLOG_REJECTIONS) {
        assert_contains(reason, needle, &format!("rsyslog, {case}"));
    }
}

// ------------------------------------------------------------ config-time errors ----

fn config_error(body: &str) -> String {
    let text =
        format!("[[output]]\nname = \"x\"\ntype = \"tls\"\naddress = \"127.0.0.1:6514\"\n{body}");
    match Config::from_toml("test.toml", &text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn tls_settings_refused_when_the_config_is_read() {
    let e = config_error("key_file = \"client.key\"\n");
    assert!(
        e.starts_with("test.toml:1: [[output]] \"x\": `cert_file`"),
        "{e}"
    );
    assert!(e.contains("key_file needs cert_file too"), "{e}");

    let e = config_error("cert_file = \"client.crt\"\n");
    assert!(e.contains("cert_file needs key_file too"), "{e}");

    let e = config_error("framing = \"lf\"\n");
    assert!(e.contains("`framing`"), "{e}");
    assert!(
        e.contains("TLS always uses octet counting (RFC 5425)"),
        "{e}"
    );

    let e = config_error("insecure_skip_verify = true\nca_file = \"ca.crt\"\n");
    assert!(e.contains("`insecure_skip_verify`"), "{e}");
    assert!(e.contains("cannot be combined with ca_file"), "{e}");

    let e = config_error("pin_sha256 = \"AB:CD\"\n");
    assert!(e.contains("`pin_sha256`"), "{e}");
    assert!(e.contains("is not a SHA-256 fingerprint"), "{e}");

    let e = config_error("server_name = \"\"\n");
    assert!(e.contains("`server_name`: must not be empty"), "{e}");

    // TLS keys on a plain TCP output
    let text = "[[output]]\nname = \"x\"\ntype = \"tcp\"\naddress = \"127.0.0.1:514\"\nca_file = \"ca.crt\"\n";
    let e = Config::from_toml("test.toml", text)
        .unwrap_err()
        .to_string();
    assert!(e.contains("only a tls output has `ca_file`"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_certificate_files_stop_the_output_from_starting() {
    let dir = TestDir::new("tls-errors");
    let certs = Certs::generate(&dir.join("certs"));
    let missing = dir.join("no-such-ca.crt");
    let start_error = |body: String| {
        let cfg = tls_config("127.0.0.1:6514", &body);
        match Output::start(cfg.output("x").unwrap(), None) {
            Ok(_) => panic!("started with:\n{body}"),
            Err(e) => e.to_string(),
        }
    };

    let e = start_error(keys(&[("ca_file", &missing)]));
    assert!(e.starts_with("output \"x\": "), "{e}");
    assert!(
        e.contains(&format!("ca_file {}", missing.display())),
        "names the file: {e}"
    );
    assert!(e.contains("No such file"), "{e}");

    // a key that is not the certificate's
    let e = start_error(keys(&[
        ("ca_file", &certs.ca_crt),
        ("cert_file", &certs.client_crt),
        ("key_file", &certs.server_key),
    ]));
    assert!(e.contains("cert_file") && e.contains("key_file"), "{e}");

    // a CA file without a certificate in it
    let e = start_error(keys(&[("ca_file", &certs.client_key)]));
    assert!(e.contains("ca_file"), "{e}");

    // a key file that is not a key
    let e = start_error(keys(&[
        ("ca_file", &certs.ca_crt),
        ("cert_file", &certs.client_crt),
        ("key_file", &certs.ca_crt),
    ]));
    assert!(
        e.contains(&format!("key_file {}", certs.ca_crt.display())),
        "{e}"
    );
}

// --------------------------------------------------------------------------- CLI ----

/// `siemfwd map --config FILE --output siem examples/alerts/single.json` with a config (in
/// `dir`, state in `dir/state`) whose output `siem` is TLS to `address` with the fast retry
/// settings and `keys`; returns the exit code and stderr after checking stdout is empty (the
/// records go to the output).
fn map_to_output(dir: &TestDir, address: &str, keys: &str) -> (Option<i32>, String) {
    let conf = dir.join("siemfwd.toml");
    std::fs::write(
        &conf,
        format!(
            "state_dir = \"{}\"\n[[output]]\nname = \"siem\"\ntype = \"tls\"\naddress = \"{address}\"\n{FAST}{keys}",
            dir.join("state").display(),
        ),
    )
    .unwrap();
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_siemfwd"))
        .arg("map")
        .arg("--config")
        .arg(&conf)
        .args(["--output", "siem"])
        .arg(single_json())
        .stdin(Stdio::null())
        .output()
        .expect("run siemfwd");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!("after {:?}: {}\n{stderr}", started.elapsed(), out.status);
    assert!(
        out.stdout.is_empty(),
        "records go to the output, not stdout"
    );
    (out.status.code(), stderr)
}

/// `siemfwd map --config FILE --output NAME` with a CA that did not sign the server's
/// certificate: exit status 3 (not delivered), and stderr says why.
#[test]
fn map_to_an_output_that_cannot_verify_the_server_exits_3() {
    let sng = syslog_ng();
    let dir = TestDir::new("tls-errors");
    let other_ca = other_named_ca(dir.path());
    let settings = ca_file_and_identity(&other_ca, sng.certs());
    let (code, stderr) = map_to_output(&dir, &tls_framed(&sng), &settings);
    assert_eq!(code, Some(3), "stderr:\n{stderr}");
    assert!(
        stderr.contains("certificate signed by unknown authority"),
        "stderr:\n{stderr}"
    );
    // the count, and the address once (in the reason, as `DeliveryError` shows it)
    let line = stderr
        .lines()
        .find(|l| l.contains("1 record not delivered: "))
        .unwrap_or_else(|| panic!("no \"1 record not delivered\" in stderr:\n{stderr}"));
    assert_eq!(line.matches(&tls_framed(&sng)).count(), 1, "{line}");
    assert!(stderr.contains(SINGLE_ID), "names the alert:\n{stderr}");
    assert_nothing_arrived(&sng);
}

/// The message of a [`DeliveryError`] names the target once: `... not delivered to ADDR:
/// REASON`, where the reason of a failed connect starts with the address again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_error_names_the_address_once() {
    let sng = syslog_ng();
    let e = match deliver(&without_client_cert(&sng)).await {
        Ok(()) => panic!("delivered without a client certificate"),
        Err(e) => e,
    };
    let shown = e.to_string();
    assert_eq!(shown.matches(&e.target).count(), 1, "{shown}");
}

/// Log lines on stderr that is not a terminal (a file, a pipe, journald) carry no ANSI colour
/// codes.
#[test]
fn map_log_lines_to_a_pipe_have_no_colour_codes() {
    let dir = TestDir::new("tls-errors");
    let certs = Certs::generate(&dir.join("certs"));
    let port = support::ports::free_ports(1)[0];
    let address = format!("127.0.0.1:{port}");
    let (code, stderr) = map_to_output(&dir, &address, &trust_and_identity(&certs));
    assert_eq!(code, Some(3), "stderr:\n{stderr}");
    assert!(
        stderr.contains(&format!("connection refused to 127.0.0.1:{port}")),
        "stderr:\n{stderr}"
    );
    assert!(!stderr.contains('\x1b'), "colour codes in:\n{stderr:?}");
}

/// `openssl` in `dir`, panicking with its stderr.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_keys_in_pkcs8_rsa_and_sec1_pem_all_work() {
    let sng = syslog_ng();
    let certs = sng.certs().clone();
    let dir = certs.dir.clone();
    // The EC key of the harness is PKCS#8 (BEGIN PRIVATE KEY); the same key as SEC1.
    openssl(
        &dir,
        &["ec", "-in", "client.key", "-out", "client-sec1.key"],
    );
    // An RSA client certificate from the same CA, its key as PKCS#1 (BEGIN RSA PRIVATE KEY).
    std::fs::write(dir.join("rsa.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    let req = "req -newkey rsa:2048 -nodes -keyout rsa.key -subj /CN=mde-forwarder -out rsa.csr";
    openssl(&dir, &req.split(' ').collect::<Vec<_>>());
    let sign = "x509 -req -in rsa.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out rsa.crt \
                -days 2 -extfile rsa.ext";
    openssl(&dir, &sign.split_whitespace().collect::<Vec<_>>());
    openssl(
        &dir,
        &[
            "rsa",
            "-in",
            "rsa.key",
            "-traditional",
            "-out",
            "rsa-pkcs1.key",
        ],
    );
    let forms = [
        ("PKCS#8 EC", "client.crt", "client.key", "BEGIN PRIVATE KEY"),
        (
            "SEC1 EC",
            "client.crt",
            "client-sec1.key",
            "BEGIN EC PRIVATE KEY",
        ),
        ("PKCS#8 RSA", "rsa.crt", "rsa.key", "BEGIN PRIVATE KEY"),
        (
            "PKCS#1 RSA",
            "rsa.crt",
            "rsa-pkcs1.key",
            "BEGIN RSA PRIVATE KEY",
        ),
    ];
    for (i, (form, crt, key, pem)) in forms.iter().enumerate() {
        let key_text = std::fs::read_to_string(dir.join(key)).unwrap();
        assert!(key_text.contains(pem), "{form}: {key} is not {pem}");
        let cfg = tls_config(
            &tls_framed(&sng),
            &keys(&[
                ("ca_file", &certs.ca_crt),
                ("cert_file", &dir.join(crt)),
                ("key_file", &dir.join(key)),
            ]),
        );
        assert_delivers(&cfg, form).await;
        assert_arrived(&sng, i + 1);
    }
}
