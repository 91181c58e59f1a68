//! The forwarder end to end, as a user runs it (issue 5):
//! 1. `siemfwd replay` of every alert of N tenants (default 10 × 100,000) from `siemfwd
//!    simulate` (its own process) to a real rsyslog over mutual TLS that writes each record to
//!    a file: alerts per second from the replay's start until rsyslog has written the last
//!    record, and the replay's peak RSS (VmHWM);
//! 2. `siemfwd run` with 1,000 tenants polling an idle simulator (`poll_interval = "60s"`): peak
//!    RSS, and CPU time per wall second over the measured minutes after the first poll round.
//!
//! Run: `cargo bench --bench forward_end_to_end` (`-- --tenants N --alerts M`, `-- --page-size P`,
//! `-- --idle-tenants N --idle-minutes M`, `-- --no-idle`, `-- --no-replay`).
//! Targets: replay >= 50,000 alerts/s with peak RSS < 100 MB; idle: RSS < 100 MB, < 5% of a core.
//! Needs rsyslogd and openssl: `scripts/install-receivers.sh`.
// Tests and benchmarks stop at the first surprise: unwrap is their assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// A benchmark is one scenario read top to bottom: setup, measured run, report.
#![allow(clippy::too_many_lines)]

#[path = "common/lean_rsyslog.rs"]
mod lean_rsyslog;
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::certs::Certs;
use support::process::Daemon;
use support::tempdir::TestDir;

const SIEMFWD: &str = env!("CARGO_BIN_EXE_siemfwd");
const SECRET_ENV: &str = "SIEMFWD_SIM_SECRET";
const SECRET: &str = "bench-secret";

/// `siemfwd simulate` in its own process, and the `[defaults]` members and `[[tenant]]` tables
/// it printed.
struct SimulatorProcess {
    daemon: Daemon,
    tenants_toml: String,
}

fn start_simulator(dir: &Path, tenants: usize, alerts: usize) -> SimulatorProcess {
    let mut cmd = Command::new(SIEMFWD);
    cmd.args(["simulate", "--listen", "127.0.0.1:0", "--secret", SECRET])
        .args([
            "--tenants",
            &tenants.to_string(),
            "--alerts",
            &alerts.to_string(),
        ])
        // Every alert's text kept (~4.5 KB each): the simulator stands in for Microsoft's
        // servers, so its generating alerts again is kept off the cores the forwarder shares.
        .args(["--text-mb", &(tenants * alerts * 5 / 1000 + 64).to_string()]);
    let started = Instant::now();
    let mut daemon = Daemon::spawn("siemfwd simulate", cmd, &dir.join("simulate")).unwrap();
    let stdout = dir.join("simulate.stdout");
    let summary = loop {
        let text = std::fs::read_to_string(&stdout).unwrap_or_default();
        if text.contains("# Ctrl-C stops the simulator.") {
            break text;
        }
        assert!(
            daemon.try_wait().is_none(),
            "the simulator exited: {}",
            daemon.output()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // The config it prints: the bench keeps its `[defaults]` members (client, login and API
    // URLs) and its `[[tenant]]` tables, and brings its own outputs and state_dir.
    let section = |name: &str| {
        summary
            .find(name)
            .unwrap_or_else(|| panic!("the simulator prints a config with {name}: {summary}"))
    };
    let defaults = &summary[section("[defaults]\n") + "[defaults]\n".len()..section("[[output]]")];
    let tenants_toml = format!("{defaults}\n{}", &summary[section("[[tenant]]")..])
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    eprintln!(
        "simulator: {tenants} tenants × {alerts} alerts ready in {:.1}s, RSS {} MB",
        started.elapsed().as_secs_f64(),
        rss_kb(daemon.pid().unwrap(), "VmRSS:") / 1024
    );
    SimulatorProcess {
        daemon,
        tenants_toml,
    }
}

/// A field of /proc/PID/status in kB (0 once the process is gone).
fn rss_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// utime + stime of a process in clock ticks (100 per second on Linux).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

fn write_config(
    dir: &Path,
    tenants_toml: &str,
    defaults: &str,
    output: &str,
) -> std::path::PathBuf {
    let path = dir.join("siemfwd.toml");
    let state = dir.join("state");
    std::fs::write(
        &path,
        format!(
            "state_dir = \"{}\"\n\n[defaults]\n{defaults}\n{tenants_toml}\n\n{output}\n",
            state.display()
        ),
    )
    .unwrap();
    path
}

fn tls_output_toml(port: u16, certs: &Certs) -> String {
    format!(
        "[[output]]\nname = \"rsyslog\"\ntype = \"tls\"\naddress = \"127.0.0.1:{port}\"\n\
         format = \"cef\"\nca_file = \"{}\"\ncert_file = \"{}\"\nkey_file = \"{}\"\n\
         server_name = \"localhost\"\n",
        certs.ca_crt.display(),
        certs.client_crt.display(),
        certs.client_key.display()
    )
}

/// Lines in `file` (records written by the lean rsyslog), counted without holding it in memory.
fn count_lines(file: &Path) -> u64 {
    use std::io::Read;
    let Ok(mut f) = std::fs::File::open(file) else {
        return 0;
    };
    let mut buf = vec![0u8; 1 << 20];
    let mut lines = 0;
    loop {
        match f.read(&mut buf) {
            Ok(0) | Err(_) => return lines,
            Ok(n) => lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64,
        }
    }
}

fn replay(tenants: usize, alerts: usize, page_size: Option<u32>) {
    let dir = TestDir::new("bench-forward");
    let certs = Certs::generate(&dir.mkdir("certs"));
    let (mut rsyslog, port) = lean_rsyslog::start(dir.path(), &certs);
    let mut sim = start_simulator(dir.path(), tenants, alerts);
    let defaults = page_size
        .map(|p| format!("page_size = {p}"))
        .unwrap_or_default();
    let config = write_config(
        dir.path(),
        &sim.tenants_toml,
        &defaults,
        &tls_output_toml(port, &certs),
    );
    let total = (tenants * alerts) as u64;
    let out = dir.join("out.log");

    let started = Instant::now();
    // BENCH_WRAP="perf record -g -o perf.data --" profiles the replay (its RSS is then perf's).
    let wrap = std::env::var("BENCH_WRAP").unwrap_or_default();
    let mut words = wrap.split_whitespace();
    let mut command = match words.next() {
        Some(program) => {
            let mut c = Command::new(program);
            c.args(words).arg(SIEMFWD);
            c
        }
        None => Command::new(SIEMFWD),
    };
    let mut child = command
        .args(["replay", "--config"])
        .arg(&config)
        .args(["--from", "-25h", "--to", "now"])
        .env(SECRET_ENV, SECRET)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.join("replay.stderr")).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (sim_pid, rsyslog_pid) = (sim.daemon.pid().unwrap(), rsyslog.pid().unwrap());
    let (sim_ticks, rsyslog_ticks) = (cpu_ticks(sim_pid), cpu_ticks(rsyslog_pid));
    let (mut peak_kb, mut anon_kb, mut file_kb) = (0, 0, 0);
    let mut replay_ticks = 0;
    let status = loop {
        peak_kb = peak_kb.max(rss_kb(pid, "VmHWM:"));
        anon_kb = anon_kb.max(rss_kb(pid, "RssAnon:"));
        file_kb = file_kb.max(rss_kb(pid, "RssFile:"));
        replay_ticks = replay_ticks.max(cpu_ticks(pid));
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let replayed = started.elapsed();
    let stderr = std::fs::read_to_string(dir.join("replay.stderr")).unwrap_or_default();
    assert!(status.success(), "replay failed ({status}):\n{stderr}");
    // rsyslog may still be writing what it accepted.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut written = count_lines(&out);
    while written < total && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        written = count_lines(&out);
    }
    let end_to_end = started.elapsed();
    assert_eq!(written, total, "rsyslog wrote {written} of {total} records");
    let summary = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    println!(
        "replay {tenants} tenants × {alerts} alerts to rsyslog over TLS: {:.0} alerts/s end to end \
         ({:.1}s; replay process done in {:.1}s), replay peak RSS {:.1} MB",
        total as f64 / end_to_end.as_secs_f64(),
        end_to_end.as_secs_f64(),
        replayed.as_secs_f64(),
        peak_kb as f64 / 1024.0
    );
    println!("  replay's summary: {summary}");
    println!(
        "  largest sampled RssAnon {:.1} MB, RssFile {:.1} MB (the binary's pages)",
        anon_kb as f64 / 1024.0,
        file_kb as f64 / 1024.0
    );
    println!(
        "  CPU seconds: replay {:.1}, simulator {:.1}, rsyslog {:.1} (2 cores: {:.1} available)",
        replay_ticks as f64 / 100.0,
        (cpu_ticks(sim_pid) - sim_ticks) as f64 / 100.0,
        (cpu_ticks(rsyslog_pid) - rsyslog_ticks) as f64 / 100.0,
        2.0 * end_to_end.as_secs_f64()
    );
    rsyslog.stop();

    // The same replay to /dev/null: what the forwarder alone does with both cores less busy.
    let null_config = write_config(
        dir.path(),
        &sim.tenants_toml,
        &defaults,
        "[[output]]\nname = \"null\"\ntype = \"file\"\npath = \"/dev/null\"\nformat = \"cef\"\n",
    );
    let started = Instant::now();
    let out = Command::new(SIEMFWD)
        .args(["replay", "--config"])
        .arg(&null_config)
        .args(["--from", "-25h", "--to", "now"])
        .env(SECRET_ENV, SECRET)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!(
        "  the same replay to a file output on /dev/null: {:.0} alerts/s",
        total as f64 / started.elapsed().as_secs_f64()
    );
    sim.daemon.stop();
}

fn idle(tenants: usize, minutes: u64) {
    let dir = TestDir::new("bench-idle");
    let mut sim = start_simulator(dir.path(), tenants, 0);
    let output =
        "[[output]]\nname = \"null\"\ntype = \"file\"\npath = \"alerts.cef\"\nformat = \"cef\"\n";
    let config = write_config(
        dir.path(),
        &sim.tenants_toml,
        "poll_interval = \"60s\"",
        output,
    );
    let mut cmd = Command::new(SIEMFWD);
    cmd.args(["run", "--config"])
        .arg(&config)
        .env(SECRET_ENV, SECRET)
        .env("SIEMFWD_LOG", "warn");
    let mut run = Daemon::spawn("siemfwd run", cmd, &dir.join("run")).unwrap();
    let pid = run.pid().unwrap();
    // The first round fetches a token per tenant and makes the first call; measure after it.
    let warmup = Duration::from_secs(75);
    std::thread::sleep(warmup);
    assert!(run.try_wait().is_none(), "run exited: {}", run.output());
    let ticks0 = cpu_ticks(pid);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(60 * minutes));
    let cpu = (cpu_ticks(pid) - ticks0) as f64 / 100.0;
    let wall = t0.elapsed().as_secs_f64();
    let peak = rss_kb(pid, "VmHWM:");
    let now = rss_kb(pid, "VmRSS:");
    let checkpoints = count_files(&dir.join("state"));
    println!(
        "run with {tenants} idle tenants, poll every 60s: {:.2}% of one core over {wall:.0}s \
         (after a {}s warm-up), RSS {:.1} MB now, peak {:.1} MB; {checkpoints} state files",
        100.0 * cpu / wall,
        warmup.as_secs(),
        now as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    run.stop();
    sim.daemon.stop();
}

fn count_files(dir: &Path) -> usize {
    let mut n = 0;
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(entry.path());
            } else {
                n += 1;
            }
        }
    }
    n
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(|v| v.parse::<u64>().expect("a number"))
    };
    let has = |name: &str| args.iter().any(|a| a == name);
    // Figures differ by up to ~2× between VMs of the same kind: say which CPU they come from.
    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpu
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
        .map_or("unknown", |(_, m)| m.trim());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("CPU: {model}, {cores} cores");
    if !has("--no-replay") {
        replay(
            value("--tenants").unwrap_or(10) as usize,
            value("--alerts").unwrap_or(100_000) as usize,
            value("--page-size").map(|p| p as u32),
        );
    }
    if !has("--no-idle") {
        idle(
            value("--idle-tenants").unwrap_or(1000) as usize,
            value("--idle-minutes").unwrap_or(3),
        );
    }
}
