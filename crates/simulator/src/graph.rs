//! An MDE alert version as Microsoft Graph `alerts_v2` shows it (docs/alerts-api.md, the Graph
//! section): a `microsoft.graph.security.alert` with the same id and the same instants, written
//! with the same digits, its enums spelled as Graph spells them and its evidence typed by
//! `@odata.type`.
//!
//! Speed is secondary here: the alert's JSON is read as a `serde_json::Value` and a new one made.

use serde_json::{Map, Value, json};

use super::graph_evidence;

pub(crate) const ALERT_TYPE: &str = "#microsoft.graph.security.alert";
/// The `serviceSource` of every MDE alert.
pub(crate) const MDE_SOURCE: &str = "microsoftDefenderForEndpoint";
/// What Graph shows in place of an enum member newer than the client asked for.
pub(crate) const UNKNOWN_FUTURE: &str = "unknownFutureValue";

/// An evolvable enum of the alert: the members Graph shows to every client (those before the
/// `unknownFutureValue` sentinel) and those it shows only with `Prefer:
/// include-unknown-enum-members`.
pub(crate) struct GraphEnum {
    pub(crate) property: &'static str,
    known: &'static [&'static str],
    newer: &'static [&'static str],
}

/// The enums of an alert (graph-docs `resources/security-alert.md` and the enum types it names),
/// plus the simulator's own made-up newer members (`microsoftDefenderForSomethingNew`,
/// `aiGeneratedThreat`), which stand for whatever Microsoft adds next.
pub(crate) const ENUMS: &[GraphEnum] = &[
    GraphEnum {
        property: "serviceSource",
        known: &[
            "unknown",
            "microsoftDefenderForEndpoint",
            "microsoftDefenderForIdentity",
            "microsoftDefenderForCloudApps",
            "microsoftDefenderForOffice365",
            "microsoft365Defender",
            "azureAdIdentityProtection",
            "microsoftAppGovernance",
            "dataLossPrevention",
        ],
        newer: &[
            "microsoftDefenderForCloud",
            "microsoftSentinel",
            "microsoftInsiderRiskManagement",
            "microsoftThreatIntelligence",
            "microsoftDefenderForSomethingNew",
        ],
    },
    GraphEnum {
        property: "detectionSource",
        known: &[
            "unknown",
            "microsoftDefenderForEndpoint",
            "antivirus",
            "smartScreen",
            "customTi",
            "microsoftDefenderForOffice365",
            "automatedInvestigation",
            "microsoftThreatExperts",
            "customDetection",
            "microsoftDefenderForIdentity",
            "cloudAppSecurity",
            "microsoft365Defender",
            "azureAdIdentityProtection",
            "manual",
            "microsoftDataLossPrevention",
            "appGovernancePolicy",
            "appGovernanceDetection",
        ],
        newer: &[
            "microsoftDefenderForCloud",
            "microsoftDefenderForIoT",
            "microsoftDefenderForServers",
            "microsoftDefenderForStorage",
            "microsoftDefenderForDNS",
            "microsoftDefenderForDatabases",
            "microsoftDefenderForContainers",
            "microsoftDefenderForNetwork",
            "microsoftDefenderForAppService",
            "microsoftDefenderForKeyVault",
            "microsoftDefenderForResourceManager",
            "microsoftDefenderForApiManagement",
            "nrtAlerts",
            "scheduledAlerts",
            "microsoftDefenderThreatIntelligenceAnalytics",
            "builtInMl",
            "microsoftInsiderRiskManagement",
            "microsoftThreatIntelligence",
            "microsoftDefenderForAIServices",
            "securityCopilot",
            "microsoftSentinel",
        ],
    },
    GraphEnum {
        property: "severity",
        known: &["unknown", "informational", "low", "medium", "high"],
        newer: &[],
    },
    GraphEnum {
        property: "status",
        known: &["unknown", "new", "inProgress", "resolved"],
        newer: &[],
    },
    GraphEnum {
        property: "classification",
        known: &[
            "unknown",
            "falsePositive",
            "truePositive",
            "informationalExpectedActivity",
        ],
        newer: &[],
    },
    GraphEnum {
        property: "determination",
        known: &[
            "unknown",
            "apt",
            "malware",
            "securityPersonnel",
            "securityTesting",
            "unwantedSoftware",
            "other",
            "multiStagedAttack",
            "compromisedAccount",
            "phishing",
            "maliciousUserActivity",
            "notMalicious",
            "notEnoughDataToValidate",
            "confirmedActivity",
            "lineOfBusinessApplication",
        ],
        newer: &["aiGeneratedThreat"],
    },
];

/// The member of enum property `property` spelled `value` in any case (as a `$filter` literal
/// may be): `Ok(None)` when `property` is no enum, `Err(())` when it has no such member.
pub(crate) fn member(property: &str, value: &str) -> Result<Option<&'static str>, ()> {
    let Some(e) = ENUMS.iter().find(|e| e.property == property) else {
        return Ok(None);
    };
    e.known
        .iter()
        .chain(e.newer)
        .chain(&[UNKNOWN_FUTURE])
        .find(|m| m.eq_ignore_ascii_case(value))
        .map(|m| Some(*m))
        .ok_or(())
}

/// Replaces every enum value of `alert` newer than `unknownFutureValue` by it, as Graph does
/// for a client that did not send `Prefer: include-unknown-enum-members`.
pub(crate) fn hide_newer_members(alert: &mut Value) {
    let Some(map) = alert.as_object_mut() else {
        return;
    };
    for e in ENUMS {
        if let Some(Value::String(v)) = map.get_mut(e.property)
            && !e.known.contains(&v.as_str())
        {
            *v = UNKNOWN_FUTURE.to_owned();
        }
    }
}

/// `Malware` → `malware`, `APT` → `apt`: Graph's spelling of an MDE enum member.
pub(crate) fn lower_camel(s: &str) -> String {
    if s.chars().all(|c| c.is_ascii_uppercase()) {
        return s.to_ascii_lowercase();
    }
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

pub(crate) fn get(a: &Value, key: &str) -> Value {
    a.get(key).cloned().unwrap_or(Value::Null)
}

pub(crate) fn text<'a>(a: &'a Value, key: &str) -> Option<&'a str> {
    a.get(key).and_then(Value::as_str)
}

/// An MDE enum value in Graph's spelling; `absent` when it is null or missing.
fn spelled(a: &Value, key: &str, absent: &str, special: &[(&str, &str)]) -> Value {
    let v = match text(a, key) {
        None => absent.to_owned(),
        Some(s) => special
            .iter()
            .find(|(mde, _)| *mde == s)
            .map_or_else(|| lower_camel(s), |(_, g)| (*g).to_owned()),
    };
    Value::String(v)
}

pub(crate) fn status(a: &Value) -> Value {
    spelled(a, "status", "unknown", &[])
}

pub(crate) fn severity(a: &Value) -> Value {
    spelled(a, "severity", "unknown", &[("UnSpecified", "unknown")])
}

pub(crate) fn classification(a: &Value) -> Value {
    spelled(a, "classification", "unknown", &[])
}

pub(crate) fn determination(a: &Value) -> Value {
    spelled(
        a,
        "determination",
        "unknown",
        &[
            ("NotAvailable", "unknown"),
            ("Clean", "notMalicious"),
            ("CompromisedUser", "compromisedAccount"),
            ("InsufficientData", "notEnoughDataToValidate"),
            ("ConfirmedUserActivity", "confirmedActivity"),
        ],
    )
}

fn detection_source(a: &Value) -> Value {
    if let Some(s) = text(a, "detectionSource")
        && s.starts_with("Sentinel")
    {
        return json!("microsoftSentinel");
    }
    spelled(
        a,
        "detectionSource",
        "unknown",
        &[
            ("WindowsDefenderAtp", "microsoftDefenderForEndpoint"),
            ("WindowsDefenderAv", "antivirus"),
            ("WindowsDefenderSmartScreen", "smartScreen"),
            ("SmartScreen", "smartScreen"),
            ("CustomerTI", "customTi"),
            ("CustomTi", "customTi"),
            ("MTP", "microsoft365Defender"),
            ("ThreatExperts", "microsoftThreatExperts"),
        ],
    )
}

/// `https://security.microsoft.com/{what}/{id}?tid={tenant}`, or null without an id.
fn portal_url(what: &str, id: Option<&str>, tenant: Option<&str>) -> Value {
    match id {
        Some(id) => json!(format!(
            "https://security.microsoft.com/{what}/{id}?tid={}",
            tenant.unwrap_or_default()
        )),
        None => Value::Null,
    }
}

/// The incident id as Graph writes it: a string.
fn incident_id(a: &Value) -> Value {
    match a.get("incidentId") {
        Some(Value::Number(n)) => json!(n.to_string()),
        Some(Value::String(s)) => json!(s),
        _ => Value::Null,
    }
}

fn recommended_actions(a: &Value) -> String {
    let host = text(a, "computerDnsName").unwrap_or("the device");
    format!(
        "1. Review the alert's evidence and the device timeline of {host} in the Microsoft Defender portal.\n2. Check whether the activity was expected (maintenance, security testing, approved tools).\n3. If it was not, isolate the device, collect an investigation package and run a full antivirus scan.\n4. Classify the alert, so that similar alerts are tuned."
    )
}

/// MDE alert version `a` (as `/api/alerts` writes it with `$expand=evidence`) as a Graph alert,
/// with every enum member however new.
pub(crate) fn from_mde(a: &Value) -> Value {
    let id = text(a, "id");
    let tenant = text(a, "aadTenantId");
    let incident = incident_id(a);
    let mitre = match a.get("mitreTechniques") {
        Some(Value::Array(items)) => Value::Array(items.clone()),
        Some(Value::String(s)) => json!([s]),
        _ => json!([]),
    };
    let comments: Vec<Value> = a
        .get("comments")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .map(|c| {
            json!({
                "comment": get(c, "comment"),
                "createdByDisplayName": get(c, "createdBy"),
                "createdDateTime": get(c, "createdTime"),
            })
        })
        .collect();
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_owned(), v);
    };
    put("@odata.type", json!(ALERT_TYPE));
    put("id", get(a, "id"));
    put(
        "providerAlertId",
        id.map_or(Value::Null, |i| json!(i.strip_prefix("da").unwrap_or(i))),
    );
    put("incidentId", incident.clone());
    put("status", status(a));
    put("severity", severity(a));
    put("classification", classification(a));
    put("determination", determination(a));
    put("serviceSource", json!(MDE_SOURCE));
    put("detectionSource", detection_source(a));
    put("productName", json!("Microsoft Defender for Endpoint"));
    put("detectorId", get(a, "detectorId"));
    put("tenantId", get(a, "aadTenantId"));
    put("title", get(a, "title"));
    put("description", get(a, "description"));
    put("recommendedActions", json!(recommended_actions(a)));
    put("category", get(a, "category"));
    put("assignedTo", get(a, "assignedTo"));
    put("alertWebUrl", portal_url("alerts", id, tenant));
    put(
        "incidentWebUrl",
        portal_url("incidents", incident.as_str(), tenant),
    );
    put("actorDisplayName", Value::Null);
    put("threatDisplayName", get(a, "threatName"));
    put("threatFamilyName", get(a, "threatFamilyName"));
    put("mitreTechniques", mitre);
    put("createdDateTime", get(a, "alertCreationTime"));
    put("lastUpdateDateTime", get(a, "lastUpdateTime"));
    put("resolvedDateTime", get(a, "resolvedTime"));
    put("firstActivityDateTime", get(a, "firstEventTime"));
    put("lastActivityDateTime", get(a, "lastEventTime"));
    put("comments", Value::Array(comments));
    put("systemTags", json!([]));
    put("evidence", Value::Array(graph_evidence::evidence(a)));
    Value::Object(m)
}
