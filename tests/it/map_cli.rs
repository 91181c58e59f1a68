//! The `siemfwd map` command as a user runs it: exit statuses, diagnostics, stdin, broken pipes.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn siemfwd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_siemfwd"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("siemfwd-map-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn malformed_alerts_are_reported_with_position_and_id_and_the_rest_mapped() {
    let out = siemfwd(&["map", "examples/alerts/malformed.ndjson"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 2);
    assert!(stdout.contains("externalId=mal-0001_1") && stdout.contains("externalId=mal-0005_1"));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("malformed.ndjson: line 2: malformed alert"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 3 (id mal-0003_1): malformed alert: invalid type"),
        "{stderr}"
    );
    assert!(stderr.contains("line 5: malformed alert"), "{stderr}");
}

/// Regression: a page saved on one line with one byte that is not UTF-8 (a description
/// re-saved as Latin-1) was refused whole, as one malformed line: none of its alerts was mapped.
#[test]
fn a_page_on_one_line_with_a_latin1_byte_loses_only_that_alert() {
    let dir = scratch("latin1");
    let page = dir.join("page.json");
    let mut bytes = br#"{"value":[{"id":"a","title":"ok"},{"id":"b","title":"caf"#.to_vec();
    bytes.push(0xe9);
    bytes.extend_from_slice(br#""},{"id":"c","title":"ok"}]}"#);
    std::fs::write(&page, &bytes).unwrap();
    let out = siemfwd(&["map", page.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(stdout.contains("externalId=a") && stdout.contains("externalId=c"));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "line 1, alert #2 (id b): malformed alert: not UTF-8: byte 0xe9 at line 1 (offset 22 in the alert); JSON is UTF-8, save the input as UTF-8"
        ),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_unreadable_file_is_reported_and_the_others_are_still_mapped() {
    let out = siemfwd(&["map", "no/such/file.json", "examples/alerts/single.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stdout).lines().count(), 1);
    assert!(text(&out.stderr).contains("cannot read no/such/file.json"));
}

#[test]
fn stdin_is_read_when_no_file_is_given() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_siemfwd"))
        .args(["map", "--format", "leef", "--tenant-name", "fabrikam"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"value":[{"id":"a","severity":"Low"},{"id":"b"}]}"#)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 2);
    assert!(
        stdout
            .lines()
            .all(|l| l.contains("\ttenantName=fabrikam\t")),
        "{stdout}"
    );
}

#[test]
fn a_broken_pipe_ends_quietly() {
    let dir = scratch("pipe");
    let file = dir.join("many.ndjson");
    let mut f = std::fs::File::create(&file).unwrap();
    for i in 0..50_000 {
        writeln!(
            f,
            r#"{{"id":"id-{i}","title":"alert {i}","description":"{}"}}"#,
            "x".repeat(200)
        )
        .unwrap();
    }
    drop(f);
    let mut child = Command::new(env!("CARGO_BIN_EXE_siemfwd"))
        .args(["map", file.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is gone: the next writes hit a closed pipe.
    let out = child.wait_with_output().unwrap();
    assert!(first.contains("externalId=id-0"));
    assert_eq!(text(&out.stderr), "");
    assert_eq!(out.status.code(), Some(0));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_copied_and_edited_mapping_file_is_used() {
    let dir = scratch("mapping");
    let mapping = dir.join("my-cef.toml");
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/mappings/cef.toml")).unwrap();
    // Writes the shipped mapping with one line replaced, and maps a sample with it.
    let map_with = |from: &str, to: &str| {
        std::fs::write(&mapping, shipped.replace(from, to)).unwrap();
        siemfwd(&[
            "map",
            "--mapping",
            mapping.to_str().unwrap(),
            "examples/alerts/single.json",
        ])
    };
    let out = map_with("vendor = \"'Microsoft'\"", "vendor = \"'Contoso SOC'\"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("CEF:0|Contoso SOC|Microsoft Defender for Endpoint|"));

    let out = map_with("shost = \"computerDnsName\"", "shost = \"computerDnsNme\"");
    assert_eq!(out.status.code(), Some(2));
    let line = shipped
        .lines()
        .position(|l| l.starts_with("shost ="))
        .unwrap()
        + 1;
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "my-cef.toml:{line}: `fields.shost`: unknown alert field `computerDnsNme`"
        )),
        "{stderr}"
    );
    assert!(text(&out.stdout).is_empty());

    let out = siemfwd(&[
        "map",
        "--format",
        "leef",
        "--mapping",
        "mappings/cef.toml",
        "examples/alerts/single.json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--format leef does not match"));
    std::fs::remove_dir_all(dir).unwrap();
}

/// Regression: a 70 KB description must come out whole-but-shortened, never cut mid-record.
#[test]
fn oversized_alert_fits_max_message_bytes_with_its_envelope() {
    for (syslog, max) in [("rfc5424", "8192"), ("rfc3164", "2048")] {
        for format in ["cef", "leef", "json"] {
            let out = siemfwd(&[
                "map",
                "--format",
                format,
                "--syslog",
                syslog,
                "--hostname",
                "fwd01",
                "--max-message-bytes",
                max,
                "examples/alerts/oversized.json",
            ]);
            assert!(out.status.success(), "{}", text(&out.stderr));
            let stdout = text(&out.stdout);
            let line = stdout.strip_suffix('\n').unwrap();
            assert!(!line.contains('\n'));
            let max: usize = max.parse().unwrap();
            assert!(line.len() < max, "{format}/{syslog}: {}", line.len());
            let shortened = text(&out.stderr).contains("1 record was shortened");
            // CEF cuts msg to 1023 bytes by its dictionary, so it may fit without shortening;
            // LEEF and JSON carry the whole description and must be shortened to fit.
            assert!(
                shortened || (format == "cef" && line.len() < 2000),
                "{format}/{syslog}"
            );
            if shortened {
                assert!(
                    line.len() > max * 9 / 10,
                    "{format}/{syslog}: budget wasted: {}",
                    line.len()
                );
            }
            if format == "json" {
                let at = line.find('{').unwrap();
                let v: serde_json::Value = serde_json::from_str(&line[at..]).unwrap();
                assert_eq!(v["id"], "da638672190001234567_1000000001");
            }
        }
    }
}

#[test]
fn syslog_envelopes_wrap_each_record() {
    let out = siemfwd(&[
        "map",
        "--syslog",
        "rfc5424",
        "--hostname",
        "fwd01",
        "examples/alerts/single.json",
    ]);
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("<130>1 2026-"), "{stdout}");
    assert!(
        stdout.contains(" fwd01 siemfwd - - - CEF:0|Microsoft|"),
        "{stdout}"
    );
    let out = siemfwd(&[
        "map",
        "--syslog",
        "rfc3164",
        "--hostname",
        "fwd01",
        "examples/alerts/single.json",
    ]);
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("<130>Nov 22 "), "{stdout}");
    assert!(stdout.contains(" fwd01 siemfwd: CEF:0|"), "{stdout}");
    let out = siemfwd(&[
        "map",
        "--syslog",
        "rfc5424",
        "--hostname",
        "bad host",
        "examples/alerts/single.json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("HOSTNAME `bad host`"));
}

/// A config with one output, written into a scratch dir.
fn config_with(dir: &std::path::Path, output: &str) -> PathBuf {
    let path = dir.join("siemfwd.toml");
    std::fs::write(
        &path,
        format!("state_dir = \"state\"\n\n[[output]]\nname = \"out\"\n{output}"),
    )
    .unwrap();
    path
}

/// `siemfwd map --config CONFIG --output out FILES...`.
fn map_through_output(config: &std::path::Path, files: &[&str]) -> Output {
    let mut args = vec![
        "map",
        "--config",
        config.to_str().unwrap(),
        "--output",
        "out",
    ];
    args.extend_from_slice(files);
    siemfwd(&args)
}

#[test]
fn map_sends_through_a_configured_output() {
    let dir = scratch("output-file");
    let _ = std::fs::remove_file(dir.join("alerts.log"));
    let config = config_with(
        &dir,
        "type = \"file\"\npath = \"alerts.log\"\nsyslog = \"rfc5424\"\n",
    );
    let out = map_through_output(
        &config,
        &[
            "examples/alerts/realistic-page.json",
            "examples/alerts/adversarial.json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        out.stdout.is_empty(),
        "records go to the output, not stdout"
    );
    let written = std::fs::read_to_string(dir.join("alerts.log")).unwrap();
    assert_eq!(written.lines().count(), 25);
    assert!(
        written
            .lines()
            .all(|l| l.starts_with('<') && l.contains(" siemfwd - - - CEF:0|"))
    );
}

#[test]
fn a_record_that_cannot_fit_goes_to_the_dead_letter_file() {
    let dir = scratch("dead-letter");
    let _ = std::fs::remove_dir_all(dir.join("state"));
    // A 255-byte host name leaves no room for the CEF header within 480 bytes.
    let config = config_with(
        &dir,
        &format!(
            "type = \"file\"\npath = \"alerts.log\"\nsyslog = \"rfc5424\"\nhostname = \"{}\"\nmax_message_bytes = 480\n",
            "h".repeat(255)
        ),
    );
    let out = map_through_output(&config, &["examples/alerts/single.json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("raise the maximum message size"),
        "{stderr}"
    );
    assert!(stderr.contains("dead-letter/out.ndjson"), "{stderr}");
    let letters = std::fs::read_to_string(dir.join("state/dead-letter/out.ndjson")).unwrap();
    let letter: serde_json::Value = serde_json::from_str(letters.lines().next().unwrap()).unwrap();
    assert_eq!(letter["output"], "out");
    assert!(letter["alertId"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(
        letter["reason"]
            .as_str()
            .unwrap()
            .contains("and the maximum message size leaves it")
    );
    assert_eq!(
        letter["alert"]["id"], letter["alertId"],
        "the alert itself is kept for a later replay"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.join("state/dead-letter/out.ndjson"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "dead letters hold alert data");
}

#[test]
fn output_options_are_checked_against_the_config() {
    let dir = scratch("output-options");
    let config = config_with(&dir, "type = \"stdout\"\n");
    let c = config.to_str().unwrap();
    let out = siemfwd(&[
        "map",
        "--config",
        c,
        "--output",
        "siem",
        "examples/alerts/single.json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("has no output named \"siem\" (there are: out)"),
        "{}",
        text(&out.stderr)
    );
    let out = siemfwd(&["map", "--config", c, "--output", "out", "--format", "leef"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("cannot be used with"),
        "{}",
        text(&out.stderr)
    );
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[[output]]\nname = \"out\"\ntype = \"tcp\"\nadress = \"x:1\"\n",
    )
    .unwrap();
    let out = siemfwd(&["map", "--config", bad.to_str().unwrap(), "--output", "out"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("bad.toml:4: unknown field `adress`"),
        "{}",
        text(&out.stderr)
    );
}

/// With an output, a malformed alert is kept in the output's dead-letter file with its text
/// (the README promised it; it was only reported, leaving nothing to replay from), and the
/// good ones are delivered.
#[test]
fn with_an_output_a_malformed_alert_goes_to_the_dead_letter_file() {
    let dir = scratch("malformed-dead-letter");
    let _ = std::fs::remove_dir_all(dir.join("state"));
    let _ = std::fs::remove_file(dir.join("alerts.log"));
    let mut page = br#"{"value":[{"id":"a"},{"id":"b","title":"caf"#.to_vec();
    page.push(0xe9);
    page.extend_from_slice(br#""},{"id":"c","evidence":5}]}"#);
    std::fs::write(dir.join("page.json"), &page).unwrap();
    let config = config_with(&dir, "type = \"file\"\npath = \"alerts.log\"\n");
    let page = dir.join("page.json");
    let out = map_through_output(&config, &[page.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("alert #2 (id b): malformed alert: not UTF-8")
            && stderr.contains("; kept in /")
            && stderr.contains("state/dead-letter/out.ndjson"),
        "{stderr}"
    );
    let written = std::fs::read_to_string(dir.join("alerts.log")).unwrap();
    assert_eq!(written.lines().count(), 1, "{written}");
    let letters = std::fs::read_to_string(dir.join("state/dead-letter/out.ndjson")).unwrap();
    let letters: Vec<serde_json::Value> = letters
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(letters.len(), 2);
    assert_eq!(letters[0]["alertId"], "b");
    assert_eq!(letters[0]["alert"]["title"], "caf\u{fffd}");
    assert!(letters[0].get("output").is_none());
    assert!(
        letters[0]["reason"]
            .as_str()
            .unwrap()
            .ends_with("line 1, alert #2 (id b): malformed alert: not UTF-8: byte 0xe9 at line 1 (offset 22 in the alert); JSON is UTF-8, save the input as UTF-8")
    );
    assert_eq!(letters[1]["alertId"], "c");
    assert_eq!(letters[1]["alert"]["evidence"], 5);
}

/// A malformed alert whose dead letter cannot be written (the dead-letter folder is a file)
/// stops the run with the file named, rather than being dropped with only a message.
#[test]
fn a_malformed_alert_that_cannot_be_kept_stops_the_run() {
    let dir = scratch("dead-letter-unwritable");
    let _ = std::fs::remove_dir_all(dir.join("state"));
    std::fs::create_dir_all(dir.join("state")).unwrap();
    std::fs::write(dir.join("state/dead-letter"), "not a folder").unwrap();
    let config = config_with(&dir, "type = \"file\"\npath = \"alerts.log\"\n");
    let out = map_through_output(&config, &["examples/alerts/malformed.ndjson"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cannot write the dead-letter file")
            && stderr.contains("state/dead-letter/out.ndjson"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
