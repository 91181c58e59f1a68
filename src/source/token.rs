//! Access tokens per tenant from Entra ID: cached until shortly before they expire, one request
//! in flight per tenant, rotated refresh tokens persisted before the access token is used, and
//! errors sorted into what the forwarder should do about them (design.md §4).

use std::path::PathBuf;
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
struct EntraError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
    #[serde(default)]
    error_codes: Vec<u32>,
}

/// Sorts an Entra error by its AADSTS code first, then its `error` (design.md §4).
pub fn classify(status: u16, error: &str, codes: &[u32]) -> AuthErrorKind {
    const RECONSENT: [u32; 4] = [700082, 70008, 50173, 70043];
    const SECRET: [u32; 2] = [7000215, 7000222];
    const MISCONFIGURED: [u32; 5] = [700016, 65001, 500011, 90002, 7000218];
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

fn hint(kind: AuthErrorKind, code: Option<u32>, tenant: &TenantConfig) -> String {
    let name = &tenant.name;
    match kind {
        AuthErrorKind::ReconsentNeeded => format!(
            "re-consent needed; this tenant stops until then: run `siemfwd auth login --tenant {name}` (refresh tokens expire after 90 days unused), or have the customer's admin consent to the app again"
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
                "app {} is not known in this tenant: the customer's admin must consent to it (and it must be multi-tenant)",
                tenant.client_id
            ),
            Some(65001) => "the customer's admin has not consented to the app's permissions".into(),
            Some(500011) => "the alerts API is not enabled in this tenant (no Defender for Endpoint?)".into(),
            Some(7000218) => "the app needs a client secret, or \"Allow public client flows\" in its registration".into(),
            _ => "check tenant_id, client_id and the app's consent in this tenant".into(),
        },
        AuthErrorKind::Throttled => "Entra ID is throttling this app; backing off".into(),
        AuthErrorKind::Retryable => "will retry".into(),
        AuthErrorKind::Storage => "fix state_dir: the new refresh token must be kept, or the next refresh fails".into(),
    }
}

/// Entra's token response; `expires_in` is a string in v1 and a number in v2.
#[derive(Debug, Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default, deserialize_with = "number_or_string")]
    expires_in: Option<u64>,
    refresh_token: Option<String>,
}

fn number_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
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

/// The stored refresh token of a tenant (`state_dir/tokens/<tenant>.json`).
#[derive(Debug, Serialize, Deserialize)]
pub struct StoredRefreshToken {
    pub refresh_token: String,
    pub tenant_id: String,
    pub client_id: String,
    /// When it was received (RFC 3339): 90 days of disuse expire it.
    pub rotated_at: String,
}

struct Cached {
    access: Option<(Secret, Instant)>,
    refresh: Option<Secret>,
    /// A failure no retry can fix; later calls answer it at once.
    fatal: Option<AuthError>,
}

/// Tokens for one tenant.
pub struct TokenProvider {
    tenant: Arc<TenantConfig>,
    http: reqwest::Client,
    token_file: PathBuf,
    cached: Mutex<Cached>,
}

impl TokenProvider {
    pub fn new(
        tenant: Arc<TenantConfig>,
        http: reqwest::Client,
        state_dir: &std::path::Path,
    ) -> TokenProvider {
        let token_file = Self::token_path(state_dir, &tenant.name);
        TokenProvider {
            tenant,
            http,
            token_file,
            cached: Mutex::new(Cached {
                access: None,
                refresh: None,
                fatal: None,
            }),
        }
    }

    /// Where a tenant's rotated refresh token is kept.
    pub fn token_path(state_dir: &std::path::Path, tenant: &str) -> PathBuf {
        state_dir.join("tokens").join(format!("{tenant}.json"))
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
            Ok(token) => Ok(token),
            Err(e) => {
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
        let token = match std::fs::read(&self.token_file) {
            Ok(bytes) => {
                let stored: StoredRefreshToken = serde_json::from_slice(&bytes).map_err(|e| {
                    missing(format!(
                        "{} is not a stored token: {e}",
                        self.token_file.display()
                    ))
                })?;
                Secret::new(stored.refresh_token)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
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
        match t.auth {
            AuthMode::ClientCredentials => form.push(("grant_type", "client_credentials".into())),
            AuthMode::RefreshToken { .. } => {
                let refresh = self.refresh_token(cached)?;
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
            let err: EntraError = serde_json::from_slice(&body).unwrap_or_default();
            let code = err.error_codes.first().copied();
            let kind = classify(status, &err.error, &err.error_codes);
            let summary = if err.error.is_empty() {
                format!("the token endpoint answered HTTP {status}")
            } else {
                format!("{}: {}", err.error, first_sentence(&err.error_description))
            };
            if kind == AuthErrorKind::ReconsentNeeded {
                cached.refresh = None;
            }
            let mut e = self.error(kind, code, summary);
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
        let stored = StoredRefreshToken {
            refresh_token: token.expose().to_owned(),
            tenant_id: self.tenant.tenant_id.clone(),
            client_id: self.tenant.client_id.clone(),
            rotated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        };
        let bytes = serde_json::to_vec_pretty(&stored).expect("serializable");
        crate::state::write_atomic(&self.token_file, &bytes).map_err(|e| {
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
fn first_sentence(description: &str) -> &str {
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
mod tests {
    use super::*;

    #[test]
    fn entra_errors_are_sorted_by_code_first() {
        use AuthErrorKind::*;
        assert_eq!(classify(400, "invalid_grant", &[700082]), ReconsentNeeded);
        assert_eq!(classify(400, "invalid_grant", &[70008]), ReconsentNeeded);
        assert_eq!(
            classify(400, "interaction_required", &[50173]),
            ReconsentNeeded
        );
        assert_eq!(classify(400, "invalid_grant", &[70043]), ReconsentNeeded);
        assert_eq!(classify(400, "invalid_grant", &[]), ReconsentNeeded);
        assert_eq!(classify(401, "invalid_client", &[7000215]), BadSecret);
        assert_eq!(classify(401, "invalid_client", &[7000222]), BadSecret);
        assert_eq!(
            classify(400, "unauthorized_client", &[700016]),
            Misconfigured
        );
        assert_eq!(classify(400, "invalid_grant", &[65001]), Misconfigured);
        assert_eq!(classify(400, "invalid_resource", &[500011]), Misconfigured);
        assert_eq!(classify(400, "invalid_request", &[90002]), Misconfigured);
        assert_eq!(classify(400, "invalid_request", &[90055]), Throttled);
        assert_eq!(classify(429, "", &[]), Throttled);
        assert_eq!(classify(503, "temporarily_unavailable", &[]), Retryable);
        assert_eq!(classify(500, "", &[]), Retryable);
    }

    #[test]
    fn expires_in_is_a_number_or_a_string() {
        let v2: TokenResponse =
            serde_json::from_str(r#"{"access_token":"a","expires_in":3599}"#).unwrap();
        let v1: TokenResponse = serde_json::from_str(
            r#"{"access_token":"a","expires_in":"3599","expires_on":"1795000000"}"#,
        )
        .unwrap();
        assert_eq!(v2.expires_in, Some(3599));
        assert_eq!(v1.expires_in, Some(3599));
    }

    #[test]
    fn only_entras_first_sentence_is_kept() {
        let d =
            "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 1\r\nCorrelation ID: 2";
        assert_eq!(
            first_sentence(d),
            "AADSTS7000215: Invalid client secret provided."
        );
    }
}
