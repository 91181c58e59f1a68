//! The simulator's mutable state behind one mutex, and the request log.
//!
//! One lock is enough: every handler holds it for microseconds (big pages are serialized after
//! it is released), and one lock makes every request see one consistent world.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use tokio::sync::{broadcast, oneshot};
use tokio::time::Instant;

use super::body::Pool;
use super::faults::Faults;
use super::limits::{Limits, RateLimiter};
use super::rng::Rng;
use super::sign_in::PendingAuthorization;
use super::simulator_config::SimulatorConfig;
use super::store::Store;
use super::tokens::Tokens;

/// What every connection task shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    /// The configuration the simulator started with (lifetimes, redirect URIs).
    pub(crate) config: SimulatorConfig,
    /// `http://127.0.0.1:PORT`: login_url and api_url at once.
    pub(crate) base_url: String,
    /// Fires once when the simulator shuts down.
    pub(crate) shutdown: broadcast::Sender<()>,
    /// Buffers of alert pages, reused.
    pub(crate) pages: Arc<Pool>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A handler that panicked left consistent data (no multi-step invariants span a panic
        // point), so keep serving rather than poisoning every later request.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Debug)]
pub(crate) struct State {
    pub(crate) store: Store,
    pub(crate) tokens: Tokens,
    /// Per tenant (one app): the alerts API's windows.
    pub(crate) limiters: Vec<RateLimiter>,
    /// Per tenant (one app): Graph `alerts_v2`'s window, apart from the alerts API's.
    pub(crate) graph_limiters: Vec<RateLimiter>,
    pub(crate) limits: Limits,
    pub(crate) faults: Faults,
    pub(crate) fault_rng: Rng,
    /// Draws of the alerts API's spoiled 200 answers (`faults::spoil`), apart from `fault_rng`
    /// so that those faults leave the older ones' sequences as they were.
    pub(crate) answer_rng: Rng,
    /// Trace and correlation ids.
    pub(crate) ids: Rng,
    pub(crate) auto_approve: bool,
    pub(crate) pending: Vec<PendingAuth>,
    pub(crate) log: RequestLog,
}

/// A sign-in held at `/authorize` until a test decides it.
#[derive(Debug)]
pub(crate) struct PendingAuth {
    pub(crate) info: PendingAuthorization,
    pub(crate) answer: oneshot::Sender<bool>,
}

/// Which endpoint a request was for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST /{tenant}/oauth2/token` and `/oauth2/v2.0/token`.
    Token,
    /// `POST /{tenant}/oauth2/devicecode` and `/oauth2/v2.0/devicecode`.
    DeviceCode,
    /// `GET /{tenant}/oauth2/authorize` and `/oauth2/v2.0/authorize`.
    Authorize,
    /// `GET /api/alerts`.
    Alerts,
    /// `GET /v1.0/security/alerts_v2` (Microsoft Graph).
    GraphAlerts,
    /// The device-login page (`/devicelogin`).
    DeviceLogin,
    /// Anything else (answered 404 or 405).
    Other,
}

/// One request as the simulator saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    /// When it arrived, on the tokio clock.
    pub at: Instant,
    /// When it arrived, on the wall clock.
    pub time: DateTime<Utc>,
    /// The tenant id: from the URL for Entra endpoints (as written when the tenant is unknown),
    /// from the access token for the alert APIs (`None` without a valid token).
    pub tenant: Option<String>,
    pub endpoint: Endpoint,
    pub method: String,
    /// Path and query as sent.
    pub path: String,
    /// The status answered; `None` when the connection was dropped without an answer.
    pub status: Option<u16>,
}

/// Requests seen: every one counted, the latest `LOG_CAPACITY` kept in full.
#[derive(Debug, Default)]
pub(crate) struct RequestLog {
    records: VecDeque<RequestRecord>,
    counts: HashMap<(String, Endpoint), u64>,
}

/// Enough for any test; bounded so a long `siemfwd simulate` does not grow without end.
const LOG_CAPACITY: usize = 100_000;

impl RequestLog {
    pub(crate) fn record(&mut self, r: RequestRecord) {
        let key = (r.tenant.clone().unwrap_or_default(), r.endpoint);
        *self.counts.entry(key).or_default() += 1;
        if self.records.len() == LOG_CAPACITY {
            self.records.pop_front();
        }
        self.records.push_back(r);
    }

    pub(crate) fn count(&self, tenant: &str, endpoint: Endpoint) -> u64 {
        self.counts
            .get(&(tenant.to_owned(), endpoint))
            .copied()
            .unwrap_or(0)
    }

    pub(crate) fn records(&self) -> Vec<RequestRecord> {
        self.records.iter().cloned().collect()
    }

    pub(crate) fn clear(&mut self) {
        self.records.clear();
        self.counts.clear();
    }
}
