//! Alerts per second fetched from the simulator over loopback HTTP and parsed (typed, with
//! evidence), and the API calls used per 100,000 alerts. Pages of up to 10,000
//! (`page_size = 10000`): a window is one page, and the three runs plus the raw reads stay
//! under the simulator's 100 calls a minute.
//!
//! The alerts' lastUpdateTimes spread over 12 hours (~8,300 an hour) and are fetched in the
//! one-hour windows `run` and `replay` use, so a window is about one page.
//!
//! Run: `cargo bench --bench fetch_throughput` (`-- --alerts N`, `--text-mb M`). The simulator
//! runs in the same process on the other core: its serving is part of what is measured, as a
//! real API's network time would be. It keeps the JSON text of up to 512 MB of alerts (all of
//! the default 100,000); `--text-mb 0` makes it generate every alert again for each page, as it
//! does for most alerts of a million.
//!
//! The last lines read the same pages raw, unparsed: what the simulator alone serves.
// Tests and benchmarks stop at the first surprise: unwrap is their assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// A benchmark is one scenario read top to bottom: setup, measured run, report.
#![allow(clippy::too_many_lines)]

use std::sync::Arc;
use std::time::Instant;

use siemfwd::alert::Timestamp;
use siemfwd::config::Config;
use siemfwd::reader::Item;
use siemfwd::source::AlertsClient;
use siemfwd_simulator::{Simulator, SimulatorConfig};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let alerts: usize = args
        .iter()
        .position(|a| a == "--alerts")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    // MB of alert text the simulator keeps; the rest it generates again for every page.
    let text_mb: Option<usize> = args
        .iter()
        .position(|a| a == "--text-mb")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok());
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
                text_budget: text_mb.map_or(SimulatorConfig::default().text_budget, |mb| mb << 20),
                ..SimulatorConfig::default()
            },
        )
        .await
        .unwrap();
        println!("simulator: {alerts} alerts generated in {:.1}s", generating.elapsed().as_secs_f64());
        let dir = std::env::temp_dir().join(format!("siemfwd-bench-fetch-{}", std::process::id()));
        let t = &sim.tenants()[0];
        let text = format!(
            "state_dir = \"{}\"\n[[tenant]]\nname = \"bench\"\ntenant_id = \"{}\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\nlogin_url = \"{url}\"\napi_url = \"{url}\"\npage_size = 10000\n",
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
                // A window holding more than a query pages ends early: the hour is fetched
                // window after window.
                let mut start = from;
                while start < to {
                    let mut fetch = client.window(start, to);
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
                    splits += fetch.stats.shrinks;
                    start = fetch.end();
                }
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
        // The same pages read over one keep-alive connection and dropped unparsed: what the
        // simulator serves on its own (the client side only copies bytes out of the socket).
        let token = sim.issue_access_token(&t.id).unwrap();
        let mut conn = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
        for run in 1..=3 {
            let started = Instant::now();
            let mut bytes = 0u64;
            for &(from, to) in &windows {
                let filter = format!("lastUpdateTime ge {from} and lastUpdateTime lt {to}");
                let query: String = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs([("$filter", filter.as_str()), ("$expand", "evidence"), ("$top", "10000")])
                    .finish();
                bytes += raw_get(&mut conn, &format!("/api/alerts?{query}"), &token).await;
            }
            let secs = started.elapsed().as_secs_f64();
            println!(
                "simulator alone {run} (the same pages, read raw): {:.0} MB in {secs:.2}s: {:.0} alerts/s, {:.0} MB/s",
                bytes as f64 / 1e6,
                alerts as f64 / secs,
                bytes as f64 / 1e6 / secs
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
        sim.shutdown().await;
    });
}

/// GET `path` on a keep-alive HTTP/1.1 connection; reads and drops the body, returns its length.
async fn raw_get(conn: &mut tokio::net::TcpStream, path: &str, token: &str) -> u64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: sim\r\nAuthorization: Bearer {token}\r\n\r\n");
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut have = 0;
    let head_end = loop {
        let n = conn.read(&mut buf[have..]).await.unwrap();
        assert!(n > 0, "connection closed");
        have += n;
        if let Some(i) = buf[..have].windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let length: u64 = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .expect("a content-length")
        .trim()
        .parse()
        .unwrap();
    let mut left = length - (have - head_end) as u64;
    while left > 0 {
        let want = buf.len().min(left as usize);
        let n = conn.read(&mut buf[..want]).await.unwrap();
        assert!(n > 0, "connection closed");
        left -= n as u64;
    }
    length
}
