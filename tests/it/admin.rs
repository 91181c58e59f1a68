//! The operator's view (issue 17): `siemfwd run` with its admin listener, against the
//! simulator, a real rsyslog and a real Prometheus server (Debian's `prometheus`, installed by
//! `scripts/install-receivers.sh`) started here on a free port.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use siemfwd_simulator::{Simulator, SimulatorConfig, TenantKnobs, TokenFailure};
use tokio::time::Instant;

use crate::support;
use crate::support::rsyslog::{Rsyslog, RsyslogOpts};
use crate::support::run::{admin_port, get, http, spawn, write_config};
use crate::support::tempdir::TestDir;

/// `tenants` tenants of `alerts` plain alerts each, visible at once, with access tokens that
/// live 3 s (so that a revoked consent is met within seconds).
async fn simulator(tenants: usize, alerts: usize) -> Simulator {
    Simulator::start(
        "127.0.0.1:0".parse().unwrap(),
        SimulatorConfig {
            tenants,
            alerts_per_tenant: alerts,
            adversarial_fraction: 0.0,
            history: Duration::from_secs(1800),
            max_visibility_delay: Duration::ZERO,
            access_token_lifetime: Duration::from_secs(3),
            ..SimulatorConfig::default()
        },
    )
    .await
    .unwrap()
}

/// Writes the config (`outputs` as TOML, tenant `i` routed to `route(i)`) and starts `siemfwd
/// run` with its admin listener on a free port and `extra` arguments; its log goes to
/// `dir/siemfwd.log`.
fn start_run(
    dir: &TestDir,
    sim: &Simulator,
    outputs: &str,
    route: impl Fn(usize) -> &'static str,
    extra: &[&str],
) -> Child {
    write_config(dir, sim, "", outputs, |i| Some(route(i)));
    let mut args = vec!["--admin-listen", "127.0.0.1:0"];
    args.extend(extra);
    spawn(dir, &args)
}

/// A Prometheus server scraping `target` every second, on a free port; killed on drop.
struct Prometheus {
    child: Child,
    port: u16,
}

impl Prometheus {
    fn start(dir: &TestDir, target: u16) -> Prometheus {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: siemfwd\n    static_configs:\n      \
                 - targets: ['127.0.0.1:{target}']\n"
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus (Debian's package; scripts/install-receivers.sh installs it)");
        Prometheus { child, port }
    }

    /// The value of the instant query `query`, if it has one sample.
    async fn value(&self, query: &str) -> Option<f64> {
        let url = format!("http://127.0.0.1:{}/api/v1/query", self.port);
        let text = http()
            .get(url)
            .query(&[("query", query)])
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        let body: serde_json::Value = serde_json::from_str(&text).ok()?;
        let result = body["data"]["result"].as_array()?;
        if result.len() != 1 {
            return None;
        }
        result[0]["value"][1].as_str()?.parse().ok()
    }

    /// Waits until `query` has one sample that `ok` accepts; its value.
    async fn wait_for(&self, query: &str, ok: impl Fn(f64) -> bool, what: &str) -> f64 {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let v = self.value(query).await;
            if let Some(v) = v.filter(|v| ok(*v)) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: Prometheus says {v:?} for {query}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real Prometheus scrapes `run`: the sent counter equals what rsyslog received, the lag and
/// last-success gauges are current, and a tenant whose consent is revoked in the simulator
/// turns unhealthy with `reconsent_required`. `promtool check metrics` passes on `/metrics`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_sees_what_the_receiver_got_and_a_revoked_tenant() {
    let sim = simulator(2, 40).await;
    let rs = Rsyslog::start(RsyslogOpts::default());
    let dir = TestDir::new("admin-prometheus");
    let outputs = format!(
        "[[output]]\nname = \"rsyslog\"\ntype = \"tcp\"\naddress = \"127.0.0.1:{}\"\n",
        rs.ports().tcp
    );
    let child = start_run(&dir, &sim, &outputs, |_| "rsyslog", &[]);
    let log = dir.join("siemfwd.log");
    let port = admin_port(&log).await;
    let received = rs.wait_for_lines(&rs.raw_log(), 80, Duration::from_secs(30));
    assert_eq!(received.len(), 80, "{}", rs.diagnostics());

    let (status, metrics) = get(port, "/metrics").await;
    assert_eq!(status, 200);
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(promtool.stdin.as_mut().unwrap(), metrics.as_bytes()).unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool check metrics: {}{}\n{metrics}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );

    let prom = Prometheus::start(&dir, port);
    let sent = prom
        .wait_for(
            "sum(siemfwd_alerts_sent_total)",
            |v| v >= 80.0,
            "every record rsyslog got, counted",
        )
        .await;
    assert_eq!(
        sent,
        received.len() as f64,
        "sent counter against the receiver"
    );
    let records = prom
        .wait_for(
            "sum(siemfwd_output_records_sent_total)",
            |v| v >= 80.0,
            "the output's records",
        )
        .await;
    assert_eq!(records, 80.0);
    prom.wait_for(
        "time() - min(siemfwd_tenant_last_success_timestamp_seconds)",
        |v| v < 15.0,
        "every tenant polled within seconds",
    )
    .await;
    prom.wait_for(
        "count(siemfwd_tenant_lag_seconds < 1900)",
        |v| v == 2.0,
        "a lag for both tenants, within the simulated half hour of history",
    )
    .await;

    // The customer revokes the grant: the next token request (tokens live 3 s) is refused
    // with AADSTS50173, which only a person can cure.
    let revoked = &sim.tenants()[1];
    sim.set_tenant_knobs(
        &revoked.id,
        TenantKnobs {
            token_failure: Some(TokenFailure::Aadsts(50173)),
            ..TenantKnobs::default()
        },
    )
    .unwrap();
    let query = |q: &str| q.replace("NAME", &revoked.name);
    prom.wait_for(
        &query("siemfwd_tenant_auth_state{tenant=\"NAME\",state=\"reconsent_required\"}"),
        |v| v == 1.0,
        "the revoked tenant's auth state",
    )
    .await;
    prom.wait_for(
        &query("siemfwd_tenant_healthy{tenant=\"NAME\"}"),
        |v| v == 0.0,
        "the revoked tenant unhealthy",
    )
    .await;
    prom.wait_for(
        "siemfwd_tenant_healthy{tenant=\"tenant-01\"}",
        |v| v == 1.0,
        "the other tenant still healthy",
    )
    .await;
    let (status, _) = support::process::signal_and_wait(child, "TERM").await;
    // A tenant stopped for good: `run` says so with 1.
    assert_eq!(
        status.code(),
        Some(1),
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );
}

/// `/healthz`, `/readyz` (an output that is down: 503 and why), `/status`, JSON logs with
/// `tenant` and `output` fields, and every metric the shipped Grafana dashboard queries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_status_json_logs_and_the_dashboards_metrics() {
    let sim = simulator(2, 20).await;
    let dir = TestDir::new("admin-endpoints");
    let down = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let file: PathBuf = dir.join("file.log");
    let outputs = format!(
        "[[output]]\nname = \"file\"\ntype = \"file\"\npath = \"{}\"\n\n\
         [[output]]\nname = \"down\"\ntype = \"tcp\"\naddress = \"127.0.0.1:{down}\"\n\
         reconnect_backoff = \"200ms\"\nreconnect_backoff_max = \"1s\"\n",
        file.display()
    );
    let child = start_run(
        &dir,
        &sim,
        &outputs,
        |i| if i == 0 { "file" } else { "down" },
        &["--log-format", "json"],
    );
    let log = dir.join("siemfwd.log");
    let port = admin_port(&log).await;

    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        let (code, body) = get(port, "/status").await;
        assert_eq!(code, 200);
        let status: serde_json::Value = serde_json::from_str(&body).unwrap();
        if status["tenants"][0]["counts"]["fetched"].as_u64() == Some(20) {
            break status;
        }
        assert!(Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status["tenants"][0]["name"], "tenant-01");
    assert_eq!(status["tenants"][0]["healthy"], true);
    assert_eq!(status["tenants"][0]["auth"], "ok");
    assert_eq!(status["tenants"][0]["counts"]["sent"][0][1], 20);
    assert_eq!(status["outputs"][1]["name"], "down");
    assert_eq!(status["outputs"][1]["connected"], false);

    assert_eq!(get(port, "/healthz").await, (200, "ok\n".to_owned()));
    let (code, reason) = get(port, "/readyz").await;
    assert_eq!(code, 503, "{reason}");
    assert!(
        reason.contains("output \"down\"") && reason.contains("not reachable"),
        "{reason}"
    );
    assert_eq!(get(port, "/nothing").await.0, 404);
    // No secret is ever served.
    for path in ["/status", "/metrics", "/readyz", "/healthz"] {
        let (_, body) = get(port, path).await;
        assert!(
            !body.contains(sim.client_secret()),
            "{path} shows the secret"
        );
    }

    let (_, metrics) = get(port, "/metrics").await;
    let dashboard = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/grafana/siemfwd.json"),
    )
    .unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    let mut queried = std::collections::BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if word.starts_with("siemfwd_") || word.starts_with("process_") {
                    queried.insert(word.to_owned());
                }
            }
        }
    }
    assert!(queried.len() > 15, "{queried:?}");
    for name in &queried {
        // Declared (a family without samples yet, such as refresh-token expiries when no
        // tenant signs in with one, still has its TYPE line).
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with(&format!("# TYPE {name} "))),
            "the dashboard queries {name}, which /metrics does not have:\n{metrics}"
        );
    }

    let (status, _) = support::process::signal_and_wait(child, "TERM").await;
    assert!(status.success(), "{status}");
    let text = std::fs::read_to_string(&log).unwrap();
    let mut with_output = 0;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(v["level"].is_string() && v["message"].is_string(), "{line}");
        if v["output"] == "down" {
            with_output += 1;
        }
    }
    assert!(with_output > 0, "no line with an output field:\n{text}");
    assert!(
        text.lines().any(|l| l.contains("\"tenant\":\"tenant-01\"")),
        "no line with a tenant field:\n{text}"
    );
}

/// A log filter in the usual syntax works; a level that is not one is an error, not ignored
/// (`SIEMFWD_LOG=verbose` used to log at info as if unset).
#[test]
fn a_log_level_that_is_none_is_an_error_and_rust_log_is_read_when_siemfwd_log_is_unset() {
    let run = |vars: &[(&str, &str)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_siemfwd"));
        cmd.args(["map", "--format", "json", "/dev/null"])
            .env_remove("SIEMFWD_LOG")
            .env_remove("RUST_LOG");
        for (k, v) in vars {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let ok = run(&[("SIEMFWD_LOG", "warn,siemfwd::transport=debug")]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let bad = run(&[("SIEMFWD_LOG", "verbose")]);
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("SIEMFWD_LOG=verbose: \"verbose\" is not a level"),
        "{stderr}"
    );
    let bad = run(&[("RUST_LOG", "info,siemfwd=loud")]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("RUST_LOG=info,siemfwd=loud"));
}
