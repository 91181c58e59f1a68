//! A faithful fake of Microsoft Entra ID's token endpoints, of the MDE alerts API
//! (`GET /api/alerts`) and of Microsoft Graph's `GET /v1.0/security/alerts_v2`, over real HTTP,
//! for tests, `siemfwd demo` and `siemfwd simulate`.
//!
//! The client talks to it exactly as to Microsoft: [`Simulator::url`] is the `login_url` and the
//! `api_url` of a tenant, for `api = "mde"` and for `api = "graph"` alike (the paths differ:
//! `/api/alerts`, [`GRAPH_ALERTS_PATH`]). What it reproduces (docs/alerts-api.md):
//!
//! - **Tenants**: N customer tenants with GUIDs from the seed (`tenant-01`, ...), one MSSP app
//!   (client id + secret) consented in all of them; unknown tenants answer AADSTS90002.
//!   [`TenantKnobs`] break one tenant: failing token endpoint, app not allowed in Defender (403),
//!   expired secret (AADSTS7000222), missing consent (AADSTS65001), public client flows off
//!   (AADSTS7000218).
//! - **Entra**: `POST /{tenant}/oauth2/v2.0/token` and v1 `/oauth2/token` (`expires_in` a number
//!   in v2, a string in v1 with `expires_on`, `not_before`, `resource`), grants
//!   `client_credentials`, `refresh_token` (rotating: every refresh token works once),
//!   `authorization_code` with PKCE through `GET /{tenant}/oauth2[/v2.0]/authorize`, and the
//!   device code grant (`/oauth2[/v2.0]/devicecode`, `authorization_pending`, `slow_down`,
//!   `authorization_declined`, `expired_token`). Errors carry Entra's body: `error`,
//!   `error_description` (`AADSTS<code>: ...` + trace/correlation ids), `error_codes`, ids.
//! - **Alerts API**: bearer tokens (401 missing/invalid/expired/wrong audience, 403 not
//!   allowed), OData `$filter` (unquoted DateTime literals on `lastUpdateTime`,
//!   `alertCreationTime`, `lastEventTime`; string and number equality on the documented
//!   fields; `and`, `or`, `not`, parentheses), `$top` ≤ 10000, `$skip`, `$expand=evidence`;
//!   no `@odata.nextLink` when `$top` is given; creation order, so updates during paging shift
//!   later results. Quotas per app per tenant (100/min, 1500/h) with `Retry-After`; early
//!   retries extend the throttle.
//! - **Graph `alerts_v2`** (same tenants, store, live changes and faults): Graph tokens (scope
//!   [`GRAPH_SCOPE`], delegated [`GRAPH_DELEGATED_SCOPE`]; a Defender token gets 401 here, a
//!   Graph token 401 on `/api/alerts`), 403 without `SecurityAlert.Read.All`
//!   ([`TenantKnobs::api_forbidden`]), Graph's error shape, 150 calls per minute per tenant
//!   ([`Limits::graph_per_minute`]). Every MDE alert version in Graph's shape ([`to_graph`]: same
//!   `da…` id, same instants in the same digits, Graph's enum spellings, typed evidence),
//!   about one in four followed by an alert of another product (Office 365, Identity, Cloud
//!   Apps, Entra ID Protection, DLP, and a made-up future one) that `/api/alerts` never shows.
//!   Enum members newer than `unknownFutureValue` only with `Prefer:
//!   include-unknown-enum-members` (answered with `Preference-Applied`). `$filter` on
//!   `lastUpdateDateTime`/`createdDateTime` and the enums, `$top` ≤ 2000 (the simulator's
//!   assumption; [`Limits::graph_max_top`]), `$skip`, `$count=true`; pages of 2000 followed by
//!   an absolute `@odata.nextLink` on the Host the client used; the creation order of
//!   `/api/alerts`.
//! - **Alerts**: realistic, deterministic from the seed ([`SimulatorConfig::history_end`] pins
//!   the time range), a fraction adversarial; updates move `lastUpdateTime` (7 fractional
//!   digits); versions become visible late ([`SimulatorConfig::max_visibility_delay`]). Every
//!   version ever made is kept as ground truth ([`Simulator::ground_truth`]).
//! - **Scale**: a version keeps what `$filter` reads and its JSON text, or, past
//!   [`SimulatorConfig::text_budget`], the generator's state, from which the same text is made
//!   again for each page; a page is written straight into reused buffers. A million alerts take
//!   about 250 MB plus that budget, start in seconds (tenants generated in parallel), and are
//!   served at well over 100,000 a second.
//! - **Faults** ([`Faults`]): 429, 500/503, slow answers, dropped connections, malformed alerts
//!   inside a page, drawn from the seed.
//!
//! Every lifetime, window and delay runs on `tokio::time::Instant`, so tests can run under
//! paused time (`tokio::time::advance` expires tokens and frees quota); alert timestamps are
//! wall-clock UTC.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use siemfwd_simulator::{Simulator, SimulatorConfig};
//! let sim = Simulator::start("127.0.0.1:0".parse().unwrap(), SimulatorConfig::default()).await?;
//! let tenant = &sim.tenants()[0];
//! println!("POST {}/{}/oauth2/v2.0/token with client_id={}", sim.url(), tenant.id, sim.client_id());
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
// As in the product: outside tests, an `unwrap` or `expect` needs a local `allow` that says why
// (the workspace's `[lints]`).

mod adversarial;
mod alerts_api;
mod body;
mod catalog;
mod doc;
mod drawn;
mod entra_errors;
mod faults;
mod generate;
mod graph;
mod graph_api;
mod graph_companion;
mod graph_evidence;
mod graph_query;
mod ids;
mod limits;
mod live;
mod meta;
mod odata;
mod render;
mod rng;
mod server;
mod shared_state;
mod sign_in;
mod simulator_config;
mod store;
mod token_endpoint;
mod tokens;
mod versions;
mod write;

#[cfg(test)]
mod graph_errors_tests;
#[cfg(test)]
mod graph_shape_tests;
#[cfg(test)]
mod graph_tests;
#[cfg(test)]
mod test_http;
#[cfg(test)]
mod tests;

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

use siemfwd_time::Timestamp;

pub use faults::Faults;
pub use graph_api::{GRAPH_ALERTS_PATH, GRAPH_DELEGATED_SCOPE, GRAPH_SCOPE, to_graph};
pub use limits::Limits;
pub use live::LiveConfig;
pub use shared_state::{Endpoint, RequestRecord};
pub use sign_in::PendingAuthorization;
pub use simulator_config::{SimulatorConfig, TenantInfo, TenantKnobs, TokenFailure};
pub use tokens::PendingDeviceCode;
pub use versions::{AlertJson, AlertVersion};

use shared_state::{Shared, State};
use tokens::{Audience, Decision};

/// Errors of the simulator's Rust API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    #[error("the simulator has no tenant `{0}` (use a tenant id from Simulator::tenants)")]
    UnknownTenant(String),
    #[error("tenant {tenant} has no alert `{id}`")]
    UnknownAlert { tenant: String, id: String },
}

/// A running simulator. Dropping it stops accepting connections; [`Simulator::shutdown`] also
/// waits for open connections to finish.
#[derive(Debug)]
pub struct Simulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
    done: Option<mpsc::Receiver<()>>,
    live: Mutex<Option<JoinHandle<()>>>,
}

/// How long [`Simulator::shutdown`] waits for open requests (a slow fault, a held sign-in).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

impl Simulator {
    /// Generates the tenants and alerts of `config`, binds `listen` (`127.0.0.1:0` picks a free
    /// port) and serves on the current tokio runtime.
    pub async fn start(listen: SocketAddr, config: SimulatorConfig) -> io::Result<Simulator> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let (client_id, tenants) = simulator_config::identities(config.seed, config.tenants);
        let store = store::Store::new(&config, &tenants);
        let state = State {
            limiters: tenants.iter().map(|_| Default::default()).collect(),
            graph_limiters: tenants.iter().map(|_| Default::default()).collect(),
            store,
            tokens: tokens::Tokens::new(config.seed),
            limits: config.limits.clone(),
            faults: config.faults.clone(),
            fault_rng: rng::Rng::derive(config.seed, "faults", 0),
            answer_rng: rng::Rng::derive(config.seed, "answer-faults", 0),
            ids: rng::Rng::derive(config.seed, "ids", 0),
            auto_approve: config.auto_approve,
            pending: Vec::new(),
            log: Default::default(),
        };
        let (shutdown, _) = broadcast::channel(1);
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            client_id,
            client_secret: config.client_secret.clone(),
            base_url: base_url(addr),
            config,
            shutdown,
            pages: Default::default(),
        });
        let (done_tx, done_rx) = mpsc::channel(1);
        // Subscribed before the task first runs: a shutdown right after start is not missed.
        let stop = shared.shutdown.subscribe();
        let accept = tokio::spawn(server::run(listener, shared.clone(), stop, done_tx));
        tracing::debug!("simulator listening on {}", shared.base_url);
        Ok(Simulator {
            shared,
            addr,
            accept: Some(accept),
            done: Some(done_rx),
            live: Mutex::new(None),
        })
    }

    /// `http://127.0.0.1:PORT`: the `login_url` and the `api_url` of every tenant, for the MDE
    /// API and for Graph.
    pub fn url(&self) -> &str {
        &self.shared.base_url
    }

    /// `http://127.0.0.1:PORT/v1.0/security/alerts_v2`.
    pub fn graph_alerts_url(&self) -> String {
        format!("{}{GRAPH_ALERTS_PATH}", self.shared.base_url)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn tenants(&self) -> Vec<TenantInfo> {
        let st = self.shared.lock();
        st.store.tenants.iter().map(|t| t.info.clone()).collect()
    }

    /// The MSSP app's client id (a GUID from the seed).
    pub fn client_id(&self) -> &str {
        &self.shared.client_id
    }

    pub fn client_secret(&self) -> &str {
        &self.shared.client_secret
    }

    fn tenant(&self, st: &State, tenant_id: &str) -> Result<usize, SimError> {
        st.store
            .find(tenant_id)
            .ok_or_else(|| SimError::UnknownTenant(tenant_id.to_owned()))
    }

    /// Every version of every alert of the tenant, in the order they were made (initial alerts
    /// in creation order, then live changes).
    pub fn ground_truth(&self, tenant_id: &str) -> Result<Vec<AlertVersion>, SimError> {
        let st = self.shared.lock();
        let t = self.tenant(&st, tenant_id)?;
        Ok(st.store.tenants[t].history(st.store.adversarial()))
    }

    /// What `GET /api/alerts?$filter=lastUpdateTime ge FROM and lastUpdateTime lt TO` would
    /// return in full now (visible versions only, the API's order, evidence included).
    pub fn visible_alerts(
        &self,
        tenant_id: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<AlertVersion>, SimError> {
        let st = self.shared.lock();
        let t = self.tenant(&st, tenant_id)?;
        let now = tokio::time::Instant::now();
        let adversarial = st.store.adversarial();
        Ok(st.store.tenants[t].visible_between(now, from, to, adversarial))
    }

    /// What Graph `GET /v1.0/security/alerts_v2?$filter=lastUpdateDateTime ge FROM and
    /// lastUpdateDateTime lt TO` would return in full now: [`Simulator::visible_alerts`] through
    /// [`to_graph`], companions included, every enum member shown.
    pub fn visible_graph_alerts(
        &self,
        tenant_id: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<serde_json::Value>, SimError> {
        let versions = self.visible_alerts(tenant_id, from, to)?;
        Ok(versions.iter().flat_map(|v| to_graph(&v.json)).collect())
    }

    /// Creates a new alert (status New, last updated now).
    pub fn create_alert(&self, tenant_id: &str) -> Result<AlertVersion, SimError> {
        let mut st = self.shared.lock();
        let t = self.tenant(&st, tenant_id)?;
        Ok(st.store.create_alert(t))
    }

    /// Makes the next version of an alert: one lifecycle step (New → InProgress → Resolved,
    /// then comments/reclassification), `lastUpdateTime` = now.
    pub fn update_alert(&self, tenant_id: &str, alert_id: &str) -> Result<AlertVersion, SimError> {
        let mut st = self.shared.lock();
        let t = self.tenant(&st, tenant_id)?;
        let pos = st.store.tenants[t]
            .position(alert_id)
            .ok_or_else(|| SimError::UnknownAlert {
                tenant: tenant_id.to_owned(),
                id: alert_id.to_owned(),
            })?;
        Ok(st.store.update_alert(t, pos))
    }

    /// Starts (or restarts with a new rate) background creations and updates.
    pub fn start_live(&self, live: LiveConfig) {
        let task = tokio::spawn(live::run(self.shared.clone(), live));
        let mut slot = self.live.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = slot.replace(task) {
            old.abort();
        }
    }

    pub fn stop_live(&self) {
        let mut slot = self.live.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = slot.take() {
            old.abort();
        }
    }

    pub fn set_faults(&self, faults: Faults) {
        self.shared.lock().faults = faults;
    }

    pub fn faults(&self) -> Faults {
        self.shared.lock().faults.clone()
    }

    /// Changes the quotas; the calls already counted stay counted.
    pub fn set_limits(&self, limits: Limits) {
        self.shared.lock().limits = limits;
    }

    pub fn set_tenant_knobs(&self, tenant_id: &str, knobs: TenantKnobs) -> Result<(), SimError> {
        let mut st = self.shared.lock();
        let t = self.tenant(&st, tenant_id)?;
        st.store.tenants[t].knobs = knobs;
        Ok(())
    }

    pub fn tenant_knobs(&self, tenant_id: &str) -> Result<TenantKnobs, SimError> {
        let st = self.shared.lock();
        let t = self.tenant(&st, tenant_id)?;
        Ok(st.store.tenants[t].knobs.clone())
    }

    /// A refresh token for the Defender API, as if a user of the tenant had consented
    /// interactively (what `siemfwd auth login` would have stored).
    pub fn issue_refresh_token(&self, tenant_id: &str) -> Result<String, SimError> {
        let mut st = self.shared.lock();
        let t = self.tenant(&st, tenant_id)?;
        let client_id = self.shared.client_id.clone();
        Ok(st.tokens.issue_refresh(t, &client_id, Audience::Defender))
    }

    /// An access token for the alerts API of the tenant, bypassing the token endpoint.
    pub fn issue_access_token(&self, tenant_id: &str) -> Result<String, SimError> {
        let mut st = self.shared.lock();
        let t = self.tenant(&st, tenant_id)?;
        let lifetime = self.shared.config.access_token_lifetime;
        Ok(st.tokens.issue_access(t, Audience::Defender, lifetime))
    }

    /// A refresh token for Microsoft Graph (`SecurityAlert.Read.All`), as if a user of the
    /// tenant had consented interactively; refreshing it gives Graph tokens.
    pub fn issue_graph_refresh_token(&self, tenant_id: &str) -> Result<String, SimError> {
        let mut st = self.shared.lock();
        let t = self.tenant(&st, tenant_id)?;
        let client_id = self.shared.client_id.clone();
        Ok(st.tokens.issue_refresh(t, &client_id, Audience::Graph))
    }

    /// An access token for Graph `alerts_v2` of the tenant, bypassing the token endpoint.
    pub fn issue_graph_access_token(&self, tenant_id: &str) -> Result<String, SimError> {
        let mut st = self.shared.lock();
        let t = self.tenant(&st, tenant_id)?;
        let lifetime = self.shared.config.access_token_lifetime;
        Ok(st.tokens.issue_access(t, Audience::Graph, lifetime))
    }

    /// Revokes every refresh token of the tenant (their next use answers AADSTS50173); returns
    /// how many were still usable.
    pub fn revoke_refresh_tokens(&self, tenant_id: &str) -> Result<usize, SimError> {
        let mut st = self.shared.lock();
        let t = self.tenant(&st, tenant_id)?;
        Ok(st.tokens.revoke_refresh(t))
    }

    /// Whether sign-ins and device codes are approved at once (see
    /// [`SimulatorConfig::auto_approve`]).
    pub fn set_auto_approve(&self, on: bool) {
        self.shared.lock().auto_approve = on;
    }

    /// Sign-ins held at `/authorize`, oldest first.
    pub fn pending_authorizations(&self) -> Vec<PendingAuthorization> {
        let mut st = self.shared.lock();
        st.pending.retain(|p| !p.answer.is_closed());
        st.pending.iter().map(|p| p.info.clone()).collect()
    }

    /// Lets the held sign-in `id` redirect with a code; false if it is not pending.
    pub fn approve_authorization(&self, id: &str) -> bool {
        self.decide_authorization(id, true)
    }

    /// Lets the held sign-in `id` redirect with `error=access_denied` (AADSTS65004).
    pub fn decline_authorization(&self, id: &str) -> bool {
        self.decide_authorization(id, false)
    }

    fn decide_authorization(&self, id: &str, approve: bool) -> bool {
        let mut st = self.shared.lock();
        match st.pending.iter().position(|p| p.info.id == id) {
            Some(i) => st.pending.remove(i).answer.send(approve).is_ok(),
            None => false,
        }
    }

    /// Device codes waiting for the user.
    pub fn pending_device_codes(&self) -> Vec<PendingDeviceCode> {
        let st = self.shared.lock();
        let now = tokio::time::Instant::now();
        let mut out: Vec<PendingDeviceCode> = st
            .tokens
            .devices
            .values()
            .filter(|d| d.decision == Decision::Pending && d.expires > now)
            .map(|d| PendingDeviceCode {
                user_code: d.user_code.clone(),
                tenant_id: st.store.tenants[d.tenant].info.id.clone(),
                client_id: d.client_id.clone(),
                scope: d.scope.clone(),
            })
            .collect();
        out.sort_by(|a, b| a.user_code.cmp(&b.user_code));
        out
    }

    /// The user enters `user_code` and consents; the next poll gets tokens.
    pub fn approve_device_code(&self, user_code: &str) -> bool {
        self.shared
            .lock()
            .tokens
            .decide_device_code(user_code, true)
    }

    /// The user declines; the next poll gets `authorization_declined`.
    pub fn decline_device_code(&self, user_code: &str) -> bool {
        self.shared
            .lock()
            .tokens
            .decide_device_code(user_code, false)
    }

    /// Requests so far for a tenant id and endpoint (faulted and failed ones included).
    pub fn requests(&self, tenant_id: &str, endpoint: Endpoint) -> u64 {
        self.shared.lock().log.count(tenant_id, endpoint)
    }

    /// The latest requests (up to 100,000), oldest first.
    pub fn request_log(&self) -> Vec<RequestRecord> {
        self.shared.lock().log.records()
    }

    pub fn clear_request_log(&self) {
        self.shared.lock().log.clear();
    }

    /// Stops accepting, lets open connections finish their current request (up to 5 s), and
    /// stops live changes.
    pub async fn shutdown(mut self) {
        let _ = self.shared.shutdown.send(());
        self.stop_live();
        if let Some(accept) = self.accept.take() {
            let _ = accept.await;
        }
        if let Some(mut done) = self.done.take() {
            // Every connection task holds a sender; recv() ends when the last one is gone.
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, done.recv()).await;
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.shared.shutdown.send(());
        if let Some(live) = self.live.get_mut().ok().and_then(Option::take) {
            live.abort();
        }
    }
}

/// The URL clients use: an unspecified listen address (0.0.0.0, ::) is reached via loopback.
fn base_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}
