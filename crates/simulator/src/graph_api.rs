//! Microsoft Graph `GET /v1.0/security/alerts_v2` (docs/alerts-api.md, the Graph section), on the
//! same server, tenants, store, live changes and faults as `/api/alerts`: Graph bearer tokens,
//! `SecurityAlert.Read.All`, Graph's own quota (150 calls per minute per app per tenant),
//! `$filter`/`$top`/`$skip`/`$count` ([`super::graph_query`]), `@odata.nextLink` pages,
//! `Prefer: include-unknown-enum-members`, and Graph's error shape
//! (`{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}`).
//!
//! The alerts are those of `/api/alerts` as Graph shows them ([`super::graph`]), each followed by
//! the alert of another product riding on it, if it has one ([`super::graph_companion`]), in the
//! same creation order: an update moves nothing, a new alert comes last, so `$skip` paging of a
//! window loses alerts the way it does on `/api/alerts` when alerts leave the window.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use hyper::Method;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::alerts_api::bearer;
use super::body::{Chunks, PageWriter, Pool};
use super::generate::World;
use super::graph;
use super::graph_companion::Companion;
use super::graph_query::{self, GraphRow};
use super::limits::retry_after_secs;
use super::odata::{Field, Record, Scalar};
use super::render::{self, Source};
use super::server::{Req, Resp, chunked_response, response, with_header};
use super::shared_state::{Shared, State};
use super::tokens::Audience;

/// The path of Microsoft Graph's alerts, on [`super::Simulator::url`] as on
/// `https://graph.microsoft.com`.
pub const GRAPH_ALERTS_PATH: &str = "/v1.0/security/alerts_v2";
/// The client-credentials scope of a Graph token.
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";
/// The delegated scopes of a Graph token with a refresh token.
pub const GRAPH_DELEGATED_SCOPE: &str =
    "https://graph.microsoft.com/SecurityAlert.Read.All offline_access";

/// What Graph `alerts_v2` lists for one MDE alert version (as `/api/alerts` writes it with
/// `$expand=evidence`, e.g. [`super::AlertVersion::json`]): the alert in Graph's shape, then the
/// alert of another product riding on it, if it has one. Every enum member is shown, as with
/// `Prefer: include-unknown-enum-members`.
pub fn to_graph(mde_alert: &Value) -> Vec<Value> {
    let alert = graph::from_mde(mde_alert);
    let id = mde_alert.get("id").and_then(Value::as_str);
    let companion = id.and_then(Companion::of);
    let companion = companion.map(|c| c.alert(&alert));
    std::iter::once(alert).chain(companion).collect()
}

const CONTEXT: &str = "https://graph.microsoft.com/v1.0/$metadata#security/alerts_v2";
const CONTENT_TYPE: &str = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";
/// The preference that shows enum members newer than `unknownFutureValue`.
const NEWER_MEMBERS: &str = "include-unknown-enum-members";

/// Whether the request's `Prefer` headers ask for enum members newer than the sentinel.
fn wants_newer_members(req: &Req) -> bool {
    req.headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case(NEWER_MEMBERS))
}

/// (request-id, client-request-id): the client's `client-request-id` echoed when it sent one.
fn request_ids(st: &mut State, req: &Req) -> (String, String) {
    let request = st.ids.guid();
    let client = req
        .header("client-request-id")
        .filter(|c| !c.is_empty() && c.len() <= 64 && c.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| st.ids.guid(), str::to_owned);
    (request, client)
}

fn ids_headers(r: Resp, request: &str, client: &str) -> Resp {
    let r = with_header(r, "request-id", request);
    with_header(r, "client-request-id", client)
}

/// Graph's error shape.
fn error_with(st: &mut State, req: &Req, status: u16, code: &str, message: &str) -> Resp {
    let (request, client) = request_ids(st, req);
    let date = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string();
    let body = json!({"error": {
        "code": code,
        "message": message,
        "innerError": {"date": date, "request-id": request, "client-request-id": client},
    }});
    let r = response(status, "application/json", body.to_string());
    ids_headers(r, &request, &client)
}

/// A 429 with `Retry-After`.
fn throttled_with(st: &mut State, req: &Req, after: Duration) -> Resp {
    let secs = retry_after_secs(after);
    let message = format!(
        "Too many requests: at most {} calls per minute per application per tenant are allowed for security alerts. Retry after {secs} seconds.",
        st.limits.graph_per_minute
    );
    let r = error_with(st, req, 429, "TooManyRequests", &message);
    with_header(r, "retry-after", &secs.to_string())
}

/// A random-fault 429.
pub(crate) fn throttled(shared: &Shared, req: &Req, after: Duration) -> Resp {
    throttled_with(&mut shared.lock(), req, after)
}

/// A random-fault 500 or 503.
pub(crate) fn server_error(shared: &Shared, req: &Req, status: u16) -> Resp {
    let (code, message) = if status == 503 {
        (
            "serviceNotAvailable",
            "The service is temporarily unavailable.",
        )
    } else {
        ("generalException", "An unexpected error occurred.")
    };
    error_with(&mut shared.lock(), req, status, code, message)
}

/// Another Graph path: Graph names the segment it does not know.
pub(crate) fn not_found(shared: &Shared, req: &Req, path: &str) -> Resp {
    let path = path.split('?').next().unwrap_or("");
    let segment = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    let message = format!("Resource not found for the segment '{segment}'.");
    error_with(&mut shared.lock(), req, 400, "BadRequest", &message)
}

/// One page, gathered under the lock and written after it.
struct Page {
    world: Arc<World>,
    adversarial: f64,
    /// The MDE versions (by store index) and, for a companion, which one.
    items: Vec<(u32, Source, Option<Companion>)>,
    /// Position in `items` → which field its malformed copy breaks.
    malformed: HashMap<usize, u64>,
    count: Option<usize>,
    next_link: Option<String>,
    newer_members: bool,
    not_utf8: bool,
}

/// `GET /v1.0/security/alerts_v2`.
pub(crate) fn alerts(shared: &Shared, req: &Req) -> Resp {
    answer(shared, req, false)
}

/// `GET /v1.0/security/alerts_v2`, a 200 page's `@odata.context` ending in bytes that are not
/// UTF-8 (the `invalid_utf8` fault).
pub(crate) fn alerts_not_utf8(shared: &Shared, req: &Req) -> Resp {
    answer(shared, req, true)
}

fn answer(shared: &Shared, req: &Req, not_utf8: bool) -> Resp {
    let (page, request, client) = {
        let mut st = shared.lock();
        if req.method != Method::GET {
            let message = "The HTTP method is not supported for alerts_v2: use GET.";
            return error_with(&mut st, req, 405, "Request_BadRequest", message);
        }
        match gather(shared, &mut st, req) {
            Ok(page) => {
                let (request, client) = request_ids(&mut st, req);
                (Page { not_utf8, ..page }, request, client)
            }
            Err(resp) => return *resp,
        }
    };
    let body = serialize(&page, &shared.pages);
    let r = chunked_response(200, CONTENT_TYPE, body);
    let r = with_header(r, "odata-version", "4.0");
    let r = ids_headers(r, &request, &client);
    if page.newer_members {
        with_header(r, "preference-applied", NEWER_MEMBERS)
    } else {
        r
    }
}

fn fail(r: Resp) -> Result<Page, Box<Resp>> {
    Err(Box::new(r))
}

/// The Graph view of MDE version `source`.
pub(crate) fn render_graph(world: &World, adversarial: f64, source: &Source) -> Value {
    let mut out = Vec::new();
    render::write(&mut out, world, adversarial, source, true);
    graph::from_mde(&serde_json::from_slice(&out).unwrap_or(Value::Null))
}

/// The page, or the error answer.
fn gather(shared: &Shared, st: &mut State, req: &Req) -> Result<Page, Box<Resp>> {
    let now = Instant::now();
    let invalid = "InvalidAuthenticationToken";
    let Some(token) = bearer(req) else {
        return fail(error_with(st, req, 401, invalid, "Access token is empty."));
    };
    let (t, audience, expires) = match st.tokens.access(token) {
        Some(a) => (a.tenant, a.audience.clone(), a.expires),
        None => {
            let msg = "Invalid JWT token. The token is not in a valid format.";
            return fail(error_with(st, req, 401, invalid, msg));
        }
    };
    if now >= expires {
        let msg = "Lifetime validation failed, the token is expired.";
        return fail(error_with(st, req, 401, invalid, msg));
    }
    if audience != Audience::Graph {
        let msg = format!(
            "Access token validation failure. Invalid audience: the token is for '{}', not for https://graph.microsoft.com.",
            audience.resource()
        );
        return fail(error_with(st, req, 401, invalid, &msg));
    }
    if st.store.tenants[t].knobs.api_forbidden {
        let msg = format!(
            "Missing application roles. API required roles: SecurityAlert.Read.All, SecurityAlert.ReadWrite.All. The application {} has not been granted SecurityAlert.Read.All (admin consent) in tenant {}.",
            shared.client_id, st.store.tenants[t].info.id
        );
        return fail(error_with(st, req, 403, "Forbidden", &msg));
    }
    if let Some(after) = st.store.tenants[t].knobs.throttled {
        return fail(throttled_with(st, req, after));
    }
    let limits = st.limits.clone();
    if let Err(after) = st.graph_limiters[t].check(now, &limits.graph()) {
        return fail(throttled_with(st, req, after));
    }
    let q = match graph_query::parse(&req.query, limits.graph_max_top) {
        Ok(q) => q,
        Err(m) => return fail(error_with(st, req, 400, "BadRequest", &m)),
    };
    let page_size = limits.graph_page_size.clamp(1, limits.graph_max_top.max(1));
    let take = usize::try_from(q.top.unwrap_or(page_size)).unwrap_or(usize::MAX);
    let skip = usize::try_from(q.skip).unwrap_or(usize::MAX);
    let tenant = &st.store.tenants[t];
    let world = tenant.world().clone();
    let adversarial = st.store.adversarial();
    let (mut matched, mut more) = (0_usize, false);
    let mut items = Vec::new();
    for (i, _) in tenant.visible(now) {
        let mde = tenant.record(i);
        let id = match mde.field(Field::Id) {
            Scalar::Str(s) => s,
            _ => "",
        };
        let render = || render_graph(&world, adversarial, &tenant.source(i));
        // The MDE alert, then its companion if it has one.
        let views = std::iter::once(None).chain(Companion::of(id).map(Some));
        for companion in views {
            let row = GraphRow::new(&mde, companion, &render);
            if q.filter.as_ref().is_none_or(|f| f.matches(&row)) {
                if matched >= skip {
                    if items.len() < take {
                        items.push((i, tenant.source(i), companion));
                    } else {
                        more = true;
                    }
                }
                matched += 1;
            }
        }
        if more && !q.count {
            break;
        }
    }
    if limits.graph_skip_stall.is_some_and(|stall| q.skip >= stall) {
        // The stall: one result and no nextLink, as if the results ended there, though
        // `$count` still counts them all.
        items.truncate(1);
        more = false;
    }
    let next_link = more.then(|| next_link(shared, req, q.skip + items.len() as u64));
    let mut malformed = HashMap::new();
    let rate = st.faults.malformed;
    if rate > 0.0 {
        for i in 0..items.len() {
            if st.fault_rng.chance(rate) {
                malformed.insert(i, st.fault_rng.below(3));
            }
        }
    }
    Ok(Page {
        world,
        adversarial,
        items,
        malformed,
        count: q.count.then_some(matched),
        next_link,
        newer_members: wants_newer_members(req),
        not_utf8: false,
    })
}

/// Appends `s` percent-encoded for a query, keeping what OData queries show as they are.
fn encode(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~$:'(),@/".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// The absolute URL of the same request with `$skip` at `skip`, on the host the client used.
fn next_link(shared: &Shared, req: &Req, skip: u64) -> String {
    let base = req
        .header("host")
        .map_or_else(|| shared.base_url.clone(), |h| format!("http://{h}"));
    let mut url = format!("{base}{GRAPH_ALERTS_PATH}?");
    let kept = req
        .query
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("$skip"));
    for (k, v) in kept {
        encode(k, &mut url);
        url.push('=');
        encode(v, &mut url);
        url.push('&');
    }
    let _ = write!(url, "$skip={skip}");
    url
}

/// A copy of `alert` with one field of the wrong type (the `malformed` fault); the id stays.
fn malform(kind: u64, alert: &Value) -> Value {
    let mut bad = alert.clone();
    if let Some(map) = bad.as_object_mut() {
        match kind {
            0 => map.insert("evidence".into(), json!("not-an-array")),
            1 => map.insert("comments".into(), json!({"comment": "not-an-array"})),
            _ => map.insert("createdDateTime".into(), json!(1_732_269_059_u64)),
        };
    }
    bad
}

fn serialize(page: &Page, pool: &Arc<Pool>) -> Chunks {
    let mut w = PageWriter::new(pool);
    let out = w.buf();
    out.extend_from_slice(b"{\"@odata.context\":");
    if page.not_utf8 {
        // As on `/api/alerts`: an invalid sequence however a decoder resynchronizes.
        out.push(b'"');
        out.extend_from_slice(CONTEXT.as_bytes());
        out.extend_from_slice(b"\xe9\xff\"");
    } else {
        out.extend_from_slice(json!(CONTEXT).to_string().as_bytes());
    }
    if let Some(n) = page.count {
        out.extend_from_slice(format!(",\"@odata.count\":{n}").as_bytes());
    }
    if let Some(link) = &page.next_link {
        out.extend_from_slice(b",\"@odata.nextLink\":");
        out.extend_from_slice(json!(link).to_string().as_bytes());
    }
    out.extend_from_slice(b",\"value\":[");
    // A companion follows its MDE alert: the MDE alert's view is made once for both.
    let mut last: Option<(u32, Value)> = None;
    for (n, (i, source, companion)) in page.items.iter().enumerate() {
        let mde = match last.take() {
            Some((j, v)) if j == *i => v,
            _ => render_graph(&page.world, page.adversarial, source),
        };
        let mut alert = match companion {
            Some(c) => c.alert(&mde),
            None => mde.clone(),
        };
        last = Some((*i, mde));
        if !page.newer_members {
            graph::hide_newer_members(&mut alert);
        }
        if let Some(&kind) = page.malformed.get(&n) {
            alert = malform(kind, &alert);
        }
        let out = w.buf();
        if n > 0 {
            out.push(b',');
        }
        // Writing a Value into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &alert);
    }
    let out = w.buf();
    out.extend_from_slice(b"]}");
    w.finish()
}
