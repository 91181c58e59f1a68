//! The task that owns an output's connection: it takes batches from a bounded queue, writes
//! each whole, reconnects with backoff when the link fails, and answers every batch with
//! written or not. It also says how far the receiver has *confirmed* (see [`Progress`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::batch::Batch;
use super::config::ConnectionSettings;
use super::link::{ConnectError, Connector, Link, humantime};
use super::resend::ResendWindow;
use crate::backoff::Backoff;

/// At shutdown, how long a receiver may take to close its side after ours.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// A stream output idle this long with unconfirmed records asks the receiver to confirm them:
/// it half-closes, and the receiver's close says it read everything.
pub const CONFIRM_IDLE: Duration = Duration::from_millis(500);

/// A busy stream output asks at least this often, before its next batch, when the resend
/// window has not confirmed its oldest record by then.
pub const CONFIRM_MAX_AGE: Duration = Duration::from_secs(10);

/// How far an output's batches have got, by sequence number (1 for the first batch written):
/// written into the socket or file, and confirmed.
///
/// A batch is *confirmed* when it cannot be lost any more by a receiver that drops what it has
/// not read: for files, stdout and datagrams, once written (there is nothing more to know);
/// for TCP and TLS, once the receiver closed the connection cleanly after our half-close (it
/// read everything before it), or once the batch left the resend window (more was written
/// after it than the socket buffers hold, so the receiver read it). Checkpoints move only past
/// confirmed batches.
#[derive(Debug)]
pub(crate) struct Progress {
    written: AtomicU64,
    confirmed: watch::Sender<u64>,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            written: AtomicU64::new(0),
            confirmed: watch::Sender::new(0),
        }
    }
}

impl Progress {
    /// The sequence number of the last batch written so far.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    /// Whether batch `seq` and every one before it is confirmed.
    pub fn is_confirmed(&self, seq: u64) -> bool {
        *self.confirmed.borrow() >= seq
    }

    /// Waits until batch `seq` and every one before it is confirmed.
    pub async fn confirmed(&self, seq: u64) {
        let mut confirmed = self.confirmed.subscribe();
        // The sender is held by `self`: the wait cannot end in an error.
        let _ = confirmed.wait_for(|c| *c >= seq).await;
    }
}

/// How a stream output learns that the receiver read what was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConfirmBy {
    /// Half-close and wait for the receiver's close (rsyslog, syslog-ng and most receivers
    /// close once they read the end of the stream).
    Close,
    /// The receiver did not close after ours: records count as confirmed when the connection
    /// is found open after them (a weaker promise, said once in the log).
    OpenAtCheck,
}

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

/// How a half-close ended.
enum Closed {
    /// The receiver closed its side: it read everything.
    Clean,
    /// A reset or an error: the last records may be lost.
    Failed(String),
    /// Nothing within the wait.
    Silent(Duration),
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
    pub batches_delivered: u64,
    pub records_delivered: u64,
    /// Batches given back undelivered after `delivery_timeout`.
    pub batches_failed: u64,
}

#[derive(Debug, Default)]
pub(crate) struct SharedStats {
    connects: AtomicU64,
    broken_links: AtomicU64,
    batches_delivered: AtomicU64,
    records_delivered: AtomicU64,
    batches_failed: AtomicU64,
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
        }
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

    /// Closes the connection at shutdown, honestly for a stream: half-close, then wait for the
    /// receiver to close its side. Its EOF means it read everything; a reset or silence means
    /// the last records may be lost, so they are resent once on a new connection and that one
    /// closed the same way. The caller bounds all of this by the shutdown grace.
    async fn finish(&self, state: &mut LinkState) {
        let target = self.connector.destination().describe();
        if !self.connector.is_stream() || state.confirm_by == ConfirmBy::OpenAtCheck {
            if let Some(link) = state.link.as_mut()
                && !link.peer_closed()
            {
                self.confirm_through(state, state.written);
            }
            if let Some(link) = state.link.take()
                && let Err(e) = link.close().await
            {
                tracing::debug!(output = %self.name, "closing: {e}");
            }
            return;
        }
        for attempt in 0..2 {
            if state.link.is_none() {
                if state.resend.pending().is_none() {
                    return;
                }
                match self.connector.connect(self.settings.connect_timeout).await {
                    Ok(link) => state.link = Some(link),
                    Err(e) => {
                        tracing::warn!(output = %self.name, "{}", e.0);
                        break;
                    }
                }
            }
            if let Err(why) = self.resend(state).await {
                tracing::warn!(output = %self.name, "{why}");
                self.broken(state);
                continue;
            }
            let Some(link) = state.link.as_mut() else {
                continue;
            };
            let closed = close_and_wait(link, CLOSE_WAIT.min(self.settings.write_timeout)).await;
            state.link = None;
            let why = match closed {
                Closed::Clean => {
                    tracing::info!(output = %self.name, "{target} closed the connection after reading everything sent");
                    self.confirmed_by_close(state);
                    return;
                }
                Closed::Failed(why) => why,
                Closed::Silent(wait) => format!("no close within {}", humantime(wait)),
            };
            let (records, _) = state.resend.size();
            tracing::warn!(output = %self.name, "{target} did not close the connection cleanly after ours ({why}): the last {records} records may be lost; {}", if attempt == 0 { "resending them" } else { "they were resent once already" });
            state.resend.broke();
        }
        let (records, _) = state.resend.size();
        if state.unconfirmed() && records > 0 {
            tracing::error!(output = %self.name, "the last {records} records sent to {target} may not have arrived: the receiver did not confirm them by closing cleanly (the checkpoints did not move past them: they are fetched and sent again at the next start)");
        }
    }

    /// Asks the receiver to confirm what was written (see [`Progress`]): half-closes and waits
    /// for its close. A reset means the last records may be lost: they are resent on a new
    /// connection, to be confirmed the same way. A receiver that does not close within
    /// `write_timeout` is asked no more (said once).
    async fn confirm(&self, state: &mut LinkState) {
        let target = self.connector.destination().describe();
        let Some(link) = state.link.as_mut() else {
            return;
        };
        if state.confirm_by == ConfirmBy::OpenAtCheck {
            if link.peer_closed() {
                self.repair_idle(state).await;
            } else {
                self.confirm_through(state, state.written);
            }
            return;
        }
        let (records, _) = state.resend.size();
        match close_and_wait(link, self.settings.write_timeout).await {
            Closed::Clean => {
                state.link = None;
                self.confirmed_by_close(state);
                tracing::debug!(output = %self.name, "{target} closed the connection after reading the last {records} records: confirmed");
            }
            Closed::Failed(why) => {
                tracing::warn!(output = %self.name, "{target} did not close the connection cleanly after ours ({why}): the last {records} records may be lost; resending them");
                self.broken(state);
                self.repair_idle(state).await;
            }
            Closed::Silent(wait) => {
                state.link = None;
                state.confirm_by = ConfirmBy::OpenAtCheck;
                self.confirm_through(state, state.written);
                tracing::warn!(output = %self.name, "{target} did not close its side within {} of ours, so it cannot confirm what it read: from now on a record counts as delivered once the connection is found open after it, and one the receiver drops unread can be lost", humantime(wait));
            }
        }
    }

    /// Batch `batch` was written: it is held in the resend window, and what that pushed out is
    /// confirmed (everything, for an output that is not a stream).
    fn written(&self, batch: &Batch, state: &mut LinkState) {
        state.written += 1;
        let seq = state.written;
        let left = state.resend.written(batch.bytes(), batch.len(), seq);
        state.last_write = Instant::now();
        self.progress.written.store(seq, Ordering::Release);
        if !self.connector.is_stream() {
            self.confirm_through(state, seq);
        } else if let Some(left) = left {
            self.confirm_through(state, left);
        }
    }

    /// The receiver closed cleanly after our half-close: everything written is confirmed.
    fn confirmed_by_close(&self, state: &mut LinkState) {
        state.resend.clear();
        self.confirm_through(state, state.written);
    }

    fn confirm_through(&self, state: &mut LinkState, seq: u64) {
        if seq <= state.confirmed {
            return;
        }
        state.confirmed = seq;
        self.progress.confirmed.send_replace(seq);
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
                        state.link = Some(l);
                    }
                    Err(e) => {
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
            tracing::warn!(output = %self.name, "{target} closed or reset the connection while idle; reconnecting to resend the last {records} records");
        }
        match self.connector.connect(self.settings.connect_timeout).await {
            Ok(link) => {
                tracing::info!(output = %self.name, "connected to {target}");
                SharedStats::bump(&self.stats.connects, 1);
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

/// Half-closes `link` and waits up to `wait` for the receiver to close its side.
async fn close_and_wait(link: &mut Link, wait: Duration) -> Closed {
    let closed = async {
        link.half_close()
            .await
            .map_err(|e| format!("closing our side failed: {e}"))?;
        link.closed_by_peer().await.map_err(|e| e.to_string())
    };
    match tokio::time::timeout(wait, closed).await {
        Ok(Ok(())) => Closed::Clean,
        Ok(Err(why)) => Closed::Failed(why),
        Err(_) => Closed::Silent(wait),
    }
}
