//! `siemfwd check`: the config, each tenant's token and one API call, each output's connection.

use std::io::Write;
use std::sync::Arc;

use super::CheckArgs;
use siemfwd::alert::Timestamp;
use siemfwd::config::{Config, UnreadableSecret};
use siemfwd::mapping::TenantIdentity;
use siemfwd::pipeline::run_state::RunStateFile;
use siemfwd::reader::Item;
use siemfwd::source::AlertsClient;
use siemfwd::source::alerts::PageQuery;
use siemfwd::transport::config::OutputConfig;

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
    let _ = writeln!(
        out,
        "ok    config       {}: {} tenants, {} outputs, state_dir {}",
        config.source,
        config.tenants.len() + config.unusable.len(),
        config.outputs.len(),
        config.state_dir.display()
    );
    for w in &config.warnings {
        let _ = writeln!(out, "warn  config       {w}");
    }
    let mut failures = 0;
    if let Err(e) = siemfwd::atomic_file::create_private_dir(&config.state_dir) {
        failures += 1;
        let _ = writeln!(
            out,
            "FAIL  state_dir    {}: {e}",
            config.state_dir.display()
        );
    }
    for o in &config.outputs {
        match check_mapping(o) {
            Ok(what) => {
                let _ = writeln!(out, "ok    mapping      {}: {what}", o.name);
            }
            Err(e) => {
                failures += 1;
                let _ = writeln!(out, "FAIL  mapping      {}: {e}", o.name);
            }
        }
    }
    let rt = super::forward::runtime()?;
    rt.block_on(async {
        let mut tenant_checks = tokio::task::JoinSet::new();
        for t in &config.tenants {
            let tenant = Arc::new(t.clone());
            let state_dir = config.state_dir.clone();
            tenant_checks.spawn(async move {
                let name = tenant.name.clone();
                let result = async {
                    let client =
                        AlertsClient::new(tenant, &state_dir).map_err(|e| e.to_string())?;
                    client
                        .tokens()
                        .access_token()
                        .await
                        .map_err(|e| e.to_string())?;
                    let to = Timestamp::now();
                    let from = Timestamp::from_unix_nanos(to.unix_nanos() - 86_400_000_000_000, 7);
                    let (page, _) = client
                        .get_page(PageQuery {
                            from,
                            to,
                            skip: 0,
                            top: 1,
                        })
                        .await
                        .map_err(|e| e.to_string())?;
                    // The same all-or-nothing check as `run`: a proxy's page is not a page.
                    let read = siemfwd::reader::read_page(&page, false, |_| Ok::<_, ()>(()));
                    if let Err(siemfwd::reader::PageError::NotAPage(e)) = read {
                        return Err(format!("the alerts API answered 200 with {e}"));
                    }
                    Ok::<_, String>(format!(
                        "token ok, alerts API answered ({} bytes)",
                        page.len()
                    ))
                }
                .await;
                (name, result)
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
        rows.sort();
        for (name, result) in rows {
            match result {
                Ok(what) => {
                    let _ = writeln!(out, "ok    tenant       {name}: {what}");
                }
                Err(e) => {
                    failures += 1;
                    let _ = writeln!(out, "FAIL  tenant       {name}: {e}");
                }
            }
        }
        // What a running forwarder says of a tenant (a task that keeps failing, a tenant it
        // stopped) is news to whoever runs `check`.
        for t in config.all_tenants() {
            if let Some(run) = RunStateFile::load(&config.state_dir, &t.name) {
                failures += 1;
                let _ = writeln!(out, "FAIL  run          {}: {}", t.name, run.describe());
            }
        }
        for o in &config.outputs {
            match siemfwd::transport::probe(o).await {
                Ok(what) => {
                    let _ = writeln!(out, "ok    output       {}: {what}", o.name);
                }
                Err(e) => {
                    failures += 1;
                    let _ = writeln!(out, "FAIL  output       {}: {e}", o.name);
                }
            }
        }
    });
    let _ = writeln!(
        out,
        "{}",
        if failures == 0 {
            "everything works".to_owned()
        } else {
            format!("{failures} problems to fix")
        }
    );
    Ok(u8::from(failures > 0))
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
