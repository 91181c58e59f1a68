//! `siemfwd run` over the simulator's tenants: the config written, the process started, its
//! admin listener found.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use siemfwd_simulator::Simulator;

use super::tempdir::TestDir;

/// Writes `dir/siemfwd.toml`: the simulator's tenants (those `route` gives a name for, routed
/// to that output), polled every second over the last hour, `outputs` (TOML) and `extra`
/// top-level keys (before `[defaults]`).
pub fn write_config(
    dir: &TestDir,
    sim: &Simulator,
    extra: &str,
    outputs: &str,
    route: impl Fn(usize) -> Option<&'static str>,
) -> PathBuf {
    let mut text = format!(
        "state_dir = \"{state}\"\n{extra}\n\n[defaults]\nclient_id = \"{client}\"\n\
         client_secret = \"{secret}\"\nlogin_url = \"{url}\"\napi_url = \"{url}\"\n\
         poll_interval = \"1s\"\ninitial_lookback = \"1h\"\n\n{outputs}\n",
        state = dir.join("state").display(),
        client = sim.client_id(),
        secret = sim.client_secret(),
        url = sim.url(),
    );
    for (i, tenant) in sim.tenants().iter().enumerate() {
        let Some(output) = route(i) else {
            continue;
        };
        text.push_str(&format!(
            "\n[[tenant]]\nname = \"{}\"\ntenant_id = \"{}\"\noutputs = [\"{output}\"]\n",
            tenant.name, tenant.id
        ));
    }
    let config = dir.join("siemfwd.toml");
    std::fs::write(&config, text).unwrap();
    config
}

/// `siemfwd run --config dir/siemfwd.toml` with `args`; its log goes to `dir/siemfwd.log`.
pub fn spawn(dir: &TestDir, args: &[&str]) -> Child {
    let log = std::fs::File::options()
        .create(true)
        .append(true)
        .open(dir.join("siemfwd.log"))
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_siemfwd"))
        .args(["run", "--config"])
        .arg(dir.join("siemfwd.toml"))
        .args(args)
        .env("SIEMFWD_LOG", "info")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// The admin listener's port, from the line `run` logs when it listens.
pub async fn admin_port(log: &Path) -> u16 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(rest) = text.split("admin endpoints on http://127.0.0.1:").nth(1) {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            return digits.parse().unwrap();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no admin listener:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A plain-HTTP client (reqwest is built without a default TLS provider).
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// GET `http://127.0.0.1:{port}{path}`: the status and the body.
pub async fn get(port: u16, path: &str) -> (u16, String) {
    let response = http()
        .get(format!("http://127.0.0.1:{port}{path}"))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}
