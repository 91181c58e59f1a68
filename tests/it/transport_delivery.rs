//! The delivery contract of an output, against receivers written here on 127.0.0.1:0 that
//! speak real bytes: whole batches, nothing lost when a peer closes between batches, undelivered
//! batches given back with their alert ids, backpressure from a bounded queue, datagrams and
//! files. (Real rsyslog and syslog-ng are in transport_rsyslog.rs / transport_syslog_ng.rs.)
//!
//! Long (over 500 lines) by its receivers, each written here to misbehave in one way, and the
//! scenario that goes with each.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use siemfwd::alert::Timestamp;
use siemfwd::config::Config;
use siemfwd::mapping::TenantIdentity;
use siemfwd::reader::{self, Item};
use siemfwd::transport::{Batch, Output};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

const TENANT: TenantIdentity<'static> = TenantIdentity {
    name: "Contoso",
    id: "00000000-1111-2222-3333-444444444444",
};

fn output(toml_body: &str) -> Output {
    let text = format!("[[output]]\nname = \"test\"\n{toml_body}");
    let config = Config::from_toml("test.toml", &text).unwrap();
    Output::start(config.output("test").unwrap(), None).unwrap()
}

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/examples/alerts/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// The alerts of an API page encoded for `out`, `times` times over.
fn batch_of(out: &Output, page: &[u8], times: usize) -> Batch {
    let mut batch = out.new_batch();
    let now = Timestamp::from_unix_nanos(1_764_000_000_000_000_000, 6);
    for _ in 0..times {
        reader::read_page(page, false, |item| {
            let Item::Alert(alert) = item else {
                panic!("sample alerts are valid")
            };
            out.encoder()
                .encode(&alert, TENANT, now, &mut batch)
                .map(|_| ())
        })
        .unwrap();
    }
    batch
}

/// Records received by [`FrameReceiver`], per connection.
#[derive(Default)]
struct Received {
    connections: Vec<Vec<Vec<u8>>>,
}

impl Received {
    fn all(&self) -> Vec<Vec<u8>> {
        self.connections.iter().flatten().cloned().collect()
    }
}

/// A syslog receiver for octet-counted TCP. With `close_after` it reads that many records on
/// each connection and then closes it, as a receiver being restarted does.
struct FrameReceiver {
    port: u16,
    received: Arc<Mutex<Received>>,
    changed: Arc<Notify>,
    /// Connections still being read.
    open: Arc<std::sync::atomic::AtomicUsize>,
}

impl FrameReceiver {
    async fn start(close_after: Option<usize>) -> FrameReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        FrameReceiver::serve(listener, close_after)
    }

    fn serve(listener: TcpListener, close_after: Option<usize>) -> FrameReceiver {
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Received::default()));
        let changed = Arc::new(Notify::new());
        let open = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (r, c, o) = (received.clone(), changed.clone(), open.clone());
        tokio::spawn(async move {
            loop {
                let (socket, _) = listener.accept().await.unwrap();
                let index = {
                    let mut r = r.lock().unwrap();
                    r.connections.push(Vec::new());
                    r.connections.len() - 1
                };
                let (r, c, o) = (r.clone(), c.clone(), o.clone());
                o.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    read_frames(socket, close_after, |record| {
                        r.lock().unwrap().connections[index].push(record);
                        c.notify_waiters();
                    })
                    .await;
                    o.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                });
            }
        });
        FrameReceiver {
            port,
            received,
            changed,
            open,
        }
    }

    /// Whether every connection so far has ended.
    fn closed_all(&self) -> bool {
        self.open.load(std::sync::atomic::Ordering::SeqCst) == 0
    }

    async fn wait_for(&self, n: usize) -> Vec<Vec<u8>> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let notified = self.changed.notified();
            let all = self.received.lock().unwrap().all();
            if all.len() >= n {
                return all;
            }
            assert!(
                tokio::time::timeout_at(deadline, notified).await.is_ok(),
                "received {} records of {n}",
                all.len()
            );
        }
    }
}

/// Reads `LEN SP MSG` frames until EOF, or until `close_after` records have been read and
/// nothing more arrives for 100 ms (then it closes, as a receiver being restarted would after
/// draining its socket).
async fn read_frames(
    mut socket: TcpStream,
    close_after: Option<usize>,
    mut record: impl FnMut(Vec<u8>),
) {
    let mut buf = Vec::new();
    let mut count = 0;
    loop {
        // Parse every complete frame in the buffer.
        while let Some(sp) = buf.iter().position(|&b| b == b' ') {
            let len: usize = std::str::from_utf8(&buf[..sp])
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| {
                    panic!(
                        "bad frame length {:?}",
                        String::from_utf8_lossy(&buf[..sp.min(20)])
                    )
                });
            if buf.len() < sp + 1 + len {
                break;
            }
            record(buf[sp + 1..sp + 1 + len].to_vec());
            buf.drain(..sp + 1 + len);
            count += 1;
        }
        let mut chunk = [0u8; 64 * 1024];
        let read = socket.read(&mut chunk);
        let n = if close_after.is_some_and(|n| count >= n) && buf.is_empty() {
            match tokio::time::timeout(Duration::from_millis(100), read).await {
                Err(_) => return,
                Ok(r) => r,
            }
        } else {
            read.await
        };
        match n {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn octet_counted_batches_arrive_whole_and_in_order() {
    let rx = FrameReceiver::start(None).await;
    let out = output(&format!(
        "type = \"tcp\"\naddress = \"127.0.0.1:{}\"\n",
        rx.port
    ));
    let page = sample("realistic-page.json");
    let mut sent = Vec::new();
    for times in [1, 3, 5] {
        let batch = batch_of(&out, &page, times);
        sent.extend(batch.records().map(|r| {
            let sp = r.iter().position(|&b| b == b' ').unwrap();
            r[sp + 1..].to_vec()
        }));
        out.send(batch).await.unwrap();
    }
    let got = rx.wait_for(sent.len()).await;
    assert_eq!(got.len(), 81);
    assert_eq!(got, sent, "records must arrive byte for byte, in order");
    assert_eq!(
        rx.received.lock().unwrap().connections.len(),
        1,
        "one long-lived connection"
    );
    for r in &got {
        assert!(r.starts_with(b"<") && r.windows(14).any(|w| w == b"CEF:0|Microsof"));
        assert!(r.len() <= 8192);
    }
    out.shutdown().await;
}

/// Regression: a receiver that closed the connection between two batches must not swallow the
/// second one (the first write after a FIN succeeds locally and the data is lost). After each
/// break the output also resends its replay window, so the receiver sees earlier records again:
/// duplicates, never loss.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_closed_between_batches_is_noticed_and_nothing_is_lost() {
    let page = sample("realistic-page.json");
    let rx = FrameReceiver::start(Some(9)).await;
    let out = output(&format!(
        "type = \"tcp\"\naddress = \"127.0.0.1:{}\"\nreconnect_backoff = \"50ms\"\n",
        rx.port
    ));
    let mut sent = Vec::new();
    for round in 1..=4 {
        // Distinct records per round: the same alerts at another time.
        let now = Timestamp::from_unix_nanos(1_764_000_000_000_000_000 + round, 6);
        let mut batch = out.new_batch();
        reader::read_page(&page, false, |item| {
            let Item::Alert(a) = item else { panic!() };
            out.encoder()
                .encode(&a, TENANT, now, &mut batch)
                .map(|_| ())
        })
        .unwrap();
        sent.extend(batch.records().map(<[u8]>::to_vec));
        out.send(batch).await.unwrap();
        // Wait until the receiver has read this round's batch and closed.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while rx.received.lock().unwrap().connections.len() < round as usize || !rx.closed_all() {
            if tokio::time::Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let (unique, connections) = {
        let r = rx.received.lock().unwrap();
        let unique: std::collections::HashSet<Vec<u8>> = r.all().into_iter().collect();
        (unique, r.connections.len())
    };
    let framed: std::collections::HashSet<Vec<u8>> = sent
        .iter()
        .map(|r| r[r.iter().position(|&b| b == b' ').unwrap() + 1..].to_vec())
        .collect();
    assert_eq!(unique, framed, "every record of every batch arrived");
    // At least one reconnect per close; more since an idle connection is watched too: this
    // receiver also closes the connection the window is resent on.
    assert!(connections >= 4, "{connections} connections");
    out.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_output_gives_the_batch_back_with_its_alert_ids() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = output(&format!(
        "type = \"tcp\"\naddress = \"127.0.0.1:{port}\"\ndelivery_timeout = \"10s\"\nreconnect_backoff = \"1s\"\n"
    ));
    let started = tokio::time::Instant::now();
    let err = out
        .send(batch_of(&out, &sample("realistic-page.json"), 1))
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert!(
        waited <= Duration::from_secs(10) && waited >= Duration::from_secs(3),
        "retried with backoff within delivery_timeout, waited {waited:?}"
    );
    assert_eq!(
        err.reason,
        format!("connection refused to 127.0.0.1:{port}")
    );
    assert_eq!(err.batch.len(), 9);
    let ids: Vec<&str> = err.batch.alert_ids().collect();
    assert_eq!(ids[0], "da637472900382838869_1364969609");
    assert!(err.to_string().contains("9 records not delivered"), "{err}");
    out.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_resumes_when_the_receiver_comes_back() {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = std_listener.local_addr().unwrap().port();
    drop(std_listener);
    let out = Arc::new(output(&format!(
        "type = \"tcp\"\naddress = \"127.0.0.1:{port}\"\nreconnect_backoff = \"100ms\"\nreconnect_backoff_max = \"200ms\"\n"
    )));
    let batch = batch_of(&out, &sample("realistic-page.json"), 1);
    let sending = tokio::spawn({
        let out = out.clone();
        async move { out.send(batch).await.map(|_| ()) }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!sending.is_finished(), "nothing to deliver to yet");
    let rx = FrameReceiver::serve(TcpListener::bind(("127.0.0.1", port)).await.unwrap(), None);
    sending
        .await
        .unwrap()
        .expect("delivered after the receiver came up");
    assert_eq!(rx.wait_for(9).await.len(), 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_makes_the_caller_wait_and_memory_stays_bounded() {
    // A receiver that accepts and does not read: the kernel buffers fill, the sender task
    // blocks in its write, the queue (one batch) fills, and then submit must wait.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let stalled = Arc::new(Notify::new());
    let accept = tokio::spawn({
        let stalled = stalled.clone();
        async move {
            let (socket, _) = listener.accept().await.unwrap();
            stalled.notified().await;
            let mut records = 0;
            read_frames(socket, None, |_| records += 1).await;
            records
        }
    });
    let out = output(&format!(
        "type = \"tcp\"\naddress = \"127.0.0.1:{port}\"\nqueue = 1\nbatch_max_bytes = 8388608\n"
    ));
    let page = sample("realistic-page.json");
    let mut receipts = Vec::new();
    let mut waited = false;
    for _ in 0..8 {
        // ~2.4 MB per batch: a few of them exceed what the kernel buffers hold.
        let submit = out.submit(batch_of(&out, &page, 1000));
        match tokio::time::timeout(Duration::from_secs(2), submit).await {
            Ok(receipt) => receipts.push(receipt),
            Err(_) => {
                waited = true;
                break;
            }
        }
    }
    assert!(waited, "submit never waited: the queue is not bounded");
    assert!(receipts.len() <= 4, "{} batches accepted", receipts.len());
    // A tenant looks before it fetches a page (issue 16): with the queue full it waits, holding
    // no page, and goes on once the receiver reads.
    assert!(
        tokio::time::timeout(Duration::from_millis(500), out.ready())
            .await
            .is_err(),
        "ready while the queue is full"
    );
    stalled.notify_one();
    tokio::time::timeout(Duration::from_secs(30), out.ready())
        .await
        .expect("ready once the receiver reads");
    let n = receipts.len();
    for r in receipts {
        r.delivered().await.unwrap();
    }
    out.shutdown().await;
    assert_eq!(accept.await.unwrap(), n * 9000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_sends_one_record_per_datagram_within_the_limit() {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = socket.local_addr().unwrap().port();
    let out = output(&format!("type = \"udp\"\naddress = \"127.0.0.1:{port}\"\n"));
    let batch = batch_of(&out, &sample("adversarial.json"), 1);
    let n = batch.len();
    out.send(batch).await.unwrap();
    let mut buf = vec![0u8; 65536];
    for _ in 0..n {
        let len = tokio::time::timeout(Duration::from_secs(5), socket.recv(&mut buf))
            .await
            .expect("a datagram per record")
            .unwrap();
        assert!(len <= 2048, "datagram of {len} bytes over the 2048 default");
        assert!(buf[..len].starts_with(b"<"), "a syslog record");
        assert!(!buf[..len].contains(&b'\n'), "no raw LF in a record");
    }
    out.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_output_appends_one_line_per_record() {
    let dir = std::env::temp_dir().join(format!("siemfwd-file-output-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("alerts.cef");
    let _ = std::fs::remove_file(&path);
    for _ in 0..2 {
        let out = output(&format!("type = \"file\"\npath = \"{}\"\n", path.display()));
        out.send(batch_of(&out, &sample("adversarial.json"), 1))
            .await
            .unwrap();
        out.shutdown().await;
    }
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text.lines().count(),
        32,
        "16 adversarial alerts, twice, appended"
    );
    assert!(
        text.lines().all(|l| l.starts_with("CEF:0|")),
        "no envelope by default"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unix_output_sends_rfc3164_datagrams_to_the_local_socket() {
    let dir = std::env::temp_dir().join(format!("siemfwd-unix-output-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("log.sock");
    let _ = std::fs::remove_file(&path);
    let socket = tokio::net::UnixDatagram::bind(&path).unwrap();
    let out = output(&format!(
        "type = \"unix\"\npath = \"{}\"\nhostname = \"fwd1\"\n",
        path.display()
    ));
    let batch = batch_of(&out, &sample("realistic-page.json"), 1);
    out.send(batch).await.unwrap();
    let mut buf = vec![0u8; 65536];
    for _ in 0..9 {
        let len = tokio::time::timeout(Duration::from_secs(5), socket.recv(&mut buf))
            .await
            .expect("one datagram per record")
            .unwrap();
        let text = std::str::from_utf8(&buf[..len]).unwrap();
        // <PRI>Mmm dd hh:mm:ss HOST TAG: MSG
        let after_pri = &text[text.find('>').unwrap() + 1..];
        let stamp = after_pri.as_bytes();
        assert!(
            stamp[3] == b' ' && stamp[6] == b' ' && stamp[9] == b':' && stamp[12] == b':',
            "an RFC 3164 timestamp: {text}"
        );
        assert!(
            after_pri[16..].starts_with("fwd1 siemfwd: CEF:0|"),
            "{text}"
        );
    }
    out.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A receiver whose first connection reads slowly, takes 4 KB and resets (RST: whatever it had
/// not read is gone), and whose second connection is read to its end and then closed cleanly.
struct ResettingReceiver {
    port: u16,
    /// Records read on the second connection.
    second: Arc<Mutex<Vec<Vec<u8>>>>,
    /// When the first connection was reset.
    reset_at: Arc<Mutex<Option<tokio::time::Instant>>>,
}

impl ResettingReceiver {
    async fn start() -> ResettingReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let second: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let reset_at: Arc<Mutex<Option<tokio::time::Instant>>> = Arc::default();
        let (got, at) = (second.clone(), reset_at.clone());
        tokio::spawn(async move {
            let (mut first, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_millis(800)).await;
            let mut buf = vec![0u8; 4096];
            let _ = first.read_exact(&mut buf).await;
            first.set_zero_linger().unwrap();
            drop(first);
            *at.lock().unwrap() = Some(tokio::time::Instant::now());
            let (socket, _) = listener.accept().await.unwrap();
            read_frames(socket, None, |r| got.lock().unwrap().push(r)).await;
        });
        ResettingReceiver {
            port,
            second,
            reset_at,
        }
    }

    /// Records of `sent` not (yet) read on the second connection.
    fn missing(&self, sent: &[Vec<u8>]) -> usize {
        let have: std::collections::HashSet<Vec<u8>> =
            self.second.lock().unwrap().iter().cloned().collect();
        sent.iter().filter(|r| !have.contains(*r)).count()
    }
}

/// A TCP output to `rx` and a burst of 30 batches written into its socket; the records sent,
/// without their octet counts, as the receiver hands them out.
async fn burst_to(rx: &ResettingReceiver) -> (Output, Vec<Vec<u8>>) {
    let out = output(&format!(
        "type = \"tcp\"\naddress = \"127.0.0.1:{}\"\nreconnect_backoff = \"100ms\"\n",
        rx.port
    ));
    let page = sample("realistic-page.json");
    let mut sent = Vec::new();
    for _ in 0..30 {
        let batch = batch_of(&out, &page, 1);
        sent.extend(
            batch
                .records()
                .map(|r| r[r.iter().position(|&b| b == b' ').unwrap() + 1..].to_vec()),
        );
        out.send(batch).await.expect("written into the socket");
    }
    (out, sent)
}

/// Regression (issue 14): a receiver that read part of a burst and then reset the connection,
/// with nothing more to send, lost the rest: every record had been written into the socket, so
/// all counted as delivered, and the replay window waited for a next batch that might never
/// come. An idle connection is now watched: the reset is noticed at once, and the window is
/// resent on a new connection before any new record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_while_idle_is_repaired_at_once_and_the_burst_resent() {
    let rx = ResettingReceiver::start().await;
    let (out, sent) = burst_to(&rx).await;
    // Nothing more is sent: the output alone must notice the reset and resend.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while rx.missing(&sent) > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {} records missing from the second connection",
            rx.missing(&sent),
            sent.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let reset = rx.reset_at.lock().unwrap().expect("the receiver reset");
    eprintln!("reset to every record resent: {:?}", reset.elapsed());
    let stats = out.stats();
    assert_eq!(stats.connects, 2, "{stats:?}");
    out.shutdown().await;
}

/// Issue 14: stopping right after a burst that the receiver then resets. The output half-closes
/// and waits for the receiver to close its side; the reset says the last records may be lost,
/// so they are resent on a new connection, which the receiver closes cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_after_a_burst_the_receiver_resets_resends_it_and_waits_for_a_clean_close() {
    let rx = ResettingReceiver::start().await;
    let (out, sent) = burst_to(&rx).await;
    // Stop at once, before the receiver has read (or reset) anything.
    tokio::time::timeout(Duration::from_secs(20), out.shutdown())
        .await
        .expect("the output stops");
    assert_eq!(
        rx.missing(&sent),
        0,
        "records missing from the second connection"
    );
}

/// Issue 14: a record written into the socket is not yet a record read. What the output calls
/// confirmed (what checkpoints wait for) must have been read by the receiver: here the first
/// connection is reset with most of the burst unread, so nothing may be confirmed until the
/// burst was resent on the second connection and that one closed cleanly after reading it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_the_receiver_reset_is_confirmed_only_once_resent_and_read() {
    let rx = ResettingReceiver::start().await;
    let (out, sent) = burst_to(&rx).await;
    let mark = out.written_mark();
    assert!(
        !out.is_confirmed(mark),
        "written is not confirmed: the receiver has read nothing yet"
    );
    tokio::time::timeout(Duration::from_secs(20), out.confirmed(mark))
        .await
        .expect("confirmed once resent");
    assert!(
        rx.reset_at.lock().unwrap().is_some(),
        "confirmed before the receiver reset the first connection"
    );
    assert_eq!(
        rx.missing(&sent),
        0,
        "confirmed while records were still unread on the second connection"
    );
    let stats = out.stats();
    assert_eq!(stats.connects, 2, "{stats:?}");
    out.shutdown().await;
}

/// Issue 14: with a receiver that reads everything, an idle output asks for its confirmation
/// by half-closing (the receiver's clean close confirms), and the next batch opens a new
/// connection. Datagram and file outputs confirm as they write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_output_is_confirmed_by_the_receivers_clean_close() {
    let rx = FrameReceiver::start(None).await;
    let out = output(&format!(
        "type = \"tcp\"\naddress = \"127.0.0.1:{}\"\n",
        rx.port
    ));
    let page = sample("realistic-page.json");
    let first = batch_of(&out, &page, 2);
    let records = first.len();
    out.send(first).await.unwrap();
    let mark = out.written_mark();
    let written = tokio::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(10), out.confirmed(mark))
        .await
        .expect("confirmed after the idle half-close");
    eprintln!("written to confirmed: {:?}", written.elapsed());
    assert_eq!(rx.received.lock().unwrap().all().len(), records);
    // The receiver closed its side on our end of stream: the connection is over.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !rx.closed_all() {
        assert!(tokio::time::Instant::now() < deadline, "still open");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    out.send(batch_of(&out, &page, 1)).await.unwrap();
    rx.wait_for(records + records / 2).await;
    assert_eq!(rx.received.lock().unwrap().connections.len(), 2);
    assert!(out.written_mark() > mark);
    out.shutdown().await;

    let dir = std::env::temp_dir().join(format!("siemfwd-confirm-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = output(&format!(
        "type = \"file\"\npath = \"{}\"\n",
        dir.join("out.log").display()
    ));
    file.send(batch_of(&file, &page, 1)).await.unwrap();
    assert!(
        file.is_confirmed(file.written_mark()),
        "a file confirms as it writes"
    );
    file.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Issue 14: an output that is never idle for long (many tenants, each sending a little) and
/// sends too little for its replay window to move on still gets its records confirmed: before a
/// batch, when the oldest unconfirmed one is 10 s old, it asks the receiver.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_steady_stream_is_confirmed_without_ever_pausing() {
    let rx = FrameReceiver::start(None).await;
    let out = output(&format!(
        "type = \"tcp\"\naddress = \"127.0.0.1:{}\"\n",
        rx.port
    ));
    let page = sample("realistic-page.json");
    out.send(batch_of(&out, &page, 1)).await.unwrap();
    let first = out.written_mark();
    let started = tokio::time::Instant::now();
    while !out.is_confirmed(first) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "not confirmed while sending every 100 ms"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        out.send(batch_of(&out, &page, 1)).await.unwrap();
    }
    eprintln!("confirmed after {:?} of steady sending", started.elapsed());
    assert!(
        out.stats().connects >= 2,
        "asked by closing: {:?}",
        out.stats()
    );
    out.shutdown().await;
}

/// Issue 14: a receiver that reads everything but never closes its side after ours cannot
/// confirm by closing. After `write_timeout` the output says so once and confirms by the weaker
/// rule (the connection found open after the records), instead of holding checkpoints for ever
/// or resending the window each time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_never_closes_gets_the_weaker_rule_after_write_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let read = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let total = read.clone();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let total = total.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                while let Ok(n) = socket.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    total.fetch_add(n, std::sync::atomic::Ordering::SeqCst);
                }
                // End of stream seen, and the connection is kept open regardless.
                tokio::time::sleep(Duration::from_secs(3600)).await;
                drop(socket);
            });
        }
    });
    let out = output(&format!(
        "type = \"tcp\"\naddress = \"127.0.0.1:{port}\"\nwrite_timeout = \"1s\"\n"
    ));
    let page = sample("realistic-page.json");
    out.send(batch_of(&out, &page, 1)).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), out.confirmed(out.written_mark()))
        .await
        .expect("confirmed by the weaker rule after write_timeout");
    // From now on: no more half-closes, and each batch is confirmed at the next idle check.
    for _ in 0..3 {
        out.send(batch_of(&out, &page, 1)).await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), out.confirmed(out.written_mark()))
            .await
            .expect("confirmed at the next check");
    }
    let stats = out.stats();
    assert_eq!(stats.connects, 2, "one half-close only: {stats:?}");
    out.shutdown().await;
}
