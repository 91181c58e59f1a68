//! The transport (`siemfwd::transport::Output`) against a real syslog-ng 3.38: what the
//! library writes over TLS with a client certificate (RFC 5425), plain TCP with octet counting
//! and LF framing must arrive as exactly one event per alert, with strictly escaped CEF that
//! decodes back to the source alert, and LEEF that decodes attribute by attribute.
//!
//! Every test encodes the sample alerts of `examples/alerts` through a configured output, adds a
//! sentinel alert last on the same connection, and waits for the sentinel in syslog-ng's output:
//! syslog-ng keeps the order of one connection, so everything before it is everything the
//! output delivered. Each decoded event is compared with the model of its source alert
//! (tests/it/support/cef_contract.rs, leef_contract.rs): exactly, or for a record the encoder had
//! to shorten to the maximum size, by the shortening rule of `cef_check::diff_shortened`.
//!
//! How syslog-ng decodes (see tests/it/support/syslog_ng.rs): header fields with `\|`, `\\`
//! unescaped; `.cef.extension_strict_ok = "yes"` only when every escape in the extension is
//! `\\`, `\=`, `\n` or `\r` and no raw `=`, CR or LF is in it. Values are compared from the
//! receiver's raw `.cef.extension` / `.leef.attrs` (split and unescaped here), not from its
//! kv-parser (`.cef.ext.*`, `.leef.attr.*`), which trims spaces around values, unquotes values
//! that start with `'` or `"` (undoing `\\` inside them) and, in LEEF, splits a value at
//! ` word=` even though the pair separator is TAB; the kv-parser's CEF keys are checked though.
//!
//! TLS outputs must use one connection and end it with close_notify: syslog-ng logs
//! `SSL error while reading stream; ... unexpected eof while reading` when a client closes
//! without one.
//!
//! Needs syslog-ng unpacked by `scripts/install-receivers.sh`. `SIEMFWD_KEEP_TEST_DIRS=1` keeps
//! the receivers' temp dirs.
//!
//! Long (over 500 lines) by the number of transports and formats, each a scenario that reads top
//! to bottom; what they share is in `support/`.

use crate::support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use siemfwd::alert::Timestamp;
use siemfwd::config::Config;
use siemfwd::mapping::{EncodeStats, TenantIdentity};
use siemfwd::reader::{Item, read_alerts};
use siemfwd::transport::{Batch, Output};
use support::cef_check::{
    TENANT_ID, TENANT_NAME, WAIT, alert_id, diff, diff_shortened, load_alerts, mismatch,
    sample_paths, samples_dir, show,
};
use support::cef_contract::{Cef, expected_cef, truncate_bytes};
use support::leef_contract::{
    Leef, decode_leef_raw, diff_leef, diff_leef_shortened, expected_leef,
};
use support::syslog_ng::{SyslogNg, SyslogNgOpts, field};

const HOSTNAME: &str = "fwd-test-host";

// ------------------------------------------------------------------ source alerts ----

/// A sample alert file (`examples/alerts/NAME`).
fn sample(name: &str) -> PathBuf {
    samples_dir().join(name)
}

fn alerts_of(files: &[PathBuf]) -> Vec<Value> {
    files.iter().flat_map(|p| load_alerts(p)).collect()
}

/// A unique alert id (at most 40 bytes, CEF's `externalId` limit) that marks the end.
fn sentinel_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("END-{}-{nanos}", std::process::id())
}

fn sentinel_alert(id: &str) -> Vec<u8> {
    format!(
        r#"{{"id":"{id}","title":"end of test","severity":"Low","lastUpdateTime":"2026-11-22T14:00:00Z"}}"#
    )
    .into_bytes()
}

// ------------------------------------------------------------------ the output ----

/// A config with one `[[output]]` named `x` of `kind` to `address` and the extra `keys`.
fn config(kind: &str, address: &str, keys: &str) -> Config {
    let text = format!(
        "[[output]]\nname = \"x\"\ntype = \"{kind}\"\naddress = \"{address}\"\nhostname = \"{HOSTNAME}\"\n{keys}\n"
    );
    Config::from_toml("test.toml", &text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// `127.0.0.1:PORT`.
fn local(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

/// The address of `sng`'s RFC 5425 source (`s_tls_framed`).
fn tls_framed(sng: &SyslogNg) -> String {
    local(sng.ports().tls_framed)
}

/// The TLS keys for `sng`: trust its CA, present its client certificate.
fn tls_keys(sng: &SyslogNg) -> String {
    let c = sng.certs();
    format!(
        "ca_file = \"{}\"\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
        c.ca_crt.display(),
        c.client_crt.display(),
        c.client_key.display()
    )
}

/// What was sent: the encoder's stats for each source alert, in order.
struct Sent {
    stats: Vec<EncodeStats>,
    sentinel: String,
}

/// Encodes the alerts of `files` and a sentinel alert through `out` (batches of the output's
/// size, as a caller would), sends every batch and shuts the output down (close_notify).
async fn send_files(out: Output, files: &[PathBuf]) -> Sent {
    let now = Timestamp::from_unix_nanos(1_795_000_000_123_456_000, 6);
    let tenant = TenantIdentity {
        name: TENANT_NAME,
        id: TENANT_ID,
    };
    let sentinel = sentinel_id();
    let mut inputs: Vec<Vec<u8>> = files
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display())))
        .collect();
    inputs.push(sentinel_alert(&sentinel));
    let mut batches: Vec<Batch> = Vec::new();
    let mut batch = out.new_batch();
    let mut stats = Vec::new();
    for input in &inputs {
        read_alerts(&input[..], |item| {
            match item {
                Item::Alert(a) => {
                    let s = out
                        .encoder()
                        .encode(&a, tenant, now, &mut batch)
                        .unwrap_or_else(|e| panic!("encode {}: {e}", a.position));
                    stats.push(s);
                }
                Item::Malformed(m) => panic!("sample alert malformed: {m}"),
            }
            if out.batch_is_full(&batch) {
                batches.push(std::mem::replace(&mut batch, out.new_batch()));
            }
            Ok::<(), ()>(())
        })
        .unwrap_or_else(|e| panic!("read alerts: {e}"));
    }
    batches.push(batch);
    for b in batches {
        if let Err(e) = out.send(b).await {
            panic!("not delivered: {e}");
        }
    }
    support::send::assert_confirmed(&out).await;
    out.shutdown().await;
    stats.pop(); // the sentinel's
    Sent { stats, sentinel }
}

// ------------------------------------------------------------------ receiver side ----

/// What syslog-ng got before the sentinel.
struct Received {
    events: Vec<Value>,
    raw: Vec<String>,
}

/// Waits for the sentinel in parsed.jsonl and raw.log, checks nothing came after it, and
/// returns what came before.
fn collect(sng: &SyslogNg, sentinel: &str) -> Received {
    let mut parsed = sng.wait_for_line_containing(&sng.parsed_jsonl(), sentinel, WAIT);
    parsed.pop();
    let mut raw = sng.wait_for_line_containing(&sng.raw_log(), sentinel, WAIT);
    raw.pop();
    // The output was shut down before: anything after the sentinel would be a duplicate or a
    // piece of a split record arriving late.
    std::thread::sleep(Duration::from_millis(200));
    let all = support::files::read_lines(&sng.raw_log());
    assert_eq!(
        all.len(),
        raw.len() + 1,
        "messages after the sentinel:\n{}",
        support::files::preview(&all[raw.len() + 1..])
    );
    let events = parsed
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    Received { events, raw }
}

/// Undoes the CEF extension escapes `\\`, `\=`, `\n`, `\r` (syslog-ng's kv-parser keeps them).
fn unescape_ext(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('=') => out.push('='),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            other => return Err(format!("bad escape \\{other:?} in {s:?}")),
        }
    }
    Ok(out)
}

/// The object of string values at dotted `prefix` (`.cef.ext`, `.leef.attr`), nested as
/// format-json writes it, or as flat keys.
fn fields_under(event: &Value, prefix: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let nested = format!("_{}", prefix.trim_start_matches('.'));
    let mut node = Some(event);
    for seg in nested.split('.') {
        node = node.and_then(|n| n.get(seg));
    }
    if let Some(Value::Object(o)) = node {
        for (k, v) in o {
            if let Some(s) = v.as_str() {
                out.insert(k.clone(), s.to_string());
            }
        }
    }
    if let Value::Object(o) = event {
        for (k, v) in o {
            for p in [format!("{prefix}."), format!("{nested}.")] {
                if let (Some(key), Some(s)) = (k.strip_prefix(&p), v.as_str()) {
                    out.insert(key.to_string(), s.to_string());
                }
            }
        }
    }
    out
}

/// A CEF extension split as the receiver's config splits it (before every ` KEY=`, KEY
/// `[A-Za-z0-9_]+`), each value still escaped.
///
/// The values are taken from syslog-ng's `.cef.extension` rather than from its kv-parser
/// (`.cef.ext.*`): the kv-parser trims spaces around values and takes a value that starts
/// with a quote for a quoted string (undoing `\\` inside it), so it does not show what was
/// sent. Its keys are compared with these.
fn split_extension(ext: &str) -> Result<BTreeMap<String, String>, String> {
    let b = ext.as_bytes();
    let is_key = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    // A key starts at 0 and after each space that is followed by KEY=.
    let mut starts = vec![0];
    for i in 0..b.len() {
        if b[i] == b' ' {
            let k = b[i + 1..].iter().take_while(|&&c| is_key(c)).count();
            if k > 0 && b.get(i + 1 + k) == Some(&b'=') {
                starts.push(i + 1);
            }
        }
    }
    let mut out = BTreeMap::new();
    if ext.is_empty() {
        return Ok(out);
    }
    for (n, &start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).map_or(b.len(), |&next| next - 1);
        let pair = &ext[start..end];
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("no `=` in extension pair {pair:?}"))?;
        if k.is_empty() || !k.bytes().all(is_key) {
            return Err(format!("bad extension key {k:?}"));
        }
        if out.insert(k.to_string(), v.to_string()).is_some() {
            return Err(format!("extension key {k} twice"));
        }
    }
    Ok(out)
}

/// The CEF event syslog-ng decoded: header fields as its parser unescaped them, extension
/// values from `.cef.extension` unescaped here.
fn decoded_cef(e: &Value) -> Result<Cef, String> {
    let h = |k: &str| {
        field(e, &format!(".cef.{k}"))
            .map(str::to_string)
            .ok_or_else(|| format!("no .cef.{k} (not decoded as CEF)"))
    };
    if h("version")? != "0" {
        return Err(format!("CEF version {}", h("version")?));
    }
    let raw_ext = split_extension(&h("extension")?)?;
    let kv_keys: Vec<String> = fields_under(e, ".cef.ext").into_keys().collect();
    let keys: Vec<String> = raw_ext.keys().cloned().collect();
    if kv_keys != keys {
        return Err(format!(
            "syslog-ng's kv-parser found keys {kv_keys:?}, the extension has {keys:?}"
        ));
    }
    let mut ext = BTreeMap::new();
    for (k, v) in raw_ext {
        ext.insert(k, unescape_ext(&v)?);
    }
    Cef::from_fields(
        [
            "device_vendor",
            "device_product",
            "device_version",
            "device_event_class_id",
            "name",
            "severity",
        ],
        h,
        ext,
    )
}

/// Length on the wire of a message of `len` bytes as `source` frames it: octet counting on the
/// `*_framed` sources, a trailing LF on `s_tcp_lf5424`.
fn framed_len(source: &str, len: usize) -> usize {
    match source {
        "s_tls_framed" | "s_tcp_framed" => len.to_string().len() + 1 + len,
        "s_tcp_lf5424" => len + 1,
        other => panic!("the framing of {other} is not known here"),
    }
}

/// Checks common to every event: one per alert, from `source`, with our envelope, within
/// `max_bytes` on the wire (framing included, see [`framed_len`]), no regexp errors in
/// syslog-ng.
fn check_envelopes(sng: &SyslogNg, got: &Received, alerts: usize, source: &str, max_bytes: usize) {
    assert_eq!(
        got.raw.len(),
        alerts,
        "{source}: syslog-ng received {} messages for {alerts} alerts (each alert must be \
         exactly one event):\n{}",
        got.raw.len(),
        support::files::preview(&got.raw)
    );
    assert_eq!(got.events.len(), alerts, "{source}: parsed.jsonl count");
    for (i, e) in got.events.iter().enumerate() {
        assert_eq!(field(e, "SOURCE"), Some(source), "#{i}: {e}");
        assert_eq!(field(e, "HOST"), Some(HOSTNAME), "#{i}: {e}");
        assert_eq!(field(e, "PROGRAM"), Some("siemfwd"), "#{i}: {e}");
        let raw = field(e, "RAWMSG").unwrap_or_else(|| panic!("#{i}: no RAWMSG: {e}"));
        assert!(
            framed_len(source, raw.len()) <= max_bytes,
            "#{i}: {} bytes on the wire, over max_message_bytes {max_bytes}",
            framed_len(source, raw.len())
        );
        assert!(
            got.raw[i].starts_with(&format!("{source} <")),
            "#{i}: raw.log line {}",
            show(&got.raw[i])
        );
    }
    assert_eq!(sng.regexp_errors(), 0, "syslog-ng regexp errors");
}

/// The output used one connection and ended it with a TLS close_notify: syslog-ng logs
/// `SSL error while reading stream; tls_error='...unexpected eof while reading'` for a TLS
/// connection closed without one (checked by hand with a client that skips it).
fn check_one_clean_tls_connection(sng: &SyslogNg) {
    let log = sng.wait_for_line_containing(&sng.internal_log(), "Syslog connection closed", WAIT);
    let accepted = log
        .iter()
        .filter(|l| l.contains("Syslog connection accepted"))
        .count();
    assert_eq!(accepted, 1, "connections:\n{}", log.join("\n"));
    let all = support::files::read_lines(&sng.internal_log());
    let errors: Vec<&String> = all
        .iter()
        .filter(|l| l.contains("SSL error") || l.contains("Error reading"))
        .collect();
    assert!(errors.is_empty(), "not a clean TLS close: {errors:?}");
}

/// Runs `check` on each (alert, its event, the encoder's stats of its record) of `r` and
/// asserts that it found no problem with any event.
fn assert_each_event(
    r: &Run,
    what: &str,
    check: impl Fn(&Value, &Value, &EncodeStats) -> Vec<String>,
) {
    assert_eq!(r.sent.stats.len(), r.alerts.len(), "{what}: alerts encoded");
    let mut failures = Vec::new();
    for (i, ((alert, e), stats)) in r
        .alerts
        .iter()
        .zip(&r.got.events)
        .zip(&r.sent.stats)
        .enumerate()
    {
        let d = check(alert, e, stats);
        if !d.is_empty() {
            failures.push(format!(
                "#{i} {}:\n  {}\n  raw: {}",
                alert_id(alert),
                d.join("\n  "),
                show(&r.got.raw[i])
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{what}: {} of {} events differ from the source alerts:\n{}",
        failures.len(),
        r.alerts.len(),
        failures.join("\n")
    );
}

/// Every event is strict CEF equal to the model of its alert (where the encoder had to shorten
/// the record to fit, by the shortening rule of `cef_check::diff_shortened`).
fn check_cef(r: &Run, what: &str) {
    assert_each_event(r, what, |alert, e, stats| {
        let mut d = Vec::new();
        if field(e, ".cef.extension_strict_ok") != Some("yes") {
            d.push(format!(
                "extension not strictly escaped: {}",
                show(field(e, ".cef.extension").unwrap_or("<none>"))
            ));
        }
        let exp = expected_cef(alert, TENANT_NAME, TENANT_ID);
        match decoded_cef(e) {
            Err(why) => d.push(why),
            Ok(dec) if stats.budget_truncations > 0 => d.extend(diff_shortened(&exp, &dec)),
            Ok(dec) => d.extend(diff(&exp, &dec)),
        }
        d
    });
}

/// One run: the receiver, the alerts sent, the encoder's account of them, and what arrived.
struct Run {
    sng: SyslogNg,
    alerts: Vec<Value>,
    sent: Sent,
    got: Received,
}

/// Starts a syslog-ng and output `x` of the config that `cfg` makes for it, sends the alerts
/// of `files` through the output, collects what arrived and checks its envelopes
/// ([`check_envelopes`]: on `source`, within `max_bytes`).
async fn run(
    files: &[PathBuf],
    source: &str,
    max_bytes: usize,
    cfg: impl FnOnce(&SyslogNg) -> Config,
) -> Run {
    let sng = SyslogNg::start(SyslogNgOpts::default());
    let out = Output::start(cfg(&sng).output("x").unwrap(), None).unwrap();
    let alerts = alerts_of(files);
    let sent = send_files(out, files).await;
    let got = collect(&sng, &sent.sentinel);
    check_envelopes(&sng, &got, alerts.len(), source, max_bytes);
    Run {
        sng,
        alerts,
        sent,
        got,
    }
}

// ------------------------------------------------------------------------ tests ----

/// (a) Every sample alert over RFC 5425 (TLS, octet counting) with the client certificate that
/// the source requires: one strict CEF event each, equal to the model; the 75 KB description
/// arrives as a record within 8192 bytes, whole (strict, decodable, `msg` cut to CEF's 1023).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_mutual_all_samples_arrive_once_as_strict_cef() {
    let r = run(&sample_paths(), "s_tls_framed", 8192, |sng| {
        let cfg = config("tls", &tls_framed(sng), &tls_keys(sng));
        let max = cfg.output("x").unwrap().max_message_bytes;
        assert_eq!(max, 8192, "default maximum");
        cfg
    })
    .await;
    assert!(
        r.sent.stats.iter().all(|s| s.budget_truncations == 0),
        "every sample fits 8192 bytes, so every event is compared exactly: {:?}",
        r.sent.stats
    );
    check_cef(&r, "tls");
    check_one_clean_tls_connection(&r.sng);

    let big = r.alerts.len() - 1;
    let description = r.alerts[big]["description"].as_str().unwrap();
    assert!(description.len() > 70_000, "oversized.json is the big one");
    let dec = decoded_cef(&r.got.events[big]).unwrap();
    let msg = &dec.ext["msg"];
    assert_eq!(msg, &truncate_bytes(description, 1023), "msg shortened");
    assert!(r.got.raw[big].len() <= 8192, "raw {}", r.got.raw[big].len());
    assert!(r.sent.stats[big].truncated(), "{:?}", r.sent.stats[big]);
}

/// (b) Plain TCP with octet counting: the adversarial alerts (raw LF/CR, `=`, `|`, `\`,
/// control characters, forged syslog headers in values) are one strict CEF event each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_octet_counting_adversarial_alerts_arrive_once_as_strict_cef() {
    let r = run(&[sample("adversarial.json")], "s_tcp_framed", 8192, |sng| {
        config("tcp", &local(sng.ports().tcp_framed), "")
    })
    .await;
    check_cef(&r, "tcp octet counting");
}

/// (c) LF framing (RFC 5424 parsing): a raw LF or CR in a value would end the record and
/// forge a second event. Exactly one event per adversarial alert, equal to the model.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_lf_framing_adversarial_alerts_never_forge_a_second_event() {
    let r = run(&[sample("adversarial.json")], "s_tcp_lf5424", 8192, |sng| {
        config("tcp", &local(sng.ports().tcp_lf5424), "framing = \"lf\"")
    })
    .await;
    for (i, raw) in r.got.raw.iter().enumerate() {
        assert!(!raw.contains('\r'), "#{i}: raw CR in {}", show(raw));
    }
    check_cef(&r, "tcp lf");
}

/// A small `max_message_bytes`: records are shortened (values, never the line) to fit, and
/// every one still arrives whole, strict and decodable, each value exact or a shortening of
/// the model's (`cef_check::diff_shortened`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_records_shortened_to_a_small_maximum_arrive_whole() {
    const MAX: usize = 1200;
    let files = [sample("adversarial.json"), sample("oversized.json")];
    let r = run(&files, "s_tls_framed", MAX, |sng| {
        let keys = format!("{}max_message_bytes = {MAX}\n", tls_keys(sng));
        config("tls", &tls_framed(sng), &keys)
    })
    .await;
    let shortened = r
        .sent
        .stats
        .iter()
        .filter(|s| s.budget_truncations > 0)
        .count();
    assert!(shortened >= 2, "{shortened} records shortened to fit {MAX}");
    check_cef(&r, "tls, max 1200");
    check_one_clean_tls_connection(&r.sng);
}

// ------------------------------------------------------------------------ LEEF ----

/// The LEEF record of one event (built-in mapping: LEEF 2.0, TAB delimiter written `x09`),
/// split here from syslog-ng's `MESSAGE` (the RFC 5424 MSG), after checking that syslog-ng's
/// own LEEF parser split the header and the attributes the same way.
///
/// syslog-ng's kv-parser (`.leef.attr.*`) is not used for values: it trims spaces, unquotes
/// values that start with `'` or `"`, and splits a value at ` word=` even with a TAB pair
/// separator, none of which LEEF does. And the receiver's CEF parser looks for `CEF:` anywhere
/// in the message and runs first, so a LEEF record whose value contains `CEF:0|...` is
/// decoded as CEF there; such an event is checked from `MESSAGE` alone.
fn decoded_leef(e: &Value) -> Result<Leef, String> {
    let msg = field(e, "MESSAGE").ok_or("no MESSAGE")?;
    if !msg.starts_with("LEEF:") {
        return Err(format!("not LEEF: {}", show(msg)));
    }
    let leef = decode_leef_raw(msg, '\t')?;
    if field(e, ".leef.version").is_some() {
        for (k, v) in [
            ("version", leef.version.as_str()),
            ("vendor", &leef.vendor),
            ("product", &leef.product),
            ("product_version", &leef.product_version),
            ("event_id", &leef.event_id),
            ("delimiter", "x09"),
            ("attrs", &leef.attrs_text('\t')),
        ] {
            let got = field(e, &format!(".leef.{k}"));
            if got != Some(v) {
                return Err(format!(
                    "syslog-ng's .leef.{k} is {}, MESSAGE has {}",
                    show(got.unwrap_or("<none>")),
                    show(v)
                ));
            }
        }
    } else if field(e, ".cef.version").is_none() || !msg.contains("CEF:") {
        return Err(format!(
            "syslog-ng decoded it as neither LEEF nor CEF: {}",
            show(msg)
        ));
    }
    Ok(leef)
}

/// (d) LEEF 2.0 (TAB delimiter, written `x09`) over TLS with the client certificate: one event
/// per sample alert, split by syslog-ng's LEEF parser as it is here, header and attributes (in
/// order) equal to the model of mappings/leef.toml -- exactly, or for the oversized alert's 75
/// KB description, shortened to fit 8192 bytes, by the shortening rule (EventID exact even
/// then).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_leef_all_samples_decode_attribute_by_attribute() {
    let r = run(&sample_paths(), "s_tls_framed", 8192, |sng| {
        let keys = format!("format = \"leef\"\n{}", tls_keys(sng));
        config("tls", &tls_framed(sng), &keys)
    })
    .await;
    assert_each_event(&r, "LEEF", |alert, e, stats| {
        let exp = expected_leef(alert, TENANT_NAME, TENANT_ID, "2.0", '\t');
        match decoded_leef(e) {
            Err(why) => vec![why],
            Ok(dec) if stats.budget_truncations > 0 => {
                let mut d = diff_leef_shortened(&exp, &dec);
                if dec.event_id != exp.event_id {
                    d.push(format!(
                        "header event_id: {}",
                        mismatch(&exp.event_id, &dec.event_id)
                    ));
                }
                d
            }
            Ok(dec) => diff_leef(&exp, &dec),
        }
    });
    check_one_clean_tls_connection(&r.sng);
    let big = r.alerts.len() - 1;
    assert!(
        r.sent.stats[big].budget_truncations > 0,
        "{:?}",
        r.sent.stats[big]
    );
    let dec = decoded_leef(&r.got.events[big]).unwrap();
    let description = &dec
        .attrs
        .iter()
        .find(|(k, _)| k == "description")
        .unwrap()
        .1;
    assert!(
        description.len() > 1000 && description.len() < 8192,
        "description of {} bytes",
        description.len()
    );
}
