//! The error side of [`super::TokenProvider`] and of `siemfwd auth`'s sign-ins: a failed token
//! request sorted into what to do about it ([`AuthErrorKind`], [`classify`]), the fix in words
//! ([`hint`]), Entra's error body, and the last failure kept in state_dir for `siemfwd auth
//! status`.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Tenant;

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

    /// Every kind.
    pub const ALL: [AuthErrorKind; 6] = [
        AuthErrorKind::ReconsentNeeded,
        AuthErrorKind::BadSecret,
        AuthErrorKind::Misconfigured,
        AuthErrorKind::Throttled,
        AuthErrorKind::Retryable,
        AuthErrorKind::Storage,
    ];

    /// The kind [`AuthErrorKind::as_str`] wrote; `None` for a name this version does not know.
    pub fn from_name(name: &str) -> Option<AuthErrorKind> {
        AuthErrorKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// A token request that failed, with the fix in words. Never contains a secret.
#[derive(Debug, Clone, thiserror::Error)]
#[error("tenant \"{tenant}\": {summary}{}: {hint}", code_suffix(*code, summary))]
pub struct AuthError {
    /// The tenant's `name` (or its id, for a tenant given on the command line).
    pub tenant: String,
    /// What to do about it: retry, or which fix.
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
    pub fn from_entra(tenant: &Tenant, status: u16, body: &[u8]) -> AuthError {
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
    /// The AADSTS codes, such as `[700016]`; the first one decides what to do.
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

/// Sorts an Entra error by its AADSTS code first, then its `error` (docs/alerts-api.md, Entra ID tokens).
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

/// How a new secret reaches this tenant: a file is read again at each token request; the
/// environment and the config file only at start.
fn secret_update(tenant: &Tenant) -> String {
    match &tenant.client_secret_file {
        Some(file) => format!(
            "write it to {} (read again at each token request: no restart needed)",
            file.display()
        ),
        None => "put it where client_secret_env or client_secret says, then restart `siemfwd run` (or use client_secret_file, which is read again without a restart)".to_owned(),
    }
}

/// The `siemfwd auth login` that signs `tenant` in, with its real config path.
pub fn login_command(tenant: &Tenant) -> String {
    match &tenant.config_file {
        Some(file) => format!(
            "siemfwd auth login --config {} --tenant {}",
            file.display(),
            tenant.name
        ),
        None => format!(
            "siemfwd auth login --config <your config file> --tenant {}",
            tenant.name
        ),
    }
}

/// What to do about a failure of `kind` (AADSTS `code`) for `tenant`, in words.
pub fn hint(kind: AuthErrorKind, code: Option<u32>, tenant: &Tenant) -> String {
    let client = &tenant.client_id;
    match kind {
        AuthErrorKind::ReconsentNeeded => format!(
            "re-consent needed; this tenant stops until then: run `{}` and restart `siemfwd run` (refresh tokens expire after 90 days unused), or have the customer's admin consent to the app again",
            login_command(tenant)
        ),
        AuthErrorKind::BadSecret if code == Some(7000222) => format!(
            "the client secret has expired: create a new one in the app registration ({client}) and {}",
            secret_update(tenant)
        ),
        AuthErrorKind::BadSecret => format!(
            "the client secret is wrong (it must be the secret's value, not its id): {}",
            secret_update(tenant)
        ),
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
    /// The record of `e`, dated now.
    pub(crate) fn of(e: &AuthError) -> LastAuthFailure {
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
    pub(super) fn same_as(&self, e: &AuthError) -> bool {
        self.kind == e.kind.as_str() && self.code == e.code && self.summary == e.summary
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
