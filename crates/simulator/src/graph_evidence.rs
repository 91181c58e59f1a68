//! The evidence of an MDE alert as Graph types it by `@odata.type`: the device, the related
//! user, then each MDE evidence item (`File` → `fileEvidence`, `Process` → `processEvidence`,
//! ..., an unknown `entityType` → `<entityType>Evidence` with the item's fields).

use serde_json::{Map, Value, json};

use super::graph::{get, lower_camel, text};

/// The fields every evidence item starts with.
pub(crate) fn evidence_head(kind: &str, created: Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "@odata.type".into(),
        json!(format!("#microsoft.graph.security.{kind}")),
    );
    m.insert("createdDateTime".into(), created);
    m.insert("verdict".into(), json!("suspicious"));
    m.insert("remediationStatus".into(), json!("none"));
    m.insert("remediationStatusDetails".into(), Value::Null);
    m.insert("roles".into(), json!([]));
    m.insert("tags".into(), json!([]));
    m
}

/// A `userAccount` object.
pub(crate) fn user_account(
    name: Value,
    domain: Value,
    sid: Value,
    aad_id: Value,
    upn: Value,
) -> Value {
    json!({
        "accountName": name,
        "domainName": domain,
        "userSid": sid,
        "azureAdUserId": aad_id,
        "userPrincipalName": upn,
    })
}

/// The `userAccount` of an MDE evidence item.
fn account_of(e: &Value) -> Value {
    user_account(
        get(e, "accountName"),
        get(e, "domainName"),
        get(e, "userSid"),
        get(e, "aadUserId"),
        get(e, "userPrincipalName"),
    )
}

/// `relatedUser` as (user name, domain): an object in real answers, `DOMAIN\user` in the
/// documentation.
fn related_user(a: &Value) -> Option<(Value, Value)> {
    match a.get("relatedUser")? {
        Value::Object(u) => {
            let name = u.get("userName").filter(|n| n.is_string())?;
            Some((
                name.clone(),
                u.get("domainName").cloned().unwrap_or_default(),
            ))
        }
        Value::String(s) if !s.is_empty() => Some(match s.split_once('\\') {
            Some((d, n)) => (json!(n), json!(d)),
            None => (json!(s), Value::Null),
        }),
        _ => None,
    }
}

fn same_text(a: Option<&Value>, b: &Value) -> bool {
    match (a.and_then(Value::as_str), b.as_str()) {
        (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
        (None, None) => true,
        _ => false,
    }
}

/// The alert's evidence: its device, the related user, then each MDE evidence item.
///
/// The related user comes right after the device, merged with the first `User` item naming the
/// same account (which then is not repeated): so the first `userEvidence` is always
/// `relatedUser`, as the mapping contract reads it (docs/alerts-api.md).
pub(crate) fn evidence(a: &Value) -> Vec<Value> {
    let created = get(a, "alertCreationTime");
    let device = get(a, "machineId");
    let items = a
        .get("evidence")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let mut out = Vec::with_capacity(items.len() + 2);
    let dns = get(a, "computerDnsName");
    if !device.is_null() || !dns.is_null() {
        let mut d = evidence_head("deviceEvidence", created.clone());
        d.insert("mdeDeviceId".into(), device.clone());
        d.insert("deviceDnsName".into(), dns);
        d.insert("rbacGroupName".into(), get(a, "rbacGroupName"));
        d.insert("loggedOnUsers".into(), json!([]));
        out.push(Value::Object(d));
    }
    let mut merged = None;
    if let Some((name, domain)) = related_user(a) {
        merged = items.iter().position(|e| {
            text(e, "entityType") == Some("User")
                && same_text(e.get("accountName"), &name)
                && same_text(e.get("domainName"), &domain)
        });
        let (account, at) = match merged.map(|i| &items[i]) {
            Some(e) => (account_of(e), get(e, "evidenceCreationTime")),
            None => {
                let none = Value::Null;
                let account = user_account(name, domain, none.clone(), none.clone(), none);
                (account, created)
            }
        };
        let mut u = evidence_head("userEvidence", at);
        u.insert("userAccount".into(), account);
        out.push(Value::Object(u));
    }
    for (i, e) in items.iter().enumerate() {
        if Some(i) != merged && e.is_object() {
            out.push(item(e, &device));
        }
    }
    out
}

fn file_details(e: &Value, name: &str, path: &str, full: bool) -> Value {
    let mut m = Map::new();
    m.insert("fileName".into(), get(e, name));
    m.insert("filePath".into(), get(e, path));
    if full {
        m.insert("sha1".into(), get(e, "sha1"));
        m.insert("sha256".into(), get(e, "sha256"));
        m.insert("fileSize".into(), get(e, "fileSize"));
    }
    Value::Object(m)
}

fn detection_status(e: &Value) -> Value {
    text(e, "detectionStatus").map_or(Value::Null, |s| json!(lower_camel(s)))
}

/// One MDE evidence item as Graph types it.
fn item(e: &Value, device: &Value) -> Value {
    let created = get(e, "evidenceCreationTime");
    let kind = text(e, "entityType").unwrap_or("Unknown");
    let put_all = |m: &mut Map<String, Value>, fields: &[(&str, &str)]| {
        for (graph, mde) in fields {
            m.insert((*graph).to_owned(), get(e, mde));
        }
    };
    let m = match kind {
        "File" => {
            let mut m = evidence_head("fileEvidence", created);
            m.insert("detectionStatus".into(), detection_status(e));
            m.insert(
                "fileDetails".into(),
                file_details(e, "fileName", "filePath", true),
            );
            m.insert("mdeDeviceId".into(), device.clone());
            m
        }
        "Process" => {
            let mut m = evidence_head("processEvidence", created);
            put_all(
                &mut m,
                &[
                    ("processId", "processId"),
                    ("parentProcessId", "parentProcessId"),
                    ("processCommandLine", "processCommandLine"),
                    ("processCreationDateTime", "processCreationTime"),
                    ("parentProcessCreationDateTime", "parentProcessCreationTime"),
                ],
            );
            m.insert("detectionStatus".into(), detection_status(e));
            m.insert("mdeDeviceId".into(), device.clone());
            m.insert(
                "imageFile".into(),
                file_details(e, "fileName", "filePath", true),
            );
            let parent = file_details(e, "parentProcessFileName", "parentProcessFilePath", false);
            m.insert("parentProcessImageFile".into(), parent);
            m.insert("userAccount".into(), account_of(e));
            m
        }
        "User" => {
            let mut m = evidence_head("userEvidence", created);
            m.insert("userAccount".into(), account_of(e));
            m
        }
        "Ip" => {
            let mut m = evidence_head("ipEvidence", created);
            put_all(&mut m, &[("ipAddress", "ipAddress")]);
            m
        }
        "Url" => {
            let mut m = evidence_head("urlEvidence", created);
            put_all(&mut m, &[("url", "url")]);
            m
        }
        "Registry" => {
            let mut m = evidence_head("registryValueEvidence", created);
            put_all(
                &mut m,
                &[
                    ("registryKey", "registryKey"),
                    ("registryHive", "registryHive"),
                    ("registryValue", "registryValue"),
                    ("registryValueType", "registryValueType"),
                ],
            );
            m.insert("mdeDeviceId".into(), device.clone());
            m
        }
        other => {
            let name = match other {
                "MailBox" | "Mailbox" => "mailbox".to_owned(),
                _ => lower_camel(other),
            };
            let mut m = evidence_head(&format!("{name}Evidence"), created);
            if let Some(fields) = e.as_object() {
                for (k, v) in fields {
                    if !v.is_null() && k != "entityType" && k != "evidenceCreationTime" {
                        m.insert(k.clone(), v.clone());
                    }
                }
            }
            m
        }
    };
    Value::Object(m)
}
