//! One tenant's task under `run`: what its forwarder is built from ([`TenantSlot`]), and the
//! loop that polls it every `poll_interval`, reports how it stands (run-state file, telemetry)
//! and backs off while it fails, until it is told to stop or has to stop for good.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::daemon::window_grace;
use super::run_state::RunStateFile;
use super::supervisor::TaskEnd;
use super::tenant::{PollError, TenantForwarder};
use super::wiring;
use crate::alert::Timestamp;
use crate::entra::AuthErrorKind;
use crate::source::{FetchError, PageBudget, TenantConfig};
use crate::telemetry::TenantStatus;
use crate::transport::Output;

/// What a tenant's forwarder is built from, kept so that a task that failed is built again
/// from its checkpoint.
pub(super) struct TenantSlot {
    pub tenant: Arc<TenantConfig>,
    pub http: reqwest::Client,
    pub budget: Arc<PageBudget>,
    pub outputs: Vec<Arc<Output>>,
    pub state_dir: PathBuf,
    pub status: Arc<TenantStatus>,
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

    /// Whether `other` would run exactly as this one does.
    pub fn same_as(&self, other: &TenantSlot) -> bool {
        self.tenant == other.tenant
            && self.outputs.len() == other.outputs.len()
            && self
                .outputs
                .iter()
                .zip(&other.outputs)
                .all(|(a, b)| Arc::ptr_eq(a, b))
    }
}

/// One tenant's task: its forwarder built from its checkpoint, polled until stopped.
pub(super) async fn tenant_task(
    slot: Arc<TenantSlot>,
    shutdown: watch::Receiver<bool>,
    grace: Duration,
) -> TaskEnd {
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
                slot.status.polled(Timestamp::now());
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
