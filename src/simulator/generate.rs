//! Realistic alerts, generated from a seed: the fields, shapes and value spaces of design.md §3
//! and `examples/alerts/realistic-page.json`, including the lifecycle of later versions.

use serde_json::{Map, Value, json};

use super::adversarial;
use super::catalog::*;
use super::rng::Rng;
use crate::alert::Timestamp;

const SECOND: i64 = 1_000_000_000;
const MINUTE: i64 = 60 * SECOND;
/// .NET ticks (100 ns since 0001-01-01) at the Unix epoch: alert ids start with the ticks of
/// their creation time.
const TICKS_AT_UNIX_EPOCH: i64 = 621_355_968_000_000_000;

/// Where a generated alert is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    New,
    InProgress,
    Resolved,
}

/// The fictional company behind one tenant: its domain, users and devices, so that the alerts
/// of a tenant look like they come from one organisation.
#[derive(Debug)]
pub(crate) struct World {
    tenant_id: String,
    netbios: String,
    upn_suffix: String,
    users: Vec<User>,
    hosts: Vec<Host>,
    next_incident: u64,
    next_investigation: u64,
}

#[derive(Debug)]
struct User {
    name: &'static str,
    sid: String,
    aad_id: String,
}

#[derive(Debug)]
struct Host {
    name: String,
    machine_id: String,
    rbac: &'static str,
}

impl World {
    /// The company of tenant number `index` (0-based), deterministic from `rng`.
    pub(crate) fn new(rng: &mut Rng, index: usize, tenant_id: &str) -> Self {
        let company = COMPANIES[index % COMPANIES.len()];
        let company = match index / COMPANIES.len() {
            0 => company.to_owned(),
            n => format!("{company}{}", n + 1),
        };
        let sid_base = format!(
            "S-1-5-21-{}-{}-{}",
            rng.between(1_000_000_000, 4_000_000_000),
            rng.between(1_000_000_000, 4_000_000_000),
            rng.between(100_000_000, 999_999_999)
        );
        let mut users = Vec::new();
        for &name in USERS {
            if rng.chance(0.7) {
                users.push(User {
                    name,
                    sid: format!("{sid_base}-{}", rng.between(1100, 9999)),
                    aad_id: rng.guid(),
                });
            }
        }
        let users = if users.is_empty() {
            vec![User {
                name: "jdoe",
                sid: format!("{sid_base}-1124"),
                aad_id: rng.guid(),
            }]
        } else {
            users
        };
        let dns_suffix = format!("{company}.local");
        let hosts = (0..rng.between(6, 14))
            .map(|_| {
                let (prefix, rbac) = *rng.pick(HOST_KINDS);
                Host {
                    name: format!("{prefix}-{:03}.{dns_suffix}", rng.between(1, 250)),
                    machine_id: rng.hex(40),
                    rbac,
                }
            })
            .collect();
        World {
            tenant_id: tenant_id.to_owned(),
            netbios: company.to_uppercase(),
            upn_suffix: format!("{company}.com"),
            users,
            hosts,
            next_incident: 1_000_000 + rng.below(900_000),
            next_investigation: 40_000 + rng.below(20_000),
        }
    }
}

/// A timestamp as the API writes it: UTC, `Z`, `digits` fractional digits.
pub(crate) fn fmt_time(nanos: i64, digits: u8) -> String {
    Timestamp::from_unix_nanos(nanos, digits).to_string()
}

/// The API writes anything from 0 to 7 fractional digits, mostly 7.
fn digits(rng: &mut Rng) -> u8 {
    if rng.chance(0.7) {
        7
    } else {
        rng.below(7) as u8
    }
}

fn time(rng: &mut Rng, nanos: i64) -> Value {
    Value::String(fmt_time(nanos, digits(rng)))
}

/// A new alert created at `created` and last updated at `last_update` (Unix nanoseconds), in
/// lifecycle state `status`; with probability `adversarial` it carries hostile strings.
pub(crate) fn alert(
    rng: &mut Rng,
    world: &mut World,
    created: i64,
    last_update: i64,
    status: Status,
    adversarial: f64,
) -> Value {
    // lastUpdateTime as written (its fraction digits truncate it); creation never comes after.
    let last_update_text = fmt_time(last_update, digits(rng));
    let written = Timestamp::parse(&last_update_text).map_or(last_update, |t| t.unix_nanos());
    let created = created.min(written);
    let sc = rng.pick(SCENARIOS);
    let host = rng.below(world.hosts.len() as u64) as usize;
    let user = rng.below(world.users.len() as u64) as usize;
    let (host, user) = (&world.hosts[host], &world.users[user]);
    world.next_incident += rng.below(3);
    let incident = world.next_incident;
    let investigation = if rng.chance(0.5) {
        world.next_investigation += 1;
        json!(world.next_investigation)
    } else {
        Value::Null
    };
    let first_event = created - rng.between(2 * SECOND, 40 * MINUTE);
    let last_event = first_event + rng.between(0, (created - first_event) / 2);
    let id = format!(
        "da{}_{}",
        created.div_euclid(100) + TICKS_AT_UNIX_EPOCH,
        rng.next_u64() as i32
    );
    let evidence = evidence_list(rng, world, sc, user, created);
    let description = sc.description.replace("this device", &host.name);
    let mut a = json!({
        "id": id,
        "incidentId": incident,
        "investigationId": investigation,
        "assignedTo": null,
        "severity": *rng.pick(&["Informational", "Low", "Medium", "Medium", "High", "High"]),
        "status": "New",
        "classification": null,
        "determination": null,
        "investigationState": *rng.pick(&["Queued", "Running", "UnsupportedAlertType"]),
        "detectionSource": sc.source,
        "detectorId": sc.detector,
        "category": sc.category,
        "threatFamilyName": sc.threat.map(|t| t.0),
        "title": sc.title,
        "description": description,
        "alertCreationTime": time(rng, created),
        "firstEventTime": time(rng, first_event),
        "lastEventTime": time(rng, last_event),
        "lastUpdateTime": last_update_text,
        "resolvedTime": null,
        "machineId": host.machine_id,
        "computerDnsName": host.name,
        "rbacGroupName": host.rbac,
        "aadTenantId": world.tenant_id,
        "threatName": sc.threat.map(|t| t.1),
        "mitreTechniques": sc.mitre,
        "relatedUser": if rng.chance(0.85) {
            json!({"userName": user.name, "domainName": world.netbios})
        } else {
            Value::Null
        },
        "loggedOnUsers": [{"accountName": user.name, "domainName": world.netbios}],
        "comments": [],
        "evidence": evidence,
    });
    let map = a.as_object_mut().expect("built as an object");
    if status != Status::New {
        advance(rng, map, Status::InProgress, created, written);
    }
    if status == Status::Resolved {
        advance(rng, map, Status::Resolved, created, written);
    }
    if rng.chance(adversarial) {
        adversarial::apply(rng, map);
    }
    a
}

/// The next version of an alert at `now`: one lifecycle step (New → InProgress → Resolved, then
/// comments and reclassification), sometimes new evidence, and `lastUpdateTime = now` with seven
/// fractional digits as the service writes it.
pub(crate) fn next_version(rng: &mut Rng, world: &World, prev: &Value, now: i64) -> Value {
    let mut next = prev.clone();
    let Some(map) = next.as_object_mut() else {
        return next;
    };
    let created = map
        .get("alertCreationTime")
        .and_then(Value::as_str)
        .and_then(|t| Timestamp::parse(t).ok())
        .map_or(now - MINUTE, |t| t.unix_nanos());
    let step = match map.get("status").and_then(Value::as_str) {
        Some("InProgress") => Status::Resolved,
        Some("Resolved") => {
            // A resolved alert still changes: a late comment, a reclassification.
            add_comment(rng, map, created.max(now - MINUTE), now);
            if rng.chance(0.3) {
                map.insert("classification".into(), json!("TruePositive"));
                map.insert("determination".into(), json!("MultiStagedAttack"));
            }
            Status::Resolved
        }
        _ => Status::InProgress,
    };
    if map.get("status").and_then(Value::as_str) != Some("Resolved") {
        advance(rng, map, step, created, now);
    }
    if rng.chance(0.25)
        && let Some(Value::Array(list)) = map.get_mut("evidence")
    {
        let user = &world.users[rng.below(world.users.len() as u64) as usize];
        let kind = *rng.pick(ALL_KINDS);
        list.push(evidence(rng, world, kind, 2, user, now));
    }
    map.insert("lastUpdateTime".into(), json!(fmt_time(now, 7)));
    next
}

/// Moves `map` to `to`, with the fields an analyst or automation changes on the way.
fn advance(rng: &mut Rng, map: &mut Map<String, Value>, to: Status, created: i64, at: i64) {
    match to {
        Status::New => {}
        Status::InProgress => {
            map.insert("status".into(), json!("InProgress"));
            map.insert("assignedTo".into(), json!(*rng.pick(ANALYSTS)));
            map.insert(
                "investigationState".into(),
                json!(*rng.pick(&["Running", "PendingApproval"])),
            );
            if rng.chance(0.4) {
                add_comment(rng, map, created, at);
            }
        }
        Status::Resolved => {
            let (class, det, state) = *rng.pick(&[
                ("TruePositive", "Malware", "SuccessfullyRemediated"),
                ("TruePositive", "MultiStagedAttack", "PartiallyRemediated"),
                ("FalsePositive", "Other", "Benign"),
                ("InformationalExpectedActivity", "SecurityTesting", "Benign"),
                ("TruePositive", "UnwantedSoftware", "TerminatedBySystem"),
            ]);
            map.insert("status".into(), json!("Resolved"));
            map.insert("classification".into(), json!(class));
            map.insert("determination".into(), json!(det));
            map.insert("investigationState".into(), json!(state));
            let resolved = at - rng.between(0, (at - created).clamp(0, SECOND));
            map.insert("resolvedTime".into(), time(rng, resolved));
            if map.get("assignedTo").is_none_or(Value::is_null) {
                map.insert("assignedTo".into(), json!(*rng.pick(ANALYSTS)));
            }
            if rng.chance(0.5) {
                add_comment(rng, map, created, at);
            }
        }
    }
}

fn add_comment(rng: &mut Rng, map: &mut Map<String, Value>, from: i64, to: i64) {
    let mut text = (*rng.pick(COMMENTS)).to_owned();
    if text.ends_with('-') {
        text.push_str(&rng.between(10_000, 99_999).to_string());
    }
    let at = rng.between(from, to.max(from));
    let comment = json!({
        "comment": text,
        "createdBy": *rng.pick(&ANALYSTS[..3]),
        "createdTime": time(rng, at),
    });
    match map.get_mut("comments") {
        Some(Value::Array(list)) => list.push(comment),
        _ => {
            map.insert("comments".into(), json!([comment]));
        }
    }
}

fn evidence_list(rng: &mut Rng, world: &World, sc: &Scenario, user: &User, at: i64) -> Value {
    let n = rng.between(1, 8) as usize;
    let mut kinds: Vec<Kind> = sc.evidence.iter().copied().take(n).collect();
    while kinds.len() < n {
        kinds.push(*rng.pick(ALL_KINDS));
    }
    let mut t = at + rng.between(0, SECOND);
    let items = kinds
        .into_iter()
        .map(|k| {
            t += rng.between(0, 5_000_000);
            evidence(rng, world, k, sc.process, user, t)
        })
        .collect();
    Value::Array(items)
}

/// One evidence item: every field present, null unless the entity type has it (as the API does).
fn evidence(
    rng: &mut Rng,
    world: &World,
    kind: Kind,
    process: usize,
    user: &User,
    at: i64,
) -> Value {
    let mut e = json!({
        "entityType": format!("{kind:?}"),
        "evidenceCreationTime": time(rng, at),
        "sha1": null, "sha256": null, "fileName": null, "filePath": null,
        "processId": null, "processCommandLine": null, "processCreationTime": null,
        "parentProcessId": null, "parentProcessCreationTime": null,
        "parentProcessFileName": null, "parentProcessFilePath": null,
        "ipAddress": null, "url": null,
        "registryKey": null, "registryHive": null, "registryValueType": null, "registryValue": null,
        "accountName": null, "domainName": null, "userSid": null, "aadUserId": null,
        "userPrincipalName": null, "detectionStatus": null,
    });
    let m = e.as_object_mut().expect("built as an object");
    let mut set = |k: &str, v: Value| {
        m.insert(k.to_owned(), v);
    };
    let detection = *rng.pick(&["Detected", "Blocked", "Prevented", "Remediated"]);
    match kind {
        Kind::File => {
            let (name, dir) = *rng.pick(FILES);
            set("sha1", json!(rng.hex(40)));
            set("sha256", json!(rng.hex(64)));
            set("fileName", json!(name));
            set("filePath", json!(dir.replace("{u}", user.name)));
            set("detectionStatus", json!(detection));
        }
        Kind::Process => {
            let (name, dir, cmd) = PROCESSES[process % PROCESSES.len()];
            let (pname, pdir) = *rng.pick(PARENTS);
            let started = at - rng.between(SECOND, 30 * MINUTE);
            set("sha1", json!(rng.hex(40)));
            set("sha256", json!(rng.hex(64)));
            set("fileName", json!(name));
            set("filePath", json!(dir));
            set("processId", json!(rng.between(500, 20_000)));
            set("processCommandLine", json!(cmd.replace("{u}", user.name)));
            set("processCreationTime", time(rng, started));
            set("parentProcessId", json!(rng.between(400, 12_000)));
            let parent_started = started - rng.between(SECOND, 600 * MINUTE);
            set("parentProcessCreationTime", time(rng, parent_started));
            set("parentProcessFileName", json!(pname));
            set("parentProcessFilePath", json!(pdir));
            if rng.chance(0.7) {
                set("detectionStatus", json!(detection));
            }
        }
        Kind::User => {
            set("accountName", json!(user.name));
            set("domainName", json!(world.netbios));
            set("userSid", json!(user.sid));
            set("aadUserId", json!(user.aad_id));
            set(
                "userPrincipalName",
                json!(format!("{}@{}", user.name, world.upn_suffix)),
            );
        }
        Kind::Ip => {
            let ip = if rng.chance(0.6) {
                format!("203.0.113.{}", rng.between(1, 254))
            } else {
                format!("10.20.{}.{}", rng.between(0, 15), rng.between(1, 254))
            };
            set("ipAddress", json!(ip));
        }
        Kind::Url => set("url", json!(*rng.pick(URLS))),
        Kind::Registry => {
            let (key, hive, ty, value) = *rng.pick(REGISTRY);
            set("registryKey", json!(key));
            set("registryHive", json!(hive));
            set("registryValueType", json!(ty));
            set("registryValue", json!(value.replace("{u}", user.name)));
        }
    }
    e
}
