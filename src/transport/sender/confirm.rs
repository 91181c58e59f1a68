//! Confirmation: how far the receiver has read what an output wrote ([`Progress`]), learnt by
//! half-closing and waiting for its close, and the close at shutdown that does the same.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::{LinkState, Sender};
use crate::transport::batch::Batch;
use crate::transport::link::{Link, humantime};

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

    /// Batch `seq` was acknowledged by the receiver (RELP): written and confirmed at once.
    pub(super) fn acknowledged(&self, seq: u64) {
        self.written.store(seq, Ordering::Release);
        self.confirmed.send_replace(seq);
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
pub(super) enum ConfirmBy {
    /// Half-close and wait for the receiver's close (rsyslog, syslog-ng and most receivers
    /// close once they read the end of the stream).
    Close,
    /// The receiver did not close after ours: records count as confirmed when the connection
    /// is found open after them (a weaker promise, said once in the log).
    OpenAtCheck,
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
impl Sender {
    /// Closes the connection at shutdown, honestly for a stream: half-close, then wait for the
    /// receiver to close its side. Its EOF means it read everything; a reset or silence means
    /// the last records may be lost, so they are resent once on a new connection and that one
    /// closed the same way. The caller bounds all of this by the shutdown grace.
    pub(super) async fn finish(&self, state: &mut LinkState) {
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
    pub(super) async fn confirm(&self, state: &mut LinkState) {
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
    pub(super) fn written(&self, batch: &Batch, state: &mut LinkState) {
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
