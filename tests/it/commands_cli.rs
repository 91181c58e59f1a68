//! `siemfwd demo`, `check`, `replay` and `map` as a user runs them.

use std::process::{Command, Stdio};

use siemfwd_simulator::{Simulator, SimulatorConfig, TenantKnobs};

fn siemfwd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_siemfwd"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The in-process simulator with `tenants` tenants of `alerts` plain (not adversarial) alerts.
async fn simulator(tenants: usize, alerts: usize) -> Simulator {
    Simulator::start(
        "127.0.0.1:0".parse().unwrap(),
        SimulatorConfig {
            tenants,
            alerts_per_tenant: alerts,
            adversarial_fraction: 0.0,
            ..SimulatorConfig::default()
        },
    )
    .await
    .unwrap()
}

#[test]
fn demo_needs_nothing_and_prints_one_record_per_simulated_alert() {
    let out = siemfwd(&["demo", "--alerts", "4", "--tenants", "2"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 8, "{stdout}");
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("CEF:0|Microsoft|Microsoft Defender for Endpoint|"))
    );
    for tenant in ["tenant-01", "tenant-02"] {
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.contains(&format!("cs3={tenant} ")))
                .count(),
            4,
            "{tenant}"
        );
    }
    assert!(stderr.contains("8 alerts sent"), "{stderr}");

    let out = siemfwd(&[
        "demo",
        "--alerts",
        "2",
        "--tenants",
        "1",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["tenantName"], "tenant-01");
        assert!(v["id"].is_string() && v["evidence"].is_array());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_says_what_works_and_what_to_fix() {
    let sim = simulator(2, 3).await;
    let tenants = sim.tenants();
    sim.set_tenant_knobs(
        &tenants[1].id,
        TenantKnobs {
            secret_expired: true,
            ..TenantKnobs::default()
        },
    )
    .unwrap();
    let dir = std::env::temp_dir().join(format!("siemfwd-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("app.secret"), sim.client_secret()).unwrap();
    let refused = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let listening = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let config = format!(
        "state_dir = \"state\"\n[defaults]\nclient_id = \"{}\"\nclient_secret_file = \"app.secret\"\nlogin_url = \"{url}\"\napi_url = \"{url}\"\n\
         [[tenant]]\nname = \"good\"\ntenant_id = \"{}\"\n[[tenant]]\nname = \"expired\"\ntenant_id = \"{}\"\n\
         [[tenant]]\nname = \"unset\"\ntenant_id = \"unset.onmicrosoft.com\"\nclient_secret_env = \"SIEMFWD_TEST_UNSET_VARIABLE\"\n\
         [[output]]\nname = \"up\"\ntype = \"tcp\"\naddress = \"{}\"\n[[output]]\nname = \"down\"\ntype = \"tcp\"\naddress = \"{refused}\"\nconnect_timeout = \"2s\"\n\
         [[output]]\nname = \"badmap\"\ntype = \"tcp\"\naddress = \"{}\"\nmapping = \"broken.toml\"\n",
        sim.client_id(),
        tenants[0].id,
        tenants[1].id,
        listening.local_addr().unwrap(),
        listening.local_addr().unwrap(),
        url = sim.url(),
    );
    // Loads only when an output starts: check must load it rather than leave it to `run`.
    std::fs::write(dir.join("broken.toml"), "format = \"cef\"\n[header\n").unwrap();
    let path = dir.join("siemfwd.toml");
    std::fs::write(&path, config).unwrap();
    let path = path.to_str().unwrap().to_owned();
    let out = tokio::task::spawn_blocking(move || siemfwd(&["check", "--config", &path]))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("ok    config"), "{stdout}");
    assert!(
        stdout.contains("ok    tenant       good: token ok, alerts API answered"),
        "{stdout}"
    );
    assert!(
        stdout.contains("FAIL  tenant       expired: invalid_client: AADSTS7000222")
            && stdout.contains("the client secret has expired"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok    output       up: connected to"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "FAIL  output       down: connection refused to {refused}"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok    mapping      up: built-in cef encodes all 9 sample alerts"),
        "{stdout}"
    );
    assert!(
        stdout.contains("FAIL  mapping      badmap: ") && stdout.contains("broken.toml"),
        "{stdout}"
    );
    // One tenant's secret missing from this shell is that tenant's row, not a failed file.
    assert!(stdout.contains("3 tenants, 3 outputs"), "{stdout}");
    assert!(
        stdout.contains("FAIL  tenant       unset: ")
            && stdout.contains(
                "[[tenant]] \"unset\": `client_secret_env`: the environment variable SIEMFWD_TEST_UNSET_VARIABLE is not set"
            ),
        "{stdout}"
    );
    assert!(stdout.contains("4 problems to fix"), "{stdout}");
    assert!(
        !stdout.contains(sim.client_secret()),
        "the secret never prints"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An alert no output can encode goes to the output's dead-letter file with its JSON, also
/// when the page was read on the fast path, which keeps no alert's text: the page is read again
/// for it. (The letter used to hold only the id and the reason.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_that_cannot_be_encoded_is_dead_lettered_with_its_json() {
    let sim = simulator(1, 5).await;
    let dir = std::env::temp_dir().join(format!("siemfwd-dead-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A literal is not an alert value: no shortening makes this record fit 480 bytes.
    let mapping = format!(
        "format = \"cef\"\nversion = \"1.0\"\n[header]\nvendor = \"'V'\"\nproduct = \"'P'\"\n\
         event_class_id = \"'E'\"\nname = \"title\"\nseverity = \"'5'\"\n[fields]\n\
         externalId = \"id\"\ncs1 = \"'{}'\"\ncs1Label = \"'Big'\"\n",
        "x".repeat(600)
    );
    std::fs::write(dir.join("huge.toml"), mapping).unwrap();
    std::fs::write(dir.join("app.secret"), sim.client_secret()).unwrap();
    let config = format!(
        "state_dir = \"state\"\n[[tenant]]\nname = \"t\"\ntenant_id = \"{}\"\nclient_id = \"{}\"\n\
         client_secret_file = \"app.secret\"\nlogin_url = \"{url}\"\napi_url = \"{url}\"\n\
         [[output]]\nname = \"small\"\ntype = \"file\"\npath = \"out.cef\"\nmapping = \"huge.toml\"\n\
         max_message_bytes = 480\n",
        sim.tenants()[0].id,
        sim.client_id(),
        url = sim.url(),
    );
    let path = dir.join("siemfwd.toml");
    std::fs::write(&path, config).unwrap();
    let path = path.to_str().unwrap().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        siemfwd(&["replay", "--config", &path, "--from", "-25h", "--to", "now"])
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let letters = std::fs::read_to_string(dir.join("state/dead-letter/small.ndjson"))
        .unwrap_or_else(|e| panic!("no dead-letter file ({e}): {stderr}"));
    let letters: Vec<serde_json::Value> = letters
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut ids: Vec<&str> = letters
        .iter()
        .map(|l| {
            assert_eq!(l["output"], "small", "{l}");
            let reason = l["reason"].as_str().unwrap();
            assert!(reason.contains("raise the maximum message size"), "{l}");
            let alert = &l["alert"];
            assert!(alert.is_object(), "the letter keeps the alert: {l}");
            assert_eq!(alert["id"], l["alertId"], "{l}");
            l["alertId"].as_str().unwrap()
        })
        .collect();
    ids.sort_unstable();
    let mut want: Vec<String> = sim
        .ground_truth(&sim.tenants()[0].id)
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    want.sort_unstable();
    assert_eq!(ids, want, "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Regression: `replay --tenant a` and `map --config` refused to start when another tenant's
/// secret could not be read in the operator's shell; only the tenants replayed need theirs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_of_one_tenant_and_map_need_no_other_tenants_secret() {
    let sim = simulator(2, 3).await;
    let dir = std::env::temp_dir().join(format!("siemfwd-one-secret-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("app.secret"), sim.client_secret()).unwrap();
    let config = format!(
        "state_dir = \"state\"\n[defaults]\nclient_id = \"{}\"\nlogin_url = \"{url}\"\napi_url = \"{url}\"\n\
         [[tenant]]\nname = \"here\"\ntenant_id = \"{}\"\nclient_secret_file = \"app.secret\"\n\
         [[tenant]]\nname = \"elsewhere\"\ntenant_id = \"{}\"\nclient_secret_env = \"SIEMFWD_TEST_UNSET_VARIABLE\"\n\
         [[output]]\nname = \"file\"\ntype = \"file\"\npath = \"out.cef\"\n",
        sim.client_id(),
        sim.tenants()[0].id,
        sim.tenants()[1].id,
        url = sim.url(),
    );
    let path = dir.join("siemfwd.toml");
    std::fs::write(&path, config).unwrap();
    let path = path.to_str().unwrap().to_owned();
    let sample = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/alerts/realistic-page.json"
    );
    let (one, all, map) = tokio::task::spawn_blocking(move || {
        let replay = |extra: &[&str]| {
            let mut args = vec!["replay", "--config", &path, "--from", "-25h", "--to", "now"];
            args.extend_from_slice(extra);
            siemfwd(&args)
        };
        (
            replay(&["--tenant", "here", "--stdout"]),
            replay(&["--stdout"]),
            siemfwd(&["map", "--config", &path, "--output", "file", sample]),
        )
    })
    .await
    .unwrap();
    let text = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    assert_eq!(one.status.code(), Some(0), "{}", text(&one));
    let records = String::from_utf8_lossy(&one.stdout)
        .lines()
        .filter(|l| l.contains("CEF:0|") && l.contains("cs3=here "))
        .count();
    assert_eq!(records, 3, "{}", text(&one));

    assert_eq!(all.status.code(), Some(2), "{}", text(&all));
    assert!(
        text(&all).contains("every tenant is replayed (no --tenant), and this one cannot be")
            && text(&all).contains(
                "\"elsewhere\": `client_secret_env`: the environment variable SIEMFWD_TEST_UNSET_VARIABLE is not set"
            ),
        "{}",
        text(&all)
    );

    assert_eq!(map.status.code(), Some(0), "{}", text(&map));
    let mapped = std::fs::read_to_string(dir.join("out.cef")).unwrap();
    assert_eq!(mapped.lines().count(), 9, "{mapped}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Regression (issue 16): windows were an hour long whatever they held, so replaying 30 days of
/// a tenant with 200 alerts took 720 API calls (7 minutes at 100 calls a minute). Windows are now
/// as long as their alerts allow: the whole range, one call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_of_30_days_holding_200_alerts_takes_a_few_calls_not_720() {
    let sim = Simulator::start(
        "127.0.0.1:0".parse().unwrap(),
        SimulatorConfig {
            tenants: 1,
            alerts_per_tenant: 200,
            adversarial_fraction: 0.0,
            history: std::time::Duration::from_secs(29 * 86_400),
            ..SimulatorConfig::default()
        },
    )
    .await
    .unwrap();
    let dir = std::env::temp_dir().join(format!("siemfwd-replay30-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = format!(
        "state_dir = \"state\"\n[[tenant]]\nname = \"t\"\ntenant_id = \"{}\"\nclient_id = \"{}\"\n\
         client_secret = \"{}\"\nlogin_url = \"{url}\"\napi_url = \"{url}\"\n\
         [[output]]\nname = \"f\"\ntype = \"file\"\npath = \"out.cef\"\n",
        sim.tenants()[0].id,
        sim.client_id(),
        sim.client_secret(),
        url = sim.url(),
    );
    let path = dir.join("siemfwd.toml");
    std::fs::write(&path, config).unwrap();
    let path = path.to_str().unwrap().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        siemfwd(&[
            "replay", "--config", &path, "--from", "-720h", "--to", "now",
        ])
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let records = std::fs::read_to_string(dir.join("out.cef")).unwrap();
    assert_eq!(records.lines().count(), 200, "{stderr}");
    let calls = sim.requests(&sim.tenants()[0].id, siemfwd_simulator::Endpoint::Alerts);
    eprintln!("replay of 30 days, 200 alerts: {calls} API calls");
    assert!(calls <= 3, "{calls} API calls for 200 alerts over 30 days");
    std::fs::remove_dir_all(&dir).unwrap();
}
