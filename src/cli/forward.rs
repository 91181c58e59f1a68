//! `siemfwd run` (the daemon) and `siemfwd replay` (a range, once).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::sync::{mpsc, watch};

use super::progress::ProgressLine;
use super::{ReplayArgs, RunArgs};
use siemfwd::alert::Timestamp;
use siemfwd::config::{Config, UnreadableSecret};
use siemfwd::duration::parse_when;
use siemfwd::mapping::{Format, Mapping};
use siemfwd::pipeline::replay::{self, ReplayProgress, per_second};
use siemfwd::pipeline::wiring::{self, NamedOutputs, Routing};
use siemfwd::pipeline::{Forwarder, PollReport};
use siemfwd::source::TenantConfig;
use siemfwd::telemetry::Telemetry;
use siemfwd::transport::{
    ConnectionSettings, Destination, Envelope, Framing, Output, RecordEncoder, SyslogFormat,
};

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Resolves on SIGTERM or SIGINT.
async fn signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        },
        Err(e) => {
            tracing::error!("cannot watch for SIGTERM ({e}); only SIGINT stops siemfwd cleanly");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// On each SIGHUP, the config file read again: a valid one is sent to the forwarder to apply,
/// an invalid one is reported (file:line) and counted, and the running config goes on.
fn watch_reloads(path: PathBuf, telemetry: Arc<Telemetry>) -> mpsc::Receiver<Config> {
    let (send, receive) = mpsc::channel(1);
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hup = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("cannot watch for SIGHUP ({e}): the config is read only at start");
                return;
            }
        };
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP: reading {} again", path.display());
            match Config::load(&path) {
                Ok(config) => {
                    if send.send(config).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::error!("{e}; not reloaded: the running config goes on");
                    telemetry.reloaded(false);
                }
            }
        }
    });
    receive
}

/// `siemfwd run`: exit 0 after a shutdown by signal, 1 when some tenant had to stop for good
/// (also when every tenant did, which ends the process) or a tenant task panicked.
pub fn run(args: &RunArgs) -> anyhow::Result<u8> {
    let config = Config::load(&args.config)?;
    let rt = runtime()?;
    rt.block_on(async {
        let telemetry = Telemetry::new(config.admin.failing_grace);
        let telemetry_for_reload = telemetry.clone();
        let forwarder = Forwarder::start(&config, telemetry.clone())?;
        let (stop, stopping) = watch::channel(false);
        if let Some(addr) = args.admin_listen.or(config.admin.listen) {
            let (bound, _) = siemfwd::telemetry::serve(addr, telemetry, stopping.clone()).await?;
            tracing::info!("admin endpoints on http://{bound}: /metrics /healthz /readyz /status");
        }
        tracing::info!(
            tenants = config.tenants.len(),
            outputs = config.outputs.len(),
            state_dir = %config.state_dir.display(),
            "siemfwd {} forwarding",
            env!("CARGO_PKG_VERSION")
        );
        let grace = config.shutdown_grace;
        tokio::spawn(async move {
            signal().await;
            tracing::info!("stopping within {}s: delivering what is in flight and saving checkpoints (signal again to exit at once)", grace.as_secs());
            let _ = stop.send(true);
            tokio::select! {
                _ = signal() => {
                    tracing::warn!("second signal: exiting at once; undelivered windows are fetched again at the next start");
                    std::process::exit(130);
                }
                // The grace is a promise whatever an output or the API is doing: checkpoints
                // move only after delivery, so exiting here loses nothing.
                _ = tokio::time::sleep(grace) => {
                    tracing::warn!("not stopped within shutdown_grace ({}s): exiting now; undelivered windows are fetched again at the next start", grace.as_secs());
                    std::process::exit(0);
                }
            }
        });
        let reloads = watch_reloads(args.config.clone(), telemetry_for_reload);
        let outcome = forwarder.run(stopping, reloads).await;
        // Never 0 after a panic or with a tenant stopped for good: `Restart=on-failure`
        // must see that something is wrong.
        if !outcome.stopped.is_empty() {
            let names: Vec<&str> = outcome.stopped.iter().map(|(n, _)| n.as_str()).collect();
            tracing::error!("stopped; tenants that need attention: {}", names.join(", "));
            Ok(1)
        } else if outcome.panics > 0 {
            tracing::error!("stopped after {} failed tenant tasks (restarted; see the ERROR lines above)", outcome.panics);
            Ok(1)
        } else {
            tracing::info!("stopped");
            Ok(0)
        }
    })
}

/// `siemfwd replay`: 0 when every tenant's range was delivered, 1 otherwise.
pub fn replay(args: &ReplayArgs, err: &mut dyn Write) -> anyhow::Result<u8> {
    // Only the replayed tenants' secrets are needed: `--tenant` lets an operator replay one
    // customer from a shell that has only that customer's secret.
    let config = Config::load_with(&args.config, UnreadableSecret::SetsTenantApart)?;
    let now = Timestamp::now();
    let mut when = |flag: &str, text: &str| -> anyhow::Result<Timestamp> {
        let when = parse_when(text, now)
            .map_err(anyhow::Error::msg)
            .with_context(|| flag.to_owned())?;
        if let Some(note) = when.note {
            let _ = writeln!(err, "note: {flag}: {note}");
        }
        Ok(when.at)
    };
    let from = when("--from", &args.from)?;
    let to = when("--to", &args.to)?;
    if from >= to {
        bail!("--from {from} is not before --to {to}");
    }
    let tenants = replay_tenants(&config, args)?;
    let rt = runtime()?;
    rt.block_on(async {
        let outputs = replay_outputs(&config, args)?;
        // `--output NAME` and `--stdout` take every tenant's alerts, whatever it names.
        let routing = if !args.output.is_empty() || args.stdout {
            Routing::All
        } else {
            Routing::AsConfigured
        };
        let started = Instant::now();
        let replay::Replay {
            mut tasks,
            progress,
        } = replay::start(
            &config.state_dir,
            &tenants,
            &outputs,
            routing,
            from,
            to,
            config.max_calls_in_flight,
        )?;
        let to_stdout = outputs.iter().any(|(_, o)| o.target() == "stdout");
        let show = std::io::stderr().is_terminal() && !to_stdout;
        let names: Vec<&str> = tenants.iter().map(|t| t.name.as_str()).collect();
        let mut results: Vec<(String, Result<PollReport, String>)> = Vec::new();
        let line = show.then(|| {
            ProgressLine::show(progress_line(&names, &progress, Duration::ZERO, from, to))
        });
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                done = tasks.join_next() => match done {
                    None => break,
                    Some(Ok((name, r))) => results.push((name, r.map_err(|e| e.to_string()))),
                    Some(Err(e)) => results.push(("?".into(), Err(format!("task failed: {e}")))),
                },
                _ = tick.tick(), if line.is_some() => {
                    if let Some(line) = &line {
                        line.set(progress_line(&names, &progress, started.elapsed(), from, to));
                    }
                }
            }
        }
        if let Some(line) = line {
            line.finish(progress_line(
                &names,
                &progress,
                started.elapsed(),
                from,
                to,
            ));
        }
        for (_, o) in outputs {
            if let Ok(o) = Arc::try_unwrap(o) {
                o.shutdown().await;
            }
        }
        let failed = replay_summary(err, &mut results, started.elapsed(), from, to);
        Ok(if failed > 0 { 1 } else { 0 })
    })
}

/// The tenants a replay fetches: `--tenant NAME`s, or every tenant; each must be usable.
fn replay_tenants<'c>(
    config: &'c Config,
    args: &ReplayArgs,
) -> anyhow::Result<Vec<&'c TenantConfig>> {
    let tenants: Vec<&TenantConfig> = if args.tenant.is_empty() {
        if let Some(u) = config.unusable.first() {
            return Err(anyhow::anyhow!("{}", u.error))
                .context("every tenant is replayed (no --tenant), and this one cannot be");
        }
        config.tenants.iter().collect()
    } else {
        args.tenant
            .iter()
            .map(|n| {
                if let Some(u) = config.unusable_tenant(n) {
                    bail!("{}", u.error);
                }
                config.tenant(n).with_context(|| {
                    let names: Vec<&str> = config.all_tenants().map(|t| t.name.as_str()).collect();
                    format!(
                        "{} has no [[tenant]] named \"{n}\"; its tenants: {}",
                        config.source,
                        names_or_none(&names)
                    )
                })
            })
            .collect::<anyhow::Result<_>>()?
    };
    if tenants.is_empty() {
        bail!("{} has no [[tenant]] to replay", config.source);
    }
    Ok(tenants)
}

/// Prints each tenant's result and the total; returns how many tenants failed.
fn replay_summary(
    err: &mut dyn Write,
    results: &mut [(String, Result<PollReport, String>)],
    elapsed: Duration,
    from: Timestamp,
    to: Timestamp,
) -> usize {
    let secs = elapsed.as_secs_f64();
    let mut failed = 0;
    let mut total = 0u64;
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let _ = writeln!(err, "siemfwd replay {from} .. {to}:");
    for (name, r) in results.iter() {
        match r {
            Ok(rep) => {
                total += rep.sent;
                let _ = writeln!(
                    err,
                    "  {name}: {} alerts fetched, {} sent, {} dead-lettered, {} pages",
                    rep.fetched, rep.sent, rep.dead_lettered, rep.pages
                );
            }
            Err(e) => {
                failed += 1;
                let _ = writeln!(err, "  {name}: FAILED: {e}");
            }
        }
    }
    let _ = writeln!(
        err,
        "  {total} alerts sent in {secs:.1}s ({} alerts/s){}",
        per_second(total, secs),
        if failed > 0 {
            format!(
                "; {} failed",
                siemfwd::words::counted(failed as u64, "tenant")
            )
        } else {
            String::new()
        }
    );
    failed
}

fn progress_line(
    names: &[&str],
    progress: &[Arc<ReplayProgress>],
    elapsed: Duration,
    from: Timestamp,
    to: Timestamp,
) -> String {
    let span = (to.unix_nanos() - from.unix_nanos()).max(1) as u64;
    let sent: u64 = progress
        .iter()
        .map(|p| p.sent.load(Ordering::Relaxed))
        .sum();
    let parts: Vec<String> = names
        .iter()
        .zip(progress)
        .map(|(name, p)| p.describe(name, span))
        .collect();
    let rate = per_second(sent, elapsed.as_secs_f64());
    // Cut to the terminal's width by the progress line.
    format!("{sent} alerts, {rate}/s | {}", parts.join(" | "))
}

/// The outputs a replay sends to: `--output NAME`, `--stdout` (with `--format`), or all.
fn replay_outputs(config: &Config, args: &ReplayArgs) -> anyhow::Result<NamedOutputs> {
    if args.stdout {
        let format = args.format.unwrap_or(Format::Cef);
        let encoder = RecordEncoder::new(
            Arc::new(Mapping::builtin(format)),
            Envelope::default_for(SyslogFormat::None),
            Framing::Lf,
            // A line per record, as `map` prints them: no syslog limit to respect.
            1024 * 1024,
        );
        let output = Output::from_parts(
            "stdout".into(),
            encoder,
            siemfwd::transport::link::Connector::new(Destination::Stdout, None),
            ConnectionSettings::default(),
            4 * 1024 * 1024,
            None,
        );
        return Ok(vec![("stdout".into(), Arc::new(output))]);
    }
    if args.format.is_some() {
        bail!("--format goes with --stdout; a configured output has its own format");
    }
    let selected: Vec<_> = if args.output.is_empty() {
        config.outputs.iter().collect()
    } else {
        args.output
            .iter()
            .map(|name| {
                config.output(name).with_context(|| {
                    let names: Vec<&str> = config.outputs.iter().map(|o| o.name.as_str()).collect();
                    format!(
                        "{} has no [[output]] named \"{name}\"; its outputs: {}",
                        config.source,
                        names_or_none(&names)
                    )
                })
            })
            .collect::<anyhow::Result<_>>()?
    };
    if selected.is_empty() {
        bail!(
            "{} has no [[output]]: use --stdout, or add one",
            config.source
        );
    }
    Ok(wiring::start_outputs(config, selected)?)
}

/// `a, b, c`, or `none`.
fn names_or_none(names: &[&str]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}
