//! `siemfwd auth login | consent-url | status`: onboarding a customer tenant (docs/onboarding.md)
//! and watching its tokens. The flows live in the library (`siemfwd::auth`); this file reads
//! the options, prints the instructions and picks the exit status; `status`'s report is
//! printed by [`status`].

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

use siemfwd::auth::authorize::{CodeLogin, DEFAULT_REDIRECT, RedirectUri};
use siemfwd::auth::consent::{ConsentRequest, instructions, is_guid, is_tenant};
use siemfwd::auth::{AdHocTenant, LoginError, device, store_refresh_token};
use siemfwd::config::{Config, UnreadableSecret};
use siemfwd::duration::parse_duration;
use siemfwd::entra::{AuthMode, TokenVersion};
use siemfwd::secret::Secret;
use siemfwd::source::TenantConfig;
use siemfwd::source::config::{DEFAULT_LOGIN_URL, checked_url};

mod status;

#[derive(Debug, Args)]
pub struct AuthArgs {
    #[command(subcommand)]
    pub command: AuthCommand,
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Get a tenant's refresh token from one sign-in and store it for `run`.
    ///
    /// Authorization code flow with PKCE (--auth-code, the default): prints a sign-in link,
    /// then takes the answer from the browser's redirect to this machine
    /// (http://localhost:PORT/) or from the address the browser ends on, pasted on standard
    /// input (--paste, or any https --redirect-uri such as https://SiemMsspConnector). Device
    /// code flow (--device-code): prints a code to enter at Microsoft's device login page; the
    /// app registration must allow public client flows, and the tenant have no client secret.
    ///
    /// The token is stored in state_dir/tokens/<tenant>.json (mode 0600), where `run` reads
    /// and rotates it; --print shows it instead.
    ///
    /// Exit status: 0 the token is stored (or printed); 1 the sign-in failed (the message
    /// says why and what to do); 2 bad options or config.
    Login(LoginArgs),
    /// Print the admin-consent link for a customer's administrator, and their steps in the
    /// Defender portal.
    ConsentUrl(ConsentUrlArgs),
    /// Show each tenant's auth: mode, whether a token works now, refresh-token age and days
    /// left before the 90-day inactivity expiry, and the last auth error, in words.
    ///
    /// The check asks Entra for a token as `run` does (a refresh token is used and the new one
    /// stored); --no-check only reads state_dir.
    ///
    /// Exit status: 0 every tenant is fine; 1 some tenant needs action (re-consent, secret or
    /// settings to fix, Entra unreachable, refresh token expiring within 14 days); 2 the
    /// config could not be read.
    Status(StatusArgs),
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The configuration file whose [[tenant]] --tenant names.
    #[arg(long, value_name = "FILE", requires = "tenant", conflicts_with_all = ["tenant_id", "client_id"])]
    pub config: Option<PathBuf>,
    /// The [[tenant]] to sign in for (its name).
    #[arg(long, value_name = "NAME", requires = "config")]
    pub tenant: Option<String>,
    /// Without a config: the customer's tenant id (GUID or domain).
    #[arg(long, value_name = "ID", requires = "client_id")]
    pub tenant_id: Option<String>,
    /// Without a config: the app (client) id.
    #[arg(long, value_name = "ID", requires = "tenant_id")]
    pub client_id: Option<String>,
    /// Without a config: Entra's host [default: https://login.microsoftonline.com;
    /// https://login.microsoftonline.us for GCC High].
    #[arg(long, value_name = "URL", requires = "tenant_id")]
    pub login_url: Option<String>,
    /// Without a config: token endpoint version, v2 (scope) or v1 (resource).
    #[arg(long, value_name = "V", requires = "tenant_id", default_value = "v2")]
    pub token_version: String,
    /// Without a config: the API the token is for, mde (the MDE alerts API) or graph
    /// (Microsoft Graph, SecurityAlert.Read.All); a config's tenant says it with `api`.
    #[arg(long, value_name = "API", requires = "tenant_id", default_value = "mde", value_parser = ["mde", "graph"])]
    pub api: String,
    /// Without a config: environment variable holding the app's client secret (a
    /// confidential "Web" app's code exchange, not with --device-code); none: a public client.
    #[arg(long, value_name = "VAR", requires = "tenant_id")]
    pub client_secret_env: Option<String>,
    /// Without a config: the state_dir to store the token in (as state_dir/tokens/NAME.json).
    #[arg(long, value_name = "DIR", requires = "name")]
    pub state_dir: Option<PathBuf>,
    /// Without a config: the tenant's name in the config that will use the token.
    #[arg(long, value_name = "NAME", requires = "state_dir")]
    pub name: Option<String>,
    /// Device code flow: a code to enter at Microsoft's device login page, from any device.
    /// Public client: not for a tenant with a client secret.
    #[arg(long, conflicts_with_all = ["auth_code", "redirect_uri", "paste"])]
    pub device_code: bool,
    /// Authorization code flow with PKCE (the default).
    #[arg(long)]
    pub auth_code: bool,
    /// The redirect URI, exactly as registered for the app [default: http://localhost/ on a
    /// free port; with --paste: {login_url}/common/oauth2/nativeclient]. An https URI (such
    /// as https://SiemMsspConnector) means pasting the address the browser ends on.
    #[arg(long, value_name = "URI")]
    pub redirect_uri: Option<String>,
    /// Do not listen on this machine: paste the address the browser ends on.
    #[arg(long)]
    pub paste: bool,
    /// How long to wait for the sign-in (authorization code flow).
    #[arg(long, value_name = "DURATION", default_value = "10m")]
    pub timeout: String,
    /// Print the refresh token on standard output instead of storing it (it is a credential).
    #[arg(long)]
    pub print: bool,
}

#[derive(Debug, Args)]
pub struct ConsentUrlArgs {
    /// The MSSP's multi-tenant app (client) id (with --config: the tenant's `client_id`).
    #[arg(
        long,
        value_name = "ID",
        required_unless_present = "config",
        conflicts_with = "config"
    )]
    pub client_id: Option<String>,
    /// The customer's tenant id or domain [default: common, the administrator's own tenant];
    /// with --config, the name of a configured [[tenant]].
    #[arg(long, value_name = "ID|NAME")]
    pub tenant: Option<String>,
    /// Entra's host (https://login.microsoftonline.us for GCC High and DoD) [default:
    /// https://login.microsoftonline.com, or the tenant's `login_url` with --config].
    #[arg(long, value_name = "URL")]
    pub login_url: Option<String>,
    /// Take the client id, tenant id and login URL of --tenant NAME from this config file.
    #[arg(long, value_name = "FILE", requires = "tenant")]
    pub config: Option<PathBuf>,
    /// The MSSP's own tenant id, which the customer enters in the Defender portal.
    #[arg(long, value_name = "ID")]
    pub mssp_tenant_id: Option<String>,
    /// The API the app reads alerts from: mde (WindowsDefenderATP's Alert.Read.All, and the
    /// Defender portal's SIEM step) or graph (Microsoft Graph's SecurityAlert.Read.All)
    /// [default: mde, or the tenant's `api` with --config].
    #[arg(long, value_name = "API", value_parser = ["mde", "graph"])]
    pub api: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The configuration file.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Only this tenant (repeatable) [default: all].
    #[arg(long, value_name = "NAME")]
    pub tenant: Vec<String>,
    /// Do not ask Entra: report what state_dir says (stored token age, last recorded error).
    #[arg(long)]
    pub no_check: bool,
}

/// Runs an `auth` command: its exit status, or an error for status 2.
pub fn auth(args: &AuthArgs, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<u8> {
    match &args.command {
        AuthCommand::Login(a) => login(a, out, err),
        AuthCommand::ConsentUrl(a) => consent_url(a, out),
        AuthCommand::Status(a) => status::status(a, out),
    }
}

/// Where the token goes.
enum Destination {
    Print,
    Store(PathBuf),
}

/// The tenant of `login` and where its token goes, from the config or the command line.
fn login_target(args: &LoginArgs) -> anyhow::Result<(TenantConfig, Destination, Option<String>)> {
    if let (Some(config_path), Some(name)) = (&args.config, &args.tenant) {
        if args.state_dir.is_some() || args.name.is_some() {
            bail!(
                "--state-dir and --name are for the form without --config: the config's state_dir and the tenant's name are used"
            );
        }
        // Only this tenant's secret matters here: an admin's shell may lack the others'.
        let config = Config::load_with(config_path, UnreadableSecret::SetsTenantApart)?;
        let tenant = config
            .all_tenants()
            .find(|t| &t.name == name)
            .cloned()
            .with_context(|| {
                let names = config.all_tenants().map(|t| t.name.as_str());
                super::not_in_config(&config.source, "[[tenant]]", name, names)
            })?;
        if tenant.auth == AuthMode::ClientCredentials && !args.print {
            bail!(
                "tenant \"{name}\" has auth = \"client_credentials\": it uses the app's secret and needs no refresh token (its admin's consent is enough: `siemfwd auth consent-url`). To use delegated tokens, set auth = \"refresh_token\" for it first"
            );
        }
        if let Some(u) = config.unusable_tenant(name) {
            return Err(anyhow::anyhow!("{}", u.error).context(format!(
                "tenant \"{name}\" has a client secret configured, and signing in needs it"
            )));
        }
        let destination = if args.print {
            Destination::Print
        } else {
            Destination::Store(config.state_dir.clone())
        };
        return Ok((tenant, destination, Some(config_path.display().to_string())));
    }
    let (Some(tenant_id), Some(client_id)) = (&args.tenant_id, &args.client_id) else {
        bail!("say which tenant: --config FILE --tenant NAME, or --tenant-id ID --client-id ID");
    };
    if !is_tenant(tenant_id) {
        bail!(
            "--tenant-id `{tenant_id}` is not a tenant id (a GUID, or a domain such as contoso.onmicrosoft.com)"
        );
    }
    if !is_guid(client_id) {
        bail!("--client-id `{client_id}` is not an application (client) id, which is a GUID");
    }
    let destination = match (&args.state_dir, &args.name, args.print) {
        (_, _, true) => Destination::Print,
        (Some(dir), Some(_), false) => Destination::Store(dir.clone()),
        _ => bail!(
            "without --config, say where the token goes: --state-dir DIR --name NAME (the [[tenant]] name that will use it), or --print"
        ),
    };
    let name = args.name.clone().unwrap_or_else(|| tenant_id.clone());
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        bail!(
            "--name \"{name}\" must be letters, digits, '-', '_' or '.' (it names the token file)"
        );
    }
    let login_url = checked_url(args.login_url.as_deref().unwrap_or(DEFAULT_LOGIN_URL))
        .context("--login-url")?;
    let token_version = match args.token_version.as_str() {
        "v2" => TokenVersion::V2,
        "v1" => TokenVersion::V1,
        other => bail!("--token-version `{other}`: v2 or v1"),
    };
    let client_secret = match &args.client_secret_env {
        Some(var) => match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Some(Secret::new(v.trim())),
            _ => bail!("--client-secret-env: the environment variable {var} is not set"),
        },
        None => None,
    };
    let tenant = AdHocTenant {
        name,
        tenant_id: tenant_id.clone(),
        client_id: client_id.clone(),
        client_secret,
        login_url,
        token_version,
        resource: match args.api.as_str() {
            "graph" => siemfwd::entra::Resource::Graph(siemfwd::entra::GraphCloud::Global),
            _ => siemfwd::entra::Resource::Defender,
        },
    }
    .into_config();
    Ok((tenant, destination, None))
}

fn version_name(v: TokenVersion) -> &'static str {
    match v {
        TokenVersion::V2 => "v2",
        TokenVersion::V1 => "v1",
    }
}

/// `siemfwd auth login`.
fn login(args: &LoginArgs, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<u8> {
    let (tenant, destination, config_path) = login_target(args)?;
    if args.device_code && tenant.client_secret.is_some() {
        // A device-code token is a public client's: Entra refuses to redeem it with a secret
        // (AADSTS700025), which `run` would send with every refresh.
        if config_path.is_some() {
            bail!(
                "tenant \"{}\" has a client secret (its own or [defaults]'): `siemfwd run` sends it with every refresh, and Entra refuses a device-code token redeemed with a secret (AADSTS700025: the client is public). Use --auth-code with a \"Web\" redirect URI (the exchange sends the secret), or give this tenant no secret (set client_secret_* on the client-credentials tenants instead of in [defaults])",
                tenant.name
            );
        }
        bail!(
            "--client-secret-env is for --auth-code with a \"Web\" redirect URI: a device-code token is a public client's, and redeeming it with a secret fails (AADSTS700025)"
        );
    }
    let timeout = parse_duration(&args.timeout)
        .map_err(anyhow::Error::msg)
        .context("--timeout")?;
    let redirect = match (&args.redirect_uri, args.paste) {
        (Some(uri), _) => RedirectUri::parse(uri).context("--redirect-uri")?,
        (None, false) => RedirectUri::parse(DEFAULT_REDIRECT)?,
        (None, true) => RedirectUri::parse(&format!(
            "{}/common/oauth2/nativeclient",
            tenant.login_url.as_str().trim_end_matches('/')
        ))?,
    };
    let http = siemfwd::source::http::client(&tenant)?;
    let rt = super::forward::runtime()?;
    let flow = if args.device_code {
        "device code"
    } else {
        "authorization code"
    };
    let _ = writeln!(
        err,
        "siemfwd auth login: tenant \"{}\" ({}), app {}, {flow} flow, {} token endpoint at {}\n",
        tenant.name,
        tenant.tenant_id,
        tenant.client_id,
        version_name(tenant.token_version),
        tenant.login_url.as_str().trim_end_matches('/'),
    );
    let result = rt.block_on(async {
        if args.device_code {
            device_login(&http, &tenant, err).await
        } else {
            let wait = (timeout, args.timeout.as_str());
            code_login(&http, &tenant, &redirect, args.paste, wait, err).await
        }
    });
    let refresh = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(err, "siemfwd: {e}");
            return Ok(1);
        }
    };
    match destination {
        Destination::Print => {
            let _ = writeln!(
                err,
                "Signed in. warning: the refresh token below is a credential: whoever holds it reads this tenant's alerts until it expires (90 days unused). Put it in a file only siemfwd can read (refresh_token_file, mode 0600) and delete every other copy."
            );
            writeln!(out, "{}", refresh.expose()).context("standard output")?;
        }
        Destination::Store(state_dir) => {
            let path = match store_refresh_token(&state_dir, &tenant, &refresh) {
                Ok(p) => p,
                Err(e) => {
                    let _ = writeln!(err, "siemfwd: {e}");
                    return Ok(1);
                }
            };
            let _ = writeln!(
                err,
                "Signed in. The refresh token of tenant \"{}\" is stored in {} (mode 0600); `siemfwd run` uses it and keeps it fresh (restart a running `siemfwd run` if it had stopped this tenant).",
                tenant.name,
                path.display()
            );
            match config_path {
                Some(config) => {
                    let _ = writeln!(err, "Next: siemfwd check --config {config}");
                }
                None => {
                    let _ = writeln!(
                        err,
                        "It is used by a [[tenant]] named \"{}\" with auth = \"refresh_token\" in a config whose state_dir is {}.",
                        tenant.name,
                        state_dir.display()
                    );
                }
            }
        }
    }
    Ok(0)
}

async fn device_login(
    http: &reqwest::Client,
    tenant: &TenantConfig,
    err: &mut dyn Write,
) -> Result<Secret, LoginError> {
    let authorization = device::start(http, tenant).await?;
    let _ = writeln!(
        err,
        "On any device, open {} and enter the code {}\n\
         Sign in as a user of the customer's tenant who can read Defender alerts (an administrator can also consent for the whole tenant there).\n\
         The code expires in {} min. Waiting for the sign-in...",
        authorization.verification_uri,
        authorization.user_code,
        authorization.expires_in.as_secs().div_ceil(60),
    );
    let _ = err.flush();
    device::poll(http, tenant, &authorization, &mut |_| {}).await
}

async fn code_login(
    http: &reqwest::Client,
    tenant: &TenantConfig,
    redirect: &RedirectUri,
    paste: bool,
    (timeout, wait): (Duration, &str),
    err: &mut dyn Write,
) -> Result<Secret, LoginError> {
    let login = CodeLogin::start(tenant.clone(), redirect, !paste).await?;
    let _ = writeln!(
        err,
        "Open this link in a browser and sign in as a user of the customer's tenant who can read Defender alerts (an administrator can also consent for the whole tenant there):\n\n  {}\n",
        login.authorize_url()
    );
    if login.listens() {
        let _ = writeln!(
            err,
            "Waiting up to {wait} for the browser to come back to {} on this machine.\n\
             If the browser runs on another machine, the page it ends on will not load: copy that page's whole address, paste it here and press Enter.",
            login.redirect_uri()
        );
    } else {
        let _ = writeln!(
            err,
            "After the sign-in the browser goes to {}?code=..., a page that may not load: that is expected.\n\
             Copy the whole address from the browser's address bar, paste it here and press Enter (waiting up to {wait}):",
            login.redirect_uri()
        );
    }
    let _ = err.flush();
    let pasted = stdin_lines();
    let mut bad_paste = |e: &LoginError| {
        let _ = writeln!(err, "siemfwd: {e}; paste again:");
        let _ = err.flush();
    };
    login
        .finish(http, Some(pasted), timeout, &mut bad_paste)
        .await
}

/// Lines of standard input, read on a thread of their own (a blocking read cannot be
/// cancelled; the thread ends with the process).
fn stdin_lines() -> tokio::sync::mpsc::Receiver<String> {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// `siemfwd auth consent-url`.
fn consent_url(args: &ConsentUrlArgs, out: &mut dyn Write) -> anyhow::Result<u8> {
    if let Some(path) = &args.config {
        // The app, the tenant and Entra's host as configured: nothing copied by hand.
        let config = Config::load_with(path, UnreadableSecret::SetsTenantApart)?;
        let name = args.tenant.as_deref().unwrap_or_default();
        let Some(t) = config.all_tenants().find(|t| t.name == name) else {
            let names: Vec<&str> = config.all_tenants().map(|t| t.name.as_str()).collect();
            bail!(
                "{} has no [[tenant]] named \"{name}\"; its tenants: {}",
                config.source,
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            );
        };
        let configured = ConsentUrlArgs {
            client_id: Some(t.client_id.clone()),
            tenant: Some(t.tenant_id.clone()),
            login_url: Some(
                args.login_url
                    .clone()
                    .unwrap_or_else(|| t.login_url.as_str().trim_end_matches('/').to_owned()),
            ),
            mssp_tenant_id: args.mssp_tenant_id.clone(),
            config: None,
            api: args.api.clone().or_else(|| Some(t.api.name().to_owned())),
        };
        return consent_url(&configured, out);
    }
    let client_id = args.client_id.as_deref().unwrap_or_default();
    if !is_guid(client_id) {
        bail!("--client-id `{client_id}` is not an application (client) id, which is a GUID");
    }
    if let Some(t) = &args.tenant
        && !is_tenant(t)
    {
        bail!(
            "--tenant `{t}` is not a tenant id (a GUID, or a domain such as contoso.onmicrosoft.com)"
        );
    }
    if let Some(t) = &args.mssp_tenant_id
        && !is_tenant(t)
    {
        bail!("--mssp-tenant-id `{t}` is not a tenant id");
    }
    let login_url = checked_url(args.login_url.as_deref().unwrap_or(DEFAULT_LOGIN_URL))
        .context("--login-url")?;
    let request = ConsentRequest::new(client_id, args.tenant.as_deref(), Some(login_url.as_str()));
    writeln!(
        out,
        "Admin consent link for app {} in {}:\n\n  {}\n\n{}",
        client_id,
        args.tenant.as_deref().map_or_else(
            || "the tenant of whoever signs in (common)".to_owned(),
            |t| format!("tenant {t}")
        ),
        request.url(),
        instructions(
            &request,
            args.mssp_tenant_id.as_deref(),
            args.api.as_deref() == Some("graph")
        )
    )
    .context("standard output")?;
    Ok(0)
}
