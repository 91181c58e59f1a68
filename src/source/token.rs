//! Access tokens per tenant from Entra ID: cached until shortly before they expire, one request
//! in flight per tenant, rotated refresh tokens persisted before the access token is used, and
//! errors sorted into what the forwarder should do about them (design.md §4).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::config::{AuthMode, TenantConfig, TokenVersion};
use super::secret::Secret;

/// The resource the alerts API tokens are for.
pub const MDE_RESOURCE: &str = "https://api.securitycenter.microsoft.com";

/// What to do about a failed token request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthErrorKind {
    /// The refresh token or consent is gone: retrying cannot help; a person must act.
    ReconsentNeeded,
    /// The client secret is wrong or expired.
    BadSecret,
    /// Tenant id, app id, consent or app settings are wrong.
    Misconfigured,
    /// Entra is throttling this app: back off.
    Throttled,
    /// A network error, a timeout or an Entra outage: retry with backoff.
    Retryable,
    /// The rotated refresh token could not be saved in state_dir.
    Storage,
}

impl AuthErrorKind {
    /// The name written in `state_dir/auth-status/<tenant>.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthErrorKind::ReconsentNeeded => "reconsent_needed",
            AuthErrorKind::BadSecret => "bad_secret",
            AuthErrorKind::Misconfigured => "misconfigured",
            AuthErrorKind::Throttled => "throttled",
            AuthErrorKind::Retryable => "retryable",
            AuthErrorKind::Storage => "storage",
        }
    }

    /// The kind [`AuthErrorKind::as_str`] wrote; `None` for a name this version does not know.
    pub fn from_name(name: &str) -> Option<AuthErrorKind> {
        [
            AuthErrorKind::ReconsentNeeded,
            AuthErrorKind::BadSecret,
            AuthErrorKind::Misconfigured,
            AuthErrorKind::Throttled,
            AuthErrorKind::Retryable,
            AuthErrorKind::Storage,
        ]
        .into_iter()
        .find(|k| k.as_str() == name)
    }
}

/// A token request that failed, with the fix in words. Never contains a secret.
#[derive(Debug, Clone, thiserror::Error)]
#[error("tenant \"{tenant}\": {summary}{}: {hint}", code_suffix(*code, summary))]
pub struct AuthError {
    pub tenant: String,
    pub kind: AuthErrorKind,
    /// The AADSTS code, when Entra gave one.
    pub code: Option<u32>,
    /// What happened: Entra's first sentence, or the network error.
    pub summary: String,
    /// What to do.
    pub hint: String,
    /// Seconds Entra asked to wait (Retry-After), if it did.
    pub retry_after: Option<Duration>,
}

/// ` (AADSTSnnn)` unless the summary already says it.
fn code_suffix(code: Option<u32>, summary: &str) -> String {
    match code {
        Some(c) if !summary.contains(&format!("AADSTS{c}")) => format!(" (AADSTS{c})"),
        _ => String::new(),
    }
}

impl AuthError {
    /// An Entra error answer (`status`, JSON `body`) of a token or device-code request for
    /// `tenant`, sorted by [`classify`], with the fix in words.
    pub fn from_entra(tenant: &TenantConfig, status: u16, body: &[u8]) -> AuthError {
        let err = EntraError::parse(body);
        let code = err.error_codes.first().copied();
        let kind = classify(status, &err.error, &err.error_codes);
        AuthError {
            tenant: tenant.name.clone(),
            kind,
            code,
            summary: err.summary(status),
            hint: hint(kind, code, tenant),
            retry_after: None,
        }
    }

    /// Whether retrying later can succeed without someone changing something.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            AuthErrorKind::Throttled | AuthErrorKind::Retryable
        )
    }
}

/// Entra's error body.
#[derive(Debug, Default, Deserialize)]
pub struct EntraError {
    /// The OAuth error (`invalid_grant`, `authorization_pending`, ...).
    #[serde(default)]
    pub error: String,
    /// `AADSTS<code>: <what happened>` and trace ids.
    #[serde(default)]
    pub error_description: String,
    #[serde(default)]
    pub error_codes: Vec<u32>,
}

impl EntraError {
    /// The body as Entra writes it; an empty one when it is not JSON (a proxy's page).
    pub fn parse(body: &[u8]) -> EntraError {
        serde_json::from_slice(body).unwrap_or_default()
    }

    /// `error: first sentence of the description`, or the HTTP status when there is no body.
    pub fn summary(&self, status: u16) -> String {
        if self.error.is_empty() {
            format!("the token endpoint answered HTTP {status}")
        } else {
            format!(
                "{}: {}",
                self.error,
                first_sentence(&self.error_description)
            )
        }
    }
}

/// Sorts an Entra error by its AADSTS code first, then its `error` (design.md §4).
pub fn classify(status: u16, error: &str, codes: &[u32]) -> AuthErrorKind {
    const RECONSENT: [u32; 4] = [700082, 70008, 50173, 70043];
    const SECRET: [u32; 2] = [7000215, 7000222];
    // 50011 / 500112: redirect URI not registered / not the one of the sign-in; 50194: the app
    // is single-tenant; 700025: a secret sent for a public client's token.
    const MISCONFIGURED: [u32; 9] = [
        700016, 65001, 500011, 90002, 7000218, 50011, 500112, 50194, 700025,
    ];
    const THROTTLED: [u32; 2] = [90055, 50196];
    let has = |set: &[u32]| codes.iter().any(|c| set.contains(c));
    if has(&RECONSENT) {
        AuthErrorKind::ReconsentNeeded
    } else if has(&SECRET) {
        AuthErrorKind::BadSecret
    } else if has(&MISCONFIGURED) {
        AuthErrorKind::Misconfigured
    } else if has(&THROTTLED) || status == 429 {
        AuthErrorKind::Throttled
    } else if status >= 500 || error == "temporarily_unavailable" {
        AuthErrorKind::Retryable
    } else if matches!(error, "invalid_grant" | "interaction_required") {
        AuthErrorKind::ReconsentNeeded
    } else if error == "invalid_client" {
        AuthErrorKind::BadSecret
    } else {
        AuthErrorKind::Misconfigured
    }
}

/// What to do about a failure of `kind` (AADSTS `code`) for `tenant`, in words.
pub fn hint(kind: AuthErrorKind, code: Option<u32>, tenant: &TenantConfig) -> String {
    let name = &tenant.name;
    let client = &tenant.client_id;
    match kind {
        AuthErrorKind::ReconsentNeeded => format!(
            "re-consent needed; this tenant stops until then: run `siemfwd auth login --tenant {name} --config <config file>` and restart `siemfwd run` (refresh tokens expire after 90 days unused), or have the customer's admin consent to the app again"
        ),
        AuthErrorKind::BadSecret if code == Some(7000222) => {
            "the client secret has expired: create a new one in the app registration and update client_secret_env/client_secret_file".into()
        }
        AuthErrorKind::BadSecret => {
            "the client secret is wrong: check client_secret_env/client_secret_file (the secret's value, not its id)".into()
        }
        AuthErrorKind::Misconfigured => match code {
            Some(90002) => format!("tenant_id {} does not exist", tenant.tenant_id),
            Some(700016) => format!(
                "app {client} is not known in this tenant: the customer's admin must consent to it (`siemfwd auth consent-url`), and it must be registered as multi-tenant"
            ),
            Some(50194) => format!(
                "app {client} is registered single-tenant: in its registration set Supported account types to \"Accounts in any organizational directory (multitenant)\""
            ),
            Some(65001) => "the customer's admin has not consented to the app's permissions: send them the link of `siemfwd auth consent-url`".into(),
            Some(500011) => "the alerts API is not enabled in this tenant (no Defender for Endpoint?)".into(),
            Some(7000218) => format!(
                "app {client} does not allow public client flows: in its registration, Authentication > Advanced settings > \"Allow public client flows\" = Yes (needed for --device-code), or give the tenant a client secret and use --auth-code"
            ),
            Some(50011) => format!(
                "the redirect URI is not registered for app {client}: add exactly the same URI (scheme, host, port, path) under Authentication in its registration, or pass one that is with --redirect-uri"
            ),
            Some(500112) => "the redirect URI of the code exchange differs from the sign-in's; they must be identical".into(),
            Some(700025) => "this refresh token belongs to a public client: remove the client secret from this tenant's settings".into(),
            _ => "check tenant_id, client_id and the app's consent in this tenant".into(),
        },
        AuthErrorKind::Throttled => "Entra ID is throttling this app; backing off".into(),
        AuthErrorKind::Retryable => "will retry".into(),
        AuthErrorKind::Storage => "fix state_dir: the new refresh token must be kept, or the next refresh fails".into(),
    }
}

/// Entra's token response; `expires_in` is a string in v1 and a number in v2. No `Debug`: it
/// holds tokens.
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    #[serde(default, deserialize_with = "number_or_string")]
    pub(crate) expires_in: Option<u64>,
    pub(crate) refresh_token: Option<String>,
}

/// A number Entra writes as a number (v2) or as a string (v1).
pub(crate) fn number_or_string<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        Num(u64),
        Text(String),
    }
    Ok(match Option::<N>::deserialize(d)? {
        None => None,
        Some(N::Num(n)) => Some(n),
        Some(N::Text(t)) => t.trim().parse().ok(),
    })
}

/// The stored refresh token of a tenant (`state_dir/tokens/<tenant>.json`). No `Debug`: it
/// holds the token.
#[derive(Serialize, Deserialize)]
pub struct StoredRefreshToken {
    pub refresh_token: String,
    pub tenant_id: String,
    pub client_id: String,
    /// When it was received (RFC 3339): 90 days of disuse expire it.
    pub rotated_at: String,
}

impl StoredRefreshToken {
    /// A token received now.
    pub fn received_now(refresh_token: &Secret, tenant_id: &str, client_id: &str) -> Self {
        StoredRefreshToken {
            refresh_token: refresh_token.expose().to_owned(),
            tenant_id: tenant_id.to_owned(),
            client_id: client_id.to_owned(),
            rotated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }

    /// Writes it to `path` atomically, mode 0600 (folder 0700).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(self).expect("serializable");
        crate::state::write_atomic(path, &bytes)
    }

    /// The token stored at `path`; `Ok(None)` when there is none.
    pub fn load(path: &Path) -> std::io::Result<Option<StoredRefreshToken>> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The last failed token request of a tenant, kept in `state_dir/auth-status/<tenant>.json` so
/// that `siemfwd auth status` can tell what `run` last ran into; removed by the next success.
/// Holds no secret: Entra's error text and the hint only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastAuthFailure {
    /// When it happened (RFC 3339).
    pub at: String,
    /// [`AuthErrorKind::as_str`].
    pub kind: String,
    /// The AADSTS code, when Entra gave one.
    pub code: Option<u32>,
    /// What happened.
    pub summary: String,
    /// What to do.
    pub hint: String,
}

impl LastAuthFailure {
    pub fn of(e: &AuthError) -> LastAuthFailure {
        LastAuthFailure {
            at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            kind: e.kind.as_str().to_owned(),
            code: e.code,
            summary: e.summary.clone(),
            hint: e.hint.clone(),
        }
    }

    /// The one recorded at `path`; `None` when there is none or it cannot be read.
    pub fn load(path: &Path) -> Option<LastAuthFailure> {
        serde_json::from_slice(&std::fs::read(path).ok()?).ok()
    }

    /// Whether it is the same failure as `e` (then it is not written again).
    fn same_as(&self, e: &AuthError) -> bool {
        self.kind == e.kind.as_str() && self.code == e.code && self.summary == e.summary
    }
}

/// What `state_dir/auth-status/<tenant>.json` holds, as far as this process knows.
#[derive(Debug, Clone, PartialEq, Eq)]
enum StatusFile {
    /// Not looked at yet: the first success removes whatever an earlier process left.
    Unknown,
    Absent,
    Recorded(LastAuthFailure),
}

struct Cached {
    access: Option<(Secret, Instant)>,
    refresh: Option<Secret>,
    /// A failure no retry can fix; later calls answer it at once.
    fatal: Option<AuthError>,
    status: StatusFile,
}

/// Tokens for one tenant.
pub struct TokenProvider {
    tenant: Arc<TenantConfig>,
    http: reqwest::Client,
    token_file: PathBuf,
    status_file: PathBuf,
    cached: Mutex<Cached>,
}

impl TokenProvider {
    pub fn new(
        tenant: Arc<TenantConfig>,
        http: reqwest::Client,
        state_dir: &std::path::Path,
    ) -> TokenProvider {
        let token_file = Self::token_path(state_dir, &tenant.name);
        let status_file = Self::status_path(state_dir, &tenant.name);
        TokenProvider {
            tenant,
            http,
            token_file,
            status_file,
            cached: Mutex::new(Cached {
                access: None,
                refresh: None,
                fatal: None,
                status: StatusFile::Unknown,
            }),
        }
    }

    /// Where a tenant's rotated refresh token is kept.
    pub fn token_path(state_dir: &std::path::Path, tenant: &str) -> PathBuf {
        state_dir.join("tokens").join(format!("{tenant}.json"))
    }

    /// Where a tenant's last failed token request is kept ([`LastAuthFailure`]). A folder of
    /// its own: any suffix in `tokens/` could be another tenant's name.
    pub fn status_path(state_dir: &std::path::Path, tenant: &str) -> PathBuf {
        state_dir.join("auth-status").join(format!("{tenant}.json"))
    }

    /// A valid access token: the cached one, or a new one. Callers waiting at the same time
    /// share one request.
    pub async fn access_token(&self) -> Result<Secret, AuthError> {
        let mut cached = self.cached.lock().await;
        if let Some(fatal) = &cached.fatal {
            return Err(fatal.clone());
        }
        if let Some((token, refresh_at)) = &cached.access
            && Instant::now() < *refresh_at
        {
            return Ok(token.clone());
        }
        match self.request(&mut cached).await {
            Ok(token) => {
                self.clear_failure(&mut cached);
                Ok(token)
            }
            Err(e) => {
                self.record_failure(&mut cached, &e);
                if !e.is_transient() {
                    tracing::error!(tenant = %self.tenant.name, "{e}");
                    if e.kind == AuthErrorKind::ReconsentNeeded {
                        cached.fatal = Some(e.clone());
                    }
                }
                Err(e)
            }
        }
    }

    /// Keeps `e` for `siemfwd auth status`, unless the same failure is kept already. A failure
    /// to write it is only logged: it must not hide `e`.
    fn record_failure(&self, cached: &mut Cached, e: &AuthError) {
        if matches!(&cached.status, StatusFile::Recorded(r) if r.same_as(e)) {
            return;
        }
        let record = LastAuthFailure::of(e);
        let bytes = serde_json::to_vec_pretty(&record).expect("serializable");
        match crate::state::write_atomic(&self.status_file, &bytes) {
            Ok(()) => cached.status = StatusFile::Recorded(record),
            Err(err) => tracing::warn!(
                tenant = %self.tenant.name,
                "cannot record the auth failure in {}: {err}",
                self.status_file.display()
            ),
        }
    }

    /// A token worked: the last failure is history.
    fn clear_failure(&self, cached: &mut Cached) {
        if cached.status == StatusFile::Absent {
            return;
        }
        match std::fs::remove_file(&self.status_file) {
            Ok(()) => cached.status = StatusFile::Absent,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                cached.status = StatusFile::Absent
            }
            Err(e) => tracing::warn!(
                tenant = %self.tenant.name,
                "cannot remove {}: {e}",
                self.status_file.display()
            ),
        }
    }

    /// The API refused `token` (401): forget it so the next call gets a new one.
    pub async fn invalidate(&self, token: &Secret) {
        let mut cached = self.cached.lock().await;
        if cached.access.as_ref().is_some_and(|(t, _)| t == token) {
            cached.access = None;
        }
    }

    fn error(&self, kind: AuthErrorKind, code: Option<u32>, summary: String) -> AuthError {
        AuthError {
            tenant: self.tenant.name.clone(),
            kind,
            code,
            summary,
            hint: hint(kind, code, &self.tenant),
            retry_after: None,
        }
    }

    fn refresh_token(&self, cached: &mut Cached) -> Result<Secret, AuthError> {
        if let Some(r) = &cached.refresh {
            return Ok(r.clone());
        }
        let missing = |summary: String| self.error(AuthErrorKind::ReconsentNeeded, None, summary);
        // The stored one is newer than the initial file: it is what the last refresh returned.
        let token = match StoredRefreshToken::load(&self.token_file) {
            Ok(Some(stored)) => Secret::new(stored.refresh_token),
            Ok(None) => {
                let AuthMode::RefreshToken {
                    initial: Some(file),
                } = &self.tenant.auth
                else {
                    return Err(missing(
                        "no refresh token yet (none in state_dir and no refresh_token_file)".into(),
                    ));
                };
                let text = std::fs::read_to_string(file).map_err(|e| {
                    missing(format!(
                        "cannot read refresh_token_file {}: {e}",
                        file.display()
                    ))
                })?;
                Secret::new(text.trim())
            }
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(missing(format!(
                    "{} is not a stored token: {e}",
                    self.token_file.display()
                )));
            }
            Err(e) => {
                return Err(self.error(
                    AuthErrorKind::Storage,
                    None,
                    format!("cannot read {}: {e}", self.token_file.display()),
                ));
            }
        };
        if token.is_empty() {
            return Err(missing("the refresh token is empty".into()));
        }
        cached.refresh = Some(token.clone());
        Ok(token)
    }

    async fn request(&self, cached: &mut Cached) -> Result<Secret, AuthError> {
        let refresh = match self.tenant.auth {
            AuthMode::ClientCredentials => None,
            AuthMode::RefreshToken { .. } => Some(self.refresh_token(cached)?),
        };
        let result = self.request_once(cached, refresh.as_ref()).await;
        if let (Err(e), Some(sent)) = (&result, &refresh)
            && e.kind == AuthErrorKind::ReconsentNeeded
        {
            // Another siemfwd process (`auth status`, `check`, `auth login`) may have rotated
            // or replaced the token in state_dir since this one read it: that one may work.
            if let Ok(Some(stored)) = StoredRefreshToken::load(&self.token_file)
                && stored.refresh_token != sent.expose()
                && !stored.refresh_token.is_empty()
            {
                tracing::info!(tenant = %self.tenant.name, "the refresh token in state_dir was replaced by another siemfwd process; using the new one");
                let newer = Secret::new(stored.refresh_token);
                cached.refresh = Some(newer.clone());
                return self.request_once(cached, Some(&newer)).await;
            }
        }
        result
    }

    /// One token request; `refresh` is the refresh token to redeem (refresh_token mode).
    async fn request_once(
        &self,
        cached: &mut Cached,
        refresh: Option<&Secret>,
    ) -> Result<Secret, AuthError> {
        let t = &self.tenant;
        let base = t.login_url.as_str().trim_end_matches('/');
        let (url, audience) = match t.token_version {
            TokenVersion::V2 => (
                format!("{base}/{}/oauth2/v2.0/token", t.tenant_id),
                ("scope", format!("{MDE_RESOURCE}/.default")),
            ),
            TokenVersion::V1 => (
                format!("{base}/{}/oauth2/token", t.tenant_id),
                ("resource", MDE_RESOURCE.to_owned()),
            ),
        };
        let mut form: Vec<(&str, String)> = vec![("client_id", t.client_id.clone()), audience];
        if let Some(secret) = &t.client_secret {
            form.push(("client_secret", secret.expose().to_owned()));
        }
        match refresh {
            None => form.push(("grant_type", "client_credentials".into())),
            Some(refresh) => {
                form.push(("grant_type", "refresh_token".into()));
                form.push(("refresh_token", refresh.expose().to_owned()));
            }
        }
        let sent_at = Instant::now();
        let response = self.http.post(&url).form(&form).send().await.map_err(|e| {
            self.error(
                AuthErrorKind::Retryable,
                None,
                format!("token request to {url} failed: {}", describe_reqwest(&e)),
            )
        })?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response.bytes().await.map_err(|e| {
            self.error(
                AuthErrorKind::Retryable,
                None,
                format!(
                    "reading the token response failed: {}",
                    describe_reqwest(&e)
                ),
            )
        })?;
        if status != 200 {
            let mut e = AuthError::from_entra(t, status, &body);
            if e.kind == AuthErrorKind::ReconsentNeeded {
                cached.refresh = None;
            }
            e.retry_after = retry_after;
            return Err(e);
        }
        let token: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
            self.error(
                AuthErrorKind::Retryable,
                None,
                format!("the token endpoint answered 200 but not a token: {e}"),
            )
        })?;
        if let Some(new_refresh) = token.refresh_token {
            // Persist first: the old refresh token may already be void.
            let new_refresh = Secret::new(new_refresh);
            cached.refresh = Some(new_refresh.clone());
            self.store_refresh_token(&new_refresh)?;
        }
        let lifetime = Duration::from_secs(token.expires_in.unwrap_or(3600));
        // Renew ahead of expiry: 5 minutes, or a quarter of a short lifetime.
        let ahead = (lifetime / 4).min(Duration::from_secs(300));
        let access = Secret::new(token.access_token);
        cached.access = Some((access.clone(), sent_at + lifetime - ahead));
        tracing::debug!(tenant = %t.name, "new access token, valid for {}s", lifetime.as_secs());
        Ok(access)
    }

    fn store_refresh_token(&self, token: &Secret) -> Result<(), AuthError> {
        let stored =
            StoredRefreshToken::received_now(token, &self.tenant.tenant_id, &self.tenant.client_id);
        stored.save(&self.token_file).map_err(|e| {
            self.error(
                AuthErrorKind::Storage,
                None,
                format!(
                    "cannot save the rotated refresh token to {}: {e}",
                    self.token_file.display()
                ),
            )
        })
    }
}

/// Entra's description up to the first line break or trace id.
pub fn first_sentence(description: &str) -> &str {
    let end = description
        .find(['\r', '\n'])
        .or_else(|| description.find(" Trace ID:"))
        .unwrap_or(description.len());
    description[..end].trim()
}

/// A reqwest error without the URL's query (which could hold a token in other APIs).
pub fn describe_reqwest(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the response broke off"
    } else {
        "failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        what.to_owned()
    } else {
        format!("{what} ({detail})")
    }
}

#[cfg(test)]
mod tests;
