//! One tenant's forwarding: poll a window, de-duplicate, map for each output, send, and only
//! when every output took every record, move the checkpoint.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::checkpoint::{Checkpoint, CheckpointError, CheckpointStore, VersionKey};
use crate::alert::Timestamp;
use crate::input::{InputAlert, Item, MalformedAlert};
use crate::mapping::TenantIdentity;
use crate::source::{AlertsClient, Emit, FetchError, TenantConfig};
use crate::transport::{Batch, DeadLetter, DeadLetters, DeliveryError, Output};

/// The longest window fetched before a checkpoint: a tenant catching up after an outage moves
/// its cursor step by step instead of re-fetching everything after a crash.
pub const MAX_WINDOW: Duration = Duration::from_secs(3600);

/// Why a poll ended before its windows were delivered. The checkpoint stayed where it was.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error("{0}")]
    Fetch(#[from] FetchError),
    /// Boxed: it carries the undelivered batch.
    #[error("{0}")]
    Delivery(Box<DeliveryError>),
    #[error("tenant \"{tenant}\": {source}")]
    Checkpoint {
        tenant: String,
        source: CheckpointError,
    },
    #[error("tenant \"{tenant}\": cannot write the dead-letter file {path}: {source}")]
    DeadLetter {
        tenant: String,
        path: String,
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
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// Alert versions the API returned (each once).
    pub fetched: u64,
    /// Alert versions sent (to every routed output).
    pub sent: u64,
    /// Versions skipped: delivered in an earlier poll (overlap), or not new (`emit = "new"`).
    pub deduplicated: u64,
    /// Malformed alerts and records too large to encode, kept in dead-letter files.
    pub dead_lettered: u64,
    pub pages: u64,
    /// How far the newest delivered lastUpdateTime is behind now.
    pub lag: Option<Duration>,
}

/// Forwards one tenant's alerts to its outputs.
pub struct TenantForwarder {
    tenant: Arc<TenantConfig>,
    client: AlertsClient,
    outputs: Vec<Arc<Output>>,
    store: CheckpointStore,
    checkpoint: Checkpoint,
    dead_letters: DeadLetters,
}

impl TenantForwarder {
    /// `outputs` are the ones routed to this tenant. Reads the checkpoint.
    pub fn new(
        client: AlertsClient,
        outputs: Vec<Arc<Output>>,
        state_dir: &std::path::Path,
    ) -> Result<TenantForwarder, PollError> {
        let tenant = Arc::new(client.tenant().clone());
        let store = CheckpointStore::new(state_dir, &tenant.name, &tenant.tenant_id);
        let checkpoint = store.load().map_err(|source| PollError::Checkpoint {
            tenant: tenant.name.clone(),
            source,
        })?;
        let dead_letters = DeadLetters::new(
            state_dir
                .join("dead-letter")
                .join(format!("tenant-{}.ndjson", tenant.name)),
        );
        Ok(TenantForwarder {
            tenant,
            client,
            outputs,
            store,
            checkpoint,
            dead_letters,
        })
    }

    pub fn tenant(&self) -> &TenantConfig {
        &self.tenant
    }

    pub fn client(&self) -> &AlertsClient {
        &self.client
    }

    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// Delivers every window from the checkpoint (or `initial_lookback`) up to `now - lag`,
    /// checkpointing after each. An error leaves the checkpoint at the last delivered window.
    pub async fn poll(&mut self, now: Timestamp) -> Result<PollReport, PollError> {
        let nanos = |d: Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        let end = Timestamp::from_unix_nanos(now.unix_nanos() - nanos(self.tenant.lag), 7);
        let mut report = PollReport::default();
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
                return Ok(report);
            }
            let to = Timestamp::from_unix_nanos(
                end.unix_nanos().min(from.unix_nanos() + nanos(MAX_WINDOW)),
                7,
            );
            report.from.get_or_insert(from);
            report.to = Some(to);
            let delivered = self.forward_window(from, to, now, &mut report).await?;
            self.checkpoint.advance(to, delivered, self.tenant.overlap);
            self.store
                .save(&self.checkpoint)
                .map_err(|source| PollError::Checkpoint {
                    tenant: self.tenant.name.clone(),
                    source,
                })?;
            if to >= end {
                return Ok(report);
            }
        }
    }

    /// Fetches [from, to), sends it to every output; returns the versions delivered that the
    /// next window's overlap can see again.
    async fn forward_window(
        &mut self,
        from: Timestamp,
        to: Timestamp,
        now: Timestamp,
        report: &mut PollReport,
    ) -> Result<Vec<VersionKey>, PollError> {
        let overlap_start =
            to.unix_nanos() - i64::try_from(self.tenant.overlap.as_nanos()).unwrap_or(i64::MAX);
        let want_raw = true;
        let mut batches: Vec<Batch> = self.outputs.iter().map(|o| o.new_batch()).collect();
        let mut delivered: Vec<VersionKey> = Vec::new();
        let mut seen_ids: HashSet<String> = match self.tenant.emit {
            Emit::New => self
                .checkpoint
                .recent
                .iter()
                .map(|k| k.id.clone())
                .collect(),
            Emit::Updates => HashSet::new(),
        };
        let mut newest: Option<Timestamp> = None;
        let mut fetch = self.client.window(from, to);
        while let Some(page) = fetch.next_page().await? {
            report.pages += 1;
            let mut failure = None;
            let identity = TenantIdentity {
                name: &self.tenant.name,
                id: &self.tenant.tenant_id,
            };
            fetch
                .read(&page, want_raw, |item| {
                    match item {
                        Item::Alert(alert) => {
                            report.fetched += 1;
                            let key = VersionKey {
                                id: alert.alert.id().unwrap_or_default().to_owned(),
                                last_update: alert.alert.last_update_time,
                            };
                            if self.checkpoint.contains(&key)
                                || !emits(self.tenant.emit, &alert, from, &mut seen_ids)
                            {
                                report.deduplicated += 1;
                                return Ok(());
                            }
                            for (output, batch) in self.outputs.iter().zip(&mut batches) {
                                if let Err(e) = output.encoder().encode(&alert, identity, now, batch) {
                                    let letter = letter_for(&alert, Some(output.name()), identity.name, e.to_string());
                                    if let Err(e) = output.dead_letter(letter) {
                                        failure = Some((output.dead_letters().map(|d| d.path().display().to_string()).unwrap_or_default(), e));
                                        return Err(());
                                    }
                                    report.dead_lettered += 1;
                                }
                            }
                            report.sent += 1;
                            if let Some(t) = key.last_update {
                                newest = newest.max(Some(t));
                            }
                            if key.last_update.is_none_or(|t| t.unix_nanos() >= overlap_start) {
                                delivered.push(key);
                            }
                        }
                        Item::Malformed(m) => {
                            tracing::warn!(tenant = %self.tenant.name, "{m}; kept in {}", self.dead_letters.path().display());
                            if let Err(e) = self.dead_letters.append(&malformed_letter(&m, identity.name)) {
                                failure = Some((self.dead_letters.path().display().to_string(), e));
                                return Err(());
                            }
                            report.dead_lettered += 1;
                        }
                    }
                    Ok(())
                })
                .ok();
            if let Some((path, source)) = failure {
                return Err(PollError::DeadLetter {
                    tenant: self.tenant.name.clone(),
                    path,
                    source,
                });
            }
            for (output, batch) in self.outputs.iter().zip(&mut batches) {
                if output.batch_is_full(batch) {
                    let full = std::mem::replace(batch, output.new_batch());
                    *batch = output.send(full).await?;
                }
            }
        }
        // The rest of every output's batch, all outputs at once.
        let mut receipts = Vec::new();
        for (output, batch) in self.outputs.iter().zip(batches) {
            if !batch.is_empty() {
                receipts.push(output.submit(batch).await);
            }
        }
        for receipt in receipts {
            receipt.delivered().await?;
        }
        if let Some(t) = newest {
            let behind = now.unix_nanos() - t.unix_nanos();
            report.lag = Some(Duration::from_nanos(behind.max(0) as u64));
        }
        Ok(delivered)
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

fn letter_for<'a>(
    alert: &'a InputAlert<'a>,
    output: Option<&'a str>,
    tenant: &'a str,
    reason: String,
) -> DeadLetter<'a> {
    DeadLetter {
        time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        output,
        tenant,
        alert_id: alert.alert.id(),
        last_update_time: alert.alert.last_update_time.map(|t| t.to_string()),
        reason,
        alert: alert.raw,
    }
}

fn malformed_letter<'a>(m: &'a MalformedAlert, tenant: &'a str) -> DeadLetter<'a> {
    DeadLetter {
        time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        output: None,
        tenant,
        alert_id: m.id.as_deref(),
        last_update_time: None,
        reason: m.to_string(),
        alert: m.raw.as_deref(),
    }
}
