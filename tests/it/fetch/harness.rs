//! A started simulator and clients configured for its tenants.

use std::path::PathBuf;
use std::sync::Arc;

use siemfwd::alert::Timestamp;
use siemfwd::config::Config;
use siemfwd::pipeline::planner::WindowPlanner;
use siemfwd::reader::Item;
use siemfwd::source::alerts::WindowStats;
use siemfwd::source::{AlertsClient, FetchError};
use siemfwd_simulator::{Endpoint, Simulator, SimulatorConfig};

pub struct Fixture {
    pub sim: Simulator,
    pub dir: PathBuf,
}

pub fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

pub fn now() -> Timestamp {
    let n = chrono::Utc::now();
    Timestamp::from_unix_nanos(n.timestamp_nanos_opt().unwrap(), 7)
}

impl Fixture {
    pub async fn start(config: SimulatorConfig) -> Fixture {
        let sim = Simulator::start("127.0.0.1:0".parse().unwrap(), config)
            .await
            .unwrap();
        let dir = std::env::temp_dir().join(format!(
            "siemfwd-fetch-{}-{}",
            std::process::id(),
            sim.addr().port()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Fixture { sim, dir }
    }

    pub fn tenant_id(&self, i: usize) -> String {
        self.sim.tenants()[i].id.clone()
    }

    /// Calls to `endpoint` made less than a second after a 429 to it: none should be, the
    /// API's Retry-After is at least a second.
    pub fn calls_right_after_a_429(&self, endpoint: Endpoint) -> usize {
        let log: Vec<_> = self
            .sim
            .request_log()
            .into_iter()
            .filter(|r| r.endpoint == endpoint)
            .collect();
        log.windows(2)
            .filter(|w| {
                w[0].status == Some(429)
                    && w[1].at.duration_since(w[0].at) < std::time::Duration::from_secs(1)
            })
            .count()
    }

    /// The alert versions Graph shows of `tenant` last updated in [from, to): (id,
    /// `lastUpdateDateTime` as siemfwd writes it).
    pub fn graph_versions(
        &self,
        tenant: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Vec<(String, String)> {
        self.sim
            .visible_graph_alerts(tenant, from, to)
            .unwrap()
            .into_iter()
            .map(|a| {
                let updated = a["lastUpdateDateTime"].as_str().unwrap();
                (a["id"].as_str().unwrap().to_owned(), t(updated).to_string())
            })
            .collect()
    }

    /// Every alert version Graph shows of tenant `i`.
    pub fn all_graph_versions(&self, i: usize) -> Vec<(String, String)> {
        let all = (t("2000-01-01T00:00:00Z"), t("2100-01-01T00:00:00Z"));
        self.graph_versions(&self.tenant_id(i), all.0, all.1)
    }

    pub fn token_requests(&self, i: usize) -> u64 {
        self.sim.requests(&self.tenant_id(i), Endpoint::Token)
    }

    /// A client for tenant `i` (tenant-01 is 0); `extra` adds TOML lines to its table.
    pub fn client(&self, i: usize, extra: &str) -> AlertsClient {
        let secret = format!("client_secret = \"{}\"", self.sim.client_secret());
        self.client_with_secret(i, &secret, extra)
    }

    /// A client for tenant `i` whose secret is set by the TOML line `secret`.
    pub fn client_with_secret(&self, i: usize, secret: &str, extra: &str) -> AlertsClient {
        let info = &self.sim.tenants()[i];
        let text = format!(
            "state_dir = \"{state}\"\n[[tenant]]\nname = \"{name}\"\ntenant_id = \"{id}\"\nclient_id = \"{client}\"\n{secret}\nlogin_url = \"{url}\"\napi_url = \"{url}\"\nrequest_timeout = \"10s\"\n{extra}",
            state = self.dir.join("state").display(),
            name = info.name,
            id = info.id,
            client = self.sim.client_id(),
            url = self.sim.url(),
        );
        let config =
            Config::from_toml("test.toml", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        AlertsClient::new(Arc::new(config.tenants[0].clone()), &config.state_dir).unwrap()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Every alert of [from, to) as (id, lastUpdateTime), window after window as the forwarder
/// plans them (a window ends early when it holds more than a query pages through), and the
/// windows' stats added up. A version handed out by two windows (one past the first's end
/// before it was shortened) is listed once, as the forwarder's checkpoint would send it once.
pub async fn fetch_all(
    client: &AlertsClient,
    from: Timestamp,
    to: Timestamp,
) -> Result<(Vec<(String, String)>, WindowStats), FetchError> {
    let mut alerts = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut stats = WindowStats::default();
    let mut planner = WindowPlanner::new(client.tenant().page_size, client.max_results_per_query());
    let mut start = from;
    while start < to {
        let planned = planner.next(start, to);
        let mut fetch = client.window(start, planned.to);
        if let Some(pages) = planned.probe {
            fetch = fetch.probing(pages);
        }
        while let Some(page) = fetch.next_page().await? {
            fetch
                .read(&page, false, |item| {
                    if let Item::Alert(a) = item {
                        let key = (
                            a.alert.id().unwrap_or_default().to_owned(),
                            a.alert
                                .last_update_time
                                .map(|t| t.to_string())
                                .unwrap_or_default(),
                        );
                        if seen.insert(key.clone()) {
                            alerts.push(key);
                        }
                    }
                    Ok::<(), ()>(())
                })
                .unwrap();
        }
        stats += fetch.stats;
        planner.held(start, fetch.end(), fetch.held());
        start = fetch.end();
    }
    Ok((alerts, stats))
}

/// Every alert the tenant has, whenever it changed.
pub async fn fetch_everything(
    client: &AlertsClient,
) -> Result<(Vec<(String, String)>, WindowStats), FetchError> {
    fetch_all(client, t("2000-01-01T00:00:00Z"), t("2100-01-01T00:00:00Z")).await
}
