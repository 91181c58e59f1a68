//! The task that owns an output's connection: it takes batches from a bounded queue, writes
//! each whole, reconnects with backoff when the link fails, and answers every batch with
//! written or not. It also says how far the receiver has *confirmed* (see [`Progress`]).
//!
//! - `confirm`: [`Progress`] and how a stream output learns that the receiver read what was
//!   written (half-close and wait for its close), and the honest close at shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::batch::Batch;
use super::config::ConnectionSettings;
use super::link::{ConnectError, Connector, Link, humantime};
use super::resend::ResendWindow;
use crate::backoff::Backoff;

mod confirm;
pub(crate) mod relp;

pub(crate) use confirm::Progress;
use confirm::{CONFIRM_IDLE, CONFIRM_MAX_AGE, ConfirmBy};

/// Why a batch could not be written on a link, in words for the log and the delivery error.
#[derive(Debug, thiserror::Error)]
enum SendError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("{target}: not connected")]
    NotConnected { target: String },
    #[error("writing to {target} failed: {source}")]
    Write {
        target: String,
        source: std::io::Error,
    },
    #[error("writing to {target} timed out after {}", humantime(*timeout))]
    WriteTimeout { target: String, timeout: Duration },
}

/// A batch with the channel its outcome goes back on.
pub(crate) struct Job {
    pub batch: Batch,
    pub reply: oneshot::Sender<Result<Batch, (Batch, String)>>,
}

/// Counters of one output since it started.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct OutputStats {
    /// Connections opened (the first one included).
    pub connects: u64,
    /// Connections found closed by the peer before a batch, or failed in a write.
    pub broken_links: u64,
    /// Batches written whole (handed to the socket or file, not yet necessarily confirmed).
    pub batches_delivered: u64,
    /// Records in those batches.
    pub records_delivered: u64,
    /// Batches given back undelivered after `delivery_timeout`.
    pub batches_failed: u64,
    /// Bytes of the records delivered (framing included).
    pub bytes_delivered: u64,
    /// Connection attempts that failed (refused, timed out, TLS refused).
    pub connect_failures: u64,
    /// Records written again from the resend window after a connection broke.
    pub records_resent: u64,
    /// The receiver is reachable: the last connection attempt and the last write succeeded
    /// (a connection closed after a confirmation still counts; UDP, files and sockets:
    /// opened). False before the first batch.
    pub connected: bool,
}

#[derive(Debug, Default)]
pub(crate) struct SharedStats {
    connects: AtomicU64,
    broken_links: AtomicU64,
    batches_delivered: AtomicU64,
    records_delivered: AtomicU64,
    batches_failed: AtomicU64,
    bytes_delivered: AtomicU64,
    connect_failures: AtomicU64,
    records_resent: AtomicU64,
    connected: std::sync::atomic::AtomicBool,
}

impl SharedStats {
    pub fn snapshot(&self) -> OutputStats {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        OutputStats {
            connects: get(&self.connects),
            broken_links: get(&self.broken_links),
            batches_delivered: get(&self.batches_delivered),
            records_delivered: get(&self.records_delivered),
            batches_failed: get(&self.batches_failed),
            bytes_delivered: get(&self.bytes_delivered),
            connect_failures: get(&self.connect_failures),
            records_resent: get(&self.records_resent),
            connected: self.connected.load(Ordering::Relaxed),
        }
    }

    fn connected(&self, yes: bool) {
        self.connected.store(yes, Ordering::Relaxed);
    }

    fn connect_failed(&self) {
        self.connected(false);
        Self::bump(&self.connect_failures, 1);
    }

    fn bump(a: &AtomicU64, n: u64) {
        a.fetch_add(n, Ordering::Relaxed);
    }
}

/// The connection of the sender task and what goes with it.
struct LinkState {
    link: Option<Link>,
    backoff: Backoff,
    resend: ResendWindow,
    /// Sequence numbers of the last batch written and of the last one confirmed.
    written: u64,
    confirmed: u64,
    /// When the last batch was written.
    last_write: Instant,
    confirm_by: ConfirmBy,
}

impl LinkState {
    fn unconfirmed(&self) -> bool {
        self.confirmed < self.written
    }
}

pub(crate) struct Sender {
    pub name: String,
    pub connector: Connector,
    pub settings: ConnectionSettings,
    pub stats: Arc<SharedStats>,
    pub progress: Arc<Progress>,
}

impl Sender {
    pub async fn run(self, mut jobs: mpsc::Receiver<Job>) {
        let mut state = LinkState {
            link: None,
            backoff: Backoff::new(self.settings.backoff_min, self.settings.backoff_max),
            resend: ResendWindow::new(if self.connector.is_stream() {
                self.settings.replay_window_bytes
            } else {
                0
            }),
            written: 0,
            confirmed: 0,
            last_write: Instant::now(),
            confirm_by: ConfirmBy::Close,
        };
        loop {
            let confirm_at = state.unconfirmed().then(|| state.last_write + CONFIRM_IDLE);
            // While idle, a stream connection is watched: a receiver that closes or resets it
            // (a restart, a crash) may have dropped records it had not read, and they are
            // resent now rather than when the next batch comes, which may be hours later or,
            // after a stop, never.
            let job = match state.link.as_mut() {
                Some(link) if self.connector.is_stream() => tokio::select! {
                    job = jobs.recv() => job,
                    _ = link.closed_by_peer() => {
                        self.repair_idle(&mut state).await;
                        continue;
                    }
                    () = tokio::time::sleep_until(confirm_at.unwrap_or_else(Instant::now)), if confirm_at.is_some() => {
                        self.confirm(&mut state).await;
                        continue;
                    }
                },
                None if state.resend.pending().is_some() => {
                    let wait = state.backoff.next_wait();
                    tokio::select! {
                        job = jobs.recv() => job,
                        () = tokio::time::sleep(wait) => {
                            self.repair_idle(&mut state).await;
                            continue;
                        }
                    }
                }
                _ => jobs.recv().await,
            };
            let Some(job) = job else {
                break;
            };
            // Under a steady stream the window confirms as it moves on; a slow stream that
            // never pauses is asked now and then.
            if state.link.is_some()
                && state.unconfirmed()
                && state
                    .resend
                    .oldest()
                    .is_some_and(|t| t.elapsed() >= CONFIRM_MAX_AGE)
            {
                self.confirm(&mut state).await;
            }
            let outcome = self.deliver(&job.batch, &mut state).await;
            match outcome {
                Ok(()) => {
                    SharedStats::bump(&self.stats.batches_delivered, 1);
                    SharedStats::bump(&self.stats.records_delivered, job.batch.len() as u64);
                    SharedStats::bump(&self.stats.bytes_delivered, job.batch.bytes().len() as u64);
                }
                Err(_) => SharedStats::bump(&self.stats.batches_failed, 1),
            }
            let _ = job.reply.send(match outcome {
                Ok(()) => Ok(job.batch),
                Err(why) => Err((job.batch, why.to_string())),
            });
        }
        self.finish(&mut state).await;
    }

    /// Writes `batch` whole, over a new connection if the old one failed (after resending the
    /// resend window), until it is written or its delivery time is up.
    async fn deliver(&self, batch: &Batch, state: &mut LinkState) -> Result<(), SendError> {
        let target = self.connector.destination().describe();
        let deadline = Instant::now() + self.settings.delivery_timeout;
        loop {
            if state.link.as_mut().is_some_and(Link::peer_closed) {
                tracing::info!(output = %self.name, "{target} closed the connection; reconnecting");
                self.broken(state);
            }
            let fresh = state.link.is_none();
            if fresh {
                match self.connector.connect(self.settings.connect_timeout).await {
                    Ok(l) => {
                        if self.connector.is_stream() {
                            tracing::info!(output = %self.name, "connected to {target}");
                        } else {
                            tracing::debug!(output = %self.name, "opened {target}");
                        }
                        SharedStats::bump(&self.stats.connects, 1);
                        self.stats.connected(true);
                        state.link = Some(l);
                    }
                    Err(e) => {
                        self.stats.connect_failed();
                        self.wait_or_give_up(&mut state.backoff, deadline, e.into())
                            .await?;
                        continue;
                    }
                }
            }
            let why = match self.write(batch, state).await {
                Ok(()) => {
                    state.backoff.reset();
                    self.written(batch, state);
                    return Ok(());
                }
                Err(why) => why,
            };
            self.broken(state);
            if fresh {
                // A new connection that cannot take a write: back off as for a refused one.
                self.wait_or_give_up(&mut state.backoff, deadline, why)
                    .await?;
            } else {
                tracing::warn!(output = %self.name, "{why}; reconnecting");
            }
        }
    }

    /// An idle connection was closed by the receiver, or one that broke is still to be made
    /// again: reconnects and resends the resend window. A failure waits for the next try
    /// (with backoff) or the next batch.
    async fn repair_idle(&self, state: &mut LinkState) {
        let target = self.connector.destination().describe();
        if state.link.is_some() {
            self.broken(state);
            if state.resend.pending().is_none() {
                tracing::info!(output = %self.name, "{target} closed the connection while idle; reconnecting at the next batch");
                return;
            }
            let (records, _) = state.resend.size();
            tracing::warn!(output = %self.name, "{target} closed or reset the connection while idle; reconnecting to resend the last {}", crate::words::counted(records as u64, "record"));
        }
        match self.connector.connect(self.settings.connect_timeout).await {
            Ok(link) => {
                tracing::info!(output = %self.name, "connected to {target}");
                SharedStats::bump(&self.stats.connects, 1);
                self.stats.connected(true);
                state.link = Some(link);
                // The backoff is reset only by a delivered batch: a receiver that closes every
                // connection it is given gets reconnects spaced out, not a storm.
                match self.resend(state).await {
                    Ok(()) => {}
                    Err(why) => {
                        tracing::warn!(output = %self.name, "{why}; trying again");
                        self.broken(state);
                    }
                }
            }
            Err(e) => {
                self.stats.connect_failed();
                tracing::warn!(output = %self.name, "{}; the last records are resent once it answers", e.0)
            }
        }
    }

    /// The resend window, if it is due, on the current link.
    async fn resend(&self, state: &mut LinkState) -> Result<(), SendError> {
        let link = self.link(&mut state.link)?;
        if let Some(window) = state.resend.pending() {
            for bytes in window {
                self.timed_write(link.write_stream(bytes)).await?;
            }
        }
        if state.resend.pending().is_some() {
            let (records, bytes) = state.resend.size();
            SharedStats::bump(&self.stats.records_resent, records as u64);
            tracing::warn!(
                output = %self.name,
                "resent the last {records} records ({bytes} bytes) after the connection broke: \
                 the receiver may have lost them unread, and may now see some twice"
            );
            state.resend.resent();
        }
        Ok(())
    }

    /// The resend window if it is due, then `batch`, on the current link.
    async fn write(&self, batch: &Batch, state: &mut LinkState) -> Result<(), SendError> {
        self.resend(state).await?;
        let link = self.link(&mut state.link)?;
        self.timed_write(link.write_batch(batch)).await
    }

    /// The current link, or why there is none.
    fn link<'s>(&self, link: &'s mut Option<Link>) -> Result<&'s mut Link, SendError> {
        link.as_mut().ok_or_else(|| SendError::NotConnected {
            target: self.connector.destination().describe(),
        })
    }

    /// A write bounded by `write_timeout`, its failure in words.
    async fn timed_write(
        &self,
        write: impl std::future::Future<Output = std::io::Result<()>>,
    ) -> Result<(), SendError> {
        let target = || self.connector.destination().describe();
        let timeout = self.settings.write_timeout;
        match tokio::time::timeout(timeout, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(SendError::Write {
                target: target(),
                source,
            }),
            Err(_) => Err(SendError::WriteTimeout {
                target: target(),
                timeout,
            }),
        }
    }

    fn broken(&self, state: &mut LinkState) {
        SharedStats::bump(&self.stats.broken_links, 1);
        self.stats.connected(false);
        state.link = None;
        state.resend.broke();
    }

    /// Waits out the backoff after `why`, or gives `why` back when the batch's delivery time
    /// would be up first.
    async fn wait_or_give_up(
        &self,
        backoff: &mut Backoff,
        deadline: Instant,
        why: SendError,
    ) -> Result<(), SendError> {
        let wait = backoff.next_wait();
        if Instant::now() + wait > deadline {
            tracing::warn!(
                output = %self.name,
                "{why}; giving up on this batch after {}",
                humantime(self.settings.delivery_timeout)
            );
            return Err(why);
        }
        tracing::warn!(output = %self.name, "{why}, retrying in {}", humantime(wait));
        tokio::time::sleep(wait).await;
        Ok(())
    }
}
