use super::*;
use crate::alert::Alert;

fn eval_text(expr: &str, alert_json: &str) -> Option<String> {
    let maps = vec![ValueMap {
        entries: vec![("High".to_owned(), "8".to_owned())],
        default: Some("0".into()),
        missing: None,
    }];
    let names = Names {
        maps: vec!["severity".into()],
        ..Names::default()
    };
    let e = parse(expr, &names).unwrap();
    let alert = Alert::from_json(alert_json).unwrap();
    let evidence: Vec<_> = names
        .selectors
        .borrow()
        .iter()
        .map(|t| alert.first_evidence(t))
        .collect();
    let scope = Scope {
        alert: &alert,
        evidence: &evidence,
        tenant_name: "contoso",
        tenant_id: "tid",
        maps: &maps,
    };
    e.eval(&scope).map(|v| v.into_text().into_owned())
}

#[test]
fn paths_literals_filters_and_fallbacks() {
    let a = r#"{"id":"x1","title":"T","severity":"High","detectorId":null,"category":"Malware",
        "lastUpdateTime":"2026-11-22T10:15:57.7229Z","mitreTechniques":["T1","T2"],
        "relatedUser":{"userName":"u","domainName":"D"},
        "evidence":[{"entityType":"User"},{"entityType":"Process","sha1":"abc"}]}"#;
    assert_eq!(eval_text("title", a).as_deref(), Some("T"));
    assert_eq!(
        eval_text("'it''s \\\\ \\'q\\''", a).as_deref(),
        Some("it's \\ 'q'")
    );
    assert_eq!(
        eval_text("detectorId else category", a).as_deref(),
        Some("Malware")
    );
    assert_eq!(
        eval_text("lastUpdateTime | epoch_ms", a).as_deref(),
        Some("1795342557722")
    );
    assert_eq!(
        eval_text("lastUpdateTime", a).as_deref(),
        Some("2026-11-22T10:15:57.7229Z")
    );
    assert_eq!(
        eval_text("mitreTechniques | join('; ')", a).as_deref(),
        Some("T1; T2")
    );
    assert_eq!(eval_text("mitreTechniques", a).as_deref(), Some("T1,T2"));
    assert_eq!(
        eval_text("severity | map(severity)", a).as_deref(),
        Some("8")
    );
    assert_eq!(eval_text("status | map(severity)", a).as_deref(), Some("0"));
    assert_eq!(
        eval_text("relatedUser.domainName | lower", a).as_deref(),
        Some("d")
    );
    assert_eq!(
        eval_text("evidence[File,Process].sha1", a).as_deref(),
        Some("abc")
    );
    assert_eq!(eval_text("evidence[Ip].ipAddress", a), None);
    assert_eq!(
        eval_text("'https://x/' + id", a).as_deref(),
        Some("https://x/x1")
    );
    assert_eq!(eval_text("'https://x/' + machineId", a), None);
    assert_eq!(
        eval_text("aadTenantId else $tenant.id", a).as_deref(),
        Some("tid")
    );
    assert_eq!(eval_text("$tenant.name", a).as_deref(), Some("contoso"));
    assert_eq!(
        eval_text("(machineId else 'none') | upper", a).as_deref(),
        Some("NONE")
    );
}

#[test]
fn empty_strings_count_as_missing() {
    assert_eq!(
        eval_text("title else 'fallback'", r#"{"title":""}"#).as_deref(),
        Some("fallback")
    );
}

#[test]
fn errors_say_what_is_wrong() {
    let names = Names::default();
    let err = |s: &str| parse(s, &names).unwrap_err();
    assert!(err("titel").contains("unknown alert field `titel`"));
    assert!(err("Title").contains("did you mean `title`"));
    assert!(err("evidence[File].sha512").contains("unknown evidence field `sha512`"));
    assert!(err("title | epoch").contains("unknown filter `epoch`"));
    assert!(err("severity | map(sev)").contains("no [maps.sev] table"));
    assert!(err("'open").contains("not closed"));
    assert!(err("title category").contains("unexpected `category`"));
    assert!(err("$tenant.nmae").contains("unknown variable"));
    assert!(err("else title").contains("needs a value before it"));
}
