//! Reload on SIGHUP (issue 17): tenants added, removed and kept, an output changed, and a file
//! that does not load, against `siemfwd run` and the simulator.

use std::path::Path;
use std::process::Child;
use std::time::Duration;

use siemfwd_simulator::{Simulator, SimulatorConfig};
use tokio::time::Instant;

use crate::support;
use crate::support::run;
use crate::support::tempdir::TestDir;

/// The config: the simulator's tenants `tenants` (0-based), all to one `file` output at `out`,
/// with the admin listener on a free port.
fn config(dir: &TestDir, sim: &Simulator, tenants: &[usize], out: &str) {
    let output = format!(
        "[[output]]\nname = \"file\"\ntype = \"file\"\npath = \"{}\"\n",
        dir.join(out).display()
    );
    let admin = "[admin]\nlisten = \"127.0.0.1:0\"";
    run::write_config(dir, sim, admin, &output, |i| {
        tenants.contains(&i).then_some("file")
    });
}

fn lines(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Waits until `file` holds `n` records, or fails with the log.
async fn wait_lines(file: &Path, n: usize, log: &Path, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while lines(file).len() < n {
        assert!(
            Instant::now() < deadline,
            "{what}: {} of {n} records in {}\n{}",
            lines(file).len(),
            file.display(),
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn metrics(log: &Path) -> String {
    run::get(run::admin_port(log).await, "/metrics").await.1
}

fn count_of(records: &[String], tenant: &str) -> usize {
    records
        .iter()
        .filter(|r| r.contains(&format!("cs3={tenant} ")))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_adds_removes_and_changes_without_losing_or_stopping_the_rest() {
    let sim = Simulator::start(
        "127.0.0.1:0".parse().unwrap(),
        SimulatorConfig {
            tenants: 3,
            alerts_per_tenant: 20,
            adversarial_fraction: 0.0,
            history: Duration::from_secs(1800),
            max_visibility_delay: Duration::ZERO,
            ..SimulatorConfig::default()
        },
    )
    .await
    .unwrap();
    let dir = TestDir::new("reload");
    let (a, b) = (dir.join("a.cef"), dir.join("b.cef"));
    let log = dir.join("siemfwd.log");
    config(&dir, &sim, &[0, 1], "a.cef");
    let child = run::spawn(&dir, &[]);
    wait_lines(&a, 40, &log, "tenants 1 and 2 at start").await;
    let hup = |child: &Child| assert!(support::process::signal(child.id(), "HUP"));

    // Tenant 1 goes, tenant 3 comes, tenant 2 stays and keeps polling.
    config(&dir, &sim, &[1, 2], "a.cef");
    hup(&child);
    wait_lines(&a, 60, &log, "tenant 3 added").await;
    let tenant = |i: usize| sim.tenants()[i].id.clone();
    sim.create_alert(&tenant(0)).unwrap();
    sim.create_alert(&tenant(1)).unwrap();
    wait_lines(&a, 61, &log, "a new alert of the kept tenant 2").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let records = lines(&a);
    assert_eq!(records.len(), 61, "the removed tenant 1 is not polled");
    assert_eq!(count_of(&records, "tenant-01"), 20);
    assert_eq!(count_of(&records, "tenant-02"), 21);
    assert_eq!(count_of(&records, "tenant-03"), 20);

    // A file that does not load: said with its line, and the running config goes on.
    std::fs::write(dir.join("siemfwd.toml"), "state_dir = \"x\"\n[[tenant]\n").unwrap();
    hup(&child);
    sim.create_alert(&tenant(2)).unwrap();
    wait_lines(&a, 62, &log, "tenant 3 after a failed reload").await;
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("siemfwd.toml:2:") && text.contains("the running config goes on"),
        "{text}"
    );

    // The output changes (another file): its tenants start again from their checkpoints, and
    // what follows goes to the new file; nothing is lost or sent twice.
    config(&dir, &sim, &[1, 2], "b.cef");
    hup(&child);
    tokio::time::sleep(Duration::from_secs(2)).await;
    sim.create_alert(&tenant(1)).unwrap();
    sim.create_alert(&tenant(2)).unwrap();
    wait_lines(&b, 2, &log, "new alerts through the changed output").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(lines(&a).len(), 62, "nothing more to the old file");
    let mut all = lines(&a);
    all.extend(lines(&b));
    let unique: std::collections::BTreeSet<&String> = all.iter().collect();
    assert_eq!((all.len(), unique.len()), (64, 64), "no loss, no duplicate");

    let m = metrics(&log).await;
    assert!(
        m.contains("siemfwd_config_reloads_total{result=\"ok\"} 2"),
        "{m}"
    );
    assert!(
        m.contains("siemfwd_config_reloads_total{result=\"failed\"} 1"),
        "{m}"
    );
    assert!(
        !m.contains("tenant=\"tenant-01\""),
        "the removed tenant is not reported: {m}"
    );
    let (status, _) = support::process::signal_and_wait(child, "TERM").await;
    assert!(status.success(), "{status}");
}
