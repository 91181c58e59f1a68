//! A minimal HTTP/1.1 client over `TcpStream` for the simulator's own HTTP tests: one request per
//! connection (`Connection: close`) and no timers, so paused-time tests stay deterministic.

use std::net::SocketAddr;

use chrono::{TimeZone, Utc};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{GRAPH_ALERTS_PATH, Simulator, SimulatorConfig};

pub(crate) const DEFENDER_SCOPE: &str = "https://api.securitycenter.microsoft.com/.default";

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
}

/// One HTTP/1.1 request on its own connection.
pub(crate) async fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut req = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
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
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// `s` percent-encoded as a client writes a query value.
pub(crate) fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~$:'()".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A token from the v2 token endpoint by client credentials.
pub(crate) async fn token(sim: &Simulator, tenant: &str, scope: &str) -> String {
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "client_credentials")
        .append_pair("client_id", sim.client_id())
        .append_pair("client_secret", sim.client_secret())
        .append_pair("scope", scope)
        .finish();
    let ct = [("Content-Type", "application/x-www-form-urlencoded")];
    let path = format!("/{tenant}/oauth2/v2.0/token");
    let r = request(sim.addr(), "POST", &path, &ct, &form).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["access_token"].as_str().unwrap().to_owned()
}

/// `GET target` with a bearer token and more headers.
pub(crate) async fn get(
    sim: &Simulator,
    token: &str,
    target: &str,
    more: &[(&str, &str)],
) -> Reply {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("Authorization", auth.as_str())];
    headers.extend_from_slice(more);
    request(sim.addr(), "GET", target, &headers, "").await
}

pub(crate) fn config(alerts: usize) -> SimulatorConfig {
    SimulatorConfig {
        tenants: 1,
        alerts_per_tenant: alerts,
        seed: 19,
        history_end: Some(Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()),
        ..SimulatorConfig::default()
    }
}

pub(crate) async fn start(config: SimulatorConfig) -> Simulator {
    Simulator::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap()
}

// Graph alerts_v2.

pub(crate) const PREFER: (&str, &str) = ("Prefer", "include-unknown-enum-members");
pub(crate) const FROM: &str = "2026-11-21T12:00:00Z";
pub(crate) const TO: &str = "2026-11-22T12:00:00Z";

pub(crate) fn graph(query: &str) -> String {
    format!("{GRAPH_ALERTS_PATH}?{query}")
}

pub(crate) fn filter(f: &str) -> String {
    format!("$filter={}", enc(f))
}

pub(crate) fn window_filter() -> String {
    filter(&format!(
        "lastUpdateDateTime ge {FROM} and lastUpdateDateTime lt {TO}"
    ))
}

pub(crate) fn values(r: &Reply) -> Vec<Value> {
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["value"].as_array().unwrap().clone()
}

pub(crate) fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_default()
}

/// Graph's error: (code, message), after checking its shape.
pub(crate) fn graph_error(r: &Reply) -> (String, String) {
    let e = &r.json()["error"];
    let inner = &e["innerError"];
    assert_eq!(
        inner["request-id"].as_str().unwrap().len(),
        36,
        "{}",
        r.body
    );
    assert!(inner["client-request-id"].is_string() && inner["date"].is_string());
    assert_eq!(r.header("request-id"), inner["request-id"].as_str());
    (s(e, "code").to_owned(), s(e, "message").to_owned())
}
