//! The transport (`siemfwd::transport::Output`) against a real syslog-ng 3.38: what the
//! library writes over TLS with a client certificate (RFC 5425), plain TCP with octet counting
//! and LF framing must arrive as exactly one event per alert, with strictly escaped CEF that
//! decodes back to the source alert, and LEEF that decodes attribute by attribute.
//!
//! Every test encodes the sample alerts of `examples/alerts` through a configured output, adds a
//! sentinel alert last on the same connection, and waits for the sentinel in syslog-ng's output:
//! syslog-ng keeps the order of one connection, so everything before it is everything the
//! output delivered.
//!
//! How syslog-ng decodes (see tests/support/syslog_ng.rs): header fields with `\|`, `\\`
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

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use siemfwd::alert::Timestamp;
use siemfwd::config::Config;
use siemfwd::input::{Item, read_alerts};
use siemfwd::mapping::{EncodeStats, TenantIdentity};
use siemfwd::transport::{Batch, Output};
use support::cef_contract::{Cef, epoch_millis, expected_cef, text, truncate_bytes};
use support::syslog_ng::{SyslogNg, SyslogNgOpts, field};

const TENANT_NAME: &str = "Contoso EU";
const TENANT_ID: &str = "00000000-1111-2222-3333-444444444444";
const HOSTNAME: &str = "fwd-test-host";
const WAIT: Duration = Duration::from_secs(20);

/// Sample alerts, in the order they are sent.
const SAMPLES: &[&str] = &[
    "realistic-page.json",
    "realistic.ndjson",
    "array.json",
    "single.json",
    "adversarial.json",
    "oversized.json",
];

// ------------------------------------------------------------------ source alerts ----

fn sample(name: &str) -> PathBuf {
    support::manifest_dir().join("examples/alerts").join(name)
}

/// Alerts of one sample file as JSON: NDJSON lines, an array, a page `{"value": [...]}` or
/// one object.
fn load_alerts(path: &Path) -> Vec<Value> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    if path.extension().is_some_and(|e| e == "ndjson") {
        return text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
            .collect();
    }
    let v: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    match v {
        Value::Array(a) => a,
        Value::Object(ref o) if o.get("value").is_some_and(Value::is_array) => {
            o["value"].as_array().cloned().unwrap_or_default()
        }
        other => vec![other],
    }
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

/// TLS to `port` of `sng`, trusting its CA and with its client certificate.
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
    Ok(Cef {
        vendor: h("device_vendor")?,
        product: h("device_product")?,
        version: h("device_version")?,
        class_id: h("device_event_class_id")?,
        name: h("name")?,
        severity: h("severity")?,
        ext,
    })
}

fn show(s: &str) -> String {
    let shown: String = s.chars().take(160).collect();
    if shown.len() < s.len() {
        format!("{shown:?}... ({} bytes)", s.len())
    } else {
        format!("{shown:?}")
    }
}

/// Differences between `exp` and `got`; with `shortened`, a value may be a (non-empty) prefix
/// of the expected one and a key may be missing (shortened to nothing).
fn diff_maps(
    exp: &BTreeMap<String, String>,
    got: &BTreeMap<String, String>,
    shortened: bool,
) -> Vec<String> {
    let mut d = Vec::new();
    for (k, e) in exp {
        match got.get(k) {
            None if shortened => {}
            None => d.push(format!("{k}: missing, expected {}", show(e))),
            Some(g) if g == e => {}
            Some(g) if shortened && !g.is_empty() && e.starts_with(g.as_str()) => {}
            Some(g) => d.push(format!("{k}: expected {} got {}", show(e), show(g))),
        }
    }
    for (k, g) in got {
        if !exp.contains_key(k) {
            d.push(format!("{k}: unexpected key, got {}", show(g)));
        }
    }
    d
}

fn diff_cef(exp: &Cef, got: &Cef, shortened: bool) -> Vec<String> {
    let mut d = Vec::new();
    for (k, e, g) in [
        ("vendor", &exp.vendor, &got.vendor),
        ("product", &exp.product, &got.product),
        ("version", &exp.version, &got.version),
        ("class_id", &exp.class_id, &got.class_id),
        ("name", &exp.name, &got.name),
        ("severity", &exp.severity, &got.severity),
    ] {
        let prefix_ok = shortened && !g.is_empty() && e.starts_with(g.as_str());
        if e != g && !prefix_ok {
            d.push(format!("header {k}: expected {} got {}", show(e), show(g)));
        }
    }
    d.extend(diff_maps(&exp.ext, &got.ext, shortened));
    d
}

/// Length of the octet-counting frame around a message of `len` bytes.
fn octet_framed_len(len: usize) -> usize {
    len.to_string().len() + 1 + len
}

/// Checks common to every event: one per alert, from `source`, with our envelope, within
/// `max_bytes` on the wire (`overhead(len)` = framed length), no regexp errors in syslog-ng.
fn check_envelopes(
    sng: &SyslogNg,
    got: &Received,
    alerts: usize,
    source: &str,
    max_bytes: usize,
    framed_len: fn(usize) -> usize,
) {
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
            framed_len(raw.len()) <= max_bytes,
            "#{i}: {} bytes on the wire, over max_message_bytes {max_bytes}",
            framed_len(raw.len())
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

/// Every event is strict CEF equal to the model of its alert (a prefix of it where the
/// encoder had to shorten the record to fit).
fn check_cef(alerts: &[Value], sent: &Sent, got: &Received, what: &str) {
    assert_eq!(sent.stats.len(), alerts.len(), "{what}: alerts encoded");
    let mut failures = Vec::new();
    for (i, ((alert, e), stats)) in alerts.iter().zip(&got.events).zip(&sent.stats).enumerate() {
        let id = alert.get("id").map_or("<no id>".into(), Value::to_string);
        if field(e, ".cef.extension_strict_ok") != Some("yes") {
            failures.push(format!(
                "#{i} {id}: extension not strictly escaped: {}",
                show(field(e, ".cef.extension").unwrap_or("<none>"))
            ));
        }
        let exp = expected_cef(alert, TENANT_NAME, TENANT_ID);
        match decoded_cef(e) {
            Err(why) => failures.push(format!("#{i} {id}: {why}; raw {}", show(&got.raw[i]))),
            Ok(dec) => {
                let d = diff_cef(&exp, &dec, stats.budget_truncations > 0);
                if !d.is_empty() {
                    failures.push(format!("#{i} {id}:\n  {}", d.join("\n  ")));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{what}: {} of {} events differ from the source alerts:\n{}",
        failures.len(),
        alerts.len(),
        failures.join("\n")
    );
}

fn alerts_of(files: &[PathBuf]) -> Vec<Value> {
    files.iter().flat_map(|p| load_alerts(p)).collect()
}

// ------------------------------------------------------------------------ tests ----

/// (a) Every sample alert over RFC 5425 (TLS, octet counting) with the client certificate that
/// the source requires: one strict CEF event each, equal to the model; the 75 KB description
/// arrives as a record within 8192 bytes, whole (strict, decodable, `msg` cut to CEF's 1023).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_mutual_all_samples_arrive_once_as_strict_cef() {
    let sng = SyslogNg::start(SyslogNgOpts::default());
    let cfg = config(
        "tls",
        &format!("127.0.0.1:{}", sng.ports().tls_framed),
        &tls_keys(&sng),
    );
    let out_cfg = cfg.output("x").unwrap();
    assert_eq!(out_cfg.max_message_bytes, 8192, "default maximum");
    let out = Output::start(out_cfg, None).unwrap();
    let files: Vec<PathBuf> = SAMPLES.iter().map(|f| sample(f)).collect();
    let alerts = alerts_of(&files);
    let sent = send_files(out, &files).await;
    let got = collect(&sng, &sent.sentinel);
    check_envelopes(
        &sng,
        &got,
        alerts.len(),
        "s_tls_framed",
        8192,
        octet_framed_len,
    );
    assert!(
        sent.stats.iter().all(|s| s.budget_truncations == 0),
        "every sample fits 8192 bytes, so every event is compared exactly: {:?}",
        sent.stats
    );
    check_cef(&alerts, &sent, &got, "tls");
    check_one_clean_tls_connection(&sng);

    let big = alerts.len() - 1;
    let description = alerts[big]["description"].as_str().unwrap();
    assert!(description.len() > 70_000, "oversized.json is the big one");
    let dec = decoded_cef(&got.events[big]).unwrap();
    let msg = &dec.ext["msg"];
    assert_eq!(msg, &truncate_bytes(description, 1023), "msg shortened");
    assert!(got.raw[big].len() <= 8192, "raw {}", got.raw[big].len());
    assert!(sent.stats[big].truncated(), "{:?}", sent.stats[big]);
}

/// (b) Plain TCP with octet counting: the adversarial alerts (raw LF/CR, `=`, `|`, `\`,
/// control characters, forged syslog headers in values) are one strict CEF event each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_octet_counting_adversarial_alerts_arrive_once_as_strict_cef() {
    let sng = SyslogNg::start(SyslogNgOpts::default());
    let cfg = config("tcp", &format!("127.0.0.1:{}", sng.ports().tcp_framed), "");
    let out = Output::start(cfg.output("x").unwrap(), None).unwrap();
    let files = vec![sample("adversarial.json")];
    let alerts = alerts_of(&files);
    let sent = send_files(out, &files).await;
    let got = collect(&sng, &sent.sentinel);
    check_envelopes(
        &sng,
        &got,
        alerts.len(),
        "s_tcp_framed",
        8192,
        octet_framed_len,
    );
    check_cef(&alerts, &sent, &got, "tcp octet counting");
}

/// (c) LF framing (RFC 5424 parsing): a raw LF or CR in a value would end the record and
/// forge a second event. Exactly one event per adversarial alert, equal to the model.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_lf_framing_adversarial_alerts_never_forge_a_second_event() {
    let sng = SyslogNg::start(SyslogNgOpts::default());
    let cfg = config(
        "tcp",
        &format!("127.0.0.1:{}", sng.ports().tcp_lf5424),
        "framing = \"lf\"",
    );
    let out = Output::start(cfg.output("x").unwrap(), None).unwrap();
    let files = vec![sample("adversarial.json")];
    let alerts = alerts_of(&files);
    let sent = send_files(out, &files).await;
    let got = collect(&sng, &sent.sentinel);
    check_envelopes(&sng, &got, alerts.len(), "s_tcp_lf5424", 8192, |n| n + 1);
    for (i, r) in got.raw.iter().enumerate() {
        assert!(!r.contains('\r'), "#{i}: raw CR in {}", show(r));
    }
    check_cef(&alerts, &sent, &got, "tcp lf");
}

/// A small `max_message_bytes`: records are shortened (values, never the line) to fit, and
/// every one still arrives whole, strict and decodable, each value a prefix of the model's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_records_shortened_to_a_small_maximum_arrive_whole() {
    const MAX: usize = 1200;
    let sng = SyslogNg::start(SyslogNgOpts::default());
    let cfg = config(
        "tls",
        &format!("127.0.0.1:{}", sng.ports().tls_framed),
        &format!("{}max_message_bytes = {MAX}\n", tls_keys(&sng)),
    );
    let out = Output::start(cfg.output("x").unwrap(), None).unwrap();
    let files = vec![sample("adversarial.json"), sample("oversized.json")];
    let alerts = alerts_of(&files);
    let sent = send_files(out, &files).await;
    let got = collect(&sng, &sent.sentinel);
    check_envelopes(
        &sng,
        &got,
        alerts.len(),
        "s_tls_framed",
        MAX,
        octet_framed_len,
    );
    let shortened = sent
        .stats
        .iter()
        .filter(|s| s.budget_truncations > 0)
        .count();
    assert!(shortened >= 2, "{shortened} records shortened to fit {MAX}");
    check_cef(&alerts, &sent, &got, "tls, max 1200");
    check_one_clean_tls_connection(&sng);
}

// ------------------------------------------------------------------------ LEEF ----

/// What LEEF writes for a value: TAB (the delimiter), CR, LF and other control characters
/// become spaces.
fn leef_text(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c < ' ' || ('\x7f'..='\u{9f}').contains(&c) {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// The attributes of the built-in LEEF mapping (mappings/leef.toml) for `alert`.
fn expected_leef(alert: &Value) -> BTreeMap<String, String> {
    let get = |k: &str| alert.get(k);
    let mut m = BTreeMap::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            m.insert(k.to_string(), leef_text(&v));
        }
    };
    let ms = |k: &str| text(get(k)).map(|t| epoch_millis(&t).to_string());
    put("devTime", ms("lastUpdateTime"));
    let sev = match get("severity").and_then(Value::as_str) {
        Some("Informational") => "1",
        Some("Low") => "3",
        Some("Medium") => "5",
        Some("High") => "8",
        _ => "1",
    };
    put("sev", Some(sev.into()));
    put("cat", text(get("category")));
    let (user, domain) = match get("relatedUser") {
        Some(Value::Object(o)) => (text(o.get("userName")), text(o.get("domainName"))),
        Some(Value::String(s)) => match s.split_once('\\') {
            Some((d, u)) => (Some(u.to_string()), Some(d.to_string())),
            None => (Some(s.clone()), None),
        },
        _ => (None, None),
    };
    put("usrName", user);
    put("domain", domain);
    let evidence: Vec<&Value> = get("evidence")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let first_of = |types: &[&str]| {
        evidence.iter().copied().find(|e| {
            e.get("entityType")
                .and_then(Value::as_str)
                .is_some_and(|t| types.contains(&t))
        })
    };
    put(
        "src",
        first_of(&["Ip"]).and_then(|e| text(e.get("ipAddress"))),
    );
    put("url", first_of(&["Url"]).and_then(|e| text(e.get("url"))));
    put(
        "tenantId",
        Some(text(get("aadTenantId")).unwrap_or_else(|| TENANT_ID.into())),
    );
    put("tenantName", Some(TENANT_NAME.into()));
    put("alertId", text(get("id")));
    put("title", text(get("title")));
    put("hostName", text(get("computerDnsName")));
    for (key, src) in [
        ("description", "description"),
        ("status", "status"),
        ("classification", "classification"),
        ("determination", "determination"),
        ("detectionSource", "detectionSource"),
        ("threatName", "threatName"),
        ("incidentId", "incidentId"),
        ("machineId", "machineId"),
    ] {
        put(key, text(get(src)));
    }
    let mitre = match get("mitreTechniques") {
        Some(Value::Array(a)) => Some(
            a.iter()
                .map(|t| text(Some(t)).unwrap_or_default())
                .collect::<Vec<_>>()
                .join(","),
        ),
        other => text(other),
    };
    put("mitreTechniques", mitre);
    if let Some(ev) = first_of(&["File", "Process"]) {
        for (key, src) in [
            ("fileName", "fileName"),
            ("filePath", "filePath"),
            ("sha1", "sha1"),
            ("sha256", "sha256"),
            ("processCommandLine", "processCommandLine"),
        ] {
            put(key, text(ev.get(src)));
        }
    }
    put("firstEventTime", ms("firstEventTime"));
    put("lastEventTime", ms("lastEventTime"));
    put(
        "alertLink",
        text(get("id")).map(|id| format!("https://security.microsoft.com/alerts/{id}")),
    );
    m
}

/// A LEEF 2.0 record split into header fields and attributes.
#[derive(Debug)]
struct Leef {
    header: BTreeMap<&'static str, String>,
    /// The attributes part, as one string (what syslog-ng calls `.leef.attrs`).
    attrs_text: String,
    attrs: BTreeMap<String, String>,
}

/// Splits `LEEF:2.0|Vendor|Product|Version|EventID|x09|k=v<TAB>k=v...`.
fn parse_leef(msg: &str) -> Result<Leef, String> {
    let names = [
        "version",
        "vendor",
        "product",
        "product_version",
        "event_id",
        "delimiter",
    ];
    let rest = msg
        .strip_prefix("LEEF:")
        .ok_or_else(|| format!("not LEEF: {}", show(msg)))?;
    let parts: Vec<&str> = rest.splitn(names.len() + 1, '|').collect();
    if parts.len() != names.len() + 1 {
        return Err(format!("short LEEF header: {}", show(msg)));
    }
    let header = names
        .iter()
        .zip(&parts)
        .map(|(n, p)| (*n, p.to_string()))
        .collect();
    let attrs_text = parts[names.len()].to_string();
    let mut attrs = BTreeMap::new();
    for pair in attrs_text.split('\t').filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("no `=` in LEEF attribute {}", show(pair)))?;
        if attrs.insert(k.to_string(), v.to_string()).is_some() {
            return Err(format!("LEEF attribute {k} twice"));
        }
    }
    Ok(Leef {
        header,
        attrs_text,
        attrs,
    })
}

/// The LEEF record of one event, split here from syslog-ng's `MESSAGE` (the RFC 5424 MSG),
/// after checking that syslog-ng's own LEEF parser split the header and the attributes the
/// same way.
///
/// syslog-ng's kv-parser (`.leef.attr.*`) is not used for values: it trims spaces, unquotes
/// values that start with `'` or `"`, and splits a value at ` word=` even with a TAB pair
/// separator, none of which LEEF does. And the receiver's CEF parser looks for `CEF:` anywhere
/// in the message and runs first, so a LEEF record whose value contains `CEF:0|...` is
/// decoded as CEF there; such an event is checked from `MESSAGE` alone.
fn decoded_leef(e: &Value) -> Result<Leef, String> {
    let msg = field(e, "MESSAGE").ok_or("no MESSAGE")?;
    let leef = parse_leef(msg)?;
    if field(e, ".leef.version").is_some() {
        for (k, v) in &leef.header {
            let got = field(e, &format!(".leef.{k}"));
            if got != Some(v.as_str()) {
                return Err(format!(
                    "syslog-ng's .leef.{k} is {got:?}, MESSAGE has {v:?}"
                ));
            }
        }
        let got = field(e, ".leef.attrs");
        if got != Some(leef.attrs_text.as_str()) {
            return Err(format!(
                "syslog-ng's .leef.attrs {} differs from MESSAGE's {}",
                show(got.unwrap_or("<none>")),
                show(&leef.attrs_text)
            ));
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
/// per sample alert, decoded by syslog-ng's LEEF parser into the attributes of the mapping;
/// the oversized alert's 75 KB description is shortened to fit 8192 bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_leef_all_samples_decode_attribute_by_attribute() {
    let sng = SyslogNg::start(SyslogNgOpts::default());
    let cfg = config(
        "tls",
        &format!("127.0.0.1:{}", sng.ports().tls_framed),
        &format!("format = \"leef\"\n{}", tls_keys(&sng)),
    );
    let out = Output::start(cfg.output("x").unwrap(), None).unwrap();
    let files: Vec<PathBuf> = SAMPLES.iter().map(|f| sample(f)).collect();
    let alerts = alerts_of(&files);
    let sent = send_files(out, &files).await;
    let got = collect(&sng, &sent.sentinel);
    check_envelopes(
        &sng,
        &got,
        alerts.len(),
        "s_tls_framed",
        8192,
        octet_framed_len,
    );
    let mut failures = Vec::new();
    for (i, ((alert, e), stats)) in alerts.iter().zip(&got.events).zip(&sent.stats).enumerate() {
        let id = alert.get("id").map_or("<no id>".into(), Value::to_string);
        let event_id = text(alert.get("detectorId"))
            .or_else(|| text(alert.get("category")))
            .map(|s| leef_text(&truncate_bytes(&s, 255)).replace('|', " "))
            .unwrap_or_default();
        let leef = match decoded_leef(e) {
            Ok(l) => l,
            Err(why) => {
                failures.push(format!("#{i} {id}: {why}"));
                continue;
            }
        };
        for (k, want) in [
            ("version", "2.0"),
            ("vendor", "Microsoft"),
            ("product", "Microsoft Defender for Endpoint"),
            ("product_version", "1.0"),
            ("delimiter", "x09"),
            ("event_id", event_id.as_str()),
        ] {
            let got = &leef.header[k];
            if got != want {
                failures.push(format!(
                    "#{i} {id}: header {k}: expected {want:?} got {got:?}"
                ));
            }
        }
        let d = diff_maps(
            &expected_leef(alert),
            &leef.attrs,
            stats.budget_truncations > 0,
        );
        if !d.is_empty() {
            failures.push(format!("#{i} {id}:\n  {}", d.join("\n  ")));
        }
    }
    assert!(
        failures.is_empty(),
        "LEEF: {} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
    check_one_clean_tls_connection(&sng);
    let big = alerts.len() - 1;
    assert!(
        sent.stats[big].budget_truncations > 0,
        "{:?}",
        sent.stats[big]
    );
    let description = decoded_leef(&got.events[big]).unwrap().attrs["description"].clone();
    assert!(
        description.len() > 1000 && description.len() < 8192,
        "description of {} bytes",
        description.len()
    );
}
