use std::borrow::Cow;

use super::*;

#[test]
fn unknown_fields_nulls_and_missing_fields_are_fine() {
    let a = Alert::from_json(
        r#"{"id":"da1_2","title":null,"newFieldFromFuture":{"x":[1,2]},"evidence":null,
            "comments":null,"relatedUser":null,"mitreTechniques":null}"#,
    )
    .unwrap();
    assert_eq!(a.id(), Some("da1_2"));
    assert!(a.title.is_none());
    assert!(a.evidence().is_empty());
    assert!(!a.is_page());
}

#[test]
fn mitre_techniques_array_or_string() {
    let a = Alert::from_json(r#"{"mitreTechniques":["T1059.001",null,"T1105"]}"#).unwrap();
    let names: Vec<&str> = a
        .mitre_techniques
        .as_ref()
        .unwrap()
        .0
        .iter()
        .map(|s| &**s)
        .collect();
    assert_eq!(names, ["T1059.001", "T1105"]);
    let a = Alert::from_json(r#"{"mitreTechniques":"T1003"}"#).unwrap();
    assert_eq!(&*a.mitre_techniques.unwrap().0[0], "T1003");
}

#[test]
fn related_user_object_or_string() {
    let a =
        Alert::from_json(r#"{"relatedUser":{"userName":"jdoe","domainName":"CONTOSO"}}"#).unwrap();
    let u = a.related_user.unwrap();
    assert_eq!(u.user_name.as_deref(), Some("jdoe"));
    assert_eq!(u.domain_name.as_deref(), Some("CONTOSO"));
    let a = Alert::from_json(r#"{"relatedUser":"CONTOSO\\svc_backup"}"#).unwrap();
    let u = a.related_user.unwrap();
    assert_eq!(u.user_name.as_deref(), Some("svc_backup"));
    assert_eq!(u.domain_name.as_deref(), Some("CONTOSO"));
    let a = Alert::from_json(r#"{"relatedUser":"jdoe@contoso.com"}"#).unwrap();
    let u = a.related_user.unwrap();
    assert_eq!(u.user_name.as_deref(), Some("jdoe@contoso.com"));
    assert!(u.domain_name.is_none());
}

#[test]
fn incident_id_number_or_string() {
    let a = Alert::from_json(r#"{"incidentId":4711,"investigationId":null}"#).unwrap();
    assert_eq!(a.incident_id.as_deref(), Some("4711"));
    let a = Alert::from_json(r#"{"incidentId":"4711"}"#).unwrap();
    assert_eq!(a.incident_id.as_deref(), Some("4711"));
}

#[test]
fn strings_borrow_unless_escaped() {
    let a = Alert::from_json(r#"{"title":"plain","description":"C:\\Windows\\x \"q\""}"#).unwrap();
    assert!(matches!(a.title.unwrap().0, Cow::Borrowed("plain")));
    let d = a.description.unwrap();
    assert!(matches!(d.0, Cow::Owned(_)));
    assert_eq!(&*d, r#"C:\Windows\x "q""#);
}

#[test]
fn timestamps_with_any_fraction_digits() {
    let a = Alert::from_json(
        r#"{"alertCreationTime":"2026-11-22T10:15:59Z","lastUpdateTime":"2026-11-22T10:15:57.7220239Z"}"#,
    )
    .unwrap();
    assert_eq!(a.last_update_time.unwrap().fraction_digits(), 7);
    assert_eq!(a.alert_creation_time.unwrap().fraction_digits(), 0);
}

#[test]
fn bad_timestamp_or_wrong_shape_is_an_error() {
    let e = Alert::from_json(r#"{"lastUpdateTime":"yesterday"}"#).unwrap_err();
    assert!(
        e.to_string().contains("invalid timestamp `yesterday`"),
        "{e}"
    );
    assert!(Alert::from_json(r#"{"evidence":"not-an-array"}"#).is_err());
    assert!(Alert::from_json("42").is_err());
}

#[test]
fn first_evidence_of_a_type() {
    let a = Alert::from_json(
        r#"{"evidence":[{"entityType":"User","accountName":"x"},
                        {"entityType":"Process","fileName":"p.exe"},
                        {"entityType":"File","fileName":"f.dll"}]}"#,
    )
    .unwrap();
    let e = a.first_evidence(&["File", "Process"]).unwrap();
    assert_eq!(e.file_name.as_deref(), Some("p.exe"));
    assert!(a.first_evidence(&["Ip"]).is_none());
}

#[test]
fn an_api_page_is_recognised() {
    let a = Alert::from_json(r#"{"@odata.context":"x","value":[{"id":"1"}]}"#).unwrap();
    assert!(a.is_page());
}
