//! The pieces of an end-to-end run: the simulator on the test's runtime, a config file for
//! `siemfwd run`/`replay`, the forwarder as a child process, its checkpoints, and a seeded
//! random source for the moments at which things break.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use siemfwd::alert::Timestamp;
use siemfwd_simulator::{Simulator, SimulatorConfig};
use tokio::time::Instant;

use crate::support::process::signal;
use crate::support::rsyslog::Rsyslog;
use crate::support::tempdir::TestDir;

/// Every tenant polls this often.
pub const POLL_INTERVAL: &str = "1s";
/// How far each poll reaches back before the cursor.
pub const OVERLAP: Duration = Duration::from_secs(30);

/// The forwarder's clock (and the simulator's: both are this machine's wall clock).
pub fn wall_now() -> Timestamp {
    let n = chrono::Utc::now();
    Timestamp::from_unix_nanos(n.timestamp_nanos_opt().unwrap(), 7)
}

/// `t` plus `d`.
pub fn plus(t: Timestamp, d: Duration) -> Timestamp {
    Timestamp::from_unix_nanos(t.unix_nanos() + d.as_nanos() as i64, 7)
}

/// A simulator of `tenants` tenants with `alerts` alerts each over the last two hours (5 %
/// hostile content), late visibility up to `max_visibility_delay`, on the current runtime.
pub async fn start_simulator(
    tenants: usize,
    alerts: usize,
    max_visibility_delay: Duration,
    seed: u64,
) -> Simulator {
    let config = SimulatorConfig {
        tenants,
        alerts_per_tenant: alerts,
        seed,
        history: Duration::from_secs(2 * 3600),
        max_visibility_delay,
        ..SimulatorConfig::default()
    };
    Simulator::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .expect("start the simulator")
}

/// The `[[output]]` of a real rsyslog's gtls input, with mutual TLS; `extra` adds keys.
pub fn tls_output(rs: &Rsyslog, extra: &str) -> String {
    let certs = rs.certs();
    format!(
        "[[output]]\nname = \"siem\"\ntype = \"tls\"\naddress = \"127.0.0.1:{port}\"\n\
         ca_file = \"{ca}\"\ncert_file = \"{crt}\"\nkey_file = \"{key}\"\n\
         reconnect_backoff = \"100ms\"\nreconnect_backoff_max = \"1s\"\n{extra}",
        port = rs.ports().tls_gtls,
        ca = certs.ca_crt.display(),
        crt = certs.client_crt.display(),
        key = certs.client_key.display(),
    )
}

/// A test's temp dir with a config for every simulated tenant and `output`.
pub struct Env {
    pub dir: TestDir,
    pub config: PathBuf,
    pub state_dir: PathBuf,
    /// The forwarder's stderr and stdout, every run appended.
    pub log: PathBuf,
    /// Tenant names in config order (`tenant-01`, ...).
    pub tenants: Vec<String>,
    /// The tenants read through Graph (`api = "graph"`); the others read `/api/alerts`.
    pub graph_tenants: std::collections::BTreeSet<String>,
}

impl Env {
    pub fn new(prefix: &str, sim: &Simulator, output: &str) -> Env {
        Env::with_graph(prefix, sim, output, |_| false)
    }

    /// As [`Env::new`], the tenants `graph` picks (by their index) read through Graph.
    pub fn with_graph(
        prefix: &str,
        sim: &Simulator,
        output: &str,
        graph: impl Fn(usize) -> bool,
    ) -> Env {
        let dir = TestDir::new(prefix);
        let state_dir = dir.join("state");
        let secret = dir.join("app.secret");
        std::fs::write(&secret, format!("{}\n", sim.client_secret())).unwrap();
        let mut text = format!(
            "state_dir = \"{state}\"\n\n[defaults]\nclient_id = \"{client}\"\n\
             client_secret_file = \"{secret}\"\nlogin_url = \"{url}\"\napi_url = \"{url}\"\n\
             poll_interval = \"{POLL_INTERVAL}\"\noverlap = \"{overlap}s\"\n\
             initial_lookback = \"3h\"\nrequest_timeout = \"10s\"\n",
            state = state_dir.display(),
            client = sim.client_id(),
            secret = secret.display(),
            url = sim.url(),
            overlap = OVERLAP.as_secs(),
        );
        let mut tenants = Vec::new();
        let mut graph_tenants = std::collections::BTreeSet::new();
        for (i, t) in sim.tenants().into_iter().enumerate() {
            text.push_str(&format!(
                "\n[[tenant]]\nname = \"{}\"\ntenant_id = \"{}\"\n",
                t.name, t.id
            ));
            if graph(i) {
                text.push_str("api = \"graph\"\n");
                graph_tenants.insert(t.name.clone());
            }
            tenants.push(t.name);
        }
        text.push('\n');
        text.push_str(output);
        let config = dir.join("siemfwd.toml");
        std::fs::write(&config, text).unwrap();
        let log = dir.join("siemfwd.log");
        Env {
            dir,
            config,
            state_dir,
            log,
            tenants,
            graph_tenants,
        }
    }

    /// Starts `siemfwd run --config FILE`.
    pub fn spawn(&self) -> Forwarder {
        Forwarder::spawn(&self.config, &self.log)
    }

    /// What every run of the forwarder logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last lines of the forwarder's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    pub fn checkpoint_path(&self, tenant: &str) -> PathBuf {
        self.state_dir
            .join("checkpoints")
            .join(format!("{tenant}.json"))
    }

    /// Every tenant's checkpoint as it is on disk now (absent: none yet).
    pub fn checkpoints(&self) -> BTreeMap<String, Cp> {
        self.tenants
            .iter()
            .filter_map(|t| read_checkpoint(&self.checkpoint_path(t)).map(|c| (t.clone(), c)))
            .collect()
    }

    /// Each tenant's cursor now (`None`: no checkpoint yet).
    pub fn cursors(&self) -> BTreeMap<String, Option<Timestamp>> {
        let cps = self.checkpoints();
        self.tenants
            .iter()
            .map(|t| (t.clone(), cps.get(t).and_then(|c| c.cursor)))
            .collect()
    }

    /// Waits until every tenant's cursor is at or after `at`: a poll that started then has
    /// delivered its window.
    pub async fn wait_for_cursors(&self, at: Timestamp, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let cursors = self.cursors();
            if cursors.values().all(|c| c.is_some_and(|c| c >= at)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the cursors did not reach {at} within {timeout:?}: {cursors:?}\nforwarder log:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A tenant's checkpoint as stored: the cursor and the recent versions (id, Unix nanos).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cp {
    pub cursor: Option<Timestamp>,
    pub recent: HashSet<(String, i64)>,
}

/// Reads `state_dir/checkpoints/<tenant>.json` (`cursor`, `recent: [[id, lastUpdateTime]]`).
pub fn read_checkpoint(path: &Path) -> Option<Cp> {
    let bytes = std::fs::read(path).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("checkpoint {} is not JSON: {e}", path.display()));
    let time = |s: &str| Timestamp::parse(s).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let cursor = v["cursor"].as_str().map(time);
    let recent = v["recent"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|pair| {
                    let id = pair[0].as_str()?.to_owned();
                    Some((id, time(pair[1].as_str()?).unix_nanos()))
                })
                .collect()
        })
        .unwrap_or_default();
    Some(Cp { cursor, recent })
}

/// `siemfwd run` as a child process; killed (SIGKILL) on drop if still running.
pub struct Forwarder {
    child: Option<Child>,
}

impl Forwarder {
    pub fn spawn(config: &Path, log: &Path) -> Forwarder {
        let open = || File::options().create(true).append(true).open(log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_siemfwd"))
            .arg("run")
            .arg("--config")
            .arg(config)
            .env("SIEMFWD_LOG", "info")
            .stdin(Stdio::null())
            .stdout(open())
            .stderr(open())
            .spawn()
            .expect("start siemfwd run");
        Forwarder { child: Some(child) }
    }

    /// Panics (with the log) if the process has exited.
    pub fn assert_running(&mut self, env: &Env) {
        if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
            panic!(
                "siemfwd run exited unexpectedly ({status})\nforwarder log:\n{}",
                env.log_tail()
            );
        }
    }

    /// SIGTERM, then waits up to `bound` for the exit; the status and how long it took.
    /// Panics (after SIGKILL) if it did not exit within `bound`.
    pub async fn terminate(&mut self, bound: Duration) -> (ExitStatus, Duration) {
        let mut child = self.child.take().expect("running");
        let sent = Instant::now();
        assert!(signal(child.id(), "TERM"), "kill -TERM {}", child.id());
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return (status, sent.elapsed());
            }
            if sent.elapsed() > bound {
                let _ = child.kill();
                let _ = child.wait();
                panic!("siemfwd run did not exit within {bound:?} of SIGTERM");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL (no chance to finish anything), and reaps it.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("running");
        assert!(
            child.try_wait().unwrap().is_none(),
            "siemfwd run had already exited"
        );
        child.kill().expect("kill -9");
        child.wait().unwrap();
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// When the forwarder could poll and deliver: intervals on the tokio clock (which the
/// simulator's `visible_at` uses).
#[derive(Debug, Default)]
pub struct Uptime {
    periods: Vec<(Instant, Option<Instant>)>,
}

impl Uptime {
    pub fn up(&mut self) {
        if self.periods.last().is_none_or(|p| p.1.is_some()) {
            self.periods.push((Instant::now(), None));
        }
    }

    pub fn down(&mut self) {
        if let Some(p) = self.periods.last_mut().filter(|p| p.1.is_none()) {
            p.1 = Some(Instant::now());
        }
    }

    /// Whether `[from, to)` shares at least `gap` with one period (an open one lasts to now).
    pub fn covers(&self, from: Instant, to: Option<Instant>, gap: Duration) -> bool {
        let now = Instant::now();
        self.periods.iter().any(|&(a, b)| {
            let start = a.max(from);
            let end = b.unwrap_or(now).min(to.unwrap_or(now));
            end > start && end - start >= gap
        })
    }
}

/// A seeded random source for the moments of kills (splitmix64). The seed is
/// `SIEMFWD_TEST_SEED` or the clock, and is printed so a failing run can be repeated.
pub struct Rng(u64);

impl Rng {
    pub fn from_env(test: &str) -> Rng {
        let seed = std::env::var("SIEMFWD_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        eprintln!("{test}: SIEMFWD_TEST_SEED={seed}");
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A duration in [lo, hi).
    pub fn between(&mut self, lo: Duration, hi: Duration) -> Duration {
        let span = (hi - lo).as_millis().max(1) as u64;
        lo + Duration::from_millis(self.next_u64() % span)
    }
}
