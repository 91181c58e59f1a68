//! Entra ID, for the forwarder and for `siemfwd auth` alike: access tokens per tenant, rotated
//! refresh tokens, and Entra's errors sorted into what to do about them, with the fix in words
//! (docs/alerts-api.md, Entra ID tokens).
//!
//! - [`token`]: [`TokenProvider`], access tokens cached per tenant, one request in flight,
//!   rotated refresh tokens persisted before use.
//! - [`errors`]: [`AuthErrorKind`] and [`classify`], [`AuthError`] with its [`hint`], Entra's
//!   error body, and the last failure kept for `siemfwd auth status`.

pub mod errors;
pub mod token;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

use url::Url;

use crate::secret::Secret;

pub use errors::{
    AuthError, AuthErrorKind, EntraError, LastAuthFailure, classify, first_sentence, hint,
};
pub use token::{MDE_RESOURCE, StoredRefreshToken, TokenProvider};

/// How the forwarder gets tokens for a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMode {
    /// The app's own identity, consented by the customer's admin.
    ClientCredentials,
    /// A delegated refresh token (from `siemfwd auth login` or the PowerShell script), rotated
    /// on every use. `initial` holds the first one; later ones live in `state_dir`.
    RefreshToken {
        /// The tenant's `refresh_token_file`, read once when `state_dir` holds no token yet.
        initial: Option<PathBuf>,
    },
}

/// Entra ID token endpoint version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenVersion {
    /// `/oauth2/v2.0/token` with `scope` (the default).
    V2,
    /// `/oauth2/token` with `resource`.
    V1,
}

/// The API a tenant's tokens are for (its `api`): the MDE alerts API, or Microsoft Graph in one
/// of its clouds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// `https://api.securitycenter.microsoft.com`, for `GET /api/alerts`.
    Defender,
    /// Microsoft Graph (`https://graph.microsoft.com`, or a national cloud's host), for
    /// `GET /v1.0/security/alerts_v2`.
    Graph(GraphCloud),
}

/// The clouds Microsoft Graph is served in; each is its own token audience.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphCloud {
    /// `https://graph.microsoft.com`.
    Global,
    /// `https://graph.microsoft.us` (GCC High).
    UsGov,
    /// `https://dod-graph.microsoft.us` (DoD).
    UsDod,
}

impl Resource {
    /// The Graph resource of an `api_url`: a national cloud's host names its cloud, any other
    /// (the public service, a simulator, a proxy) is the public cloud's.
    pub fn graph_for(api_url: &Url) -> Resource {
        Resource::Graph(match api_url.host_str() {
            Some("graph.microsoft.us") => GraphCloud::UsGov,
            Some("dod-graph.microsoft.us") => GraphCloud::UsDod,
            _ => GraphCloud::Global,
        })
    }

    /// The token audience: v1's `resource`, and the prefix of v2's scopes.
    pub fn url(self) -> &'static str {
        match self {
            Resource::Defender => MDE_RESOURCE,
            Resource::Graph(GraphCloud::Global) => "https://graph.microsoft.com",
            Resource::Graph(GraphCloud::UsGov) => "https://graph.microsoft.us",
            Resource::Graph(GraphCloud::UsDod) => "https://dod-graph.microsoft.us",
        }
    }

    /// The permission the app needs, as the consent and error messages name it.
    pub fn permission(self) -> &'static str {
        match self {
            Resource::Defender => "Alert.Read.All on WindowsDefenderATP",
            Resource::Graph(_) => "SecurityAlert.Read.All on Microsoft Graph",
        }
    }

    /// v2 scope of a delegated sign-in (`auth login`), with `offline_access` for the refresh
    /// token: Graph names the one permission (`.default` would ask for every permission the
    /// app has on Graph, usually more than alerts).
    pub fn delegated_scope(self) -> String {
        match self {
            Resource::Defender => format!("{}/.default offline_access", self.url()),
            Resource::Graph(_) => format!("{}/SecurityAlert.Read.All offline_access", self.url()),
        }
    }
}

/// A tenant as Entra sees it: the app (client id and secret), the directory it signs into, and
/// how its tokens are obtained. Made from a [`crate::source::TenantConfig`] or a tenant given on
/// the command line.
#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    /// The tenant's name in the config: in messages and file names.
    pub name: String,
    /// The directory (tenant) id or a verified domain (`tenant_id`): the path of the token
    /// endpoint, `<login_url>/<tenant_id>/oauth2/...`.
    pub tenant_id: String,
    /// The app registration's application (client) id (`client_id`).
    pub client_id: String,
    /// The app's secret (`client_secret_env`, `client_secret_file` or `client_secret`); a public
    /// client signing in with `auth = "refresh_token"` may have none.
    pub client_secret: Option<Secret>,
    /// The file `client_secret` was read from, if any: read again before each token request, so
    /// a rotated secret is picked up without a restart.
    pub client_secret_file: Option<PathBuf>,
    /// How access tokens are obtained (`auth`): the app's own identity, or a stored refresh
    /// token from `siemfwd auth login`.
    pub auth: AuthMode,
    /// Entra's base URL (`login_url`): `https://login.microsoftonline.com` unless a national
    /// cloud or a simulator.
    pub login_url: Url,
    /// Which token endpoint to call (`token_version`): v2 with `scope`, or v1 with `resource`.
    pub token_version: TokenVersion,
    /// The config file it was read from, for hints that name a command to run (none for a
    /// tenant given on the command line).
    pub config_file: Option<PathBuf>,
    /// What its tokens are for (`api`).
    pub resource: Resource,
}
