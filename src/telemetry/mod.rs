//! The operator's view of a running forwarder (issue 17): Prometheus metrics, health and
//! readiness, and a JSON status of every tenant and output, served by the admin listener.
//!
//! - `tenant`: [`TenantStatus`], what is known live of one tenant (written by its task and
//!   its API client).
//! - `collect`: the metrics, encoded at each scrape from the tenants' status, the outputs'
//!   counters and the process.
//! - `admin`: the HTTP listener (`/metrics`, `/healthz`, `/readyz`, `/status`).
//!
//! Metrics come from `prometheus-client`, the Prometheus project's own Rust client: it encodes
//! the text formats (Prometheus 0.0.4 and OpenMetrics) and lets a collector produce every
//! sample at scrape time from state the forwarder keeps anyway, so the hot path (an alert
//! mapped and sent) touches no metric at all. (`metrics` + its exporter records into its own
//! registry through global macros; here nothing would be gained from that indirection.)

mod admin;
mod collect;
mod tenant;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub use admin::{AdminError, serve};
pub use tenant::{
    ApiOutcome, ApiOutcomes, AuthState, Condition, Counts, TenantStatus, WindowCounts,
};

use crate::alert::Timestamp;
use crate::transport::Output;

/// Everything the admin listener reports: the tenants and outputs of the running config (a
/// reload replaces them), the process's start, config reloads.
pub struct Telemetry {
    started: Timestamp,
    state_dir: RwLock<PathBuf>,
    tenants: RwLock<Vec<Arc<TenantStatus>>>,
    outputs: RwLock<Vec<(String, Arc<Output>)>>,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
    /// `/readyz` fails when a tenant has failed for longer than this.
    failing_grace: RwLock<Duration>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("started", &self.started)
            .field("tenants", &self.tenants().len())
            .field("outputs", &self.outputs().len())
            .finish_non_exhaustive()
    }
}

impl Telemetry {
    /// For a process started now.
    pub fn new(failing_grace: Duration) -> Arc<Telemetry> {
        Arc::new(Telemetry {
            started: Timestamp::now(),
            state_dir: RwLock::default(),
            tenants: RwLock::default(),
            outputs: RwLock::default(),
            reloads_ok: AtomicU64::new(0),
            reloads_failed: AtomicU64::new(0),
            failing_grace: RwLock::new(failing_grace),
        })
    }

    /// The tenants and outputs now running (at start, and after each reload).
    pub fn running(
        &self,
        state_dir: PathBuf,
        tenants: Vec<Arc<TenantStatus>>,
        outputs: Vec<(String, Arc<Output>)>,
        failing_grace: Duration,
    ) {
        if let Ok(mut d) = self.state_dir.write() {
            *d = state_dir;
        }
        if let Ok(mut t) = self.tenants.write() {
            *t = tenants;
        }
        if let Ok(mut o) = self.outputs.write() {
            *o = outputs;
        }
        if let Ok(mut g) = self.failing_grace.write() {
            *g = failing_grace;
        }
    }

    /// A `SIGHUP` reload that took effect (`ok`) or left the running config in place.
    pub fn reloaded(&self, ok: bool) {
        let counter = if ok {
            &self.reloads_ok
        } else {
            &self.reloads_failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn tenants(&self) -> Vec<Arc<TenantStatus>> {
        self.tenants.read().map(|t| t.clone()).unwrap_or_default()
    }

    fn outputs(&self) -> Vec<(String, Arc<Output>)> {
        self.outputs.read().map(|o| o.clone()).unwrap_or_default()
    }

    /// Whether the process and its tenant tasks are alive: not when every tenant has stopped
    /// for good.
    pub fn alive(&self) -> Result<(), String> {
        let tenants = self.tenants();
        if !tenants.is_empty() && tenants.iter().all(|t| t.condition().stopped) {
            return Err(format!(
                "every tenant ({}) has stopped and waits for an operator",
                tenants.len()
            ));
        }
        Ok(())
    }

    /// Whether the process may be given traffic: every output reachable (or not tried yet)
    /// and no tenant failing for longer than the grace. `Err` says why not, in one line.
    pub fn ready(&self, now: Timestamp) -> Result<(), String> {
        let mut problems = Vec::new();
        for (name, output) in self.outputs() {
            let stats = output.stats();
            let tried = stats.connects + stats.connect_failures + stats.broken_links;
            if !stats.connected && tried > 0 {
                problems.push(format!(
                    "output \"{name}\" ({}) is not reachable",
                    output.target()
                ));
            }
        }
        let grace = self.failing_grace.read().map(|g| *g).unwrap_or_default();
        for tenant in self.tenants() {
            let c = tenant.condition();
            let since = c
                .failing_since
                .as_deref()
                .and_then(|s| Timestamp::parse(s).ok());
            if let Some(since) = since {
                let failing = now.unix_nanos() - since.unix_nanos();
                if c.stopped || failing >= grace.as_nanos() as i64 {
                    problems.push(format!(
                        "tenant \"{}\" has been failing since {since}",
                        tenant.name
                    ));
                }
            }
        }
        match problems.len() {
            0 => Ok(()),
            1 => Err(problems.remove(0)),
            n => Err(format!("{} (and {} more)", problems[0], n - 1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    /// `/readyz` and `/healthz` against tenants that fail: for minutes, past the grace, for good.
    #[test]
    fn a_tenant_failing_past_the_grace_is_not_ready_and_all_stopped_is_not_alive() {
        let grace = Duration::from_secs(600);
        let t = Telemetry::new(grace);
        let a = Arc::new(TenantStatus::new("a", "id-a", Vec::new()));
        let b = Arc::new(TenantStatus::new("b", "id-b", Vec::new()));
        t.running(
            PathBuf::new(),
            vec![a.clone(), b.clone()],
            Vec::new(),
            grace,
        );
        let (noon, later) = (at("2026-12-05T12:00:00Z"), at("2026-12-05T12:06:00Z"));
        assert_eq!(t.ready(noon), Ok(()));
        a.broken(
            "the alerts API is unavailable",
            at("2026-12-05T11:55:00Z"),
            false,
        );
        assert_eq!(t.ready(noon), Ok(()), "failing for 5 minutes, grace 10");
        // A failure later does not restart the count.
        a.broken("still unavailable", later, false);
        assert_eq!(
            t.ready(later),
            Err("tenant \"a\" has been failing since 2026-12-05T11:55:00Z".to_owned())
        );
        // A tenant stopped for good is not ready at once.
        b.broken("re-consent needed", later, true);
        assert_eq!(
            t.ready(later),
            Err("tenant \"a\" has been failing since 2026-12-05T11:55:00Z (and 1 more)".to_owned())
        );
        assert_eq!(t.alive(), Ok(()), "one tenant still runs");
        a.broken("re-consent needed", later, true);
        assert!(
            t.alive()
                .unwrap_err()
                .starts_with("every tenant (2) has stopped")
        );
        // A delivered poll makes a tenant well again.
        a.polled(later);
        assert!(t.ready(later).unwrap_err().starts_with("tenant \"b\""));
    }
}
