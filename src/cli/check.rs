//! `siemfwd check`: the config, each tenant's token and one API call, each output's connection.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use super::CheckArgs;
use siemfwd::alert::Timestamp;
use siemfwd::config::{Config, UnreadableSecret};
use siemfwd::mapping::TenantIdentity;
use siemfwd::pipeline::run_state::RunStateFile;
use siemfwd::reader::Item;
use siemfwd::source::alerts::PageQuery;
use siemfwd::source::{AlertsClient, TenantConfig};
use siemfwd::transport::config::{Destination, OutputConfig};

/// Prints a table of what works and what to fix; 0 when everything works.
pub fn check(args: &CheckArgs, out: &mut dyn Write) -> anyhow::Result<u8> {
    // A tenant whose secret this shell cannot read is one failed row, not a failed file.
    let config = match Config::load_with(&args.config, UnreadableSecret::SetsTenantApart) {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(out, "FAIL  config       {e}");
            return Ok(1);
        }
    };
    let mut table = Table { out, failures: 0 };
    table.row(
        "ok",
        "config",
        format_args!(
            "{}: {} tenants, {} outputs, state_dir {}",
            config.source,
            config.tenants.len() + config.unusable.len(),
            config.outputs.len(),
            config.state_dir.display()
        ),
    );
    for w in &config.warnings {
        table.row("warn", "config", w);
    }
    // What `run` refuses before anything else.
    if config.tenants.is_empty() && config.unusable.is_empty() {
        table.fail(
            "config",
            format_args!(
                "{} has no [[tenant]]: run has nothing to forward",
                config.source
            ),
        );
    }
    if config.outputs.is_empty() {
        table.fail(
            "config",
            format_args!(
                "{} has no [[output]]: run has nowhere to send alerts (add one; `type = \"stdout\"` to try)",
                config.source
            ),
        );
    }
    table.result("state_dir", "", state_dir_writable(&config.state_dir));
    // An output whose mapping fails is said once, on its mapping row.
    let mut unmapped = Vec::new();
    for o in &config.outputs {
        let mapped = check_mapping(o);
        if mapped.is_err() {
            unmapped.push(o.name.as_str());
        }
        table.result("mapping", &o.name, mapped);
    }
    let rt = super::forward::runtime()?;
    rt.block_on(async {
        let mut rows = check_tenants(&config).await;
        rows.sort();
        for (name, result) in rows {
            table.result("tenant", &name, result);
        }
        // What a running forwarder says of a tenant (a task that keeps failing, a tenant it
        // stopped) is news to whoever runs `check`.
        for t in config.all_tenants() {
            if let Some(run) = RunStateFile::load(&config.state_dir, &t.name) {
                table.fail("run", format_args!("{}: {}", t.name, run.describe()));
            }
        }
        for o in config
            .outputs
            .iter()
            .filter(|o| !unmapped.contains(&o.name.as_str()))
        {
            if let Err(e) = siemfwd::transport::preflight(o) {
                let e = e.to_string();
                let e = e
                    .strip_prefix(&format!("output \"{}\": ", o.name))
                    .unwrap_or(&e);
                table.fail("output", format_args!("{}: {e}", o.name));
                continue;
            }
            let probed = siemfwd::transport::probe(o).await;
            let insecure =
                matches!(&o.destination, Destination::Tls { tls, .. } if tls.insecure_skip_verify);
            match probed {
                Ok(found) if insecure => {
                    table.row("warn", "output", format_args!("{}: {found}", o.name))
                }
                other => table.result("output", &o.name, other),
            }
        }
    });
    let failures = table.failures;
    let _ = writeln!(
        out,
        "{}",
        if failures == 0 {
            "everything works".to_owned()
        } else {
            format!(
                "{} to fix",
                siemfwd::words::counted(failures as u64, "problem")
            )
        }
    );
    Ok(u8::from(failures > 0))
}

/// The rows `check` prints, `ok`, `warn` or `FAIL` and what was checked in two columns; and
/// how many failed.
struct Table<'a> {
    out: &'a mut dyn Write,
    failures: usize,
}

impl Table<'_> {
    fn row(&mut self, status: &str, what: &str, text: impl std::fmt::Display) {
        let _ = writeln!(self.out, "{status:<6}{what:<13}{text}");
    }

    fn fail(&mut self, what: &str, text: impl std::fmt::Display) {
        self.failures += 1;
        self.row("FAIL", what, text);
    }

    /// `ok` or `FAIL` for `name`, with what the check found.
    fn result(&mut self, what: &str, name: &str, result: Result<String, impl std::fmt::Display>) {
        let named = |text: String| {
            if name.is_empty() {
                return text;
            }
            // The messages name their tenant themselves: said once.
            let text = text
                .strip_prefix(&format!("tenant \"{name}\": "))
                .map(str::to_owned)
                .unwrap_or(text);
            format!("{name}: {text}")
        };
        match result {
            Ok(found) => self.row("ok", what, named(found)),
            Err(e) => {
                let e = e.to_string();
                // `check` asks once; `run` is the one that retries.
                let e = e
                    .strip_suffix(": will retry")
                    .map(|e| format!("{e} (run retries it)"))
                    .unwrap_or(e);
                self.fail(what, named(e));
            }
        }
    }
}

/// Whether the user `check` runs as may write `state_dir`, without creating it: a `check` run
/// as root must not leave a root-owned `state_dir` the service user cannot write (issue 18).
fn state_dir_writable(dir: &Path) -> Result<String, String> {
    let user = siemfwd::atomic_file::current_user();
    let probe_in = |at: &Path| -> std::io::Result<()> {
        let probe = at.join(format!(".siemfwd-check-{}", std::process::id()));
        std::fs::write(&probe, b"")?;
        std::fs::remove_file(&probe)
    };
    if dir.is_dir() {
        return probe_in(dir)
            .map(|()| format!("{} is writable by {user}", dir.display()))
            .map_err(|e| {
                format!(
                    "{} is not writable by {user} ({e}): state_dir must be writable by the user siemfwd runs as",
                    dir.display()
                )
            });
    }
    let parent = dir
        .ancestors()
        .skip(1)
        .map(|a| {
            if a.as_os_str().is_empty() {
                Path::new(".")
            } else {
                a
            }
        })
        .find(|a| a.is_dir())
        .unwrap_or(Path::new("/"));
    probe_in(parent)
        .map(|()| {
            format!(
                "{} does not exist yet: run creates it ({} is writable by {user})",
                dir.display(),
                parent.display()
            )
        })
        .map_err(|e| {
            format!(
                "{} does not exist and {user} cannot create it in {} ({e}): create it for the user siemfwd runs as (mkdir -p {0}; chown that user {0})",
                dir.display(),
                parent.display()
            )
        })
}

/// Every tenant's token and one API call, all tenants at once; the tenants set apart for their
/// secret are failed rows.
async fn check_tenants(config: &Config) -> Vec<(String, Result<String, String>)> {
    let mut tenant_checks = tokio::task::JoinSet::new();
    for t in &config.tenants {
        let tenant = Arc::new(t.clone());
        let state_dir = config.state_dir.clone();
        tenant_checks.spawn(async move {
            let name = tenant.name.clone();
            (name, check_tenant(tenant, &state_dir).await)
        });
    }
    let mut rows: Vec<(String, Result<String, String>)> = config
        .unusable
        .iter()
        .map(|u| (u.config.name.clone(), Err(u.error.to_string())))
        .collect();
    while let Some(done) = tenant_checks.join_next().await {
        match done {
            Ok(row) => rows.push(row),
            // A check that panicked is a tenant nobody vouched for.
            Err(e) => rows.push(("?".to_owned(), Err(format!("the check failed: {e}")))),
        }
    }
    rows
}

/// A token, and one page of the last day's alerts (one alert at most).
async fn check_tenant(tenant: Arc<TenantConfig>, state_dir: &Path) -> Result<String, String> {
    let client = AlertsClient::new(tenant, state_dir).map_err(|e| e.to_string())?;
    client.tokens().keep_no_records();
    client
        .tokens()
        .access_token()
        .await
        .map_err(|e| e.to_string())?;
    let to = Timestamp::now();
    let from = Timestamp::from_unix_nanos(to.unix_nanos() - 86_400_000_000_000, 7);
    let page = client
        .get_page(PageQuery {
            from,
            to,
            skip: 0,
            top: 1,
        })
        .await
        .map_err(|e| e.to_string())?;
    // The same all-or-nothing check as `run`: a proxy's page is not a page.
    let api = match client.tenant().api {
        siemfwd::source::AlertsApi::Mde => "alerts API",
        siemfwd::source::AlertsApi::Graph { .. } => "Microsoft Graph alerts_v2",
    };
    let read = siemfwd::reader::read_page(&page.bytes, false, |_| Ok::<_, ()>(()));
    if let Err(siemfwd::reader::PageError::NotAPage(e)) = read {
        return Err(format!("the {api} answered 200 with {e}"));
    }
    Ok(format!(
        "token ok, {api} answered ({} bytes)",
        page.bytes.len()
    ))
}

/// Alerts of every kind the API sends, shipped with siemfwd: each output's mapping must encode
/// all of them, so a mapping that loads but fails on real alerts is caught before `run`.
const SAMPLE_PAGE: &[u8] = include_bytes!("../../examples/alerts/realistic-page.json");

/// Loads the output's mapping and encodes the sample alerts with it.
fn check_mapping(config: &OutputConfig) -> Result<String, String> {
    let mapping = siemfwd::transport::load_mapping(config).map_err(|e| e.to_string())?;
    let tenant = TenantIdentity {
        name: "check",
        id: "00000000-0000-0000-0000-000000000000",
    };
    let mut record = Vec::new();
    let mut encoded = 0;
    siemfwd::reader::read_page(SAMPLE_PAGE, true, |item| match item {
        Item::Alert(alert) => {
            record.clear();
            mapping
                .encode(&alert, tenant, Some(config.max_message_bytes), &mut record)
                .map_err(|e| format!("sample alert {}: {e}", alert.position))?;
            encoded += 1;
            Ok(())
        }
        Item::Malformed(m) => Err(format!("the shipped sample page is malformed: {m}")),
    })
    .map_err(|e| match e {
        siemfwd::reader::PageError::Stopped(m) => m,
        siemfwd::reader::PageError::NotAPage(e) => format!("the shipped sample page: {e}"),
    })?;
    let source = match &config.mapping {
        Some(path) => path.display().to_string(),
        None => format!("built-in {}", config.format),
    };
    Ok(format!("{source} encodes all {encoded} sample alerts"))
}
