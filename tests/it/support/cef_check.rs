//! Checking what rsyslog decoded against the CEF contract ([`super::cef_contract`]): the sample
//! alerts, what rsyslog's view of a value is, reading its output files up to a sentinel, and
//! field-by-field comparison of decoded events with the expected mapping -- exactly, or (for
//! records the sender had to shorten to its maximum message size) by the shortening rule of
//! [`diff_shortened`].
//!
//! How liblognorm 2.0.6 decodes is described in tests/it/rsyslog_cef.rs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::cef_contract::{Cef, expected_cef};
use super::rsyslog::Rsyslog;

/// Tenant name given to the encoder (`cs3`).
pub const TENANT_NAME: &str = "Contoso EU";
/// Tenant id given to the encoder (`cs2` when the alert has no `aadTenantId`).
pub const TENANT_ID: &str = "00000000-1111-2222-3333-444444444444";
/// How long to wait for a receiver's output.
pub const WAIT: Duration = Duration::from_secs(20);

/// The sample alert files (`examples/alerts/`), in the order the tests send them.
pub const SAMPLES: &[&str] = &[
    "realistic-page.json",
    "realistic.ndjson",
    "array.json",
    "single.json",
    "adversarial.json",
    "oversized.json",
];

// ------------------------------------------------------------------ source alerts ----

pub fn samples_dir() -> PathBuf {
    super::manifest_dir().join("examples/alerts")
}

/// [`SAMPLES`] as paths.
pub fn sample_paths() -> Vec<PathBuf> {
    SAMPLES.iter().map(|f| samples_dir().join(f)).collect()
}

/// Alerts of one sample file: NDJSON lines, a JSON array, an API page `{"value": [...]}` or
/// a single alert object.
pub fn load_alerts(path: &Path) -> Vec<Value> {
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

/// The alerts of all [`SAMPLES`], in order.
pub fn all_alerts() -> Vec<Value> {
    sample_paths().iter().flat_map(|p| load_alerts(p)).collect()
}

/// The `id` of an alert for messages (`<no id>` without one).
pub fn alert_id(alert: &Value) -> String {
    alert
        .get("id")
        .map_or("<no id>".to_string(), Value::to_string)
}

// ------------------------------------------------------------------ rsyslog's view ----

/// What stock rsyslog (`parser.escapeControlCharactersOnReceive="on"`, TAB kept) makes of a
/// value on the wire: control characters < 0x20 other than TAB become `#ooo`. CR and LF never
/// reach it raw (the encoder escapes or replaces them), so they are left alone here.
pub fn rsyslog_view(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if (c as u32) < 0x20 && !matches!(c, '\t' | '\r' | '\n') {
            out.push_str(&format!("#{:03o}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// [`rsyslog_view`] of every value of an event.
pub fn rsyslog_view_cef(c: &Cef) -> Cef {
    Cef {
        vendor: rsyslog_view(&c.vendor),
        product: rsyslog_view(&c.product),
        version: rsyslog_view(&c.version),
        class_id: rsyslog_view(&c.class_id),
        name: rsyslog_view(&c.name),
        severity: c.severity.clone(),
        ext: c
            .ext
            .iter()
            .map(|(k, v)| (k.clone(), rsyslog_view(v)))
            .collect(),
    }
}

// ------------------------------------------------------------- rsyslog results ----

/// A unique end marker sent after the events; rsyslog keeps the order of one connection.
pub fn sentinel() -> String {
    format!(
        "SIEMFWD-TEST-END-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// An RFC 5424 message around a bare record (e.g. a CEF line or a sentinel).
pub fn wrap5424(cef: &str) -> String {
    format!("<14>1 2026-11-22T14:00:00.000Z test-host siemfwd-test - - - {cef}")
}

/// What rsyslog wrote for the messages before a sentinel.
#[derive(Debug)]
pub struct Received {
    /// `out/parsed.jsonl` lines before the sentinel, parsed.
    pub parsed: Vec<Value>,
    /// `out/raw.log` lines (`INPUTNAME RAWMSG`) before the sentinel.
    pub raw: Vec<String>,
}

/// How many lines rsyslog's output files have now, to [`collect_after`] them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mark {
    pub raw: usize,
    pub parsed: usize,
}

/// The current length of `raw.log` and `parsed.jsonl`.
pub fn mark(rs: &Rsyslog) -> Mark {
    Mark {
        raw: super::files::read_lines(&rs.raw_log()).len(),
        parsed: super::files::read_lines(&rs.parsed_jsonl()).len(),
    }
}

/// Waits for the sentinel in parsed.jsonl (the last action of the ruleset, so raw.log is
/// complete too) and returns what came before it.
pub fn collect(rs: &Rsyslog, sentinel: &str) -> Received {
    collect_after(rs, sentinel, Mark::default())
}

/// Like [`collect`], leaving out the lines that were there at `from`.
pub fn collect_after(rs: &Rsyslog, sentinel: &str, from: Mark) -> Received {
    let mut parsed_lines = rs.wait_for_line_containing(&rs.parsed_jsonl(), sentinel, WAIT);
    parsed_lines.pop();
    let mut raw = rs.wait_for_line_containing(&rs.raw_log(), sentinel, WAIT);
    raw.pop();
    let parsed = parsed_lines
        .iter()
        .skip(from.parsed)
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad jsonmesg line {l}: {e}")))
        .collect();
    raw.drain(..from.raw.min(raw.len()));
    Received { parsed, raw }
}

/// What mmnormalize left in `$!NAME` (`cefparse`, `leefparse`) for one rsyslog message, or why
/// it decoded nothing: no such variable (the config found no `what` record in the message) or
/// liblognorm's `unparsed-data`.
pub fn lognorm_result<'a>(msg: &'a Value, name: &str, what: &str) -> Result<&'a Value, String> {
    let r = msg
        .pointer(&format!("/$!/{name}"))
        .ok_or_else(|| format!("no $!{name} (no {what} found by the rsyslog config)"))?;
    if let Some(u) = r.get("unparsed-data") {
        return Err(format!("liblognorm could not parse it; unparsed-data: {u}"));
    }
    Ok(r)
}

/// The string `key` of a JSON object, or an error that shows the object.
pub fn str_field(obj: &Value, key: &str) -> Result<String, String> {
    obj.get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("no string {key} in {obj}"))
}

/// The `$!cefparse` result of one rsyslog message as a [`Cef`], or why it is not one.
pub fn decoded_cef(msg: &Value) -> Result<Cef, String> {
    let cp = lognorm_result(msg, "cefparse", "CEF")?;
    let cef = cp.get("cef").ok_or_else(|| format!("no cef in {cp}"))?;
    let ext = cef
        .get("Extensions")
        .and_then(Value::as_object)
        .ok_or_else(|| format!("no Extensions in {cef}"))?
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().map_or_else(|| v.to_string(), str::to_string),
            )
        })
        .collect();
    Cef::from_fields(
        [
            "DeviceVendor",
            "DeviceProduct",
            "DeviceVersion",
            "SignatureID",
            "Name",
            "Severity",
        ],
        |k| str_field(cef, k),
        ext,
    )
}

// ------------------------------------------------------------------ comparison ----

/// A value for a message: quoted, cut to 160 characters (with its length when cut).
pub fn show(s: &str) -> String {
    let shown: String = s.chars().take(160).collect();
    if shown.len() < s.len() {
        format!("{shown:?}... ({} bytes)", s.len())
    } else {
        format!("{shown:?}")
    }
}

/// "expected X got Y", plus where they first differ when the values are long.
pub fn mismatch(e: &str, g: &str) -> String {
    let mut m = format!("expected {} got {}", show(e), show(g));
    if e.len() > 160 || g.len() > 160 {
        let at = e
            .bytes()
            .zip(g.bytes())
            .position(|(a, b)| a != b)
            .unwrap_or(e.len().min(g.len()));
        let from = at.saturating_sub(20);
        let near = |s: &str| {
            String::from_utf8_lossy(&s.as_bytes()[from.min(s.len())..(at + 40).min(s.len())])
                .into_owned()
        };
        m.push_str(&format!(
            "; first difference at byte {at}: expected ...{:?}... got ...{:?}...",
            near(e),
            near(g)
        ));
    }
    m
}

/// The header fields of an event as (name, value) pairs, in CEF order.
fn header_fields(c: &Cef) -> [(&'static str, &String); 6] {
    [
        ("DeviceVendor", &c.vendor),
        ("DeviceProduct", &c.product),
        ("DeviceVersion", &c.version),
        ("DeviceEventClassID", &c.class_id),
        ("Name", &c.name),
        ("Severity", &c.severity),
    ]
}

/// Field-by-field differences between expected and decoded.
pub fn diff(exp: &Cef, got: &Cef) -> Vec<String> {
    let mut d = Vec::new();
    for ((k, e), (_, g)) in header_fields(exp).into_iter().zip(header_fields(got)) {
        if e != g {
            d.push(format!("header {k}: {}", mismatch(e, g)));
        }
    }
    for (k, e) in &exp.ext {
        match got.ext.get(k) {
            None => d.push(format!("{k}: missing, expected {}", show(e))),
            Some(g) if g != e => d.push(format!("{k}: {}", mismatch(e, g))),
            _ => {}
        }
    }
    for (k, g) in &got.ext {
        if !exp.ext.contains_key(k) {
            d.push(format!("{k}: unexpected key, got {}", show(g)));
        }
    }
    d
}

/// Bytes a header value takes on the wire (`\` and `|` escaped).
pub fn cef_header_wire_len(s: &str) -> usize {
    s.chars()
        .map(|c| match c {
            '\\' | '|' => 2,
            c => c.len_utf8(),
        })
        .sum()
}

/// Bytes an extension value takes on the wire (`\`, `=`, CR and LF escaped).
pub fn cef_ext_wire_len(s: &str) -> usize {
    s.chars()
        .map(|c| match c {
            '\\' | '=' | '\r' | '\n' => 2,
            c => c.len_utf8(),
        })
        .sum()
}

/// Keys of the default mapping whose value is a literal: they are never shortened, and are
/// present exactly when their base key (`cs1` for `cs1Label`) is.
pub const LITERAL_KEYS: &[&str] = &[
    "cs1Label",
    "cs2Label",
    "cs3Label",
    "cs6Label",
    "flexString1Label",
    "flexString2Label",
];

/// Differences between the expected event and one decoded from a record the sender shortened
/// to fit its maximum message size ("water level" rule of src/mapping/budget.rs, checked from
/// the outside). The rule:
///
/// 1. Vendor, product, version and severity are exact (never shortened); the event class id
///    and name, and every extension value, are each either exact or a *shortening*: a proper
///    prefix (cut between characters) of the expected value -- so decoding the shortened
///    record never yields a byte the source did not have at that place.
/// 2. No unexpected key. An expected key may be missing only if its value was shortened to
///    nothing (then its label goes with it). Literal keys ([`LITERAL_KEYS`]) are exact and
///    present exactly when their base key is.
/// 3. Longest first: all values are cut to one common cap C (in wire bytes, escapes counted).
///    A value kept whole is at most C; a shortened one is within one character (at most 4 wire
///    bytes) below C. So every shortened value's wire length is at least the longest kept
///    value's minus 3, and the shortened values' wire lengths differ by at most 3 bytes.
///    (A missing key counts as shortened to 0 bytes.)
/// 4. Something was shortened (the caller only uses this rule when the encoder said so).
pub fn diff_shortened(exp: &Cef, got: &Cef) -> Vec<String> {
    let mut d = Vec::new();
    // (what, wire length of the decoded value, shortened?)
    let mut lens: Vec<(String, usize, bool)> = Vec::new();
    for ((k, e), (_, g)) in header_fields(exp).into_iter().zip(header_fields(got)) {
        let shrinkable = matches!(k, "DeviceEventClassID" | "Name");
        if e == g {
            if shrinkable {
                lens.push((format!("header {k}"), cef_header_wire_len(g), false));
            }
        } else if shrinkable && e.starts_with(g.as_str()) {
            lens.push((format!("header {k}"), cef_header_wire_len(g), true));
        } else {
            d.push(format!("header {k}: {}", mismatch(e, g)));
        }
    }
    for (k, e) in &exp.ext {
        let literal = LITERAL_KEYS.contains(&k.as_str());
        match got.ext.get(k) {
            None if literal => {
                let base = k.strip_suffix("Label").unwrap_or(k);
                if got.ext.contains_key(base) {
                    d.push(format!("{k}: missing although {base} is present"));
                }
            }
            None => lens.push((k.clone(), 0, true)),
            Some(g) if g == e => {
                if literal {
                    let base = k.strip_suffix("Label").unwrap_or(k);
                    if !got.ext.contains_key(base) {
                        d.push(format!("{k}: present although {base} is not"));
                    }
                } else {
                    lens.push((k.clone(), cef_ext_wire_len(g), false));
                }
            }
            Some(g) if !literal && !g.is_empty() && e.starts_with(g.as_str()) => {
                lens.push((k.clone(), cef_ext_wire_len(g), true));
            }
            Some(g) => d.push(format!(
                "{k}: not the expected value nor a shortening of it: {}",
                mismatch(e, g)
            )),
        }
    }
    for (k, g) in &got.ext {
        if !exp.ext.contains_key(k) {
            d.push(format!("{k}: unexpected key, got {}", show(g)));
        }
    }
    d.extend(check_common_cap(&lens));
    d
}

/// Rules 3 and 4 of [`diff_shortened`] for any format: `values` are (name, wire length as
/// decoded, whether it was shortened) of every value the encoder may shorten; a value
/// shortened to nothing (left out) has length 0.
pub fn check_common_cap(values: &[(String, usize, bool)]) -> Vec<String> {
    let mut d = Vec::new();
    let shortened: Vec<&(String, usize, bool)> = values.iter().filter(|l| l.2).collect();
    let (Some(min_cut), Some(max_cut)) = (
        shortened.iter().map(|l| l.1).min(),
        shortened.iter().map(|l| l.1).max(),
    ) else {
        d.push("the encoder reported a shortened record but every value arrived whole".into());
        return d;
    };
    if max_cut - min_cut > 3 {
        d.push(format!(
            "shortened values are not cut to one cap (wire lengths {min_cut}..{max_cut}): {:?}",
            shortened
                .iter()
                .map(|(k, n, _)| format!("{k}={n}"))
                .collect::<Vec<_>>()
        ));
    }
    for (k, n, _) in values.iter().filter(|l| !l.2) {
        if *n > min_cut + 3 {
            d.push(format!(
                "{k}: kept whole at {n} wire bytes while another value was cut to {min_cut} \
                 (the longest values must be shortened first)"
            ));
        }
    }
    d
}

/// Asserts one decoded CEF event per alert, in order, each equal to the expected mapping.
pub fn assert_events_match(alerts: &[Value], got: &Received, stock_rsyslog: bool, what: &str) {
    assert_events_match_within(alerts, &vec![false; alerts.len()], got, stock_rsyslog, what);
}

/// Like [`assert_events_match`], but the events of alerts with `shortened[i]` (the encoder
/// reported budget truncations) are checked by [`diff_shortened`] instead of exactly.
pub fn assert_events_match_within(
    alerts: &[Value],
    shortened: &[bool],
    got: &Received,
    stock_rsyslog: bool,
    what: &str,
) {
    assert_eq!(shortened.len(), alerts.len(), "{what}: one flag per alert");
    assert_eq!(
        got.raw.len(),
        alerts.len(),
        "{what}: rsyslog received {} messages for {} alerts (an alert must be exactly one \
         event; extra ones mean a forged/split event):\n{}",
        got.raw.len(),
        alerts.len(),
        super::files::preview(&got.raw)
    );
    assert_eq!(got.parsed.len(), alerts.len(), "{what}: parsed.jsonl count");
    let mut failures = Vec::new();
    for (i, (alert, msg)) in alerts.iter().zip(&got.parsed).enumerate() {
        let id = alert_id(alert);
        let mut exp = expected_cef(alert, TENANT_NAME, TENANT_ID);
        if stock_rsyslog {
            exp = rsyslog_view_cef(&exp);
        }
        match decoded_cef(msg) {
            Err(e) => failures.push(format!(
                "#{i} alert {id}: {e}\n  raw: {}",
                show(&got.raw[i])
            )),
            Ok(dec) => {
                let d = if shortened[i] {
                    diff_shortened(&exp, &dec)
                } else {
                    diff(&exp, &dec)
                };
                if !d.is_empty() {
                    failures.push(format!(
                        "#{i} alert {id}{}:\n  {}\n  raw: {}",
                        if shortened[i] { " (shortened)" } else { "" },
                        d.join("\n  "),
                        show(&got.raw[i])
                    ));
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
