//! The TLS keys of an `[[output]]` (`ca_file`, `cert_file`, `key_file`, `server_name`,
//! `pin_sha256`, `insecure_skip_verify`): what they must be, and the settings they become.

use std::path::{Path, PathBuf};

use super::{OutputConfigError, RawOutput, host_of};

/// How a TLS output checks the server and proves who it is.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// PEM bundle of the CAs that sign the SIEM's certificate.
    pub ca_file: Option<PathBuf>,
    /// Trust the system's CAs too (default: only when no `ca_file` is given).
    pub system_roots: bool,
    /// Client certificate chain and key for mutual TLS.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Name to verify the certificate against; default the host of `address`.
    pub server_name: String,
    /// SHA-256 of the server's certificate (DER), required in addition to the usual checks.
    pub pin_sha256: Option<[u8; 32]>,
    /// Accept any certificate. Only by an explicit `insecure_skip_verify = true`, logged loudly.
    pub insecure_skip_verify: bool,
}

impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSettings")
            .field("ca_file", &self.ca_file)
            .field("system_roots", &self.system_roots)
            .field("client_cert", &self.client_cert)
            .field("server_name", &self.server_name)
            .field("pinned", &self.pin_sha256.is_some())
            .field("insecure_skip_verify", &self.insecure_skip_verify)
            .finish()
    }
}

/// A `pin_sha256` that is not a SHA-256 fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a SHA-256 fingerprint (64 hex digits, `:` allowed)")]
pub struct FingerprintError(String);

/// The TLS keys of the output, checked.
impl RawOutput {
    /// Only a tls output takes the TLS keys.
    pub(super) fn check_no_tls_keys(&self) -> Result<(), OutputConfigError> {
        let tls_keys = [
            ("ca_file", self.ca_file.is_some()),
            ("system_roots", self.system_roots.is_some()),
            ("cert_file", self.cert_file.is_some()),
            ("key_file", self.key_file.is_some()),
            ("server_name", self.server_name.is_some()),
            ("pin_sha256", self.pin_sha256.is_some()),
            ("insecure_skip_verify", self.insecure_skip_verify.is_some()),
        ];
        let takes_tls = self.kind == "tls" || (self.kind == "relp" && self.tls == Some(true));
        if !takes_tls && let Some((key, _)) = tls_keys.iter().find(|(_, set)| *set) {
            if self.kind == "relp" {
                return Err(self.err(
                    key,
                    format!("a relp output takes `{key}` with `tls = true` only"),
                ));
            }
            return Err(self.err(key, format!("only a tls output has `{key}`")));
        }
        Ok(())
    }

    /// The TLS keys of a tls output to `address` (checked).
    pub(super) fn tls(&self, address: &str, base: &Path) -> Result<TlsSettings, OutputConfigError> {
        let client_cert = match (&self.cert_file, &self.key_file) {
            (Some(c), Some(k)) => Some((base.join(c), base.join(k))),
            (None, None) => None,
            (Some(_), None) => {
                return Err(self.err("key_file", "cert_file needs key_file too"));
            }
            (None, Some(_)) => {
                return Err(self.err("cert_file", "key_file needs cert_file too"));
            }
        };
        let server_name = match &self.server_name {
            Some(n) if n.is_empty() => {
                return Err(self.err("server_name", "must not be empty"));
            }
            Some(n) => n.clone(),
            None => host_of(address).to_owned(),
        };
        let pin_sha256 = self
            .pin_sha256
            .as_deref()
            .map(parse_fingerprint)
            .transpose()
            .map_err(|m| self.err("pin_sha256", m))?;
        let insecure_skip_verify = self.insecure_skip_verify.unwrap_or(false);
        if insecure_skip_verify && (self.ca_file.is_some() || pin_sha256.is_some()) {
            return Err(self.err(
                "insecure_skip_verify",
                "cannot be combined with ca_file or pin_sha256, which it would ignore",
            ));
        }
        Ok(TlsSettings {
            ca_file: self.ca_file.as_deref().map(|p| base.join(p)),
            system_roots: self.system_roots.unwrap_or(self.ca_file.is_none()),
            client_cert,
            server_name,
            pin_sha256,
            insecure_skip_verify,
        })
    }
}

/// A SHA-256 fingerprint as 64 hex digits, with or without `:` between bytes.
fn parse_fingerprint(s: &str) -> Result<[u8; 32], FingerprintError> {
    let hex: String = s.chars().filter(|c| *c != ':').collect();
    let bad = || FingerprintError(s.to_owned());
    if hex.len() != 64 {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}
