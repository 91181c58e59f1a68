//! Records per second through a TLS output (mutual TLS, octet counting, batched writes):
//! 1. to a receiver in this process that decrypts and discards, the sender on a single-threaded
//!    runtime (one core), the receiver on the other core;
//! 2. to a real rsyslog (gtls, client certificate required) that writes every record to a file
//!    as it arrives, and to the tests' rsyslog, which also parses every record with mmnormalize
//!    and writes it to two files.
//!
//! 3. RELP (plain and TLS) beside TLS syslog to the tests' rsyslog (issue 20).
//!
//! Run: `cargo bench --bench transport_throughput` (`-- --records N`, `-- --no-rsyslog`,
//! `-- --relp` for part 3 only, `-- --relp-to HOST:PORT` for RELP to any receiver).
//! Target (issue 3): >= 500,000 records/s of ~600 bytes over TLS to the discarding receiver.
//! Needs `openssl` (and rsyslogd for part 2): `scripts/install-receivers.sh`.
// Tests and benchmarks stop at the first surprise: unwrap is their assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/lean_rsyslog.rs"]
mod lean_rsyslog;
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use siemfwd::config::Config;
use siemfwd::transport::{Batch, Framing, Output};
use support::certs::Certs;
use support::rsyslog::{Rsyslog, RsyslogOpts};
use tokio::io::AsyncReadExt;

const RECORD_BYTES: usize = 600;

/// A syslog record of exactly RECORD_BYTES (before framing) with a numbered externalId.
fn record(i: u64) -> Vec<u8> {
    let head = format!(
        "<130>1 2026-11-22T10:15:58.410Z siemfwd-bench siemfwd - - - CEF:0|Microsoft|Microsoft Defender for Endpoint|1.0|WindowsDefenderAv|Suspicious PowerShell command line|8|externalId=bench-{i:012} rt=1763806558410 cat=Execution shost=WS-FIN-0231 suser=jdoe sntdom=CONTOSO msg="
    );
    let mut r = head.into_bytes();
    r.resize(RECORD_BYTES, b'x');
    r
}

fn fill(batch: &mut Batch, next: &mut u64, records: usize, framing: Framing) {
    for _ in 0..records {
        batch.push_record(framing, &record(*next), "");
        *next += 1;
    }
}

fn tls_output(name: &str, port: u16, certs: &Certs) -> Output {
    let text = format!(
        r#"
[[output]]
name = "{name}"
type = "tls"
address = "localhost:{port}"
ca_file = "{ca}"
cert_file = "{crt}"
key_file = "{key}"
replay_window_bytes = {replay}
"#,
        replay = std::env::var("BENCH_REPLAY_WINDOW").unwrap_or_else(|_| "16777216".into()),
        ca = certs.ca_crt.display(),
        crt = certs.client_crt.display(),
        key = certs.client_key.display(),
    );
    let config = Config::from_toml("bench.toml", &text).unwrap();
    Output::start(config.output(name).unwrap(), None).unwrap()
}

/// Sends `total` records in full batches, keeping a few in flight; returns records/s from the
/// first write to the last batch delivered.
async fn pump(out: &Output, total: u64) -> f64 {
    pump_framed(out, 0, total, Framing::OctetCounting).await
}

/// [`pump`] of records `first..first + total`, framed as `framing` (one record per message
/// for RELP).
async fn pump_framed(out: &Output, first: u64, total: u64, framing: Framing) -> f64 {
    let records_per_batch = 256 * 1024 / (RECORD_BYTES + 4);
    let mut next = first;
    let total = first + total;
    let mut spare: Vec<Batch> = Vec::new();
    let mut in_flight = std::collections::VecDeque::new();
    let start = Instant::now();
    while next < total {
        let mut batch = spare.pop().unwrap_or_else(|| out.new_batch());
        let n = records_per_batch.min((total - next) as usize);
        fill(&mut batch, &mut next, n, framing);
        in_flight.push_back(out.submit(batch).await);
        if in_flight.len() > 4 {
            let r: siemfwd::transport::Receipt = in_flight.pop_front().unwrap();
            spare.push(r.delivered().await.unwrap());
        }
    }
    for r in in_flight {
        r.delivered().await.unwrap();
    }
    (total - first) as f64 / start.elapsed().as_secs_f64()
}

/// A TLS server on the other core that requires the client certificate, decrypts everything
/// and counts the bytes.
fn discarding_receiver(certs: &Certs) -> (u16, Arc<AtomicU64>) {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&certs.server_crt)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(&certs.server_key).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(&certs.ca_crt).unwrap() {
        roots.add(ca.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let bytes = Arc::new(AtomicU64::new(0));
    let counter = bytes.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                let mut tls = acceptor.accept(tcp).await.unwrap();
                let mut buf = vec![0u8; 256 * 1024];
                loop {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            counter.fetch_add(n as u64, Ordering::Relaxed);
                        }
                    }
                }
            }
        });
    });
    (port, bytes)
}

fn wire_bytes(records: u64) -> u64 {
    // "600 " prefix + record
    records * (RECORD_BYTES as u64 + 4)
}

fn to_discarding_receiver(total: u64) {
    let dir = support::tempdir::TestDir::new("bench-tls");
    let certs = Certs::generate(dir.path());
    let (port, received) = discarding_receiver(&certs);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let out = tls_output("discard", port, &certs);
        // Warm up: connect, handshake, grow the socket buffers.
        pump(&out, 50_000).await;
        let mut rates = Vec::new();
        for _ in 0..3 {
            let before = received.load(Ordering::Relaxed);
            let start = Instant::now();
            let sent_rate = pump(&out, total).await;
            while received.load(Ordering::Relaxed) - before < wire_bytes(total) {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let received_rate = total as f64 / start.elapsed().as_secs_f64();
            rates.push(received_rate);
            println!(
                "TLS to a discarding receiver: {total} records of {RECORD_BYTES} B: delivered {:.0}/s, all received {:.0}/s ({:.0} MB/s)",
                sent_rate,
                received_rate,
                received_rate * (RECORD_BYTES + 4) as f64 / 1e6
            );
        }
        rates.sort_by(f64::total_cmp);
        println!(
            "TLS to a discarding receiver: median {:.0} records/s (target >= 500,000)",
            rates[1]
        );
        out.shutdown().await;
    });
}

/// Whether the last 64 KiB of `file` contain `needle`.
fn tail_contains(file: &Path, needle: &[u8]) -> bool {
    let Ok(mut f) = std::fs::File::open(file) else {
        return false;
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
    let mut tail = Vec::new();
    let _ = f.read_to_end(&mut tail);
    tail.windows(needle.len()).any(|w| w == needle)
}

fn to_rsyslog(total: u64) {
    let rs = Rsyslog::start(RsyslogOpts::default());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let out = tls_output("rsyslog", rs.ports().tls_gtls, rs.certs());
        let start = Instant::now();
        let sent_rate = pump(&out, total).await;
        let last = format!("externalId=bench-{:012}", total - 1);
        let deadline = Instant::now() + Duration::from_secs(600);
        while !tail_contains(&rs.parsed_jsonl(), last.as_bytes()) {
            assert!(Instant::now() < deadline, "rsyslog did not write the last record");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let written_rate = total as f64 / start.elapsed().as_secs_f64();
        println!(
            "TLS to rsyslog (gtls, mmnormalize, 2 files): {total} records: delivered {sent_rate:.0}/s, written by rsyslog {written_rate:.0}/s"
        );
        out.shutdown().await;
    });
}

/// Issue 20: RELP (plain and TLS, `imrelp` with its ruleset in direct mode) beside TLS
/// syslog, to the same rsyslog (the tests' one: mmnormalize and two files), one after the
/// other. A RELP batch is delivered when rsyslog acknowledged every record, which in direct
/// mode is once written.
fn relp_beside_tls_to_rsyslog(total: u64) {
    let rs = Rsyslog::start(RsyslogOpts::default());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let certs = rs.certs().clone();
    let relp = |name: &str, port: u16, tls: bool| {
        let tls_keys = if tls {
            format!(
                "tls = true\nca_file = \"{}\"\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
                certs.ca_crt.display(),
                certs.client_crt.display(),
                certs.client_key.display()
            )
        } else {
            String::new()
        };
        let text = format!(
            "[[output]]\nname = \"{name}\"\ntype = \"relp\"\naddress = \"localhost:{port}\"\n{tls_keys}"
        );
        let config = Config::from_toml("bench.toml", &text).unwrap();
        Output::start(config.output(name).unwrap(), None).unwrap()
    };
    rt.block_on(async {
        let mut first = 0;
        for round in 0..3 {
            let out = tls_output("tls", rs.ports().tls_gtls, rs.certs());
            let raw_len = || std::fs::metadata(rs.raw_log()).map_or(0, |m| m.len());
            // raw.log gets `tls_gtls <record>\n` for each, in no set order (rsyslog's queue
            // has several workers): done when all of them are there.
            let written = raw_len() + total * (RECORD_BYTES as u64 + "tls_gtls \n".len() as u64);
            let start = Instant::now();
            let tls_rate = pump_framed(&out, first, total, Framing::OctetCounting).await;
            // Written by rsyslog, for TLS: its queue takes records faster than it writes them.
            while raw_len() < written {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let tls_written = total as f64 / start.elapsed().as_secs_f64();
            out.shutdown().await;
            first += total;
            let out = relp("relp", rs.ports().relp, false);
            let relp_rate = pump_framed(&out, first, total, Framing::Datagram).await;
            out.shutdown().await;
            first += total;
            let out = relp("relp-tls", rs.ports().relp_tls, true);
            let relp_tls_rate = pump_framed(&out, first, total, Framing::Datagram).await;
            out.shutdown().await;
            first += total;
            println!(
                "to the same rsyslog, round {round}, {total} records each: TLS syslog delivered {tls_rate:.0}/s, written by rsyslog {tls_written:.0}/s; RELP acknowledged (= written) {relp_rate:.0}/s ({:.2}x written TLS); RELP over TLS {relp_tls_rate:.0}/s ({:.2}x)",
                relp_rate / tls_written,
                relp_tls_rate / tls_written
            );
        }
    });
}

fn to_lean_rsyslog(total: u64) {
    let dir = support::tempdir::TestDir::new("bench-rsyslog");
    let certs = Certs::generate(&dir.join("certs"));
    let (mut daemon, port) = lean_rsyslog::start(dir.path(), &certs);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let out = tls_output("rsyslog", port, &certs);
        let start = Instant::now();
        let sent_rate = pump(&out, total).await;
        let last = format!("externalId=bench-{:012}", total - 1);
        let deadline = Instant::now() + Duration::from_secs(600);
        while !tail_contains(&dir.join("out.log"), last.as_bytes()) {
            assert!(Instant::now() < deadline, "rsyslog did not write the last record");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let written_rate = total as f64 / start.elapsed().as_secs_f64();
        println!(
            "TLS to rsyslog (gtls, client cert, omfile): {total} records: delivered {sent_rate:.0}/s, written by rsyslog {written_rate:.0}/s"
        );
        out.shutdown().await;
    });
    daemon.stop();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let records = args
        .iter()
        .position(|a| a == "--records")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000_000u64);
    if let Some(address) = args
        .iter()
        .position(|a| a == "--relp-to")
        .and_then(|i| args.get(i + 1))
    {
        // Any RELP receiver (plain): what the output alone can do against it.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let window = std::env::var("BENCH_RELP_WINDOW").unwrap_or_else(|_| "128".into());
            let text = format!(
                "[[output]]\nname = \"relp\"\ntype = \"relp\"\naddress = \"{address}\"\nrelp_window = {window}\n"
            );
            let config = Config::from_toml("bench.toml", &text).unwrap();
            let out = Output::start(config.output("relp").unwrap(), None).unwrap();
            let total = (records / 20).max(1);
            let rate = pump_framed(&out, 0, total, Framing::Datagram).await;
            println!("RELP to {address}: {total} records acknowledged at {rate:.0}/s");
            out.shutdown().await;
        });
        return;
    }
    if args.iter().any(|a| a == "--relp") {
        relp_beside_tls_to_rsyslog((records / 20).max(1));
        return;
    }
    to_discarding_receiver(records);
    if !args.iter().any(|a| a == "--no-rsyslog") {
        to_lean_rsyslog(records);
        to_rsyslog((records / 20).max(1));
        relp_beside_tls_to_rsyslog((records / 20).max(1));
    }
}
