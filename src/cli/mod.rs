//! The command line: `siemfwd <command>`.

pub mod auth;
mod check;
mod deliver;
mod demo;
pub mod forward;
pub mod logging;
mod map;
pub mod progress;
mod simulate;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use siemfwd::mapping::Format;
use siemfwd::transport::{Facility, SyslogFormat};

pub use check::check;
pub use demo::demo;
pub use map::run_map;
pub use simulate::{SimulateArgs, run_simulate};

/// The version, with the commit it was built from when the build could tell (`build.rs`).
pub const VERSION: &str = match option_env!("SIEMFWD_VERSION") {
    Some(v) => v,
    None => env!("CARGO_PKG_VERSION"),
};

/// Forwards Microsoft Defender for Endpoint alerts from many tenants to SIEMs (CEF, LEEF, JSON
/// over syslog).
#[derive(Debug, Parser)]
#[command(name = "siemfwd", version = VERSION, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// How log lines are written to stderr: text, or json (one object per line, with `tenant`
    /// and `output` fields). Unless given, the config's `log_format`, else text.
    #[arg(long, global = true, value_name = "FORMAT", value_parser = ["text", "json"])]
    pub log_format: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the whole pipeline with nothing to set up: a simulated Entra ID and alerts API
    /// with a few tenants, fetched over HTTP, mapped and printed (or sent with --to).
    Demo(DemoArgs),
    /// Forward every tenant's alerts to the outputs, continuously (the daemon).
    ///
    /// Polls each tenant every poll_interval, sends every new alert version to its outputs and
    /// moves the tenant's checkpoint only when every output took everything. SIGTERM/SIGINT
    /// finishes the window in progress (up to 10 s), saves checkpoints and exits 0; a second
    /// signal exits at once. Exit 1 when a tenant had to stop (re-consent needed).
    Run(RunArgs),
    /// Forward the alerts of a time range once, without touching checkpoints.
    ///
    /// Exit status: 0 every tenant's range was delivered, 1 some tenant or output failed, 2
    /// bad options or config.
    Replay(ReplayArgs),
    /// Check a config: tenants (a token and one API call each) and outputs (a connection, the
    /// TLS handshake included). Prints what works and what to fix; exit 1 if anything fails.
    Check(CheckArgs),
    /// Convert alerts (API pages, JSON arrays, objects or NDJSON) to CEF, LEEF or JSON lines.
    ///
    /// Reads the files given, or standard input, and prints one record per line, or sends them
    /// through a configured output (--config FILE --output NAME). A malformed alert is reported
    /// on standard error with its position and the others are still converted. Exit status: 0
    /// all converted (and delivered), 1 some alert could not be converted, 2 an error stopped
    /// the run (bad option, config, mapping or unreadable input), 3 some records could not be
    /// delivered to the output.
    Map(MapArgs),
    /// Run a fake of Entra ID and the MDE alerts API for testing clients and SIEM parsing.
    ///
    /// Serves the token endpoints and GET /api/alerts over HTTP with generated tenants and
    /// alerts (deterministic from --seed), optional live changes and faults, and prints the
    /// URL, client id, secret and a config that runs as it is. Sign-ins and device codes are
    /// approved at once. Runs until Ctrl-C.
    Simulate(SimulateArgs),
    /// Onboard a customer tenant: the admin-consent link (consent-url), a refresh token from
    /// one sign-in on any OS (login), and each tenant's token health (status).
    Auth(auth::AuthArgs),
    /// Print a shell completion script: `siemfwd completions bash > /etc/bash_completion.d/siemfwd`
    /// (zsh: into a directory of $fpath as `_siemfwd`; fish: ~/.config/fish/completions/).
    Completions(CompletionsArgs),
    /// Print the manual page (roff): `siemfwd man | man -l -`, or install it as
    /// /usr/local/share/man/man1/siemfwd.1.
    Man,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Record format.
    #[arg(long, value_parser = parse_format)]
    pub format: Option<Format>,
    /// Alerts per simulated tenant.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub alerts: usize,
    /// Simulated tenants.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub tenants: usize,
    /// Seed of the simulated alerts.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Send RFC 5424 syslog over TCP (octet counting) to this host:port instead of printing.
    #[arg(long, value_name = "ADDRESS")]
    pub to: Option<String>,
    /// The API the simulated tenants are read through: mde (/api/alerts) or graph (Microsoft
    /// Graph alerts_v2, which adds other Defender products' alerts).
    #[arg(long, value_name = "API", default_value = "mde", value_parser = ["mde", "graph"])]
    pub api: String,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The configuration file (see README: tenants, outputs).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Serve /metrics, /healthz, /readyz and /status on this address (e.g. 127.0.0.1:9400);
    /// overrides `[admin] listen`.
    #[arg(long, value_name = "ADDR")]
    pub admin_listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The configuration file to check.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The configuration file.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Start (inclusive) of the lastUpdateTime range: RFC 3339, a date (UTC midnight), Unix
    /// seconds, `now`, `today`, `yesterday`, or back from now like -24h or "-2 hours".
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub from: String,
    /// End (exclusive) of the range.
    #[arg(
        long,
        value_name = "TIME",
        allow_hyphen_values = true,
        default_value = "now"
    )]
    pub to: String,
    /// Only this tenant (repeatable) [default: all].
    #[arg(long, value_name = "NAME")]
    pub tenant: Vec<String>,
    /// Only this output (repeatable); every tenant's alerts go to it [default: each tenant's
    /// outputs].
    #[arg(long, value_name = "NAME", conflicts_with = "stdout")]
    pub output: Vec<String>,
    /// Print the records on standard output instead.
    #[arg(long)]
    pub stdout: bool,
    /// With --stdout: the record format [default: cef].
    #[arg(long, value_parser = parse_format, requires = "stdout")]
    pub format: Option<Format>,
}

#[derive(Debug, Args)]
pub struct MapArgs {
    /// Configuration file whose [[output]] --output names.
    #[arg(long, value_name = "FILE", requires = "output")]
    pub config: Option<PathBuf>,
    /// Send the records through this output of --config instead of printing them; its format,
    /// mapping, envelope and size limit apply.
    #[arg(
        long,
        value_name = "NAME",
        requires = "config",
        conflicts_with_all = ["format", "mapping", "syslog", "hostname", "facility", "max_message_bytes"]
    )]
    pub output: Option<String>,
    /// Output format [default: cef, or the format of --mapping].
    #[arg(long, value_parser = parse_format)]
    pub format: Option<Format>,
    /// Mapping file to use instead of the built-in one (start from a copy of mappings/*.toml).
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// Tenant name written into each record (CEF `Tenant`, LEEF `tenantName`).
    #[arg(long, value_name = "NAME", default_value = "")]
    pub tenant_name: String,
    /// Tenant id used when an alert has no aadTenantId.
    #[arg(long, value_name = "ID", default_value = "")]
    pub tenant_id: String,
    /// Put each record in a syslog envelope.
    #[arg(long, value_parser = parse_syslog, default_value = "none")]
    pub syslog: SyslogFormat,
    /// HOSTNAME of the syslog envelope [default: this machine's name].
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Facility of the syslog envelope.
    #[arg(long, value_parser = parse_facility, default_value = "local0")]
    pub facility: Facility,
    /// Fit every line (envelope included) into this many bytes by shortening the longest
    /// values; a record that cannot fit is reported and skipped.
    #[arg(long, value_name = "BYTES")]
    pub max_message_bytes: Option<usize>,
    /// Input files; standard input when none is given ("-" also means standard input).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

fn parse_format(s: &str) -> Result<Format, siemfwd::mapping::SettingError> {
    s.parse()
}
fn parse_syslog(
    s: &str,
) -> Result<SyslogFormat, siemfwd::transport::envelope::EnvelopeSettingError> {
    s.parse()
}
fn parse_facility(s: &str) -> Result<Facility, siemfwd::transport::envelope::EnvelopeSettingError> {
    s.parse()
}

/// "FILE has no [[tenant]] named "x" (there are: a, b)": what a name that is not in the config
/// gets, with the names that are.
pub(crate) fn not_in_config<'a>(
    source: &str,
    what: &str,
    name: &str,
    names: impl Iterator<Item = &'a str>,
) -> String {
    let names: Vec<&str> = names.collect();
    let there = if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    };
    format!("{source} has no {what} named \"{name}\" (there are: {there})")
}
