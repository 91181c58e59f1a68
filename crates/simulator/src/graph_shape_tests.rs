//! The Graph shape of one MDE alert, field by field; companions; hidden enum members.

use std::collections::HashSet;

use serde_json::{Value, json};

use super::graph::{self, from_mde, hide_newer_members, lower_camel};
use super::graph_companion::Companion;
use super::graph_query;

fn mde_alert() -> Value {
    let mut a = json!({
        "id": "da638680053579876543_-1234567890",
        "incidentId": 1402211,
        "investigationId": null,
        "assignedTo": "analyst1@mssp.example.net",
        "severity": "UnSpecified",
        "status": "InProgress",
        "classification": "TruePositive",
        "determination": "CompromisedUser",
        "investigationState": "Running",
        "detectionSource": "WindowsDefenderSmartScreen",
        "detectorId": "17e10bbc-3a68-474a-8aad-faef14d43952",
        "category": "Execution",
        "threatFamilyName": null,
        "title": "Suspicious PowerShell command line",
        "description": "line 1\nline 2",
        "alertCreationTime": "2026-11-22T10:15:57.7220239Z",
        "firstEventTime": "2026-11-22T10:00:00Z",
        "lastEventTime": "2026-11-22T10:05:00.5Z",
        "lastUpdateTime": "2026-11-22T10:15:59.18Z",
        "resolvedTime": null,
        "machineId": "a".repeat(40),
        "computerDnsName": "ws-fin-001.contoso.local",
        "rbacGroupName": "Finance Workstations",
        "aadTenantId": "11111111-2222-4333-8444-555555555555",
        "threatName": "Trojan:Win32/Emotet",
        "mitreTechniques": ["T1059.001"],
        "relatedUser": {"userName": "jdoe", "domainName": "CONTOSO"},
        "loggedOnUsers": [{"accountName": "jdoe", "domainName": "CONTOSO"}],
        "comments": [{"comment": "Escalated", "createdBy": "soc-lead@mssp.example.net", "createdTime": "2026-11-22T10:16:00.1Z"}],
    });
    // Apart: one json! of it all is too deep for the macro.
    a["evidence"] = json!([
            {"entityType": "File", "evidenceCreationTime": "2026-11-22T10:15:58Z", "sha1": "s1", "sha256": "s256",
             "fileName": "a.ps1", "filePath": "C:\\Temp", "detectionStatus": "Detected"},
            {"entityType": "Process", "evidenceCreationTime": "2026-11-22T10:15:58.1Z", "sha1": "p1", "sha256": "p256",
             "fileName": "powershell.exe", "filePath": "C:\\Windows", "processId": 4242, "processCommandLine": "powershell -enc x",
             "processCreationTime": "2026-11-22T10:14:00Z", "parentProcessId": 1000, "parentProcessCreationTime": "2026-11-22T09:00:00Z",
             "parentProcessFileName": "explorer.exe", "parentProcessFilePath": "C:\\Windows", "detectionStatus": null},
            {"entityType": "User", "evidenceCreationTime": "2026-11-22T10:15:58.2Z", "accountName": "JDOE", "domainName": "contoso",
             "userSid": "S-1-5-21-1-2-3-1124", "aadUserId": "aad-guid", "userPrincipalName": "jdoe@contoso.com"},
            {"entityType": "Ip", "evidenceCreationTime": "2026-11-22T10:15:58.3Z", "ipAddress": "203.0.113.7"},
            {"entityType": "Url", "evidenceCreationTime": "2026-11-22T10:15:58.4Z", "url": "https://evil.example/x"},
            {"entityType": "Registry", "evidenceCreationTime": "2026-11-22T10:15:58.5Z", "registryKey": "Run",
             "registryHive": "HKEY_LOCAL_MACHINE", "registryValueType": "String", "registryValue": "x.exe"},
            {"entityType": "MailBox", "evidenceCreationTime": "2026-11-22T10:15:58.6Z", "accountName": "box", "url": null},
    ]);
    a
}

#[test]
fn an_mde_alert_in_graph_shape() {
    let a = mde_alert();
    let g = from_mde(&a);
    let tid = "11111111-2222-4333-8444-555555555555";
    for (k, want) in [
        ("@odata.type", json!("#microsoft.graph.security.alert")),
        ("id", a["id"].clone()),
        ("providerAlertId", json!("638680053579876543_-1234567890")),
        ("incidentId", json!("1402211")),
        ("status", json!("inProgress")),
        ("severity", json!("unknown")),
        ("classification", json!("truePositive")),
        ("determination", json!("compromisedAccount")),
        ("serviceSource", json!("microsoftDefenderForEndpoint")),
        ("detectionSource", json!("smartScreen")),
        ("tenantId", json!(tid)),
        ("threatDisplayName", json!("Trojan:Win32/Emotet")),
        ("actorDisplayName", Value::Null),
        ("createdDateTime", json!("2026-11-22T10:15:57.7220239Z")),
        ("lastUpdateDateTime", json!("2026-11-22T10:15:59.18Z")),
        ("firstActivityDateTime", json!("2026-11-22T10:00:00Z")),
        ("lastActivityDateTime", json!("2026-11-22T10:05:00.5Z")),
        ("resolvedDateTime", Value::Null),
        ("mitreTechniques", json!(["T1059.001"])),
        ("systemTags", json!([])),
        (
            "alertWebUrl",
            json!(format!(
                "https://security.microsoft.com/alerts/{}?tid={tid}",
                a["id"].as_str().unwrap()
            )),
        ),
        (
            "incidentWebUrl",
            json!(format!(
                "https://security.microsoft.com/incidents/1402211?tid={tid}"
            )),
        ),
        (
            "comments",
            json!([{"comment": "Escalated", "createdByDisplayName": "soc-lead@mssp.example.net", "createdDateTime": "2026-11-22T10:16:00.1Z"}]),
        ),
    ] {
        assert_eq!(g[k], want, "{k}");
    }
    assert!(g["recommendedActions"].as_str().unwrap().len() > 20);
}

#[test]
fn its_evidence_in_graph_shape() {
    let a = mde_alert();
    let g = from_mde(&a);
    let e = g["evidence"].as_array().unwrap();
    let types: Vec<&str> = e
        .iter()
        .map(|e| e["@odata.type"].as_str().unwrap())
        .collect();
    let p = "#microsoft.graph.security.";
    let want: Vec<String> = [
        "deviceEvidence",
        "userEvidence",
        "fileEvidence",
        "processEvidence",
        "ipEvidence",
        "urlEvidence",
        "registryValueEvidence",
        "mailboxEvidence",
    ]
    .iter()
    .map(|t| format!("{p}{t}"))
    .collect();
    assert_eq!(types, want);
    for item in e {
        for (k, v) in [
            ("verdict", json!("suspicious")),
            ("remediationStatus", json!("none")),
            ("roles", json!([])),
            ("tags", json!([])),
        ] {
            assert_eq!(item[k], v);
        }
    }
    assert_eq!(e[0]["mdeDeviceId"], a["machineId"]);
    assert_eq!(e[0]["deviceDnsName"], json!("ws-fin-001.contoso.local"));
    assert_eq!(e[0]["rbacGroupName"], json!("Finance Workstations"));
    assert_eq!(e[0]["loggedOnUsers"], json!([]));
    // The related user, merged with the User item of the same account (not repeated).
    assert_eq!(
        e[1]["userAccount"],
        json!({"accountName": "JDOE", "domainName": "contoso", "userSid": "S-1-5-21-1-2-3-1124",
               "azureAdUserId": "aad-guid", "userPrincipalName": "jdoe@contoso.com"})
    );
    assert_eq!(e[1]["createdDateTime"], json!("2026-11-22T10:15:58.2Z"));
    assert_eq!(
        e[2]["fileDetails"],
        json!({"fileName": "a.ps1", "filePath": "C:\\Temp", "sha1": "s1", "sha256": "s256", "fileSize": null})
    );
    assert_eq!(e[2]["detectionStatus"], json!("detected"));
    assert_eq!(e[2]["createdDateTime"], json!("2026-11-22T10:15:58Z"));
    let proc = &e[3];
    assert_eq!(
        (
            &proc["processId"],
            &proc["parentProcessId"],
            &proc["processCommandLine"]
        ),
        (&json!(4242), &json!(1000), &json!("powershell -enc x"))
    );
    assert_eq!(
        proc["processCreationDateTime"],
        json!("2026-11-22T10:14:00Z")
    );
    assert_eq!(
        proc["parentProcessCreationDateTime"],
        json!("2026-11-22T09:00:00Z")
    );
    assert_eq!(proc["imageFile"]["sha256"], json!("p256"));
    assert_eq!(
        proc["parentProcessImageFile"],
        json!({"fileName": "explorer.exe", "filePath": "C:\\Windows"})
    );
    assert_eq!(proc["userAccount"]["accountName"], Value::Null);
    assert_eq!(proc["detectionStatus"], Value::Null);
    assert_eq!(e[4]["ipAddress"], json!("203.0.113.7"));
    assert_eq!(e[5]["url"], json!("https://evil.example/x"));
    assert_eq!(
        (&e[6]["registryKey"], &e[6]["registryValueType"]),
        (&json!("Run"), &json!("String"))
    );
    assert_eq!(e[7]["accountName"], json!("box"));
    assert!(e[7].get("url").is_none() && e[7].get("entityType").is_none());
}

#[test]
fn enum_spellings_and_missing_fields() {
    let spell = |key: &str, v: Value, f: fn(&Value) -> Value| f(&json!({ key: v }));
    for (mde, want) in [
        (Value::Null, "unknown"),
        (json!("NotAvailable"), "unknown"),
        (json!("Clean"), "notMalicious"),
        (json!("InsufficientData"), "notEnoughDataToValidate"),
        (json!("ConfirmedUserActivity"), "confirmedActivity"),
        (json!("SecurityTesting"), "securityTesting"),
        (json!("APT"), "apt"),
    ] {
        assert_eq!(
            spell("determination", mde, graph::determination),
            json!(want)
        );
    }
    assert_eq!(
        spell("classification", Value::Null, graph::classification),
        json!("unknown")
    );
    assert_eq!(
        spell(
            "classification",
            json!("InformationalExpectedActivity"),
            graph::classification
        ),
        json!("informationalExpectedActivity")
    );
    assert_eq!(
        spell("severity", json!("High"), graph::severity),
        json!("high")
    );
    assert_eq!(
        spell("status", json!("Unknown"), graph::status),
        json!("unknown")
    );
    assert_eq!(lower_camel("WindowsDefenderAv"), "windowsDefenderAv");
    for (mde, want) in [
        ("WindowsDefenderAtp", "microsoftDefenderForEndpoint"),
        ("WindowsDefenderAv", "antivirus"),
        ("CustomDetection", "customDetection"),
        ("AutomatedInvestigation", "automatedInvestigation"),
        ("CustomerTI", "customTi"),
        ("SentinelScheduledRule", "microsoftSentinel"),
        ("SomethingElse", "somethingElse"),
    ] {
        let g = from_mde(&json!({ "detectionSource": mde }));
        assert_eq!(g["detectionSource"], json!(want), "{mde}");
    }
    // An alert with almost nothing: still an alert, no device, no user.
    let g = from_mde(&json!({"id": "da1_2", "lastUpdateTime": "2026-11-22T10:00:00Z"}));
    assert_eq!(g["evidence"], json!([]));
    assert_eq!(g["incidentWebUrl"], Value::Null);
    assert_eq!(g["createdDateTime"], Value::Null);
    // relatedUser as the documentation writes it, and no User item.
    let g = from_mde(&json!({"relatedUser": "CONTOSO\\jdoe"}));
    assert_eq!(
        g["evidence"][0]["userAccount"]["domainName"],
        json!("CONTOSO")
    );
}

#[test]
fn newer_members_are_hidden_unless_asked_for() {
    let mut a = json!({"serviceSource": "microsoftSentinel", "detectionSource": "nrtAlerts",
        "determination": "aiGeneratedThreat", "severity": "high", "status": "inProgress",
        "classification": "unknown"});
    hide_newer_members(&mut a);
    assert_eq!(
        a,
        json!({"serviceSource": "unknownFutureValue", "detectionSource": "unknownFutureValue",
        "determination": "unknownFutureValue", "severity": "high", "status": "inProgress",
        "classification": "unknown"})
    );
    assert_eq!(
        graph::member("serviceSource", "MICROSOFTSENTINEL"),
        Ok(Some("microsoftSentinel"))
    );
    assert_eq!(graph::member("assignedTo", "anyone"), Ok(None));
    assert_eq!(graph::member("severity", "critical"), Err(()));
    // Filters are canonical: any case of a member matches its spelling.
    assert!(graph_query::filter("serviceSource eq 'MicrosoftDefenderForEndpoint'").is_ok());
}

#[test]
fn companions_ride_on_one_alert_in_four_with_stable_ids_of_their_own() {
    let (mut with, mut ids, mut sources) = (0, HashSet::new(), HashSet::new());
    for n in 0..4000 {
        let id = format!("da6386800535798{n:05}_{}", n * 7919);
        let Some(c) = Companion::of(&id) else {
            continue;
        };
        with += 1;
        assert_eq!(Companion::of(&id), Some(c), "stable");
        let cid = c.id();
        assert!(
            cid.starts_with("fa")
                && cid.len() == 22
                && cid[2..].bytes().all(|b| b.is_ascii_digit())
        );
        assert!(ids.insert(cid));
        sources.insert(c.service_source());
        let mde = from_mde(&json!({"id": id, "aadTenantId": "t", "incidentId": 7,
            "lastUpdateTime": "2026-11-22T10:00:00.1234567Z", "status": "Resolved",
            "relatedUser": {"userName": "jdoe", "domainName": "CONTOSO"}}));
        let a = c.alert(&mde);
        assert_eq!(a["lastUpdateDateTime"], mde["lastUpdateDateTime"]);
        assert_eq!(
            (&a["incidentId"], &a["status"]),
            (&json!("7"), &json!("resolved"))
        );
        assert_eq!(a["id"], json!(c.id()));
        let evidence = a["evidence"].as_array().unwrap();
        assert!(!evidence.is_empty());
        if c.service_source() == "microsoftDefenderForOffice365" {
            assert_eq!(evidence[0]["primaryAddress"], json!("jdoe@contoso.com"));
            assert!(evidence[1]["p1Sender"]["emailAddress"].is_string());
        }
    }
    assert!((850..=1150).contains(&with), "{with}");
    assert_eq!(sources.len(), 6, "{sources:?}");
}
