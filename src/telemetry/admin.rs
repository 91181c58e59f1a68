//! The admin listener (`[admin] listen`, `--admin-listen`): `GET /metrics` (Prometheus text,
//! or OpenMetrics when the scraper asks for it), `/healthz`, `/readyz` and `/status` (JSON).
//! Nothing it serves holds a secret: names, ids, counters, times and error messages, which
//! never carry a token or a client secret.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ACCEPT, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use prometheus_client::registry::Registry;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::collect::TelemetryCollector;
use super::{Condition, Counts, Telemetry};
use crate::alert::Timestamp;

/// The admin listener cannot start.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr} for the admin endpoints ([admin] listen): {source}")]
pub struct AdminError {
    /// The address asked for.
    pub addr: SocketAddr,
    /// Why not (in use, not an address of this host, not allowed).
    pub source: std::io::Error,
}

/// Binds `addr` (port 0 picks one) and serves the admin endpoints until `shutdown` turns true.
/// Returns the bound address and the task serving it.
pub async fn serve(
    addr: SocketAddr,
    telemetry: Arc<Telemetry>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), AdminError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| AdminError { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| AdminError { addr, source })?;
    let mut registry = Registry::default();
    registry.register_collector(Box::new(TelemetryCollector(telemetry.clone())));
    let registry = Arc::new(registry);
    // The text of the last scrape's metrics, its capacity kept for the next (1.25 MB at 1,000
    // tenants): scrapes do not each grow a new one.
    let buffer = Arc::new(std::sync::Mutex::new(String::new()));
    let task = tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = shutdown.wait_for(|s| *s) => return,
            };
            let Ok((stream, _)) = accepted else {
                continue;
            };
            let (telemetry, registry, buffer) =
                (telemetry.clone(), registry.clone(), buffer.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let (telemetry, registry, buffer) =
                        (telemetry.clone(), registry.clone(), buffer.clone());
                    async move { Ok::<_, Infallible>(answer(&req, &telemetry, &registry, &buffer)) }
                });
                // A client that goes away mid-answer is no error of ours.
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((bound, task))
}

fn text(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        response.headers_mut().insert(CONTENT_TYPE, v);
    }
    response
}

fn answer(
    req: &Request<Incoming>,
    telemetry: &Telemetry,
    registry: &Registry,
    buffer: &std::sync::Mutex<String>,
) -> Response<Full<Bytes>> {
    const PLAIN: &str = "text/plain; charset=utf-8";
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, PLAIN, "GET only\n");
    }
    let now = Timestamp::now();
    match req.uri().path() {
        "/metrics" => metrics(req, registry, buffer),
        "/healthz" => match telemetry.alive() {
            Ok(()) => text(StatusCode::OK, PLAIN, "ok\n"),
            Err(why) => text(StatusCode::SERVICE_UNAVAILABLE, PLAIN, format!("{why}\n")),
        },
        "/readyz" => match telemetry.ready(now) {
            Ok(()) => text(StatusCode::OK, PLAIN, "ready\n"),
            Err(why) => text(StatusCode::SERVICE_UNAVAILABLE, PLAIN, format!("{why}\n")),
        },
        "/status" => match serde_json::to_vec_pretty(&status(telemetry, now)) {
            Ok(body) => text(StatusCode::OK, "application/json", body),
            Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, PLAIN, format!("{e}\n")),
        },
        _ => text(
            StatusCode::NOT_FOUND,
            PLAIN,
            "not found: /metrics, /healthz, /readyz or /status\n",
        ),
    }
}

/// Prometheus text (0.0.4) unless the scraper prefers OpenMetrics.
fn metrics(
    req: &Request<Incoming>,
    registry: &Registry,
    buffer: &std::sync::Mutex<String>,
) -> Response<Full<Bytes>> {
    let openmetrics = req
        .headers()
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/openmetrics-text"));
    let mut body = match buffer.lock() {
        Ok(b) => b,
        Err(poisoned) => poisoned.into_inner(),
    };
    body.clear();
    let (encoded, content_type) = if openmetrics {
        (
            prometheus_client::encoding::text::encode(&mut *body, registry),
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )
    } else {
        (
            prometheus_client::encoding::prometheus_text::encode(&mut *body, registry),
            "text/plain; version=0.0.4; charset=utf-8",
        )
    };
    match encoded {
        Ok(()) => text(
            StatusCode::OK,
            content_type,
            Bytes::copy_from_slice(body.as_bytes()),
        ),
        Err(_) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain; charset=utf-8",
            "the metrics could not be encoded\n",
        ),
    }
}

/// `/status`: the facts of the metrics per tenant and output, with each failure in words and
/// its fix.
#[derive(Serialize)]
struct Status {
    version: &'static str,
    started: String,
    ready: bool,
    not_ready_because: Option<String>,
    tenants: Vec<TenantView>,
    outputs: Vec<OutputView>,
}

#[derive(Serialize)]
struct TenantView {
    name: String,
    tenant_id: String,
    #[serde(flatten)]
    condition: Condition,
    checkpoint: Option<String>,
    last_success: Option<String>,
    newest_delivered: Option<String>,
    lag_seconds: Option<f64>,
    refresh_token_expires: Option<String>,
    counts: Counts,
    api_requests: std::collections::BTreeMap<&'static str, u64>,
}

#[derive(Serialize)]
struct OutputView {
    name: String,
    target: String,
    connected: bool,
    queue_depth: usize,
    records_sent: u64,
    bytes_sent: u64,
    batches_undelivered: u64,
    records_resent: u64,
    connections_opened: u64,
}

fn status(telemetry: &Telemetry, now: Timestamp) -> Status {
    let ready = telemetry.ready(now);
    let text = |t: Option<Timestamp>| t.map(|t| t.to_string());
    Status {
        version: env!("CARGO_PKG_VERSION"),
        started: telemetry.started.to_string(),
        ready: ready.is_ok(),
        not_ready_because: ready.err(),
        tenants: telemetry
            .tenants()
            .iter()
            .map(|s| TenantView {
                name: s.name.clone(),
                tenant_id: s.tenant_id.clone(),
                condition: s.condition(),
                checkpoint: text(s.cursor()),
                last_success: text(s.last_success()),
                newest_delivered: text(s.newest_delivered()),
                lag_seconds: s
                    .newest_delivered()
                    .map(|t| ((now.unix_nanos() - t.unix_nanos()) as f64 / 1e9).max(0.0)),
                refresh_token_expires: text(s.refresh_expiry()),
                counts: s.counts(),
                api_requests: super::ApiOutcome::ALL
                    .iter()
                    .map(|(o, label)| (*label, s.api.get(*o)))
                    .collect(),
            })
            .collect(),
        outputs: telemetry
            .outputs()
            .iter()
            .map(|(name, o)| {
                let s = o.stats();
                OutputView {
                    name: name.clone(),
                    target: o.target().to_owned(),
                    connected: s.connected,
                    queue_depth: o.queue_depth(),
                    records_sent: s.records_delivered,
                    bytes_sent: s.bytes_delivered,
                    batches_undelivered: s.batches_failed,
                    records_resent: s.records_resent,
                    connections_opened: s.connects,
                }
            })
            .collect(),
    }
}
