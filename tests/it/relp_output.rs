//! The RELP output (issue 20) against receivers that misbehave, written by hand on 127.0.0.1:
//! one that refuses records (`500`), one that stops acknowledging, one that drops the session
//! with records unanswered. rsyslog's own imrelp is in `relp_rsyslog`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use siemfwd::alert::Timestamp;
use siemfwd::config::Config;
use siemfwd::mapping::TenantIdentity;
use siemfwd::reader::{self, Item};
use siemfwd::transport::relp::frame::{self, Frame};
use siemfwd::transport::{Batch, Output};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What a hand-written receiver does with a `syslog` frame: answer it (with this response
/// text), leave it unanswered, or end the connection.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Answer(&'static str),
    Silent,
    Hangup,
}

/// Every `syslog` message a receiver read, in order, over all its connections.
type Log = Arc<Mutex<Vec<String>>>;

/// A RELP receiver on 127.0.0.1 whose answer to each message `reply` decides (given the
/// message and how many it read before); its address and what it read.
async fn receiver(reply: impl Fn(&str, usize) -> Reply + Send + Sync + 'static) -> (String, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let log: Log = Arc::default();
    let reply = Arc::new(reply);
    let seen = log.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let (reply, seen) = (reply.clone(), seen.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 65536];
                loop {
                    while let Ok(Some((f, used))) = frame::parse_frame(&buf, 1 << 20) {
                        buf.drain(..used);
                        let answer = match f.command.as_str() {
                            "open" => {
                                Some("200 OK\nrelp_version=0\nrelp_software=test\ncommands=syslog")
                            }
                            "close" => Some(""),
                            _ => {
                                let text = String::from_utf8_lossy(&f.data).into_owned();
                                let before = {
                                    let mut seen = seen.lock().unwrap();
                                    seen.push(text.clone());
                                    seen.len() - 1
                                };
                                match reply(&text, before) {
                                    Reply::Answer(a) => Some(a),
                                    Reply::Silent => None,
                                    Reply::Hangup => return,
                                }
                            }
                        };
                        if let Some(a) = answer {
                            if write_rsp(&mut conn, &f, a).await.is_err() {
                                return;
                            }
                        }
                    }
                    match conn.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    (address, log)
}

async fn write_rsp(conn: &mut tokio::net::TcpStream, f: &Frame, data: &str) -> std::io::Result<()> {
    let mut out = Vec::new();
    frame::write_frame(f.txnr, "rsp", data.as_bytes(), &mut out);
    conn.write_all(&out).await
}

fn output(address: &str, extra: &str) -> Output {
    let config = Config::from_toml(
        "test.toml",
        &format!(
            "[[output]]\nname = \"relp\"\ntype = \"relp\"\naddress = \"{address}\"\n\
             reconnect_backoff = \"50ms\"\nreconnect_backoff_max = \"200ms\"\n{extra}"
        ),
    )
    .unwrap();
    Output::start(&config.outputs[0], None).unwrap()
}

/// A batch of `n` records of alerts `relp-<first>`...
fn batch(out: &Output, first: usize, n: usize) -> Batch {
    let sample: Value =
        serde_json::from_str(include_str!("../../examples/alerts/realistic-page.json")).unwrap();
    let template = sample["value"][0].clone();
    let alerts: Vec<Value> = (first..first + n)
        .map(|i| {
            let mut a = template.clone();
            a["id"] = Value::String(format!("relp-{i:06}"));
            a
        })
        .collect();
    let page = serde_json::to_vec(&serde_json::json!({ "value": alerts })).unwrap();
    let mut batch = out.new_batch();
    let tenant = TenantIdentity {
        name: "Contoso",
        id: "t",
    };
    let now = Timestamp::from_unix_nanos(1_764_000_000_000_000_000, 6);
    reader::read_page(&page, false, |item| {
        let Item::Alert(a) = item else { panic!() };
        out.encoder()
            .encode(&a, tenant, now, &mut batch)
            .map(|_| ())
    })
    .unwrap();
    batch
}

/// The `relp-NNNNNN` id of a message.
fn id(message: &str) -> String {
    let at = message.find("externalId=relp-").unwrap() + "externalId=".len();
    message[at..at + 11].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_record_is_sent_again_and_its_batch_counts_only_once_accepted() {
    // The receiver refuses relp-000003 twice, then takes it.
    let (address, log) = receiver(|m, _| {
        let refusals = 2;
        if id(m) == "relp-000003"
            && SEEN_3.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < refusals
        {
            Reply::Answer("500 queue full")
        } else {
            Reply::Answer("200 OK")
        }
    })
    .await;
    static SEEN_3: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let out = output(&address, "delivery_timeout = \"10s\"\n");
    let mark_before = out.written_mark();
    let b = batch(&out, 0, 10);
    out.send(b).await.unwrap();
    assert!(out.is_confirmed(out.written_mark()));
    assert!(out.written_mark() > mark_before);
    let seen = log.lock().unwrap().clone();
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for m in &seen {
        *count.entry(id(m)).or_default() += 1;
    }
    assert_eq!(count.len(), 10);
    assert_eq!(count["relp-000003"], 3, "refused twice, then taken");
    assert!(count.iter().all(|(k, n)| k == "relp-000003" || *n == 1));
    out.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_refused_for_good_gives_its_batch_back_at_delivery_timeout() {
    let (address, _log) = receiver(|m, _| {
        if id(m) == "relp-000001" {
            Reply::Answer("500 message too large for this ruleset")
        } else {
            Reply::Answer("200 OK")
        }
    })
    .await;
    let out = output(&address, "delivery_timeout = \"1s\"\n");
    let e = out.send(batch(&out, 0, 5)).await.unwrap_err();
    let said = e.to_string();
    assert!(
        said.contains("not acknowledged within delivery_timeout")
            && said.contains("500 message too large")
            && said.contains("relp-000001"),
        "{said}"
    );
    assert_eq!(e.batch.len(), 5, "the batch comes back, undelivered");
    assert_eq!(
        out.stats().batches_delivered,
        0,
        "nothing counted as delivered"
    );
    assert_eq!(out.stats().batches_failed, 1);
    out.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_stops_acknowledging_gets_no_more_than_the_window() {
    // Answers the first 20 messages, then reads on without a word.
    let (address, log) = receiver(|_, before| {
        if before < 20 {
            Reply::Answer("200 OK")
        } else {
            Reply::Silent
        }
    })
    .await;
    let out = output(&address, "relp_window = 16\ndelivery_timeout = \"2s\"\n");
    let e = out.send(batch(&out, 0, 200)).await.unwrap_err();
    assert!(e.to_string().contains("not acknowledged"), "{e}");
    let read = log.lock().unwrap().len();
    // 20 answered, then at most a window's worth unanswered on each session the output opened
    // within the delivery time.
    let sessions = out.stats().connects.max(1) as usize;
    assert!(read >= 20 + 16, "{read} read");
    assert!(
        read <= 20 + 16 * sessions,
        "{read} messages read over {sessions} sessions: more than the window ahead"
    );
    out.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_broken_session_left_unacknowledged_is_sent_again() {
    // The first connection answers 30 messages, reads 5 more without answering, and hangs up.
    let (address, log) = receiver(|_, before| match before {
        0..30 => Reply::Answer("200 OK"),
        30..35 => Reply::Silent,
        35 => Reply::Hangup,
        _ => Reply::Answer("200 OK"),
    })
    .await;
    let out = output(&address, "relp_window = 8\ndelivery_timeout = \"10s\"\n");
    out.send(batch(&out, 0, 100)).await.unwrap();
    let seen = log.lock().unwrap().clone();
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for m in &seen {
        *count.entry(id(m)).or_default() += 1;
    }
    assert_eq!(count.len(), 100, "every record arrived");
    let twice = count.values().filter(|n| **n > 1).count();
    assert!(
        (1..=8).contains(&twice),
        "only the unacknowledged were sent again: {twice}"
    );
    assert_eq!(out.stats().connects, 2);
    out.shutdown().await;
}

// ---- against rsyslog's imrelp (its ruleset in direct mode: a message is written before it is
// acknowledged; tests/it/receivers/rsyslog.conf.in) ----

use crate::support;
use support::rsyslog::{Rsyslog, RsyslogOpts};

/// `relp-NNNNNN` ids in rsyslog's raw log under `input`, with how often each arrived.
fn arrived(rs: &Rsyslog, input: &str) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    let prefix = format!("{input} ");
    for line in support::files::read_lines(&rs.raw_log()) {
        if line.starts_with(&prefix) && line.contains("externalId=relp-") {
            *seen.entry(id(&line)).or_insert(0) += 1;
        }
    }
    seen
}

/// Sends `batches` batches of 100 records, the receiver stopped once by `interrupt` when
/// about a third has arrived; every record must arrive (at least once).
async fn through_an_interruption(interrupt: fn(&mut Rsyslog), what: &str) {
    const BATCHES: usize = 1_000;
    let mut rs = Rsyslog::start(RsyslogOpts::default());
    let address = format!("127.0.0.1:{}", rs.ports().relp);
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let sender = {
        let sent = sent.clone();
        tokio::spawn(async move {
            let out = output(&address, "delivery_timeout = \"60s\"\n");
            for i in 0..BATCHES {
                let b = batch(&out, i * 100, 100);
                out.send(b).await.unwrap();
                sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            let stats = out.stats();
            out.shutdown().await;
            stats
        })
    };
    while sent.load(std::sync::atomic::Ordering::SeqCst) < BATCHES / 3 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    interrupt(&mut rs);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    rs.restart();
    let stats = sender.await.unwrap();
    let got = arrived(&rs, "relp_plain");
    let missing = (0..BATCHES * 100)
        .filter(|i| !got.contains_key(&format!("relp-{i:06}")))
        .count();
    let duplicates: usize = got.values().map(|n| n - 1).sum();
    eprintln!(
        "relp through {what}: {} records, {missing} missing, {duplicates} duplicates, {} sessions, {} resent",
        BATCHES * 100,
        stats.connects,
        stats.records_resent
    );
    assert_eq!(missing, 0, "{what}: records lost");
    assert!(stats.connects >= 2, "the output reconnected: {stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_records_through_a_graceful_receiver_restart_lose_none() {
    through_an_interruption(|rs| rs.stop(), "a graceful restart").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_records_through_a_receiver_kill_9_lose_none() {
    through_an_interruption(|rs| rs.kill9(), "kill -9").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relp_over_tls_with_a_client_certificate_reaches_imrelp() {
    let rs = Rsyslog::start(RsyslogOpts::default());
    let certs = rs.certs().clone();
    let out = output(
        &format!("localhost:{}", rs.ports().relp_tls),
        &format!(
            "tls = true\nca_file = \"{}\"\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
            certs.ca_crt.display(),
            certs.client_crt.display(),
            certs.client_key.display()
        ),
    );
    for i in 0..10 {
        out.send(batch(&out, i * 100, 100)).await.unwrap();
    }
    out.shutdown().await;
    let got = arrived(&rs, "relp_tls");
    assert_eq!(got.len(), 1_000, "every record, over TLS");
    // Without the client certificate, imrelp (certvalid) refuses the session.
    let out = output(
        &format!("localhost:{}", rs.ports().relp_tls),
        &format!(
            "tls = true\nca_file = \"{}\"\ndelivery_timeout = \"1s\"\n",
            certs.ca_crt.display()
        ),
    );
    let e = out.send(batch(&out, 0, 1)).await.unwrap_err();
    assert_eq!(out.stats().batches_delivered, 0, "{e}");
    out.shutdown().await;
}

/// `siemfwd check` opens a RELP session with the output's receiver and reports its offers;
/// pointed at a syslog port instead, it says that is not RELP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_opens_a_relp_session_and_reports_the_receivers_offers() {
    let rs = Rsyslog::start(RsyslogOpts::default());
    let dir = support::tempdir::TestDir::new("relp-check");
    let check = |port: u16| {
        std::fs::write(
            dir.join("siemfwd.toml"),
            format!(
                "state_dir = \"state\"\n[[output]]\nname = \"relay\"\ntype = \"relp\"\naddress = \"127.0.0.1:{port}\"\nconnect_timeout = \"2s\"\n"
            ),
        )
        .unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_siemfwd"))
            .args(["check", "--config"])
            .arg(dir.join("siemfwd.toml"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    };
    let said = check(rs.ports().relp);
    assert!(
        said.contains("RELP session with 127.0.0.1:")
            && said.contains("relp_version=0, relp_software=librelp"),
        "{said}"
    );
    let said = check(rs.ports().tcp);
    assert!(said.contains("is this a RELP port"), "{said}");
}
