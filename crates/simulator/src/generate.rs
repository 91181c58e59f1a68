//! Realistic alerts, generated from a seed: the fields, shapes and value spaces of docs/alerts-api.md
//! and `examples/alerts/realistic-page.json`, including the lifecycle of later versions.

use std::borrow::Cow;
use std::ops::Range;

use super::adversarial;
use super::catalog::*;
use super::doc::{Ev, Evidence, Obj, V, truncate};
use super::drawn::{Comment, Drawn, Lifecycle};
use super::meta::{Meta, Metas, timestamp};
use super::rng::Rng;
use super::write;
use siemfwd_time::Timestamp;

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
/// of a tenant look like they come from one organisation. It never changes once made; alerts
/// borrow their names from it.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) tenant_id: String,
    pub(crate) netbios: String,
    upn_suffix: String,
    users: Vec<User>,
    hosts: Vec<Host>,
    /// The ids before the first alert.
    pub(crate) start: Counters,
}

/// The last incident and investigation ids handed out in a tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Counters {
    pub(crate) incident: u64,
    pub(crate) investigation: u64,
}

#[derive(Debug)]
pub(crate) struct User {
    pub(crate) name: &'static str,
    sid: String,
    aad_id: String,
}

#[derive(Debug)]
pub(crate) struct Host {
    pub(crate) name: String,
    pub(crate) machine_id: String,
    pub(crate) rbac: &'static str,
}

impl World {
    /// The company of tenant number `index` (0-based), deterministic from `rng`, and its first
    /// ids.
    pub(crate) fn new(rng: &mut Rng, index: usize, tenant_id: &str) -> (Self, Counters) {
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
        let counters = Counters {
            incident: 1_000_000 + rng.below(900_000),
            investigation: 40_000 + rng.below(20_000),
        };
        let world = World {
            tenant_id: tenant_id.to_owned(),
            netbios: company.to_uppercase(),
            upn_suffix: format!("{company}.com"),
            users,
            hosts,
            start: counters,
        };
        (world, counters)
    }
}

/// The API writes anything from 0 to 7 fractional digits, mostly 7.
fn digits(rng: &mut Rng) -> u8 {
    if rng.chance(0.7) {
        7
    } else {
        rng.below(7) as u8
    }
}

fn time<'a>(rng: &mut Rng, nanos: i64) -> V<'a> {
    V::Time(nanos, digits(rng))
}

/// One of `words`.
fn word(rng: &mut Rng, words: &[&'static str]) -> &'static str {
    words[rng.below(words.len() as u64) as usize]
}

/// `rng.hex(len)`, written when the alert is.
fn hex<'a>(rng: &mut Rng, len: u8) -> V<'a> {
    let v = V::Hex(rng.state(), len);
    rng.skip(u64::from(len));
    v
}

/// `text` with `{u}` replaced by the user name.
fn for_user<'a>(text: &'a str, user: &User) -> V<'a> {
    if text.contains("{u}") {
        V::owned(text.replace("{u}", user.name))
    } else {
        V::str(text)
    }
}

/// A generated alert: drawn, or made adversarial (then an object). One lives at a time, briefly:
/// its size does not matter.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Generated<'w> {
    Drawn(Drawn<'w>),
    Obj(Obj<'w>),
}

impl Generated<'_> {
    pub(crate) fn id(&self) -> &str {
        match self {
            Generated::Drawn(d) => &d.id,
            Generated::Obj(o) => o.str("id").unwrap_or_default(),
        }
    }

    pub(crate) fn set_id(&mut self, id: String) {
        match self {
            Generated::Drawn(d) => d.id = id,
            Generated::Obj(o) => o.set("id", V::owned(id)),
        }
    }

    pub(crate) fn last_update_time(&self) -> Option<Timestamp> {
        match self {
            Generated::Drawn(d) => Some(d.last_update_time()),
            Generated::Obj(o) => o.get("lastUpdateTime").and_then(timestamp),
        }
    }

    /// Writes the alert as the API serves it; returns where its `evidence` value is.
    pub(crate) fn write(&self, out: &mut Vec<u8>, expand: bool) -> Option<Range<usize>> {
        match self {
            Generated::Drawn(d) => Some(d.write(out, expand)),
            Generated::Obj(o) => write::write_alert(out, o, expand),
        }
    }

    /// What `$filter` reads of it.
    pub(crate) fn meta(&self, metas: &mut Metas, last_update: i64) -> Meta {
        match self {
            Generated::Drawn(d) => {
                let fields = d.fields();
                metas.add(fields.iter().map(|(k, v)| (*k, v)), last_update)
            }
            Generated::Obj(o) => metas.add(o.0.iter().map(|(k, v)| (k.as_ref(), v)), last_update),
        }
    }
}

/// A new alert created at `created` and last updated at `last_update` (Unix nanoseconds), in
/// lifecycle state `status`; with probability `adversarial` it carries hostile strings. The
/// same `rng` state and `counters` give the same alert.
pub(crate) fn alert<'w>(
    rng: &mut Rng,
    world: &'w World,
    counters: &mut Counters,
    created: i64,
    last_update: i64,
    status: Status,
    adversarial: f64,
) -> Generated<'w> {
    // lastUpdateTime as written (its fraction digits truncate it); creation never comes after.
    let last_update_digits = digits(rng);
    let written = truncate(last_update, last_update_digits);
    let created = created.min(written);
    let sc = rng.pick(SCENARIOS);
    let host = rng.below(world.hosts.len() as u64) as usize;
    let user = rng.below(world.users.len() as u64) as usize;
    let (host, user) = (&world.hosts[host], &world.users[user]);
    counters.incident += rng.below(3);
    let incident = counters.incident;
    let investigation = if rng.chance(0.5) {
        counters.investigation += 1;
        Some(counters.investigation)
    } else {
        None
    };
    let first_event = created - rng.between(2 * SECOND, 40 * MINUTE);
    let last_event = first_event + rng.between(0, (created - first_event) / 2);
    let id = format!(
        "da{}_{}",
        created.div_euclid(100) + TICKS_AT_UNIX_EPOCH,
        rng.next_u64() as i32
    );
    let evidence = evidence_list(rng, world, sc, user, created);
    let description = if sc.description.contains("this device") {
        Cow::Owned(sc.description.replace("this device", &host.name))
    } else {
        Cow::Borrowed(sc.description)
    };
    let severity = word(
        rng,
        &["Informational", "Low", "Medium", "Medium", "High", "High"],
    );
    let investigation_state = word(rng, &["Queued", "Running", "UnsupportedAlertType"]);
    let created_at = (created, digits(rng));
    let first_event = (first_event, digits(rng));
    let last_event = (last_event, digits(rng));
    let related_user = rng.chance(0.85);
    let mut a = Drawn {
        id,
        incident,
        investigation,
        assigned_to: None,
        severity,
        status: "New",
        classification: None,
        determination: None,
        investigation_state,
        sc,
        description,
        created: created_at,
        first_event,
        last_event,
        last_update: (last_update, last_update_digits),
        resolved: None,
        world,
        host,
        user,
        related_user,
        comments: Vec::new(),
        evidence,
    };
    if status != Status::New {
        advance(rng, &mut a, Status::InProgress, created, written);
    }
    if status == Status::Resolved {
        advance(rng, &mut a, Status::Resolved, created, written);
    }
    if rng.chance(adversarial) {
        let mut o = a.to_obj();
        adversarial::apply(rng, &mut o);
        Generated::Obj(o)
    } else {
        Generated::Drawn(a)
    }
}

/// The next version of an alert at `now`: one lifecycle step (New → InProgress → Resolved, then
/// comments and reclassification), sometimes new evidence, and `lastUpdateTime = now` with seven
/// fractional digits as the service writes it.
pub(crate) fn next_version<'w>(
    rng: &mut Rng,
    world: &'w World,
    prev: Obj<'w>,
    now: i64,
) -> Obj<'w> {
    let mut map = prev;
    let created = map.time("alertCreationTime").unwrap_or(now - MINUTE);
    let step = match map.str("status") {
        Some("InProgress") => Status::Resolved,
        Some("Resolved") => {
            // A resolved alert still changes: a late comment, a reclassification.
            add_comment(rng, &mut map, created.max(now - MINUTE), now);
            if rng.chance(0.3) {
                map.set("classification", V::str("TruePositive"));
                map.set("determination", V::str("MultiStagedAttack"));
            }
            Status::Resolved
        }
        _ => Status::InProgress,
    };
    if map.str("status") != Some("Resolved") {
        advance(rng, &mut map, step, created, now);
    }
    if rng.chance(0.25)
        && let Some(list @ (V::List(_) | V::Evidences(_))) = map.get_mut("evidence")
    {
        let user = &world.users[rng.below(world.users.len() as u64) as usize];
        let kind = *rng.pick(ALL_KINDS);
        let e = evidence(rng, world, kind, 2, user, now);
        match list {
            V::Evidences(items) => items.push(e),
            V::List(items) => items.push(V::Evidence(Box::new(e))),
            _ => {}
        }
    }
    map.set("lastUpdateTime", V::Time(now, 7));
    map
}

/// Moves `a` to `to`, with the fields an analyst or automation changes on the way.
fn advance(rng: &mut Rng, a: &mut impl Lifecycle, to: Status, created: i64, at: i64) {
    match to {
        Status::New => {}
        Status::InProgress => {
            a.set_status("InProgress");
            a.set_assigned_to(word(rng, ANALYSTS));
            a.set_investigation_state(word(rng, &["Running", "PendingApproval"]));
            if rng.chance(0.4) {
                add_comment(rng, a, created, at);
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
            a.set_status("Resolved");
            a.set_classification(class);
            a.set_determination(det);
            a.set_investigation_state(state);
            let resolved = at - rng.between(0, (at - created).clamp(0, SECOND));
            a.set_resolved((resolved, digits(rng)));
            if !a.is_assigned() {
                a.set_assigned_to(word(rng, ANALYSTS));
            }
            if rng.chance(0.5) {
                add_comment(rng, a, created, at);
            }
        }
    }
}

fn add_comment(rng: &mut Rng, a: &mut impl Lifecycle, from: i64, to: i64) {
    let mut text = (*rng.pick(COMMENTS)).to_owned();
    if text.ends_with('-') {
        text.push_str(&rng.between(10_000, 99_999).to_string());
    }
    let at = rng.between(from, to.max(from));
    let by = word(rng, &ANALYSTS[..3]);
    let at = (at, digits(rng));
    a.add_comment(Comment { text, by, at });
}

fn evidence_list<'w>(
    rng: &mut Rng,
    world: &'w World,
    sc: &Scenario,
    user: &'w User,
    at: i64,
) -> Vec<Evidence<'w>> {
    let n = rng.between(1, 8) as usize;
    let mut kinds = [Kind::File; 8];
    for (i, slot) in kinds.iter_mut().enumerate().take(n) {
        *slot = match sc.evidence.get(i) {
            Some(k) => *k,
            None => *rng.pick(ALL_KINDS),
        };
    }
    let mut t = at + rng.between(0, SECOND);
    kinds[..n]
        .iter()
        .map(|&k| {
            t += rng.between(0, 5_000_000);
            evidence(rng, world, k, sc.process, user, t)
        })
        .collect()
}

/// One evidence item: every field present, null unless the entity type has it (as the API does).
fn evidence<'w>(
    rng: &mut Rng,
    world: &'w World,
    kind: Kind,
    process: usize,
    user: &'w User,
    at: i64,
) -> Evidence<'w> {
    let entity = match kind {
        Kind::File => "File",
        Kind::Process => "Process",
        Kind::User => "User",
        Kind::Ip => "Ip",
        Kind::Url => "Url",
        Kind::Registry => "Registry",
    };
    let mut e = Evidence::new();
    let mut set = |field: Ev, v: V<'w>| e.put(field, v);
    set(Ev::EntityType, V::str(entity));
    set(Ev::EvidenceCreationTime, time(rng, at));
    let detection = *rng.pick(&["Detected", "Blocked", "Prevented", "Remediated"]);
    match kind {
        Kind::File => {
            let (name, dir) = *rng.pick(FILES);
            set(Ev::Sha1, hex(rng, 40));
            set(Ev::Sha256, hex(rng, 64));
            set(Ev::FileName, V::str(name));
            set(Ev::FilePath, for_user(dir, user));
            set(Ev::DetectionStatus, V::str(detection));
        }
        Kind::Process => {
            let (name, dir, cmd) = PROCESSES[process % PROCESSES.len()];
            let (pname, pdir) = *rng.pick(PARENTS);
            let started = at - rng.between(SECOND, 30 * MINUTE);
            set(Ev::Sha1, hex(rng, 40));
            set(Ev::Sha256, hex(rng, 64));
            set(Ev::FileName, V::str(name));
            set(Ev::FilePath, V::str(dir));
            set(Ev::ProcessId, V::Int(rng.between(500, 20_000)));
            set(Ev::ProcessCommandLine, for_user(cmd, user));
            set(Ev::ProcessCreationTime, time(rng, started));
            set(Ev::ParentProcessId, V::Int(rng.between(400, 12_000)));
            let parent_started = started - rng.between(SECOND, 600 * MINUTE);
            set(Ev::ParentProcessCreationTime, time(rng, parent_started));
            set(Ev::ParentProcessFileName, V::str(pname));
            set(Ev::ParentProcessFilePath, V::str(pdir));
            if rng.chance(0.7) {
                set(Ev::DetectionStatus, V::str(detection));
            }
        }
        Kind::User => {
            set(Ev::AccountName, V::str(user.name));
            set(Ev::DomainName, V::str(&world.netbios));
            set(Ev::UserSid, V::str(&user.sid));
            set(Ev::AadUserId, V::str(&user.aad_id));
            let upn = format!("{}@{}", user.name, world.upn_suffix);
            set(Ev::UserPrincipalName, V::owned(upn));
        }
        Kind::Ip => {
            let ip = if rng.chance(0.6) {
                format!("203.0.113.{}", rng.between(1, 254))
            } else {
                format!("10.20.{}.{}", rng.between(0, 15), rng.between(1, 254))
            };
            set(Ev::IpAddress, V::owned(ip));
        }
        Kind::Url => set(Ev::Url, V::str(word(rng, URLS))),
        Kind::Registry => {
            let (key, hive, ty, value) = *rng.pick(REGISTRY);
            set(Ev::RegistryKey, V::str(key));
            set(Ev::RegistryHive, V::str(hive));
            set(Ev::RegistryValueType, V::str(ty));
            set(Ev::RegistryValue, for_user(value, user));
        }
    }
    e
}
