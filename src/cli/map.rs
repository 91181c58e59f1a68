//! `siemfwd map`: alerts in, one record per line out.

use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Write};
use std::path::Path;

use anyhow::{Context, bail};

use super::MapArgs;
use super::deliver::Delivery;
use siemfwd::alert::Timestamp;
use siemfwd::config::{Config, UnreadableSecret};
use siemfwd::mapping::{EncodeStats, Format, Mapping, TenantIdentity};
use siemfwd::reader::{self, Item, ReadError};
use siemfwd::transport::Envelope;
use siemfwd::transport::envelope::local_hostname;

/// How a `map` run went, for the exit status.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MapOutcome {
    pub written: u64,
    /// Alerts that were malformed or could not be encoded.
    pub rejected: u64,
    /// Input files that could not be read.
    pub unreadable: u64,
    /// Records shortened to fit --max-message-bytes (or the output's max_message_bytes).
    pub shortened: u64,
    /// With --output: records the output could not deliver.
    pub undelivered: u64,
}

/// Runs `map`, writing records to `out` and reports to `err`. Returns an error only for what
/// stops the whole run (bad options, unreadable mapping); a broken output pipe ends it quietly.
pub fn run_map(
    args: &MapArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<MapOutcome> {
    let tenant = TenantIdentity {
        name: &args.tenant_name,
        id: &args.tenant_id,
    };
    if let (Some(config), Some(name)) = (&args.config, &args.output) {
        // Tenants are not used: their secrets need not be readable here.
        let config = Config::load_with(config, UnreadableSecret::SetsTenantApart)?;
        let delivery = Delivery::start(&config, name)?;
        let mut job = Job {
            tenant,
            now: Timestamp::now(),
            err,
            sink: Sink::Output(Box::new(delivery)),
            outcome: MapOutcome::default(),
        };
        job.read_inputs(&args.files)?;
        let Sink::Output(delivery) = job.sink else {
            unreachable!("built as an output sink")
        };
        let counts = delivery.finish(job.err);
        job.outcome.written = counts.delivered;
        job.outcome.undelivered = counts.undelivered;
        job.outcome.shortened += counts.shortened;
        job.outcome.rejected += counts.dead_lettered;
        if counts.shortened > 0 {
            let _ = writeln!(
                job.err,
                "siemfwd: {} shortened to fit the output's max_message_bytes",
                shortened(counts.shortened)
            );
        }
        return Ok(job.outcome);
    }
    let mapping = match &args.mapping {
        Some(path) => Mapping::load(path)?,
        None => Mapping::builtin(args.format.unwrap_or(Format::Cef)),
    };
    if let Some(f) = args.format
        && f != mapping.format()
    {
        bail!(
            "--format {f} does not match the mapping {}, which is for {}",
            mapping.source(),
            mapping.format()
        );
    }
    let hostname = args.hostname.clone().unwrap_or_else(local_hostname);
    let envelope = Envelope::new(args.syslog, args.facility, &hostname, "siemfwd", "-", "-")
        .context("invalid syslog envelope")?;
    let mut job = Job {
        tenant,
        now: Timestamp::now(),
        err,
        sink: Sink::Lines(Lines {
            mapping: &mapping,
            envelope: &envelope,
            max: args.max_message_bytes,
            out,
            line: Vec::with_capacity(16 * 1024),
        }),
        outcome: MapOutcome::default(),
    };
    if !job.read_inputs(&args.files)? {
        return Ok(job.outcome);
    }
    let Sink::Lines(lines) = &mut job.sink else {
        unreachable!("built as a line sink")
    };
    match lines.out.flush() {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(job.outcome),
        r => r.context("cannot write the output")?,
    }
    if job.outcome.shortened > 0 {
        let _ = writeln!(
            job.err,
            "siemfwd: {} shortened to fit --max-message-bytes {}",
            shortened(job.outcome.shortened),
            args.max_message_bytes.unwrap_or(0)
        );
    }
    Ok(job.outcome)
}

impl Job<'_> {
    /// Reads every input (stdin when there is none). Returns false when the output went away
    /// (a broken pipe), which ends the run quietly.
    fn read_inputs(&mut self, files: &[std::path::PathBuf]) -> anyhow::Result<bool> {
        let stdin_only = files.is_empty();
        let files: Vec<&Path> = if stdin_only {
            vec![Path::new("-")]
        } else {
            files.iter().map(|p| p.as_path()).collect()
        };
        for path in files {
            let result = if path == Path::new("-") {
                let stdin = io::stdin();
                if stdin.is_terminal() {
                    let _ = writeln!(
                        self.err,
                        "siemfwd: reading alerts from standard input (end with Ctrl-D)"
                    );
                }
                self.read("<stdin>", stdin.lock())
            } else {
                match File::open(path) {
                    Ok(f) => self.read(
                        &path.display().to_string(),
                        BufReader::with_capacity(256 * 1024, f),
                    ),
                    Err(e) => {
                        let _ = writeln!(self.err, "siemfwd: cannot read {}: {e}", path.display());
                        self.outcome.unreadable += 1;
                        continue;
                    }
                }
            };
            match result {
                Ok(()) => {}
                Err(Stop::BrokenPipe) => return Ok(false),
                Err(Stop::Output(e)) => return Err(e).context("cannot write the output"),
                Err(Stop::Fatal(e)) => return Err(e),
                Err(Stop::Input(name, e)) => {
                    let _ = writeln!(self.err, "siemfwd: cannot read {name}: {e}");
                    self.outcome.unreadable += 1;
                }
            }
        }
        Ok(true)
    }
}

enum Stop {
    BrokenPipe,
    Output(io::Error),
    Input(String, io::Error),
    /// Something that must end the run, e.g. a dead-letter file that cannot be written.
    Fatal(anyhow::Error),
}

struct Job<'a> {
    tenant: TenantIdentity<'a>,
    now: Timestamp,
    err: &'a mut dyn Write,
    sink: Sink<'a>,
    outcome: MapOutcome,
}

/// Where the records go.
enum Sink<'a> {
    /// One line each on `out`.
    Lines(Lines<'a>),
    /// Through a configured output.
    Output(Box<Delivery>),
}

struct Lines<'a> {
    mapping: &'a Mapping,
    envelope: &'a Envelope,
    max: Option<usize>,
    out: &'a mut dyn Write,
    line: Vec<u8>,
}

impl Job<'_> {
    fn read(&mut self, name: &str, reader: impl BufRead) -> Result<(), Stop> {
        let r = reader::read_alerts(reader, |item| self.item(name, item));
        match r {
            Ok(()) => Ok(()),
            Err(ReadError::Stopped(stop)) => Err(stop),
            Err(ReadError::Io(e)) => Err(Stop::Input(name.to_owned(), e)),
        }
    }

    fn item(&mut self, name: &str, item: Item<'_>) -> Result<(), Stop> {
        let alert = match item {
            Item::Alert(a) => a,
            Item::Malformed(m) => {
                if let Sink::Output(delivery) = &mut self.sink {
                    // Counted with the output's dead letters when the run ends.
                    return delivery
                        .dead_letter_malformed(&m, self.tenant, name, self.err)
                        .map_err(Stop::Fatal);
                }
                self.outcome.rejected += 1;
                let _ = writeln!(self.err, "siemfwd: {name}: {m}");
                return Ok(());
            }
        };
        let lines = match &mut self.sink {
            Sink::Output(delivery) => {
                let where_ = format!("{name}: {}", alert.position);
                return delivery
                    .push(&alert, self.tenant, self.now, &where_, self.err)
                    .map_err(Stop::Fatal);
            }
            Sink::Lines(lines) => lines,
        };
        lines.line.clear();
        lines
            .envelope
            .write_header(&alert.alert, self.now, &mut lines.line);
        let budget = lines.max.map(|m| m.saturating_sub(lines.line.len() + 1));
        match lines
            .mapping
            .encode(&alert, self.tenant, budget, &mut lines.line)
        {
            Ok(EncodeStats {
                budget_truncations, ..
            }) => {
                if budget_truncations > 0 {
                    self.outcome.shortened += 1;
                }
            }
            Err(e) => {
                self.outcome.rejected += 1;
                let _ = writeln!(self.err, "siemfwd: {name}: {}: {e}", alert.position);
                return Ok(());
            }
        }
        lines.line.push(b'\n');
        match lines.out.write_all(&lines.line) {
            Ok(()) => {
                self.outcome.written += 1;
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(Stop::BrokenPipe),
            Err(e) => Err(Stop::Output(e)),
        }
    }
}

/// `1 record was`, `3 records were`.
fn shortened(n: impl Into<u64>) -> String {
    let n = n.into();
    let verb = if n == 1 { "was" } else { "were" };
    format!("{} {verb}", siemfwd::words::counted(n, "record"))
}
