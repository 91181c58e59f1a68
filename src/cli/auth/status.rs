//! `siemfwd auth status`: each tenant's auth in a block of its own, and the exit status.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};

use siemfwd::auth::status::{StoredToken, TenantStatus, TokenCheck, Verdict, tenant_status};
use siemfwd::config::{Config, UnreadableSecret};
use siemfwd::pipeline::run_state::RunStateFile;
use siemfwd::source::TenantConfig;

use super::StatusArgs;

/// `siemfwd auth status`.
pub(super) fn status(args: &StatusArgs, out: &mut dyn Write) -> anyhow::Result<u8> {
    // A tenant whose secret this shell cannot read is reported as such; the others are checked.
    let config = Config::load_with(&args.config, UnreadableSecret::SetsTenantApart)?;
    let wanted = |name: &String| args.tenant.is_empty() || args.tenant.contains(name);
    for name in &args.tenant {
        if !config.all_tenants().any(|t| &t.name == name) {
            bail!("{} has no [[tenant]] named \"{name}\"", config.source);
        }
    }
    let tenants: Vec<TenantConfig> = config
        .tenants
        .iter()
        .filter(|t| wanted(&t.name))
        .cloned()
        .collect();
    let unusable: Vec<(TenantConfig, String)> = config
        .unusable
        .iter()
        .filter(|u| wanted(&u.config.name))
        .map(|u| (u.config.clone(), u.error.to_string()))
        .collect();
    if tenants.is_empty() && unusable.is_empty() {
        bail!("{} has no [[tenant]]", config.source);
    }
    let rt = crate::cli::forward::runtime()?;
    let state_dir = config.state_dir.clone();
    let check = !args.no_check;
    let statuses: (Vec<TenantStatus>, usize) = rt.block_on(async {
        // Tenants with the same proxy/CA share a client; a few checks run at a time.
        let mut http = siemfwd::source::http::ClientCache::default();
        let limit = Arc::new(tokio::sync::Semaphore::new(8));
        let mut tasks = tokio::task::JoinSet::new();
        for tenant in tenants {
            let client = http.client_for(&tenant).ok();
            let state_dir = state_dir.clone();
            let limit = limit.clone();
            tasks.spawn(async move {
                let _permit = limit.acquire().await;
                tenant_status(&tenant, &state_dir, client, check).await
            });
        }
        let mut all = Vec::new();
        for (tenant, why) in unusable {
            // What is on disk is still worth showing; the token cannot be tried without the secret.
            let mut status = tenant_status(&tenant, &state_dir, None, false).await;
            status.check = TokenCheck::NoSecret(why);
            all.push(status);
        }
        let mut lost = 0;
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(s) => all.push(s),
                Err(e) => {
                    lost += 1;
                    tracing::error!("a tenant's status check failed: {e}");
                }
            }
        }
        (all, lost)
    });
    let (mut statuses, lost) = statuses;
    statuses.sort_by(|a, b| a.name.cmp(&b.name));
    let config_path = args.config.display().to_string();
    let mut needing = 0;
    for s in &statuses {
        // What the running forwarder says of the tenant (a task that keeps failing), too.
        let run = RunStateFile::load(&state_dir, &s.name);
        if s.verdict().needs_action() || run.is_some() {
            needing += 1;
        }
        write_status(out, s, &config_path, &state_dir).context("standard output")?;
        if let Some(run) = run {
            writeln!(out, "    run            {}", run.describe())?;
        }
    }
    // A check that panicked is a tenant nobody vouched for: it counts as needing action.
    needing += lost;
    let total = statuses.len() + lost;
    if needing == 0 {
        writeln!(out, "all {total} tenants ok")?;
    } else {
        writeln!(out, "{needing} of {total} tenants need action")?;
    }
    Ok(u8::from(needing > 0))
}

fn write_status(
    out: &mut dyn Write,
    s: &TenantStatus,
    config: &str,
    state_dir: &Path,
) -> std::io::Result<()> {
    let verdict = s.verdict();
    let label = if verdict.needs_action() {
        verdict.label().to_uppercase()
    } else {
        verdict.label().to_owned()
    };
    writeln!(out, "{}  {label}", s.name)?;
    writeln!(
        out,
        "    auth           {} ({} token endpoint, for {})",
        s.mode, s.token_version, s.audience
    )?;
    let token = match &s.check {
        TokenCheck::Skipped => "not checked (--no-check)".to_owned(),
        TokenCheck::Works => "works now".to_owned(),
        TokenCheck::Failed(e) => format!("does not work: {}", e.summary),
        TokenCheck::Setup(e) | TokenCheck::NoSecret(e) => format!("cannot be checked: {e}"),
    };
    writeln!(out, "    token          {token}")?;
    let days = |d: i64| {
        if d > 0 {
            format!(
                "{} left before the 90-day inactivity expiry",
                plural(d, "day")
            )
        } else {
            "expired: unused for 90 days".to_owned()
        }
    };
    let refresh = match &s.stored {
        StoredToken::NotUsed => None,
        _ if s.rotated_now => Some(format!(
            "rotated just now by this check; {}",
            days(s.days_left().unwrap_or(90))
        )),
        StoredToken::Stored {
            rotated_at: Some(at),
        } => Some(format!(
            "last rotated {} ({} ago); {}",
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            plural((s.now - *at).num_days(), "day"),
            days(s.days_left().unwrap_or(0))
        )),
        StoredToken::Stored { rotated_at: None } => {
            Some("stored, with no readable rotation time".to_owned())
        }
        StoredToken::Missing { initial: true } => Some(format!(
            "none in {} yet (the first use reads refresh_token_file)",
            state_dir.join("tokens").display()
        )),
        StoredToken::Missing { initial: false } => {
            Some(format!("none in {}", state_dir.join("tokens").display()))
        }
        StoredToken::Unreadable(e) => Some(format!("unreadable: {e}")),
    };
    if let Some(r) = refresh {
        writeln!(out, "    refresh token  {r}")?;
    }
    let last = match (&s.check, &s.last_failure) {
        (TokenCheck::Failed(e), _) => format!("now: {}", with_code(&e.summary, e.code)),
        (check, Some(f)) => format!(
            "{}: {}{}",
            f.at,
            with_code(&f.summary, f.code),
            if matches!(check, TokenCheck::Works) {
                " (fixed since: the token works now)"
            } else {
                ""
            }
        ),
        (_, None) => "none recorded".to_owned(),
    };
    writeln!(out, "    last error     {last}")?;
    let fix = match verdict {
        Verdict::Ok => None,
        Verdict::ReconsentNeeded => Some(format!(
            "re-consent needed: run `siemfwd auth login --config {config} --tenant {}`, then restart `siemfwd run` if it stopped this tenant",
            s.name
        )),
        Verdict::ExpiresSoon => Some(format!(
            "the refresh token expires in {} days unless used: keep `siemfwd run` running (it uses it every hour), or run `siemfwd auth status --config {config}`",
            s.days_left().unwrap_or(0)
        )),
        Verdict::Unreachable => Some(
            "Entra ID could not be reached or is throttling this app: check this machine's network and proxy; nothing to change if it passes".to_owned(),
        ),
        Verdict::ActionNeeded => Some(match (&s.check, &s.last_failure) {
            (TokenCheck::Failed(e), _) => e.hint.clone(),
            (TokenCheck::Setup(e), _) => format!("fix the tenant's proxy or ca_file: {e}"),
            (TokenCheck::NoSecret(_), _) => {
                "give this shell the secret the service uses (the variable or file above), or run this where `siemfwd run` runs".to_owned()
            }
            (_, Some(f)) => f.hint.clone(),
            _ => "see above".to_owned(),
        }),
    };
    if let Some(fix) = fix {
        writeln!(out, "    fix            {fix}")?;
    }
    Ok(())
}

/// `summary (AADSTSnnn)` unless the summary already says it.
fn with_code(summary: &str, code: Option<u32>) -> String {
    match code {
        Some(c) if !summary.contains(&format!("AADSTS{c}")) => format!("{summary} (AADSTS{c})"),
        _ => summary.to_owned(),
    }
}

/// `1 day`, `2 days`.
fn plural(n: i64, unit: &str) -> String {
    if n == 1 {
        format!("{n} {unit}")
    } else {
        format!("{n} {unit}s")
    }
}
