//! A started simulator and clients configured for its tenants.

use std::path::PathBuf;
use std::sync::Arc;

use siemfwd::alert::Timestamp;
use siemfwd::config::Config;
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

/// Every alert of [from, to) as (id, lastUpdateTime), and the window's stats.
pub async fn fetch_all(
    client: &AlertsClient,
    from: Timestamp,
    to: Timestamp,
) -> Result<(Vec<(String, String)>, WindowStats), FetchError> {
    let mut fetch = client.window(from, to);
    let mut alerts = Vec::new();
    while let Some(page) = fetch.next_page().await? {
        fetch
            .read(&page, false, |item| {
                if let Item::Alert(a) = item {
                    alerts.push((
                        a.alert.id().unwrap_or_default().to_owned(),
                        a.alert
                            .last_update_time
                            .map(|t| t.to_string())
                            .unwrap_or_default(),
                    ));
                }
                Ok::<(), ()>(())
            })
            .unwrap();
    }
    Ok((alerts, fetch.stats))
}

/// Every alert the tenant has, whenever it changed.
pub async fn fetch_everything(
    client: &AlertsClient,
) -> Result<(Vec<(String, String)>, WindowStats), FetchError> {
    fetch_all(client, t("2000-01-01T00:00:00Z"), t("2100-01-01T00:00:00Z")).await
}
