//! The shipped systemd unit, `contrib/systemd/siemfwd.service`, as systemd itself reads it.

use crate::support;

use std::process::Command;
use std::time::Duration;

use siemfwd::config::DEFAULT_SHUTDOWN_GRACE;
use siemfwd::config::DEFAULT_STATE_DIR;
use support::tempdir::TestDir;

const UNIT: &str = include_str!("../../contrib/systemd/siemfwd.service");
const INSTALLED: &str = "/usr/local/bin/siemfwd";

/// The value of `key=` in the unit (the last one, as systemd takes it).
fn setting<'a>(key: &str) -> &'a str {
    UNIT.lines()
        .rev()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("the unit has no {key}="))
}

#[test]
fn the_systemd_unit_is_valid_and_matches_the_program() {
    assert_eq!(
        setting("ExecStart"),
        format!("{INSTALLED} run --config /etc/siemfwd/siemfwd.toml")
    );
    // Checkpoints and tokens go where the config's default state_dir says.
    assert_eq!(
        format!("/var/lib/{}", setting("StateDirectory")),
        DEFAULT_STATE_DIR
    );
    // systemd must let a stopping `run` finish its window before it kills it.
    let stop = setting("TimeoutStopSec");
    let stop = Duration::from_secs(stop.trim_end_matches('s').parse().unwrap());
    assert!(stop > DEFAULT_SHUTDOWN_GRACE, "TimeoutStopSec {stop:?}");

    // `verify` wants the executable to exist: the one just built stands in for the installed.
    let dir = TestDir::new("systemd-unit");
    let unit = dir.join("siemfwd.service");
    std::fs::write(
        &unit,
        UNIT.replace(INSTALLED, env!("CARGO_BIN_EXE_siemfwd")),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .expect("systemd-analyze not found: install systemd (scripts/install-receivers.sh does)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Unknown keys and bad values are only warnings to systemd: any output is a defect here.
    assert!(out.status.success() && stderr.trim().is_empty(), "{stderr}");
}
