//! `siemfwd replay`: alerts with lastUpdateTime in [from, to) forwarded once, through the same
//! fetcher, encoders and outputs as `run`, without reading or moving any checkpoint.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::task::JoinSet;

use super::checkpoint::Checkpoint;
use super::planner::WindowPlanner;
use super::tenant::{PollError, PollReport};
use super::window::Window;
use super::wiring::{self, Clients, NamedOutputs, Routing};
use crate::alert::Timestamp;
use crate::source::alerts::WaitStatus;
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
        let counters = Arc::new(ReplayProgress {
            waiting: client.wait_status(),
            ..ReplayProgress::default()
        });
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
    /// What the tenant's client waits for, if anything.
    pub waiting: Arc<WaitStatus>,
}

impl ReplayProgress {
    /// One tenant's part of the progress line: `tenant-01 120 (40%)`, or what it waits for:
    /// `tenant-01 120 (40%) throttled (429), resuming in 24s`. `span_nanos` is `to - from`.
    pub fn describe(&self, name: &str, span_nanos: u64) -> String {
        let sent = self.sent.load(Ordering::Relaxed);
        let done = self.done_nanos.load(Ordering::Relaxed) as f64 / span_nanos.max(1) as f64;
        let mut part = format!("{name} {sent} ({:.0}%)", done * 100.0);
        if let Some((why, left)) = self.waiting.get() {
            part.push_str(&format!(
                " {why}, resuming in {}s",
                left.as_secs_f64().ceil() as u64
            ));
        }
        part
    }
}

/// `n` things in `secs` seconds, per second, with the precision that says something: `12345`,
/// `4.2`, `0.48` (not `0` for 200 alerts in 420 s).
pub fn per_second(n: u64, secs: f64) -> String {
    let rate = n as f64 / secs.max(1e-9);
    if rate >= 100.0 || rate == 0.0 {
        format!("{rate:.0}")
    } else if rate >= 1.0 {
        format!("{rate:.1}")
    } else {
        format!("{rate:.2}")
    }
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
    let mut planner = WindowPlanner::new(client.tenant().page_size, client.max_results_per_query());
    // Versions sent by a window past its end, before it was shortened: the next windows skip
    // them. Held in memory only: replay moves no checkpoint.
    let mut sent_ahead = Checkpoint::default();
    let mut start = from;
    while start < to {
        let planned = planner.next(start, to);
        let window = Window {
            client,
            outputs,
            dead_letters,
            from: start,
            to: planned.to,
            probe: planned.probe,
            now: Timestamp::now(),
        };
        let mut report = PollReport::default();
        let result = window
            .deliver(&mut report, |key, _| !sent_ahead.contains(key))
            .await;
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
        let delivered = result?;
        let end = delivered.to;
        planner.held(start, end, delivered.held);
        sent_ahead.advance(end, delivered.keys, std::time::Duration::ZERO);
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn rates_keep_the_digits_that_say_something() {
        assert_eq!(
            per_second(200, 420.0),
            "0.48",
            "not 0 for 200 alerts in 420 s"
        );
        assert_eq!(per_second(21, 5.0), "4.2");
        assert_eq!(per_second(1_000_000, 11.7), "85470");
        assert_eq!(per_second(0, 3.0), "0");
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_tenant_says_why_and_for_how_long() {
        let progress = ReplayProgress::default();
        progress.sent.store(120, Ordering::Relaxed);
        progress.done_nanos.store(40, Ordering::Relaxed);
        assert_eq!(progress.describe("tenant-01", 100), "tenant-01 120 (40%)");
        let until = tokio::time::Instant::now() + Duration::from_secs(24);
        progress.waiting.set("throttled (429)", until);
        assert_eq!(
            progress.describe("tenant-01", 100),
            "tenant-01 120 (40%) throttled (429), resuming in 24s"
        );
        tokio::time::advance(Duration::from_millis(23_500)).await;
        assert!(
            progress
                .describe("tenant-01", 100)
                .ends_with("resuming in 1s")
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(
            progress.describe("tenant-01", 100),
            "tenant-01 120 (40%)",
            "a wait that is over is not shown"
        );
    }
}
