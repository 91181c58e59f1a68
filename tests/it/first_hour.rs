//! The first hour of a new user (issue 18): what the built binary says to the mistakes a new
//! user makes, in the exact words.

use std::process::{Command, Output};

use crate::support::tempdir::TestDir;

/// A tenant and a file output that load (no secret needed to fail before the network).
const VALID: &str = "state_dir = \"state\"\n\n[[output]]\nname = \"file\"\ntype = \"file\"\npath = \"out.cef\"\n\n\
     [[tenant]]\nname = \"contoso\"\ntenant_id = \"00000000-0000-0000-0000-000000000001\"\n\
     client_id = \"00000000-0000-0000-0000-000000000002\"\nclient_secret = \"s\"\n";

fn siemfwd(dir: &TestDir, config: &str, args: &[&str]) -> (Output, String) {
    let path = dir.join("siemfwd.toml");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_siemfwd"))
        .args(args)
        .arg("--config")
        .arg(&path)
        .current_dir(dir.join("."))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

/// Regression (issue 18, 3): `type = "TCP"` was blamed on `address` ("a TCP output takes no
/// `address`").
#[test]
fn a_wrong_output_type_is_called_unknown_with_the_valid_ones() {
    let dir = TestDir::new("first-hour-type");
    let (out, text) = siemfwd(
        &dir,
        "[[output]]\nname = \"siem\"\ntype = \"TCP\"\naddress = \"127.0.0.1:514\"\n",
        &["check"],
    );
    assert!(!out.status.success());
    assert!(
        text.contains("siemfwd.toml:1: [[output]] \"siem\": `type`: unknown output type `TCP`: one of tls, relp, tcp, udp, unix, file, stdout (lower case); did you mean `tcp`?"),
        "{text}"
    );
    let (_, text) = siemfwd(
        &dir,
        "[[output]]\nname = \"siem\"\ntype = \"syslog\"\naddress = \"127.0.0.1:514\"\n",
        &["check"],
    );
    assert!(
        text.contains("`type`: unknown output type `syslog`: one of tls, relp, tcp, udp, unix, file, stdout (lower case)\n"),
        "{text}"
    );
}

/// Regression (issue 18, 7): a misspelt tenant key got no suggestion and no list of keys.
#[test]
fn a_misspelt_key_gets_the_key_meant() {
    let dir = TestDir::new("first-hour-key");
    let (out, text) = siemfwd(
        &dir,
        &VALID.replace("client_secret = \"s\"", "client_secert_env = \"S\""),
        &["check"],
    );
    assert!(!out.status.success());
    assert!(
        text.contains("unknown field `client_secert_env` (did you mean `client_secret_env`?), expected one of `name`, `tenant_id`, `outputs`, `client_id`, `client_secret_env`"),
        "{text}"
    );
    let (_, text) = siemfwd(&dir, &VALID.replace("state_dir", "stat_dir"), &["check"]);
    assert!(
        text.contains("siemfwd.toml:1: unknown field `stat_dir` (did you mean `state_dir`?)"),
        "{text}"
    );
}

/// Regression (issue 18, 8): dates, times without a zone, Unix seconds, `yesterday` and long
/// units were refused; the error now names RFC 3339 once and the other forms.
#[test]
fn replay_takes_the_times_users_write() {
    let dir = TestDir::new("first-hour-times");
    let (out, text) = siemfwd(
        &dir,
        VALID,
        &["replay", "--from", "last tuesday", "--to", "now"],
    );
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert_eq!(
        text.trim_end(),
        "siemfwd: --from: `last tuesday` is not a time: write RFC 3339 (2026-11-22T08:00:00Z), a date (2026-11-22, UTC midnight), Unix seconds, `now`, `today`, `yesterday` or a time back from now (-24h, -2 hours)"
    );
    // Read, said how, and refused only for being an empty range.
    let (out, text) = siemfwd(
        &dir,
        VALID,
        &[
            "replay",
            "--from",
            "2026-12-05T08:00:00",
            "--to",
            "1764921600",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("note: --from: `2026-12-05T08:00:00` has no time zone: read as UTC (2026-12-05T08:00:00.0000000Z)"),
        "{text}"
    );
    assert!(
        text.contains(
            "--from 2026-12-05T08:00:00.0000000Z is not before --to 2025-12-05T08:00:00Z"
        ),
        "{text}"
    );
    for from in ["2026-12-05", "yesterday", "-2 hours", "1764921600"] {
        let (out, text) = siemfwd(&dir, VALID, &["replay", "--from", from, "--to", "1"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(text.contains("is not before --to"), "{from}: {text}");
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_siemfwd"))
        .args(args)
        .output()
        .unwrap()
}

/// Issue 18, 11: completions that the shells accept, a manual page `man` renders, and a
/// version that says the commit.
#[test]
fn completions_parse_the_man_page_renders_and_the_version_names_the_commit() {
    let bash = run(&["completions", "bash"]);
    assert!(bash.status.success());
    let mut check = Command::new("bash")
        .arg("-n")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(check.stdin.as_mut().unwrap(), &bash.stdout).unwrap();
    assert!(
        check.wait().unwrap().success(),
        "bash -n refused the completions"
    );
    for shell in ["zsh", "fish"] {
        let out = run(&["completions", shell]);
        assert!(out.status.success() && out.stdout.len() > 1000, "{shell}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("replay"),
            "{shell}"
        );
    }

    let page = run(&["man"]);
    assert!(page.status.success());
    let dir = TestDir::new("first-hour-man");
    let file = dir.join("siemfwd.1");
    std::fs::write(&file, &page.stdout).unwrap();
    let rendered = Command::new("man")
        .arg("-l")
        .arg(&file)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&rendered.stdout);
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    let words: Vec<&str> = text.split_whitespace().collect();
    assert!(
        text.contains("NAME") && words.windows(3).any(|w| w == ["siemfwd", "-", "Forward"]),
        "{text}"
    );
    assert!(
        text.contains("replay"),
        "the subcommands are listed: {text}"
    );

    let version = String::from_utf8_lossy(&run(&["--version"]).stdout).into_owned();
    assert!(version.starts_with("siemfwd 0.1.0"), "{version}");
    if std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.git")).exists() {
        // Built from a git checkout: `siemfwd 0.1.0 (5bbdf0a)`.
        assert!(version.trim_end().ends_with(')'), "{version}");
    }
}

/// Regression (issue 18, 9): `map --format json` without a tenant wrote
/// `"tenantName":"","tenantId":""`; `--max-message-bytes 50` said "the limit of 49".
#[test]
fn map_without_a_tenant_leaves_the_tenant_out_and_a_tight_limit_says_what_is_left() {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/alerts/single.json");
    let out = run(&["map", "--format", "json", sample]);
    assert!(out.status.success());
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(line.starts_with("{\"id\":\"da"), "{line}");
    assert!(!line.contains("tenantName"), "{line}");

    let out = run(&["map", "--max-message-bytes", "50", sample]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("and the maximum message size leaves it 49 (after the syslog header and the framing): raise the maximum message size"),
        "{stderr}"
    );
}

/// Regression (issue 18, 9): `--output nosuch` and `--tenant nosuch` did not list the valid
/// names, and `--output` could not be repeated.
#[test]
fn a_name_that_is_not_there_lists_the_ones_that_are() {
    let dir = TestDir::new("first-hour-names");
    let config = VALID.replace(
        "\n[[tenant]]",
        "\n[[output]]\nname = \"siem\"\ntype = \"tcp\"\naddress = \"127.0.0.1:1\"\n\n[[tenant]]",
    );
    let (out, text) = siemfwd(
        &dir,
        &config,
        &["replay", "--from", "-1h", "--output", "nosuch"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text.contains("has no [[output]] named \"nosuch\"; its outputs: file, siem"),
        "{text}"
    );
    let (_, text) = siemfwd(
        &dir,
        &config,
        &["replay", "--from", "-1h", "--tenant", "nosuch"],
    );
    assert!(
        text.contains("has no [[tenant]] named \"nosuch\"; its tenants: contoso"),
        "{text}"
    );
    // Two outputs by name: taken (the empty range is what stops it).
    let (_, text) = siemfwd(
        &dir,
        &config,
        &[
            "replay", "--from", "now", "--to", "-1h", "--output", "file", "--output", "siem",
        ],
    );
    assert!(text.contains("is not before --to"), "{text}");
}

/// Regression (issue 18, 10): `simulate --listen localhost:8401` was refused, and the snippet
/// it printed had no output, so `run` refused it. The config it prints now runs as it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_config_simulate_prints_runs_as_it_is() {
    use std::io::BufRead;
    let mut sim = Command::new(env!("CARGO_BIN_EXE_siemfwd"))
        .args([
            "simulate",
            "--listen",
            "localhost:0",
            "--tenants",
            "2",
            "--alerts",
            "5",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = sim.stdout.take().unwrap();
    let lines: Vec<String> = tokio::task::spawn_blocking(move || {
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .take_while(|l| !l.starts_with("# Ctrl-C"))
            .collect()
    })
    .await
    .unwrap();
    let start = lines
        .iter()
        .position(|l| l.starts_with("state_dir"))
        .unwrap();
    let config = lines[start..].join("\n");
    let dir = TestDir::new("first-hour-simulate");
    std::fs::write(dir.join("siemfwd.toml"), &config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_siemfwd"))
        .args(["replay", "--from", "-25h", "--config"])
        .arg(dir.join("siemfwd.toml"))
        .env("SIEMFWD_SIM_SECRET", "simulator-secret")
        .output()
        .unwrap();
    let _ = sim.kill();
    let _ = sim.wait();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}\n{config}");
    let records = String::from_utf8_lossy(&out.stdout);
    assert_eq!(records.lines().count(), 10, "{stderr}");
    assert!(
        records.lines().all(|l| l.starts_with("CEF:0|")),
        "{records}"
    );
}

/// Regression (issue 18, 1): `check` said "everything works" where `run` fails (no output, a
/// hostname `run` refuses), and created `state_dir` (as root, 0700) as a side effect.
#[test]
fn check_refuses_what_run_refuses_and_creates_nothing() {
    let dir = TestDir::new("first-hour-check");
    let no_output = "state_dir = \"state\"\n\n[[tenant]]\nname = \"contoso\"\n\
         tenant_id = \"00000000-0000-0000-0000-000000000001\"\n\
         client_id = \"00000000-0000-0000-0000-000000000002\"\nclient_secret = \"s\"\n\
         login_url = \"http://127.0.0.1:1\"\napi_url = \"http://127.0.0.1:1\"\n";
    let (out, text) = siemfwd(&dir, no_output, &["check"]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("has no [[output]]: run has nowhere to send alerts (add one; `type = \"stdout\"` to try)"),
        "{text}"
    );
    assert!(
        text.contains("state does not exist yet: run creates it"),
        "{text}"
    );
    assert!(!dir.join("state").exists(), "check created state_dir");
    assert!(text.contains("(run retries it)"), "{text}");
    assert!(!text.contains("will retry"), "{text}");
    assert!(
        !text.contains("contoso: tenant \"contoso\""),
        "the tenant named once: {text}"
    );

    let bad_host = VALID.replace(
        "path = \"out.cef\"\n",
        "path = \"out.cef\"\nhostname = \"bad host\"\n",
    );
    let (out, text) = siemfwd(&dir, &bad_host, &["check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text.contains("FAIL  output       file: syslog HOSTNAME `bad host` is not valid"),
        "{text}"
    );
}

/// Regression (issue 18, 6): a refresh-token tenant that never signed in was told to
/// "re-consent" with a `<config file>` placeholder.
#[test]
fn a_tenant_never_signed_in_is_told_to_sign_in_with_the_real_command() {
    let dir = TestDir::new("first-hour-signin");
    let config = VALID.replace("client_secret = \"s\"", "auth = \"refresh_token\"");
    let (out, text) = siemfwd(&dir, &config, &["check"]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let path = dir.join("siemfwd.toml");
    assert!(
        text.contains(&format!(
            "FAIL  tenant       contoso: not signed in yet: no refresh token in state_dir and no refresh_token_file: sign in once: run `siemfwd auth login --config {} --tenant contoso`",
            path.display()
        )),
        "{text}"
    );
    assert!(!text.contains("re-consent"), "{text}");
}

/// Regression (issue 18, 4): a `tls` output at a plain-TCP port said only "connecting ...
/// timed out after 10s". The TCP connection was made; no TLS answer came: said so, and why.
#[test]
fn a_tls_output_at_a_plain_tcp_port_is_told_it_may_not_be_a_tls_port() {
    let dir = TestDir::new("first-hour-tls-port");
    // A plain TCP receiver: accepts, reads, never answers a TLS hello.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    let config = VALID.replace(
        "[[output]]\nname = \"file\"\ntype = \"file\"\npath = \"out.cef\"\n",
        &format!(
            "[[output]]\nname = \"qradar\"\ntype = \"tls\"\naddress = \"127.0.0.1:{port}\"\nconnect_timeout = \"1s\"\n"
        ),
    );
    let (_, text) = siemfwd(&dir, &config, &["check"]);
    assert!(
        text.contains(&format!(
            "FAIL  output       qradar: connecting to 127.0.0.1:{port}: the TCP connection was made but no TLS answer came within 1s: is this a TLS port?"
        )),
        "{text}"
    );
}

/// Regression (issue 18, 9): `auth consent-url` took no `--config`, so the client id was copied
/// by hand from the config file.
#[test]
fn the_consent_link_comes_from_the_config() {
    let dir = TestDir::new("first-hour-consent");
    let path = dir.join("siemfwd.toml");
    std::fs::write(&path, VALID).unwrap();
    let out = run(&[
        "auth",
        "consent-url",
        "--config",
        path.to_str().unwrap(),
        "--tenant",
        "contoso",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001/adminconsent?client_id=00000000-0000-0000-0000-000000000002"),
        "{text}"
    );
    let out = run(&[
        "auth",
        "consent-url",
        "--config",
        path.to_str().unwrap(),
        "--tenant",
        "fabrikam",
    ]);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("has no [[tenant]] named \"fabrikam\"; its tenants: contoso")
    );
}
