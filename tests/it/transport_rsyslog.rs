//! The transport (`siemfwd::transport::Output`, driven as a library, not through the CLI)
//! against a real rsyslog 8.2302 + liblognorm: TLS with a client certificate (gtls and ossl
//! stream drivers), plain TCP with octet counting and LF framing, UDP, the RFC 3164 envelope,
//! and LEEF.
//!
//! Each test starts its own rsyslogd (support::rsyslog), configures one `[[output]]` with
//! `Config::from_toml`, encodes the sample alerts (examples/alerts/*, read with
//! `reader::read_alerts`) with the output's encoder, sends them with `Output::submit`/`send`,
//! and then checks what rsyslog received:
//!
//! - exactly one event per alert, in order, and nothing after the sentinel record that ends
//!   each run (so nothing arrived twice and no value forged a second event);
//! - the bytes rsyslog got (`%rawmsg%`) are the encoder's record, unframed;
//! - every record on the wire, framing included, is within the output's `max_message_bytes`;
//! - the syslog envelope as rsyslog parsed it (host, app name / tag, facility, severity,
//!   timestamp);
//! - the CEF (or LEEF) fields liblognorm decoded equal the model computed from the source JSON
//!   (tests/it/support/cef_contract.rs, leef_contract.rs). A record the encoder had to shorten to
//!   the maximum size (it says so in its `EncodeStats`) is checked by the shortening rule of
//!   `cef_check::diff_shortened` instead: fixed fields exact, every other value exact or a
//!   prefix of the expected one, the longest values cut first to one common cap.
//!
//! At the default `max_message_bytes` (8192) no sample alert needs shortening as CEF (the CEF
//! dictionary limits already cut oversized.json's 70 KB description to 1023 bytes), so the
//! TLS test adds a synthetic alert with a 30 KB command line and other long values, and
//! runs against rsyslog's stock 8k maximum: it must arrive as one event, shortened. UDP
//! (default maximum 2048) shortens the longer adversarial alerts; LEEF, which has no
//! dictionary limits, shortens oversized.json at 8192.
//!
//! Besides what rsyslog shows, each run checks the output's own account (`Output::stats`): one
//! connection, no broken link, every batch delivered once.
//!
//! Needs rsyslogd (run `scripts/install-receivers.sh` as root). `SIEMFWD_KEEP_TEST_DIRS=1`
//! keeps the receivers' temp dirs.
//!
//! Long (over 500 lines) by the number of transports and formats, each a scenario that reads top
//! to bottom; what they share is in `support/`.

use crate::support;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use siemfwd::alert::Timestamp;
use siemfwd::config::Config;
use siemfwd::mapping::TenantIdentity;
use siemfwd::reader::{Item, read_alerts};
use siemfwd::transport::{Batch, Framing, Output};
use support::cef_check::{
    Mark, Received, TENANT_ID, TENANT_NAME, alert_id, assert_events_match_within, collect_after,
    load_alerts, lognorm_result, mark, mismatch, sample_paths, sentinel, show, str_field, wrap5424,
};
use support::cef_contract::{epoch_millis, text};
use support::leef_contract::{
    Leef, decode_leef_raw, diff_leef, diff_leef_shortened, expected_leef,
};
use support::rsyslog::{Rsyslog, RsyslogOpts};

/// HOSTNAME of the envelope (the `hostname` setting of every output here).
const HOSTNAME: &str = "fwd-test-01";

// ------------------------------------------------------------------------ inputs ----

/// One input document: its bytes, as the reader gets them, and its alerts for the model.
struct Input {
    name: String,
    bytes: Vec<u8>,
    alerts: Vec<Value>,
}

/// The sample files (`cef_check::SAMPLES`), in order.
fn sample_inputs() -> Vec<Input> {
    sample_paths()
        .iter()
        .map(|p| Input {
            name: p.file_name().unwrap().to_string_lossy().into_owned(),
            bytes: std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display())),
            alerts: load_alerts(p),
        })
        .collect()
}

/// A synthetic alert far over 8 KB even after the CEF dictionary limits: a 30 KB process
/// command line (no dictionary limit) full of characters that CEF escapes (`=`, `\`, CR,
/// LF) and multi-byte ones, a long title with header escapes, a 6000-byte threat name
/// (cs1, limit 4000) and 400 MITRE techniques. Based on oversized.json.
fn huge_input() -> Input {
    let path = sample_paths()
        .into_iter()
        .find(|p| p.ends_with("oversized.json"))
        .unwrap();
    let mut alert = load_alerts(&path).remove(0);
    let unit = "Invoke-X -a=b\\c \u{e9}\u{20ac}|\r\n\t";
    let cmdline: String = format!("powershell.exe {}", unit.repeat(30_000 / unit.len()));
    let o = alert.as_object_mut().unwrap();
    o.insert("id".into(), json!("huge-0001_shortened_by_the_budget"));
    o.insert(
        "title".into(),
        json!(format!("Huge|alert\\title {}", "\u{e9}".repeat(400))),
    );
    o.insert("threatName".into(), json!("T=h\\reat ".repeat(600)));
    o.insert(
        "mitreTechniques".into(),
        json!(
            (0..400)
                .map(|i| format!("T{:04}.{:03}", 1000 + i, i))
                .collect::<Vec<_>>()
        ),
    );
    let evidence = o.get_mut("evidence").unwrap().as_array_mut().unwrap();
    evidence.insert(
        0,
        json!({
            "entityType": "Process",
            "fileName": "powershell.exe",
            "filePath": format!("C:\\{}", "Very Long Folder\\".repeat(100)),
            "sha1": "b1a5c3d4e5f60718293a4b5c6d7e8f9012345678",
            "sha256": "0c1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091",
            "processCommandLine": cmdline,
        }),
    );
    let text = serde_json::to_string(&alert).unwrap();
    Input {
        name: "synthetic huge alert".into(),
        bytes: format!("{text}\n").into_bytes(),
        alerts: vec![alert],
    }
}

// ----------------------------------------------------------------------- sending ----

/// What was sent through an output, one entry per alert.
struct Sent {
    alerts: Vec<Value>,
    /// The encoder shortened the record to fit the maximum size (`budget_truncations > 0`).
    shortened: Vec<bool>,
    /// Each alert's record as written, framing removed (what rsyslog's `%rawmsg%` should be).
    records: Vec<String>,
    /// How many batches (writes) it took.
    batches: usize,
}

impl Sent {
    fn shortened_ids(&self) -> Vec<String> {
        self.alerts
            .iter()
            .zip(&self.shortened)
            .filter(|(_, s)| **s)
            .map(|(a, _)| alert_id(a))
            .collect()
    }
}

/// Retry settings of the connection-oriented outputs here (TCP, TLS).
const RETRY: &str = "delivery_timeout = \"15s\"\nreconnect_backoff = \"100ms\"\n";

/// Starts output `x` of `kind` to 127.0.0.1:`port` with `hostname = HOSTNAME` and the TOML
/// lines `keys`.
fn start_output(kind: &str, port: u16, keys: &str) -> Output {
    let toml = format!(
        "[[output]]\nname = \"x\"\ntype = \"{kind}\"\naddress = \"127.0.0.1:{port}\"\n\
         hostname = \"{HOSTNAME}\"\n{keys}"
    );
    let cfg = Config::from_toml("transport-rsyslog-test.toml", &toml)
        .unwrap_or_else(|e| panic!("{e}\nconfig:\n{toml}"));
    let oc = cfg.output("x").expect("output x");
    Output::start(oc, None).unwrap_or_else(|e| panic!("{e}"))
}

/// A path as a TOML string.
fn toml_path(p: &Path) -> String {
    let s = p.to_str().expect("utf-8 path");
    assert!(!s.contains(['"', '\\']), "path needs no TOML escapes: {s}");
    format!("\"{s}\"")
}

/// `ca_file`, `cert_file` and `key_file` of the receiver's throwaway PKI.
fn tls_files(rs: &Rsyslog) -> String {
    let c = rs.certs();
    format!(
        "ca_file = {}\ncert_file = {}\nkey_file = {}\n",
        toml_path(&c.ca_crt),
        toml_path(&c.client_crt),
        toml_path(&c.client_key)
    )
}

fn now() -> Timestamp {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    Timestamp::from_unix_nanos(nanos as i64, 6)
}

/// One framed record without its framing; checks the framing on the way.
fn unframe(framing: Framing, framed: &[u8]) -> String {
    let text = std::str::from_utf8(framed).expect("records are UTF-8");
    let msg = match framing {
        Framing::OctetCounting => {
            let (len, msg) = text.split_once(' ').expect("octet count and space");
            assert_eq!(
                len.parse::<usize>().ok(),
                Some(msg.len()),
                "octet count of {}",
                show(text)
            );
            msg
        }
        Framing::Lf => text
            .strip_suffix('\n')
            .expect("LF-framed record ends in LF"),
        Framing::Datagram => text,
    };
    assert!(
        !msg.contains(['\n', '\r']),
        "a record holds a raw CR or LF (it could forge an event): {}",
        show(msg)
    );
    msg.to_string()
}

/// Encodes the alerts of `inputs` with the output's encoder into batches (a new one whenever
/// [`Output::batch_is_full`]), appends the sentinel record `end` to the last, submits them all
/// (the queue applies backpressure) and waits until each is delivered; then the output's
/// stats must show one connection, no broken link, and each batch delivered once.
async fn send_alerts(out: &Output, inputs: &[Input], end: &str) -> Sent {
    let max = out.encoder().max_message_bytes();
    let framing = out.encoder().framing();
    let tenant = TenantIdentity {
        name: TENANT_NAME,
        id: TENANT_ID,
    };
    let now = now();
    let mut batches: Vec<Batch> = Vec::new();
    let mut batch = out.new_batch();
    let mut shortened = Vec::new();
    for input in inputs {
        read_alerts(&input.bytes[..], |item| {
            match item {
                Item::Alert(a) => {
                    let stats = out
                        .encoder()
                        .encode(&a, tenant, now, &mut batch)
                        .map_err(|e| format!("{}: {e}", input.name))?;
                    shortened.push(stats.budget_truncations > 0);
                    if out.batch_is_full(&batch) {
                        batches.push(std::mem::replace(&mut batch, out.new_batch()));
                    }
                }
                Item::Malformed(m) => return Err(format!("{}: {m}", input.name)),
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("reading {}: {e}", input.name));
    }
    batch.push_record(framing, wrap5424(end).as_bytes(), "");
    batches.push(batch);

    let alerts: Vec<Value> = inputs.iter().flat_map(|i| i.alerts.clone()).collect();
    let mut records = Vec::new();
    let mut ids = Vec::new();
    for b in &batches {
        for r in b.records() {
            assert!(
                r.len() <= max,
                "a framed record of {} bytes is over max_message_bytes {max}: {}",
                r.len(),
                show(&String::from_utf8_lossy(r))
            );
            records.push(unframe(framing, r));
        }
        ids.extend(b.alert_ids().map(str::to_string));
    }
    assert_eq!(records.pop().as_deref(), Some(wrap5424(end).as_str()));
    ids.pop();
    let want_ids: Vec<String> = alerts
        .iter()
        .map(|a| text(a.get("id")).unwrap_or_default())
        .collect();
    assert_eq!(ids, want_ids, "the reader's alerts are not the model's");
    assert_eq!(shortened.len(), alerts.len());

    let count = batches.len();
    let mut receipts = Vec::new();
    for b in batches {
        receipts.push(out.submit(b).await);
    }
    for r in receipts {
        if let Err(e) = r.delivered().await {
            panic!("{e}");
        }
    }
    // One connection, never broken, every batch delivered once: so nothing was written twice.
    let st = out.stats();
    assert_eq!(
        (st.connects, st.broken_links, st.batches_failed),
        (1, 0, 0),
        "output stats {st:?}"
    );
    assert_eq!(
        (st.batches_delivered, st.records_delivered),
        (count as u64, alerts.len() as u64 + 1),
        "output stats {st:?}"
    );
    Sent {
        alerts,
        shortened,
        records,
        batches: count,
    }
}

/// Sends `inputs` through `out` with a new sentinel ([`send_alerts`]), shuts the output down
/// and returns what was sent and what rsyslog received meanwhile ([`collect_run`]).
async fn run(rs: &Rsyslog, out: Output, inputs: &[Input]) -> (Sent, Received) {
    let from = mark(rs);
    let end = sentinel();
    let sent = send_alerts(&out, inputs, &end).await;
    support::send::assert_confirmed(&out).await;
    out.shutdown().await;
    (sent, collect_run(rs, &end, from))
}

// ----------------------------------------------------------------------- checking ----

/// Waits for the sentinel and returns what came after `from`; then checks that nothing
/// arrived after the sentinel (a batch written twice would repeat it).
fn collect_run(rs: &Rsyslog, end: &str, from: Mark) -> Received {
    let got = collect_after(rs, end, from);
    std::thread::sleep(Duration::from_millis(300));
    let all = support::files::read_lines(&rs.raw_log());
    let after: Vec<String> = all
        .iter()
        .skip_while(|l| !l.contains(end))
        .skip(1)
        .cloned()
        .collect();
    assert!(
        after.is_empty(),
        "rsyslog received {} messages after the last record of the run (duplicates or split \
         events):\n{}",
        after.len(),
        support::files::preview(&after)
    );
    got
}

/// rsyslog's gtls driver logs "The TLS connection was non-properly terminated" (and closes the
/// session "due to error") when a client closes without a TLS close_notify; call after
/// [`collect_run`], whose settling time covers the close.
fn assert_tls_closed_cleanly(rs: &Rsyslog) {
    let log = rs.daemon_output();
    assert!(
        !log.contains("non-properly terminated") && !log.contains("closed due to error"),
        "rsyslog saw a TLS connection end without close_notify (Output::shutdown must send \
         it):\n{log}"
    );
}

/// Each raw.log line is `INPUT RECORD`: the bytes the encoder wrote reached rsyslog unchanged.
fn assert_raw_is_sent(got: &Received, sent: &Sent, input: &str) {
    assert_eq!(
        got.raw.len(),
        sent.records.len(),
        "rsyslog received {} messages for {} alerts:\n{}",
        got.raw.len(),
        sent.records.len(),
        support::files::preview(&got.raw)
    );
    let mut bad = Vec::new();
    for (i, (raw, rec)) in got.raw.iter().zip(&sent.records).enumerate() {
        match raw.strip_prefix(input).and_then(|r| r.strip_prefix(' ')) {
            Some(r) if r == rec => {}
            Some(r) => bad.push(format!("#{i}: {}", mismatch(rec, r))),
            None => bad.push(format!("#{i}: not received on {input}: {}", show(raw))),
        }
    }
    assert!(
        bad.is_empty(),
        "rsyslog's %rawmsg% differs from the records sent:\n{}",
        bad.join("\n")
    );
}

/// Syslog severity of an alert as the envelope writes it.
fn syslog_severity(alert: &Value) -> u8 {
    match alert.get("severity").and_then(Value::as_str) {
        Some("High") => 2,
        Some("Medium") => 3,
        Some("Low") => 4,
        Some("Informational") => 6,
        _ => 5,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Syslog {
    Rfc5424,
    Rfc3164,
}

/// The envelope as rsyslog parsed it: host, app name / tag, facility local0, the severity
/// from the alert and, for RFC 5424, the alert's lastUpdateTime as the timestamp.
fn assert_envelopes(got: &Received, sent: &Sent, syslog: Syslog) {
    let mut bad = Vec::new();
    for (i, (alert, msg)) in sent.alerts.iter().zip(&got.parsed).enumerate() {
        let id = alert_id(alert);
        let field = |k: &str| msg.get(k).and_then(Value::as_str).unwrap_or("<missing>");
        let mut want = vec![
            ("hostname", HOSTNAME.to_string()),
            ("programname", "siemfwd".to_string()),
            ("syslogfacility", "16".to_string()),
            ("syslogseverity", syslog_severity(alert).to_string()),
        ];
        match syslog {
            Syslog::Rfc5424 => {
                want.push(("protocol-version", "1".into()));
                want.push(("app-name", "siemfwd".into()));
                want.push(("procid", "-".into()));
                want.push(("msgid", "-".into()));
            }
            Syslog::Rfc3164 => {
                want.push(("protocol-version", "0".into()));
                want.push(("syslogtag", "siemfwd:".into()));
            }
        }
        for (k, v) in want {
            if field(k) != v {
                bad.push(format!(
                    "#{i} alert {id}: {k} {:?}, expected {v:?}",
                    field(k)
                ));
            }
        }
        if syslog == Syslog::Rfc5424
            && let Some(t) = text(alert.get("lastUpdateTime"))
        {
            let got_ms = parse_rsyslog_time(field("timereported"));
            if got_ms != Some(epoch_millis(&t)) {
                bad.push(format!(
                    "#{i} alert {id}: timereported {:?} is not lastUpdateTime {t}",
                    field("timereported")
                ));
            }
        }
    }
    assert!(bad.is_empty(), "envelopes:\n{}", bad.join("\n"));
}

/// rsyslog's `timereported` (`2026-11-22T14:30:00.123456+00:00`) as epoch milliseconds.
fn parse_rsyslog_time(s: &str) -> Option<i64> {
    let utc = s.strip_suffix("+00:00").or_else(|| s.strip_suffix('Z'))?;
    Some(epoch_millis(&format!("{utc}Z")))
}

/// The common checks of a CEF run: counts and bytes, envelopes, decoded fields.
fn check_cef_run(got: &Received, sent: &Sent, input: &str, syslog: Syslog, what: &str) {
    assert_raw_is_sent(got, sent, input);
    assert_envelopes(got, sent, syslog);
    assert_events_match_within(&sent.alerts, &sent.shortened, got, false, what);
}

/// An rsyslog with the default options but control characters kept as they arrive
/// (`escape_control_characters` off), so that values decode as sent.
fn rsyslog_keeping_control_characters() -> Rsyslog {
    Rsyslog::start(RsyslogOpts {
        escape_control_characters: false,
        ..RsyslogOpts::default()
    })
}

fn sample_alert_count() -> usize {
    sample_inputs().iter().map(|i| i.alerts.len()).sum()
}

// -------------------------------------------------------------------------- LEEF ----

/// What liblognorm decoded (`$!leefparse`, rules leef1 / leef2caret of tests/it/receivers/leef.rb).
fn decoded_leef(msg: &Value, version: &str) -> Result<Leef, String> {
    let lp = lognorm_result(msg, "leefparse", "LEEF")?;
    let attrs = lp
        .get("attrs")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("no attrs array in {lp}"))?
        .iter()
        .map(|a| {
            let f = |k: &str| a.get(k).and_then(Value::as_str).map(str::to_string);
            f("key")
                .zip(f("value"))
                .ok_or_else(|| format!("attribute {a} is not {{key, value}}"))
        })
        .collect::<Result<_, _>>()?;
    Ok(Leef {
        version: version.into(),
        vendor: str_field(lp, "vendor")?,
        product: str_field(lp, "product")?,
        product_version: str_field(lp, "product_version")?,
        event_id: str_field(lp, "event_id")?,
        attrs,
    })
}

// ------------------------------------------------------------------------- tests ----

/// TLS via rsyslog's gtls driver, client certificate required to chain to the CA, server
/// verified by the CA file and its IP SAN (server name = the address's host, 127.0.0.1).
/// rsyslog runs with its stock 8k maximum and the sender with its default 8192 (octet-count
/// prefix included). All sample alerts and the synthetic huge one arrive exactly once each, in
/// several batches (batch_max_bytes 20000, queue 2, so submit waits for room); the huge one is
/// one event of at most 8192 bytes on the wire, using its budget (within 256 bytes), whose
/// decoded values are shortenings of the expected ones; every other event is exact. The
/// output's shutdown ends the session with close_notify (gtls logs nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_gtls_client_cert_all_samples_and_a_huge_alert() {
    let rs = Rsyslog::start(RsyslogOpts {
        max_message_size: "8k".into(),
        escape_control_characters: false,
        ..RsyslogOpts::default()
    });
    let keys = format!(
        "{}batch_max_bytes = 20000\nqueue = 2\n{RETRY}",
        tls_files(&rs)
    );
    let out = start_output("tls", rs.ports().tls_gtls, &keys);
    let mut inputs = sample_inputs();
    inputs.push(huge_input());
    let (sent, got) = run(&rs, out, &inputs).await;
    assert!(
        sent.batches > 3,
        "expected several batches, got {}",
        sent.batches
    );
    assert_eq!(
        sent.shortened_ids(),
        ["\"huge-0001_shortened_by_the_budget\""],
        "only the synthetic alert should need shortening at 8192 bytes"
    );
    let huge = sent.records.last().unwrap();
    let framed = huge.len() + 1 + huge.len().to_string().len();
    assert!(
        (8192 - 256..=8192).contains(&framed),
        "the shortened record takes {framed} bytes framed; expected 7936..=8192"
    );

    assert_tls_closed_cleanly(&rs);
    check_cef_run(&got, &sent, "tls_gtls", Syslog::Rfc5424, "TLS gtls");
    assert_eq!(got.raw.len(), sample_alert_count() + 1);
}

/// TLS via rsyslog's ossl driver (x509/name, permitted peer `mde-forwarder`) with the client
/// certificate and `server_name = "localhost"` (the DNS SAN): all sample alerts arrive exactly
/// once each, bytes and decoded fields as sent and expected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_ossl_permitted_peer_all_samples() {
    let rs = rsyslog_keeping_control_characters();
    let keys = format!("{}server_name = \"localhost\"\n{RETRY}", tls_files(&rs));
    let out = start_output("tls", rs.ports().tls_ossl, &keys);
    let (sent, got) = run(&rs, out, &sample_inputs()).await;
    assert!(
        sent.shortened.iter().all(|s| !s),
        "no sample needs shortening at 8192: {:?}",
        sent.shortened_ids()
    );
    check_cef_run(&got, &sent, "tls_ossl", Syslog::Rfc5424, "TLS ossl");
}

/// Plain TCP with the default octet counting, then with `framing = "lf"`, to one rsyslog
/// (both framings on one port): the adversarial alerts (raw LF, CR, NEL, `|`, `=`, `\` in
/// values) never make a second event; raw.log has exactly one line per alert each time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_octet_counting_and_lf_framing_one_event_per_alert() {
    let rs = rsyslog_keeping_control_characters();
    for framing in ["octet-counting", "lf"] {
        let keys = format!("framing = \"{framing}\"\n{RETRY}");
        let out = start_output("tcp", rs.ports().tcp, &keys);
        let from = mark(&rs);
        let (sent, got) = run(&rs, out, &sample_inputs()).await;
        let what = format!("TCP {framing}");
        check_cef_run(&got, &sent, "tcp_plain", Syslog::Rfc5424, &what);
        assert_eq!(
            support::files::read_lines(&rs.raw_log()).len(),
            from.raw + sample_alert_count() + 1,
            "{what}: raw.log lines (alerts + sentinel)"
        );
    }
}

/// UDP (default maximum 2048) to a stock rsyslog (8k, control characters escaped on
/// receipt): each record is one datagram of at most 2048 bytes and one event; the alerts
/// whose record is longer (some adversarial ones) are shortened by the rule, all others exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_records_fit_2048_and_each_is_one_event() {
    let rs = Rsyslog::start(RsyslogOpts {
        max_message_size: "8k".into(),
        ..RsyslogOpts::default()
    });
    let out = start_output("udp", rs.ports().udp, "");
    assert_eq!(out.encoder().max_message_bytes(), 2048);
    let (sent, got) = run(&rs, out, &sample_inputs()).await;
    assert!(
        !sent.shortened_ids().is_empty(),
        "some sample record is over 2048 bytes and must have been shortened"
    );
    assert_raw_is_sent(&got, &sent, "udp_plain");
    assert_envelopes(&got, &sent, Syslog::Rfc5424);
    assert_events_match_within(&sent.alerts, &sent.shortened, &got, true, "UDP");
}

/// `syslog = "rfc3164"` over TCP: rsyslog parses the BSD header (host, tag `siemfwd:`,
/// program name, facility, severity) and decodes the CEF after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc3164_over_tcp_parses_in_rsyslog() {
    let rs = rsyslog_keeping_control_characters();
    let keys = format!("syslog = \"rfc3164\"\n{RETRY}");
    let out = start_output("tcp", rs.ports().tcp, &keys);
    let (sent, got) = run(&rs, out, &sample_inputs()).await;
    check_cef_run(
        &got,
        &sent,
        "tcp_plain",
        Syslog::Rfc3164,
        "RFC 3164 over TCP",
    );
}

/// A LEEF variant of the built-in mapping: name, mapping file text (`None`: built in), LEEF
/// version, delimiter, and whether rsyslog's leef.rb decodes it (else it is decoded here).
struct LeefVariant {
    what: &'static str,
    mapping: Option<String>,
    version: &'static str,
    delimiter: char,
    liblognorm: bool,
}

/// - the built-in mapping (LEEF 2.0, TAB written `x09`): no rule of leef.rb takes `x09`, so the
///   raw message is decoded here (the TAB must arrive as a TAB);
/// - the built-in mapping with `leef_version = "1.0"` (TAB): decoded by liblognorm (leef1);
/// - the built-in mapping with `delimiter = "^"`: decoded by liblognorm (leef2caret), a TAB in
///   a value kept as it is.
fn leef_variants() -> Vec<LeefVariant> {
    let builtin = std::fs::read_to_string(support::manifest_dir().join("mappings/leef.toml"))
        .expect("read mappings/leef.toml");
    assert!(builtin.contains("leef_version = \"2.0\"") && builtin.contains("delimiter = \"x09\""));
    vec![
        LeefVariant {
            what: "builtin 2.0 x09",
            mapping: None,
            version: "2.0",
            delimiter: '\t',
            liblognorm: false,
        },
        LeefVariant {
            what: "1.0 TAB",
            mapping: Some(
                builtin
                    .replace("leef_version = \"2.0\"", "leef_version = \"1.0\"")
                    .replace("delimiter = \"x09\"", ""),
            ),
            version: "1.0",
            delimiter: '\t',
            liblognorm: true,
        },
        LeefVariant {
            what: "2.0 caret",
            mapping: Some(builtin.replace("delimiter = \"x09\"", "delimiter = \"^\"")),
            version: "2.0",
            delimiter: '^',
            liblognorm: true,
        },
    ]
}

/// Sends `inputs` as LEEF `v` over TLS (gtls, client certificate) to `rs` and returns what
/// was sent and received (counts, bytes and envelopes already checked).
async fn send_leef(rs: &Rsyslog, v: &LeefVariant, inputs: &[Input]) -> (Sent, Received) {
    let mapping_line = match &v.mapping {
        Some(text) => {
            let p = rs
                .dir()
                .join(format!("leef-{}.toml", v.what.replace(' ', "-")));
            std::fs::write(&p, text).unwrap();
            format!("mapping = {}\n", toml_path(&p))
        }
        None => String::new(),
    };
    let keys = format!("{}format = \"leef\"\n{mapping_line}{RETRY}", tls_files(rs));
    let out = start_output("tls", rs.ports().tls_gtls, &keys);
    let (sent, got) = run(rs, out, inputs).await;
    assert_tls_closed_cleanly(rs);
    assert_raw_is_sent(&got, &sent, "tls_gtls");
    assert_envelopes(&got, &sent, Syslog::Rfc5424);
    (sent, got)
}

/// Asserts that each event equals the LEEF model of its alert (exactly, or by the shortening
/// rule when the encoder shortened it); `decode` decodes an event from its `parsed.jsonl`
/// object and its raw.log line.
fn assert_leef_events(
    sent: &Sent,
    got: &Received,
    v: &LeefVariant,
    decode: impl Fn(&Value, &str) -> Result<Leef, String>,
) {
    let mut failures = Vec::new();
    for (i, ((alert, msg), raw)) in sent
        .alerts
        .iter()
        .zip(&got.parsed)
        .zip(&got.raw)
        .enumerate()
    {
        let exp = expected_leef(alert, TENANT_NAME, TENANT_ID, v.version, v.delimiter);
        let d = match decode(msg, raw) {
            Ok(dec) if sent.shortened[i] => diff_leef_shortened(&exp, &dec),
            Ok(dec) => diff_leef(&exp, &dec),
            Err(e) => vec![e],
        };
        if !d.is_empty() {
            failures.push(format!(
                "#{i} alert {}{}:\n  {}\n  raw: {}",
                alert_id(alert),
                if sent.shortened[i] {
                    " (shortened)"
                } else {
                    ""
                },
                d.join("\n  "),
                show(raw)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "LEEF {}: {} of {} events differ:\n{}",
        v.what,
        failures.len(),
        sent.alerts.len(),
        failures.join("\n")
    );
}

/// LEEF over TLS (gtls, client certificate), the three [`leef_variants`] in turn to one
/// rsyslog: all sample alerts arrive once each, and every event's header and attributes (in
/// order) equal the model of mappings/leef.toml -- exactly, or for the oversized alert (70 KB
/// description: LEEF has no dictionary limits, so it is shortened to 8192 bytes) by the
/// shortening rule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leef_over_tls_decodes() {
    let rs = rsyslog_keeping_control_characters();
    let inputs = sample_inputs();
    let oversized_id = inputs
        .iter()
        .find(|i| i.name == "oversized.json")
        .map(|i| alert_id(&i.alerts[0]))
        .unwrap();
    for v in leef_variants() {
        let (sent, got) = send_leef(&rs, &v, &inputs).await;
        assert!(
            sent.shortened_ids().contains(&oversized_id),
            "{}: the oversized alert (70 KB description, no dictionary limit in LEEF) must \
             have been shortened to 8192 bytes; shortened: {:?}",
            v.what,
            sent.shortened_ids()
        );
        assert_leef_events(&sent, &got, &v, |msg, raw| {
            if v.liblognorm {
                decoded_leef(msg, v.version)
            } else {
                decode_leef_raw(raw, v.delimiter)
            }
        });
    }
}

/// An alert with neither `detectorId` nor `category` (adversarial.json has two) must still
/// make a LEEF event that a LEEF parser takes: EventID is a mandatory header field, and
/// liblognorm's LEEF rules (`%event_id:char-to:|%`) refuse an empty one. The built-in mapping's
/// `event_id = "detectorId else category else 'MdeAlert'"` makes it `MdeAlert`: in each variant
/// that liblognorm decodes, every such alert decodes there with EventID `MdeAlert` and equals
/// the model.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leef_without_detector_or_category_has_event_id_mdealert_in_liblognorm() {
    let rs = rsyslog_keeping_control_characters();
    let alerts: Vec<Value> = sample_inputs()
        .into_iter()
        .flat_map(|i| i.alerts)
        .filter(|a| text(a.get("detectorId")).is_none() && text(a.get("category")).is_none())
        .collect();
    assert!(!alerts.is_empty(), "the samples have such alerts");
    let ndjson: String = alerts
        .iter()
        .map(|a| format!("{}\n", serde_json::to_string(a).unwrap()))
        .collect();
    let inputs = [Input {
        name: "alerts without detectorId and category".into(),
        bytes: ndjson.into_bytes(),
        alerts,
    }];
    for v in leef_variants().into_iter().filter(|v| v.liblognorm) {
        let (sent, got) = send_leef(&rs, &v, &inputs).await;
        assert_leef_events(&sent, &got, &v, |msg, _| {
            let dec = decoded_leef(msg, v.version)?;
            if dec.event_id == "MdeAlert" {
                Ok(dec)
            } else {
                Err(format!("EventID {:?}, expected \"MdeAlert\"", dec.event_id))
            }
        });
    }
}

/// The shortening rules used above are not vacuous: they accept a water-level cut and reject
/// a value that is not a prefix, a long value kept whole while others were cut, cuts to
/// different caps, a label without its base, a changed fixed field, and a "shortened" record
/// with nothing shortened. (No receiver involved.)
#[test]
fn shortening_rules_reject_bad_cuts() {
    use support::cef_check::diff_shortened;
    use support::cef_contract::Cef;
    let cef = |name: &str, ext: &[(&str, String)]| Cef {
        vendor: "Microsoft".into(),
        product: "P".into(),
        version: "1.0".into(),
        class_id: "abc".into(),
        name: name.into(),
        severity: "5".into(),
        ext: ext
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    };
    let r = |c: &str, n: usize| c.repeat(n);
    let exp = cef(
        &r("N", 100),
        &[
            ("msg", r("x", 50)),
            ("shost", r("y", 10)),
            ("cs1", r("z=", 30)),
            ("cs1Label", "ThreatName".into()),
        ],
    );
    // cap 20 wire bytes: "z=" is 3 wire bytes, so cs1 keeps 6 pairs (18 bytes) + "z" (19).
    let good = cef(
        &r("N", 20),
        &[
            ("msg", r("x", 20)),
            ("shost", r("y", 10)),
            ("cs1", format!("{}z", r("z=", 6))),
            ("cs1Label", "ThreatName".into()),
        ],
    );
    assert_eq!(diff_shortened(&exp, &good), Vec::<String>::new());
    let with = |f: &dyn Fn(&mut Cef)| {
        let mut c = good.clone();
        f(&mut c);
        diff_shortened(&exp, &c)
    };
    let not_prefix = with(&|c| {
        c.ext.insert("msg".into(), format!("{}q", r("x", 19)));
    });
    assert!(
        not_prefix.iter().any(|d| d.contains("nor a shortening")),
        "{not_prefix:?}"
    );
    let kept_long = with(&|c| {
        c.name = r("N", 100);
    });
    assert!(
        kept_long.iter().any(|d| d.contains("kept whole")),
        "{kept_long:?}"
    );
    let two_caps = with(&|c| {
        c.ext.insert("msg".into(), r("x", 30));
    });
    assert!(
        two_caps.iter().any(|d| d.contains("one cap")),
        "{two_caps:?}"
    );
    let orphan_label = with(&|c| {
        c.ext.remove("cs1");
    });
    assert!(
        orphan_label
            .iter()
            .any(|d| d.contains("present although cs1")),
        "{orphan_label:?}"
    );
    let vendor = with(&|c| c.vendor = "Micro".into());
    assert!(
        vendor.iter().any(|d| d.contains("DeviceVendor")),
        "{vendor:?}"
    );
    assert!(
        diff_shortened(&exp, &exp)
            .iter()
            .any(|d| d.contains("every value arrived whole"))
    );

    let leef = |event_id: &str, attrs: &[(&str, String)]| Leef {
        version: "2.0".into(),
        vendor: "Microsoft".into(),
        product: "P".into(),
        product_version: "1.0".into(),
        event_id: event_id.into(),
        attrs: attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    };
    let exp = leef(
        "e",
        &[("a", r("x", 50)), ("b", r("y", 5)), ("c", r("z", 40))],
    );
    let good = leef(
        "e",
        &[("a", r("x", 20)), ("b", r("y", 5)), ("c", r("z", 20))],
    );
    assert_eq!(diff_leef_shortened(&exp, &good), Vec::<String>::new());
    let reordered = leef(
        "e",
        &[("b", r("y", 5)), ("a", r("x", 20)), ("c", r("z", 20))],
    );
    assert!(!diff_leef_shortened(&exp, &reordered).is_empty());
    let kept_long = leef(
        "e",
        &[("a", r("x", 20)), ("b", r("y", 5)), ("c", r("z", 40))],
    );
    assert!(!diff_leef_shortened(&exp, &kept_long).is_empty());
}
