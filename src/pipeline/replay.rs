//! `siemfwd replay`: alerts with lastUpdateTime in [from, to) forwarded once, through the same
//! fetcher, encoders and outputs as `run`, without reading or moving any checkpoint.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::task::JoinSet;

use super::planner::WindowPlanner;
use super::tenant::{PollError, PollReport};
use super::window::Window;
use super::wiring::{self, Clients, NamedOutputs, Routing};
use crate::alert::Timestamp;
use crate::source::http::HttpSetupError;
use crate::source::{AlertsClient, TenantConfig};
use crate::transport::{DeadLetters, Output};

/// The replays of every tenant, each in its own task.
pub struct Replay {
    /// Each tenant's name and outcome, as they finish.
    pub tasks: JoinSet<(String, Result<PollReport, PollError>)>,
    /// Each tenant's counters, in the order the tenants were given.
    pub progress: Vec<Arc<ReplayProgress>>,
}

/// Starts replaying [from, to) of every tenant of `tenants` to its outputs among `outputs` (on
/// the current runtime), as `run` would send them: API clients over shared HTTP clients and
/// page budget, malformed alerts in each tenant's dead-letter file in `state_dir`.
pub fn start(
    state_dir: &Path,
    tenants: &[&TenantConfig],
    outputs: &NamedOutputs,
    routing: Routing,
    from: Timestamp,
    to: Timestamp,
    calls_in_flight: usize,
) -> Result<Replay, HttpSetupError> {
    let mut tasks = JoinSet::new();
    let mut progress = Vec::with_capacity(tenants.len());
    let mut clients = Clients::new(calls_in_flight);
    for tenant in tenants {
        let routed = wiring::routed(tenant, outputs, routing);
        let client = clients.client_for(Arc::new((*tenant).clone()), state_dir)?;
        let dead = DeadLetters::new(DeadLetters::tenant_path(state_dir, &tenant.name));
        let counters = Arc::new(ReplayProgress::default());
        progress.push(counters.clone());
        let name = tenant.name.clone();
        tasks.spawn(async move {
            let r = replay_tenant(&client, &routed, &dead, from, to, &counters).await;
            (name, r)
        });
    }
    Ok(Replay { tasks, progress })
}

/// Live counters of one tenant's replay, for a progress display.
#[derive(Debug, Default)]
pub struct ReplayProgress {
    /// Alert versions the API returned so far.
    pub fetched: AtomicU64,
    /// Alert versions sent so far (to every routed output).
    pub sent: AtomicU64,
    /// Malformed or unencodable alerts kept in the dead-letter file so far.
    pub dead_lettered: AtomicU64,
    /// Nanoseconds of the window done so far (up to `to - from`).
    pub done_nanos: AtomicU64,
}

/// Replays one tenant's [from, to) to `outputs`, window by window.
pub async fn replay_tenant(
    client: &AlertsClient,
    outputs: &[Arc<Output>],
    dead_letters: &DeadLetters,
    from: Timestamp,
    to: Timestamp,
    progress: &ReplayProgress,
) -> Result<PollReport, PollError> {
    let mut total = PollReport::default();
    let mut planner = WindowPlanner::default();
    let mut start = from;
    while start < to {
        let end = planner.next(start, to);
        let window = Window {
            client,
            outputs,
            dead_letters,
            from: start,
            to: end,
            now: Timestamp::now(),
        };
        let mut report = PollReport::default();
        let result = window.deliver(&mut report, |_, _| true).await;
        planner.held(start, end, report.fetched);
        total.fetched += report.fetched;
        total.sent += report.sent;
        total.dead_lettered += report.dead_lettered;
        total.pages += report.pages;
        progress
            .fetched
            .fetch_add(report.fetched, Ordering::Relaxed);
        progress.sent.fetch_add(report.sent, Ordering::Relaxed);
        progress
            .dead_lettered
            .fetch_add(report.dead_lettered, Ordering::Relaxed);
        result?;
        progress.done_nanos.store(
            u64::try_from(end.unix_nanos() - from.unix_nanos()).unwrap_or(0),
            Ordering::Relaxed,
        );
        start = end;
    }
    total.from = Some(from);
    total.to = Some(to);
    Ok(total)
}
