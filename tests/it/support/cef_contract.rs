//! The default CEF mapping's contract (README, mappings/cef.toml), modelled independently of
//! the encoder: what a strict decoder must get back from `siemfwd map` for a source alert.
//! Shared by the receiver tests, so each compares decoded events with the same expectation.

use std::collections::BTreeMap;

use serde_json::Value;

/// A decoded (or expected) CEF event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cef {
    pub vendor: String,
    pub product: String,
    pub version: String,
    pub class_id: String,
    pub name: String,
    pub severity: String,
    pub ext: BTreeMap<String, String>,
}

impl Cef {
    /// A decoded event: header field `i` (in CEF order: vendor, product, version, event class
    /// id, name, severity) is `field(names[i])`, with `names` the decoder's names for them.
    pub fn from_fields(
        names: [&str; 6],
        field: impl Fn(&str) -> Result<String, String>,
        ext: BTreeMap<String, String>,
    ) -> Result<Cef, String> {
        let [vendor, product, version, class_id, name, severity] = names;
        Ok(Cef {
            vendor: field(vendor)?,
            product: field(product)?,
            version: field(version)?,
            class_id: field(class_id)?,
            name: field(name)?,
            severity: field(severity)?,
            ext,
        })
    }
}

/// A scalar as text: strings as they are, numbers and booleans as JSON text; `None` for
/// missing, null and "" (the key is then absent).
pub fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => panic!("test does not know how to map the non-scalar value {other}"),
    }
}

/// At most `max` bytes of `s`, cut on a UTF-8 character boundary.
pub fn truncate_bytes(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DDTHH:MM:SS[.f{0,7}]Z` → epoch milliseconds (sub-millisecond digits dropped).
pub fn epoch_millis(ts: &str) -> i64 {
    fn outside(ts: &str) -> ! {
        panic!("timestamp outside the contract: {ts:?}")
    }
    let b = ts.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || !ts.ends_with('Z')
    {
        outside(ts);
    }
    let num = |r: std::ops::Range<usize>| -> i64 { ts[r].parse().unwrap_or_else(|_| outside(ts)) };
    let (y, mo, d, h, mi, s) = (
        num(0..4),
        num(5..7),
        num(8..10),
        num(11..13),
        num(14..16),
        num(17..19),
    );
    let frac = &ts[19..ts.len() - 1];
    let ms = if frac.is_empty() {
        0
    } else {
        let digits = frac.strip_prefix('.').unwrap_or_else(|| outside(ts));
        if digits.is_empty() || digits.len() > 7 || !digits.bytes().all(|c| c.is_ascii_digit()) {
            outside(ts);
        }
        format!("{digits:0<3}")[..3].parse::<i64>().unwrap()
    };
    ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60_000 + s * 1000 + ms
}

pub fn severity_number(sev: Option<&Value>) -> &'static str {
    match sev.and_then(Value::as_str) {
        Some("Informational") => "1",
        Some("Low") => "3",
        Some("Medium") => "5",
        Some("High") => "8",
        _ => "0", // UnSpecified, missing, null, unknown
    }
}

/// Control characters that CEF cannot escape: C0 other than TAB, CR and LF; DEL; C1 (which
/// includes NEL, U+0085).
pub fn unescapable_control(c: char) -> bool {
    (c < ' ' && !matches!(c, '\t' | '\r' | '\n')) || ('\x7f'..='\u{9f}').contains(&c)
}

/// Extension value: the encoder writes each control character that has no CEF escape as a
/// space. (This rule is not in the mapping contract given to the tests; it is the encoder's
/// documented choice in src/mapping/cef.rs, so that no receiver rewrites a byte -- rsyslog
/// makes ESC `#033` -- and no terminal acts on one.) CR/LF are escaped and decode back.
pub fn ext_text(s: &str) -> String {
    s.chars()
        .map(|c| if unescapable_control(c) { ' ' } else { c })
        .collect()
}

/// Header field: CR and LF become spaces (no escape exists in the header), and so do the other
/// control characters as in [`ext_text`]; `|` and `\` are escaped on the wire and decoded back
/// by liblognorm.
pub fn header_text(s: &str) -> String {
    ext_text(s).replace(['\r', '\n'], " ")
}

/// `relatedUser` as (user name, domain name): an object's `userName` and `domainName`, or a
/// `DOMAIN\user` string split at the backslash (a string without one is the user name).
pub fn related_user(alert: &Value) -> (Option<String>, Option<String>) {
    match alert.get("relatedUser") {
        Some(Value::Object(o)) => (text(o.get("userName")), text(o.get("domainName"))),
        Some(Value::String(s)) => match s.split_once('\\') {
            Some((d, u)) => (Some(u.to_string()), Some(d.to_string())),
            None => (Some(s.clone()), None),
        },
        None | Some(Value::Null) => (None, None),
        Some(other) => panic!("relatedUser outside the contract: {other}"),
    }
}

/// `evidence[T1,T2].…`: the first evidence entry whose `entityType` is one of `types`.
pub fn first_evidence<'a>(alert: &'a Value, types: &[&str]) -> Option<&'a Value> {
    alert.get("evidence")?.as_array()?.iter().find(|e| {
        e.get("entityType")
            .and_then(Value::as_str)
            .is_some_and(|t| types.contains(&t))
    })
}

/// `KEY | join(',')`: an array's items as text joined by commas, or a scalar as [`text`].
pub fn joined(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::Array(a)) => Some(
            a.iter()
                .map(|t| text(Some(t)).unwrap_or_default())
                .collect::<Vec<_>>()
                .join(","),
        ),
        other => text(other),
    }
}

/// `KEY | epoch_ms`: the alert's timestamp `key` as epoch milliseconds.
pub fn epoch_ms_of(alert: &Value, key: &str) -> Option<String> {
    text(alert.get(key)).map(|t| epoch_millis(&t).to_string())
}

/// `'https://security.microsoft.com/alerts/' + id`.
pub fn alert_link(alert: &Value) -> Option<String> {
    text(alert.get("id")).map(|id| format!("https://security.microsoft.com/alerts/{id}"))
}

/// `detectorId else category else 'MdeAlert'`: CEF's DeviceEventClassID and LEEF's EventID
/// (both mappings use this expression, so an event's kind is never empty).
pub fn event_kind(alert: &Value) -> String {
    text(alert.get("detectorId"))
        .or_else(|| text(alert.get("category")))
        .unwrap_or_else(|| "MdeAlert".into())
}

/// The event the default CEF mapping must produce for `alert` (values as liblognorm decodes
/// them: unescaped, truncated to the CEF dictionary limits in bytes).
pub fn expected_cef(alert: &Value, tenant_name: &str, tenant_id: &str) -> Cef {
    let get = |k: &str| alert.get(k);
    let mut ext = BTreeMap::new();
    let mut put = |key: &str, value: Option<String>, limit: Option<usize>| -> bool {
        match value {
            Some(v) if !v.is_empty() => {
                let v = match limit {
                    Some(n) => truncate_bytes(&v, n),
                    None => v,
                };
                ext.insert(key.to_string(), ext_text(&v));
                true
            }
            _ => false,
        }
    };
    let ts = |k: &str| epoch_ms_of(alert, k);

    put("externalId", text(get("id")), Some(40));
    put("rt", ts("lastUpdateTime"), None);
    put("start", ts("firstEventTime"), None);
    put("end", ts("lastEventTime"), None);
    put("cat", text(get("category")), Some(1023));
    put("msg", text(get("description")), Some(1023));
    put("shost", text(get("computerDnsName")), Some(1023));
    let (user, domain) = related_user(alert);
    put("suser", user, Some(1023));
    put("sntdom", domain, Some(255));
    put(
        "sourceServiceName",
        text(get("detectionSource")),
        Some(1023),
    );
    if put("cs1", text(get("threatName")), Some(4000)) {
        put("cs1Label", Some("ThreatName".into()), Some(1023));
    }
    if let Some(ev) = first_evidence(alert, &["File", "Process"]) {
        put("fname", text(ev.get("fileName")), Some(1023));
        put("filePath", text(ev.get("filePath")), Some(1023));
        put("fileHash", text(ev.get("sha1")), Some(255));
        if put("cs6", text(ev.get("sha256")), Some(4000)) {
            put("cs6Label", Some("Sha256".into()), Some(1023));
        }
        put(
            "MdeProcessCommandLine",
            text(ev.get("processCommandLine")),
            None,
        );
    }
    if let Some(ev) = first_evidence(alert, &["Ip"]) {
        put("src", text(ev.get("ipAddress")), None);
    }
    if let Some(ev) = first_evidence(alert, &["Url"]) {
        put("request", text(ev.get("url")), Some(1023));
    }
    if put("flexString1", alert_link(alert), Some(1023)) {
        put("flexString1Label", Some("AlertLink".into()), Some(128));
    }
    let tenant_id = text(get("aadTenantId")).unwrap_or_else(|| tenant_id.to_string());
    put("cs2", Some(tenant_id), Some(4000));
    put("cs2Label", Some("TenantId".into()), Some(1023));
    put("cs3", Some(tenant_name.into()), Some(4000));
    put("cs3Label", Some("Tenant".into()), Some(1023));
    if put("flexString2", text(get("incidentId")), Some(1023)) {
        put("flexString2Label", Some("IncidentId".into()), Some(128));
    }
    put("MdeStatus", text(get("status")), None);
    put("MdeClassification", text(get("classification")), None);
    put("MdeDetermination", text(get("determination")), None);
    put("MdeMitreTechniques", joined(get("mitreTechniques")), None);
    put("MdeMachineId", text(get("machineId")), None);

    Cef {
        vendor: "Microsoft".into(),
        product: "Microsoft Defender for Endpoint".into(),
        version: "1.0".into(),
        class_id: header_text(&truncate_bytes(&event_kind(alert), 1023)),
        name: header_text(&truncate_bytes(
            &text(get("title")).unwrap_or_default(),
            512,
        )),
        severity: severity_number(get("severity")).into(),
        ext,
    }
}
