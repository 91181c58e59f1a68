//! Random, seeded faults: throttling, server errors, slow answers, dropped connections and
//! malformed alerts inside a page — what a client meets on a bad day of the real service — and
//! 200 answers that are not a usable page — what the network between client and service makes
//! of some answers (a proxy's login page, a generic error, a cut connection, mangled bytes).

use std::time::Duration;

use serde_json::{Value, json};

use super::rng::Rng;

/// Fault rates (probabilities 0–1 per request, or per alert for `malformed`). All zero by
/// default. The sequence of faults follows from the seed and the order of requests. "The alerts
/// API" is `/api/alerts` and Graph `alerts_v2` alike: each answers in its own error shape.
#[derive(Clone, Debug, PartialEq)]
pub struct Faults {
    /// The alerts API answers 429 with `Retry-After: retry_after`.
    pub http_429: f64,
    /// `Retry-After` of those random 429s.
    pub retry_after: Duration,
    /// The alerts API answers 500 or 503.
    pub http_5xx: f64,
    /// The answer is delayed by `slow_delay`.
    pub slow: f64,
    /// How late a slow answer is.
    pub slow_delay: Duration,
    /// Every alerts API answer is this late (a slow one `slow_delay` more): Microsoft's API
    /// answers in hundreds of milliseconds to seconds, not in microseconds.
    pub latency: Duration,
    /// The connection is closed without an answer.
    pub reset: f64,
    /// Each alert of a page is replaced by a copy with a wrong-typed field.
    pub malformed: f64,
    /// Also apply `http_5xx`, `slow` and `reset` to the Entra endpoints (token, devicecode).
    pub token_endpoints: bool,
    /// The alerts API answers 200 with a corporate proxy's HTML sign-in page.
    pub html: f64,
    /// The alerts API answers 200 with a JSON object that is not a page
    /// (`{"message": "An error has occurred."}`).
    pub not_page: f64,
    /// The alerts API's 200 page is cut short: no `Content-Length`, not chunked, the connection
    /// closed mid-body, so the client sees a clean end of a body that is not whole.
    pub truncate: f64,
    /// The alerts API's 200 page has bytes that are not UTF-8 in its envelope (the alerts
    /// themselves stay valid).
    pub invalid_utf8: f64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            http_429: 0.0,
            retry_after: Duration::from_secs(2),
            http_5xx: 0.0,
            slow: 0.0,
            slow_delay: Duration::from_secs(3),
            latency: Duration::ZERO,
            reset: 0.0,
            malformed: 0.0,
            token_endpoints: false,
            html: 0.0,
            not_page: 0.0,
            truncate: 0.0,
            invalid_utf8: 0.0,
        }
    }
}

/// What goes wrong with one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    Reset,
    TooManyRequests(Duration),
    ServerError(u16),
    /// A proxy's HTML page instead of the service's answer.
    Html,
    /// A JSON object that is not a page.
    NotPage,
    /// The page cut short; the number is a draw that picks where (see [`cut_at`]).
    Truncate(u64),
    /// A page whose envelope is not UTF-8.
    InvalidUtf8,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) delay: Option<Duration>,
    pub(crate) fault: Option<Fault>,
}

/// Decides the faults of one request. `alerts_api` is false for Entra endpoints, which never
/// get a random 429 (Entra throttles differently) and only get faults when `token_endpoints`.
pub(crate) fn plan(f: &Faults, rng: &mut Rng, alerts_api: bool) -> Plan {
    // Always four draws, so changing one rate does not reshuffle the others.
    let slow = rng.chance(f.slow);
    let reset = rng.chance(f.reset);
    let too_many = rng.chance(f.http_429);
    let server = rng.chance(f.http_5xx);
    let status = if rng.chance(0.5) { 500 } else { 503 };
    if !alerts_api && !f.token_endpoints {
        return Plan::default();
    }
    let fault = if reset {
        Some(Fault::Reset)
    } else if too_many && alerts_api {
        Some(Fault::TooManyRequests(f.retry_after))
    } else if server {
        Some(Fault::ServerError(status))
    } else {
        None
    };
    let latency = if alerts_api {
        f.latency
    } else {
        Duration::ZERO
    };
    let delay = latency + if slow { f.slow_delay } else { Duration::ZERO };
    Plan {
        delay: (!delay.is_zero()).then_some(delay),
        fault,
    }
}

/// Decides whether an alerts API call that met none of [`plan`]'s faults gets a 200 that is not
/// a usable page.
///
/// `rng` is its own stream (`State::answer_rng`), not the one of [`plan`] and the malformed
/// alerts: with these rates at 0, those keep, for a given seed, the sequences they had before
/// these faults existed, and changing a rate here does not reshuffle [`plan`]'s faults (nor the
/// reverse). Always five draws, for the same reason as in [`plan`], and called for every alerts
/// API call whatever `plan` decided, so that one stream never depends on the other's rates.
/// One coupling is inherent: a call answered by [`Fault::Html`] or [`Fault::NotPage`] makes no
/// page, hence no malformed-alert draws, just as a call answered 429 or 5xx makes none.
pub(crate) fn spoil(f: &Faults, rng: &mut Rng) -> Option<Fault> {
    let html = rng.chance(f.html);
    let not_page = rng.chance(f.not_page);
    let truncate = rng.chance(f.truncate);
    let invalid_utf8 = rng.chance(f.invalid_utf8);
    let cut = rng.next_u64();
    if html {
        Some(Fault::Html)
    } else if not_page {
        Some(Fault::NotPage)
    } else if truncate {
        Some(Fault::Truncate(cut))
    } else if invalid_utf8 {
        Some(Fault::InvalidUtf8)
    } else {
        None
    }
}

/// A truncated body keeps at least this many bytes: enough to look like the start of a page,
/// so the client has begun reading JSON when the body ends.
const MIN_KEPT: u64 = 16;

/// How many of `len` bytes a truncated body keeps, from the draw of [`Fault::Truncate`]: at
/// least [`MIN_KEPT`] (fewer if the body is that short) and always fewer than `len`, so the
/// body is never whole.
pub(crate) fn cut_at(draw: u64, len: u64) -> u64 {
    let Some(most) = len.checked_sub(1) else {
        return 0;
    };
    let least = MIN_KEPT.min(most);
    least + draw % (most - least + 1)
}

/// A copy of `alert` with one field of the wrong type: something the client's alert model must
/// reject for this alert alone while reading the rest of the page. The id stays, so the client
/// can report which alert it was. `kind` is a draw of `rng.below(3)`: which field breaks.
pub(crate) fn malform(kind: u64, alert: &Value) -> Value {
    let mut bad = alert.clone();
    let Some(map) = bad.as_object_mut() else {
        return bad;
    };
    match kind {
        0 => map.insert("evidence".into(), json!("not-an-array")),
        1 => map.insert("comments".into(), json!({"comment": "not-an-array"})),
        _ => map.insert("alertCreationTime".into(), json!(1_732_269_059_u64)),
    };
    bad
}
