//! The forwarder's promise, end to end: every alert version a tenant has reaches the SIEM at
//! least once across restarts, crashes and SIEM outages; nothing is forged; duplicates come
//! only from batches in flight.
//!
//! The in-process simulator is the alerts API (live creations and updates, versions visible
//! late), a real rsyslog is the SIEM (mutual TLS, gtls, CEF decoded by liblognorm), and the
//! real `siemfwd run` runs as a child process. What arrived (`externalId`, `rt`, `cs3` of each
//! decoded event) is compared with the simulator's ground truth. The API serves only the
//! newest visible version of an alert, so a version replaced before any poll could see it (or
//! while the forwarder was down) cannot arrive: each alert's current version, and every older
//! one served for [`GAP`] while the forwarder ran, must (see `delivery::must_arrive`).
//!
//! `SIEMFWD_TEST_SEED` repeats a run's random kill moments; `SIEMFWD_KEEP_TEST_DIRS=1` keeps
//! the config, state, forwarder log and rsyslog output.

use crate::support;

#[path = "forwarder/cef.rs"]
mod cef;
#[path = "forwarder/delivery.rs"]
mod delivery;
#[path = "forwarder/graph_and_relp.rs"]
mod graph_and_relp;
#[path = "forwarder/harness.rs"]
mod harness;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use delivery::{
    Incident, Key, Verdict, ground_truth, judge, must_arrive, read_received, settled_mark,
    wait_for_history, wait_for_live,
};
use harness::{Env, Rng, Uptime, plus, start_simulator, tls_output, wall_now};
use siemfwd::alert::Timestamp;
use siemfwd_simulator::{LiveConfig, Simulator};
use support::rsyslog::{Rsyslog, RsyslogOpts};
use tokio::time::Instant;

/// A version served this long while the forwarder ran must have been fetched (polls every
/// second; the rest is slack for a loaded machine).
const GAP: Duration = Duration::from_secs(3);
/// Versions become visible up to this long after their lastUpdateTime (well inside the
/// overlap of 30 s).
const MAX_DELAY: Duration = Duration::from_secs(2);
/// Live changes per tenant: two a second.
const LIVE: LiveConfig = LiveConfig {
    changes_per_minute: 120.0,
    create_fraction: 0.4,
};

/// Stops the live changes, waits until a poll that started after the last of them became
/// visible has delivered (every tenant's cursor past it), then until everything that had to
/// arrive did and rsyslog fell quiet; the verdict.
async fn finish(
    sim: &Simulator,
    env: &Env,
    rs: &Rsyslog,
    uptime: &Uptime,
    incidents: &[Incident],
) -> Verdict {
    sim.stop_live();
    let stopped = wall_now();
    env.wait_for_cursors(
        plus(stopped, MAX_DELAY + Duration::from_millis(200)),
        Duration::from_secs(30),
    )
    .await;
    let truth = ground_truth(sim, &env.graph_tenants);
    let must = must_arrive(&truth, uptime, GAP);
    let received =
        delivery::wait_for_delivery(rs, &must, Duration::from_secs(15), Duration::from_secs(1))
            .await;
    judge(&truth, &must, received, incidents)
}

/// kill -9 of the running forwarder (the checkpoints read at once: nothing writes them any
/// more), and a new one started after a random pause.
async fn kill_9_and_restart(
    mut fwd: harness::Forwarder,
    env: &Env,
    rs: &Rsyslog,
    uptime: &mut Uptime,
    incidents: &mut Vec<Incident>,
    rng: &mut Rng,
) -> harness::Forwarder {
    fwd.assert_running(env);
    fwd.kill9();
    uptime.down();
    let checkpoints = env.checkpoints();
    incidents.push(Incident::Restart {
        mark: settled_mark(rs).await,
        clean: false,
        checkpoints,
    });
    tokio::time::sleep(rng.between(Duration::ZERO, Duration::from_millis(800))).await;
    let fwd = env.spawn();
    uptime.up();
    fwd
}

/// The checks every run shares: nothing missing, forged or undecodable.
/// No duplicate but those a kill or a receiver restart explains (batches in flight, records
/// unacknowledged), and none of a version the checkpoint already listed.
fn assert_duplicates_explained(verdict: &Verdict) {
    let d = &verdict.duplicates;
    assert!(
        d.unexplained.is_empty() && d.dedup_failed.is_empty(),
        "duplicates beyond the batches in flight: {}",
        verdict.details()
    );
}

fn assert_complete_and_genuine(verdict: &Verdict, env: &Env) {
    let problems = !verdict.missing.is_empty()
        || !verdict.forged.is_empty()
        || !verdict.undecodable.is_empty();
    assert!(
        !problems,
        "{}\nforwarder log:\n{}",
        verdict.details(),
        env.log_tail()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_run_loses_and_duplicates_nothing() {
    let started = Instant::now();
    let sim = start_simulator(2, 100, MAX_DELAY, 11).await;
    let rs = Rsyslog::start(RsyslogOpts::default());
    let env = Env::new("fwd-sigterm", &sim, &tls_output(&rs, ""));
    let history: BTreeSet<Key> = ground_truth(&sim, &env.graph_tenants).into_keys().collect();
    let mut uptime = Uptime::default();

    let mut fwd = env.spawn();
    uptime.up();
    wait_for_history(&sim, &rs, &env).await;
    sim.start_live(LIVE);
    wait_for_live(&rs, &history, 8, &env).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    let (status, took) = fwd.terminate(Duration::from_secs(12)).await;
    uptime.down();
    assert!(
        status.success(),
        "siemfwd run exited with {status} after SIGTERM\nforwarder log:\n{}",
        env.log_tail()
    );
    let incidents = vec![Incident::Restart {
        mark: settled_mark(&rs).await,
        clean: true,
        checkpoints: env.checkpoints(),
    }];
    assert_eq!(
        env.checkpoints().len(),
        env.tenants.len(),
        "every tenant has a checkpoint after a clean stop"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;

    let mut fwd = env.spawn();
    uptime.up();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let verdict = finish(&sim, &env, &rs, &uptime, &incidents).await;
    fwd.assert_running(&env);
    let (second, _) = fwd.terminate(Duration::from_secs(12)).await;
    eprintln!(
        "sigterm_run_loses_and_duplicates_nothing: SIGTERM exit {status} after {took:?}; {verdict}; {:.1}s",
        started.elapsed().as_secs_f64()
    );
    assert_complete_and_genuine(&verdict, &env);
    assert_eq!(
        verdict.duplicates.total(),
        0,
        "a clean stop must not cause duplicates: {}",
        verdict.details()
    );
    assert!(second.success(), "second run exited with {second}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_loses_nothing() {
    let started = Instant::now();
    let mut rng = Rng::from_env("kill_9_at_random_moments_loses_nothing");
    let sim = start_simulator(3, 100, MAX_DELAY, 12).await;
    let mut rs = Rsyslog::start(RsyslogOpts::default());
    let env = Env::new("fwd-kill9", &sim, &tls_output(&rs, ""));
    let mut uptime = Uptime::default();
    let mut incidents = Vec::new();

    let mut fwd = env.spawn();
    uptime.up();
    wait_for_history(&sim, &rs, &env).await;
    sim.start_live(LIVE);
    const KILLS: usize = 4;
    for k in 0..KILLS {
        tokio::time::sleep(rng.between(Duration::from_millis(1000), Duration::from_millis(4000)))
            .await;
        fwd = kill_9_and_restart(fwd, &env, &rs, &mut uptime, &mut incidents, &mut rng).await;
        if k == 1 {
            // The SIEM restarts under the running forwarder.
            tokio::time::sleep(rng.between(Duration::from_millis(300), Duration::from_secs(2)))
                .await;
            uptime.down();
            rs.stop();
            incidents.push(Incident::ReceiverRestart {
                mark: read_received(&rs).len(),
            });
            rs.restart();
            uptime.up();
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let verdict = finish(&sim, &env, &rs, &uptime, &incidents).await;
    fwd.assert_running(&env);
    eprintln!(
        "kill_9_at_random_moments_loses_nothing: {KILLS} kills, 1 rsyslog restart; {verdict}; {:.1}s",
        started.elapsed().as_secs_f64()
    );
    assert_complete_and_genuine(&verdict, &env);
    // A version the checkpoint lists is never sent again (regression: it was, when the API
    // wrote its lastUpdateTime with fewer than 7 fraction digits).
    assert_duplicates_explained(&verdict);
    let d = &verdict.duplicates;
    // At most what a tenant's overlap holds, per kill and tenant (2 changes/s for 30 s).
    let bound = KILLS * env.tenants.len() * 60;
    let after_kills = d.in_flight + d.dedup_failed.len();
    assert!(
        after_kills <= bound,
        "{after_kills} copies sent again after kills, more than {bound}: {verdict}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_outage_holds_the_cursor_and_everything_arrives_after() {
    let started = Instant::now();
    let sim = start_simulator(2, 100, MAX_DELAY, 13).await;
    let mut rs = Rsyslog::start(RsyslogOpts::default());
    let env = Env::new(
        "fwd-outage",
        &sim,
        &tls_output(&rs, "delivery_timeout = \"3s\"\n"),
    );
    let mut uptime = Uptime::default();
    let mut incidents = Vec::new();

    let mut fwd = env.spawn();
    uptime.up();
    wait_for_history(&sim, &rs, &env).await;
    sim.start_live(LIVE);
    tokio::time::sleep(Duration::from_secs(2)).await;

    uptime.down();
    rs.stop();
    let outage_from = wall_now();
    incidents.push(Incident::ReceiverRestart {
        mark: read_received(&rs).len(),
    });
    let log_before = env.log_text().len();
    // A window that was written before rsyslog went away may still be checkpointed.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let held = env.cursors();
    let shown = |c: &BTreeMap<String, Option<Timestamp>>| {
        c.iter()
            .map(|(t, c)| format!("{t} {}", c.map_or("none".into(), |c| c.to_string())))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let outage_end = Instant::now() + Duration::from_secs(9);
    let mut moved = Vec::new();
    while Instant::now() < outage_end {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = env.cursors();
        if now != held {
            moved.push(shown(&now));
        }
    }
    fwd.assert_running(&env);
    let outage_to = wall_now();
    let outage_log = env.log_text()[log_before..].to_owned();
    rs.restart();
    // The checkpoints move again once the backlog is delivered.
    let back = Instant::now();
    while env
        .cursors()
        .iter()
        .any(|(t, c)| c.is_none_or(|c| held[t].is_some_and(|h| c <= h)))
    {
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "the cursors did not move within 30 s of rsyslog's return: {:?}\nforwarder log:\n{}",
            env.cursors(),
            env.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    uptime.up();
    let recovered_after = back.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let verdict = finish(&sim, &env, &rs, &uptime, &incidents).await;
    fwd.assert_running(&env);
    let made_during: usize = ground_truth(&sim, &env.graph_tenants)
        .values()
        .filter(|v| v.last_update >= outage_from && v.last_update < outage_to)
        .count();
    eprintln!(
        "an_output_outage_holds_the_cursor_and_everything_arrives_after: {made_during} versions made \
         during the 10 s outage; cursors held at {}; moved again {:.1}s after rsyslog's return; \
         {verdict}; {:.1}s",
        shown(&held),
        recovered_after.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        moved.is_empty(),
        "the checkpoint moved while the output was down: held {}, then {moved:?}",
        shown(&held)
    );
    assert!(made_during > 0, "no live change happened during the outage");
    assert!(
        outage_log.contains("the checkpoint holds"),
        "the forwarder did not report the undelivered window during the outage:\n{outage_log}"
    );
    assert_complete_and_genuine(&verdict, &env);
    assert_duplicates_explained(&verdict);
}

/// `siemfwd replay` with `--stdout`: its lines, its stderr, its exit status.
fn replay(env: &Env, args: &[&str]) -> (Vec<String>, String, std::process::ExitStatus) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_siemfwd"))
        .arg("replay")
        .arg("--config")
        .arg(&env.config)
        .args(args)
        .output()
        .expect("run siemfwd replay");
    let stdout = String::from_utf8(out.stdout).expect("utf-8 records");
    (
        stdout.lines().map(str::to_owned).collect(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_of_a_window_equals_the_simulators_alerts_in_it() {
    let started = Instant::now();
    let sim = start_simulator(3, 150, Duration::ZERO, 14).await;
    // Replay prints on stdout; the configured output must not be used.
    let env = Env::new(
        "fwd-replay",
        &sim,
        "[[output]]\nname = \"unused\"\ntype = \"file\"\npath = \"unused.log\"\n",
    );
    let tenants = sim.tenants();
    // From one alert's lastUpdateTime (inclusive) to another's (exclusive), as the API wrote
    // them; more than an hour apart, so the range is fetched in several windows.
    let mut first: Vec<_> = sim
        .visible_alerts(&tenants[0].id, Timestamp::from_unix_nanos(0, 0), wall_now())
        .unwrap();
    first.sort_by_key(|v| v.last_update_time);
    let (from_v, to_v) = (&first[10], &first[first.len() - 10]);
    let (from, to) = (from_v.last_update_time, to_v.last_update_time);
    assert!(to.unix_nanos() - from.unix_nanos() > 3600 * 1_000_000_000);
    let text = |t: Timestamp| t.to_string();

    // All tenants, JSON: every field of every version, exactly as the API served it.
    let (lines, stderr, status) = replay(
        &env,
        &[
            "--from",
            &text(from),
            "--to",
            &text(to),
            "--stdout",
            "--format",
            "json",
        ],
    );
    assert!(status.success(), "replay failed ({status}):\n{stderr}");
    let mut got: BTreeMap<(String, String, String), serde_json::Value> = BTreeMap::new();
    for line in &lines {
        let mut alert: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("replay printed a line that is not JSON ({e}): {line}"));
        let obj = alert.as_object_mut().unwrap();
        let tenant = obj.shift_remove("tenantName").unwrap();
        let tenant_id = obj.shift_remove("tenantId").unwrap();
        let key = (
            tenant.as_str().unwrap().to_owned(),
            obj["id"].as_str().unwrap().to_owned(),
            obj["lastUpdateTime"].as_str().unwrap().to_owned(),
        );
        let info = tenants.iter().find(|t| t.name == key.0).unwrap();
        assert_eq!(tenant_id.as_str(), Some(info.id.as_str()), "{key:?}");
        assert!(
            got.insert(key.clone(), alert).is_none(),
            "printed twice: {key:?}"
        );
    }
    let mut expected = BTreeMap::new();
    for t in &tenants {
        for v in sim.visible_alerts(&t.id, from, to).unwrap() {
            let written = v.last_update_time.to_string();
            expected.insert((t.name.clone(), v.id.clone(), written), (*v.json).clone());
        }
    }
    let missing: Vec<_> = expected.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: Vec<_> = got.keys().filter(|k| !expected.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "replay of [{from}, {to}): {} expected, {} printed; missing {missing:?}; not in the range or \
         not the tenant's {extra:?}\n{stderr}",
        expected.len(),
        got.len()
    );
    for (key, alert) in &got {
        assert!(alert == &expected[key], "{key:?} differs from the API's");
    }
    let from_key = (tenants[0].name.clone(), from_v.id.clone(), text(from));
    assert!(got.contains_key(&from_key), "--from is inclusive");
    assert!(
        !got.keys().any(|k| k.1 == to_v.id && k.0 == tenants[0].name),
        "--to is exclusive"
    );
    assert!(
        !env.state_dir.join("checkpoints").exists(),
        "replay created the checkpoint folder"
    );
    assert!(
        !env.dir.join("unused.log").exists(),
        "--stdout also sent to the output"
    );

    // One tenant, CEF (the default), with a checkpoint on disk that must stay as it is.
    let name = &tenants[1].name;
    let cp = env.checkpoint_path(name);
    std::fs::create_dir_all(cp.parent().unwrap()).unwrap();
    let cp_text = format!(
        "{{\"tenant_id\":\"{}\",\"cursor\":\"2020-01-01T00:00:00.0000000Z\",\"recent\":[],\"updated_at\":\"2020-01-01T00:00:00.000Z\"}}",
        tenants[1].id
    );
    std::fs::write(&cp, &cp_text).unwrap();
    let mtime = std::fs::metadata(&cp).unwrap().modified().unwrap();
    let (lines, stderr, status) = replay(
        &env,
        &[
            "--from",
            &text(from),
            "--to",
            &text(to),
            "--stdout",
            "--tenant",
            name,
        ],
    );
    assert!(
        status.success(),
        "replay --tenant failed ({status}):\n{stderr}"
    );
    let mut seen = BTreeMap::new();
    for line in &lines {
        let f = cef::extension(line).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            &f["cs3"], name,
            "--tenant {name} printed another tenant: {line}"
        );
        let key = (f["externalId"].clone(), f["rt"].parse::<i64>().unwrap());
        *seen.entry(key).or_insert(0) += 1;
    }
    let want: BTreeSet<(String, i64)> = sim
        .visible_alerts(&tenants[1].id, from, to)
        .unwrap()
        .iter()
        .map(|v| (v.id.clone(), v.last_update_time.unix_millis()))
        .collect();
    let once: BTreeSet<(String, i64)> = seen.keys().cloned().collect();
    assert_eq!(once, want, "--tenant {name}: the versions printed");
    assert!(
        seen.values().all(|&n| n == 1),
        "printed more than once: {seen:?}"
    );
    assert_eq!(
        std::fs::read_to_string(&cp).unwrap(),
        cp_text,
        "checkpoint changed"
    );
    assert_eq!(std::fs::metadata(&cp).unwrap().modified().unwrap(), mtime);
    let entries: Vec<_> = std::fs::read_dir(cp.parent().unwrap()).unwrap().collect();
    assert_eq!(entries.len(), 1, "replay wrote into the checkpoint folder");
    eprintln!(
        "replay_of_a_window_equals_the_simulators_alerts_in_it: {} versions of 3 tenants, {} of \
         {name}; {:.1}s",
        got.len(),
        want.len(),
        started.elapsed().as_secs_f64()
    );
}
