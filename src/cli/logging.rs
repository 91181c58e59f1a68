//! Log lines on stderr: text or JSON (`--log-format`, the config's `log_format`), filtered by
//! `SIEMFWD_LOG` (or `RUST_LOG` when it is unset) in the usual syntax: `info`,
//! `info,siemfwd::transport=debug`. A level that is not one is an error, not silently ignored.

use std::io::{self, IsTerminal};
use std::path::Path;

use siemfwd::config::LogFormat;
use tracing_subscriber::EnvFilter;

use super::progress::LogWriter;

const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// The filter of `SIEMFWD_LOG`, else `RUST_LOG`, else `info`; `Err` says what is wrong with
/// the variable.
pub fn filter(siemfwd_log: Option<&str>, rust_log: Option<&str>) -> Result<EnvFilter, String> {
    let (var, spec) = match (siemfwd_log, rust_log) {
        (Some(s), _) => ("SIEMFWD_LOG", s),
        (None, Some(r)) => ("RUST_LOG", r),
        (None, None) => return Ok(EnvFilter::new("info")),
    };
    for directive in spec.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        // A bare word is a level here: `verbose` or `warning` must not pass as a target name
        // (which would log everything of a target that does not exist, i.e. nothing).
        let level = directive.rsplit_once('=').map_or(directive, |(_, l)| l);
        if !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
            return Err(format!(
                "{var}={spec}: \"{level}\" is not a level (one of {}; e.g. info,siemfwd::transport=debug)",
                LEVELS.join(", ")
            ));
        }
    }
    EnvFilter::try_new(spec).map_err(|e| format!("{var}={spec}: {e}"))
}

/// The `log_format` of the config file a command was given, if it says one (errors in the
/// file are reported when the command loads it).
pub fn config_format(config: Option<&Path>) -> Option<LogFormat> {
    let text = std::fs::read_to_string(config?).ok()?;
    let table: toml::Table = toml::from_str(&text).ok()?;
    table.get("log_format")?.as_str()?.parse().ok()
}

/// Starts logging to stderr in `format`, filtered by the environment.
pub fn init(format: LogFormat) -> Result<(), String> {
    let filter = filter(
        std::env::var("SIEMFWD_LOG").ok().as_deref(),
        std::env::var("RUST_LOG").ok().as_deref(),
    )?;
    let builder = tracing_subscriber::fmt()
        .with_writer(LogWriter)
        .with_env_filter(filter)
        .with_target(false);
    match format {
        LogFormat::Text => builder.with_ansi(io::stderr().is_terminal()).init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init(),
    }
    Ok(())
}
