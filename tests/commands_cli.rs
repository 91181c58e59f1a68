//! `siemfwd demo` and `siemfwd check` as a user runs them.

use std::process::{Command, Stdio};

use siemfwd::simulator::{Simulator, SimulatorConfig, TenantKnobs};

fn siemfwd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_siemfwd"))
        .args(args)
        .stdin(Stdio::null())
        .output()
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
    let sim = Simulator::start(
        "127.0.0.1:0".parse().unwrap(),
        SimulatorConfig {
            tenants: 2,
            alerts_per_tenant: 3,
            ..SimulatorConfig::default()
        },
    )
    .await
    .unwrap();
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
        stdout.contains("FAIL  tenant       expired: tenant \"expired\"")
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
    assert!(stdout.contains("3 problems to fix"), "{stdout}");
    assert!(
        !stdout.contains(sim.client_secret()),
        "the secret never prints"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
