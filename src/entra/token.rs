//! Access tokens per tenant from Entra ID: cached until shortly before they expire, one request
//! in flight per tenant, rotated refresh tokens persisted before the access token is used, and
//! errors sorted into what the forwarder should do about them (docs/alerts-api.md, "Entra ID
//! tokens"; the sorting is in [`super::errors`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::errors::{AuthError, AuthErrorKind, LastAuthFailure, hint};
use super::{AuthMode, Tenant, TokenVersion};
use crate::http::describe_reqwest;
use crate::secret::Secret;

/// The resource the alerts API tokens are for.
pub const MDE_RESOURCE: &str = "https://api.securitycenter.microsoft.com";

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
    /// The token itself, as Entra issued it.
    pub refresh_token: String,
    /// The tenant it was issued in (its `tenant_id`), so that the file says whose it is.
    pub tenant_id: String,
    /// The app it was issued to (its `client_id`).
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
        let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        crate::atomic_file::write_atomic(path, &bytes)
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
    tenant: Tenant,
    http: reqwest::Client,
    token_file: PathBuf,
    status_file: PathBuf,
    /// Whether failures are kept in `status_file` (not by `check`, which may run as another
    /// user and must not create files in `state_dir`).
    records_failures: std::sync::atomic::AtomicBool,
    cached: Mutex<Cached>,
}

impl TokenProvider {
    /// Stops keeping failures for `siemfwd auth status`: for a look that must leave
    /// `state_dir` as it found it.
    pub fn keep_no_records(&self) {
        self.records_failures
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }

    /// The provider of `tenant`'s tokens over `http`, keeping a rotated refresh token and the
    /// last failure in `state_dir`; nothing is requested until a token is needed.
    pub fn new(
        tenant: Tenant,
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
            records_failures: std::sync::atomic::AtomicBool::new(true),
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
                    // Not logged here beyond DEBUG: every caller reports what it gets (run's
                    // tenant loop, replay's summary, check's and auth status's rows), and the
                    // same failure twice on standard error was one too many.
                    tracing::debug!(tenant = %self.tenant.name, "{e}");
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
        if !self
            .records_failures
            .load(std::sync::atomic::Ordering::Relaxed)
            || matches!(&cached.status, StatusFile::Recorded(r) if r.same_as(e))
        {
            return;
        }
        let record = LastAuthFailure::of(e);
        let written = serde_json::to_vec_pretty(&record)
            .map_err(std::io::Error::other)
            .and_then(|bytes| crate::atomic_file::write_atomic(&self.status_file, &bytes));
        match written {
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

    /// The secret to send now. A `client_secret_file` is read again each time (about once an
    /// hour per tenant), so the MSSP can rotate the app's secret, which every tenant shares,
    /// without restarting `run`. If the file cannot be read now, the secret read at start is
    /// used: a half-written file must not stop a tenant that still has a good one.
    fn client_secret(&self) -> Option<Secret> {
        let t = &self.tenant;
        if let Some(path) = &t.client_secret_file {
            match Secret::read_file(path) {
                Ok(secret) => return Some(secret),
                Err(m) => tracing::warn!(
                    tenant = %t.name,
                    "client_secret_file: {m}; using the secret read at start"
                ),
            }
        }
        t.client_secret.clone()
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
                    // Never signed in: nothing to re-consent to yet (issue 18).
                    let mut e = missing("not signed in yet: no refresh token in state_dir and no refresh_token_file".into());
                    e.hint = format!(
                        "sign in once: run `{}`",
                        super::errors::login_command(&self.tenant)
                    );
                    return Err(e);
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
                ("scope", format!("{}/.default", t.resource.url())),
            ),
            TokenVersion::V1 => (
                format!("{base}/{}/oauth2/token", t.tenant_id),
                ("resource", t.resource.url().to_owned()),
            ),
        };
        let mut form: Vec<(&str, String)> = vec![("client_id", t.client_id.clone()), audience];
        if let Some(secret) = self.client_secret() {
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
        // A token answer is a few KB: the rest of a longer body is not read (a cut body then
        // fails to parse below, as it should).
        let body = crate::http::small_body(response).await.map_err(|e| {
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
        // Entra's tokens live about an hour; an absurd `expires_in` must not overflow the
        // Instant below, and a day is the longest a token is trusted without asking again.
        let lifetime = Duration::from_secs(token.expires_in.unwrap_or(3600).min(24 * 3600));
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
