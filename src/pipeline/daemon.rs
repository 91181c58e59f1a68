//! `siemfwd run`: every tenant polled in its own task, all sending through shared outputs,
//! until shutdown. Shutdown (mini-redis style): a watch channel tells the tenant tasks to stop;
//! a poll in progress gets a bounded grace to finish its window, and the outputs are then
//! drained and closed.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::run_state::RunStateFile;
use super::supervisor::{Supervised, TaskEnd, supervise};
use super::tenant::{PollError, TenantForwarder};
use super::wiring::{self, Clients, NamedOutputs, Routing};
use crate::alert::Timestamp;
use crate::config::Config;
use crate::entra::AuthErrorKind;
use crate::source::{FetchError, PageBudget, TenantConfig};
use crate::telemetry::{Telemetry, TenantStatus};
use crate::transport::{Output, OutputError};

/// Of the shutdown grace, what windows in progress may take to finish: the rest, up to 2 s,
/// is for the outputs to send what those windows queued.
fn window_grace(grace: Duration) -> Duration {
    grace - (grace / 4).min(Duration::from_secs(2))
}

/// The grace ends this much before the process must be gone (`siemfwd run`'s last-resort
/// exit at exactly the grace).
const DRAIN_MARGIN: Duration = Duration::from_millis(500);

/// The forwarder cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// An `[[output]]` cannot be set up (its certificates, its file, its socket).
    #[error("{0}")]
    Output(#[from] OutputError),
    /// A tenant's HTTP client cannot be built (its proxy or CA settings).
    #[error("{0}")]
    Http(#[from] crate::source::http::HttpSetupError),
    /// The configuration file (its path here) has no `[[tenant]]`.
    #[error("{0} has no [[tenant]]: nothing to forward (map --config needs none, run does)")]
    NoTenant(String),
    /// The configuration file (its path here) has no `[[output]]`.
    #[error("{0} has no [[output]]: nowhere to send alerts")]
    NoOutput(String),
}

/// The running product: outputs and what each tenant's forwarder is built from.
pub struct Forwarder {
    outputs: NamedOutputs,
    tenants: Vec<Arc<TenantSlot>>,
    /// `shutdown_grace`: stopping takes at most this long.
    grace: Duration,
}

/// What a tenant's forwarder is built from, kept so that a task that failed is built again
/// from its checkpoint.
struct TenantSlot {
    tenant: Arc<TenantConfig>,
    http: reqwest::Client,
    budget: Arc<PageBudget>,
    outputs: Vec<Arc<Output>>,
    state_dir: PathBuf,
    status: Arc<TenantStatus>,
}

impl TenantSlot {
    /// A forwarder at the tenant's checkpoint; an unreadable or refused checkpoint stops only
    /// this tenant.
    fn build(&self) -> Result<TenantForwarder, PollError> {
        let client = wiring::client(
            self.tenant.clone(),
            self.http.clone(),
            self.budget.clone(),
            &self.state_dir,
        );
        TenantForwarder::new(
            client,
            self.outputs.clone(),
            &self.state_dir,
            Timestamp::now(),
            self.status.clone(),
        )
    }

    /// Says in the status when the stored refresh token expires unused.
    fn refresh_token_expiry(&self) {
        if let Some(at) = crate::auth::status::refresh_token_expiry(&self.tenant, &self.state_dir)
            && let Some(nanos) = at.timestamp_nanos_opt()
        {
            self.status
                .refresh_token_expires(Timestamp::from_unix_nanos(nanos, 7));
        }
    }
}

/// How `run` ended: the tenants that stopped for good, with why, and the panics of tenant
/// tasks (each was restarted, but the process must not exit 0 after one).
pub type RunOutcome = Supervised;

impl Forwarder {
    /// Starts every output (on the current runtime). Checkpoints are read when each tenant's
    /// task starts, so that a damaged one stops only its own tenant. The tenants and outputs
    /// are reported in `telemetry`.
    pub fn start(config: &Config, telemetry: Arc<Telemetry>) -> Result<Forwarder, StartError> {
        if config.tenants.is_empty() {
            return Err(StartError::NoTenant(config.source.clone()));
        }
        if config.outputs.is_empty() {
            return Err(StartError::NoOutput(config.source.clone()));
        }
        for w in &config.warnings {
            tracing::warn!("{w}");
        }
        let outputs = wiring::start_outputs(config, &config.outputs)?;
        let mut tenants = Vec::new();
        let mut clients = Clients::new(config.max_calls_in_flight);
        for t in &config.tenants {
            let (http, budget) = clients.parts_for(t)?;
            let routed = wiring::routed(t, &outputs, Routing::AsConfigured);
            let names = routed.iter().map(|o| o.name().to_owned()).collect();
            tenants.push(Arc::new(TenantSlot {
                tenant: Arc::new(t.clone()),
                http,
                budget,
                outputs: routed,
                state_dir: config.state_dir.clone(),
                status: Arc::new(TenantStatus::new(&t.name, &t.tenant_id, names)),
            }));
        }
        telemetry.running(
            config.state_dir.clone(),
            tenants.iter().map(|t| t.status.clone()).collect(),
            outputs.clone(),
            config.admin.failing_grace,
        );
        Ok(Forwarder {
            outputs,
            tenants,
            grace: config.shutdown_grace,
        })
    }

    /// Polls every tenant until `shutdown` turns true; then finishes (within the grace),
    /// flushes and closes the outputs. A tenant task that panics is started again from its
    /// checkpoint; the outcome says which tenants stopped for good and how many panics there
    /// were. Returns early only when every tenant has stopped for good.
    pub async fn run(self, shutdown: watch::Receiver<bool>) -> RunOutcome {
        let names: Vec<String> = self.tenants.iter().map(|t| t.tenant.name.clone()).collect();
        let grace = self.grace;
        // The grace counts from the moment stopping was asked for.
        let asked = {
            let mut stopping = shutdown.clone();
            tokio::spawn(async move {
                let _ = stopping.wait_for(|s| *s).await;
                tokio::time::Instant::now()
            })
        };
        let slots = self.tenants;
        let panicked = slots.clone();
        let stop = shutdown.clone();
        let outcome = supervise(
            names,
            move |i| {
                let slot = slots[i].clone();
                let shutdown = stop.clone();
                async move {
                    let name = &slot.tenant.name;
                    let mut health = RunStateFile::new(&slot.state_dir, name);
                    slot.refresh_token_expiry();
                    match slot.build() {
                        Ok(tenant) => tenant_loop(tenant, &slot, health, shutdown, grace).await,
                        Err(e) => {
                            tracing::error!(tenant = %name, "{e}; this tenant is not forwarded until that is fixed and siemfwd restarted (the others go on)");
                            health.stopped(&e.to_string());
                            slot.status.failed(&e, Timestamp::now(), true);
                            TaskEnd::Stopped(e.to_string())
                        }
                    }
                }
            },
            move |i, message| {
                let slot = &panicked[i];
                let message = format!("the tenant's task panicked: {message}");
                RunStateFile::new(&slot.state_dir, &slot.tenant.name).failing(&message);
                slot.status.broken(&message, Timestamp::now(), false);
            },
            shutdown,
        )
        .await;
        let started = if asked.is_finished() {
            asked.await.unwrap_or_else(|_| tokio::time::Instant::now())
        } else {
            // Every tenant stopped for good: no signal, the same bound from now.
            asked.abort();
            tokio::time::Instant::now()
        };
        let deadline = started + grace.saturating_sub(DRAIN_MARGIN);
        // Outputs flush what the windows queued, all at once, until the deadline. One that is
        // down holds records of windows whose checkpoints did not move: they are fetched and
        // sent again at the next start.
        let mut drains = tokio::task::JoinSet::new();
        let mut pending: Vec<String> = Vec::new();
        for (name, output) in self.outputs {
            if let Ok(output) = Arc::try_unwrap(output) {
                pending.push(name.clone());
                drains.spawn(async move {
                    output.shutdown().await;
                    name
                });
            }
        }
        while let Ok(Some(done)) = tokio::time::timeout_at(deadline, drains.join_next()).await {
            if let Ok(name) = done {
                pending.retain(|n| n != &name);
            }
        }
        for name in &pending {
            tracing::warn!(output = %name, "not drained within shutdown_grace ({}s): what it still held is sent again at the next start (no checkpoint moved past it)", grace.as_secs());
        }
        drains.abort_all();
        outcome
    }
}

/// Polls one tenant every poll_interval until shutdown, or until it has to stop for good.
async fn tenant_loop(
    mut tenant: TenantForwarder,
    slot: &TenantSlot,
    mut health: RunStateFile,
    mut shutdown: watch::Receiver<bool>,
    grace: Duration,
) -> TaskEnd {
    let window_grace = window_grace(grace);
    let name = tenant.tenant().name.clone();
    let interval = tenant.tenant().poll_interval;
    let mut failures = 0u32;
    loop {
        if *shutdown.borrow() {
            return TaskEnd::Shutdown;
        }
        let outcome = {
            let poll = tenant.poll(Timestamp::now());
            tokio::pin!(poll);
            tokio::select! {
                r = &mut poll => Some(r),
                _ = shutdown.changed() => {
                    tracing::info!(tenant = %name, "stopping: finishing the window in progress");
                    tokio::time::timeout(window_grace, &mut poll).await.ok()
                }
            }
        };
        let wait = match outcome {
            None => {
                tracing::warn!(tenant = %name, "the window in progress did not finish within {:.1}s of the shutdown grace; it will be fetched again at the next start", window_grace.as_secs_f32());
                return TaskEnd::Shutdown;
            }
            Some(Ok(report)) => {
                failures = 0;
                health.ok();
                slot.status.polled(&report, Timestamp::now());
                slot.refresh_token_expiry();
                tracing::info!(
                    tenant = %name,
                    fetched = report.fetched,
                    sent = report.sent,
                    deduplicated = report.deduplicated,
                    dead_lettered = report.dead_lettered,
                    pages = report.pages,
                    lag_s = report.lag.map(|l| l.as_secs()),
                    "poll done"
                );
                interval
            }
            Some(Err(PollError::Fetch(FetchError::Auth(e))))
                if e.kind == AuthErrorKind::ReconsentNeeded =>
            {
                tracing::error!(tenant = %name, "{e}");
                health.stopped(&e.to_string());
                let error = PollError::Fetch(FetchError::Auth(e));
                slot.status.failed(&error, Timestamp::now(), true);
                return TaskEnd::Stopped(error.to_string());
            }
            Some(Err(e)) => {
                failures += 1;
                health.failing(&e.to_string());
                slot.status.failed(&e, Timestamp::now(), false);
                // Back off on repeated failures, up to ten poll intervals.
                let wait = interval * failures.min(10);
                tracing::warn!(tenant = %name, "{e}; the checkpoint holds; next try in {}s", wait.as_secs());
                wait
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return TaskEnd::Shutdown,
        }
    }
}
