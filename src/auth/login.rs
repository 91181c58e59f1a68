//! What the sign-in flows share: Entra's endpoints for a tenant, one form POST to them, the
//! errors of a login in words, the tenant of a login without a config file, and storing the
//! refresh token where `siemfwd run` reads it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::entra::token::TokenResponse;
use crate::entra::{
    AuthError, AuthMode, EntraError, LastAuthFailure, StoredRefreshToken, TokenProvider,
    TokenVersion, classify, first_sentence, hint,
};
use crate::http::describe_reqwest;
use crate::secret::Secret;
use crate::source::config::{ApiLimits, DEFAULT_API_URL, Emit, TenantConfig};

use super::pkce::RandomUnavailable;

/// Why a login did not end with a stored refresh token. Every variant names the tenant and
/// says what to do; none contains a secret.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Entra refused a token or device-code request.
    #[error("{0}")]
    Entra(AuthError),
    /// The sign-in ended with an error (an error redirect, a declined consent, Entra's error
    /// text pasted instead of a URL).
    #[error("tenant \"{tenant}\": the sign-in failed: {summary}: {hint}")]
    SignIn {
        /// The tenant's `name` (or its id, for a tenant given on the command line).
        tenant: String,
        /// The AADSTS code, when there is one.
        code: Option<u32>,
        /// What went wrong, in one line.
        summary: String,
        /// What to do about it.
        hint: String,
    },
    /// The answer carries another sign-in's `state`: nothing was exchanged.
    #[error(
        "tenant \"{tenant}\": the answer does not belong to this sign-in (its state differs: an older link, another attempt, or a forged redirect); nothing was exchanged: run `siemfwd auth login` again and use the link it prints"
    )]
    StateMismatch {
        /// The tenant's `name`.
        tenant: String,
    },
    /// Anything else that stopped the login (timeout, expired device code, network, input).
    #[error("tenant \"{tenant}\": {message}")]
    Failed {
        /// The tenant's `name`.
        tenant: String,
        /// What stopped it, in words.
        message: String,
    },
    /// The refresh token was obtained but could not be saved.
    #[error(
        "tenant \"{tenant}\": cannot store the refresh token in {}: {source}; fix state_dir and sign in again (the token was not printed)",
        path.display()
    )]
    Storage {
        /// The tenant's `name`.
        tenant: String,
        /// The token file in `state_dir/tokens/`.
        path: PathBuf,
        /// Why writing failed.
        source: std::io::Error,
    },
}

impl LoginError {
    pub(crate) fn failed(tenant: &TenantConfig, message: impl Into<String>) -> LoginError {
        LoginError::Failed {
            tenant: tenant.name.clone(),
            message: message.into(),
        }
    }

    pub(crate) fn random(tenant: &TenantConfig, e: RandomUnavailable) -> LoginError {
        LoginError::failed(tenant, e.to_string())
    }

    /// The AADSTS code behind it, if any.
    pub fn code(&self) -> Option<u32> {
        match self {
            LoginError::Entra(e) => e.code,
            LoginError::SignIn { code, .. } => *code,
            _ => None,
        }
    }
}

/// The sign-in's own reading of AADSTS codes that the forwarder never meets (a code or device
/// code flow's); `None` leaves it to the forwarder's hints ([`hint`]).
pub(crate) fn login_hint(error: &str, code: Option<u32>) -> Option<&'static str> {
    Some(match (error, code) {
        (_, Some(65004)) | ("access_denied" | "authorization_declined", _) => {
            "the user declined the consent prompt: run the command again and accept it, or have the customer's admin grant consent for the whole tenant (`siemfwd auth consent-url`)"
        }
        ("consent_required", _) => {
            "the app needs consent in this tenant that this user cannot give: have the customer's admin grant it (`siemfwd auth consent-url`), then sign in again"
        }
        ("expired_token", _) | (_, Some(70020)) => {
            "the code expired before the sign-in finished: run the command again and sign in within the time shown"
        }
        (_, Some(54005)) => {
            "this code was already redeemed: run the command again (every sign-in gives one code)"
        }
        (_, Some(70008)) => {
            "the code expired before it was redeemed: run the command again and paste the address right after signing in"
        }
        (_, Some(501481)) => {
            "the code was issued to another sign-in (PKCE mismatch): run the command again and use the link it prints"
        }
        (_, Some(700054)) => {
            "the app registration does not allow response_type=code: add a \"Mobile and desktop applications\" or \"Web\" platform with this redirect URI"
        }
        (_, Some(50058 | 50076 | 50079)) | ("interaction_required" | "login_required", _) => {
            "the sign-in needs the user to interact (sign in, MFA): open the link in a browser and finish the sign-in there"
        }
        _ => return None,
    })
}

/// An Entra error answer of a login request, explained.
pub(crate) fn entra_error(tenant: &TenantConfig, status: u16, body: &[u8]) -> LoginError {
    let err = EntraError::parse(body);
    let code = err.error_codes.first().copied();
    if let Some(hint) = login_hint(&err.error, code) {
        return LoginError::SignIn {
            tenant: tenant.name.clone(),
            code,
            summary: err.summary(status),
            hint: hint.to_owned(),
        };
    }
    LoginError::Entra(AuthError::from_entra(tenant.entra(), status, body))
}

/// An error redirect (`error`, `error_description`) explained; `error` is empty for the text
/// of Entra's error page.
pub(crate) fn sign_in_error(tenant: &TenantConfig, error: &str, description: &str) -> LoginError {
    let code = aadsts_code(description);
    let sentence = first_sentence(description);
    // `error` is empty for Entra's error page text pasted as is.
    let summary = match (error.is_empty(), sentence.is_empty()) {
        (_, true) => error.to_owned(),
        (true, false) => sentence.to_owned(),
        (false, false) => format!("{error}: {sentence}"),
    };
    let hint = match login_hint(error, code) {
        Some(h) => h.to_owned(),
        None => {
            let codes: Vec<u32> = code.into_iter().collect();
            let kind = classify(400, error, &codes);
            hint(kind, code, tenant.entra())
        }
    };
    LoginError::SignIn {
        tenant: tenant.name.clone(),
        code,
        summary,
        hint,
    }
}

/// The number of the first `AADSTS<digits>` in `text`.
pub(crate) fn aadsts_code(text: &str) -> Option<u32> {
    let at = text.find("AADSTS")? + "AADSTS".len();
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Entra's endpoints of a tenant, for its token endpoint version.
pub(crate) fn endpoint(tenant: &TenantConfig, what: Endpoint) -> String {
    let base = tenant.login_url.as_str().trim_end_matches('/');
    let path = match (tenant.token_version, what) {
        (TokenVersion::V2, Endpoint::Authorize) => "oauth2/v2.0/authorize",
        (TokenVersion::V2, Endpoint::Token) => "oauth2/v2.0/token",
        (TokenVersion::V2, Endpoint::DeviceCode) => "oauth2/v2.0/devicecode",
        (TokenVersion::V1, Endpoint::Authorize) => "oauth2/authorize",
        (TokenVersion::V1, Endpoint::Token) => "oauth2/token",
        (TokenVersion::V1, Endpoint::DeviceCode) => "oauth2/devicecode",
    };
    format!("{base}/{}/{path}", tenant.tenant_id)
}

/// One of Entra's endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Authorize,
    Token,
    DeviceCode,
}

/// What a delegated login asks for: the alerts API and a refresh token. v2 says it with
/// `scope` (`offline_access` for the refresh token), v1 with `resource` (always one).
pub fn audience(tenant: &TenantConfig) -> (&'static str, String) {
    match tenant.token_version {
        TokenVersion::V2 => ("scope", tenant.resource.delegated_scope()),
        TokenVersion::V1 => ("resource", tenant.resource.url().to_owned()),
    }
}

/// POSTs `form` to `url`; the status and body, or a network error in words.
pub(crate) async fn post_form(
    http: &reqwest::Client,
    tenant: &TenantConfig,
    url: &str,
    form: &[(&str, &str)],
) -> Result<(u16, Vec<u8>), LoginError> {
    let response = http.post(url).form(form).send().await.map_err(|e| {
        LoginError::failed(
            tenant,
            format!("the request to {url} failed: {}", describe_reqwest(&e)),
        )
    })?;
    let status = response.status().as_u16();
    let body = crate::http::small_body(response).await.map_err(|e| {
        LoginError::failed(
            tenant,
            format!(
                "reading the answer of {url} failed: {}",
                describe_reqwest(&e)
            ),
        )
    })?;
    Ok((status, body.to_vec()))
}

/// The refresh token of a successful token answer (200).
pub(crate) fn refresh_token_of(tenant: &TenantConfig, body: &[u8]) -> Result<Secret, LoginError> {
    let token: TokenResponse = serde_json::from_slice(body).map_err(|e| {
        LoginError::failed(
            tenant,
            format!("the token endpoint answered 200 but not a token: {e}"),
        )
    })?;
    match token.refresh_token {
        Some(r) if !r.is_empty() => Ok(Secret::new(r)),
        _ => Err(LoginError::failed(
            tenant,
            "Entra returned no refresh token (the v2 endpoint returns one only when offline_access is granted): check that the app's permission is delegated, then sign in again",
        )),
    }
}

/// Stores `refresh_token` as the tenant's token in `state_dir` (the file and format
/// [`TokenProvider`] reads and rotates), mode 0600, and forgets the tenant's last auth
/// failure: the new token is the fix. Returns the file.
pub fn store_refresh_token(
    state_dir: &Path,
    tenant: &TenantConfig,
    refresh_token: &Secret,
) -> Result<PathBuf, LoginError> {
    let path = TokenProvider::token_path(state_dir, &tenant.name);
    StoredRefreshToken::received_now(refresh_token, &tenant.tenant_id, &tenant.client_id)
        .save(&path)
        .map_err(|source| LoginError::Storage {
            tenant: tenant.name.clone(),
            path: path.clone(),
            source,
        })?;
    let status = TokenProvider::status_path(state_dir, &tenant.name);
    if LastAuthFailure::load(&status).is_some() {
        // Only stale news now; a failure to remove it is shown by `auth status` and harmless.
        let _ = std::fs::remove_file(&status);
    }
    Ok(path)
}

/// A tenant given on the command line (`--tenant-id`, `--client-id`) instead of a config
/// file: refresh-token mode, Microsoft's hosts unless `login_url` says otherwise.
#[derive(Debug, Clone)]
pub struct AdHocTenant {
    /// Names its token file (`--name`); the tenant id when none is given.
    pub name: String,
    /// The customer's tenant (`--tenant-id`): its GUID or a domain such as `contoso.com`.
    pub tenant_id: String,
    /// The app's id (`--client-id`), a GUID.
    pub client_id: String,
    /// The app's secret (from `--client-secret-env`) for a confidential client; none for a
    /// public client.
    pub client_secret: Option<Secret>,
    /// Entra's host (`--login-url`), `https://login.microsoftonline.com` by default.
    pub login_url: url::Url,
    /// The endpoint version (`--token-version`), v2 by default.
    pub token_version: TokenVersion,
    /// The API the sign-in is for (`--api`): MDE's alerts API unless `graph`.
    pub resource: crate::entra::Resource,
}

impl AdHocTenant {
    /// The [`TenantConfig`] the flows and the HTTP client take; the polling settings are the
    /// config file's defaults and unused by a login.
    pub fn into_config(self) -> TenantConfig {
        TenantConfig {
            entra: crate::entra::Tenant {
                name: self.name,
                tenant_id: self.tenant_id,
                client_id: self.client_id,
                client_secret: self.client_secret,
                client_secret_file: None,
                auth: AuthMode::RefreshToken { initial: None },
                login_url: self.login_url,
                token_version: self.token_version,
                config_file: None,
                resource: self.resource,
            },
            // A constant, parsed by every test that builds a tenant.
            #[allow(clippy::expect_used)]
            api_url: url::Url::parse(match self.resource {
                crate::entra::Resource::Defender => DEFAULT_API_URL,
                crate::entra::Resource::Graph(_) => self.resource.url(),
            })
            .expect("a URL"),
            api: match self.resource {
                crate::entra::Resource::Defender => crate::source::AlertsApi::Mde,
                crate::entra::Resource::Graph(_) => crate::source::AlertsApi::Graph {
                    service_sources: Vec::new(),
                },
            },
            proxy: None,
            ca_file: None,
            poll_interval: Duration::from_secs(60),
            initial_lookback: Duration::from_secs(24 * 3600),
            overlap: Duration::from_secs(600),
            lag: Duration::ZERO,
            page_size: 10_000,
            max_page_bytes: crate::source::config::DEFAULT_MAX_PAGE_BYTES,
            limits: ApiLimits {
                per_minute: 100,
                per_hour: 1500,
            },
            request_timeout: Duration::from_secs(60),
            outputs: None,
            emit: Emit::Updates,
        }
    }
}
