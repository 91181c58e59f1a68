//! `siemfwd check`: the config, each tenant's token and one API call, each output's connection.

use std::io::Write;
use std::sync::Arc;

use super::CheckArgs;
use siemfwd::alert::Timestamp;
use siemfwd::config::Config;
use siemfwd::pipeline::daemon::now;
use siemfwd::source::AlertsClient;
use siemfwd::source::alerts::PageQuery;

/// Prints a table of what works and what to fix; 0 when everything works.
pub fn check(args: &CheckArgs, out: &mut dyn Write) -> anyhow::Result<u8> {
    let config = match Config::load(&args.config) {
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
        config.tenants.len(),
        config.outputs.len(),
        config.state_dir.display()
    );
    for w in &config.warnings {
        let _ = writeln!(out, "warn  config       {w}");
    }
    let mut failures = 0;
    if let Err(e) = siemfwd::state::create_private_dir(&config.state_dir) {
        failures += 1;
        let _ = writeln!(
            out,
            "FAIL  state_dir    {}: {e}",
            config.state_dir.display()
        );
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
                    let to = now();
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
                    Ok::<_, String>(format!(
                        "token ok, alerts API answered ({} bytes)",
                        page.len()
                    ))
                }
                .await;
                (name, result)
            });
        }
        let mut rows = Vec::new();
        while let Some(Ok(row)) = tenant_checks.join_next().await {
            rows.push(row);
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
