//! One time window of one tenant, fetched and sent to every output: the step `run` repeats
//! from the checkpoint and `replay` runs over a given range.

use super::checkpoint::VersionKey;
use super::tenant::{PollError, PollReport};
use crate::alert::Timestamp;
use crate::mapping::TenantIdentity;
use crate::reader::{self, InputAlert, Item, MalformedAlert};
use crate::source::AlertsClient;
use crate::transport::{Batch, DeadLetter, DeadLetters, DeliveryError, Output, Receipt};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

/// A window [from, to) of one tenant and where its alerts go.
pub(crate) struct Window<'a> {
    pub client: &'a AlertsClient,
    pub outputs: &'a [Arc<Output>],
    /// For alerts the API sent malformed.
    pub dead_letters: &'a DeadLetters,
    pub from: Timestamp,
    /// Where the window ends unless it holds too many alerts ([`Delivered::to`]).
    pub to: Timestamp,
    /// Nothing is known of the density here: shorten the window when this many full pages did
    /// not reach its end.
    pub probe: Option<u32>,
    /// The envelope's time for alerts without lastUpdateTime.
    pub now: Timestamp,
}

/// A window delivered.
pub(crate) struct Delivered {
    /// Where it ended: its `to`, or earlier when it held more than one query pages through.
    pub to: Timestamp,
    /// The items of [from, to) the API holds, for planning the next window (the versions sent
    /// may include some past `to`).
    pub held: u64,
    /// Alerts sent, per output (in the window's order of outputs).
    pub sent: Vec<u64>,
    /// Items of its pages that were no readable alert (dead-lettered).
    pub malformed: u64,
    /// Alert-output pairs an output could not encode (dead-lettered).
    pub unencodable: u64,
    /// The newest lastUpdateTime sent.
    pub newest: Option<Timestamp>,
    /// The versions sent that a later window can see again: those of its last `overlap`, and
    /// those past `to` that its pages held before it was shortened.
    pub keys: Vec<VersionKey>,
}

impl Window<'_> {
    /// Fetches the window and sends it to every output. `keep` decides which versions are sent
    /// (the others count as de-duplicated).
    pub async fn deliver(
        &self,
        report: &mut PollReport,
        mut keep: impl FnMut(&VersionKey, &InputAlert<'_>) -> bool,
    ) -> Result<Delivered, PollError> {
        let tenant = self.client.tenant();
        // The alert's own JSON text is needed only by JSON outputs; asking for it otherwise forces
        // the slower element-by-element read of every page. (A page with a malformed alert is read
        // element by element anyway, so its dead letter still keeps the text.)
        let want_raw = self
            .outputs
            .iter()
            .any(|o| o.encoder().mapping().needs_raw());
        let mut sending = Sending {
            lanes: self.outputs.iter().map(|o| Lane::new(o)).collect(),
            delivered: Vec::new(),
            newest: None,
            unencodable: 0,
            unwritten: Vec::new(),
        };
        let mut fetch = self.client.window(self.from, self.to);
        if let Some(pages) = self.probe {
            fetch = fetch.probing(pages);
        }
        loop {
            // No page is fetched for an output that could not queue it: the tenants of an
            // output that is down wait here holding nothing, and memory stays bounded by the
            // pages being read, not by the tenants routed to that output.
            for output in self.outputs {
                output.ready().await;
            }
            let Some(page) = fetch.next_page().await? else {
                break;
            };
            report.pages += 1;
            let mut failure = fetch
                .read(&page, want_raw, |item| match item {
                    Item::Alert(alert) => self.send_alert(&alert, &mut sending, report, &mut keep),
                    Item::Malformed(m) => self.keep_malformed(&m, report),
                })
                .err();
            if failure.is_none() && !sending.unwritten.is_empty() {
                failure = self
                    .write_unwritten(&page.bytes, self.identity(), &mut sending.unwritten)
                    .err();
            }
            if let Some((path, source)) = failure {
                return Err(PollError::DeadLetter {
                    tenant: tenant.name.clone(),
                    path,
                    source,
                });
            }
            // The page, and its place in the budget all tenants share, goes before the batches
            // are queued: an output that is slow or down holds up the tenants routed to it,
            // never another tenant's page (issue 16). What waits here is this page's encoded
            // records, at most one page's worth per tenant.
            drop(page);
            for (output, lane) in self.outputs.iter().zip(&mut sending.lanes) {
                lane.submit_full(output).await?;
            }
        }
        let sent = sending.lanes.iter().map(|l| l.sent).collect();
        self.finish(sending.lanes).await?;
        if let Some(t) = sending.newest {
            let behind = self.now.unix_nanos() - t.unix_nanos();
            report.lag = Some(Duration::from_nanos(behind.max(0) as u64));
        }
        let to = fetch.end();
        let overlap_start = to.unix_nanos() - overlap_nanos(tenant.overlap);
        let mut keys = sending.delivered;
        keys.retain(|k| {
            k.last_update
                .is_none_or(|t| t.unix_nanos() >= overlap_start)
        });
        Ok(Delivered {
            to,
            held: fetch.held(),
            keys,
            sent,
            malformed: fetch.stats.malformed,
            unencodable: sending.unencodable,
            newest: sending.newest,
        })
    }

    fn identity(&self) -> TenantIdentity<'_> {
        let tenant = self.client.tenant();
        TenantIdentity {
            name: &tenant.name,
            id: &tenant.tenant_id,
        }
    }

    /// One alert of a page, unless `keep` refuses it, encoded into every output's batch; an
    /// output that cannot encode it gets a dead letter instead.
    fn send_alert(
        &self,
        alert: &InputAlert<'_>,
        sending: &mut Sending,
        report: &mut PollReport,
        keep: &mut impl FnMut(&VersionKey, &InputAlert<'_>) -> bool,
    ) -> Result<(), LetterFailure> {
        report.fetched += 1;
        let key = VersionKey {
            id: alert.alert.id().unwrap_or_default().to_owned(),
            last_update: alert.alert.last_update_time,
        };
        if !keep(&key, alert) {
            report.deduplicated += 1;
            return Ok(());
        }
        let identity = self.identity();
        for (o, (output, lane)) in self.outputs.iter().zip(&mut sending.lanes).enumerate() {
            let encoded = output
                .encoder()
                .encode(alert, identity, self.now, &mut lane.batch);
            if encoded.is_ok() {
                lane.sent += 1;
            }
            if let Err(e) = encoded {
                report.dead_lettered += 1;
                sending.unencodable += 1;
                if alert.raw.is_none()
                    && let Some(index) = alert.position.index
                {
                    // Read on the fast path, without its text: written once the page is read
                    // again for it.
                    sending.unwritten.push(Unwritten {
                        index,
                        output: o,
                        reason: e.to_string(),
                        id: alert.alert.id().map(str::to_owned),
                        last_update_time: alert.alert.last_update_time.map(|t| t.to_string()),
                    });
                } else {
                    let letter =
                        letter_for(alert, Some(output.name()), identity.name, e.to_string());
                    output.dead_letter(letter).map_err(|e| {
                        let path = output
                            .dead_letters()
                            .map(|d| d.path().display().to_string());
                        (path.unwrap_or_default(), e)
                    })?;
                }
            }
            lane.close_if_full(output);
        }
        report.sent += 1;
        if let Some(t) = key.last_update {
            sending.newest = sending.newest.max(Some(t));
        }
        // Every version, kept until the window's end is known: a window shortened after a
        // page was sent has sent versions past its new end, which the next window must skip.
        sending.delivered.push(key);
        Ok(())
    }

    /// An item of a page that is no alert: to the tenant's dead letters.
    fn keep_malformed(
        &self,
        m: &MalformedAlert,
        report: &mut PollReport,
    ) -> Result<(), LetterFailure> {
        let tenant = &self.client.tenant().name;
        tracing::warn!(tenant = %tenant, "{m}; kept in {}", self.dead_letters.path().display());
        self.dead_letters
            .append(&DeadLetter::malformed(m, tenant))
            .map_err(|e| (self.dead_letters.path().display().to_string(), e))?;
        report.dead_lettered += 1;
        Ok(())
    }

    /// The rest of every output's batches, all outputs at once; then every receipt.
    async fn finish(&self, mut lanes: Vec<Lane>) -> Result<(), PollError> {
        for (output, lane) in self.outputs.iter().zip(&mut lanes) {
            lane.close(output);
            lane.submit_full(output).await?;
        }
        for lane in lanes {
            for receipt in lane.receipts {
                receipt.delivered().await?;
            }
        }
        Ok(())
    }
}

fn overlap_nanos(overlap: Duration) -> i64 {
    i64::try_from(overlap.as_nanos()).unwrap_or(i64::MAX)
}

/// A dead letter that could not be written: the file, and why.
type LetterFailure = (String, std::io::Error);

/// What a window has sent so far, page by page.
struct Sending {
    /// One per output, in the window's order.
    lanes: Vec<Lane>,
    /// Versions sent; those a later window can see again are kept when the window's end is
    /// known.
    delivered: Vec<VersionKey>,
    /// The latest lastUpdateTime sent, for the report's lag.
    newest: Option<Timestamp>,
    /// Alert-output pairs an output could not encode.
    unencodable: u64,
    /// The page's alerts some output could not encode, whose dead letters wait for their text.
    unwritten: Vec<Unwritten>,
}

/// An alert an output could not encode, read without its JSON text (the fast path): its dead
/// letter waits for the page to be read again, so that it keeps the alert.
struct Unwritten {
    /// 1-based position in the page.
    index: u64,
    /// Which of the window's outputs.
    output: usize,
    reason: String,
    /// For a dead letter without the alert, should the page not give it again.
    id: Option<String>,
    last_update_time: Option<String>,
}

impl Window<'_> {
    /// Writes the dead letters of `unwritten`, with each alert's text from a second read of
    /// the page (rare: an alert no output can encode).
    fn write_unwritten(
        &self,
        page: &[u8],
        identity: TenantIdentity<'_>,
        unwritten: &mut Vec<Unwritten>,
    ) -> Result<(), LetterFailure> {
        let write = |u: &Unwritten, letter: DeadLetter<'_>| {
            let output = &self.outputs[u.output];
            output.dead_letter(letter).map(|_| ()).map_err(|e| {
                let path = output
                    .dead_letters()
                    .map(|d| d.path().display().to_string());
                (path.unwrap_or_default(), e)
            })
        };
        reader::read_page(page, true, |item| {
            let Item::Alert(alert) = item else {
                return Ok(());
            };
            for u in unwritten
                .iter()
                .filter(|u| Some(u.index) == alert.position.index)
            {
                let output = Some(self.outputs[u.output].name());
                write(
                    u,
                    letter_for(&alert, output, identity.name, u.reason.clone()),
                )?;
            }
            unwritten.retain(|u| Some(u.index) != alert.position.index);
            Ok(())
        })
        .or_else(|e| match e {
            reader::PageError::Stopped(e) => Err(e),
            // Cannot be: these bytes were read as a page a moment ago. The letters are
            // written without the alerts below.
            reader::PageError::NotAPage(_) => Ok(reader::PageInfo::default()),
        })?;
        // Not found again (it cannot be: the page is the same bytes): the letter without it.
        for u in unwritten.drain(..) {
            let letter = DeadLetter {
                time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                output: Some(self.outputs[u.output].name()),
                tenant: identity.name,
                alert_id: u.id.as_deref(),
                last_update_time: u.last_update_time.clone(),
                reason: u.reason.clone(),
                alert: None,
            };
            write(&u, letter)?;
        }
        Ok(())
    }
}

/// Batches queued to an output and not yet delivered, per tenant: enough to keep the output
/// busy while the next page is read, few enough that they hold little memory.
const BATCHES_IN_FLIGHT: usize = 4;

/// One output's batches of a window: the one being filled, those full and not yet queued, and
/// the receipts of those queued, oldest first.
struct Lane {
    /// Records encoded into its batches.
    sent: u64,
    batch: Batch,
    full: Vec<Batch>,
    receipts: VecDeque<Receipt>,
    /// Delivered batches, emptied, for reuse.
    spare: Vec<Batch>,
}

impl Lane {
    fn new(output: &Output) -> Lane {
        Lane {
            sent: 0,
            batch: output.new_batch(),
            full: Vec::new(),
            receipts: VecDeque::new(),
            spare: Vec::new(),
        }
    }

    /// Starts a new batch when another record might not fit in this one. Batches are closed
    /// as they fill while a page is read (synchronously), and queued after it.
    fn close_if_full(&mut self, output: &Output) {
        if output.batch_is_full(&self.batch) {
            self.close(output);
        }
    }

    fn close(&mut self, output: &Output) {
        if self.batch.is_empty() {
            return;
        }
        let next = self.spare.pop().unwrap_or_else(|| output.new_batch());
        self.full.push(std::mem::replace(&mut self.batch, next));
    }

    /// Queues the full batches in order, waiting for the oldest to be delivered whenever more
    /// than [`BATCHES_IN_FLIGHT`] are.
    async fn submit_full(&mut self, output: &Output) -> Result<(), DeliveryError> {
        for batch in self.full.drain(..) {
            self.receipts.push_back(output.submit(batch).await);
            while self.receipts.len() > BATCHES_IN_FLIGHT
                && let Some(oldest) = self.receipts.pop_front()
            {
                let batch = oldest.delivered().await?;
                if self.spare.len() < 2 {
                    self.spare.push(batch);
                }
            }
        }
        Ok(())
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
