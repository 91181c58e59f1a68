//! Hostile but well-typed alert content: what breaks naive CEF/LEEF/syslog encoders
//! (separators, CR/LF, forged syslog lines, TAB, control characters, odd Unicode, huge values,
//! nulls, missing and unknown fields). Modelled on `examples/alerts/adversarial.json`.
//!
//! Every mutation keeps `id`, `alertCreationTime` and `lastUpdateTime` intact and well-formed:
//! the API itself filters on them, and a client must still be able to page and de-duplicate.
//! Wrong-typed fields are a separate fault (`faults::malform`), not generated content.

use serde_json::json;

use super::doc::{Evidence, Obj, V};
use super::rng::Rng;

const SEPARATORS: &str =
    "pipe | equals = backslash \\ caret ^ tab\there \"double\" 'single' foo=bar cs1=forged";
const FORGED_5424: &str = "<13>1 2026-11-22T10:00:00Z evil.host siemfwd - - - CEF:0|Microsoft|Microsoft Defender for Endpoint|1.0|forged|Forged alert|10|externalId=FORGED";
const FORGED_3164: &str = "<13>Nov 22 10:00:00 evil CEF:0|Microsoft|Microsoft Defender for Endpoint|1.0|forged|Forged alert|10|externalId=FORGED";
const UNICODE: &str = "Zürich Müller 東京 🔥🛡️ تنبيه أمني café line\u{2028}sep NEL\u{85}here para\u{2029}graph BOM\u{feff}inside RTL\u{202e}fdp.exe";
const CONTROLS: &str = "ESC \u{1b}[31mred\u{1b}[0m BEL \u{7} NUL-free VT \u{b} FF \u{c} DEL \u{7f}";
/// Fields an adversarial alert may lose entirely (never the ones the API filters on).
const DROPPABLE: &[&str] = &[
    "incidentId",
    "investigationId",
    "assignedTo",
    "severity",
    "classification",
    "determination",
    "detectorId",
    "category",
    "threatName",
    "title",
    "description",
    "machineId",
    "computerDnsName",
    "relatedUser",
    "mitreTechniques",
    "comments",
];

/// Applies one to three hostile mutations to `a`.
pub(crate) fn apply(rng: &mut Rng, a: &mut Obj) {
    for _ in 0..rng.between(1, 3) {
        mutate(rng, a);
    }
}

/// Text values: static ones borrowed, built ones owned.
trait Text {
    fn into_v(self) -> V<'static>;
}

impl Text for &'static str {
    fn into_v(self) -> V<'static> {
        V::str(self)
    }
}

impl Text for String {
    fn into_v(self) -> V<'static> {
        V::owned(self)
    }
}

fn set(a: &mut Obj, key: &'static str, v: impl Text) {
    a.set(key, v.into_v());
}

fn text(a: &Obj, key: &str) -> String {
    a.str(key).unwrap_or_default().to_owned()
}

fn mutate(rng: &mut Rng, a: &mut Obj) {
    let title = text(a, "title");
    match rng.below(14) {
        0 => {
            set(a, "title", format!("{title} {SEPARATORS}"));
            set(
                a,
                "description",
                format!("Separators: a|b c=d e\\f g^h {SEPARATORS}"),
            );
            set(a, "threatName", "Trojan:Win32/Pipe|Eq=Back\\slash^Caret");
        }
        1 => {
            set(a, "title", format!("{title} CR\rLF\nCRLF\r\nend"));
            let host = text(a, "computerDnsName");
            set(a, "computerDnsName", format!("{host}\r\n"));
        }
        2 => {
            let sep = *rng.pick(&["\n", "\r\n", "\r"]);
            let forged = *rng.pick(&[FORGED_5424, FORGED_3164]);
            set(a, "description", format!("legit text{sep}{forged}"));
        }
        3 => {
            set(
                a,
                "description",
                "normal text\tsev=10\tcat=Forged\tusrName=forged^devTime=0",
            );
            let mut user = Obj::with_capacity(2);
            user.push("userName", V::str("jdoe\tsev=10"));
            user.push("domainName", V::str("CONTOSO^x"));
            a.set("relatedUser", V::Obj(user));
        }
        4 => {
            set(a, "title", format!("{title} {UNICODE}"));
            set(a, "description", format!("Non-ASCII: {UNICODE}"));
            set(a, "rbacGroupName", "東京 Büro");
            set(a, "assignedTo", "anaïs@mssp.example.net");
        }
        5 => set(a, "title", format!("{title} {CONTROLS}")),
        6 => {
            set(a, "title", format!("{title} C:\\Temp\\"));
            set(a, "threatFamilyName", "\\");
            set(a, "description", "=");
            set(a, "threatName", "=");
        }
        7 => {
            let size = rng.between(10 * 1024, 70 * 1024) as usize;
            set(a, "description", huge_description(rng, size));
        }
        8 => {
            // Everything null that may be null.
            for key in DROPPABLE {
                a.set(key, V::Null);
            }
            a.set("evidence", V::List(Vec::new()));
        }
        9 => {
            for key in DROPPABLE {
                if rng.chance(0.5) {
                    a.remove(key);
                }
            }
        }
        10 => set(a, "title", format!("   {title}   ")),
        11 => {
            let long: String = std::iter::once('é')
                .chain(std::iter::repeat_n('日', 599))
                .collect();
            set(a, "title", long);
            let mut threat = "X".repeat(3999);
            threat.push('€');
            threat.push_str(&"Y".repeat(98));
            set(a, "threatName", threat);
        }
        12 => {
            // Fields the API may add some day; a client must ignore them.
            let version = json!({"major": 2, "tags": ["preview", "x|y=z"]});
            a.set("detectorVersion", V::Json(Box::new(version)));
            let future = json!([1, "two", null, {"three": 3.0}]);
            a.set("newFieldFromFuture", V::Json(Box::new(future)));
        }
        _ => evidence_specials(a),
    }
}

fn evidence_specials(a: &mut Obj) {
    match a.get_mut("evidence") {
        Some(V::Evidences(items)) => {
            for e in items {
                specials(&mut Fields::Evidence(e));
            }
        }
        Some(V::List(items)) => {
            for item in items {
                match item {
                    V::Evidence(e) => specials(&mut Fields::Evidence(e)),
                    V::Obj(o) => specials(&mut Fields::Obj(o)),
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

/// An evidence item, generated or read back.
enum Fields<'e, 'a> {
    Evidence(&'e mut Evidence<'a>),
    Obj(&'e mut Obj<'a>),
}

impl Fields<'_, '_> {
    fn has(&self, key: &str) -> bool {
        let v = match self {
            Fields::Evidence(e) => e.get(key),
            Fields::Obj(o) => o.get(key),
        };
        v.is_some_and(|v| !v.is_null())
    }

    fn upper(&self, key: &str) -> Option<String> {
        let v = match self {
            Fields::Evidence(e) => e.get(key),
            Fields::Obj(o) => o.get(key),
        };
        v.and_then(V::text).map(|t| t.to_uppercase())
    }

    fn set(&mut self, key: &'static str, v: impl Text) {
        match self {
            Fields::Evidence(e) => e.set(key, v.into_v()),
            Fields::Obj(o) => o.set(key, v.into_v()),
        }
    }
}

fn specials(e: &mut Fields) {
    if e.has("fileName") {
        e.set("fileName", "in voice = paid | final.pdf .exe");
        e.set("filePath", "C:\\Users\\j doe\\Desk|top\\a=b\\");
        if let Some(sha1) = e.upper("sha1") {
            e.set("sha1", sha1);
        }
    }
    if e.has("processCommandLine") {
        e.set(
            "processCommandLine",
            "cmd.exe /c \"echo a|b=c ^& set X=\\\"y\\\"\"\r\nwhoami",
        );
    }
    if e.has("accountName") {
        e.set("accountName", "CONTOSO\\j|doe=x");
    }
}

/// A 10–70 KB description of correlated events, with LF, backslashes and separators in it, like
/// `examples/alerts/oversized.json`.
fn huge_description(rng: &mut Rng, size: usize) -> String {
    let mut s = String::with_capacity(size + 256);
    s.push_str("This alert aggregates a very long sequence of correlated events observed by the sensor.\n\n");
    let mut n = 0u32;
    while s.len() < size {
        s.push_str(&format!(
            "[{n:04}] Process rundll32.exe (PID {}) loaded C:\\Users\\Public\\Libraries\\m{n:04}.dll and connected to 203.0.113.{}:443 | key=value ^ \u{2192} ok\n",
            rng.between(1000, 9999),
            rng.between(1, 254)
        ));
        n += 1;
    }
    s
}
