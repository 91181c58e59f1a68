//! `siemfwd run`: every tenant polled in its own task, all sending through shared outputs,
//! until shutdown; a new config applied without a restart (SIGHUP). Shutdown (mini-redis
//! style): a watch channel per tenant tells its task to stop; a poll in progress gets a bounded
//! grace to finish its window, and the outputs are then drained and closed.
//!
//! A reload keeps what did not change running as it is: a tenant whose settings and outputs
//! are the same goes on polling, an output whose table and files are the same keeps its
//! connection. Tenants removed or changed finish their window and stop (a changed one starts
//! again from its checkpoint); outputs removed or changed are drained once no tenant sends to
//! them. Nothing is lost: a checkpoint moves only past what an output confirmed, and what an
//! output still held when it was drained is fetched again.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::run_state::RunStateFile;
use super::supervisor::{Supervised, supervise};
use super::tenant_task::{TenantSlot, tenant_task};
use super::wiring::{self, Clients, NamedOutputs, Routing};
use crate::alert::Timestamp;
use crate::config::Config;
use crate::telemetry::{Telemetry, TenantStatus};
use crate::transport::{Output, OutputConfig, OutputError};

/// Of the shutdown grace, what windows in progress may take to finish: the rest, up to 2 s,
/// is for the outputs to send what those windows queued.
pub(super) fn window_grace(grace: Duration) -> Duration {
    grace - (grace / 4).min(Duration::from_secs(2))
}

/// The grace ends this much before the process must be gone (`siemfwd run`'s last-resort
/// exit at exactly the grace).
const DRAIN_MARGIN: Duration = Duration::from_millis(500);

/// The forwarder cannot start, or a new config cannot be applied.
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
    /// A reload changed something only a restart applies.
    #[error("{0} changed, which takes a restart of siemfwd run; nothing was changed")]
    NeedsRestart(&'static str),
}

/// An output running, with what it was started from: on reload, whether it changed.
struct RunningOutput {
    config: OutputConfig,
    /// A hash of the files it read at start.
    files: u64,
    output: Arc<Output>,
}

/// A hash of the contents of the files `config` reads (a file that cannot be read hashes as
/// missing: the output's start reports it).
fn files_hash(config: &OutputConfig) -> u64 {
    let mut h = DefaultHasher::new();
    for path in config.files_read() {
        path.hash(&mut h);
        std::fs::read(path).ok().hash(&mut h);
    }
    h.finish()
}

/// The running product: outputs and what each tenant's forwarder is built from.
pub struct Forwarder {
    outputs: Vec<RunningOutput>,
    tenants: Vec<Arc<TenantSlot>>,
    clients: Clients,
    telemetry: Arc<Telemetry>,
    /// `shutdown_grace`: stopping takes at most this long.
    grace: Duration,
    state_dir: PathBuf,
    calls_in_flight: usize,
}

/// How `run` ended: the tenants that stopped for good, with why, and the panics of tenant
/// tasks (each was restarted, but the process must not exit 0 after one).
pub type RunOutcome = Supervised;

/// A tenant's task running, and how to stop it.
struct RunningTenant {
    slot: Arc<TenantSlot>,
    stop: watch::Sender<bool>,
    task: tokio::task::AbortHandle,
}

impl Forwarder {
    /// Starts every output (on the current runtime). Checkpoints are read when each tenant's
    /// task starts, so that a damaged one stops only its own tenant. The tenants and outputs
    /// are reported in `telemetry`.
    pub fn start(config: &Config, telemetry: Arc<Telemetry>) -> Result<Forwarder, StartError> {
        check_runnable(config)?;
        for w in &config.warnings {
            tracing::warn!("{w}");
        }
        let mut forwarder = Forwarder {
            outputs: Vec::new(),
            tenants: Vec::new(),
            clients: Clients::new(config.max_calls_in_flight),
            telemetry,
            grace: config.shutdown_grace,
            state_dir: config.state_dir.clone(),
            calls_in_flight: config.max_calls_in_flight,
        };
        forwarder.outputs = forwarder.outputs_for(config)?;
        forwarder.tenants = forwarder.slots_for(config)?;
        forwarder.report(config, &forwarder.tenants);
        Ok(forwarder)
    }

    /// The outputs of `config`: the running ones that did not change, new ones started.
    fn outputs_for(&self, config: &Config) -> Result<Vec<RunningOutput>, StartError> {
        let mut outputs = Vec::with_capacity(config.outputs.len());
        for o in &config.outputs {
            let files = files_hash(o);
            let running = self
                .outputs
                .iter()
                .find(|r| r.config == *o && r.files == files);
            let output = match running {
                Some(r) => r.output.clone(),
                None => wiring::start_outputs(config, [o])?
                    .pop()
                    .map(|(_, output)| output)
                    .ok_or(StartError::NoOutput(config.source.clone()))?,
            };
            outputs.push(RunningOutput {
                config: o.clone(),
                files,
                output,
            });
        }
        Ok(outputs)
    }

    fn named(outputs: &[RunningOutput]) -> NamedOutputs {
        outputs
            .iter()
            .map(|r| (r.config.name.clone(), r.output.clone()))
            .collect()
    }

    /// A slot per tenant of `config`, over `self.outputs`.
    fn slots_for(&mut self, config: &Config) -> Result<Vec<Arc<TenantSlot>>, StartError> {
        let named = Self::named(&self.outputs);
        let mut slots = Vec::with_capacity(config.tenants.len());
        for t in &config.tenants {
            let (http, budget) = self.clients.parts_for(t)?;
            let routed = wiring::routed(t, &named, Routing::AsConfigured);
            let names = routed.iter().map(|o| o.name().to_owned()).collect();
            slots.push(Arc::new(TenantSlot {
                tenant: Arc::new(t.clone()),
                http,
                budget,
                outputs: routed,
                state_dir: config.state_dir.clone(),
                status: Arc::new(TenantStatus::new(&t.name, &t.tenant_id, names)),
            }));
        }
        Ok(slots)
    }

    fn report(&self, config: &Config, tenants: &[Arc<TenantSlot>]) {
        self.telemetry.running(
            config.state_dir.clone(),
            tenants.iter().map(|t| t.status.clone()).collect(),
            Self::named(&self.outputs),
            config.admin.failing_grace,
        );
    }

    /// Polls every tenant until `shutdown` turns true, applying each config received on
    /// `reloads`; then finishes (within the grace), flushes and closes the outputs. A tenant
    /// task that panics is started again from its checkpoint; the outcome says which tenants
    /// stopped for good and how many panics there were. Returns early only when every tenant
    /// has stopped for good.
    pub async fn run(
        mut self,
        mut shutdown: watch::Receiver<bool>,
        mut reloads: mpsc::Receiver<Config>,
    ) -> RunOutcome {
        let mut tasks: JoinSet<(String, Supervised)> = JoinSet::new();
        // Tenants by name; a reload replaces an entry, and the task it stopped ends later.
        let mut running: HashMap<String, RunningTenant> = HashMap::new();
        for slot in std::mem::take(&mut self.tenants) {
            self.spawn(slot, &mut tasks, &mut running);
        }
        let mut outcome = Supervised::default();
        let asked = loop {
            tokio::select! {
                joined = tasks.join_next_with_id() => match joined {
                    Some(Ok((id, (name, ended)))) => {
                        if running.get(&name).is_some_and(|r| r.task.id() == id) {
                            running.remove(&name);
                        }
                        outcome.stopped.extend(ended.stopped);
                        outcome.panics += ended.panics;
                    }
                    Some(Err(_)) => {}
                    // Every tenant stopped for good: no signal, the same bound from now.
                    None => break tokio::time::Instant::now(),
                },
                Some(config) = reloads.recv() => {
                    match self.reload(&config, &mut tasks, &mut running).await {
                        Ok(()) => self.telemetry.reloaded(true),
                        Err(e) => {
                            tracing::error!("{}: not reloaded: {e}; the running config goes on", config.source);
                            self.telemetry.reloaded(false);
                        }
                    }
                }
                _ = shutdown.wait_for(|s| *s) => break tokio::time::Instant::now(),
            }
        };
        for r in running.values() {
            let _ = r.stop.send(true);
        }
        // The grace counts from the moment stopping was asked for.
        let deadline = asked + self.grace.saturating_sub(DRAIN_MARGIN);
        // Each task gives its window in progress the window grace itself (and says so when
        // that is not enough); this bound is only for a task that does not end.
        while let Ok(Some(joined)) = tokio::time::timeout_at(deadline, tasks.join_next()).await {
            if let Ok((_, ended)) = joined {
                outcome.stopped.extend(ended.stopped);
                outcome.panics += ended.panics;
            }
        }
        tasks.abort_all();
        drop(running);
        // The telemetry lets go of the outputs, so that each can be drained and closed.
        self.telemetry.running(
            self.state_dir.clone(),
            Vec::new(),
            Vec::new(),
            Duration::MAX,
        );
        drain(
            self.outputs.into_iter().map(|r| (r.config.name, r.output)),
            deadline,
            self.grace,
        )
        .await;
        outcome
    }

    /// Starts `slot`'s task, supervised, with a stop signal of its own.
    fn spawn(
        &self,
        slot: Arc<TenantSlot>,
        tasks: &mut JoinSet<(String, Supervised)>,
        running: &mut HashMap<String, RunningTenant>,
    ) {
        let (stop, stopping) = watch::channel(false);
        let name = slot.tenant.name.clone();
        let grace = self.grace;
        let task_slot = slot.clone();
        let panic_slot = slot.clone();
        let task = tasks.spawn({
            let name = name.clone();
            let supervisor_stop = stopping.clone();
            async move {
                let outcome = supervise(
                    vec![name.clone()],
                    move |_| tenant_task(task_slot.clone(), stopping.clone(), grace),
                    move |_, message| {
                        let message = format!("the tenant's task panicked: {message}");
                        RunStateFile::new(&panic_slot.state_dir, &panic_slot.tenant.name)
                            .failing(&message);
                        panic_slot.status.broken(&message, Timestamp::now(), false);
                    },
                    supervisor_stop,
                )
                .await;
                (name, outcome)
            }
        });
        running.insert(name, RunningTenant { slot, stop, task });
    }

    /// Applies `config`: what changed stops and starts again, the rest goes on.
    async fn reload(
        &mut self,
        config: &Config,
        tasks: &mut JoinSet<(String, Supervised)>,
        running: &mut HashMap<String, RunningTenant>,
    ) -> Result<(), StartError> {
        check_runnable(config)?;
        if config.state_dir != self.state_dir {
            return Err(StartError::NeedsRestart("state_dir"));
        }
        if config.max_calls_in_flight != self.calls_in_flight {
            return Err(StartError::NeedsRestart("max_calls_in_flight"));
        }
        for w in &config.warnings {
            tracing::warn!("{w}");
        }
        let outputs = self.outputs_for(config)?;
        let old_outputs = std::mem::replace(&mut self.outputs, outputs);
        let slots = match self.slots_for(config) {
            Ok(s) => s,
            Err(e) => {
                self.outputs = old_outputs;
                return Err(e);
            }
        };
        self.grace = config.shutdown_grace;
        // Tenants to stop: gone, or changed (they start again below, from their checkpoint).
        let keep: Vec<&str> = slots
            .iter()
            .filter(|s| {
                running
                    .get(&s.tenant.name)
                    .is_some_and(|r| r.slot.same_as(s))
            })
            .map(|s| s.tenant.name.as_str())
            .collect();
        let leaving: Vec<String> = running
            .keys()
            .filter(|n| !keep.contains(&n.as_str()))
            .cloned()
            .collect();
        let (mut stopped, mut started, mut kept) = (0, 0, 0);
        for name in &leaving {
            if let Some(r) = running.remove(name) {
                let _ = r.stop.send(true);
                stopped += 1;
                wait_stopped(&r, self.grace).await;
            }
        }
        let mut current = Vec::with_capacity(slots.len());
        for slot in slots {
            match running.get(&slot.tenant.name) {
                Some(r) => {
                    kept += 1;
                    current.push(r.slot.clone());
                }
                None => {
                    started += 1;
                    current.push(slot.clone());
                    self.spawn(slot, tasks, running);
                }
            }
        }
        // Telemetry first: it holds the outputs too.
        self.report(config, &current);
        let gone: Vec<(String, Arc<Output>)> = old_outputs
            .into_iter()
            .filter(|o| {
                !self
                    .outputs
                    .iter()
                    .any(|n| Arc::ptr_eq(&n.output, &o.output))
            })
            .map(|o| (o.config.name, o.output))
            .collect();
        let drained = gone.len();
        let grace = self.grace;
        tokio::spawn(drain(
            gone.into_iter(),
            tokio::time::Instant::now() + grace,
            grace,
        ));
        tracing::info!(
            tenants_kept = kept,
            tenants_started = started,
            tenants_stopped = stopped,
            outputs_drained = drained,
            "{} reloaded",
            config.source
        );
        Ok(())
    }
}

/// `run` needs tenants and outputs; a reload too.
fn check_runnable(config: &Config) -> Result<(), StartError> {
    if config.tenants.is_empty() {
        return Err(StartError::NoTenant(config.source.clone()));
    }
    if config.outputs.is_empty() {
        return Err(StartError::NoOutput(config.source.clone()));
    }
    Ok(())
}

/// Waits for a tenant told to stop: its window in progress gets the window grace.
async fn wait_stopped(tenant: &RunningTenant, grace: Duration) {
    let deadline = tokio::time::Instant::now() + grace;
    while !tenant.task.is_finished() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if !tenant.task.is_finished() {
        tracing::warn!(tenant = %tenant.slot.tenant.name, "did not stop within shutdown_grace ({}s) for the reload: stopped now; its window is fetched again", grace.as_secs());
        tenant.task.abort();
    }
}

/// Flushes and closes `outputs`, all at once, until `deadline`. One that is down holds
/// records of windows whose checkpoints did not move: they are fetched and sent again.
async fn drain(
    outputs: impl Iterator<Item = (String, Arc<Output>)>,
    deadline: tokio::time::Instant,
    grace: Duration,
) {
    let mut drains = JoinSet::new();
    let mut pending: Vec<String> = Vec::new();
    for (name, output) in outputs {
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
}
