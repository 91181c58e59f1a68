//! One tenant's forwarding: poll a window, de-duplicate, map for each output, send, and only
//! when every output confirmed every record, move the checkpoint.
//!
//! Two checkpoints are held: the one the next window starts from (moved once a window is
//! written), and the one saved (moved once the outputs confirmed it: for TCP and TLS, when
//! the receiver closed cleanly after the output's half-close or when the resend window let go
//! of the records; see `transport::output`). A crash or `kill -9` restarts from the saved one.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use super::checkpoint::{Checkpoint, CheckpointError, CheckpointStore};
use super::planner::WindowPlanner;
use super::window::Window;
use crate::alert::Timestamp;
use crate::reader::InputAlert;
use crate::source::{AlertsClient, Emit, FetchError, TenantConfig};
use crate::telemetry::{TenantStatus, WindowCounts};
use crate::transport::{DeadLetters, DeliveryError, Output, WrittenMark};

/// At the end of a poll, how long it waits for the outputs to confirm its windows before it
/// leaves them for a later save (the outputs ask for a confirmation within ~10 s even when
/// busy; one that is down does not confirm until it is back).
pub const CONFIRM_WAIT: Duration = Duration::from_secs(30);

/// Why a poll ended before its windows were delivered. The checkpoint stayed where it was.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    /// The alerts API or Entra ID failed (after the client's own retries).
    #[error("{0}")]
    Fetch(#[from] FetchError),
    /// Boxed: it carries the undelivered batch.
    #[error("{0}")]
    Delivery(Box<DeliveryError>),
    /// The checkpoint could not be read or saved.
    #[error("tenant \"{tenant}\": {source}")]
    Checkpoint {
        /// The tenant's `name`.
        tenant: String,
        /// What is wrong with the checkpoint.
        source: CheckpointError,
    },
    /// A malformed alert could not be kept in the tenant's dead-letter file; the window is not
    /// delivered, so the alert is not lost.
    #[error("tenant \"{tenant}\": cannot write the dead-letter file {path}: {source}")]
    DeadLetter {
        /// The tenant's `name`.
        tenant: String,
        /// The dead-letter file.
        path: String,
        /// Why writing failed.
        source: std::io::Error,
    },
}

impl From<DeliveryError> for PollError {
    fn from(e: DeliveryError) -> Self {
        PollError::Delivery(Box::new(e))
    }
}

/// What one poll did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PollReport {
    /// Where the first window started; none when the poll had no window to deliver.
    pub from: Option<Timestamp>,
    /// Where the last window ended (exclusive); none when the poll had no window.
    pub to: Option<Timestamp>,
    /// Alert versions the API returned (each once).
    pub fetched: u64,
    /// Alert versions sent (to every routed output).
    pub sent: u64,
    /// Versions skipped: delivered in an earlier poll (overlap), or not new (`emit = "new"`).
    pub deduplicated: u64,
    /// Malformed alerts and records too large to encode, kept in dead-letter files.
    pub dead_lettered: u64,
    /// API pages fetched, each one request against the tenant's rate limit.
    pub pages: u64,
    /// How far the newest delivered lastUpdateTime is behind now.
    pub lag: Option<Duration>,
}

/// Forwards one tenant's alerts to its outputs.
pub(crate) struct TenantForwarder {
    tenant: Arc<TenantConfig>,
    client: AlertsClient,
    outputs: Vec<Arc<Output>>,
    store: CheckpointStore,
    /// Where the next window starts: past what was written.
    checkpoint: Checkpoint,
    /// Checkpoints of windows written but not yet confirmed by every output, oldest first.
    unconfirmed: VecDeque<Unconfirmed>,
    /// How long the next window is, from what the last held.
    planner: WindowPlanner,
    dead_letters: DeadLetters,
    /// What the metrics and `/status` say of it.
    status: Arc<TenantStatus>,
}

/// The checkpoint after a window, and each output's mark after its batches.
struct Unconfirmed {
    checkpoint: Checkpoint,
    marks: Vec<WrittenMark>,
}

impl TenantForwarder {
    /// `outputs` are the ones routed to this tenant. Reads the checkpoint. What it does is
    /// counted in `status`.
    pub fn new(
        mut client: AlertsClient,
        outputs: Vec<Arc<Output>>,
        state_dir: &std::path::Path,
        now: Timestamp,
        status: Arc<TenantStatus>,
    ) -> Result<TenantForwarder, PollError> {
        let tenant = Arc::new(client.tenant().clone());
        let planner = WindowPlanner::new(tenant.page_size, client.max_results_per_query());
        let store = CheckpointStore::new(state_dir, &tenant.name, &tenant.tenant_id);
        let checkpoint = store.load_at(now).map_err(|source| PollError::Checkpoint {
            tenant: tenant.name.clone(),
            source,
        })?;
        let dead_letters = DeadLetters::new(DeadLetters::tenant_path(state_dir, &tenant.name));
        client.count_outcomes_in(status.api.clone());
        status.checkpoint(checkpoint.cursor);
        Ok(TenantForwarder {
            tenant,
            client,
            outputs,
            store,
            checkpoint,
            unconfirmed: VecDeque::new(),
            planner,
            dead_letters,
            status,
        })
    }

    /// The tenant's settings (its name and `poll_interval` for the daemon).
    pub fn tenant(&self) -> &TenantConfig {
        &self.tenant
    }

    /// Delivers every window from the checkpoint (or `initial_lookback`) up to `now - lag`,
    /// saving the checkpoint of each once the outputs confirmed it (waiting up to
    /// [`CONFIRM_WAIT`] at the end). An error leaves the saved checkpoint at the last
    /// confirmed window.
    pub async fn poll(&mut self, now: Timestamp) -> Result<PollReport, PollError> {
        let nanos = |d: Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        let end = Timestamp::from_unix_nanos(now.unix_nanos() - nanos(self.tenant.lag), 7);
        let mut report = PollReport::default();
        // Windows of an earlier poll that ended in an error may have been confirmed since.
        self.save_confirmed()?;
        loop {
            let from = match self.checkpoint.cursor {
                Some(c) => {
                    Timestamp::from_unix_nanos(c.unix_nanos() - nanos(self.tenant.overlap), 7)
                }
                None => Timestamp::from_unix_nanos(
                    now.unix_nanos() - nanos(self.tenant.initial_lookback),
                    7,
                ),
            };
            if from >= end {
                if let Some(c) = self.checkpoint.cursor
                    && c.unix_nanos() - end.unix_nanos()
                        > nanos(super::checkpoint::FUTURE_TOLERANCE)
                {
                    // The clock went back after the cursor was written (an NTP step): polls
                    // fetch nothing until it catches up. Said, not silent.
                    tracing::warn!(tenant = %self.tenant.name, "the checkpoint's cursor {c} is later than now - lag ({end}): the clock went back? nothing is fetched until it catches up");
                }
                return Ok(report);
            }
            let planned = self.planner.next(from, end);
            report.from.get_or_insert(from);
            let before = report;
            let mut seen_ids: HashSet<String> = match self.tenant.emit {
                Emit::New => self
                    .checkpoint
                    .recent
                    .iter()
                    .map(|k| k.id.clone())
                    .collect(),
                Emit::Updates => HashSet::new(),
            };
            let (emit, checkpoint) = (self.tenant.emit, &self.checkpoint);
            let window = Window {
                client: &self.client,
                outputs: &self.outputs,
                dead_letters: &self.dead_letters,
                from,
                to: planned.to,
                probe: planned.probe,
                now,
            };
            let delivered = window
                .deliver(&mut report, |key, alert| {
                    !checkpoint.contains(key) && emits(emit, alert, from, &mut seen_ids)
                })
                .await?;
            let to = delivered.to;
            report.to = Some(to);
            self.status.window(&WindowCounts {
                fetched: report.fetched - before.fetched,
                deduplicated: report.deduplicated - before.deduplicated,
                malformed: delivered.malformed,
                unencodable: delivered.unencodable,
                sent: delivered.sent.clone(),
                newest: delivered.newest,
            });
            self.planner.held(from, to, delivered.held);
            self.checkpoint
                .advance(to, delivered.keys, self.tenant.overlap);
            self.unconfirmed.push_back(Unconfirmed {
                checkpoint: self.checkpoint.clone(),
                marks: self.outputs.iter().map(|o| o.written_mark()).collect(),
            });
            if to >= end {
                self.wait_confirmed(CONFIRM_WAIT).await;
            }
            self.save_confirmed()?;
            if to >= end {
                return Ok(report);
            }
        }
    }
}

impl TenantForwarder {
    /// Saves the checkpoint of the newest window every output has confirmed, if any is new.
    fn save_confirmed(&mut self) -> Result<(), PollError> {
        let mut newest = None;
        while let Some(front) = self.unconfirmed.front()
            && self
                .outputs
                .iter()
                .zip(&front.marks)
                .all(|(o, &m)| o.is_confirmed(m))
        {
            newest = self.unconfirmed.pop_front();
        }
        let Some(confirmed) = newest else {
            return Ok(());
        };
        self.store
            .save(&confirmed.checkpoint)
            .map_err(|source| PollError::Checkpoint {
                tenant: self.tenant.name.clone(),
                source,
            })?;
        self.status.checkpoint(confirmed.checkpoint.cursor);
        Ok(())
    }

    /// Waits up to `limit` for the outputs to confirm every window written so far.
    async fn wait_confirmed(&self, limit: Duration) {
        let Some(last) = self.unconfirmed.back() else {
            return;
        };
        // Marks only grow: the last window's are confirmed after every earlier one's.
        let all = async {
            for (output, &mark) in self.outputs.iter().zip(&last.marks) {
                output.confirmed(mark).await;
            }
        };
        if tokio::time::timeout(limit, all).await.is_err() {
            tracing::info!(tenant = %self.tenant.name, "the outputs have not confirmed the last {} windows within {}s (a receiver that is down, or slow to read): the saved checkpoint waits for them", self.unconfirmed.len(), limit.as_secs());
        }
    }
}

/// Whether `emit` sends this version: every one, or with `new` only an alert created in this
/// window and not sent before.
fn emits(
    emit: Emit,
    alert: &InputAlert<'_>,
    from: Timestamp,
    seen_ids: &mut HashSet<String>,
) -> bool {
    match emit {
        Emit::Updates => true,
        Emit::New => {
            let id = alert.alert.id().unwrap_or_default();
            let created_now = alert.alert.alert_creation_time.is_none_or(|c| c >= from);
            created_now && seen_ids.insert(id.to_owned())
        }
    }
}
