//! The built-in LEEF mapping's contract (mappings/leef.toml), modelled independently of the
//! encoder like [`super::cef_contract`] models CEF (whose readings of the alert's values it
//! shares): what a LEEF parser must get back from the encoder for a source alert. Also the
//! split of a LEEF record (LEEF has no escaping, so there is only one) and the comparison of a
//! decoded event with the model -- exactly, or for a record the sender shortened to its maximum
//! size by the rule of [`super::cef_check::diff_shortened`]. Shared by the receiver tests.

use serde_json::Value;

use super::cef_check::{check_common_cap, mismatch, show};
use super::cef_contract::{
    alert_link, epoch_ms_of, event_kind, first_evidence, joined, related_user, severity_number,
    text, truncate_bytes, unescapable_control,
};

/// A decoded (or expected) LEEF event: header and attributes, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leef {
    pub version: String,
    pub vendor: String,
    pub product: String,
    pub product_version: String,
    pub event_id: String,
    pub attrs: Vec<(String, String)>,
}

impl Leef {
    /// The attributes as the record carries them: `key=value` joined by `delimiter`.
    pub fn attrs_text(&self, delimiter: char) -> String {
        self.attrs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(&delimiter.to_string())
    }

    /// The header fields the encoder never shortens, as (name, value).
    fn fixed_header(&self) -> [(&'static str, &String); 4] {
        [
            ("version", &self.version),
            ("vendor", &self.vendor),
            ("product", &self.product),
            ("product_version", &self.product_version),
        ]
    }
}

/// Control characters that LEEF cannot carry (it has no escapes): C0 other than TAB, DEL, C1.
pub fn leef_control(c: char) -> bool {
    unescapable_control(c) || matches!(c, '\r' | '\n')
}

/// `s` with the control characters of [`leef_control`] and each of `also` as spaces.
fn spaced(s: &str, also: &[char]) -> String {
    s.chars()
        .map(|c| {
            if leef_control(c) || also.contains(&c) {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// `severity | map(severity)` of leef.toml: the numbers of CEF's [`severity_number`], but 1
/// (LEEF's lowest) rather than 0 for anything not listed.
pub fn leef_sev(severity: Option<&Value>) -> &'static str {
    match severity_number(severity) {
        "0" => "1",
        n => n,
    }
}

/// The LEEF `version` ("2.0" or "1.0") that the built-in mapping (mappings/leef.toml) must
/// produce for `alert`, attributes separated by `delimiter`: no escaping, the delimiter and
/// control characters in values and `|`, TAB and control characters in the header become
/// spaces; EventID (`detectorId else category else 'MdeAlert'`) is cut to 255 bytes.
pub fn expected_leef(
    alert: &Value,
    tenant_name: &str,
    tenant_id: &str,
    version: &str,
    delimiter: char,
) -> Leef {
    let get = |k: &str| alert.get(k);
    let mut attrs = Vec::new();
    let mut put = |key: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            attrs.push((key.to_string(), spaced(&v, &[delimiter])));
        }
    };
    let (user, domain) = related_user(alert);
    let file = first_evidence(alert, &["File", "Process"]);
    let of = |e: Option<&Value>, k: &str| text(e.and_then(|e| e.get(k)));
    put("devTime", epoch_ms_of(alert, "lastUpdateTime"));
    put("sev", Some(leef_sev(get("severity")).into()));
    put("cat", text(get("category")));
    put("usrName", user);
    put("domain", domain);
    put("src", of(first_evidence(alert, &["Ip"]), "ipAddress"));
    put("url", of(first_evidence(alert, &["Url"]), "url"));
    put(
        "tenantId",
        text(get("aadTenantId")).or(Some(tenant_id.into())),
    );
    put("tenantName", Some(tenant_name.into()));
    put("alertId", text(get("id")));
    put("title", text(get("title")));
    put("hostName", text(get("computerDnsName")));
    for key in [
        "description",
        "status",
        "classification",
        "determination",
        "detectionSource",
        "threatName",
        "incidentId",
        "machineId",
    ] {
        put(key, text(get(key)));
    }
    put("mitreTechniques", joined(get("mitreTechniques")));
    put("fileName", of(file, "fileName"));
    put("filePath", of(file, "filePath"));
    put("sha1", of(file, "sha1"));
    put("sha256", of(file, "sha256"));
    put("processCommandLine", of(file, "processCommandLine"));
    put("firstEventTime", epoch_ms_of(alert, "firstEventTime"));
    put("lastEventTime", epoch_ms_of(alert, "lastEventTime"));
    put("alertLink", alert_link(alert));
    Leef {
        version: version.into(),
        vendor: "Microsoft".into(),
        product: "Microsoft Defender for Endpoint".into(),
        product_version: "1.0".into(),
        event_id: spaced(&truncate_bytes(&event_kind(alert), 255), &['|', '\t']),
        attrs,
    }
}

/// A LEEF record decoded by hand from a message that contains it: after `LEEF:V|`, four header
/// fields (and for 2.0 the delimiter field, which must name `delimiter`: the character, or
/// `xHH` for one that is not printable), then `key=value` attributes separated by the
/// delimiter. LEEF has no escaping, so this split is the only possible one.
pub fn decode_leef_raw(raw: &str, delimiter: char) -> Result<Leef, String> {
    let at = raw.find("LEEF:").ok_or("no LEEF: in the message")?;
    let rest = &raw[at + 5..];
    let (version, rest) = rest.split_once('|').ok_or("no version")?;
    let mut parts = rest.splitn(if version == "2.0" { 6 } else { 5 }, '|');
    let mut next = |what: &str| parts.next().map(str::to_string).ok_or(format!("no {what}"));
    let (vendor, product, product_version, event_id) = (
        next("vendor")?,
        next("product")?,
        next("version")?,
        next("event id")?,
    );
    if version == "2.0" {
        let d = next("delimiter field")?;
        let want = if delimiter.is_ascii_graphic() {
            delimiter.to_string()
        } else {
            format!("x{:02X}", delimiter as u32)
        };
        if d != want {
            return Err(format!("delimiter field {d:?}, expected {want:?}"));
        }
    }
    let body = next("attributes")?;
    let attrs = body
        .split(delimiter)
        .map(|a| {
            a.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or(format!("attribute without '=': {}", show(a)))
        })
        .collect::<Result<_, _>>()?;
    Ok(Leef {
        version: version.into(),
        vendor,
        product,
        product_version,
        event_id,
        attrs,
    })
}

/// Differences in the header fields the encoder never shortens.
fn diff_fixed_header(exp: &Leef, got: &Leef) -> Vec<String> {
    exp.fixed_header()
        .into_iter()
        .zip(got.fixed_header())
        .filter(|((_, e), (_, g))| e != g)
        .map(|((k, e), (_, g))| format!("header {k}: {}", mismatch(e, g)))
        .collect()
}

/// Field-by-field differences between the expected and a decoded event (attributes in order).
pub fn diff_leef(exp: &Leef, got: &Leef) -> Vec<String> {
    let mut d = diff_fixed_header(exp, got);
    if exp.event_id != got.event_id {
        d.push(format!(
            "header event_id: {}",
            mismatch(&exp.event_id, &got.event_id)
        ));
    }
    let keys = |l: &Leef| l.attrs.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    if keys(exp) != keys(got) {
        d.push(format!(
            "attribute keys (in order) differ:\n    expected {:?}\n    got      {:?}",
            keys(exp),
            keys(got)
        ));
    }
    for ((k, e), (_, g)) in exp.attrs.iter().zip(&got.attrs) {
        if e != g {
            d.push(format!("{k}: {}", mismatch(e, g)));
        }
    }
    d
}

/// [`diff_leef`] for a record the encoder shortened, by the rule of
/// `cef_check::diff_shortened`: version, vendor, product and product version exact; EventID
/// and every attribute value exact or a non-empty prefix of the expected value; attributes in
/// the expected order, one left out only when shortened to nothing; all cut to one common cap
/// (LEEF has no escapes: wire length = UTF-8 length).
pub fn diff_leef_shortened(exp: &Leef, got: &Leef) -> Vec<String> {
    let mut d = diff_fixed_header(exp, got);
    let mut lens: Vec<(String, usize, bool)> = Vec::new();
    let mut value = |what: String, e: &str, g: &str, d: &mut Vec<String>| {
        if e == g {
            lens.push((what, g.len(), false));
        } else if !g.is_empty() && e.starts_with(g) {
            lens.push((what, g.len(), true));
        } else {
            d.push(format!(
                "{what}: not the expected value nor a shortening of it: {}",
                mismatch(e, g)
            ));
        }
    };
    value(
        "header event_id".into(),
        &exp.event_id,
        &got.event_id,
        &mut d,
    );
    let mut got_attrs = got.attrs.iter().peekable();
    let mut left_out = Vec::new();
    for (k, e) in &exp.attrs {
        match got_attrs.peek() {
            Some((gk, g)) if gk == k => {
                value(k.clone(), e, g, &mut d);
                got_attrs.next();
            }
            _ => left_out.push(k.clone()),
        }
    }
    for (k, g) in got_attrs {
        d.push(format!("{k}: unexpected or out of order, got {}", show(g)));
    }
    lens.extend(left_out.into_iter().map(|k| (k, 0, true)));
    d.extend(check_common_cap(&lens));
    d
}
