//! The window planner and the fetcher together, against the simulator over HTTP (issue 16): API
//! calls for sparse and dense ranges and for ranges past the API's cap, and what a crash in the
//! middle of a window sends again.
//!
//! The simulator's cap is scaled down as the tenant's `page_size` is (1,000 results a query,
//! pages of 500, against 10,000 and 5,000 on the service), so five thousand alerts take the
//! paths fifty thousand take on the service. (Pages much smaller than that would not show the
//! service's costs: the count of a window varies by its square root, 3 % of a page of 500 and
//! 14 % of a page of 50.)

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use siemfwd_simulator::{Endpoint, Faults, Limits, Simulator, SimulatorConfig};

use super::replay::{ReplayProgress, replay_tenant};
use super::tenant::TenantForwarder;
use crate::alert::Timestamp;
use crate::config::Config;
use crate::source::AlertsClient;
use crate::telemetry::TenantStatus;
use crate::transport::{DeadLetters, Output};

/// Results one query may reach, as the service's 10,000.
const CAP: u32 = 1_000;
/// The tenant's `page_size`, as the default 5,000.
const PAGE: u32 = 500;

struct Setup {
    sim: Simulator,
    dir: PathBuf,
    config: Config,
}

impl Setup {
    /// One tenant with `alerts` alerts spread over the last `history`, visible at once, each
    /// answer `latency` late; `initial_lookback` of 3 days.
    async fn start(alerts: usize, history: Duration, latency: Duration) -> Setup {
        let sim = Simulator::start(
            "127.0.0.1:0".parse().unwrap(),
            SimulatorConfig {
                tenants: 1,
                alerts_per_tenant: alerts,
                adversarial_fraction: 0.0,
                history,
                max_visibility_delay: Duration::ZERO,
                limits: Limits {
                    max_top: u64::from(CAP),
                    skip_limit: Some(u64::from(CAP)),
                    ..Limits::default()
                },
                faults: Faults {
                    latency,
                    ..Faults::default()
                },
                ..SimulatorConfig::default()
            },
        )
        .await
        .unwrap();
        let dir = std::env::temp_dir().join(format!(
            "siemfwd-planner-{}-{}",
            std::process::id(),
            sim.addr().port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let text = format!(
            "state_dir = \"{state}\"\n[[tenant]]\nname = \"t\"\ntenant_id = \"{id}\"\n\
             client_id = \"{client}\"\nclient_secret = \"{secret}\"\nlogin_url = \"{url}\"\n\
             api_url = \"{url}\"\npage_size = {PAGE}\ninitial_lookback = \"72h\"\n\
             [[output]]\nname = \"f\"\ntype = \"file\"\nformat = \"json\"\npath = \"{out}\"\n",
            state = dir.join("state").display(),
            id = sim.tenants()[0].id,
            client = sim.client_id(),
            secret = sim.client_secret(),
            url = sim.url(),
            out = dir.join("out.json").display(),
        );
        let config = Config::from_toml("test.toml", &text).unwrap();
        Setup { sim, dir, config }
    }

    fn client(&self) -> AlertsClient {
        let tenant = Arc::new(self.config.tenants[0].clone());
        let mut client = AlertsClient::new(tenant, &self.config.state_dir).unwrap();
        client.set_max_results_per_query(CAP);
        client
    }

    fn output(&self) -> Arc<Output> {
        Arc::new(Output::start(self.config.output("f").unwrap(), None).unwrap())
    }

    fn calls(&self) -> u64 {
        self.sim
            .requests(&self.sim.tenants()[0].id, Endpoint::Alerts)
    }

    /// How often each (id, lastUpdateTime) was written to the file output.
    fn written(&self) -> HashMap<(String, String), u32> {
        let text = std::fs::read_to_string(self.dir.join("out.json")).unwrap_or_default();
        let mut counts = HashMap::new();
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let key = (
                v["id"].as_str().unwrap().to_owned(),
                v["lastUpdateTime"].as_str().unwrap().to_owned(),
            );
            *counts.entry(key).or_insert(0) += 1;
        }
        counts
    }

    /// Replays [now - `range`, now) and returns the API calls it took. Every alert arrives once.
    async fn replay(&self, range: Duration, alerts: usize) -> u64 {
        let (client, output) = (self.client(), self.output());
        let now = Timestamp::now();
        let from = Timestamp::from_unix_nanos(now.unix_nanos() - range.as_nanos() as i64, 7);
        let dead = DeadLetters::new(self.dir.join("dead.ndjson"));
        let progress = ReplayProgress::default();
        let before = self.calls();
        let report = replay_tenant(
            &client,
            std::slice::from_ref(&output),
            &dead,
            from,
            now,
            &progress,
        )
        .await
        .unwrap();
        let calls = self.calls() - before;
        Arc::into_inner(output).unwrap().shutdown().await;
        let written = self.written();
        assert_eq!(written.len(), alerts, "every alert arrived");
        assert!(written.values().all(|n| *n == 1), "and once");
        assert_eq!(report.pages, calls, "no call was retried");
        calls
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The bound on calls for `n` alerts: ceil(n / page_size) × 1.2 + 3.
fn bound(n: usize) -> u64 {
    (n.div_ceil(PAGE as usize) as f64 * 1.2 + 3.0) as u64
}

const DAY: Duration = Duration::from_secs(86_400);

#[tokio::test]
async fn a_sparse_range_is_one_call_however_long() {
    let s = Setup::start(300, 29 * DAY, Duration::ZERO).await;
    let calls = s.replay(30 * DAY, 300).await;
    assert_eq!(calls, 1, "30 days holding 300 alerts (under a page)");
}

#[tokio::test]
async fn a_dense_range_costs_calls_per_page_of_alerts_not_per_hour() {
    // 6,000 alerts in 2 days: six times the cap, as 60,000 alerts would be on the service.
    let s = Setup::start(6_000, 2 * DAY, Duration::ZERO).await;
    let calls = s.replay(2 * DAY + Duration::from_secs(60), 6_000).await;
    assert!(
        calls <= bound(6_000),
        "{calls} calls for 6,000 alerts in pages of {PAGE} (bound {})",
        bound(6_000)
    );
}

#[tokio::test]
async fn a_range_just_past_the_cap_stays_within_the_bound() {
    // 1,250 alerts: half a page more than one query may reach.
    let s = Setup::start(1_250, DAY, Duration::ZERO).await;
    let calls = s.replay(DAY + Duration::from_secs(60), 1_250).await;
    assert!(
        calls <= bound(1_250),
        "{calls} calls (bound {})",
        bound(1_250)
    );
}

/// A crash in the middle of a window: the checkpoint saved before it is where the restart
/// begins, so what is sent twice is at most what that one window had sent, bounded by the
/// API's cap whatever the range (not the whole `initial_lookback`).
#[tokio::test]
async fn a_crash_in_the_middle_of_a_window_sends_at_most_that_window_again() {
    // Answers 20 ms late, so that the poll is surely in the middle of a window when it is
    // dropped.
    let s = Setup::start(3_000, 2 * DAY, Duration::from_millis(20)).await;
    let now = Timestamp::now();
    let output = s.output();
    let mut forwarder = TenantForwarder::new(
        s.client(),
        vec![output.clone()],
        &s.config.state_dir,
        now,
        Arc::new(TenantStatus::new("t", "id", vec!["f".into()])),
    )
    .unwrap();
    // The crash: the poll is dropped once 1,500 records are written, mid-window.
    let crash = async {
        loop {
            tokio::time::sleep(Duration::from_millis(5)).await;
            if output.stats().records_delivered >= 1_500 {
                break;
            }
        }
    };
    tokio::select! {
        r = forwarder.poll(now) => panic!("the poll ended before the crash: {r:?}"),
        () = crash => {}
    }
    drop(forwarder);
    Arc::into_inner(output).unwrap().shutdown().await;
    let before = s.written();

    let output = s.output();
    let mut restarted = TenantForwarder::new(
        s.client(),
        vec![output.clone()],
        &s.config.state_dir,
        now,
        Arc::new(TenantStatus::new("t", "id", vec!["f".into()])),
    )
    .unwrap();
    restarted.poll(now).await.unwrap();
    drop(restarted);
    Arc::into_inner(output).unwrap().shutdown().await;
    let after = s.written();
    assert_eq!(after.len(), 3_000, "nothing lost");
    let again: u32 = after.values().map(|n| n - 1).sum();
    eprintln!(
        "crash after {} records: {again} sent again after the restart",
        before.len()
    );
    assert!(
        before.len() >= 1_500 && again <= CAP,
        "{again} records sent twice after a crash with {} sent: at most one window ({CAP})",
        before.len()
    );
}
