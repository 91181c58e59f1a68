//! Shared helpers for the integration tests that run real syslog receivers.
//!
//! Std only. Use from a test crate with `mod support;`. Each test starts its own daemon in its
//! own temp dir on its own ports, so tests can run in parallel.
//!
//! - [`tempdir::TestDir`]: unique temp dir, removed on drop unless `SIEMFWD_KEEP_TEST_DIRS` is set.
//! - [`ports::free_ports`]: distinct free 127.0.0.1 ports (TCP and UDP) chosen at run time.
//! - [`certs::Certs`]: throwaway CA, server cert (localhost/127.0.0.1), client cert
//!   (CN `mde-forwarder`) made with `openssl`.
//! - [`rsyslog::Rsyslog`]: rsyslogd + mmnormalize/liblognorm (CEF/LEEF decoding), TLS (gtls,
//!   ossl with permittedPeer), plain TCP (octet-counted and LF), UDP, RELP (imrelp, plain and
//!   TLS).
//! - [`syslog_ng::SyslogNg`]: syslog-ng 3.38 (unpacked under [`receivers_dir`]) with regexp/kv
//!   CEF/LEEF decoding to JSON, TLS (RFC 5425, client cert required; LF framing), plain TCP
//!   (octet-counted, trimmed, LF with BSD or RFC 5424 parsing), UDP.
//! - [`files`]: bounded waits on the receivers' output files.
//! - [`run`]: `siemfwd run` over the simulator: config, process, admin listener.
//! - [`send`]: plain TCP (octet counting / LF) and UDP senders.
//! - [`relp::RelpClient`]: a minimal RELP client (plain TCP), for the imrelp inputs.
//! - [`cef_contract`]: the default CEF mapping modelled from the source alert, for comparing
//!   what a receiver decoded.
//! - [`cef_check`]: sample alerts, rsyslog's output read up to a sentinel, and decoded CEF
//!   compared with [`cef_contract`] (exactly, or by the rule for records shortened to a size).
//! - [`leef_contract`]: the built-in LEEF mapping modelled from the source alert, LEEF records
//!   split by hand, and decoded LEEF compared with the model (exactly, or by the same rule).
#![allow(dead_code)]

pub mod cef_check;
pub mod cef_contract;
pub mod certs;
pub mod files;
pub mod leef_contract;
pub mod ports;
pub mod process;
pub mod receiver;
pub mod relp;
pub mod rsyslog;
pub mod run;
pub mod send;
pub mod syslog_ng;
pub mod tempdir;

use std::path::PathBuf;

/// Root of the crate (where Cargo.toml is).
pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where `scripts/install-receivers.sh` unpacks receivers that are not apt-installed
/// (syslog-ng): `$SIEMFWD_RECEIVERS_DIR` or `<crate>/target/receivers`.
pub fn receivers_dir() -> PathBuf {
    match std::env::var_os("SIEMFWD_RECEIVERS_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => manifest_dir().join("target").join("receivers"),
    }
}
