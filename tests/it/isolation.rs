//! Tenants never wait for each other (issue 16): not for another tenant's slow answers (see
//! `fetch_simulator`), nor for an output that only other tenants are routed to.

use std::process::{Command, Stdio};
use std::time::Duration;

use siemfwd_simulator::{Simulator, SimulatorConfig};
use tokio::time::Instant;

use crate::support;
use crate::support::tempdir::TestDir;

/// Regression (issue 16): a window held its page, and with it one of the two pages all tenants
/// share, while its batches waited for an output. Two tenants routed to an output that is down
/// stopped every other tenant for `delivery_timeout` (60 s) at a time. Now the page goes before
/// the batches wait: a tenant routed only to a working output delivers at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_routed_to_a_working_output_are_not_held_up_by_one_that_is_down() {
    let sim = Simulator::start(
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
    .unwrap();
    let dir = TestDir::new("isolation-output-down");
    // A port nobody listens on: connections are refused for the whole test.
    let down = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let t = sim.tenants();
    let mut text = format!(
        "state_dir = \"{state}\"\n\n[defaults]\nclient_id = \"{client}\"\n\
         client_secret = \"{secret}\"\nlogin_url = \"{url}\"\napi_url = \"{url}\"\n\
         poll_interval = \"1s\"\ninitial_lookback = \"1h\"\n\n\
         [[output]]\nname = \"down\"\ntype = \"tcp\"\naddress = \"127.0.0.1:{down}\"\n\
         reconnect_backoff = \"200ms\"\nreconnect_backoff_max = \"1s\"\n\
         max_message_bytes = 2048\nbatch_max_bytes = 0\n\n\
         [[output]]\nname = \"file\"\ntype = \"file\"\npath = \"{out}\"\n",
        state = dir.join("state").display(),
        client = sim.client_id(),
        secret = sim.client_secret(),
        url = sim.url(),
        out = dir.join("file.log").display(),
    );
    // The first two tenants go to the output that is down; the last, alone, to the file.
    for (i, tenant) in t.iter().enumerate() {
        let output = if i < 2 { "down" } else { "file" };
        text.push_str(&format!(
            "\n[[tenant]]\nname = \"{}\"\ntenant_id = \"{}\"\noutputs = [\"{output}\"]\n",
            tenant.name, tenant.id
        ));
    }
    let config = dir.join("siemfwd.toml");
    std::fs::write(&config, text).unwrap();
    let log = dir.join("siemfwd.log");
    let open = || {
        std::fs::File::options()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap()
    };
    let child = Command::new(env!("CARGO_BIN_EXE_siemfwd"))
        .args(["run", "--config"])
        .arg(&config)
        .env("SIEMFWD_LOG", "info")
        .stdin(Stdio::null())
        .stdout(open())
        .stderr(open())
        .spawn()
        .unwrap();
    // Small batches to the output that is down: each of its tenants has more of them waiting
    // than may be in flight, which is when a window waits on its output.
    let file_lines = || {
        std::fs::read_to_string(dir.join("file.log"))
            .unwrap_or_default()
            .lines()
            .count()
    };
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    let first = sim.ground_truth(&t[2].id).unwrap().len();
    for (want, what) in [
        (first, "the first round"),
        (first + 1, "a new alert at its next poll"),
    ] {
        let started = Instant::now();
        // Well under the down output's delivery_timeout (60 s), for which pages were held.
        let deadline = started + Duration::from_secs(15);
        while file_lines() < want {
            assert!(
                Instant::now() < deadline,
                "{what} of the file output's tenant: {} of {want} records after {:?}:\n{}",
                file_lines(),
                started.elapsed(),
                log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        eprintln!(
            "{what} of the file output's tenant: {:?}",
            started.elapsed()
        );
        // By now the other two tenants' windows wait on their output: a new alert of the
        // third must still come through.
        tokio::time::sleep(Duration::from_secs(2)).await;
        sim.create_alert(&t[2].id).unwrap();
    }
    let (status, _) = support::process::signal_and_wait(child, "TERM").await;
    assert!(status.success(), "{status}");
}
