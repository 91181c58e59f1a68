//! A minimal HTTP/1.1 client over `TcpStream` and helpers shared by the simulator tests.
//!
//! One request per connection (`Connection: close`) and no timers, so that paused-time tests
//! stay deterministic.

use std::net::SocketAddr;

use chrono::{TimeZone, Utc};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use siemfwd_simulator::{Simulator, SimulatorConfig};

pub(crate) const DEFENDER_SCOPE: &str = "https://api.securitycenter.microsoft.com/.default";
pub(crate) const DEFENDER: &str = "https://api.securitycenter.microsoft.com";

/// (tenant, extra form fields, HTTP status, `error`, AADSTS code).
pub(crate) type ErrorCase<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16, &'a str, u64);

#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// Entra's error: (error, first AADSTS code).
    pub(crate) fn aad(&self) -> (String, u64) {
        let j = self.json();
        let code = j["error_codes"][0].as_u64().unwrap();
        let desc = j["error_description"].as_str().unwrap();
        assert!(desc.starts_with(&format!("AADSTS{code}: ")), "{desc}");
        assert!(desc.contains("Trace ID: ") && desc.contains("Correlation ID: "));
        assert!(j["trace_id"].is_string() && j["correlation_id"].is_string());
        (j["error"].as_str().unwrap().to_owned(), code)
    }
}

/// One HTTP/1.1 request on its own connection; `None` if the server dropped it unanswered.
pub(crate) async fn try_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Option<Reply> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw).await;
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    Some(Reply {
        status,
        headers,
        body: body.to_owned(),
    })
}

pub(crate) async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    try_request(addr, method, path, headers, body)
        .await
        .expect("an HTTP answer")
}

pub(crate) fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    s.extend_pairs(pairs);
    s.finish()
}

pub(crate) async fn post(sim: &Simulator, path: &str, pairs: &[(&str, &str)]) -> Reply {
    let ct = [("Content-Type", "application/x-www-form-urlencoded")];
    request(sim.addr(), "POST", path, &ct, &form(pairs)).await
}

pub(crate) async fn get_alerts(sim: &Simulator, token: &str, query: &str) -> Reply {
    let auth = format!("Bearer {token}");
    request(
        sim.addr(),
        "GET",
        &format!("/api/alerts{query}"),
        &[("Authorization", &auth)],
        "",
    )
    .await
}

/// `$filter` etc. written as a client would, spaces percent-encoded.
pub(crate) fn q(s: &str) -> String {
    s.replace(' ', "%20")
}

/// The app's v2 client-credentials token request for `tenant`, answered as it is.
pub(crate) async fn request_client_credentials(sim: &Simulator, tenant: &str) -> Reply {
    post(
        sim,
        &format!("/{tenant}/oauth2/v2.0/token"),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", sim.client_id()),
            ("client_secret", sim.client_secret()),
            ("scope", DEFENDER_SCOPE),
        ],
    )
    .await
}

pub(crate) async fn client_credentials(sim: &Simulator, tenant: &str) -> String {
    let r = request_client_credentials(sim, tenant).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["access_token"].as_str().unwrap().to_owned()
}

pub(crate) fn config() -> SimulatorConfig {
    SimulatorConfig {
        tenants: 2,
        alerts_per_tenant: 40,
        seed: 11,
        history_end: Some(Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()),
        ..SimulatorConfig::default()
    }
}

pub(crate) async fn start(config: SimulatorConfig) -> Simulator {
    Simulator::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap()
}
