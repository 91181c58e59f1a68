//! Design §10's mapping contract with the built-in mappings: an MDE alert read from Graph
//! `alerts_v2` gives the record it gives from `/api/alerts`, but for the listed differences;
//! alerts of other products keep the same places.

use super::tests::{Decoded, decode_cef, decode_leef};
use super::{Format, Mapping, TenantIdentity};
use crate::alert::Alert;
use crate::reader::{InputAlert, Position};

const TENANT: TenantIdentity<'static> = TenantIdentity {
    name: "Contoso",
    id: "a839b112-1253-6432-9bf6-94542403f21c",
};

/// One alert as `/api/alerts?$expand=evidence` sends it.
pub(crate) const FROM_MDE: &str = r#"{
  "id": "da637472900382838869_1364969609", "incidentId": 1126093, "investigationId": null,
  "assignedTo": "secop@contoso.com", "severity": "High", "status": "InProgress",
  "classification": "TruePositive", "determination": "Clean",
  "detectionSource": "WindowsDefenderAv", "detectorId": "17e10bbc-3a68-474a-8aad-faef14d43952",
  "category": "Malware", "threatFamilyName": "Emotet", "threatName": "Trojan:Win32/Emotet",
  "title": "'Emotet' malware was detected", "description": "Malware and unwanted software...\nLine two",
  "alertCreationTime": "2026-11-22T10:15:59.1234567Z", "firstEventTime": "2026-11-22T10:14:00Z",
  "lastEventTime": "2026-11-22T10:15:00.5Z", "lastUpdateTime": "2026-11-22T10:15:57.7220239Z",
  "resolvedTime": null,
  "machineId": "111e6dd8c833c8a052ea231ec1b19adaf497b625", "computerDnsName": "ws-fin-042.contoso.local",
  "rbacGroupName": "Finance", "aadTenantId": "a839b112-1253-6432-9bf6-94542403f21c",
  "mitreTechniques": ["T1059.001", "T1105"],
  "relatedUser": {"userName": "jdoe", "domainName": "CONTOSO"},
  "evidence": [
    {"entityType": "User", "accountName": "jdoe", "domainName": "CONTOSO"},
    {"entityType": "Process", "fileName": "powershell.exe", "filePath": "C:\\Windows\\System32",
     "sha1": "a4f4a7c5e0f0b3a1d2c3e4f5a6b7c8d9e0f1a2b3",
     "sha256": "de96a6e69944335375dc1ac238336066889d9ffc7d73628ef4fe1b1b160ab32c",
     "processCommandLine": "powershell.exe -nop -w hidden -enc SQBFAFgA", "detectionStatus": "Detected"},
    {"entityType": "Ip", "ipAddress": "203.0.113.45"},
    {"entityType": "Url", "url": "http://malicious.example.com/payload?a=1&b=2"}
  ]
}"#;

/// The same alert as Graph's `GET /v1.0/security/alerts_v2` sends it.
pub(crate) const FROM_GRAPH: &str = r##"{
  "@odata.type": "#microsoft.graph.security.alert",
  "id": "da637472900382838869_1364969609", "providerAlertId": "637472900382838869_1364969609",
  "incidentId": "1126093", "tenantId": "a839b112-1253-6432-9bf6-94542403f21c",
  "serviceSource": "microsoftDefenderForEndpoint", "detectionSource": "antivirus",
  "detectorId": "17e10bbc-3a68-474a-8aad-faef14d43952", "assignedTo": "secop@contoso.com",
  "severity": "high", "status": "inProgress", "classification": "truePositive",
  "determination": "notMalicious", "category": "Malware", "actorDisplayName": null,
  "threatDisplayName": "Trojan:Win32/Emotet", "threatFamilyName": "Emotet",
  "title": "'Emotet' malware was detected", "description": "Malware and unwanted software...\nLine two",
  "recommendedActions": "Isolate the device.",
  "alertWebUrl": "https://security.microsoft.com/alerts/da637472900382838869_1364969609?tid=a839b112-1253-6432-9bf6-94542403f21c",
  "incidentWebUrl": "https://security.microsoft.com/incidents/1126093?tid=a839b112-1253-6432-9bf6-94542403f21c",
  "createdDateTime": "2026-11-22T10:15:59.1234567Z", "firstActivityDateTime": "2026-11-22T10:14:00Z",
  "lastActivityDateTime": "2026-11-22T10:15:00.5Z", "lastUpdateDateTime": "2026-11-22T10:15:57.7220239Z",
  "resolvedDateTime": null, "mitreTechniques": ["T1059.001", "T1105"], "systemTags": [],
  "comments": [],
  "evidence": [
    {"@odata.type": "#microsoft.graph.security.deviceEvidence", "createdDateTime": "2026-11-22T10:15:59Z",
     "verdict": "suspicious", "remediationStatus": "none", "roles": [], "tags": [],
     "mdeDeviceId": "111e6dd8c833c8a052ea231ec1b19adaf497b625",
     "deviceDnsName": "ws-fin-042.contoso.local", "rbacGroupName": "Finance", "loggedOnUsers": []},
    {"@odata.type": "#microsoft.graph.security.userEvidence", "verdict": "suspicious", "roles": [],
     "userAccount": {"accountName": "jdoe", "domainName": "CONTOSO", "userSid": null,
                     "azureAdUserId": null, "userPrincipalName": null}},
    {"@odata.type": "#microsoft.graph.security.processEvidence", "verdict": "malicious",
     "processCommandLine": "powershell.exe -nop -w hidden -enc SQBFAFgA", "detectionStatus": "detected",
     "imageFile": {"fileName": "powershell.exe", "filePath": "C:\\Windows\\System32",
                   "sha1": "a4f4a7c5e0f0b3a1d2c3e4f5a6b7c8d9e0f1a2b3",
                   "sha256": "de96a6e69944335375dc1ac238336066889d9ffc7d73628ef4fe1b1b160ab32c"},
     "userAccount": {"accountName": "jdoe", "domainName": "CONTOSO"}},
    {"@odata.type": "#microsoft.graph.security.ipEvidence", "ipAddress": "203.0.113.45"},
    {"@odata.type": "#microsoft.graph.security.urlEvidence", "url": "http://malicious.example.com/payload?a=1&b=2"},
    {"@odata.type": "#microsoft.graph.security.quantumEntanglementEvidence", "qubits": 7}
  ]
}"##;

fn record(mapping: &Mapping, json: &str) -> Decoded {
    let input = InputAlert {
        alert: Alert::from_json(json).unwrap(),
        raw: Some(json),
        position: Position {
            line: 1,
            index: None,
        },
    };
    let mut out = Vec::new();
    mapping.encode(&input, TENANT, None, &mut out).unwrap();
    let line = String::from_utf8(out).unwrap();
    match mapping.format() {
        Format::Cef => decode_cef(&line).unwrap(),
        Format::Leef => decode_leef(&line).unwrap(),
        Format::Json => unreachable!(),
    }
}

/// The record's fields as `key=value` (the header as `header[i]=value`), minus `differences`.
fn fields(record: &Decoded, differences: &[&str]) -> Vec<String> {
    let (header, fields) = record;
    header
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("header[{i}]"), v.clone()))
        .chain(fields.iter().cloned())
        .filter(|(k, _)| !differences.contains(&k.as_str()))
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}

fn value<'r>(record: &'r Decoded, key: &str) -> Option<&'r str> {
    record
        .1
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[test]
fn an_mde_alert_read_from_graph_gives_the_same_cef_and_leef_record_but_the_listed_differences() {
    // The documented differences: Graph's link to the alert, and Graph's product key.
    for (format, link, source) in [
        (Format::Cef, "flexString1", "serviceSource"),
        (Format::Leef, "alertLink", "serviceSource"),
    ] {
        let mapping = Mapping::builtin(format);
        let mde = record(&mapping, FROM_MDE);
        let graph = record(&mapping, FROM_GRAPH);
        assert_eq!(
            fields(&mde, &[link, source]),
            fields(&graph, &[link, source]),
            "{format:?}"
        );
        assert_eq!(
            value(&mde, link),
            Some("https://security.microsoft.com/alerts/da637472900382838869_1364969609")
        );
        assert_eq!(
            value(&graph, link),
            Some(
                "https://security.microsoft.com/alerts/da637472900382838869_1364969609?tid=a839b112-1253-6432-9bf6-94542403f21c"
            )
        );
        assert_eq!(value(&mde, source), None);
        assert_eq!(value(&graph, source), Some("microsoftDefenderForEndpoint"));
        // The MDE spellings, checked by name rather than only by equality with the MDE record.
        assert_eq!(graph.0[1], "Microsoft Defender for Endpoint");
        for (key, want) in [("MdeStatus", "InProgress"), ("MdeDetermination", "Clean")] {
            if format == Format::Cef {
                assert_eq!(value(&graph, key), Some(want));
            }
        }
    }
}

#[test]
fn alerts_of_other_products_use_the_same_places_with_their_product_in_the_header() {
    let office = r##"{"@odata.type": "#microsoft.graph.security.alert", "id": "fa1234",
      "serviceSource": "microsoftDefenderForOffice365", "detectionSource": "microsoftDefenderForOffice365",
      "severity": "medium", "status": "new", "classification": "unknown", "determination": "unknown",
      "category": "InitialAccess", "title": "Email messages containing malicious URL removed after delivery",
      "lastUpdateDateTime": "2026-11-22T10:15:57Z",
      "evidence": [
        {"@odata.type": "#microsoft.graph.security.mailboxEvidence", "primaryAddress": "jdoe@contoso.com",
         "userAccount": {"accountName": "jdoe", "domainName": "contoso.com"}},
        {"@odata.type": "#microsoft.graph.security.urlEvidence", "url": "https://phish.example/login"}
      ]}"##;
    let future = r##"{"id": "fa99", "serviceSource": "microsoftDefenderForSomethingNew",
      "severity": "unknown", "determination": "aiGeneratedThreat", "title": "t"}"##;
    let cef = Mapping::builtin(Format::Cef);
    let r = record(&cef, office);
    assert_eq!(r.0[1], "Microsoft Defender for Office 365");
    assert_eq!(
        value(&r, "serviceSource"),
        Some("microsoftDefenderForOffice365")
    );
    assert_eq!(value(&r, "request"), Some("https://phish.example/login"));
    assert_eq!(value(&r, "sourceServiceName"), Some("OfficeATP"));
    // Graph's `unknown` classification and determination are MDE's absent values.
    assert_eq!(value(&r, "MdeClassification"), None);
    assert_eq!(value(&r, "MdeDetermination"), None);
    // No user evidence: the mailbox's account is not taken for the alert's user.
    assert_eq!(value(&r, "suser"), None);
    let r = record(&cef, future);
    assert_eq!(r.0[1], "Microsoft Defender XDR");
    assert_eq!(r.0[5], "0", "severity unknown is UnSpecified");
    assert_eq!(value(&r, "MdeDetermination"), Some("AiGeneratedThreat"));
    let leef = Mapping::builtin(Format::Leef);
    assert_eq!(
        record(&leef, office).0[1],
        "Microsoft Defender for Office 365"
    );
}

#[test]
fn graph_evidence_reads_into_mde_evidence_and_unknown_types_are_kept() {
    let alert = Alert::from_json(FROM_GRAPH).unwrap();
    assert!(alert.is_graph());
    let types: Vec<_> = alert
        .evidence()
        .iter()
        .map(|e| e.entity_type.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(
        types,
        [
            "Device",
            "User",
            "Process",
            "Ip",
            "Url",
            "QuantumEntanglement"
        ]
    );
    let process = alert.first_evidence(&["Process"]).unwrap();
    assert_eq!(process.file_name.as_deref(), Some("powershell.exe"));
    assert_eq!(process.account_name.as_deref(), Some("jdoe"));
    assert_eq!(process.detection_status.as_deref(), Some("Detected"));
    assert_eq!(
        alert.machine_id.as_deref(),
        Some("111e6dd8c833c8a052ea231ec1b19adaf497b625")
    );
    assert_eq!(alert.rbac_group_name.as_deref(), Some("Finance"));
    // An MDE alert is not taken for a Graph one, and keeps its spellings.
    let mde = Alert::from_json(FROM_MDE).unwrap();
    assert!(!mde.is_graph());
    assert_eq!(mde.determination.as_deref(), Some("Clean"));
}

#[test]
fn related_user_falls_back_to_the_first_process_account() {
    let alert = Alert::from_json(
        r##"{"serviceSource": "microsoftDefenderForEndpoint", "evidence": [
          {"@odata.type": "#microsoft.graph.security.processEvidence",
           "userAccount": {"accountName": "svc_backup", "domainName": "CONTOSO"}}]}"##,
    )
    .unwrap();
    let user = alert.related_user.unwrap();
    assert_eq!(user.user_name.as_deref(), Some("svc_backup"));
    assert_eq!(user.domain_name.as_deref(), Some("CONTOSO"));
}

#[test]
fn json_output_is_the_graph_alert_as_sent_with_the_tenant_added() {
    let mapping = Mapping::builtin(Format::Json);
    let input = InputAlert {
        alert: Alert::from_json(FROM_GRAPH).unwrap(),
        raw: Some(FROM_GRAPH),
        position: Position {
            line: 1,
            index: None,
        },
    };
    let mut out = Vec::new();
    mapping.encode(&input, TENANT, None, &mut out).unwrap();
    let mut line: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let object = line.as_object_mut().unwrap();
    assert_eq!(object.remove("tenantName").unwrap(), "Contoso");
    // The alert's own tenantId, once: not a second member of the same name.
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.matches("\"tenantId\"").count(), 1, "{text}");
    let sent: serde_json::Value = serde_json::from_str(FROM_GRAPH).unwrap();
    assert_eq!(line, sent);
}
