//! The task of a `type = "relp"` output: batches sent as RELP `syslog` commands on one
//! session, each record acknowledged by the receiver before its batch counts as delivered
//! (and confirmed: checkpoints move past it). What a broken session left unacknowledged is
//! sent again on the next one (duplicates possible, loss not); a record the receiver refuses
//! (an answer other than 200) is sent again after a backoff, and its batch given back
//! undelivered when `delivery_timeout` runs out (the tenant's checkpoint stays before it).

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{Job, Progress, SharedStats};
use crate::backoff::Backoff;
use crate::transport::batch::Batch;
use crate::transport::config::ConnectionSettings;
use crate::transport::link::Connector;
use crate::transport::relp::session::Session;

pub(crate) struct RelpSender {
    pub name: String,
    pub connector: Connector,
    pub settings: ConnectionSettings,
    /// `relp_window`: records sent ahead of their acknowledgements.
    pub window: usize,
    pub stats: Arc<SharedStats>,
    pub progress: Arc<Progress>,
}

impl RelpSender {
    pub async fn run(self, mut jobs: mpsc::Receiver<Job>) {
        let mut session = None;
        let mut backoff = Backoff::new(self.settings.backoff_min, self.settings.backoff_max);
        let mut delivered = 0u64;
        while let Some(job) = jobs.recv().await {
            let outcome = self.deliver(&job.batch, &mut session, &mut backoff).await;
            match &outcome {
                Ok(()) => {
                    SharedStats::bump(&self.stats.batches_delivered, 1);
                    SharedStats::bump(&self.stats.records_delivered, job.batch.len() as u64);
                    SharedStats::bump(&self.stats.bytes_delivered, job.batch.bytes().len() as u64);
                    // Acknowledged is confirmed: the receiver has every record of it.
                    delivered += 1;
                    self.progress.acknowledged(delivered);
                }
                Err(_) => SharedStats::bump(&self.stats.batches_failed, 1),
            }
            let _ = job.reply.send(match outcome {
                Ok(()) => Ok(job.batch),
                Err(why) => Err((job.batch, why)),
            });
        }
        if let Some(session) = session {
            session.close().await;
        }
    }

    /// Sends every record of `batch` until each is acknowledged, over new sessions as needed,
    /// or until the batch's delivery time is up.
    async fn deliver(
        &self,
        batch: &Batch,
        session: &mut Option<Session>,
        backoff: &mut Backoff,
    ) -> Result<(), String> {
        let target = self.connector.destination().describe();
        let deadline = Instant::now() + self.settings.delivery_timeout;
        let records: Vec<&[u8]> = batch.records().collect();
        let mut pending = vec![true; records.len()];
        let mut last = String::new();
        let mut sessions = 0;
        loop {
            if !pending.contains(&true) {
                backoff.reset();
                return Ok(());
            }
            if Instant::now() >= deadline {
                let left = pending.iter().filter(|p| **p).count();
                return Err(format!(
                    "{target}: {} not acknowledged within delivery_timeout: {last}",
                    crate::words::counted(left as u64, "record")
                ));
            }
            let open = match session {
                Some(s) => Ok(s),
                None => match tokio::time::timeout_at(deadline, self.open()).await {
                    Ok(Ok(s)) => Ok(session.insert(s)),
                    Ok(Err(e)) => Err(e),
                    Err(_) => Err(format!("connecting to {target} timed out")),
                },
            };
            let s = match open {
                Ok(s) => s,
                Err(e) => {
                    self.stats.connect_failed();
                    tracing::warn!(output = %self.name, "{e}; retrying");
                    last = e;
                    self.wait(backoff, deadline).await;
                    continue;
                }
            };
            sessions += 1;
            if sessions > 1 {
                let left = pending.iter().filter(|p| **p).count() as u64;
                SharedStats::bump(&self.stats.records_resent, left);
            }
            let sent =
                tokio::time::timeout_at(deadline, s.send(&records, &mut pending, self.window))
                    .await;
            match sent {
                Ok(Ok(refused)) if refused.is_empty() => {}
                Ok(Ok(refused)) => {
                    let first = &refused[0];
                    let alert = batch.alert_ids().nth(first.index).unwrap_or_default();
                    last = format!(
                        "{target} refused {} (the first, of alert {alert}: {})",
                        crate::words::counted(refused.len() as u64, "record"),
                        first.response
                    );
                    tracing::warn!(output = %self.name, "{last}; sending again");
                    self.wait(backoff, deadline).await;
                }
                Ok(Err(e)) => {
                    last = format!("{target}: {e}");
                    let left = pending.iter().filter(|p| **p).count() as u64;
                    tracing::warn!(output = %self.name, "{last}; sending the {} not acknowledged again on a new session", crate::words::counted(left, "record"));
                    SharedStats::bump(&self.stats.broken_links, 1);
                    self.stats.connected(false);
                    *session = None;
                }
                Err(_) => {
                    // Unanswered at the deadline: the session is in an unknown state.
                    last = format!("{target} did not acknowledge in time");
                    *session = None;
                }
            }
        }
    }

    /// A new session: connection (TCP or TLS), then RELP's `open`.
    async fn open(&self) -> Result<Session, String> {
        let target = self.connector.destination().describe();
        let link = self
            .connector
            .connect(self.settings.connect_timeout)
            .await
            .map_err(|e| e.0)?;
        let stream = link
            .into_stream()
            .ok_or_else(|| format!("{target}: not a stream"))?;
        let session = tokio::time::timeout(self.settings.connect_timeout, Session::open(stream))
            .await
            .map_err(|_| format!("{target} did not answer RELP's open: is this a RELP port (a syslog port reads the open as a message and waits)?"))?
            .map_err(|e| format!("{target}: {e}"))?;
        tracing::info!(output = %self.name, "RELP session open with {target} ({})", session.offers.offer("relp_software").unwrap_or("software not said"));
        SharedStats::bump(&self.stats.connects, 1);
        self.stats.connected(true);
        Ok(session)
    }

    async fn wait(&self, backoff: &mut Backoff, deadline: Instant) {
        let until = (Instant::now() + backoff.next_wait()).min(deadline);
        tokio::time::sleep_until(until).await;
    }
}
