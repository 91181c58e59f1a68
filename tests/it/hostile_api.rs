//! An alerts API that lies: nothing it sends can lose an alert, crash a tenant or exhaust
//! memory (issue 13).
//!
//! A proxy of our own on 127.0.0.1:0 stands between `siemfwd run` (the real binary) and the
//! simulator. For the first calls to `/api/alerts` it answers what real networks produce —
//! a proxy's HTML page with 200, `{"message"}` with 200, a close-delimited body cut short, a
//! 1.5 GB body, a body that stalls — or it changes a good page (alerts that are arrays, lone
//! surrogates, nesting past 128 levels); then it forwards every call untouched. Each test
//! checks, while the forwarder runs, that the checkpoint never passes an alert the output
//! does not hold; and at the end that every alert arrived exactly once, what could not be
//! sent is in a dead-letter file with the reason, the bad answer was said in words, nothing
//! panicked and the peak RSS stayed under the README's ~100 MB.
//!
//! Long (over 500 lines) by the number of lies, each a scenario of its own; the lying proxy
//! itself is at the top.

use crate::support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use siemfwd::alert::Timestamp;
use siemfwd_simulator::{Simulator, SimulatorConfig};
use support::tempdir::TestDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

const ALERTS: usize = 120;
/// The README's memory figure for `run` with the defaults.
const RSS_LIMIT_KB: u64 = 100 * 1024;

/// What the proxy does to one call to `/api/alerts`.
#[derive(Debug, Clone, Copy)]
enum Lie {
    /// 200, `text/html`: a proxy's sign-in page.
    Html,
    /// 200, JSON, but `{"message": ...}`.
    Message,
    /// 200, JSON, the real page cut in half, delimited by closing the connection (no
    /// Content-Length, not chunked).
    Truncated,
    /// 200, JSON, chunked, 1.5 GB of alerts that never end in time.
    Endless,
    /// 200, JSON, the head of the real page, then nothing until the client gives up.
    Stall,
    /// The real page with hostile elements put in front of its alerts.
    Poisoned,
    /// 500 (or, for the token endpoint, 400) with a 1.5 GB body.
    EndlessError,
}

/// The proxy: calls to `/api/alerts` get `lies[n]` for the n-th call, token requests
/// `token_lies[n]`, later ones the simulator's answer as it is.
struct LyingApi {
    url: String,
    calls: Arc<AtomicUsize>,
}

/// What the proxy tells, and how many calls of each kind it has had.
struct Script {
    alerts: Vec<Lie>,
    tokens: Vec<Lie>,
    alert_calls: AtomicUsize,
    token_calls: AtomicUsize,
}

impl LyingApi {
    async fn start(upstream: String, lies: Vec<Lie>, token_lies: Vec<Lie>) -> LyingApi {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let calls = Arc::new(AtomicUsize::new(0));
        let script = Arc::new(Script {
            alerts: lies,
            tokens: token_lies,
            alert_calls: AtomicUsize::new(0),
            token_calls: AtomicUsize::new(0),
        });
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::new();
        let counter = calls.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (script, http, upstream, counter) = (
                    script.clone(),
                    http.clone(),
                    upstream.clone(),
                    counter.clone(),
                );
                tokio::spawn(async move {
                    let _ = serve(stream, &upstream, &http, &script, &counter).await;
                });
            }
        });
        LyingApi { url, calls }
    }
}

/// One request per connection (`Connection: close`), so a body can end with the connection.
async fn serve(
    mut stream: TcpStream,
    upstream: &str,
    http: &reqwest::Client,
    script: &Script,
    calls: &AtomicUsize,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or_default().to_owned();
    let mut parts = request_line.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let mut headers = Vec::new();
    let mut length = 0usize;
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
            if k.eq_ignore_ascii_case("authorization") || k.eq_ignore_ascii_case("content-type") {
                headers.push((k.to_owned(), v.trim().to_owned()));
            }
        }
    }
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await?;
    let lie = if target.starts_with("/api/alerts") {
        calls.fetch_add(1, Ordering::SeqCst);
        let n = script.alert_calls.fetch_add(1, Ordering::SeqCst);
        script.alerts.get(n).copied()
    } else if target.contains("/token") {
        let n = script.token_calls.fetch_add(1, Ordering::SeqCst);
        script.tokens.get(n).copied()
    } else {
        None
    };
    let mut request = http.request(method.parse().unwrap(), format!("{upstream}{target}"));
    for (k, v) in headers {
        request = request.header(k, v);
    }
    let answer = request.body(body).send().await.unwrap();
    let status = answer.status().as_u16();
    let content_type = answer
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let page = answer.bytes().await.unwrap().to_vec();
    let json = "application/json; odata.metadata=minimal; charset=utf-8";
    match lie {
        None => respond(&mut stream, status, &content_type, &page).await,
        Some(Lie::Html) => {
            let html = b"<!DOCTYPE html>\n<html><head><title>Sign in - Contoso Secure Web Gateway</title></head>\n<body><form action=\"/login\">Your session has expired.</form></body></html>\n";
            respond(&mut stream, 200, "text/html; charset=utf-8", html).await
        }
        Some(Lie::Message) => {
            respond(
                &mut stream,
                200,
                json,
                br#"{"message":"An error has occurred."}"#,
            )
            .await
        }
        Some(Lie::Truncated) => {
            let cut = &page[..page.len() / 2];
            let head =
                format!("HTTP/1.1 200 OK\r\nContent-Type: {json}\r\nConnection: close\r\n\r\n");
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(cut).await?;
            stream.shutdown().await
        }
        Some(lie @ (Lie::Endless | Lie::EndlessError)) => {
            let status = match lie {
                Lie::Endless => "200 OK",
                _ if target.contains("/token") => "400 Bad Request",
                _ => "500 Internal Server Error",
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {json}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await?;
            let alert = br#"{"id":"da0000000000000000_0","title":"filler","description":"0123456789012345678901234567890123456789012345678901234567890123456789"},"#;
            let mut chunk = b"{\"value\":[".to_vec();
            while chunk.len() < 1 << 20 {
                chunk.extend_from_slice(alert);
            }
            // 1.5 GB, one MiB a chunk, unless the client hangs up first.
            for _ in 0..1536 {
                stream
                    .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                    .await?;
                stream.write_all(&chunk).await?;
                stream.write_all(b"\r\n").await?;
            }
            stream.write_all(b"0\r\n\r\n").await
        }
        Some(Lie::Stall) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {json}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                page.len()
            );
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&page[..page.len() / 3]).await?;
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(())
        }
        Some(Lie::Poisoned) => {
            let long = "x".repeat(40_000);
            let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
            let hostile = format!(
                r#"["forged-id",123],["forged-id",null],{{"id":"surrogate-1","lastUpdateTime":"2026-01-01T00:00:00Z","x":"\ud800","description":"{long}"}},{{"id":"deep-1","lastUpdateTime":"2026-01-01T00:00:00Z","x":{deep},"description":"{long}"}},"#
            );
            let text = String::from_utf8(page).unwrap();
            let at = text.find("\"value\":[").expect("a page") + "\"value\":[".len();
            let rest = &text[at..];
            // Into an empty page too, without leaving a trailing comma.
            let hostile = if rest.starts_with(']') {
                hostile.trim_end_matches(',')
            } else {
                &hostile
            };
            let poisoned = format!("{}{hostile}{rest}", &text[..at]);
            respond(&mut stream, status, &content_type, poisoned.as_bytes()).await
        }
    }
}

async fn respond(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &[u8],
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.shutdown().await
}

/// The simulator, the lying proxy in front of its alerts API, and `siemfwd run` writing JSON
/// lines to a file.
struct Setup {
    sim: Simulator,
    api: LyingApi,
    dir: TestDir,
    config: PathBuf,
    out: PathBuf,
    log: PathBuf,
    tenant: String,
}

impl Setup {
    async fn new(name: &str, lies: Vec<Lie>, output_keys: &str) -> Setup {
        Setup::with_token_lies(name, lies, Vec::new(), output_keys).await
    }

    /// Token requests go through the proxy too, which tells `token_lies` first.
    async fn with_token_lies(
        name: &str,
        lies: Vec<Lie>,
        token_lies: Vec<Lie>,
        output_keys: &str,
    ) -> Setup {
        let sim = Simulator::start(
            "127.0.0.1:0".parse().unwrap(),
            SimulatorConfig {
                tenants: 1,
                alerts_per_tenant: ALERTS,
                seed: 13,
                history: Duration::from_secs(2 * 3600),
                max_visibility_delay: Duration::ZERO,
                ..SimulatorConfig::default()
            },
        )
        .await
        .unwrap();
        let login_through_proxy = !token_lies.is_empty();
        let api = LyingApi::start(sim.url().to_owned(), lies, token_lies).await;
        let dir = TestDir::new(name);
        let out = dir.join("alerts.jsonl");
        let t = &sim.tenants()[0];
        let text = format!(
            "state_dir = \"{state}\"\n\n[defaults]\nclient_id = \"{client}\"\n\
             client_secret = \"{secret}\"\nlogin_url = \"{login}\"\napi_url = \"{api}\"\n\
             poll_interval = \"1s\"\ninitial_lookback = \"3h\"\nrequest_timeout = \"3s\"\n\
             page_size = 50\n\n[[tenant]]\nname = \"{name}\"\ntenant_id = \"{id}\"\n\n\
             [[output]]\nname = \"siem\"\ntype = \"file\"\npath = \"{out}\"\nformat = \"json\"\n{output_keys}\n",
            state = dir.join("state").display(),
            client = sim.client_id(),
            secret = sim.client_secret(),
            login = if login_through_proxy {
                api.url.as_str()
            } else {
                sim.url()
            },
            api = api.url,
            name = t.name,
            id = t.id,
            out = out.display(),
        );
        let config = dir.join("siemfwd.toml");
        std::fs::write(&config, text).unwrap();
        let log = dir.join("siemfwd.log");
        let tenant = t.name.clone();
        Setup {
            sim,
            api,
            dir,
            config,
            out,
            log,
            tenant,
        }
    }

    /// Every alert id with the lastUpdateTime the API has for it.
    fn ground_truth(&self) -> BTreeMap<String, Timestamp> {
        let t = &self.sim.tenants()[0];
        self.sim
            .ground_truth(&t.id)
            .unwrap()
            .into_iter()
            .map(|v| (v.id, v.last_update_time))
            .collect()
    }

    fn delivered(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        text.lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("an output line is not JSON ({e}): {l}"));
                v["id"].as_str().unwrap_or("(none)").to_owned()
            })
            .collect()
    }

    fn cursor(&self) -> Option<Timestamp> {
        let path = self
            .dir
            .join("state")
            .join("checkpoints")
            .join(format!("{}.json", self.tenant));
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
        v["cursor"].as_str().map(|c| Timestamp::parse(c).unwrap())
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn dead_letters(&self) -> String {
        let dir = self.dir.join("state").join("dead-letter");
        let mut all = String::new();
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            all.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
        }
        all
    }

    fn spawn(&self) -> Child {
        let log = || {
            std::fs::File::options()
                .create(true)
                .append(true)
                .open(&self.log)
                .unwrap()
        };
        Command::new(env!("CARGO_BIN_EXE_siemfwd"))
            .args(["run", "--config"])
            .arg(&self.config)
            .env("SIEMFWD_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log())
            .stderr(log())
            .spawn()
            .unwrap()
    }

    /// Runs the forwarder until every alert of the ground truth is in the output file and the
    /// cursor is past the newest, checking all along that the cursor never passes an alert
    /// the file does not hold. Returns the peak RSS in KB.
    async fn run_until_caught_up(&self) -> u64 {
        let truth = self.ground_truth();
        let newest = *truth.values().max().unwrap();
        let mut child = self.spawn();
        let pid = child.id();
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut peak = 0;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("siemfwd run exited ({status}):\n{}", self.log_text());
            }
            peak = peak.max(peak_rss_kb(pid));
            // The cursor first, then the file: delivery precedes the checkpoint, so whatever
            // the cursor claims must already be in the file.
            let cursor = self.cursor();
            let delivered = self.delivered();
            if let Some(c) = cursor {
                for (id, t) in &truth {
                    assert!(
                        *t >= c || delivered.contains(id),
                        "the checkpoint ({c}) passed alert {id} ({t}), which was not delivered\n{}",
                        self.log_text()
                    );
                }
            }
            if cursor.is_some_and(|c| c > newest) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "not caught up in time; {} of {} delivered\n{}",
                delivered.len(),
                truth.len(),
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        support::process::signal(pid, "TERM");
        let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
            .await
            .unwrap();
        assert!(status.success(), "{status}\n{}", self.log_text());
        let log = self.log_text();
        assert!(!log.contains("panicked"), "{log}");
        eprintln!("{}: peak RSS {peak} KB", self.dir.path().display());
        peak
    }

    /// Every alert of the ground truth arrived, each exactly once, and nothing else did.
    fn assert_each_alert_once(&self) {
        let mut want: Vec<String> = self.ground_truth().into_keys().collect();
        let mut got = self.delivered();
        want.sort();
        got.sort();
        assert_eq!(got.len(), want.len(), "{}", self.log_text());
        assert_eq!(got, want);
    }
}

/// VmHWM of a process in KB (0 once it is gone).
fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn lied_to(name: &str, lies: Vec<Lie>, said: &str) -> Setup {
    let n = lies.len();
    let setup = Setup::new(name, lies, "").await;
    let peak = setup.run_until_caught_up().await;
    setup.assert_each_alert_once();
    assert!(
        setup.api.calls.load(Ordering::SeqCst) > n,
        "every lie was told"
    );
    let log = setup.log_text();
    assert!(log.contains(said), "the log does not say {said:?}:\n{log}");
    assert!(setup.dead_letters().is_empty(), "{}", setup.dead_letters());
    assert!(peak > 0 && peak < RSS_LIMIT_KB, "peak RSS {peak} KB");
    setup
}

/// Regression: a proxy's HTML page with 200 was one dead-lettered "alert"; the window then
/// counted as delivered and its alerts were lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxys_html_page_is_fetched_again_and_nothing_is_lost() {
    let setup = lied_to(
        "hostile-html",
        vec![Lie::Html, Lie::Html],
        "answered 200 with Content-Type `text/html; charset=utf-8`, not JSON (a proxy's login or error page in the way?); its first bytes: \"<!DOCTYPE html>",
    )
    .await;
    drop(setup);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_message_with_200_is_fetched_again_and_nothing_is_lost() {
    lied_to(
        "hostile-message",
        vec![Lie::Message, Lie::Message, Lie::Message],
        "answered 200 with JSON that is not a page (missing field `value`)",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_cut_short_is_fetched_again_and_nothing_is_lost() {
    lied_to(
        "hostile-truncated",
        vec![Lie::Truncated, Lie::Truncated],
        "answered 200 with a page cut short after",
    )
    .await;
}

/// Regression: a 2 GB alerts body took 2.1 GB of memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_and_a_half_gigabyte_body_is_cut_off_and_memory_stays_bounded() {
    lied_to(
        "hostile-endless",
        vec![Lie::Endless],
        "a page of more than max_page_bytes (33554432 bytes); asking again with $top=25",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stalls_times_out_and_is_fetched_again() {
    lied_to(
        "hostile-stall",
        vec![Lie::Stall],
        "the page broke off: timed out",
    )
    .await;
}

/// Regression: a lone surrogate or nesting past 128 levels panicked the JSON encoder (and the
/// tenant for good); an array element was taken for an alert with a forged id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_elements_are_dead_lettered_and_the_rest_delivered() {
    let setup = Setup::new(
        "hostile-elements",
        vec![Lie::Poisoned],
        "max_message_bytes = 32768",
    )
    .await;
    let peak = setup.run_until_caught_up().await;
    assert!(peak > 0 && peak < RSS_LIMIT_KB, "peak RSS {peak} KB");
    let delivered = setup.delivered();
    assert!(!delivered.iter().any(|id| id.contains("forged")));
    assert!(
        !delivered
            .iter()
            .any(|id| id == "surrogate-1" || id == "deep-1")
    );
    setup.assert_each_alert_once();
    /// A dead letter's id and reason; its `alert` is the alert as the API sent it, lone
    /// surrogate and deep nesting included, which `serde_json::Value` refuses.
    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Letter {
        alert_id: Option<String>,
        reason: String,
    }
    let letters: Vec<Letter> = setup
        .dead_letters()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let reason_of = |id: &str| {
        letters
            .iter()
            .find(|l| l.alert_id.as_deref() == Some(id))
            .map(|l| l.reason.clone())
            .unwrap_or_else(|| panic!("no dead letter for {id}: {letters:?}"))
    };
    let surrogate = reason_of("surrogate-1");
    assert!(surrogate.contains("cannot be shortened"), "{surrogate}");
    let deep = reason_of("deep-1");
    assert!(
        deep.contains("cannot be shortened") || deep.contains("recursion limit"),
        "{deep}"
    );
    let arrays = letters
        .iter()
        .filter(|l| l.reason.contains("expected an alert object"))
        .count();
    assert_eq!(arrays, 2, "{letters:?}");
}

/// Regression: a cursor an hour ahead was taken silently, and every poll fetched nothing; a
/// damaged checkpoint stopped every tenant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_in_the_future_stops_its_tenant_with_the_fix_and_exits_non_zero() {
    let setup = Setup::new("hostile-future", vec![], "").await;
    let cps = setup.dir.join("state").join("checkpoints");
    std::fs::create_dir_all(&cps).unwrap();
    let t = &setup.sim.tenants()[0];
    let ahead = chrono::Utc::now() + chrono::Duration::hours(1);
    std::fs::write(
        cps.join(format!("{}.json", setup.tenant)),
        format!(
            r#"{{"tenant_id":"{}","cursor":"{}","recent":[],"updated_at":"x"}}"#,
            t.id,
            ahead.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
    )
    .unwrap();
    let mut child = setup.spawn();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(1), "{}", setup.log_text());
    let log = setup.log_text();
    assert!(log.contains("later than now"), "{log}");
    assert_eq!(
        log.matches("Delete the file").count(),
        1,
        "said once:\n{log}"
    );
    assert!(setup.delivered().is_empty());
    // Not silently idle: `check` and `auth status`, other processes, say what run said.
    for command in [&["check"][..], &["auth", "status", "--no-check"][..]] {
        let out = Command::new(env!("CARGO_BIN_EXE_siemfwd"))
            .args(command)
            .arg("--config")
            .arg(&setup.config)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{command:?}: {stdout}");
        assert!(
            stdout.contains("siemfwd run stopped it since") && stdout.contains("later than now"),
            "{command:?}: {stdout}"
        );
    }
}

/// Regression: a 2 GB token error body took 4.2 GB of memory and a 1 GB 500 body 2.2 GB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_error_bodies_from_the_api_and_the_token_endpoint_are_cut_off() {
    let setup = Setup::with_token_lies(
        "hostile-error-bodies",
        vec![Lie::EndlessError, Lie::EndlessError],
        vec![Lie::EndlessError],
        "",
    )
    .await;
    let peak = setup.run_until_caught_up().await;
    setup.assert_each_alert_once();
    assert!(peak > 0 && peak < RSS_LIMIT_KB, "peak RSS {peak} KB");
    let log = setup.log_text();
    assert!(log.contains("HTTP 500: \"{\\\"value\\\":"), "{log}");
    assert_eq!(
        log.matches("the token endpoint answered HTTP 400").count(),
        1,
        "said once:\n{log}"
    );
}

/// The simulator's own faults for these answers (`siemfwd simulate --fault-html ...`), all at
/// once and at random, with `run` pointed at it directly: what a user rehearses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulators_bad_answers_at_random_lose_nothing() {
    let setup = Setup::new("hostile-simulated", vec![], "").await;
    // Pages of 10: a dozen calls or more, so that the faults below are met (one window now
    // holds the whole range: with pages of 50 it was 3 calls).
    let config = std::fs::read_to_string(&setup.config)
        .unwrap()
        .replace(&setup.api.url, setup.sim.url())
        .replace("page_size = 50", "page_size = 10");
    std::fs::write(&setup.config, config).unwrap();
    setup.sim.set_faults(siemfwd_simulator::Faults {
        html: 0.15,
        not_page: 0.15,
        truncate: 0.15,
        invalid_utf8: 0.1,
        ..siemfwd_simulator::Faults::default()
    });
    let peak = setup.run_until_caught_up().await;
    setup.assert_each_alert_once();
    assert!(peak < RSS_LIMIT_KB, "peak RSS {peak} KB");
    let log = setup.log_text();
    assert!(log.contains("answered 200 with"), "{log}");
    assert!(setup.dead_letters().is_empty(), "{}", setup.dead_letters());
}

/// Regression: `cannot read config file nope.toml: No such file or directory (os error 2): No
/// such file or directory (os error 2)`: the cause was printed inside itself.
#[test]
fn each_cause_of_an_error_is_printed_once() {
    let out = Command::new(env!("CARGO_BIN_EXE_siemfwd"))
        .args(["run", "--config", "/nonexistent/siemfwd.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("No such file or directory").count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("/nonexistent/siemfwd.toml"), "{stderr}");
}

/// Regression: `replay` against a proxy's HTML page exited 0 ("0 alerts fetched, 1
/// dead-lettered"), the window's alerts never sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_says_failed_when_the_api_only_answers_html() {
    let setup = Setup::new("hostile-replay", vec![Lie::Html; 50], "").await;
    let config = setup.config.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_siemfwd"))
            .args(["replay", "--from", "-1h", "--config"])
            .arg(config)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("FAILED"), "{stderr}");
    assert!(
        stderr
            .contains("unavailable after 6 attempts: it answered 200 with Content-Type `text/html"),
        "{stderr}"
    );
    assert!(setup.dead_letters().is_empty(), "{}", setup.dead_letters());
}

/// Issue 14: the shutdown grace holds whatever the API is doing: here every call stalls after
/// a third of its body, with a request timeout far longer than the grace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_the_api_stalls_exits_within_the_grace_and_moves_no_checkpoint() {
    let setup = Setup::new("hostile-sigterm-stall", vec![Lie::Stall; 20], "").await;
    let config = std::fs::read_to_string(&setup.config)
        .unwrap()
        .replace("request_timeout = \"3s\"", "request_timeout = \"60s\"")
        .replacen(
            "\n\n[defaults]",
            "\nshutdown_grace = \"3s\"\n\n[defaults]",
            1,
        );
    std::fs::write(&setup.config, config).unwrap();
    let child = setup.spawn();
    let deadline = Instant::now() + Duration::from_secs(20);
    while setup.api.calls.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "no call:\n{}", setup.log_text());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, took) = support::process::signal_and_wait(child, "TERM").await;
    eprintln!("SIGTERM to exit with the API stalled: {took:?}");
    // The grace is 3 s; the bound only tells "within the grace" from waiting on the API.
    assert!(
        took < Duration::from_secs(8),
        "took {took:?}:\n{}",
        setup.log_text()
    );
    assert!(status.success(), "{status}:\n{}", setup.log_text());
    assert_eq!(
        setup.cursor(),
        None,
        "no checkpoint moved:\n{}",
        setup.log_text()
    );
    assert!(
        setup
            .log_text()
            .contains("it will be fetched again at the next start"),
        "{}",
        setup.log_text()
    );
}
