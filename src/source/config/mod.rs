//! `[[tenant]]` and `[defaults]` as written, and their validation into a [`TenantConfig`].
//!
//! Every key a tenant takes may also be set once in `[defaults]` (an MSSP usually has one app,
//! so `client_id` and its secret are the same for every customer); a tenant's own key wins.
//!
//! The checks of the app's secret and sign-in are in [`secret`], those of the URLs in
//! [`endpoints`]; the rest, and the order all of them run in, here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;

use crate::duration::{parse_duration_in, show_duration};
pub use crate::entra::{AuthMode, TokenVersion};
use crate::settings::{is_file_name, number_in};

/// The keys of a `[[tenant]]` table, for messages (serde cannot list them: the table is read in
/// two parts).
pub const TENANT_KEYS: &[&str] = &[
    "name",
    "tenant_id",
    "outputs",
    "client_id",
    "client_secret_env",
    "client_secret_file",
    "client_secret",
    "auth",
    "refresh_token_file",
    "login_url",
    "api",
    "api_url",
    "service_sources",
    "token_version",
    "proxy",
    "ca_file",
    "poll_interval",
    "initial_lookback",
    "overlap",
    "lag",
    "page_size",
    "max_page_bytes",
    "max_calls_per_minute",
    "max_calls_per_hour",
    "request_timeout",
    "emit",
];

/// Keys a tenant and `[defaults]` share.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTenantKeys {
    client_id: Option<String>,
    client_secret_env: Option<String>,
    client_secret_file: Option<PathBuf>,
    client_secret: Option<String>,
    auth: Option<String>,
    refresh_token_file: Option<PathBuf>,
    login_url: Option<String>,
    api: Option<String>,
    api_url: Option<String>,
    service_sources: Option<Vec<String>>,
    token_version: Option<String>,
    proxy: Option<String>,
    ca_file: Option<PathBuf>,
    poll_interval: Option<String>,
    initial_lookback: Option<String>,
    overlap: Option<String>,
    lag: Option<String>,
    page_size: Option<u32>,
    max_page_bytes: Option<u64>,
    max_calls_per_minute: Option<u32>,
    max_calls_per_hour: Option<u32>,
    request_timeout: Option<String>,
    emit: Option<String>,
}

/// One `[[tenant]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTenant {
    name: String,
    tenant_id: String,
    outputs: Option<Vec<String>>,
    #[serde(flatten)]
    keys: RawTenantKeys,
}

/// The alerts API's limits per app per tenant, and how close to them the client goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiLimits {
    /// Calls a minute (`max_calls_per_minute`, 1–10000; default 100, the API's own limit).
    pub per_minute: u32,
    /// Calls an hour (`max_calls_per_hour`, 1–150000; default 1500, the API's own limit).
    pub per_hour: u32,
}

/// Which API a tenant's alerts come from (`api`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertsApi {
    /// `"mde"` (the default): the MDE alerts API, `GET /api/alerts`: Defender for Endpoint's
    /// alerts.
    Mde,
    /// `"graph"`: Microsoft Graph, `GET /v1.0/security/alerts_v2`: the alerts of every
    /// Defender product.
    Graph {
        /// `service_sources`: the products fetched (Graph's `serviceSource` values); empty:
        /// all.
        service_sources: Vec<String>,
    },
}

impl AlertsApi {
    /// The name the config gives it.
    pub fn name(&self) -> &'static str {
        match self {
            AlertsApi::Mde => "mde",
            AlertsApi::Graph { .. } => "graph",
        }
    }

    /// The most alerts one call may ask for (`$top`): 10,000 from `/api/alerts`, 2,000 from
    /// Graph, which refuses more with a 400. Bounds `page_size` and every call's `$top`.
    pub fn max_page_size(&self) -> u32 {
        match self {
            AlertsApi::Mde => 10_000,
            AlertsApi::Graph { .. } => GRAPH_MAX_PAGE_SIZE,
        }
    }
}

/// Which alert versions the forwarder sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emit {
    /// Every new version, so status changes, classifications and comments reach the SIEM.
    Updates,
    /// An alert once, when it is first seen.
    New,
}

/// A validated tenant: who it is to Entra ID ([`crate::entra::Tenant`], read through `Deref`,
/// so `tenant.name` and `tenant.client_id` work as before) and how its alerts are polled.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantConfig {
    /// The app, the directory and the sign-in: `name`, `tenant_id`, `client_id`, the client
    /// secret and its file, `auth`, `login_url` and `token_version`, held once here and handed
    /// to the token provider as they are.
    pub(crate) entra: crate::entra::Tenant,
    /// Where its alerts come from (`api`, `service_sources`).
    pub api: AlertsApi,
    /// The alerts API's base (`api_url`; default `https://api.securitycenter.microsoft.com`,
    /// regional hosts work; for Graph `https://graph.microsoft.com`); `http://` only for this
    /// machine.
    pub api_url: Url,
    /// HTTPS proxy for the login and API hosts (`proxy`); without it `HTTPS_PROXY` and
    /// `NO_PROXY` apply.
    pub proxy: Option<Url>,
    /// Extra CA for the login and API hosts (e.g. an inspecting proxy).
    pub ca_file: Option<PathBuf>,
    /// Time between polls (`poll_interval`, 1s–1d; default 60s).
    pub poll_interval: Duration,
    /// How far back the first poll of a tenant with no checkpoint reaches.
    pub initial_lookback: Duration,
    /// How far each poll reaches back before the cursor, for alerts that became visible late.
    pub overlap: Duration,
    /// How far behind now a poll window ends, so alerts still being written are not missed.
    pub lag: Duration,
    /// Alerts asked for per call (`page_size`, `$top`, 1–10000; default
    /// [`DEFAULT_PAGE_SIZE`]).
    pub page_size: u32,
    /// The largest answer body read as a page; a larger one is asked for again with fewer
    /// alerts, so that no answer grows memory past the README's figure.
    pub max_page_bytes: usize,
    /// The client's own call limits (`max_calls_per_minute`, `max_calls_per_hour`).
    pub limits: ApiLimits,
    /// How long one call to the API or Entra may take (`request_timeout`, 1s–1h; default
    /// 60s); a page call that times out is retried with half the page size.
    pub request_timeout: Duration,
    /// Outputs this tenant's alerts go to; `None`: all.
    pub outputs: Option<Vec<String>>,
    /// Which alert versions are sent (`emit`; default every update).
    pub emit: Emit,
}

/// Alerts per call unless configured. Two pages are held at once over all tenants, and a page
/// of MDE alerts with evidence is ~4.5 KB an alert: 5,000 keeps the pages under ~50 MB where the
/// API's maximum of 10,000 would take ~90 MB, and still allows 500,000 alerts a minute per tenant.
pub const DEFAULT_PAGE_SIZE: u32 = 5_000;
/// The largest page body read unless configured. Two pages are held at once: 2 × 32 MiB keeps
/// the forwarder within its ~100 MB, and a page of 5,000 alerts (~20–25 MB) fits with room.
pub const DEFAULT_MAX_PAGE_BYTES: usize = 32 << 20;
/// Bounds of `max_page_bytes`: a page must hold at least one large alert, and more than a
/// gigabyte per page defeats the point of a bound.
const MAX_PAGE_BYTES_RANGE: std::ops::RangeInclusive<u64> = (1 << 20)..=(1 << 30);
/// Entra ID of Microsoft's public cloud, `login_url` unless configured
/// (`https://login.microsoftonline.us` for GCC High).
pub const DEFAULT_LOGIN_URL: &str = "https://login.microsoftonline.com";
/// The alerts API of Microsoft's public cloud, `api_url` unless configured.
pub const DEFAULT_API_URL: &str = "https://api.securitycenter.microsoft.com";
/// Microsoft Graph in Microsoft's public cloud, `api_url` of `api = "graph"` unless configured
/// (`https://graph.microsoft.us` for GCC High, `https://dod-graph.microsoft.us` for DoD).
pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com";
/// Alerts per Graph call unless configured, and the most asked for: the simulator's page cap,
/// taken as Graph's (its documentation gives none). A smaller page from Graph is read on: a
/// page with `@odata.nextLink` is never taken for the last.
pub const GRAPH_MAX_PAGE_SIZE: u32 = 2_000;
/// Graph's limit on security alert calls: 150 a minute per app per tenant.
const GRAPH_CALLS_PER_MINUTE: u32 = 150;

const SECOND: Duration = Duration::from_secs(1);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

/// Bounds of a tenant's durations, `(min, max)`. Each maximum is far beyond any sensible
/// setting and keeps the poll's arithmetic safe: a poll computes `now - lag`, `now -
/// initial_lookback` and `cursor - overlap` in i64 nanoseconds (±292 years) and waits
/// `poll_interval * 10` after repeated failures.
///
/// Less often than daily is no longer forwarding; and at least 1s, not to hammer the API.
const POLL_INTERVAL: (Duration, Duration) = (SECOND, DAY);
/// Defender for Endpoint keeps alerts for at most 180 days: further back finds nothing.
const INITIAL_LOOKBACK: (Duration, Duration) = (Duration::ZERO, Duration::from_secs(180 * 86_400));
/// Every poll pages the overlap again, and the checkpoint remembers the versions in it: a week
/// covers any alert that became visible late, a longer one only costs calls and memory.
const OVERLAP: (Duration, Duration) = (Duration::ZERO, Duration::from_secs(7 * 86_400));
/// Every alert reaches the SIEM at least `lag` late: beyond a day it is no longer forwarding.
const LAG: (Duration, Duration) = (Duration::ZERO, DAY);
/// No call to Entra or the API completes in under a second over the Internet (and a call that
/// times out is retried with half the page, down to one alert); one that takes an hour has hung.
const REQUEST_TIMEOUT: (Duration, Duration) = (SECOND, HOUR);
/// The client's own call limits: above the API's 100/min and 1500/h they only earn 429s (a
/// warning), but up to 100 times that is left for a simulator or a test with raised limits.
const CALLS_PER_MINUTE: std::ops::RangeInclusive<u32> = 1..=10_000;
const CALLS_PER_HOUR: std::ops::RangeInclusive<u32> = 1..=150_000;

/// A `[[tenant]]` that is not valid. Reads `"name": `key`: message`; the caller adds the file
/// and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenantConfigError {
    /// A `name` outside the safe alphabet: it names the tenant's state files.
    #[error("`name`: \"{0}\" must be letters, digits, '-', '_' or '.' (it names state files)")]
    Name(String),
    /// One key of the tenant (or of `[defaults]` under it) is wrong.
    #[error("\"{tenant}\": `{key}`: {problem}")]
    Key {
        /// The tenant's `name`.
        tenant: String,
        /// The key as written in the config file, e.g. `page_size`.
        key: &'static str,
        /// What is wrong with it and what is allowed.
        problem: String,
    },
}

/// Something the validation wants the caller to log (it has no logger of its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning(pub String);

/// The key `$field` of a tenant: its own setting, else the one in `[defaults]`.
macro_rules! pick {
    ($keys:expr, $field:ident) => {
        $keys
            .own
            .$field
            .clone()
            .or_else(|| $keys.defaults.$field.clone())
    };
}

// After `pick!`, which they use.
mod endpoints;
mod secret;

pub use endpoints::{UrlError, checked_url};

impl TenantConfig {
    /// Validates a tenant over `defaults`. Errors read `"name": key: message`. Secrets named
    /// by `client_secret_env` / `client_secret_file` are read here, so that a missing one is a
    /// configuration error and not a failure hours later.
    ///
    /// A secret that is configured but cannot be read now (variable unset, file unreadable) is
    /// returned apart, with `client_secret` left `None`, after every other key was checked: the
    /// caller decides whether that fails the whole file (`run`) or only this tenant (`check`,
    /// `auth`, `replay --tenant`, run from a shell that lacks the service's environment).
    pub fn from_raw(
        raw: RawTenant,
        defaults: &RawTenantKeys,
        base: &Path,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<(TenantConfig, Option<SecretUnavailable>), TenantConfigError> {
        check_tenant_name(&raw.name)?;
        let keys = Keys {
            name: &raw.name,
            own: &raw.keys,
            defaults,
            base,
        };
        let client_id = keys.identity(&raw.tenant_id)?;
        let secret = keys.secret(warnings)?;
        let auth = keys.auth(&secret)?;
        let api = keys.api()?;
        let endpoints = keys.endpoints(&api)?;
        let timing = keys.timing()?;
        let (page_size, max_page_bytes) = keys.paging(&api)?;
        let limits = keys.limits(&api, warnings)?;
        keys.check_outputs(raw.outputs.as_deref())?;
        let emit = keys.emit()?;
        let ca_file = pick!(keys, ca_file).map(|p| base.join(p));
        let tenant = TenantConfig {
            entra: crate::entra::Tenant {
                name: raw.name,
                tenant_id: raw.tenant_id,
                client_id,
                client_secret: secret.secret,
                client_secret_file: secret.file,
                auth,
                login_url: endpoints.login_url,
                token_version: endpoints.token_version,
                config_file: None,
                resource: match api {
                    AlertsApi::Mde => crate::entra::Resource::Defender,
                    AlertsApi::Graph { .. } => {
                        crate::entra::Resource::graph_for(&endpoints.api_url)
                    }
                },
            },
            api,
            api_url: endpoints.api_url,
            proxy: endpoints.proxy,
            ca_file,
            poll_interval: timing.poll_interval,
            initial_lookback: timing.initial_lookback,
            overlap: timing.overlap,
            lag: timing.lag,
            page_size,
            max_page_bytes,
            limits,
            request_timeout: timing.request_timeout,
            outputs: raw.outputs,
            emit,
        };
        Ok((tenant, secret.unavailable.map(SecretUnavailable)))
    }
}

/// `name` names state files, so it is kept to a safe alphabet.
fn check_tenant_name(name: &str) -> Result<(), TenantConfigError> {
    if !is_file_name(name) {
        return Err(TenantConfigError::Name(name.to_owned()));
    }
    Ok(())
}

/// A tenant's keys over `[defaults]`, and the per-group checks of [`TenantConfig::from_raw`],
/// in the order it runs them: the first error found is the one reported.
struct Keys<'a> {
    name: &'a str,
    own: &'a RawTenantKeys,
    defaults: &'a RawTenantKeys,
    /// The config file's folder, for relative paths.
    base: &'a Path,
}

/// The durations of a tenant's polls and calls.
struct Timing {
    poll_interval: Duration,
    initial_lookback: Duration,
    overlap: Duration,
    lag: Duration,
    request_timeout: Duration,
}

impl Keys<'_> {
    /// `"name": `key`: message`.
    fn err(&self, key: &'static str, message: impl std::fmt::Display) -> TenantConfigError {
        TenantConfigError::Key {
            tenant: self.name.to_owned(),
            key,
            problem: message.to_string(),
        }
    }

    /// `tenant_id` (checked here, kept by the caller) and `client_id`, returned.
    fn identity(&self, tenant_id: &str) -> Result<String, TenantConfigError> {
        if !is_guid(tenant_id) && !tenant_id.contains('.') {
            return Err(self.err(
                "tenant_id",
                format!(
                    "`{tenant_id}` is not a tenant id (a GUID, or a domain such as contoso.onmicrosoft.com)"
                ),
            ));
        }
        let client_id = pick!(self, client_id)
            .ok_or_else(|| self.err("client_id", "missing (here or in [defaults])"))?;
        if !is_guid(&client_id) {
            return Err(self.err(
                "client_id",
                format!("`{client_id}` is not an application (client) id, which is a GUID"),
            ));
        }
        Ok(client_id)
    }

    /// `poll_interval`, `initial_lookback`, `overlap`, `lag` and `request_timeout`.
    fn timing(&self) -> Result<Timing, TenantConfigError> {
        let duration = |key: &'static str,
                        value: Option<String>,
                        default: u64,
                        (min, max): (Duration, Duration)| {
            value
                .as_deref()
                .map(|v| parse_duration_in(v, min, max))
                .transpose()
                .map_err(|m| self.err(key, m))
                .map(|d| d.unwrap_or(Duration::from_secs(default)))
        };
        let timing = Timing {
            poll_interval: duration(
                "poll_interval",
                pick!(self, poll_interval),
                60,
                POLL_INTERVAL,
            )?,
            initial_lookback: duration(
                "initial_lookback",
                pick!(self, initial_lookback),
                24 * 3600,
                INITIAL_LOOKBACK,
            )?,
            overlap: duration("overlap", pick!(self, overlap), 600, OVERLAP)?,
            lag: duration("lag", pick!(self, lag), 0, LAG)?,
            request_timeout: duration(
                "request_timeout",
                pick!(self, request_timeout),
                60,
                REQUEST_TIMEOUT,
            )?,
        };
        // The first poll of a tenant without a checkpoint fetches from now - initial_lookback
        // to now - lag, and only a window fetched sets the checkpoint: with no window, every
        // poll would start again from now and the tenant would never forward anything.
        if timing.initial_lookback <= timing.lag {
            return Err(self.err(
                "initial_lookback",
                format!(
                    "{} must be longer than `lag` ({}): the first poll would have no window to fetch, and the tenant would never start",
                    show_duration(timing.initial_lookback),
                    show_duration(timing.lag)
                ),
            ));
        }
        Ok(timing)
    }

    /// `api` and `service_sources`.
    fn api(&self) -> Result<AlertsApi, TenantConfigError> {
        let service_sources = pick!(self, service_sources);
        let api = match pick!(self, api).as_deref() {
            None | Some("mde") => AlertsApi::Mde,
            Some("graph") => AlertsApi::Graph {
                service_sources: service_sources.clone().unwrap_or_default(),
            },
            Some(other) => {
                return Err(self.err(
                    "api",
                    format!(
                        "unknown api `{other}` (\"mde\": the MDE alerts API, /api/alerts; \"graph\": Microsoft Graph alerts_v2, every Defender product)"
                    ),
                ));
            }
        };
        if let Some(sources) = &service_sources {
            if api == AlertsApi::Mde {
                return Err(self.err(
                    "service_sources",
                    "only for `api = \"graph\"`: the MDE alerts API has only Defender for Endpoint's alerts",
                ));
            }
            if sources.is_empty() {
                return Err(self.err(
                    "service_sources",
                    "empty: no alert would be fetched; leave the key out to fetch every product's",
                ));
            }
            // The values go into the API's $filter as quoted literals.
            if let Some(bad) = sources
                .iter()
                .find(|s| s.is_empty() || !s.bytes().all(|b| b.is_ascii_alphanumeric()))
            {
                return Err(self.err(
                    "service_sources",
                    format!(
                        "`{bad}` is not a Graph serviceSource (such as microsoftDefenderForEndpoint or microsoftDefenderForOffice365)"
                    ),
                ));
            }
        }
        Ok(api)
    }

    /// `page_size` and `max_page_bytes`.
    fn paging(&self, api: &AlertsApi) -> Result<(u32, usize), TenantConfigError> {
        let max = api.max_page_size();
        let default = DEFAULT_PAGE_SIZE.min(max);
        let page_size = pick!(self, page_size).unwrap_or(default);
        if !(1..=max).contains(&page_size) {
            return Err(self.err(
                "page_size",
                format!("{page_size}: the API returns 1 to {max} alerts per call"),
            ));
        }
        let max_page_bytes = match pick!(self, max_page_bytes) {
            None => DEFAULT_MAX_PAGE_BYTES,
            Some(n) => number_in(n, MAX_PAGE_BYTES_RANGE)
                .map_err(|m| self.err("max_page_bytes", m))? as usize,
        };
        Ok((page_size, max_page_bytes))
    }

    /// `max_calls_per_minute` and `max_calls_per_hour`.
    fn limits(
        &self,
        api: &AlertsApi,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<ApiLimits, TenantConfigError> {
        // Graph states a limit a minute only: its hour is sixty of them.
        let (minute, hour) = match api {
            AlertsApi::Mde => (100, 1500),
            AlertsApi::Graph { .. } => (GRAPH_CALLS_PER_MINUTE, GRAPH_CALLS_PER_MINUTE * 60),
        };
        let limits = ApiLimits {
            per_minute: number_in(
                pick!(self, max_calls_per_minute).unwrap_or(minute),
                CALLS_PER_MINUTE,
            )
            .map_err(|m| self.err("max_calls_per_minute", m))?,
            per_hour: number_in(
                pick!(self, max_calls_per_hour).unwrap_or(hour),
                CALLS_PER_HOUR,
            )
            .map_err(|m| self.err("max_calls_per_hour", m))?,
        };
        if limits.per_minute > minute || limits.per_hour > hour {
            warnings.push(ConfigWarning(format!(
                "tenant \"{}\": call limits above the API's {minute}/min and {hour}/h only earn 429s",
                self.name
            )));
        }
        Ok(limits)
    }

    /// `outputs`: sent to no output, a tenant's alerts would still count as sent and move its
    /// checkpoint past them: lost without a word.
    fn check_outputs(&self, outputs: Option<&[String]>) -> Result<(), TenantConfigError> {
        let Some(names) = outputs else {
            return Ok(());
        };
        if names.is_empty() {
            return Err(self.err(
                "outputs",
                "empty: this tenant's alerts would go nowhere; leave the key out to send to every output, or name one",
            ));
        }
        if let Some((_, twice)) = names
            .iter()
            .enumerate()
            .find(|(i, n)| names[..*i].contains(n))
        {
            return Err(self.err(
                "outputs",
                format!("\"{twice}\" is named twice: every alert would be sent to it twice"),
            ));
        }
        Ok(())
    }

    /// `emit`.
    fn emit(&self) -> Result<Emit, TenantConfigError> {
        match pick!(self, emit).as_deref() {
            None | Some("updates") => Ok(Emit::Updates),
            Some("new") => Ok(Emit::New),
            Some(other) => Err(self.err(
                "emit",
                format!(
                    "unknown emit `{other}` (\"updates\": every new version, or \"new\": first sight only)"
                ),
            )),
        }
    }
}

/// A tenant's secret is configured but cannot be read now; the message says which and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretUnavailable(pub TenantConfigError);

/// An application (client) id or tenant id as Entra writes them: 8-4-4-4-12 hex digits.
pub fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}
