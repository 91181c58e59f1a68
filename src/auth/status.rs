//! `siemfwd auth status`: for each tenant, its auth mode, whether a token works now, when its
//! refresh token last rotated and how long it has before the 90-day inactivity expiry, and the
//! last auth failure `run` (or anything else) recorded, in words.
//!
//! The check asks Entra through [`TokenProvider`], as `run` does: a refresh token is redeemed
//! and the new one saved as usual (a `run` in progress finds the new one in state_dir), and
//! the result is recorded as the tenant's last failure or clears it.

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::entra::{
    AuthError, AuthErrorKind, AuthMode, LastAuthFailure, StoredRefreshToken, TokenProvider,
    TokenVersion,
};
use crate::source::TenantConfig;

/// Entra expires a refresh token not used for this long.
pub const REFRESH_TOKEN_INACTIVITY_DAYS: i64 = 90;
/// Fewer days left than this is worth a warning (and a non-zero exit).
pub const EXPIRY_WARNING_DAYS: i64 = 14;

/// What was found about a tenant's stored refresh token (refresh-token mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredToken {
    /// The tenant uses client credentials: no refresh token.
    NotUsed,
    /// None in state_dir; `initial` tells whether a refresh_token_file is configured.
    Missing {
        /// A `refresh_token_file` is configured: `run` starts from it.
        initial: bool,
    },
    /// The file is there but cannot be read or parsed.
    Unreadable(String),
    /// Stored, received at `rotated_at` (`None`: the time in it is not readable).
    Stored {
        /// When Entra issued it.
        rotated_at: Option<DateTime<Utc>>,
    },
}

/// The result of asking Entra for a token.
#[derive(Debug, Clone)]
pub enum TokenCheck {
    /// Not asked (`--no-check`).
    Skipped,
    /// Entra issued a token just now.
    Works,
    /// Entra refused, sorted into what to do about it.
    Failed(AuthError),
    /// No request could be made (the HTTP client could not be built).
    Setup(String),
    /// The tenant's secret is configured but cannot be read where this runs (the message says
    /// which and why): no request was made.
    NoSecret(String),
}

/// What a tenant's status comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing to do.
    Ok,
    /// A person must sign in again (`siemfwd auth login`).
    ReconsentNeeded,
    /// The refresh token expires within [`EXPIRY_WARNING_DAYS`].
    ExpiresSoon,
    /// The secret, the tenant's or the app's settings, or state_dir need fixing.
    ActionNeeded,
    /// Entra could not be reached or is throttling: nothing to change if it passes.
    Unreachable,
}

impl Verdict {
    /// Whether `auth status` exits non-zero for it.
    pub fn needs_action(self) -> bool {
        self != Verdict::Ok
    }

    /// The verdict as `auth status` prints it, such as `re-consent needed`.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::ReconsentNeeded => "re-consent needed",
            Verdict::ExpiresSoon => "expires soon",
            Verdict::ActionNeeded => "action needed",
            Verdict::Unreachable => "unreachable",
        }
    }
}

/// One tenant's auth status.
#[derive(Debug, Clone)]
pub struct TenantStatus {
    /// The tenant's `name`.
    pub name: String,
    /// `refresh_token` or `client_credentials` (its `auth` setting).
    pub mode: &'static str,
    /// `v2` or `v1` (its `token_version` setting).
    pub token_version: &'static str,
    /// The token's audience: the MDE alerts API's or Microsoft Graph's (its `api`).
    pub audience: &'static str,
    /// What asking Entra for a token just now gave.
    pub check: TokenCheck,
    /// The stored refresh token as it was before the check.
    pub stored: StoredToken,
    /// The check redeemed the refresh token: a new one was stored just now.
    pub rotated_now: bool,
    /// The last recorded failure, as it was before the check.
    pub last_failure: Option<LastAuthFailure>,
    /// When this status was taken.
    pub now: DateTime<Utc>,
}

impl TenantStatus {
    /// Days until the stored refresh token expires unused (refresh-token mode).
    pub fn days_left(&self) -> Option<i64> {
        if self.rotated_now {
            return Some(REFRESH_TOKEN_INACTIVITY_DAYS);
        }
        match &self.stored {
            StoredToken::Stored {
                rotated_at: Some(at),
            } => Some(REFRESH_TOKEN_INACTIVITY_DAYS - (self.now - *at).num_days()),
            _ => None,
        }
    }

    /// What the status comes to: the check when there was one, else the stored token and the
    /// last recorded failure.
    pub fn verdict(&self) -> Verdict {
        match &self.check {
            TokenCheck::Works => return Verdict::Ok,
            TokenCheck::Failed(e) => return verdict_of(e.kind),
            TokenCheck::Setup(_) | TokenCheck::NoSecret(_) => return Verdict::ActionNeeded,
            TokenCheck::Skipped => {}
        }
        // Not checked: judge by what is on disk.
        if let StoredToken::Missing { initial: false } | StoredToken::Unreadable(_) = self.stored {
            return Verdict::ReconsentNeeded;
        }
        if let Some(f) = &self.last_failure {
            return AuthErrorKind::from_name(&f.kind).map_or(Verdict::ActionNeeded, verdict_of);
        }
        match self.days_left() {
            Some(d) if d <= 0 => Verdict::ReconsentNeeded,
            Some(d) if d < EXPIRY_WARNING_DAYS => Verdict::ExpiresSoon,
            _ => Verdict::Ok,
        }
    }
}

fn verdict_of(kind: AuthErrorKind) -> Verdict {
    match kind {
        AuthErrorKind::ReconsentNeeded => Verdict::ReconsentNeeded,
        AuthErrorKind::Throttled | AuthErrorKind::Retryable => Verdict::Unreachable,
        AuthErrorKind::BadSecret | AuthErrorKind::Misconfigured | AuthErrorKind::Storage => {
            Verdict::ActionNeeded
        }
    }
}

/// When the refresh token stored for `tenant` expires if unused (refresh-token tenants with a
/// stored token whose time is readable).
pub fn refresh_token_expiry(tenant: &TenantConfig, state_dir: &Path) -> Option<DateTime<Utc>> {
    match stored_token(tenant, state_dir).0 {
        StoredToken::Stored {
            rotated_at: Some(at),
        } => Some(at + chrono::Duration::days(REFRESH_TOKEN_INACTIVITY_DAYS)),
        _ => None,
    }
}

/// What is stored for `tenant`, and the rotation time as written (to tell whether a check
/// rotated it: each rotation writes a new token with a new time).
fn stored_token(tenant: &TenantConfig, state_dir: &Path) -> (StoredToken, Option<String>) {
    let AuthMode::RefreshToken { initial } = &tenant.auth else {
        return (StoredToken::NotUsed, None);
    };
    let path = TokenProvider::token_path(state_dir, &tenant.name);
    match StoredRefreshToken::load(&path) {
        Ok(Some(stored)) => (
            StoredToken::Stored {
                rotated_at: DateTime::parse_from_rfc3339(&stored.rotated_at)
                    .ok()
                    .map(|t| t.with_timezone(&Utc)),
            },
            // Compared, never shown.
            Some(stored.refresh_token),
        ),
        Ok(None) => (
            StoredToken::Missing {
                initial: initial.is_some(),
            },
            None,
        ),
        Err(e) => (
            StoredToken::Unreadable(format!("{}: {e}", path.display())),
            None,
        ),
    }
}

/// The status of `tenant`; with `check`, after asking Entra for a token.
pub async fn tenant_status(
    tenant: &TenantConfig,
    state_dir: &Path,
    http: Option<reqwest::Client>,
    check: bool,
) -> TenantStatus {
    let (stored, token_before) = stored_token(tenant, state_dir);
    let last_failure = LastAuthFailure::load(&TokenProvider::status_path(state_dir, &tenant.name));
    let refresh_mode = !matches!(tenant.auth, AuthMode::ClientCredentials);
    let token_check = if !check {
        TokenCheck::Skipped
    } else {
        let http = match http {
            Some(h) => Ok(h),
            None => crate::source::http::client(tenant).map_err(|e| e.to_string()),
        };
        match http {
            Err(e) => TokenCheck::Setup(e),
            Ok(http) => {
                let provider = TokenProvider::new(tenant.entra().clone(), http, state_dir);
                match provider.access_token().await {
                    Ok(_) => TokenCheck::Works,
                    Err(e) => TokenCheck::Failed(e),
                }
            }
        }
    };
    let rotated_now = matches!(token_check, TokenCheck::Works) && {
        let (_, token_after) = stored_token(tenant, state_dir);
        token_after.is_some() && token_after != token_before
    };
    TenantStatus {
        name: tenant.name.clone(),
        mode: if refresh_mode {
            "refresh_token"
        } else {
            "client_credentials"
        },
        token_version: match tenant.token_version {
            TokenVersion::V2 => "v2",
            TokenVersion::V1 => "v1",
        },
        audience: tenant.entra().resource.url(),
        rotated_now,
        check: token_check,
        stored,
        last_failure,
        now: Utc::now(),
    }
}
