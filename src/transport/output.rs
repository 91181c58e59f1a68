//! [`Output`]: one configured destination, with its encoder, its dead-letter file and the task
//! that owns its connection.
//!
//! # Delivery contract
//!
//! [`Output::send`] (or [`Output::submit`] and then [`Receipt::delivered`]) returns `Ok` only
//! when every record of the batch was written and flushed to the socket or file. The caller
//! advances its checkpoints on that and nothing else. A failed link is reconnected and the whole
//! batch written again, so a receiver can see a batch twice (at-least-once), never a record cut
//! in two. When the batch cannot be written within `delivery_timeout`, it comes back in the
//! error with the alert ids of its records.
//!
//! What "written" cannot promise: plain TCP and TLS have no application-level
//! acknowledgement. Records that reached the kernel's send buffer or the receiver's receive
//! buffer are lost if the receiver dies before reading them, and the sender cannot know. So a
//! stream output also says when its batches are *confirmed* ([`Output::written_mark`],
//! [`Output::confirmed`]): when the receiver closed the connection cleanly after the output's
//! half-close (asked for after 500 ms idle, or before a batch when the oldest unconfirmed one is
//! 10 s old), or when more than the resend window was written after them. Until then they stay
//! in the resend window, resent after any break; and checkpoints wait for the confirmation, so a
//! crash cannot lose them either: they are fetched again at the next start.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::batch::{Batch, RecordEncoder};
use super::config::{ConnectionSettings, Destination, OutputConfig};
use super::dead_letter::{DeadLetter, DeadLetters};
use super::envelope::{Envelope, EnvelopeError, local_hostname};
use super::link::{ConnectError, Connector};
use super::sender::relp::RelpSender;
use super::sender::{Job, OutputStats, Progress, Sender, SharedStats};
use super::tls::{TlsClient, TlsSetupError};
use crate::mapping::{Mapping, MappingError};

/// An output that cannot be started.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// Its mapping file cannot be read or compiled.
    #[error("output \"{output}\": {source}")]
    Mapping {
        /// The output's `name`.
        output: String,
        /// What is wrong with the mapping, with file and line.
        source: MappingError,
    },
    #[error(
        "output \"{output}\": mapping {mapping} is for {found}, but the output's format is {wanted}"
    )]
    /// Its `mapping` file is for another format than its `format` (a LEEF mapping on a CEF
    /// output).
    FormatMismatch {
        /// The output's `name`.
        output: String,
        /// The mapping file's path, as configured.
        mapping: String,
        /// The format the mapping file declares.
        found: crate::mapping::Format,
        /// The output's `format`.
        wanted: crate::mapping::Format,
    },
    /// An envelope field (`hostname`, `app_name`, `procid`, `msgid`) too long or not
    /// printable ASCII.
    #[error("output \"{output}\": {source}")]
    Envelope {
        /// The output's `name`.
        output: String,
        /// Which field, and why.
        source: EnvelopeError,
    },
    /// Its TLS settings cannot be used: a CA, certificate or key file unreadable or empty, a
    /// `server_name` that is no name.
    #[error("output \"{output}\": {source}")]
    Tls {
        /// The output's `name`.
        output: String,
        /// What is wrong, in words.
        source: TlsSetupError,
    },
    /// A file output that cannot be opened now would only retry with warnings forever.
    #[error("output \"{output}\": {message}")]
    File {
        /// The output's `name`.
        output: String,
        /// The path and the operating system's error.
        message: String,
    },
}

/// Why [`probe`] could not open an output: its TLS settings, or the connection.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The TLS settings cannot be used (see [`OutputError::Tls`]).
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
    /// The connection (DNS, TCP, TLS handshake) or the file failed, in words.
    #[error(transparent)]
    Connect(#[from] ConnectError),
}

/// A batch that could not be delivered, given back with its records. The reason names the
/// address or path.
#[derive(Debug, thiserror::Error)]
#[error("output \"{output}\": {} not delivered: {reason}", crate::words::counted(batch.len() as u64, "record"))]
pub struct DeliveryError {
    /// The output's `name`.
    pub output: String,
    /// The address, path or `stdout` it sends to.
    pub target: String,
    /// Why the last try failed, after `delivery_timeout` of retries.
    pub reason: String,
    /// The records, untouched, for the caller to keep (dead letters) or send again.
    pub batch: Batch,
}

/// A running output.
pub struct Output {
    name: String,
    target: String,
    encoder: RecordEncoder,
    dead_letters: Option<DeadLetters>,
    batch_max_bytes: usize,
    queue: mpsc::Sender<Job>,
    task: JoinHandle<()>,
    stats: Arc<SharedStats>,
    progress: Arc<Progress>,
}

impl Output {
    /// Loads the output's mapping and TLS material and starts its sender task (on the current
    /// tokio runtime). Nothing is connected until the first batch.
    pub fn start(
        config: &OutputConfig,
        dead_letters: Option<DeadLetters>,
    ) -> Result<Output, OutputError> {
        let name = config.name.clone();
        if let Destination::File { path } = &config.destination {
            // Opened (and created) once here: a missing folder is refused at start, not
            // retried with a warning a second for ever.
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| OutputError::File {
                    output: name.clone(),
                    message: super::link::path_message(path, &e),
                })?;
        }
        let (encoder, tls) = encoder_and_tls(config)?;
        if let Some(tls) = config.destination.tls()
            && tls.insecure_skip_verify
        {
            tracing::error!(
                output = %name,
                "TLS certificate verification is OFF (insecure_skip_verify = true): \
                 anyone between here and {} can read and forge these alerts",
                config.destination.describe()
            );
        }
        Ok(Output::from_parts(
            name,
            encoder,
            Connector::new(config.destination.clone(), tls),
            config.connection,
            config.batch_max_bytes,
            dead_letters,
        ))
    }

    /// An output from its pieces (tests and benchmarks build their own).
    pub fn from_parts(
        name: String,
        encoder: RecordEncoder,
        connector: Connector,
        settings: ConnectionSettings,
        batch_max_bytes: usize,
        dead_letters: Option<DeadLetters>,
    ) -> Output {
        let (queue, jobs) = mpsc::channel(settings.queue);
        let target = connector.destination().describe();
        let stats = Arc::new(SharedStats::default());
        let progress = Arc::new(Progress::default());
        let task = if let Destination::Relp { window, .. } = connector.destination() {
            let sender = RelpSender {
                name: name.clone(),
                window: *window,
                connector,
                settings,
                stats: stats.clone(),
                progress: progress.clone(),
            };
            tokio::spawn(sender.run(jobs))
        } else {
            let sender = Sender {
                name: name.clone(),
                connector,
                settings,
                stats: stats.clone(),
                progress: progress.clone(),
            };
            tokio::spawn(sender.run(jobs))
        };
        Output {
            name,
            target,
            encoder,
            dead_letters,
            batch_max_bytes,
            queue,
            task,
            stats,
            progress,
        }
    }

    /// A mark after every batch written so far (those whose receipts said delivered among
    /// them), for [`Output::confirmed`].
    pub fn written_mark(&self) -> WrittenMark {
        WrittenMark(self.progress.written())
    }

    /// Whether every batch up to `mark` is confirmed.
    pub fn is_confirmed(&self, mark: WrittenMark) -> bool {
        self.progress.is_confirmed(mark.0)
    }

    /// Resolves once every batch up to `mark` is confirmed: read by the receiver as far as the
    /// output can know (see the module's delivery contract). Checkpoints wait for this.
    pub async fn confirmed(&self, mark: WrittenMark) {
        self.progress.confirmed(mark.0).await
    }

    /// Connections, broken links and deliveries so far.
    pub fn stats(&self) -> OutputStats {
        self.stats.snapshot()
    }

    /// Its `name` in the config.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The address, path or `stdout` it sends to.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// What turns alerts into this output's records (mapping, envelope, framing, size).
    pub fn encoder(&self) -> &RecordEncoder {
        &self.encoder
    }

    /// An empty batch sized for this output.
    pub fn new_batch(&self) -> Batch {
        Batch::with_capacity(self.batch_max_bytes + self.encoder.max_message_bytes())
    }

    /// Whether another record might take `batch` over the output's batch size.
    pub fn batch_is_full(&self, batch: &Batch) -> bool {
        batch.bytes().len() + self.encoder.max_message_bytes() > self.batch_max_bytes
    }

    /// Keeps an alert that could not be encoded for this output in the dead-letter file.
    /// Without a dead-letter file (e.g. `map` to stdout) the caller reports it instead.
    pub fn dead_letter(&self, letter: DeadLetter<'_>) -> std::io::Result<bool> {
        match &self.dead_letters {
            Some(d) => d.append(&letter).map(|()| true),
            None => Ok(false),
        }
    }

    /// Its dead-letter file (`state_dir/dead-letter/<name>.ndjson`), when it has one.
    pub fn dead_letters(&self) -> Option<&DeadLetters> {
        self.dead_letters.as_ref()
    }

    /// Batches queued and not yet taken by the sender.
    pub fn queue_depth(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }

    /// Waits until its queue has room for a batch. A tenant waits here before it fetches a
    /// page, holding none: an output that is down fills its queue, and the tenants routed to
    /// it then stop fetching what they could not send, instead of each holding a page of
    /// encoded records (issue 16).
    pub async fn ready(&self) {
        // The slot is given back at once: this is a look, not a reservation.
        let _ = self.queue.reserve().await;
    }

    /// Queues `batch` (waiting while the queue is full) and returns a receipt for its outcome.
    pub async fn submit(&self, batch: Batch) -> Receipt {
        let (reply, outcome) = oneshot::channel();
        let records = batch.len();
        let state = match self.queue.send(Job { batch, reply }).await {
            Ok(()) => ReceiptState::Pending(outcome),
            Err(mpsc::error::SendError(job)) => ReceiptState::Refused(job.batch),
        };
        Receipt {
            output: self.name.clone(),
            target: self.target.clone(),
            records,
            state,
        }
    }

    /// Sends `batch` and waits until it is delivered (see the module's delivery contract).
    /// The batch comes back, emptied, for reuse.
    pub async fn send(&self, batch: Batch) -> Result<Batch, DeliveryError> {
        self.submit(batch).await.delivered().await
    }

    /// Delivers what is queued, closes the connection (TLS close_notify) and stops the task.
    pub async fn shutdown(self) {
        drop(self.queue);
        if let Err(e) = self.task.await {
            tracing::error!(output = %self.name, "the sender task failed: {e}");
        }
    }
}

/// Where an output's written batches stood at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct WrittenMark(u64);

/// The outcome of a submitted batch, to be awaited.
pub struct Receipt {
    output: String,
    target: String,
    records: usize,
    state: ReceiptState,
}

enum ReceiptState {
    Pending(oneshot::Receiver<Result<Batch, (Batch, String)>>),
    Refused(Batch),
}

impl Receipt {
    /// How many records the batch holds.
    pub fn records(&self) -> usize {
        self.records
    }

    /// Waits until the batch is written (the batch comes back, to be reused) or given up
    /// after `delivery_timeout` (the batch comes back in the error). Written is not yet
    /// confirmed: see [`Output::confirmed`].
    pub async fn delivered(self) -> Result<Batch, DeliveryError> {
        let error = |batch, reason: &str| DeliveryError {
            output: self.output.clone(),
            target: self.target.clone(),
            reason: reason.to_owned(),
            batch,
        };
        match self.state {
            ReceiptState::Refused(batch) => Err(error(
                batch,
                &format!("the output to {} has stopped", self.target),
            )),
            ReceiptState::Pending(rx) => match rx.await {
                Ok(Ok(mut batch)) => {
                    batch.clear();
                    Ok(batch)
                }
                Ok(Err((batch, why))) => Err(error(batch, &why)),
                Err(_) => Err(error(
                    Batch::default(),
                    &format!(
                        "the output to {} stopped before the batch was written",
                        self.target
                    ),
                )),
            },
        }
    }
}

/// The output's mapping file (or the built-in mapping of its format), checked against the
/// output's format.
pub fn load_mapping(config: &OutputConfig) -> Result<Mapping, OutputError> {
    let Some(path) = &config.mapping else {
        return Ok(Mapping::builtin(config.format));
    };
    let mapping = Mapping::load(path).map_err(|source| OutputError::Mapping {
        output: config.name.clone(),
        source,
    })?;
    if mapping.format() != config.format {
        return Err(OutputError::FormatMismatch {
            output: config.name.clone(),
            mapping: path.display().to_string(),
            found: mapping.format(),
            wanted: config.format,
        });
    }
    Ok(mapping)
}

/// What an output is built from besides its connection: its mapping and envelope encoder and
/// its TLS client. Everything `run` refuses in an output short of opening it.
fn encoder_and_tls(
    config: &OutputConfig,
) -> Result<(RecordEncoder, Option<TlsClient>), OutputError> {
    let name = config.name.clone();
    let mapping = load_mapping(config)?;
    let hostname = config.hostname.clone().unwrap_or_else(local_hostname);
    let envelope = Envelope::new(
        config.syslog,
        config.facility,
        &hostname,
        &config.app_name,
        &config.procid,
        &config.msgid,
    )
    .map_err(|source| OutputError::Envelope {
        output: name.clone(),
        source,
    })?
    .with_time_source(config.timestamp);
    let tls = match config.destination.tls() {
        Some(tls) => Some(TlsClient::new(tls).map_err(|source| OutputError::Tls {
            output: name.clone(),
            source,
        })?),
        None => None,
    };
    let encoder = RecordEncoder::new(
        Arc::new(mapping),
        envelope,
        config.framing,
        config.max_message_bytes,
    );
    Ok((encoder, tls))
}

/// Builds all of an output that `run` builds without opening it (mapping, syslog envelope,
/// TLS settings): `check` must refuse what `run` refuses.
pub fn preflight(config: &OutputConfig) -> Result<(), OutputError> {
    encoder_and_tls(config).map(|_| ())
}

/// Opens (and closes) a connection to an output as configured, TLS handshake included: what
/// `siemfwd check` reports. Returns a short description of what worked.
pub async fn probe(config: &OutputConfig) -> Result<String, ProbeError> {
    let tls = match config.destination.tls() {
        Some(tls) => Some(TlsClient::new(tls)?),
        None => None,
    };
    let connector = Connector::new(config.destination.clone(), tls);
    let link = connector.connect(config.connection.connect_timeout).await?;
    if let Destination::Relp { tls, .. } = &config.destination {
        // A RELP session opened and closed: the receiver's offers say it speaks RELP.
        let target = config.destination.describe();
        let stream = link
            .into_stream()
            .ok_or_else(|| ConnectError(format!("{target}: not a stream")))?;
        let session = tokio::time::timeout(
            config.connection.connect_timeout,
            crate::transport::relp::session::Session::open(stream),
        )
        .await
        .map_err(|_| ConnectError(format!("{target} did not answer RELP's open: is this a RELP port (a syslog port reads the open as a message and waits)?")))?
        .map_err(|e| ConnectError(format!("{target}: {e}")))?;
        let software = session
            .offers
            .offer("relp_software")
            .unwrap_or("software not said")
            .to_owned();
        let version = session
            .offers
            .offer("relp_version")
            .unwrap_or("?")
            .to_owned();
        session.close().await;
        return Ok(format!(
            "RELP session with {target}{} opened and closed: relp_version={version}, relp_software={software}",
            match tls {
                Some(t) if t.insecure_skip_verify =>
                    " (TLS, its certificate NOT verified: insecure_skip_verify = true)",
                Some(_) => " (TLS verified)",
                None => "",
            }
        ));
    }
    let _ = link.close().await;
    Ok(match &config.destination {
        Destination::Tls { tls, .. } if tls.insecure_skip_verify => format!(
            "TLS handshake with {} done, its certificate NOT verified (insecure_skip_verify = true): anyone in between can read and forge these alerts",
            config.destination.describe()
        ),
        Destination::Tls { .. } => format!(
            "TLS handshake with {} verified",
            config.destination.describe()
        ),
        Destination::File { .. } => format!("{} is writable", config.destination.describe()),
        Destination::Stdout => "stdout".into(),
        _ => format!("connected to {}", config.destination.describe()),
    })
}
