//! `GET /api/alerts` (docs/alerts-api.md): bearer tokens, the app's permission in the tenant, the
//! per-app-per-tenant quotas, OData paging, and the page itself.
//!
//! Results come in creation order, not by `lastUpdateTime`, like a database's stable order: an
//! alert updated while a client pages with `$skip` leaves its place and shifts the later ones,
//! which is exactly how `$skip` paging loses alerts on the real service.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hyper::Method;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::body::{Chunks, PageWriter, Pool};
use super::faults;
use super::generate::World;
use super::limits::retry_after_secs;
use super::odata;
use super::render::{self, Source};
use super::server::{Req, Resp, chunked_response, response, with_header};
use super::shared_state::{Shared, State};
use super::tokens::Audience;

const CONTEXT: &str = "https://api.securitycenter.microsoft.com/api/$metadata#Alerts";
const CONTENT_TYPE: &str = "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8";

pub(crate) fn bearer(req: &Req) -> Option<&str> {
    let h = req.header("authorization")?;
    let (scheme, token) = h.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The tenant of the request's access token, for the request log.
pub(crate) fn token_tenant(st: &State, req: &Req) -> Option<String> {
    let t = st.tokens.access(bearer(req)?)?.tenant;
    Some(st.store.tenants[t].info.id.clone())
}

/// The API's error shape, `target` being the correlation id.
fn error_with(st: &mut State, status: u16, code: &str, message: &str) -> Resp {
    let target = st.ids.guid();
    let body = json!({"error": {"code": code, "message": message, "target": target}});
    let r = response(status, "application/json; charset=utf-8", body.to_string());
    with_header(r, "request-id", &target)
}

/// A 429 with `Retry-After`.
fn throttled_with(st: &mut State, after: Duration) -> Resp {
    let secs = retry_after_secs(after);
    let message = format!(
        "API calls quota exceeded! Maximum allowed {} per 1 minute(s) and {} per 1 hour(s) for this application in this tenant. Please try again in {secs} seconds.",
        st.limits.per_minute, st.limits.per_hour
    );
    let r = error_with(st, 429, "TooManyRequests", &message);
    with_header(r, "retry-after", &secs.to_string())
}

/// A random-fault 429.
pub(crate) fn throttled(shared: &Shared, after: Duration) -> Resp {
    throttled_with(&mut shared.lock(), after)
}

/// A random-fault 500 or 503.
pub(crate) fn server_error(shared: &Shared, status: u16) -> Resp {
    let (code, message) = if status == 503 {
        (
            "ServiceUnavailable",
            "The service is temporarily unavailable. Please retry.",
        )
    } else {
        (
            "InternalServerError",
            "An unexpected error occurred. Please retry.",
        )
    };
    error_with(&mut shared.lock(), status, code, message)
}

pub(crate) fn not_found(shared: &Shared) -> Resp {
    error_with(
        &mut shared.lock(),
        404,
        "ResourceNotFound",
        "The requested resource does not exist.",
    )
}

/// What a corporate web proxy answers in place of the service when it wants its user to sign
/// in: a 200 with an HTML page, which a client must not take for (or fail to parse as) a page
/// of alerts without saying what it got.
pub(crate) fn proxy_login_page() -> Resp {
    const PAGE: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Sign in - Contoso Web Gateway</title>
</head>
<body>
<h1>Authentication required</h1>
<p>Contoso's web gateway requires you to sign in before you can reach api.securitycenter.microsoft.com.</p>
<form method="post" action="/gateway/login">
<input type="hidden" name="url" value="https://api.securitycenter.microsoft.com/api/alerts">
<label>User name <input name="username"></label>
<label>Password <input name="password" type="password"></label>
<button type="submit">Sign in</button>
</form>
</body>
</html>
"#;
    let r = response(200, "text/html; charset=utf-8", PAGE);
    with_header(r, "cache-control", "no-store")
}

/// ASP.NET Web API's generic error body, here with a 200, as a misbehaving gateway or back end
/// may send it: valid JSON, but no `value` array, so it is not an empty page either.
pub(crate) fn not_a_page() -> Resp {
    response(
        200,
        "application/json; charset=utf-8",
        r#"{"message":"An error has occurred."}"#,
    )
}

/// One page, gathered under the lock and written after it.
struct Page {
    world: Arc<World>,
    adversarial: f64,
    alerts: Vec<Source>,
    /// Position in `alerts` → which field its malformed copy breaks (`faults::malform`).
    malformed: HashMap<usize, u64>,
    expand: bool,
    next_link: Option<String>,
    /// The envelope gets bytes that are not UTF-8 (the `invalid_utf8` fault).
    not_utf8: bool,
}

/// `GET /api/alerts`.
pub(crate) fn alerts(shared: &Shared, req: &Req) -> Resp {
    answer(shared, req, false)
}

/// `GET /api/alerts`, but a 200 page's `@odata.context` ends in bytes that are not UTF-8, as
/// when something on the way re-encodes text; its alerts stay valid, so a client that decodes
/// strictly loses a good page, and one that decodes leniently reads a changed envelope.
pub(crate) fn alerts_not_utf8(shared: &Shared, req: &Req) -> Resp {
    answer(shared, req, true)
}

fn answer(shared: &Shared, req: &Req, not_utf8: bool) -> Resp {
    let page = {
        let mut st = shared.lock();
        if req.method != Method::GET {
            return error_with(
                &mut st,
                405,
                "MethodNotAllowed",
                "The requested resource does not support this HTTP method.",
            );
        }
        match gather(shared, &mut st, req) {
            Ok(page) => Page { not_utf8, ..page },
            Err(resp) => return *resp,
        }
    };
    let body = serialize(&page, &shared.pages);
    let r = chunked_response(200, CONTENT_TYPE, body);
    with_header(r, "odata-version", "4.0")
}

/// An error answer in place of a page (boxed: a response is large next to a page).
fn fail(r: Resp) -> Result<Page, Box<Resp>> {
    Err(Box::new(r))
}

/// The page, or the error answer.
fn gather(shared: &Shared, st: &mut State, req: &Req) -> Result<Page, Box<Resp>> {
    let now = Instant::now();
    let denied = "Authorization has been denied for this request.";
    let Some(token) = bearer(req) else {
        return fail(error_with(
            st,
            401,
            "Unauthorized",
            &format!("{denied} The request has no Authorization: Bearer token."),
        ));
    };
    let (t, audience, expires) = match st.tokens.access(token) {
        Some(a) => (a.tenant, a.audience.clone(), a.expires),
        None => {
            return fail(error_with(
                st,
                401,
                "Unauthorized",
                &format!("{denied} The access token is invalid."),
            ));
        }
    };
    if now >= expires {
        return fail(error_with(
            st,
            401,
            "Unauthorized",
            &format!("{denied} The access token has expired."),
        ));
    }
    if audience != Audience::Defender {
        let msg = format!(
            "{denied} The access token is for '{}', not for https://api.securitycenter.microsoft.com.",
            audience.resource()
        );
        return fail(error_with(st, 401, "Unauthorized", &msg));
    }
    if st.store.tenants[t].knobs.api_forbidden {
        let msg = format!(
            "The application {} is not allowed to access tenant {}: the tenant's administrator has not allowed it in Microsoft Defender (Settings > Endpoints > APIs > SIEM, MSSP tab).",
            shared.client_id, st.store.tenants[t].info.id
        );
        return fail(error_with(st, 403, "Forbidden", &msg));
    }
    if let Some(after) = st.store.tenants[t].knobs.throttled {
        return fail(throttled_with(st, after));
    }
    let limits = st.limits.clone();
    if let Err(after) = st.limiters[t].check(now, &limits) {
        return fail(throttled_with(st, after));
    }
    let q = odata::parse_query(&req.query, limits.max_top)
        .map_err(|m| Box::new(error_with(st, 400, "BadRequest", &m)))?;
    if let Some(limit) = limits.skip_limit
        && q.skip >= limit
    {
        let msg = format!(
            "The $skip value {} is too large: at most {} alerts can be skipped. Narrow the $filter time window instead.",
            q.skip,
            limit.saturating_sub(1)
        );
        return fail(error_with(st, 400, "BadRequest", &msg));
    }
    let page_size = limits.page_size.clamp(1, limits.max_top.max(1));
    let take = usize::try_from(q.top.unwrap_or(page_size)).unwrap_or(usize::MAX);
    let tenant = &st.store.tenants[t];
    let mut alerts: Vec<Source> = tenant
        .visible(now)
        .filter(|(i, _)| {
            q.filter
                .as_ref()
                .is_none_or(|f| f.matches(&tenant.record(*i)))
        })
        .skip(usize::try_from(q.skip).unwrap_or(usize::MAX))
        .take(take + 1)
        .map(|(i, _)| tenant.source(i))
        .collect();
    let world = tenant.world().clone();
    let more = alerts.len() > take;
    alerts.truncate(take);
    // No nextLink at all when $top was given, even if more match (docs/alerts-api.md).
    let next_link = (more && q.top.is_none()).then(|| next_link(shared, req, q.skip + page_size));
    let mut malformed = HashMap::new();
    let rate = st.faults.malformed;
    if rate > 0.0 {
        for i in 0..alerts.len() {
            if st.fault_rng.chance(rate) {
                malformed.insert(i, st.fault_rng.below(3));
            }
        }
    }
    Ok(Page {
        world,
        adversarial: st.store.adversarial(),
        alerts,
        malformed,
        expand: q.expand_evidence,
        next_link,
        not_utf8: false,
    })
}

fn next_link(shared: &Shared, req: &Req, skip: u64) -> String {
    let base = req
        .header("host")
        .map_or_else(|| shared.base_url.clone(), |h| format!("http://{h}"));
    let mut enc = form_urlencoded::Serializer::new(String::new());
    for (k, v) in req
        .query
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("$skip"))
    {
        enc.append_pair(k, v);
    }
    enc.append_pair("$skip", &skip.to_string());
    format!("{base}/api/alerts?{}", enc.finish())
}

fn serialize(page: &Page, pool: &Arc<Pool>) -> Chunks {
    let mut w = PageWriter::new(pool);
    let out = w.buf();
    out.extend_from_slice(b"{\"@odata.context\":");
    if page.not_utf8 {
        // CONTEXT has nothing JSON escapes. 0xE9 (Latin-1 "é") opens a three-byte sequence
        // that 0xFF, never valid in UTF-8, breaks: invalid however a decoder resynchronizes.
        out.push(b'"');
        out.extend_from_slice(CONTEXT.as_bytes());
        out.extend_from_slice(b"\xe9\xff\"");
    } else {
        out.extend_from_slice(json!(CONTEXT).to_string().as_bytes());
    }
    out.extend_from_slice(b",\"value\":[");
    let (world, adversarial) = (&page.world, page.adversarial);
    for (i, source) in page.alerts.iter().enumerate() {
        let out = w.buf();
        if i > 0 {
            out.push(b',');
        }
        match page.malformed.get(&i) {
            Some(&kind) => {
                let mut shown = Vec::new();
                render::write(&mut shown, world, adversarial, source, page.expand);
                let alert: Value = serde_json::from_slice(&shown).unwrap_or(Value::Null);
                // Writing a Value into a Vec cannot fail.
                let _ = serde_json::to_writer(out, &faults::malform(kind, &alert));
            }
            None => render::write(out, world, adversarial, source, page.expand),
        }
    }
    let out = w.buf();
    out.push(b']');
    if let Some(link) = &page.next_link {
        out.extend_from_slice(b",\"@odata.nextLink\":");
        out.extend_from_slice(json!(link).to_string().as_bytes());
    }
    out.push(b'}');
    w.finish()
}
