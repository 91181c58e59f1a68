//! `map --config FILE --output NAME`: the mapped records go through a configured output
//! (re-sending an export to the SIEM) instead of stdout.

use std::collections::VecDeque;
use std::io::Write;

use anyhow::Context;
use tokio::runtime::Runtime;

use siemfwd::alert::Timestamp;
use siemfwd::config::Config;
use siemfwd::mapping::{EncodeError, TenantIdentity};
use siemfwd::reader::{InputAlert, MalformedAlert};
use siemfwd::transport::{Batch, DeadLetter, DeadLetters, DeliveryError, Output, Receipt};

/// Batches in flight before the reader waits for the oldest: enough to keep the connection
/// busy while the next batch is encoded.
const IN_FLIGHT: usize = 4;

/// What happened to the records sent through the output.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryCounts {
    pub delivered: u64,
    pub undelivered: u64,
    pub dead_lettered: u64,
    pub shortened: u64,
}

pub struct Delivery {
    runtime: Runtime,
    output: Option<Output>,
    batch: Batch,
    spare: Vec<Batch>,
    in_flight: VecDeque<Receipt>,
    pub counts: DeliveryCounts,
}

impl Delivery {
    pub fn start(config: &Config, name: &str) -> anyhow::Result<Delivery> {
        let output_config = config.output(name).with_context(|| {
            let names = config.outputs.iter().map(|o| o.name.as_str());
            super::not_in_config(&config.source, "output", name, names)
        })?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let dead_letters = DeadLetters::new(config.dead_letter_path(name));
        let output = {
            let _guard = runtime.enter();
            Output::start(output_config, Some(dead_letters))?
        };
        let batch = output.new_batch();
        Ok(Delivery {
            runtime,
            output: Some(output),
            batch,
            spare: Vec::new(),
            in_flight: VecDeque::new(),
            counts: DeliveryCounts::default(),
        })
    }

    fn output(&self) -> &Output {
        running(&self.output)
    }

    /// Encodes `alert` into the current batch and sends the batch when it is full. An alert
    /// that cannot be encoded goes to the dead-letter file and is reported on `err`.
    pub fn push(
        &mut self,
        alert: &InputAlert<'_>,
        tenant: TenantIdentity<'_>,
        now: Timestamp,
        where_: &str,
        err: &mut dyn Write,
    ) -> anyhow::Result<()> {
        let output = running(&self.output);
        match output.encoder().encode(alert, tenant, now, &mut self.batch) {
            Ok(stats) => {
                if stats.budget_truncations > 0 {
                    self.counts.shortened += 1;
                }
            }
            Err(e) => self.dead_letter(alert, tenant, &e, where_, err)?,
        }
        if self.output().batch_is_full(&self.batch) {
            self.send_batch(err);
        }
        Ok(())
    }

    fn dead_letter(
        &mut self,
        alert: &InputAlert<'_>,
        tenant: TenantIdentity<'_>,
        e: &EncodeError,
        where_: &str,
        err: &mut dyn Write,
    ) -> anyhow::Result<()> {
        let output = running(&self.output);
        let letter = DeadLetter {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            output: Some(output.name()),
            tenant: tenant.name,
            alert_id: alert.alert.id(),
            last_update_time: alert.alert.last_update_time.map(|t| t.to_string()),
            reason: e.to_string(),
            alert: alert.raw,
        };
        let kept = keep(output, letter, &mut self.counts)?;
        let _ = writeln!(err, "siemfwd: {where_}: {e}; kept in {kept}");
        Ok(())
    }

    /// Keeps an alert that could not be read in the output's dead-letter file, as `run` keeps
    /// one from the API in the tenant's: reported only, it left nothing to replay from.
    pub fn dead_letter_malformed(
        &mut self,
        malformed: &MalformedAlert,
        tenant: TenantIdentity<'_>,
        input: &str,
        err: &mut dyn Write,
    ) -> anyhow::Result<()> {
        let mut letter = DeadLetter::malformed(malformed, tenant.name);
        // The input file is in no other field of the letter.
        letter.reason = format!("{input}: {}", letter.reason);
        let kept = keep(running(&self.output), letter, &mut self.counts)?;
        let _ = writeln!(err, "siemfwd: {input}: {malformed}; kept in {kept}");
        Ok(())
    }

    fn send_batch(&mut self, err: &mut dyn Write) {
        if self.batch.is_empty() {
            return;
        }
        let next = self
            .spare
            .pop()
            .unwrap_or_else(|| self.output().new_batch());
        let full = std::mem::replace(&mut self.batch, next);
        let output = running(&self.output);
        let receipt = self.runtime.block_on(output.submit(full));
        self.in_flight.push_back(receipt);
        while self.in_flight.len() > IN_FLIGHT {
            self.settle_oldest(err);
        }
    }

    fn settle_oldest(&mut self, err: &mut dyn Write) {
        let Some(receipt) = self.in_flight.pop_front() else {
            return;
        };
        let records = receipt.records() as u64;
        match self.runtime.block_on(receipt.delivered()) {
            Ok(batch) => {
                self.counts.delivered += records;
                self.spare.push(batch);
            }
            Err(e) => self.report_undelivered(&e, err),
        }
    }

    fn report_undelivered(&mut self, e: &DeliveryError, err: &mut dyn Write) {
        self.counts.undelivered += e.batch.len() as u64;
        let ids: Vec<&str> = e.batch.alert_ids().filter(|i| !i.is_empty()).collect();
        let shown = ids.len().min(5);
        let _ = writeln!(
            err,
            "siemfwd: {e} (alerts {}{})",
            ids[..shown].join(", "),
            if ids.len() > shown {
                format!(" and {} more", ids.len() - shown)
            } else {
                String::new()
            }
        );
    }

    /// Sends what is left, waits for every batch, and closes the output.
    pub fn finish(mut self, err: &mut dyn Write) -> DeliveryCounts {
        self.send_batch(err);
        while !self.in_flight.is_empty() {
            self.settle_oldest(err);
        }
        if let Some(output) = self.output.take() {
            self.runtime.block_on(output.shutdown());
        }
        self.counts
    }
}

/// `Delivery::output` is taken only by `finish`, which consumes the delivery: until then it is
/// set. (An `Option` because `Delivery` implements `Drop`, which forbids moving it out.)
#[allow(clippy::expect_used)]
fn running(output: &Option<Output>) -> &Output {
    output.as_ref().expect("running until finish")
}

/// Appends `letter` to `output`'s dead-letter file and counts it; the file's path.
fn keep(
    output: &Output,
    letter: DeadLetter<'_>,
    counts: &mut DeliveryCounts,
) -> anyhow::Result<String> {
    let path = output
        .dead_letters()
        .map(|d| d.path().display().to_string())
        .unwrap_or_default();
    output
        .dead_letter(letter)
        .with_context(|| format!("cannot write the dead-letter file {path}"))?;
    counts.dead_lettered += 1;
    Ok(path)
}
