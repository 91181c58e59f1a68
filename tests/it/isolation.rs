//! Tenants never wait for each other (issue 16): not for another tenant's slow answers (see
//! `fetch_simulator`), its throttling, nor an output that only other tenants are routed to.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

use siemfwd_simulator::{Simulator, SimulatorConfig, TenantKnobs};
use tokio::time::Instant;

use crate::support;
use crate::support::tempdir::TestDir;

/// Three tenants of 60 plain alerts, visible at once.
async fn simulator() -> Simulator {
    Simulator::start(
        "127.0.0.1:0".parse().unwrap(),
        SimulatorConfig {
            tenants: 3,
            alerts_per_tenant: 60,
            adversarial_fraction: 0.0,
            history: Duration::from_secs(1800),
            max_visibility_delay: Duration::ZERO,
            ..SimulatorConfig::default()
        },
    )
    .await
    .unwrap()
}

/// `siemfwd run` over the simulator's tenants, polling every second, with `outputs` (TOML) and
/// each tenant routed to `route(i)`. Its log goes to `dir/siemfwd.log`.
fn start_run(
    dir: &TestDir,
    sim: &Simulator,
    outputs: &str,
    route: impl Fn(usize) -> &'static str,
) -> Child {
    support::run::write_config(dir, sim, "", outputs, |i| Some(route(i)));
    support::run::spawn(dir, &[])
}

/// Waits until `file` has `want` lines: the first round of the third tenant, then, after the
/// other two are surely stuck, one more alert of it at its next poll. Each within 15 s, well
/// under what the other tenants wait for (60 s), which used to hold the pages all share.
async fn third_tenant_goes_on(sim: &Simulator, file: &Path, log: &Path) {
    let lines = || {
        std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .count()
    };
    let tenant = sim.tenants()[2].id.clone();
    let first = sim.ground_truth(&tenant).unwrap().len();
    for (want, what) in [
        (first, "the first round"),
        (first + 1, "a new alert at its next poll"),
    ] {
        let started = Instant::now();
        let deadline = started + Duration::from_secs(15);
        while lines() < want {
            assert!(
                Instant::now() < deadline,
                "{what} of the third tenant: {} of {want} records after {:?}:\n{}",
                lines(),
                started.elapsed(),
                std::fs::read_to_string(log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        eprintln!("{what} of the third tenant: {:?}", started.elapsed());
        // By now the other two tenants are stuck in their windows.
        tokio::time::sleep(Duration::from_secs(2)).await;
        sim.create_alert(&tenant).unwrap();
    }
}

/// Regression (issue 16): a window held its page, and with it one of the two pages all tenants
/// share, while its batches waited for an output. Two tenants routed to an output that is down
/// stopped every other tenant for `delivery_timeout` (60 s) at a time. Now the page goes before
/// the batches wait. (Small batches to the output that is down: each of its tenants has more of
/// them waiting than may be in flight, which is when a window waits on its output.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_routed_to_a_working_output_are_not_held_up_by_one_that_is_down() {
    let sim = simulator().await;
    let dir = TestDir::new("isolation-output-down");
    // A port nobody listens on: connections are refused for the whole test.
    let down = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let file: PathBuf = dir.join("file.log");
    let outputs = format!(
        "[[output]]\nname = \"down\"\ntype = \"tcp\"\naddress = \"127.0.0.1:{down}\"\n\
         reconnect_backoff = \"200ms\"\nreconnect_backoff_max = \"1s\"\n\
         max_message_bytes = 2048\nbatch_max_bytes = 0\n\n\
         [[output]]\nname = \"file\"\ntype = \"file\"\npath = \"{}\"\n",
        file.display()
    );
    let child = start_run(
        &dir,
        &sim,
        &outputs,
        |i| if i < 2 { "down" } else { "file" },
    );
    third_tenant_goes_on(&sim, &file, &dir.join("siemfwd.log")).await;
    let (status, _) = support::process::signal_and_wait(child, "TERM").await;
    assert!(status.success(), "{status}");
}

/// Issue 16: two tenants the API answers only 429 with `Retry-After: 60` wait a minute each
/// time, and a third tenant goes on as if they were not there: nothing a tenant waits for holds
/// what the tenants share.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_throttled_tenants_do_not_hold_up_a_third() {
    let sim = simulator().await;
    for tenant in &sim.tenants()[..2] {
        let knobs = TenantKnobs {
            throttled: Some(Duration::from_secs(60)),
            ..TenantKnobs::default()
        };
        sim.set_tenant_knobs(&tenant.id, knobs).unwrap();
    }
    let dir = TestDir::new("isolation-throttled");
    let file: PathBuf = dir.join("file.log");
    let outputs = format!(
        "[[output]]\nname = \"file\"\ntype = \"file\"\npath = \"{}\"\n",
        file.display()
    );
    let child = start_run(&dir, &sim, &outputs, |_| "file");
    let log = dir.join("siemfwd.log");
    third_tenant_goes_on(&sim, &file, &log).await;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        text.contains("429"),
        "the two tenants were throttled:\n{text}"
    );
    let (status, _) = support::process::signal_and_wait(child, "TERM").await;
    assert!(status.success(), "{status}");
}
