//! Golden tests: every sample in `examples/alerts/` mapped by the `siemfwd` binary to CEF, LEEF
//! and JSON must equal the expected file in `examples/alerts/expected/`.
//!
//! After a deliberate change of a mapping or encoder, regenerate with
//! `SIEMFWD_BLESS=1 cargo test --test golden` and review the diff like code.

use std::path::{Path, PathBuf};
use std::process::Command;

const TENANT_ARGS: [&str; 4] = [
    "--tenant-name",
    "contoso",
    "--tenant-id",
    "00000000-0000-0000-0000-00000000c0de",
];

fn samples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/alerts");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("json" | "ndjson")
            )
        })
        .collect();
    files.sort();
    assert!(files.len() >= 7, "samples missing in {}", dir.display());
    files
}

fn map(format: &str, file: &Path) -> (String, String, Option<i32>) {
    let out = Command::new(env!("CARGO_BIN_EXE_siemfwd"))
        .args(["map", "--format", format])
        .args(TENANT_ARGS)
        .arg(file)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.code(),
    )
}

#[test]
fn samples_map_to_their_golden_records() {
    let bless = std::env::var_os("SIEMFWD_BLESS").is_some();
    let expected_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/alerts/expected");
    let mut failures = Vec::new();
    for file in samples() {
        let stem = file.file_stem().unwrap().to_str().unwrap().to_owned();
        for format in ["cef", "leef", "json"] {
            let (stdout, stderr, code) = map(format, &file);
            // The expected file holds the records, then the diagnostics after a marker line.
            let mut actual = stdout;
            if !stderr.is_empty() || code != Some(0) {
                actual.push_str(&format!("#### stderr (exit {}):\n", code.unwrap_or(-1)));
                actual.push_str(&stderr.replace(env!("CARGO_MANIFEST_DIR"), "."));
            }
            let golden = expected_dir.join(format!("{stem}.{format}"));
            if bless {
                std::fs::create_dir_all(&expected_dir).unwrap();
                std::fs::write(&golden, &actual).unwrap();
                continue;
            }
            match std::fs::read_to_string(&golden) {
                Ok(want) if want == actual => {}
                Ok(want) => {
                    let line = want
                        .lines()
                        .zip(actual.lines())
                        .position(|(a, b)| a != b)
                        .map_or(want.lines().count().min(actual.lines().count()), |i| i);
                    failures.push(format!(
                        "{}: differs at line {}\n  want: {:?}\n  got:  {:?}",
                        golden.display(),
                        line + 1,
                        want.lines().nth(line).unwrap_or("<end>"),
                        actual.lines().nth(line).unwrap_or("<end>")
                    ));
                }
                Err(e) => failures.push(format!(
                    "{}: {e} (run with SIEMFWD_BLESS=1)",
                    golden.display()
                )),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// One alert gives exactly one line in every format, whatever its values hold.
#[test]
fn one_alert_one_line_in_every_format() {
    for file in samples() {
        let text = std::fs::read_to_string(&file).unwrap();
        let value_count = |v: &serde_json::Value| match v {
            serde_json::Value::Array(a) => a.len(),
            serde_json::Value::Object(o) => o
                .get("value")
                .and_then(|v| v.as_array())
                .map_or(1, |a| a.len()),
            _ => 0,
        };
        let alerts: usize = match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(v) => value_count(&v),
            // NDJSON: count the lines that are alert objects.
            Err(_) => text
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .filter(|v| {
                    v.as_object()
                        .is_some_and(|o| !o.get("evidence").is_some_and(|e| e.is_string()))
                })
                .map(|v| value_count(&v))
                .sum(),
        };
        for format in ["cef", "leef", "json"] {
            let (stdout, _, _) = map(format, &file);
            assert_eq!(
                stdout.lines().count(),
                alerts,
                "{} as {format}",
                file.display()
            );
            assert!(
                !stdout.contains('\r'),
                "{} as {format}: raw CR",
                file.display()
            );
        }
    }
}
