//! TLS for syslog (RFC 5425) with rustls and the ring provider: the server's certificate and
//! name are verified by default, optionally pinned; a client certificate gives mutual TLS.
//! Handshake failures are turned into sentences that say what to change in the config.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, DistinguishedName,
    OtherError, RootCertStore, SignatureScheme,
};

use super::config::TlsSettings;

/// A TLS setting that cannot be put to use (a file that cannot be read, a key that does not
/// fit its certificate).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TlsSetupError(String);

/// Everything needed to open TLS connections for one output.
#[derive(Debug, Clone)]
pub struct TlsClient {
    /// rustls' settings: the roots, the pin or the skipped verification, the client cert.
    pub(crate) config: Arc<ClientConfig>,
    /// The name the certificate must carry (`server_name`, else the host of `address`).
    pub(crate) server_name: ServerName<'static>,
    identity: Arc<ClientIdentity>,
    settings: TlsSettings,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl TlsClient {
    /// Reads the CA bundle and the client certificate and key that `settings` name, and builds
    /// the rustls client (ring provider, TLS 1.2 and 1.3).
    pub(crate) fn new(settings: &TlsSettings) -> Result<TlsClient, TlsSetupError> {
        let provider = provider();
        let server_name = ServerName::try_from(settings.server_name.clone()).map_err(|_| {
            TlsSetupError(format!(
                "server_name `{}` is not a DNS name or IP address",
                settings.server_name
            ))
        })?;
        let verifier: Arc<dyn ServerCertVerifier> = if settings.insecure_skip_verify {
            Arc::new(AcceptAnyCertificate(
                provider.signature_verification_algorithms,
            ))
        } else {
            let roots = load_roots(settings)?;
            let webpki =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| TlsSetupError(format!("cannot use the trusted CAs: {e}")))?;
            match settings.pin_sha256 {
                Some(pin) => Arc::new(PinnedCertificate { inner: webpki, pin }),
                None => webpki,
            }
        };
        let key = match &settings.client_cert {
            Some((cert, key)) => Some(Arc::new(load_identity(cert, key, &provider)?)),
            None => None,
        };
        let identity = Arc::new(ClientIdentity {
            key,
            requested: AtomicBool::new(false),
        });
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsSetupError(format!("TLS versions: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_client_cert_resolver(identity.clone());
        Ok(TlsClient {
            config: Arc::new(config),
            server_name,
            identity,
            settings: settings.clone(),
        })
    }

    /// Call before each handshake; afterwards [`Self::client_cert_requested`] tells whether the
    /// server asked for a certificate.
    pub fn reset_request_flag(&self) {
        self.identity.requested.store(false, Ordering::Relaxed);
    }

    /// Whether the server asked for a client certificate in the last handshake.
    pub fn client_cert_requested(&self) -> bool {
        self.identity.requested.load(Ordering::Relaxed)
    }

    /// Whether it has a client certificate to offer (`cert_file`/`key_file`).
    pub(crate) fn has_client_cert(&self) -> bool {
        self.identity.key.is_some()
    }

    /// A handshake (or the first read after it) failed with `e`: what happened, in words that
    /// say what to set.
    pub fn explain(&self, e: &io::Error) -> String {
        let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) else {
            return format!("TLS handshake failed: {e}");
        };
        let name = &self.settings.server_name;
        match tls {
            rustls::Error::InvalidCertificate(c) => match c {
                CertificateError::UnknownIssuer => match &self.settings.ca_file {
                    None => "certificate signed by unknown authority (set ca_file)".into(),
                    Some(ca) => format!(
                        "certificate signed by unknown authority (not by a CA in ca_file {}; set ca_file to the CA that signed the server's certificate)",
                        ca.display()
                    ),
                },
                CertificateError::BadSignature => match &self.settings.ca_file {
                    None => "certificate signed by unknown authority (set ca_file)".into(),
                    Some(ca) => format!(
                        "certificate signed by unknown authority: its issuer has the name of a CA in ca_file {} but not its key (a different CA of the same name?); set ca_file to the CA that signed the server's certificate",
                        ca.display()
                    ),
                },
                CertificateError::NotValidForName => {
                    format!("server name {name} does not match certificate (set server_name)")
                }
                CertificateError::NotValidForNameContext { presented, .. } => format!(
                    "server name {name} does not match certificate, which is for {} (set server_name or address)",
                    presented
                        .iter()
                        .map(|p| plain_name(p))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    "the server's certificate has expired".into()
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    "the server's certificate is not valid yet (check this machine's clock)".into()
                }
                CertificateError::Other(other) => format!("server certificate rejected: {other}"),
                other => format!("server certificate rejected: {other:?}"),
            },
            rustls::Error::AlertReceived(alert) => self.explain_alert(*alert),
            rustls::Error::PeerIncompatible(p) => {
                format!("the server cannot speak TLS 1.2 or 1.3 with us: {p:?}")
            }
            other => format!("TLS handshake failed: {other}"),
        }
    }

    fn explain_alert(&self, alert: AlertDescription) -> String {
        let client_auth = matches!(
            alert,
            AlertDescription::CertificateRequired
                | AlertDescription::HandshakeFailure
                | AlertDescription::BadCertificate
                | AlertDescription::UnsupportedCertificate
                | AlertDescription::CertificateUnknown
                | AlertDescription::UnknownCA
                | AlertDescription::AccessDenied
                | AlertDescription::DecryptError
        );
        if client_auth && self.client_cert_requested() {
            if self.has_client_cert() {
                return format!(
                    "the server rejected our client certificate (alert {alert:?}): it must be signed by a CA the server trusts and carry a name the server permits"
                );
            }
            return "server requires a client certificate (set cert_file/key_file)".into();
        }
        format!("the server ended the TLS handshake (alert {alert:?})")
    }

    /// The server closed the connection right after a handshake in which it asked for a client
    /// certificate: how some servers reject one.
    pub fn explain_close_after_handshake(&self) -> Option<String> {
        if !self.client_cert_requested() {
            return None;
        }
        Some(if self.has_client_cert() {
            "the server closed the connection after the handshake: it probably rejected our client certificate (check that it is signed by a CA the server trusts and has a permitted name)".into()
        } else {
            "server requires a client certificate (set cert_file/key_file)".into()
        })
    }
}

/// rustls lists presented names in their Debug form (`DnsName("x")`, `IpAddress(1.2.3.4)`).
fn plain_name(presented: &str) -> &str {
    let inner = presented
        .split_once('(')
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .unwrap_or(presented);
    inner.trim_matches('"')
}

fn load_roots(settings: &TlsSettings) -> Result<RootCertStore, TlsSetupError> {
    let mut roots = RootCertStore::empty();
    if let Some(ca) = &settings.ca_file {
        let certs = read_certs(ca, "ca_file")?;
        let (added, _ignored) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(TlsSetupError(format!(
                "ca_file {}: no usable CA certificate in it",
                ca.display()
            )));
        }
    }
    if settings.system_roots {
        let found = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(found.certs);
        if roots.is_empty() {
            return Err(TlsSetupError(
                "no trusted CA: the system has none that could be read, so set ca_file".into(),
            ));
        }
    }
    Ok(roots)
}

fn read_certs(path: &Path, key: &str) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsSetupError(format!("{key} {}: {}", path.display(), pem_error(e))))?;
    if certs.is_empty() {
        return Err(TlsSetupError(format!(
            "{key} {}: no PEM certificate (-----BEGIN CERTIFICATE-----) in it",
            path.display()
        )));
    }
    Ok(certs)
}

fn pem_error(e: rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(io) => io.to_string(),
        other => format!("not valid PEM ({other:?})"),
    }
}

fn load_identity(
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsSetupError> {
    let chain = read_certs(cert, "cert_file")?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        TlsSetupError(format!(
            "key_file {}: {} (PKCS#8, RSA or EC private key in PEM expected)",
            key.display(),
            pem_error(e)
        ))
    })?;
    CertifiedKey::from_der(chain, key_der, provider).map_err(|e| {
        TlsSetupError(format!(
            "cert_file {} and key_file {}: {e}",
            cert.display(),
            key.display()
        ))
    })
}

/// Gives the configured client certificate (if any) and remembers that the server asked.
#[derive(Debug)]
struct ClientIdentity {
    key: Option<Arc<CertifiedKey>>,
    requested: AtomicBool,
}

impl ResolvesClientCert for ClientIdentity {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        self.requested.store(true, Ordering::Relaxed);
        self.key.clone()
    }

    fn has_certs(&self) -> bool {
        // Also when we have none, so that `resolve` records the request.
        true
    }
}

/// The fingerprint of a certificate, as `AB:CD:...`.
pub fn fingerprint_sha256(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

#[derive(Debug, thiserror::Error)]
#[error("its SHA-256 fingerprint {presented} is not pin_sha256")]
struct PinMismatch {
    presented: String,
}

/// The usual verification, and then the end-entity certificate must have the pinned hash.
#[derive(Debug)]
struct PinnedCertificate {
    inner: Arc<WebPkiServerVerifier>,
    pin: [u8; 32],
}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        let digest = ring::digest::digest(&ring::digest::SHA256, end_entity.as_ref());
        if digest.as_ref() != self.pin {
            return Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                OtherError(Arc::new(PinMismatch {
                    presented: fingerprint_sha256(end_entity.as_ref()),
                })),
            )));
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn root_hint_subjects(&self) -> Option<&[DistinguishedName]> {
        self.inner.root_hint_subjects()
    }
}

/// `insecure_skip_verify = true`: any certificate for any name. Signatures are still checked,
/// so the handshake is a real one; only the identity of the server is not.
#[derive(Debug)]
struct AcceptAnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}
