//! Random, seeded faults: throttling, server errors, slow answers, dropped connections and
//! malformed alerts inside a page — what a client meets on a bad day of the real service.

use std::time::Duration;

use serde_json::{Value, json};

use super::rng::Rng;

/// Fault rates (probabilities 0–1 per request, or per alert for `malformed`). All zero by
/// default. The sequence of faults follows from the seed and the order of requests.
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
    /// The connection is closed without an answer.
    pub reset: f64,
    /// Each alert of a page is replaced by a copy with a wrong-typed field.
    pub malformed: f64,
    /// Also apply `http_5xx`, `slow` and `reset` to the Entra endpoints (token, devicecode).
    pub token_endpoints: bool,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            http_429: 0.0,
            retry_after: Duration::from_secs(2),
            http_5xx: 0.0,
            slow: 0.0,
            slow_delay: Duration::from_secs(3),
            reset: 0.0,
            malformed: 0.0,
            token_endpoints: false,
        }
    }
}

/// What goes wrong with one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    Reset,
    TooManyRequests(Duration),
    ServerError(u16),
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
    Plan {
        delay: slow.then_some(f.slow_delay),
        fault,
    }
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
