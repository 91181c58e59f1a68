//! What the SIEM received (rsyslog's decoded CEF), what the simulator made (its ground truth),
//! and the comparison: which versions had to arrive, which are missing, forged, undecodable or
//! duplicated, and what explains each duplicate.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use siemfwd::alert::Timestamp;
use siemfwd_simulator::Simulator;
use tokio::time::Instant;

use super::harness::{Cp, Env, OVERLAP, Uptime};
use crate::support::cef_check::lognorm_result;
use crate::support::files::read_lines;
use crate::support::rsyslog::Rsyslog;

/// One alert version as the SIEM identifies it: tenant name (`cs3`), alert id (`externalId`),
/// lastUpdateTime in epoch milliseconds (`rt`).
pub type Key = (String, String, i64);

/// What rsyslog wrote to `parsed.jsonl`, in arrival order.
#[derive(Debug, Default)]
pub struct Received {
    /// One per decoded event, in order.
    pub events: Vec<Key>,
    /// Messages liblognorm could not decode as CEF, or CEF without the keys (cut to 300 chars).
    pub undecodable: Vec<String>,
}

impl Received {
    pub fn distinct(&self) -> BTreeSet<&Key> {
        self.events.iter().collect()
    }

    /// Messages received so far, decodable or not.
    pub fn len(&self) -> usize {
        self.events.len() + self.undecodable.len()
    }
}

/// Reads `out/parsed.jsonl`: every message should be a CEF record that liblognorm decodes.
pub fn read_received(rs: &Rsyslog) -> Received {
    let mut r = Received::default();
    for line in read_lines(&rs.parsed_jsonl()) {
        let msg: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("parsed.jsonl line is not JSON ({e}): {line}"));
        let raw = || {
            let s = msg["rawmsg"].as_str().unwrap_or_default();
            s.chars().take(300).collect::<String>()
        };
        let decoded = lognorm_result(&msg, "cefparse", "CEF").and_then(|cp| {
            let ext = &cp["cef"]["Extensions"];
            let field = |k: &str| {
                ext[k]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("no {k}"))
            };
            let rt = field("rt")?
                .parse::<i64>()
                .map_err(|e| format!("rt: {e}"))?;
            Ok((field("cs3")?, field("externalId")?, rt))
        });
        match decoded {
            Ok(key) => r.events.push(key),
            Err(e) => r.undecodable.push(format!("{e}: {}", raw())),
        }
    }
    r
}

/// rsyslog's messages so far, once the forwarder is gone and rsyslog has written what it read.
pub async fn settled_mark(rs: &Rsyslog) -> usize {
    tokio::time::sleep(Duration::from_millis(400)).await;
    read_received(rs).len()
}

/// Waits until every version the simulator holds now has arrived (the initial history).
pub async fn wait_for_history(sim: &Simulator, rs: &Rsyslog, env: &Env) {
    let want: BTreeSet<Key> = ground_truth(sim, &env.graph_tenants).into_keys().collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = read_received(rs);
        let have = got.distinct();
        let missing = want.iter().filter(|k| !have.contains(k)).count();
        if missing == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} of {} initial versions did not arrive within 30 s\nforwarder log:\n{}",
            want.len(),
            env.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until at least `n` versions made by live changes have arrived.
pub async fn wait_for_live(rs: &Rsyslog, history: &BTreeSet<Key>, n: usize, env: &Env) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = read_received(rs);
        let live = got
            .distinct()
            .into_iter()
            .filter(|k| !history.contains(*k))
            .count();
        if live >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {live} live versions arrived within 20 s\nforwarder log:\n{}",
            env.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One version the simulator made.
#[derive(Debug, Clone)]
pub struct Version {
    pub last_update: Timestamp,
    /// lastUpdateTime as the API writes it (0 to 7 fraction digits).
    pub written: String,
    /// 1 as created, then 2, 3, ...
    pub number: u32,
    /// When the API started to serve it.
    pub visible: Instant,
    /// When the API served a newer version of the alert instead (`None`: still current).
    pub superseded: Option<Instant>,
}

/// Every version of every tenant of the simulator, by key. A tenant of `graph` (read through
/// Graph) also has the other products' alert that rides on a version, with its times.
pub fn ground_truth(
    sim: &Simulator,
    graph: &std::collections::BTreeSet<String>,
) -> BTreeMap<Key, Version> {
    let mut all = BTreeMap::new();
    for t in sim.tenants() {
        let history = sim.ground_truth(&t.id).unwrap();
        let mut by_alert: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, v) in history.iter().enumerate() {
            by_alert.entry(v.id.as_str()).or_default().push(i);
        }
        for versions in by_alert.values() {
            for (k, &i) in versions.iter().enumerate() {
                let v = &history[i];
                let superseded = versions[k + 1..]
                    .iter()
                    .map(|&j| history[j].visible_at)
                    .min();
                let key = (
                    t.name.clone(),
                    v.id.clone(),
                    v.last_update_time.unix_millis(),
                );
                let version = Version {
                    last_update: v.last_update_time,
                    written: v.last_update_time.to_string(),
                    number: v.version,
                    visible: v.visible_at,
                    superseded,
                };
                if graph.contains(&t.name) {
                    for companion in siemfwd_simulator::to_graph(&v.json).iter().skip(1) {
                        let id = companion["id"].as_str().unwrap().to_owned();
                        let key = (t.name.clone(), id, key.2);
                        let old = all.insert(key.clone(), version.clone());
                        assert!(old.is_none(), "two versions share {key:?}");
                    }
                }
                let old = all.insert(key.clone(), version);
                assert!(old.is_none(), "two versions share {key:?}");
            }
        }
    }
    all
}

/// The versions that must reach the SIEM: each alert's current one, and every earlier one the
/// API served for at least `gap` while the forwarder was running. (The API serves only an
/// alert's newest visible version; one replaced between two polls, or while the forwarder was
/// down, was never there to fetch.)
pub fn must_arrive(
    truth: &BTreeMap<Key, Version>,
    uptime: &Uptime,
    gap: Duration,
) -> BTreeSet<Key> {
    truth
        .iter()
        .filter(|(_, v)| {
            v.superseded.is_none()
                || (v.visible < v.superseded.unwrap()
                    && uptime.covers(v.visible, v.superseded, gap))
        })
        .map(|(k, _)| k.clone())
        .collect()
}

/// Polls rsyslog's output until every key of `must` arrived (or `timeout`), then until no new
/// message came for `settle` (late duplicates); returns what was received.
pub async fn wait_for_delivery(
    rs: &Rsyslog,
    must: &BTreeSet<Key>,
    timeout: Duration,
    settle: Duration,
) -> Received {
    let deadline = Instant::now() + timeout;
    loop {
        let got = read_received(rs);
        let have = got.distinct();
        if must.iter().all(|k| have.contains(k)) || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut last = read_received(rs).len();
    let mut since = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let n = read_received(rs).len();
        if n != last {
            (last, since) = (n, Instant::now());
        } else if since.elapsed() >= settle {
            return read_received(rs);
        }
    }
}

/// Something that may make the SIEM see a version again.
#[derive(Debug)]
pub enum Incident {
    /// The forwarder stopped (SIGTERM when `clean`, else kill -9) with `checkpoints` on disk,
    /// after rsyslog had written `mark` messages.
    Restart {
        mark: usize,
        clean: bool,
        checkpoints: BTreeMap<String, Cp>,
    },
    /// rsyslog was stopped after writing `mark` messages, then started again.
    ReceiverRestart { mark: usize },
}

impl Incident {
    fn mark(&self) -> usize {
        match self {
            Incident::Restart { mark, .. } | Incident::ReceiverRestart { mark } => *mark,
        }
    }
}

/// Why a version arrived more than once.
#[derive(Debug, Default)]
pub struct Duplicates {
    /// Copies sent again after a kill -9 because their window had not been checkpointed.
    pub in_flight: usize,
    /// Copies resent by the TLS output after rsyslog was restarted (its resend window).
    pub receiver_replay: usize,
    /// Copies sent again although the checkpoint on disk listed them as delivered.
    pub dedup_failed: Vec<DedupFailure>,
    /// Copies nothing explains.
    pub unexplained: Vec<String>,
}

/// A copy sent again after a restart although the checkpoint listed it as delivered.
#[derive(Debug)]
pub struct DedupFailure {
    /// What was sent again, with the fraction digits of its lastUpdateTime as the API wrote it.
    pub message: String,
}

/// Fraction digits of an RFC 3339 time as written (`...:07Z` 0, `...:07.733Z` 3).
pub fn fraction_digits(written: &str) -> usize {
    written
        .split_once('.')
        .map_or(0, |(_, f)| f.trim_end_matches('Z').len())
}

impl Duplicates {
    pub fn total(&self) -> usize {
        self.in_flight + self.receiver_replay + self.dedup_failed.len() + self.unexplained.len()
    }
}

/// The comparison of what arrived with what had to.
pub struct Verdict {
    pub truth: usize,
    pub must: usize,
    pub received: usize,
    pub distinct: usize,
    /// Had to arrive, did not.
    pub missing: Vec<String>,
    /// Versions replaced before the forwarder could see them: how many, and how many of them
    /// arrived anyway.
    pub unobservable: usize,
    pub unobservable_arrived: usize,
    /// Arrived, but the simulator never made them.
    pub forged: Vec<Key>,
    pub undecodable: Vec<String>,
    pub duplicates: Duplicates,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.duplicates;
        write!(
            f,
            "{} versions made, {} had to arrive, {} messages received ({} distinct versions); \
             missing {}, forged {}, undecodable {}; {} replaced before they could be seen \
             ({} arrived anyway); duplicates {} (in flight at a kill {}, resent after the rsyslog \
             restart {}, sent again although checkpointed {}, unexplained {})",
            self.truth,
            self.must,
            self.received,
            self.distinct,
            self.missing.len(),
            self.forged.len(),
            self.undecodable.len(),
            self.unobservable,
            self.unobservable_arrived,
            d.total(),
            d.in_flight,
            d.receiver_replay,
            d.dedup_failed.len(),
            d.unexplained.len(),
        )
    }
}

impl Verdict {
    /// The first few problems of each kind, for assertion messages.
    pub fn details(&self) -> String {
        let show = |what: &str, items: &[String]| {
            if items.is_empty() {
                String::new()
            } else {
                let first: Vec<&str> = items.iter().take(8).map(String::as_str).collect();
                format!("\n{what} ({}):\n  {}", items.len(), first.join("\n  "))
            }
        };
        let forged: Vec<String> = self.forged.iter().map(|k| format!("{k:?}")).collect();
        let dedup: Vec<String> = self
            .duplicates
            .dedup_failed
            .iter()
            .map(|f| f.message.clone())
            .collect();
        format!(
            "{self}{}{}{}{}{}",
            show("missing", &self.missing),
            show("forged", &forged),
            show("undecodable", &self.undecodable),
            show("sent again although checkpointed", &dedup),
            show("unexplained duplicates", &self.duplicates.unexplained),
        )
    }
}

/// Compares `received` with the simulator's `truth`; `incidents` in the order they happened.
pub fn judge(
    truth: &BTreeMap<Key, Version>,
    must: &BTreeSet<Key>,
    received: Received,
    incidents: &[Incident],
) -> Verdict {
    let mut positions: BTreeMap<&Key, Vec<usize>> = BTreeMap::new();
    for (i, k) in received.events.iter().enumerate() {
        positions.entry(k).or_default().push(i);
    }
    let missing = must
        .iter()
        .filter(|k| !positions.contains_key(k))
        .map(|k| describe(k, &truth[k]))
        .collect();
    let forged = positions
        .keys()
        .filter(|k| !truth.contains_key(*k))
        .map(|k| (*k).clone())
        .collect();
    let unobservable: Vec<&Key> = truth.keys().filter(|k| !must.contains(*k)).collect();
    let unobservable_arrived = unobservable
        .iter()
        .filter(|k| positions.contains_key(**k))
        .count();
    let mut duplicates = Duplicates::default();
    for (key, at) in &positions {
        let Some(version) = truth.get(*key) else {
            continue;
        };
        for pair in at.windows(2) {
            explain(key, version, pair[0], pair[1], incidents, &mut duplicates);
        }
    }
    Verdict {
        truth: truth.len(),
        must: must.len(),
        received: received.len(),
        distinct: positions.len(),
        missing,
        unobservable: unobservable.len(),
        unobservable_arrived,
        forged,
        undecodable: received.undecodable,
        duplicates,
    }
}

fn describe(key: &Key, v: &Version) -> String {
    format!(
        "{} {} version {} lastUpdateTime {}",
        key.0, key.1, v.number, v.written
    )
}

/// Files the copy at `again` of a version first seen at `before` under what explains it.
fn explain(
    key: &Key,
    v: &Version,
    before: usize,
    again: usize,
    incidents: &[Incident],
    d: &mut Duplicates,
) {
    let between = incidents
        .iter()
        .enumerate()
        .filter(|(_, i)| before < i.mark() && i.mark() <= again);
    let mut bug = None;
    for (n, incident) in between {
        match incident {
            Incident::ReceiverRestart { .. } => {
                d.receiver_replay += 1;
                return;
            }
            Incident::Restart {
                clean, checkpoints, ..
            } => {
                let what = if *clean { "SIGTERM" } else { "kill -9" };
                let Some(cp) = checkpoints.get(&key.0).filter(|c| c.cursor.is_some()) else {
                    if !clean {
                        d.in_flight += 1;
                        return;
                    }
                    bug.get_or_insert((
                        false,
                        format!("{} (no checkpoint at {what} #{n})", describe(key, v)),
                    ));
                    continue;
                };
                let cursor = cp.cursor.unwrap();
                let nanos = v.last_update.unix_nanos();
                if cp.recent.contains(&(key.1.clone(), nanos)) {
                    bug = Some((
                        true,
                        format!(
                            "{}: in the checkpoint's recent set at {what} #{n} (cursor {cursor}), sent again after the restart",
                            describe(key, v)
                        ),
                    ));
                } else if !clean && nanos >= cursor.unix_nanos() - OVERLAP.as_nanos() as i64 {
                    d.in_flight += 1;
                    return;
                } else {
                    bug.get_or_insert((
                        false,
                        format!(
                            "{}: not in the recent set at {what} #{n}, cursor {cursor}",
                            describe(key, v)
                        ),
                    ));
                }
            }
        }
    }
    match bug {
        Some((true, message)) => d.dedup_failed.push(DedupFailure {
            message: format!(
                "{message} (lastUpdateTime written with {} fraction digits)",
                fraction_digits(&v.written)
            ),
        }),
        Some((false, s)) => d.unexplained.push(s),
        None => d.unexplained.push(format!(
            "{}: received at messages {before} and {again}, no restart between",
            describe(key, v)
        )),
    }
}
