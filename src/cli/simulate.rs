//! `siemfwd simulate`: runs the Entra ID + MDE alerts API simulator until Ctrl-C, and prints
//! what a user needs to point siemfwd (or any client) at it.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use siemfwd::duration::parse_duration;
use siemfwd_simulator::{Faults, LiveConfig, Simulator, SimulatorConfig};

/// The environment variable the printed config snippet reads the secret from.
const SECRET_ENV: &str = "SIEMFWD_SIM_SECRET";

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Address to listen on: an IP or a host name with a port, e.g. localhost:8400 (port 0
    /// picks a free one).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8400", value_parser = listen_address)]
    pub listen: SocketAddr,
    /// Number of customer tenants.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub tenants: usize,
    /// Alerts generated per tenant at start, spread over the last 24 hours.
    #[arg(long, value_name = "M", default_value_t = 200)]
    pub alerts: usize,
    /// Seed of everything generated: the same seed gives the same tenants, ids and alerts.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// The app's client secret.
    #[arg(long, value_name = "SECRET", default_value = "simulator-secret")]
    pub secret: String,
    /// Background alert changes (new alerts and updates) per minute per tenant; 0 for none.
    #[arg(long, value_name = "R", default_value_t = 0.0)]
    pub live_rate: f64,
    /// Fraction of generated alerts with hostile strings (separators, CR/LF, huge values).
    #[arg(long, value_name = "P", default_value_t = 0.05, value_parser = probability)]
    pub adversarial: f64,
    /// Alert versions become visible to the API up to this long after their lastUpdateTime.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub late_visibility: Option<Duration>,
    /// Probability that an alerts API call answers 429 with Retry-After.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub fault_429: f64,
    /// Probability that an alerts API call answers 500 or 503.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub fault_5xx: f64,
    /// Probability that an alerts API call is answered 3 s late.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub fault_slow: f64,
    /// The initial alerts' lastUpdateTime is spread over this span before now (default 24h).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub history: Option<Duration>,
    /// How late a --fault-slow answer is (default 3s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub slow_delay: Option<Duration>,
    /// The Retry-After of a --fault-429 answer (default 2s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub retry_after: Option<Duration>,
    /// Lifetime of the access tokens it issues (default 1h), to rehearse short-lived tokens.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub token_lifetime: Option<Duration>,
    /// Every alerts API answer is this late (e.g. "500ms"), as Microsoft's API answers in
    /// hundreds of milliseconds to seconds.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub latency: Option<Duration>,
    /// Probability that an alerts API call's connection is dropped without an answer.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub fault_reset: f64,
    /// Probability that an alerts API call answers 200 with a proxy's HTML sign-in page.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub fault_html: f64,
    /// Probability that an alerts API call answers 200 with a JSON object that is not a page
    /// ({"message": "An error has occurred."}).
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub fault_not_page: f64,
    /// Probability that an alerts API call's 200 page is cut short, its end marked only by the
    /// connection closing (no Content-Length, not chunked).
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub fault_truncate: f64,
    /// Probability that an alerts API call's 200 page has bytes that are not UTF-8 in its
    /// @odata.context.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub fault_invalid_utf8: f64,
    /// MB of the initial alerts' JSON text kept in memory (over all tenants); alerts beyond it
    /// are generated again, identically, each time they are served: slower, but a million
    /// alerts fit in well under 1 GB. An alert is ~4.5 KB of text.
    #[arg(long, value_name = "MB", default_value_t = 512)]
    pub text_mb: usize,
    /// Probability that an alert in a page has a wrong-typed field.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub malformed: f64,
}

fn probability(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("`{s}` is not a probability between 0 and 1")),
    }
}

/// Runs the simulator until Ctrl-C.
pub fn run_simulate(args: &SimulateArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: &SimulateArgs) -> anyhow::Result<()> {
    let defaults = SimulatorConfig::default();
    let config = SimulatorConfig {
        history: args.history.unwrap_or(defaults.history),
        access_token_lifetime: args
            .token_lifetime
            .unwrap_or(defaults.access_token_lifetime),
        tenants: args.tenants,
        alerts_per_tenant: args.alerts,
        seed: args.seed,
        client_secret: args.secret.clone(),
        adversarial_fraction: args.adversarial,
        max_visibility_delay: args.late_visibility.unwrap_or_default(),
        text_budget: args.text_mb.saturating_mul(1 << 20),
        faults: Faults {
            http_429: args.fault_429,
            http_5xx: args.fault_5xx,
            slow: args.fault_slow,
            latency: args.latency.unwrap_or_default(),
            slow_delay: args.slow_delay.unwrap_or(defaults.faults.slow_delay),
            retry_after: args.retry_after.unwrap_or(defaults.faults.retry_after),
            reset: args.fault_reset,
            html: args.fault_html,
            not_page: args.fault_not_page,
            truncate: args.fault_truncate,
            invalid_utf8: args.fault_invalid_utf8,
            malformed: args.malformed,
            ..Faults::default()
        },
        ..defaults
    };
    let sim = Simulator::start(args.listen, config)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    if args.live_rate > 0.0 {
        sim.start_live(LiveConfig {
            changes_per_minute: args.live_rate,
            ..LiveConfig::default()
        });
    }
    // Listening for Ctrl-C before the summary says the simulator is up: a signal sent the
    // moment it is read must stop it cleanly, not kill it (the default action).
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("cannot wait for Ctrl-C")?;
    let mut out = io::stdout().lock();
    write_summary(&mut out, &sim).context("cannot write to standard output")?;
    drop(out);
    interrupt.recv().await;
    eprintln!("siemfwd: simulator stopping");
    sim.shutdown().await;
    Ok(())
}

/// `--listen`: `127.0.0.1:8400`, `[::1]:8400` or `localhost:8400` (the name resolved; its
/// first address taken).
fn listen_address(text: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    let mut addrs = text.to_socket_addrs().map_err(|e| {
        format!(
            "`{text}` is not an address and port, such as 127.0.0.1:8400 or localhost:8400 ({e})"
        )
    })?;
    addrs
        .next()
        .ok_or_else(|| format!("`{text}` names no address"))
}

fn write_summary(out: &mut dyn Write, sim: &Simulator) -> io::Result<()> {
    let url = sim.url();
    writeln!(
        out,
        "siemfwd simulator: Entra ID + MDE alerts API + Microsoft Graph alerts_v2 on {url}"
    )?;
    writeln!(out)?;
    writeln!(out, "  login_url = api_url = {url}")?;
    writeln!(out, "  client_id     = {}", sim.client_id())?;
    writeln!(out, "  client_secret = {}", sim.client_secret())?;
    writeln!(
        out,
        "  token (v2)    = POST {url}/<tenant_id>/oauth2/v2.0/token"
    )?;
    writeln!(out, "  alerts        = GET  {url}/api/alerts")?;
    writeln!(
        out,
        "  graph alerts  = GET  {url}/v1.0/security/alerts_v2  (a tenant with api = \"graph\")"
    )?;
    writeln!(out, "  device login  = {url}/devicelogin")?;
    writeln!(out)?;
    writeln!(out, "  tenants:")?;
    for t in sim.tenants() {
        writeln!(out, "    {}  {}", t.name, t.id)?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "  sign-ins and device codes are approved at once, as if a user consented"
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "# A config that runs as it is: save it as siemfwd.toml, then"
    )?;
    writeln!(out, "#   export {SECRET_ENV}='{}'", sim.client_secret())?;
    writeln!(out, "#   siemfwd run --config siemfwd.toml")?;
    writeln!(out)?;
    writeln!(out, "state_dir = \"siemfwd-state\"")?;
    writeln!(out)?;
    writeln!(out, "[defaults]")?;
    writeln!(out, "client_id = \"{}\"", sim.client_id())?;
    writeln!(out, "client_secret_env = \"{SECRET_ENV}\"")?;
    writeln!(out, "login_url = \"{url}\"")?;
    writeln!(out, "api_url = \"{url}\"")?;
    writeln!(out)?;
    writeln!(out, "[[output]]")?;
    writeln!(out, "name = \"stdout\"")?;
    writeln!(out, "type = \"stdout\"")?;
    for t in sim.tenants() {
        writeln!(out)?;
        writeln!(out, "[[tenant]]")?;
        writeln!(out, "name = \"{}\"", t.name)?;
        writeln!(out, "tenant_id = \"{}\"", t.id)?;
    }
    writeln!(out)?;
    writeln!(out, "# Ctrl-C stops the simulator.")?;
    out.flush()
}
