//! The HTTP client of one tenant: rustls with the ring provider, the system's CAs plus an
//! optional `ca_file`, an optional proxy, a per-request timeout.

use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::config::TenantConfig;

/// An HTTP client that cannot be built from the tenant's settings.
#[derive(Debug, thiserror::Error)]
#[error("tenant \"{tenant}\": {message}")]
pub struct HttpSetupError {
    /// The tenant's `name` in the config.
    pub tenant: String,
    /// What failed: the `ca_file` that cannot be read or holds no certificate, a `proxy` the
    /// client refuses, or the client itself.
    pub message: String,
}

/// HTTP clients shared by tenants with the same proxy, CA and timeout: one connection pool and
/// one copy of the system's CAs for a thousand tenants instead of a thousand.
#[derive(Default)]
pub struct ClientCache {
    clients: std::collections::HashMap<
        (
            Option<String>,
            Option<std::path::PathBuf>,
            std::time::Duration,
        ),
        reqwest::Client,
    >,
}

impl ClientCache {
    /// The client for `tenant`'s `proxy`, `ca_file` and `request_timeout`: the one already
    /// built for the same three, or a new one kept for the next tenant.
    pub fn client_for(&mut self, tenant: &TenantConfig) -> Result<reqwest::Client, HttpSetupError> {
        let key = (
            tenant.proxy.as_ref().map(|u| u.to_string()),
            tenant.ca_file.clone(),
            tenant.request_timeout,
        );
        if let Some(c) = self.clients.get(&key) {
            return Ok(c.clone());
        }
        let c = client(tenant)?;
        self.clients.insert(key, c.clone());
        Ok(c)
    }
}

/// A new HTTP client for `tenant`: rustls with the ring provider, the system's CAs plus
/// `ca_file`, `proxy` (else `HTTPS_PROXY`/`NO_PROXY`), and `request_timeout` per call.
pub fn client(tenant: &TenantConfig) -> Result<reqwest::Client, HttpSetupError> {
    let err = |message: String| HttpSetupError {
        tenant: tenant.name.clone(),
        message,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if let Some(ca) = &tenant.ca_file {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(ca)
            .and_then(|it| it.collect())
            .map_err(|e| err(format!("ca_file {}: {e:?}", ca.display())))?;
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(err(format!(
                "ca_file {}: no CA certificate in it",
                ca.display()
            )));
        }
    }
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut builder = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .user_agent(concat!("siemfwd/", env!("CARGO_PKG_VERSION")))
        .timeout(tenant.request_timeout)
        .connect_timeout(
            tenant
                .request_timeout
                .min(std::time::Duration::from_secs(30)),
        )
        .redirect(reqwest::redirect::Policy::none());
    // Without `proxy`, the usual HTTPS_PROXY / NO_PROXY variables apply.
    if let Some(proxy) = &tenant.proxy {
        builder = builder
            .proxy(reqwest::Proxy::all(proxy.as_str()).map_err(|e| err(format!("proxy: {e}")))?);
    }
    builder
        .build()
        .map_err(|e| err(format!("cannot build the HTTP client: {e}")))
}
