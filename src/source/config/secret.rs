//! The secret and sign-in keys of a tenant (`client_secret_env`, `client_secret_file`,
//! `client_secret`, `auth`, `refresh_token_file`): read or set apart, and checked to agree.

use std::path::PathBuf;

use super::{AuthMode, ConfigWarning, Keys, TenantConfigError};
use crate::secret::Secret;

/// The client secret as configured: read, or set apart with the reason it cannot be read now.
pub(super) struct SecretKeys {
    pub(super) secret: Option<Secret>,
    /// Why a configured secret cannot be read now.
    pub(super) unavailable: Option<TenantConfigError>,
    pub(super) file: Option<PathBuf>,
}

/// The secret and sign-in checks.
impl Keys<'_> {
    /// `client_secret_env`, `client_secret_file` or `client_secret`: the tenant's own setting
    /// wins as a whole over the defaults'.
    pub(super) fn secret(
        &self,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<SecretKeys, TenantConfigError> {
        let k = self.own;
        let own = [
            k.client_secret_env.is_some(),
            k.client_secret_file.is_some(),
            k.client_secret.is_some(),
        ];
        let source = if own.iter().any(|x| *x) {
            k
        } else {
            self.defaults
        };
        let set = [
            source.client_secret_env.is_some(),
            source.client_secret_file.is_some(),
            source.client_secret.is_some(),
        ];
        if set.iter().filter(|x| **x).count() > 1 {
            return Err(self.err(
                "client_secret",
                "set only one of client_secret_env, client_secret_file and client_secret",
            ));
        }
        let mut unavailable = None;
        let secret = if let Some(var) = &source.client_secret_env {
            match std::env::var(var) {
                Ok(v) if !v.trim().is_empty() => Some(Secret::new(v.trim())),
                _ => {
                    unavailable = Some(self.err(
                        "client_secret_env",
                        format!("the environment variable {var} is not set"),
                    ));
                    None
                }
            }
        } else if let Some(file) = &source.client_secret_file {
            match Secret::read_file(&self.base.join(file)) {
                Ok(secret) => Some(secret),
                Err(m) => {
                    unavailable = Some(self.err("client_secret_file", m));
                    None
                }
            }
        } else if let Some(literal) = &source.client_secret {
            warnings.push(ConfigWarning(format!(
                "tenant \"{}\": the client secret is written in the config file; prefer client_secret_env or client_secret_file",
                self.name
            )));
            Some(Secret::new(literal.clone()))
        } else {
            None
        };
        Ok(SecretKeys {
            secret,
            unavailable,
            file: source
                .client_secret_file
                .as_ref()
                .map(|f| self.base.join(f)),
        })
    }

    /// `auth` and `refresh_token_file`, which must agree with the secret.
    pub(super) fn auth(&self, secret: &SecretKeys) -> Result<AuthMode, TenantConfigError> {
        Ok(match pick!(self, auth).as_deref() {
            None | Some("client_credentials") => {
                if secret.secret.is_none() && secret.unavailable.is_none() {
                    return Err(self.err(
                        "client_secret_env",
                        "client_credentials needs a secret: set client_secret_env, client_secret_file or client_secret",
                    ));
                }
                if self.own.refresh_token_file.is_some() {
                    return Err(self.err(
                        "refresh_token_file",
                        "only used with auth = \"refresh_token\"",
                    ));
                }
                AuthMode::ClientCredentials
            }
            Some("refresh_token") => AuthMode::RefreshToken {
                initial: self
                    .own
                    .refresh_token_file
                    .as_deref()
                    .map(|p| self.base.join(p)),
            },
            Some(other) => {
                return Err(self.err(
                    "auth",
                    format!("unknown auth `{other}` (client_credentials or refresh_token)"),
                ));
            }
        })
    }
}
