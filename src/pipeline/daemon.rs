//! `siemfwd run`: every tenant polled in its own task, all sending through shared outputs,
//! until shutdown. Shutdown (mini-redis style): a watch channel tells the tenant tasks to stop;
//! a poll in progress gets a bounded grace to finish its window, and the outputs are then
//! drained and closed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::tenant::{PollError, TenantForwarder};
use crate::alert::Timestamp;
use crate::config::Config;
use crate::source::{AlertsClient, AuthErrorKind, FetchError};
use crate::transport::{DeadLetters, Output, OutputError};

/// Pages held at once by all tenants together: two keep both cores busy (one parsing while the
/// next arrives) and bound memory to two pages however many tenants there are.
pub const PAGES_IN_FLIGHT: usize = 2;

/// How long a poll in progress may take to finish after shutdown was asked for.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The forwarder cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Output(#[from] OutputError),
    #[error("{0}")]
    Http(#[from] crate::source::http::HttpSetupError),
    #[error("{0}")]
    Poll(#[from] PollError),
    #[error("{0} has no [[tenant]]: nothing to forward (map --config needs none, run does)")]
    NoTenant(String),
    #[error("{0} has no [[output]]: nowhere to send alerts")]
    NoOutput(String),
}

/// The running product: outputs and one forwarder per tenant.
pub struct Forwarder {
    outputs: HashMap<String, Arc<Output>>,
    tenants: Vec<TenantForwarder>,
}

/// Now, as the forwarder's clock.
pub fn now() -> Timestamp {
    let now = chrono::Utc::now();
    Timestamp::from_unix_nanos(now.timestamp_nanos_opt().unwrap_or(0), 7)
}

impl Forwarder {
    /// Starts every output and reads every tenant's checkpoint (on the current runtime).
    pub fn start(config: &Config) -> Result<Forwarder, StartError> {
        if config.tenants.is_empty() {
            return Err(StartError::NoTenant(config.source.clone()));
        }
        if config.outputs.is_empty() {
            return Err(StartError::NoOutput(config.source.clone()));
        }
        for w in &config.warnings {
            tracing::warn!("{w}");
        }
        let mut outputs = HashMap::new();
        for o in &config.outputs {
            let dead = DeadLetters::new(config.dead_letter_path(&o.name));
            outputs.insert(o.name.clone(), Arc::new(Output::start(o, Some(dead))?));
        }
        let mut tenants = Vec::new();
        let budget = crate::source::PageBudget::new(PAGES_IN_FLIGHT);
        let mut http = crate::source::http::ClientCache::default();
        for t in &config.tenants {
            let routed: Vec<Arc<Output>> = match &t.outputs {
                Some(names) => names.iter().map(|n| outputs[n].clone()).collect(),
                None => config
                    .outputs
                    .iter()
                    .map(|o| outputs[&o.name].clone())
                    .collect(),
            };
            let mut client = AlertsClient::with_http(
                Arc::new(t.clone()),
                http.client_for(t)?,
                &config.state_dir,
            );
            client.share_page_budget(budget.clone());
            tenants.push(TenantForwarder::new(client, routed, &config.state_dir)?);
        }
        Ok(Forwarder { outputs, tenants })
    }

    /// Polls every tenant until `shutdown` turns true; then finishes (within the grace),
    /// flushes and closes the outputs. Returns the tenants that stopped for good (re-consent).
    pub async fn run(self, shutdown: watch::Receiver<bool>) -> Vec<String> {
        let mut tasks = JoinSet::new();
        for tenant in self.tenants {
            tasks.spawn(tenant_loop(tenant, shutdown.clone()));
        }
        let mut stopped = Vec::new();
        while let Some(result) = tasks.join_next().await {
            match result {
                Ok(Some(name)) => stopped.push(name),
                Ok(None) => {}
                Err(e) => tracing::error!("a tenant task failed: {e}"),
            }
        }
        for (_, output) in self.outputs {
            if let Ok(output) = Arc::try_unwrap(output) {
                output.shutdown().await;
            }
        }
        stopped
    }
}

/// Polls one tenant every poll_interval until shutdown. Returns the tenant's name if it had to
/// stop for good.
async fn tenant_loop(
    mut tenant: TenantForwarder,
    mut shutdown: watch::Receiver<bool>,
) -> Option<String> {
    let name = tenant.tenant().name.clone();
    let interval = tenant.tenant().poll_interval;
    let mut failures = 0u32;
    loop {
        if *shutdown.borrow() {
            return None;
        }
        let outcome = {
            let poll = tenant.poll(now());
            tokio::pin!(poll);
            tokio::select! {
                r = &mut poll => Some(r),
                _ = shutdown.changed() => {
                    tracing::info!(tenant = %name, "stopping: finishing the window in progress");
                    tokio::time::timeout(SHUTDOWN_GRACE, &mut poll).await.ok()
                }
            }
        };
        let wait = match outcome {
            None => {
                tracing::warn!(tenant = %name, "the window in progress did not finish within {}s; it will be fetched again at the next start", SHUTDOWN_GRACE.as_secs());
                return None;
            }
            Some(Ok(report)) => {
                failures = 0;
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
                return Some(name);
            }
            Some(Err(e)) => {
                failures += 1;
                // Back off on repeated failures, up to ten poll intervals.
                let wait = interval * failures.min(10);
                tracing::warn!(tenant = %name, "{e}; the checkpoint holds; next try in {}s", wait.as_secs());
                wait
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return None,
        }
    }
}
