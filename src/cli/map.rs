//! `siemfwd map`: alerts in, one record per line out.

use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Write};
use std::path::Path;

use anyhow::{Context, bail};

use super::MapArgs;
use siemfwd::alert::Timestamp;
use siemfwd::input::{self, Item, ReadError};
use siemfwd::mapping::{EncodeStats, Format, Mapping, TenantIdentity};
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
    /// Records shortened to fit --max-message-bytes.
    pub shortened: u64,
}

/// Runs `map`, writing records to `out` and reports to `err`. Returns an error only for what
/// stops the whole run (bad options, unreadable mapping); a broken output pipe ends it quietly.
pub fn run_map(
    args: &MapArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<MapOutcome> {
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
    let tenant = TenantIdentity {
        name: &args.tenant_name,
        id: &args.tenant_id,
    };
    let mut job = Job {
        mapping: &mapping,
        envelope: &envelope,
        tenant,
        max: args.max_message_bytes,
        now: now(),
        out,
        err,
        line: Vec::with_capacity(16 * 1024),
        outcome: MapOutcome::default(),
    };
    let stdin_only = args.files.is_empty();
    let files: Vec<&Path> = if stdin_only {
        vec![Path::new("-")]
    } else {
        args.files.iter().map(|p| p.as_path()).collect()
    };
    for path in files {
        let result = if path == Path::new("-") {
            let stdin = io::stdin();
            if stdin.is_terminal() {
                let _ = writeln!(
                    job.err,
                    "siemfwd: reading alerts from standard input (end with Ctrl-D)"
                );
            }
            job.read("<stdin>", stdin.lock())
        } else {
            match File::open(path) {
                Ok(f) => job.read(
                    &path.display().to_string(),
                    BufReader::with_capacity(256 * 1024, f),
                ),
                Err(e) => {
                    let _ = writeln!(job.err, "siemfwd: cannot read {}: {e}", path.display());
                    job.outcome.unreadable += 1;
                    continue;
                }
            }
        };
        match result {
            Ok(()) => {}
            Err(Stop::BrokenPipe) => return Ok(job.outcome),
            Err(Stop::Output(e)) => return Err(e).context("cannot write the output"),
            Err(Stop::Input(name, e)) => {
                let _ = writeln!(job.err, "siemfwd: cannot read {name}: {e}");
                job.outcome.unreadable += 1;
            }
        }
    }
    match job.out.flush() {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(job.outcome),
        r => r.context("cannot write the output")?,
    }
    if job.outcome.shortened > 0 {
        let _ = writeln!(
            job.err,
            "siemfwd: {} records were shortened to fit --max-message-bytes {}",
            job.outcome.shortened,
            args.max_message_bytes.unwrap_or(0)
        );
    }
    Ok(job.outcome)
}

fn now() -> Timestamp {
    let now = chrono::Utc::now();
    Timestamp::from_unix_nanos(now.timestamp_nanos_opt().unwrap_or(0), 6)
}

enum Stop {
    BrokenPipe,
    Output(io::Error),
    Input(String, io::Error),
}

struct Job<'a> {
    mapping: &'a Mapping,
    envelope: &'a Envelope,
    tenant: TenantIdentity<'a>,
    max: Option<usize>,
    now: Timestamp,
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
    line: Vec<u8>,
    outcome: MapOutcome,
}

impl Job<'_> {
    fn read(&mut self, name: &str, reader: impl BufRead) -> Result<(), Stop> {
        let r = input::read_alerts(reader, |item| self.item(name, item));
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
                self.outcome.rejected += 1;
                let _ = writeln!(self.err, "siemfwd: {name}: {m}");
                return Ok(());
            }
        };
        self.line.clear();
        self.envelope
            .write_header(&alert.alert, self.now, &mut self.line);
        let budget = self.max.map(|m| m.saturating_sub(self.line.len() + 1));
        match self
            .mapping
            .encode(&alert, self.tenant, budget, &mut self.line)
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
        self.line.push(b'\n');
        match self.out.write_all(&self.line) {
            Ok(()) => {
                self.outcome.written += 1;
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(Stop::BrokenPipe),
            Err(e) => Err(Stop::Output(e)),
        }
    }
}
