//! Throwaway PKI for TLS tests, made with the `openssl` command line tool (as in
//! shared/reference/make-certs.sh): a CA, a server certificate for `localhost` / 127.0.0.1 and
//! a client certificate with CN `mde-forwarder` for mutual TLS.

use std::path::{Path, PathBuf};
use std::process::Command;

/// CN of the client certificate (the rsyslog ossl input's permitted peer).
pub const CLIENT_CN: &str = "mde-forwarder";

/// Key algorithm of the generated certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// ECDSA P-256 (fast to generate; the default).
    EcP256,
    /// RSA 2048 (as shared/reference/make-certs.sh).
    Rsa2048,
}

impl KeyType {
    fn newkey_args(self) -> &'static [&'static str] {
        match self {
            KeyType::EcP256 => &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
            KeyType::Rsa2048 => &["-newkey", "rsa:2048"],
        }
    }
}

/// Paths of the generated PEM files (all in one directory).
#[derive(Debug, Clone)]
pub struct Certs {
    pub key_type: KeyType,
    pub dir: PathBuf,
    pub ca_crt: PathBuf,
    pub ca_key: PathBuf,
    pub server_crt: PathBuf,
    pub server_key: PathBuf,
    pub client_crt: PathBuf,
    pub client_key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("openssl not runnable ({e}): run scripts/install-receivers.sh"));
    assert!(
        out.status.success(),
        "openssl {} failed: {}\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Certs {
    /// Generates CA, server and client certificates (ECDSA P-256) into `dir`.
    pub fn generate(dir: &Path) -> Certs {
        Self::generate_with(dir, KeyType::EcP256)
    }

    /// Generates CA, server and client certificates with `key_type` keys into `dir` (created
    /// if missing).
    pub fn generate_with(dir: &Path, key_type: KeyType) -> Certs {
        std::fs::create_dir_all(dir).expect("create certs dir");
        let mut args = vec!["req", "-x509"];
        args.extend_from_slice(key_type.newkey_args());
        args.extend_from_slice(&["-nodes", "-keyout", "ca.key", "-out", "ca.crt"]);
        args.extend_from_slice(&["-days", "30", "-subj", "/CN=Test CA"]);
        openssl(dir, &args);
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        )
        .expect("write server.ext");
        std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n")
            .expect("write client.ext");
        Self::leaf(dir, key_type, "server", "/CN=localhost");
        Self::leaf(dir, key_type, "client", &format!("/CN={CLIENT_CN}"));
        Certs {
            key_type,
            dir: dir.to_path_buf(),
            ca_crt: dir.join("ca.crt"),
            ca_key: dir.join("ca.key"),
            server_crt: dir.join("server.crt"),
            server_key: dir.join("server.key"),
            client_crt: dir.join("client.crt"),
            client_key: dir.join("client.key"),
        }
    }

    /// Key + CSR + CA-signed cert `<name>.key`/`<name>.crt`, extensions from `<name>.ext`.
    fn leaf(dir: &Path, key_type: KeyType, name: &str, subj: &str) {
        let (key, csr, crt, ext) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
            format!("{name}.ext"),
        );
        let mut args = vec!["req"];
        args.extend_from_slice(key_type.newkey_args());
        args.extend_from_slice(&["-nodes", "-keyout", &key, "-out", &csr, "-subj", subj]);
        openssl(dir, &args);
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &crt,
                "-days",
                "30",
                "-extfile",
                &ext,
            ],
        );
    }

    /// An extra client certificate `<name>.crt`/`<name>.key` signed by this CA with subject
    /// `subj` (e.g. a wrong CN for permittedPeer tests).
    pub fn extra_client(&self, name: &str, subj: &str) -> (PathBuf, PathBuf) {
        std::fs::write(
            self.dir.join(format!("{name}.ext")),
            "extendedKeyUsage=clientAuth\n",
        )
        .expect("write ext");
        Self::leaf(&self.dir, self.key_type, name, subj);
        (
            self.dir.join(format!("{name}.crt")),
            self.dir.join(format!("{name}.key")),
        )
    }

    /// SHA-256 fingerprint of the server certificate as printed by openssl
    /// (`AA:BB:...`, upper case), for pinning tests.
    pub fn server_fingerprint_sha256(&self) -> String {
        let out = Command::new("openssl")
            .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
            .arg(&self.server_crt)
            .output()
            .expect("run openssl");
        assert!(out.status.success(), "openssl x509 -fingerprint failed");
        let s = String::from_utf8_lossy(&out.stdout);
        s.trim().rsplit('=').next().unwrap_or_default().to_string()
    }
}
