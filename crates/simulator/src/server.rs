//! HTTP/1.1 with hyper: the accept loop, graceful shutdown, routing, faults and the request log.
//! The one answer hyper cannot give, a body delimited by closing the connection, is written on
//! the socket after hyper hands it back.

use std::future::poll_fn;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;

use super::body::Chunks;
use super::faults::{self, Fault};
use super::shared_state::{Endpoint, RequestRecord, Shared};
use super::{alerts_api, entra_errors, graph_api, sign_in, token_endpoint};

pub(crate) type Resp = Response<Chunks>;

/// Token requests are small forms; anything bigger is refused.
const MAX_BODY: usize = 1 << 20;

/// Why a request gets no answer from hyper. Either way hyper stops serving the connection
/// without writing a response; `connection` then closes it, or writes the raw answer first.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Unanswered {
    /// The simulated connection reset: closed without an answer.
    #[error("simulated connection reset")]
    Reset,
    /// The answer is in the connection's [`RawSlot`].
    #[error("answered on the raw socket")]
    Raw,
}

/// An HTTP/1.1 answer as bytes: the head, then the body, then the connection is closed.
#[derive(Debug)]
pub(crate) struct RawAnswer {
    head: Vec<u8>,
    body: Vec<Bytes>,
}

/// Where a request's handler leaves the raw answer for its connection.
type RawSlot = Arc<Mutex<Option<RawAnswer>>>;

/// Entra protocol version of an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Version {
    V1,
    V2,
}

#[derive(Debug, PartialEq, Eq)]
enum Route {
    Token(Version, String),
    DeviceCode(Version, String),
    Authorize(Version, String),
    Alerts,
    GraphAlerts,
    DeviceLogin,
    OtherApi,
    /// Another Microsoft Graph path (`/v1.0/...`).
    OtherGraph,
    Other,
}

impl Route {
    fn endpoint(&self) -> Endpoint {
        match self {
            Route::Token(..) => Endpoint::Token,
            Route::DeviceCode(..) => Endpoint::DeviceCode,
            Route::Authorize(..) => Endpoint::Authorize,
            Route::Alerts => Endpoint::Alerts,
            Route::GraphAlerts => Endpoint::GraphAlerts,
            Route::DeviceLogin => Endpoint::DeviceLogin,
            Route::OtherApi | Route::OtherGraph | Route::Other => Endpoint::Other,
        }
    }
}

fn route(path: &str) -> Route {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let t = |s: &&str| (*s).to_owned();
    match segs.as_slice() {
        ["api", a] if a.eq_ignore_ascii_case("alerts") => Route::Alerts,
        ["api", ..] => Route::OtherApi,
        ["v1.0", s, a]
            if s.eq_ignore_ascii_case("security") && a.eq_ignore_ascii_case("alerts_v2") =>
        {
            Route::GraphAlerts
        }
        ["v1.0", ..] => Route::OtherGraph,
        [tn, "oauth2", "v2.0", "token"] => Route::Token(Version::V2, t(tn)),
        [tn, "oauth2", "token"] => Route::Token(Version::V1, t(tn)),
        [tn, "oauth2", "v2.0", "devicecode"] => Route::DeviceCode(Version::V2, t(tn)),
        [tn, "oauth2", "devicecode"] => Route::DeviceCode(Version::V1, t(tn)),
        [tn, "oauth2", "v2.0", "authorize"] => Route::Authorize(Version::V2, t(tn)),
        [tn, "oauth2", "authorize"] => Route::Authorize(Version::V1, t(tn)),
        ["devicelogin"] => Route::DeviceLogin,
        _ => Route::Other,
    }
}

/// Accepts connections until `shutdown` (subscribed by the caller, before this task first runs,
/// so that a shutdown right after start is not missed), then waits for nothing: each connection
/// task holds a clone of `done`, and whoever awaits shutdown waits for all of them to drop it.
pub(crate) async fn run(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: broadcast::Receiver<()>,
    done: mpsc::Sender<()>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let stop = shared.shutdown.subscribe();
                    tokio::spawn(connection(stream, shared.clone(), stop, done.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: pause instead of spinning.
                    tracing::warn!("simulator: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = shutdown.recv() => break,
        }
    }
}

async fn connection(
    stream: TcpStream,
    shared: Arc<Shared>,
    mut shutdown: broadcast::Receiver<()>,
    _done: mpsc::Sender<()>,
) {
    let _ = stream.set_nodelay(true);
    let raw = RawSlot::default();
    let (svc_shared, svc_raw) = (shared.clone(), raw.clone());
    // Boxed: `poll_without_shutdown`, which leaves the socket to us, wants an Unpin future.
    let service = service_fn(move |req| Box::pin(handle(svc_shared.clone(), svc_raw.clone(), req)));
    let mut builder = http1::Builder::new();
    // No hyper timer: nothing here may move paused tokio time by itself.
    builder.header_read_timeout(None);
    let mut conn = builder.serve_connection(TokioIo::new(stream), service);
    let mut closing = false;
    let served = loop {
        tokio::select! {
            served = poll_fn(|cx| conn.poll_without_shutdown(cx)) => break served,
            _ = shutdown.recv(), if !closing => {
                closing = true;
                // Spelled out: inside select!, a bare `Pin` is tokio's own import.
                std::pin::Pin::new(&mut conn).graceful_shutdown();
            }
        }
    };
    let mut stream = conn.into_parts().io.into_inner();
    let answer = raw.lock().unwrap_or_else(|e| e.into_inner()).take();
    match (served, answer) {
        // hyper stopped at the request answered raw, after flushing what it had written
        // before (a client waits for each answer before it sends the next request).
        (Err(_), Some(answer)) => {
            let _ = write_raw(&mut stream, &answer).await;
        }
        // Done: shut down the write side, as hyper would have.
        (Ok(()), _) => {
            let _ = stream.shutdown().await;
        }
        // A simulated reset or a broken connection: dropped, as hyper would have.
        (Err(_), None) => {}
    }
}

/// Writes `answer`, then closes: the close is what ends its body.
async fn write_raw(stream: &mut TcpStream, answer: &RawAnswer) -> std::io::Result<()> {
    stream.write_all(&answer.head).await?;
    for chunk in &answer.body {
        stream.write_all(chunk).await?;
    }
    stream.shutdown().await
}

/// `resp` with its body cut short (where `draw` says, [`faults::cut_at`]), as an HTTP/1.1
/// answer whose body ends when the connection closes: `Connection: close`, and neither
/// `Content-Length` nor `Transfer-Encoding`, so the client has no way to tell the body is not
/// whole. hyper's HTTP/1.1 server never writes that (an unknown length becomes chunked), hence
/// raw bytes.
fn cut_short(resp: Resp, draw: u64) -> RawAnswer {
    let (parts, body) = resp.into_parts();
    let keep = faults::cut_at(draw, body.byte_len());
    let mut head = format!("HTTP/1.1 {}\r\n", parts.status).into_bytes();
    for (name, value) in &parts.headers {
        if [
            header::CONTENT_LENGTH,
            header::TRANSFER_ENCODING,
            header::CONNECTION,
        ]
        .contains(name)
        {
            continue;
        }
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    // What hyper adds to its own answers.
    let date = chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT");
    head.extend_from_slice(format!("date: {date}\r\nconnection: close\r\n\r\n").as_bytes());
    RawAnswer {
        head,
        body: body.prefix(keep),
    }
}

/// Builds a response.
pub(crate) fn response(status: u16, content_type: &str, body: impl Into<Bytes>) -> Resp {
    chunked_response(status, content_type, Chunks::one(body.into()))
}

/// Builds a response whose body is already in chunks.
pub(crate) fn chunked_response(status: u16, content_type: &str, body: Chunks) -> Resp {
    let mut r = Response::new(body);
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

pub(crate) fn with_header(mut r: Resp, name: &'static str, value: &str) -> Resp {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(name, v);
    }
    r
}

/// The decoded query or form pairs.
pub(crate) fn pairs(text: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(text).into_owned().collect()
}

pub(crate) fn first<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// What a handler needs from the request.
#[derive(Debug)]
pub(crate) struct Req {
    pub(crate) method: Method,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) form: Vec<(String, String)>,
    pub(crate) headers: HeaderMap,
}

impl Req {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn handle(
    shared: Arc<Shared>,
    raw: RawSlot,
    req: Request<Incoming>,
) -> Result<Resp, Unanswered> {
    let at = Instant::now();
    let time = chrono::Utc::now();
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned());
    let route = route(req.uri().path());
    let query = pairs(req.uri().query().unwrap_or("").as_bytes());
    let (parts, body) = req.into_parts();
    let method = parts.method.clone();
    let form = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => pairs(&b.to_bytes()),
        Err(_) => Vec::new(),
    };
    let req = Req {
        method: parts.method,
        query,
        form,
        headers: parts.headers,
    };
    let (tenant, plan) = {
        let mut st = shared.lock();
        let tenant = match &route {
            Route::Token(_, t) | Route::DeviceCode(_, t) | Route::Authorize(_, t) => Some(
                st.store
                    .find(t)
                    .map_or_else(|| t.clone(), |i| st.store.tenants[i].info.id.clone()),
            ),
            Route::Alerts | Route::GraphAlerts => alerts_api::token_tenant(&st, &req),
            _ => None,
        };
        let plan = match &route {
            Route::Alerts | Route::GraphAlerts => {
                let f = st.faults.clone();
                let plan = faults::plan(&f, &mut st.fault_rng, true);
                // Drawn even when `plan` has a fault: see `faults::spoil`.
                let spoiled = faults::spoil(&f, &mut st.answer_rng);
                faults::Plan {
                    fault: plan.fault.or(spoiled),
                    ..plan
                }
            }
            Route::Token(..) | Route::DeviceCode(..) => {
                let f = st.faults.clone();
                faults::plan(&f, &mut st.fault_rng, false)
            }
            _ => faults::Plan::default(),
        };
        (tenant, plan)
    };
    if let Some(delay) = plan.delay {
        let mut shutdown = shared.shutdown.subscribe();
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.recv() => {}
        }
    }
    let record = |status: Option<u16>| RequestRecord {
        at,
        time,
        tenant: tenant.clone(),
        endpoint: route.endpoint(),
        method: method.to_string(),
        path: path.clone(),
        status,
    };
    if plan.fault == Some(Fault::Reset) {
        shared.lock().log.record(record(None));
        return Err(Unanswered::Reset);
    }
    let resp = match plan.fault {
        Some(Fault::Truncate(draw)) => {
            let resp = page(&shared, &route, &req);
            // The fault stands for a page cut in transit; the service's short error answers
            // (401, 403, 429...) go out whole, so that a client's handling of them is
            // rehearsed as it is.
            if resp.status() == StatusCode::OK {
                shared.lock().log.record(record(Some(200)));
                *raw.lock().unwrap_or_else(|e| e.into_inner()) = Some(cut_short(resp, draw));
                return Err(Unanswered::Raw);
            }
            resp
        }
        Some(fault) => faulted(&shared, &route, &req, fault),
        None => dispatch(&shared, &route, &req, &path).await,
    };
    shared
        .lock()
        .log
        .record(record(Some(resp.status().as_u16())));
    Ok(resp)
}

/// The page of an alert API, Graph's or MDE's.
fn page(shared: &Shared, route: &Route, req: &Req) -> Resp {
    if *route == Route::GraphAlerts {
        graph_api::alerts(shared, req)
    } else {
        alerts_api::alerts(shared, req)
    }
}

/// The answer a fault puts in place of the service's, in the shape of the API it stands for.
fn faulted(shared: &Shared, route: &Route, req: &Req, fault: Fault) -> Resp {
    let graph = *route == Route::GraphAlerts;
    match fault {
        Fault::Html => alerts_api::proxy_login_page(),
        Fault::NotPage => alerts_api::not_a_page(),
        Fault::InvalidUtf8 if graph => graph_api::alerts_not_utf8(shared, req),
        Fault::InvalidUtf8 => alerts_api::alerts_not_utf8(shared, req),
        Fault::TooManyRequests(after) if graph => graph_api::throttled(shared, req, after),
        Fault::TooManyRequests(after) => alerts_api::throttled(shared, after),
        Fault::ServerError(status) if graph => graph_api::server_error(shared, req, status),
        Fault::ServerError(status) if *route == Route::Alerts => {
            alerts_api::server_error(shared, status)
        }
        Fault::ServerError(status) => {
            token_endpoint::error_response(shared, req, &entra_errors::transient(status))
        }
        // Answered by the caller: a reset gets no answer, a cut page is written raw.
        Fault::Reset | Fault::Truncate(_) => page(shared, route, req),
    }
}

async fn dispatch(shared: &Arc<Shared>, route: &Route, req: &Req, path: &str) -> Resp {
    match route {
        Route::Token(v, t) => token_endpoint::token(shared, *v, t, req),
        Route::DeviceCode(v, t) => sign_in::device_code(shared, *v, t, req),
        Route::Authorize(v, t) => sign_in::authorize(shared, *v, t, req).await,
        Route::DeviceLogin => sign_in::device_login(shared, req),
        Route::Alerts => alerts_api::alerts(shared, req),
        Route::GraphAlerts => graph_api::alerts(shared, req),
        Route::OtherApi => alerts_api::not_found(shared),
        Route::OtherGraph => graph_api::not_found(shared, req, path),
        Route::Other => response(404, "text/plain; charset=utf-8", "Not found\n"),
    }
}
