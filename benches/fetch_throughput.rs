//! Alerts per second fetched from the simulator over loopback HTTP and parsed (typed, with
//! evidence), pages of up to 10,000; and the API calls used per 100,000 alerts.
//!
//! The alerts' lastUpdateTimes spread over 12 hours (~8,300 an hour) and are fetched in the
//! one-hour windows `run` and `replay` use, so a window is about one page.
//!
//! Run: `cargo bench --bench fetch_throughput` (`-- --alerts N`). The simulator runs in the
//! same process on the other core: its JSON serialization is part of what is measured, as a
//! real API's network time would be.

use std::sync::Arc;
use std::time::Instant;

use siemfwd::alert::Timestamp;
use siemfwd::config::Config;
use siemfwd::input::Item;
use siemfwd::simulator::{Simulator, SimulatorConfig};
use siemfwd::source::AlertsClient;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let alerts: usize = args
        .iter()
        .position(|a| a == "--alerts")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let generating = Instant::now();
        let sim = Simulator::start(
            "127.0.0.1:0".parse().unwrap(),
            SimulatorConfig {
                tenants: 1,
                alerts_per_tenant: alerts,
                history: std::time::Duration::from_secs(12 * 3600),
                ..SimulatorConfig::default()
            },
        )
        .await
        .unwrap();
        println!("simulator: {alerts} alerts generated in {:.1}s", generating.elapsed().as_secs_f64());
        let dir = std::env::temp_dir().join(format!("siemfwd-bench-fetch-{}", std::process::id()));
        let t = &sim.tenants()[0];
        let text = format!(
            "state_dir = \"{}\"\n[[tenant]]\nname = \"bench\"\ntenant_id = \"{}\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\nlogin_url = \"{url}\"\napi_url = \"{url}\"\n",
            dir.display(),
            t.id,
            sim.client_id(),
            sim.client_secret(),
            url = sim.url()
        );
        let config = Config::from_toml("bench.toml", &text).unwrap();
        let client = AlertsClient::new(Arc::new(config.tenants[0].clone()), &config.state_dir).unwrap();
        client.tokens().access_token().await.unwrap();
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap();
        let hour = 3_600_000_000_000i64;
        let windows: Vec<(Timestamp, Timestamp)> = (0..13)
            .map(|h| {
                let from = now - (13 - h) * hour;
                (Timestamp::from_unix_nanos(from, 7), Timestamp::from_unix_nanos(from + hour, 7))
            })
            .collect();
        for run in 1..=3 {
            let calls_before = client.stats().calls;
            let started = Instant::now();
            let (mut n, mut bytes, mut splits) = (0u64, 0u64, 0u32);
            for &(from, to) in &windows {
                let mut fetch = client.window(from, to);
                while let Some(page) = fetch.next_page().await.unwrap() {
                    bytes += page.bytes.len() as u64;
                    fetch
                        .read(&page, false, |item| {
                            if let Item::Alert(a) = item {
                                std::hint::black_box(&a);
                                n += 1;
                            }
                            Ok::<(), ()>(())
                        })
                        .unwrap();
                }
                splits += fetch.stats.splits;
            }
            let secs = started.elapsed().as_secs_f64();
            let calls = client.stats().calls - calls_before;
            println!(
                "run {run}: {n} alerts ({:.0} MB) in {secs:.2}s: {:.0} alerts/s; {calls} API calls ({:.1} per 100,000 alerts; {} splits)",
                bytes as f64 / 1e6,
                n as f64 / secs,
                calls as f64 * 100_000.0 / n as f64,
                splits
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
        sim.shutdown().await;
    });
}
