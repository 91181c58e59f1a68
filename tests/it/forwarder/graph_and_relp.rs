//! The forwarder's promise with the other source and the other kind of output: Graph tenants
//! beside MDE ones (issue 19), and a RELP output (issue 20), through kills with live changes.

use std::time::Duration;

use super::delivery::{Incident, read_received, settled_mark, wait_for_history};
use super::harness::{Env, Rng, Uptime, start_simulator, tls_output};
use super::support::rsyslog::{Rsyslog, RsyslogOpts};
use super::{
    LIVE, MAX_DELAY, assert_complete_and_genuine, assert_duplicates_explained, finish,
    kill_9_and_restart,
};
use tokio::time::Instant;

/// Issue 19: MDE and Graph tenants in one config, to one rsyslog over mutual TLS. Through a
/// SIGTERM and two kill -9s with live changes, every version of both arrives, the other
/// products' alerts that only Graph shows included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mde_and_graph_tenants_together_lose_nothing_through_sigterm_and_kill_9() {
    let started = Instant::now();
    let mut rng =
        Rng::from_env("mde_and_graph_tenants_together_lose_nothing_through_sigterm_and_kill_9");
    let sim = start_simulator(2, 100, MAX_DELAY, 13).await;
    let rs = Rsyslog::start(RsyslogOpts::default());
    let env = Env::with_graph("fwd-graph", &sim, &tls_output(&rs, ""), |i| i == 1);
    let mut uptime = Uptime::default();
    let mut incidents = Vec::new();

    let mut fwd = env.spawn();
    uptime.up();
    wait_for_history(&sim, &rs, &env).await;
    sim.start_live(LIVE);
    tokio::time::sleep(rng.between(Duration::from_secs(1), Duration::from_secs(3))).await;
    let (status, _) = fwd.terminate(Duration::from_secs(12)).await;
    uptime.down();
    assert!(
        status.success(),
        "siemfwd run exited with {status} after SIGTERM\nforwarder log:\n{}",
        env.log_tail()
    );
    incidents.push(Incident::Restart {
        mark: settled_mark(&rs).await,
        clean: true,
        checkpoints: env.checkpoints(),
    });
    fwd = env.spawn();
    uptime.up();
    for _ in 0..2 {
        tokio::time::sleep(rng.between(Duration::from_millis(1000), Duration::from_millis(3000)))
            .await;
        fwd = kill_9_and_restart(fwd, &env, &rs, &mut uptime, &mut incidents, &mut rng).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let verdict = finish(&sim, &env, &rs, &uptime, &incidents).await;
    fwd.assert_running(&env);
    let other_products = read_received(&rs)
        .distinct()
        .iter()
        .filter(|(tenant, id, _)| env.graph_tenants.contains(tenant) && id.starts_with("fa"))
        .count();
    eprintln!(
        "mde_and_graph_tenants_together_lose_nothing_through_sigterm_and_kill_9: 1 SIGTERM, 2 kills; {other_products} versions of other products' alerts; {verdict}; {:.1}s",
        started.elapsed().as_secs_f64()
    );
    assert_complete_and_genuine(&verdict, &env);
    assert_duplicates_explained(&verdict);
    assert!(
        other_products > 0,
        "the Graph tenant's other products arrived"
    );
}

/// Issue 20: the forwarder over RELP to rsyslog's imrelp (direct mode), with live changes,
/// through a kill -9 of rsyslog and one of the forwarder: nothing lost, and duplicates only
/// from records unacknowledged at a kill.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_relp_a_kill_9_of_the_receiver_or_the_forwarder_loses_nothing() {
    let started = Instant::now();
    let mut rng =
        Rng::from_env("over_relp_a_kill_9_of_the_receiver_or_the_forwarder_loses_nothing");
    let sim = start_simulator(2, 100, MAX_DELAY, 14).await;
    let mut rs = Rsyslog::start(RsyslogOpts::default());
    let output = format!(
        "[[output]]\nname = \"siem\"\ntype = \"relp\"\naddress = \"127.0.0.1:{}\"\n\
         reconnect_backoff = \"100ms\"\nreconnect_backoff_max = \"1s\"\n",
        rs.ports().relp
    );
    let env = Env::new("fwd-relp", &sim, &output);
    let mut uptime = Uptime::default();
    let mut incidents = Vec::new();
    let mut fwd = env.spawn();
    uptime.up();
    wait_for_history(&sim, &rs, &env).await;
    sim.start_live(LIVE);
    tokio::time::sleep(rng.between(Duration::from_millis(1000), Duration::from_millis(3000))).await;
    // The receiver dies without a word, with records on the wire.
    uptime.down();
    rs.kill9();
    incidents.push(Incident::ReceiverRestart {
        mark: read_received(&rs).len(),
    });
    tokio::time::sleep(rng.between(Duration::from_millis(200), Duration::from_millis(1500))).await;
    rs.restart();
    uptime.up();
    tokio::time::sleep(rng.between(Duration::from_millis(1000), Duration::from_millis(3000))).await;
    fwd = kill_9_and_restart(fwd, &env, &rs, &mut uptime, &mut incidents, &mut rng).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let verdict = finish(&sim, &env, &rs, &uptime, &incidents).await;
    fwd.assert_running(&env);
    eprintln!(
        "over_relp_a_kill_9_of_the_receiver_or_the_forwarder_loses_nothing: {verdict}; {:.1}s",
        started.elapsed().as_secs_f64()
    );
    assert_complete_and_genuine(&verdict, &env);
    assert_duplicates_explained(&verdict);
}
