//! `siemfwd simulate` as a user runs it: what it prints, that it serves, and exit 0 on Ctrl-C.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use super::client::*;

#[tokio::test]
async fn simulate_prints_a_config_snippet_serves_and_stops_on_ctrl_c() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_siemfwd"))
        .args([
            "simulate",
            "--listen",
            "127.0.0.1:0",
            "--tenants",
            "2",
            "--alerts",
            "5",
        ])
        .args(["--seed", "3", "--fault-429", "0", "--malformed", "0"])
        .args(["--fault-html", "0", "--fault-not-page", "0"])
        .args(["--fault-truncate", "0", "--fault-invalid-utf8", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "stdout ended: {lines:?}"
        );
        let done = line.starts_with("# Ctrl-C");
        lines.push(line.trim_end().to_owned());
        if done {
            break;
        }
    }
    let text = lines.join("\n");
    let url = text
        .lines()
        .find_map(|l| l.strip_prefix("  login_url = api_url = "))
        .unwrap()
        .to_owned();
    assert_eq!(text.matches("[[tenant]]").count(), 2, "{text}");
    assert!(text.contains("client_secret_env = \"SIEMFWD_SIM_SECRET\""));
    assert!(
        text.contains(&format!("login_url = \"{url}\""))
            && text.contains(&format!("api_url = \"{url}\""))
    );
    assert!(text.contains("name = \"tenant-02\"") && text.contains("simulator-secret"));
    let tenant = text
        .lines()
        .find_map(|l| l.strip_prefix("tenant_id = \""))
        .unwrap()
        .trim_end_matches('"')
        .to_owned();
    let client = text
        .lines()
        .find_map(|l| l.strip_prefix("client_id = \""))
        .unwrap()
        .trim_end_matches('"')
        .to_owned();

    let addr = url.strip_prefix("http://").unwrap().parse().unwrap();
    let body = form(&[
        ("grant_type", "client_credentials"),
        ("client_id", &client),
        ("client_secret", "simulator-secret"),
        ("scope", DEFENDER_SCOPE),
    ]);
    let ct = [("Content-Type", "application/x-www-form-urlencoded")];
    let r = request(
        addr,
        "POST",
        &format!("/{tenant}/oauth2/v2.0/token"),
        &ct,
        &body,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);

    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}
