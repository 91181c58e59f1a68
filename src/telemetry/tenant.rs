//! What is known live of one tenant: counters of what its polls did, its API calls by
//! outcome, where its checkpoint stands, and whether it is well (and if not, why and the fix).
//! Written by the tenant's task and its API client, read at each scrape and `/status`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use serde::Serialize;

use crate::alert::Timestamp;
use crate::entra::AuthErrorKind;
use crate::pipeline::PollError;
use crate::source::FetchError;

/// Unix nanoseconds, or none.
#[derive(Debug)]
struct Instant(AtomicI64);

impl Instant {
    const NONE: i64 = i64::MIN;

    fn none() -> Instant {
        Instant(AtomicI64::new(Self::NONE))
    }

    fn set(&self, t: Timestamp) {
        self.0.store(t.unix_nanos(), Ordering::Relaxed);
    }

    fn raise(&self, t: Timestamp) {
        self.0.fetch_max(t.unix_nanos(), Ordering::Relaxed);
    }

    fn get(&self) -> Option<Timestamp> {
        let n = self.0.load(Ordering::Relaxed);
        (n != Self::NONE).then(|| Timestamp::from_unix_nanos(n, 7))
    }
}

/// Calls to the alerts API of one tenant, by how they ended.
#[derive(Debug, Default)]
pub struct ApiOutcomes {
    ok: AtomicU64,
    throttled: AtomicU64,
    server_error: AtomicU64,
    network_error: AtomicU64,
    auth_error: AtomicU64,
    rejected: AtomicU64,
}

/// How one call to the alerts API ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiOutcome {
    /// A 2xx answer.
    Ok,
    /// 429.
    Throttled,
    /// 5xx.
    ServerError,
    /// No answer: the connection failed, reset or timed out.
    NetworkError,
    /// No token (Entra refused or failed), or the API refused the token (401, 403).
    AuthError,
    /// Another 4xx.
    Rejected,
}

impl ApiOutcome {
    /// Every outcome, with its label value.
    pub const ALL: [(ApiOutcome, &'static str); 6] = [
        (ApiOutcome::Ok, "ok"),
        (ApiOutcome::Throttled, "throttled"),
        (ApiOutcome::ServerError, "server_error"),
        (ApiOutcome::NetworkError, "network_error"),
        (ApiOutcome::AuthError, "auth_error"),
        (ApiOutcome::Rejected, "rejected"),
    ];

    /// The outcome of an answer with HTTP `status`.
    pub fn of_status(status: u16) -> ApiOutcome {
        match status {
            200..=299 => ApiOutcome::Ok,
            429 => ApiOutcome::Throttled,
            401 | 403 => ApiOutcome::AuthError,
            500.. => ApiOutcome::ServerError,
            _ => ApiOutcome::Rejected,
        }
    }
}

impl ApiOutcomes {
    fn counter(&self, outcome: ApiOutcome) -> &AtomicU64 {
        match outcome {
            ApiOutcome::Ok => &self.ok,
            ApiOutcome::Throttled => &self.throttled,
            ApiOutcome::ServerError => &self.server_error,
            ApiOutcome::NetworkError => &self.network_error,
            ApiOutcome::AuthError => &self.auth_error,
            ApiOutcome::Rejected => &self.rejected,
        }
    }

    /// One more call that ended so.
    pub fn record(&self, outcome: ApiOutcome) {
        self.counter(outcome).fetch_add(1, Ordering::Relaxed);
    }

    /// Calls that ended so, since start.
    pub fn get(&self, outcome: ApiOutcome) -> u64 {
        self.counter(outcome).load(Ordering::Relaxed)
    }
}

/// Where a tenant's access stands, as its last poll found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthState {
    /// Tokens come (or the last failure was not about them).
    Ok,
    /// The refresh token or the consent is gone: a person must sign in or consent again.
    ReconsentRequired,
    /// The client secret is wrong or expired.
    SecretInvalid,
    /// Entra fails, refuses the app's settings, or cannot be reached.
    Failing,
}

impl AuthState {
    /// Every state, with its label value.
    pub const ALL: [(AuthState, &'static str); 4] = [
        (AuthState::Ok, "ok"),
        (AuthState::ReconsentRequired, "reconsent_required"),
        (AuthState::SecretInvalid, "secret_invalid"),
        (AuthState::Failing, "failing"),
    ];
}

/// Whether a tenant is well, and if not why.
#[derive(Debug, Clone, Serialize)]
pub struct Condition {
    /// Its last poll was delivered (and it has not stopped).
    pub healthy: bool,
    /// Whether tokens come.
    pub auth: AuthState,
    /// It stopped for good: it waits for an operator (consent, a damaged checkpoint).
    pub stopped: bool,
    /// Since when it fails, if it does.
    pub failing_since: Option<String>,
    /// The last failure, in words.
    pub last_error: Option<String>,
    /// What to do about it.
    pub fix: Option<String>,
}

/// One tenant's live facts.
#[derive(Debug)]
pub struct TenantStatus {
    /// Its `name`.
    pub name: String,
    /// Its `tenant_id`.
    pub tenant_id: String,
    /// The names of the outputs it is routed to, in the order of `sent`.
    pub outputs: Vec<String>,
    fetched: AtomicU64,
    deduplicated: AtomicU64,
    malformed: AtomicU64,
    unencodable: AtomicU64,
    /// Alerts sent, per output.
    sent: Vec<AtomicU64>,
    /// Its calls to the alerts API by outcome (shared with its client).
    pub api: std::sync::Arc<ApiOutcomes>,
    cursor: Instant,
    last_success: Instant,
    newest_delivered: Instant,
    /// When a refresh-token tenant's stored token expires unused.
    refresh_expiry: Instant,
    condition: Mutex<Condition>,
}

/// A tenant's counters, read together.
#[derive(Debug, Clone, Serialize)]
pub struct Counts {
    /// Alert versions the API returned.
    pub fetched: u64,
    /// Versions not sent again (the overlap, or `emit = "new"`).
    pub deduplicated: u64,
    /// Items of pages that were no readable alert, in the dead-letter file.
    pub dead_lettered_malformed: u64,
    /// Alerts an output could not encode (too large), in its dead-letter file.
    pub dead_lettered_unencodable: u64,
    /// Alerts sent, per output name.
    pub sent: Vec<(String, u64)>,
}

impl TenantStatus {
    /// A tenant routed to `outputs`, not polled yet.
    pub fn new(name: &str, tenant_id: &str, outputs: Vec<String>) -> TenantStatus {
        TenantStatus {
            name: name.to_owned(),
            tenant_id: tenant_id.to_owned(),
            sent: outputs.iter().map(|_| AtomicU64::new(0)).collect(),
            outputs,
            fetched: AtomicU64::new(0),
            deduplicated: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            unencodable: AtomicU64::new(0),
            api: std::sync::Arc::default(),
            cursor: Instant::none(),
            last_success: Instant::none(),
            newest_delivered: Instant::none(),
            refresh_expiry: Instant::none(),
            condition: Mutex::new(Condition {
                healthy: true,
                auth: AuthState::Ok,
                stopped: false,
                failing_since: None,
                last_error: None,
                fix: None,
            }),
        }
    }

    /// A window was delivered: what it did, per output what it sent.
    pub fn window(&self, report: &WindowCounts) {
        let add = |c: &AtomicU64, n: u64| c.fetch_add(n, Ordering::Relaxed);
        add(&self.fetched, report.fetched);
        add(&self.deduplicated, report.deduplicated);
        add(&self.malformed, report.malformed);
        add(&self.unencodable, report.unencodable);
        for (counter, n) in self.sent.iter().zip(&report.sent) {
            add(counter, *n);
        }
        if let Some(t) = report.newest {
            self.newest_delivered.raise(t);
        }
    }

    /// The checkpoint saved (or read at start).
    pub fn checkpoint(&self, cursor: Option<Timestamp>) {
        if let Some(c) = cursor {
            self.cursor.set(c);
        }
    }

    /// When the stored refresh token expires unused.
    pub fn refresh_token_expires(&self, at: Timestamp) {
        self.refresh_expiry.set(at);
    }

    /// A poll was delivered at `now` (its counts came window by window).
    pub fn polled(&self, now: Timestamp) {
        self.last_success.set(now);
        if let Ok(mut c) = self.condition.lock() {
            *c = Condition {
                healthy: true,
                auth: AuthState::Ok,
                stopped: false,
                failing_since: None,
                last_error: None,
                fix: None,
            };
        }
    }

    /// A poll failed with `error` at `now`; `stopped`: the tenant waits for an operator.
    pub fn failed(&self, error: &PollError, now: Timestamp, stopped: bool) {
        let (auth, summary, fix) = match error {
            PollError::Fetch(FetchError::Auth(e)) => (
                match e.kind {
                    AuthErrorKind::ReconsentNeeded => AuthState::ReconsentRequired,
                    AuthErrorKind::BadSecret => AuthState::SecretInvalid,
                    _ => AuthState::Failing,
                },
                e.to_string(),
                Some(e.hint.clone()),
            ),
            other => (AuthState::Ok, other.to_string(), None),
        };
        self.set_failing(auth, summary, fix, now, stopped);
    }

    /// The tenant failed for a reason other than a poll (its task panicked, its checkpoint
    /// cannot be read).
    pub fn broken(&self, message: &str, now: Timestamp, stopped: bool) {
        self.set_failing(AuthState::Ok, message.to_owned(), None, now, stopped);
    }

    fn set_failing(
        &self,
        auth: AuthState,
        error: String,
        fix: Option<String>,
        now: Timestamp,
        stopped: bool,
    ) {
        if let Ok(mut c) = self.condition.lock() {
            let since = c.failing_since.clone().unwrap_or_else(|| now.to_string());
            *c = Condition {
                healthy: false,
                auth,
                stopped,
                failing_since: Some(since),
                last_error: Some(error),
                fix,
            };
        }
    }

    /// Whether it is well, and if not why.
    pub fn condition(&self) -> Condition {
        self.condition
            .lock()
            .map(|c| c.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// Its counters.
    pub fn counts(&self) -> Counts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Counts {
            fetched: get(&self.fetched),
            deduplicated: get(&self.deduplicated),
            dead_lettered_malformed: get(&self.malformed),
            dead_lettered_unencodable: get(&self.unencodable),
            sent: self
                .outputs
                .iter()
                .zip(&self.sent)
                .map(|(o, c)| (o.clone(), get(c)))
                .collect(),
        }
    }

    /// Alert versions the API returned.
    pub fn fetched(&self) -> u64 {
        self.fetched.load(Ordering::Relaxed)
    }

    /// Versions not sent again.
    pub fn deduplicated(&self) -> u64 {
        self.deduplicated.load(Ordering::Relaxed)
    }

    /// Dead-lettered: malformed items, and alerts an output could not encode.
    pub fn dead_lettered(&self) -> (u64, u64) {
        (
            self.malformed.load(Ordering::Relaxed),
            self.unencodable.load(Ordering::Relaxed),
        )
    }

    /// Alerts sent, per output name.
    pub fn sent_per_output(&self) -> impl Iterator<Item = (&str, u64)> {
        self.outputs
            .iter()
            .zip(&self.sent)
            .map(|(o, c)| (o.as_str(), c.load(Ordering::Relaxed)))
    }

    /// Whether it is well, and its auth state, without copying the error text.
    pub fn health(&self) -> (bool, AuthState) {
        match self.condition.lock() {
            Ok(c) => (c.healthy, c.auth),
            Err(e) => {
                let c = e.into_inner();
                (c.healthy, c.auth)
            }
        }
    }

    /// Where its checkpoint stands.
    pub fn cursor(&self) -> Option<Timestamp> {
        self.cursor.get()
    }

    /// When its last poll was delivered.
    pub fn last_success(&self) -> Option<Timestamp> {
        self.last_success.get()
    }

    /// The newest lastUpdateTime it delivered.
    pub fn newest_delivered(&self) -> Option<Timestamp> {
        self.newest_delivered.get()
    }

    /// When its stored refresh token expires unused (refresh-token tenants).
    pub fn refresh_expiry(&self) -> Option<Timestamp> {
        self.refresh_expiry.get()
    }
}

/// What one window did, for the counters.
#[derive(Debug, Clone, Default)]
pub struct WindowCounts {
    /// Alert versions the API returned.
    pub fetched: u64,
    /// Versions not sent again.
    pub deduplicated: u64,
    /// Malformed items dead-lettered.
    pub malformed: u64,
    /// Alerts some output could not encode.
    pub unencodable: u64,
    /// Alerts sent, per routed output.
    pub sent: Vec<u64>,
    /// The newest lastUpdateTime sent.
    pub newest: Option<Timestamp>,
}
