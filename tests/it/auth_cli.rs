//! `siemfwd auth` as an MSSP runs it, against the in-process simulator's Entra ID: the device
//! code and authorization code flows end to end (the simulator's approval hooks stand in for
//! the person who signs in), the token they store used by `siemfwd run`, `auth status` telling
//! which tenant needs re-consent, and the consent link.
//!
//! Long (over 500 lines) by the number of sign-in paths, each a scenario that reads top to
//! bottom.

use crate::support;

#[path = "auth/harness.rs"]
mod harness;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use harness::{STEP, Siemfwd, Sim, http, param, query, siemfwd, split_url, wait_for, write_config};
use siemfwd::entra::{StoredRefreshToken, TokenProvider};
use siemfwd::secret::Secret;
use siemfwd_simulator::{Endpoint, SimulatorConfig, TenantKnobs};
use support::tempdir::TestDir;

const SCOPE: &str = "https://api.securitycenter.microsoft.com/.default offline_access";

fn sim_config(tenants: usize, alerts: usize) -> SimulatorConfig {
    SimulatorConfig {
        tenants,
        alerts_per_tenant: alerts,
        // People, not the simulator, approve sign-ins here.
        auto_approve: false,
        device_code_interval: Duration::from_secs(1),
        adversarial_fraction: 0.0,
        ..SimulatorConfig::default()
    }
}

/// The stored token of `tenant` in `dir/state`, after checking the file is private.
fn stored(dir: &TestDir, tenant: &str) -> StoredRefreshToken {
    let path = TokenProvider::token_path(&dir.join("state"), tenant);
    let mode = std::fs::metadata(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{}", path.display());
    StoredRefreshToken::load(&path).unwrap().unwrap()
}

/// Runs a device code login for `tenant` of `config` and lets the simulator's user approve
/// (or decline) the code siemfwd shows; the finished child.
fn device_login(sim: &Sim, config: &str, tenant: &str, approve: bool) -> (Option<i32>, String) {
    let mut child = Siemfwd::spawn(&[
        "auth",
        "login",
        "--config",
        config,
        "--tenant",
        tenant,
        "--device-code",
    ]);
    let (uri, code) = child.wait_line("device code", |l| {
        let (before, code) = l.split_once(" and enter the code ")?;
        Some((
            before.rsplit(' ').next()?.to_owned(),
            code.trim().to_owned(),
        ))
    });
    assert_eq!(uri, format!("{}/devicelogin", sim.sim.url()));
    let pending = wait_for(STEP, "pending device code", || {
        sim.sim
            .pending_device_codes()
            .into_iter()
            .find(|p| p.user_code == code)
    });
    assert_eq!(pending.scope, SCOPE, "a refresh token for the alerts API");
    let decided = if approve {
        sim.sim.approve_device_code(&code)
    } else {
        sim.sim.decline_device_code(&code)
    };
    assert!(decided);
    let (status, _, stderr) = child.finish();
    (status.code(), stderr)
}

#[test]
fn device_code_sign_in_stores_a_token_that_run_uses() {
    let sim = Sim::start(sim_config(2, 4));
    let dir = TestDir::new("auth-device");
    let t = sim.tenant(0);
    let config = write_config(
        dir.path(),
        &sim.sim,
        &[("contoso", &t.id, "auth = \"refresh_token\"\n")],
    );
    let config = config.to_str().unwrap();

    let (code, stderr) = device_login(&sim, config, "contoso", true);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("Signed in.") && stderr.contains("tokens/contoso.json (mode 0600)"),
        "{stderr}"
    );
    let first = stored(&dir, "contoso");
    assert_eq!(
        (first.tenant_id.as_str(), first.client_id.as_str()),
        (t.id.as_str(), sim.sim.client_id())
    );
    assert!(
        !stderr.contains(&first.refresh_token),
        "the token is never printed"
    );

    // `run` reads the stored token (the simulator serves alerts only to a valid one) and
    // delivers every alert of the tenant to the file output.
    let alerts = dir.join("alerts.cef");
    let run = Siemfwd::spawn_with(&["run", "--config", config], false);
    let lines = wait_for(STEP, "4 alerts in the output file", || {
        let text = std::fs::read_to_string(&alerts).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        (lines.len() >= 4).then_some(lines)
    });
    assert!(support::process::signal(run.pid(), "TERM"));
    let (status, _, log) = run.finish();
    assert_eq!(status.code(), Some(0), "{log}");
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("CEF:0|Microsoft|") && l.contains("cs3=contoso ")),
        "{lines:?}"
    );
    let ids: std::collections::BTreeSet<String> = sim
        .sim
        .ground_truth(&t.id)
        .unwrap()
        .iter()
        .map(|v| v.id.clone())
        .collect();
    assert_eq!(ids.len(), 4);
    for id in &ids {
        assert!(
            lines
                .iter()
                .any(|l| l.contains(&format!("externalId={id}"))),
            "{id} in {lines:?}"
        );
    }
    // `run` redeemed the token and kept the rotated one, in the same place.
    let rotated = stored(&dir, "contoso");
    assert_ne!(rotated.refresh_token, first.refresh_token);
}

#[test]
fn a_declined_device_code_or_public_client_flows_off_say_why() {
    let sim = Sim::start(sim_config(2, 1));
    let dir = TestDir::new("auth-device-fail");
    let (a, b) = (sim.tenant(0), sim.tenant(1));
    sim.sim
        .set_tenant_knobs(
            &b.id,
            TenantKnobs {
                public_client_flows_disabled: true,
                ..TenantKnobs::default()
            },
        )
        .unwrap();
    let refresh = "auth = \"refresh_token\"\n";
    let config = write_config(
        dir.path(),
        &sim.sim,
        &[("alpha", &a.id, refresh), ("bravo", &b.id, refresh)],
    );
    let config = config.to_str().unwrap();

    let (code, stderr) = device_login(&sim, config, "alpha", false);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("tenant \"alpha\": the sign-in failed")
            && stderr.contains("AADSTS65004")
            && stderr.contains("declined the consent prompt"),
        "{stderr}"
    );

    // Entra answers the first poll with AADSTS7000218: no one needs to sign in to see it.
    let child = Siemfwd::spawn(&[
        "auth",
        "login",
        "--config",
        config,
        "--tenant",
        "bravo",
        "--device-code",
    ]);
    let (status, _, stderr) = child.finish();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("tenant \"bravo\"")
            && stderr.contains("AADSTS7000218")
            && stderr.contains("\"Allow public client flows\" = Yes"),
        "{stderr}"
    );
    for tenant in ["alpha", "bravo"] {
        assert!(!TokenProvider::token_path(&dir.join("state"), tenant).exists());
    }
}

/// A device-code token is a public client's: `run` redeeming it with the tenant's secret (its
/// own or the [defaults]') fails with AADSTS700025 at the first refresh. The login used to
/// succeed anyway; it is refused before anyone signs in.
#[test]
fn device_code_for_a_tenant_with_a_secret_is_refused_before_run_fails_with_aadsts700025() {
    // Approved at once: without the refusal the login would end (with a useless token) soon.
    let mut config = sim_config(1, 1);
    config.auto_approve = true;
    let sim = Sim::start(config);
    let dir = TestDir::new("auth-device-secret");
    let config = confidential_config(&dir, &sim);
    let t = sim.tenant(0);
    let (code, out, err) = siemfwd(&[
        "auth",
        "login",
        "--config",
        &config,
        "--tenant",
        "contoso",
        "--device-code",
    ]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.contains("tenant \"contoso\" has a client secret")
            && err.contains("AADSTS700025")
            && err.contains("--auth-code"),
        "{err}"
    );
    assert_eq!(sim.sim.requests(&t.id, Endpoint::DeviceCode), 0);
    assert!(!TokenProvider::token_path(&dir.join("state"), "contoso").exists());
}

/// The simulator with Microsoft's documented redirect URI registered too.
fn sim_with_mssp_redirect() -> Sim {
    let mut config = sim_config(1, 2);
    config
        .redirect_uris
        .push("https://SiemMsspConnector".to_owned());
    Sim::start(config)
}

/// A config for tenant "contoso" of `sim` in refresh-token mode with the app's secret (a
/// confidential web app).
fn confidential_config(dir: &TestDir, sim: &Sim) -> String {
    std::fs::write(dir.join("app.secret"), sim.sim.client_secret()).unwrap();
    let t = sim.tenant(0);
    write_config(
        dir.path(),
        &sim.sim,
        &[(
            "contoso",
            &t.id,
            "auth = \"refresh_token\"\nclient_secret_file = \"app.secret\"\n",
        )],
    )
    .to_str()
    .unwrap()
    .to_owned()
}

/// The browser: follows the sign-in link to the simulator in a thread (the answer is held
/// until the simulator's user approves), approves, and gives the redirect's `Location`.
fn sign_in(sim: &Sim, link: &str, approve: bool) -> String {
    let (addr, target) = split_url(link);
    let browser = std::thread::spawn(move || http(&addr, "GET", &target, None));
    let pending = sim.pending_authorization();
    if approve {
        assert!(sim.sim.approve_authorization(&pending.id));
    } else {
        assert!(sim.sim.decline_authorization(&pending.id));
    }
    let reply = browser.join().unwrap();
    assert_eq!(reply.status, 302, "{}", reply.body);
    reply.header("location").unwrap().to_owned()
}

#[test]
fn auth_code_with_a_pasted_address_of_an_unreachable_redirect_uri() {
    let sim = sim_with_mssp_redirect();
    let dir = TestDir::new("auth-paste");
    let config = confidential_config(&dir, &sim);
    let t = sim.tenant(0);
    let mut login = Siemfwd::spawn(&[
        "auth",
        "login",
        "--config",
        &config,
        "--tenant",
        "contoso",
        "--auth-code",
        "--redirect-uri",
        "https://SiemMsspConnector",
    ]);
    let link = login.authorize_url();
    assert!(
        link.starts_with(&format!(
            "{}/{}/oauth2/v2.0/authorize?",
            sim.sim.url(),
            t.id
        )),
        "{link}"
    );
    let p = query(&link);
    assert_eq!(param(&p, "scope").as_deref(), Some(SCOPE));
    assert_eq!(
        param(&p, "redirect_uri").as_deref(),
        Some("https://SiemMsspConnector")
    );
    assert_eq!(param(&p, "code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(param(&p, "prompt").as_deref(), Some("select_account"));
    let state = param(&p, "state").unwrap();
    assert!(state.len() >= 22, "{state}");

    // The browser lands on https://SiemMsspConnector?code=..., which does not exist; the user
    // copies the address from the address bar and pastes it.
    let location = sign_in(&sim, &link, true);
    assert!(
        location.starts_with("https://SiemMsspConnector?code="),
        "{location}"
    );
    assert_eq!(param(&query(&location), "state"), Some(state));
    login.paste(&location);
    let (status, _, stderr) = login.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("Signed in."), "{stderr}");
    let token = stored(&dir, "contoso");
    assert!(token.refresh_token.starts_with("0.A"));

    // The stored token works: `auth status` redeems it through the token endpoint.
    let (code, out, err) = siemfwd(&["auth", "status", "--config", &config]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("contoso  ok") && out.contains("token          works now"),
        "{out}"
    );
}

#[test]
fn a_pasted_answer_of_another_sign_in_or_a_declined_consent_is_refused() {
    let sim = sim_with_mssp_redirect();
    let dir = TestDir::new("auth-paste-refused");
    let config = confidential_config(&dir, &sim);
    let t = sim.tenant(0);
    let login_args = [
        "auth",
        "login",
        "--config",
        &config,
        "--tenant",
        "contoso",
        "--redirect-uri",
        "https://SiemMsspConnector",
    ];

    // A real code, but with another sign-in's state: refused before any exchange.
    let mut login = Siemfwd::spawn(&login_args);
    let link = login.authorize_url();
    let location = sign_in(&sim, &link, true);
    let code = param(&query(&location), "code").unwrap();
    let tokens_before = sim.sim.requests(&t.id, Endpoint::Token);
    login.paste("this is not an address");
    login.wait_line("complaint about the paste", |l| {
        l.contains("paste the whole address").then_some(())
    });
    login.paste(&format!(
        "https://SiemMsspConnector/?code={code}&state=forged"
    ));
    let (status, _, stderr) = login.finish();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("does not belong to this sign-in")
            && stderr.contains("nothing was exchanged"),
        "{stderr}"
    );
    assert_eq!(
        sim.sim.requests(&t.id, Endpoint::Token),
        tokens_before,
        "no exchange"
    );

    // The user declines: Entra redirects with error=access_denied, explained.
    let mut login = Siemfwd::spawn(&login_args);
    let link = login.authorize_url();
    let location = sign_in(&sim, &link, false);
    assert!(location.contains("error=access_denied"), "{location}");
    login.paste(&location);
    let (status, _, stderr) = login.finish();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("access_denied: AADSTS65004") && stderr.contains("declined"),
        "{stderr}"
    );
    assert!(!TokenProvider::token_path(&dir.join("state"), "contoso").exists());
}

#[test]
fn auth_code_through_the_loopback_redirect() {
    let mut config = sim_config(1, 1);
    config.auto_approve = true;
    let sim = Sim::start(config);
    let dir = TestDir::new("auth-loopback");
    let config = confidential_config(&dir, &sim);
    // Nothing to paste: the answer comes back over the loopback redirect.
    let mut login = Siemfwd::spawn_with(
        &["auth", "login", "--config", &config, "--tenant", "contoso"],
        false,
    );
    let link = login.authorize_url();
    let redirect_uri = param(&query(&link), "redirect_uri").unwrap();
    let port: u16 = redirect_uri
        .strip_prefix("http://localhost:")
        .and_then(|p| p.strip_suffix('/'))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{redirect_uri}"));
    // The browser: the sign-in link, then the redirect to this machine.
    let (addr, target) = split_url(&link);
    let reply = http(&addr, "GET", &target, None);
    let location = reply.header("location").unwrap().to_owned();
    assert!(location.starts_with(&redirect_uri), "{location}");
    let (_, target) = split_url(&location);
    let page = http(&format!("127.0.0.1:{port}"), "GET", &target, None);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("You can close this tab"),
        "{}",
        page.body
    );
    let (status, _, stderr) = login.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stored(&dir, "contoso").refresh_token.starts_with("0.A"));
}

#[test]
fn status_says_which_tenant_needs_re_consent() {
    let sim = Sim::start(sim_config(3, 1));
    let dir = TestDir::new("auth-status");
    std::fs::write(dir.join("app.secret"), sim.sim.client_secret()).unwrap();
    let (a, b, c) = (sim.tenant(0), sim.tenant(1), sim.tenant(2));
    let refresh = "auth = \"refresh_token\"\n";
    let config = write_config(
        dir.path(),
        &sim.sim,
        &[
            ("alpha", &a.id, refresh),
            ("bravo", &b.id, refresh),
            ("charlie", &c.id, "client_secret_file = \"app.secret\"\n"),
        ],
    );
    let config = config.to_str().unwrap();
    let state = dir.join("state");
    for (name, t) in [("alpha", &a), ("bravo", &b)] {
        let token = Secret::new(sim.sim.issue_refresh_token(&t.id).unwrap());
        StoredRefreshToken::received_now(&token, &t.id, sim.sim.client_id())
            .save(&TokenProvider::token_path(&state, name))
            .unwrap();
    }
    // bravo's token is used by someone else (a copy of the state on another machine): the
    // stored one is spent, as a refresh token is after one use.
    let spent = StoredRefreshToken::load(&TokenProvider::token_path(&state, "bravo"))
        .unwrap()
        .unwrap()
        .refresh_token;
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "refresh_token")
        .append_pair("client_id", sim.sim.client_id())
        .append_pair("refresh_token", &spent)
        .append_pair("scope", "https://api.securitycenter.microsoft.com/.default")
        .finish();
    let used = http(
        &sim.addr(),
        "POST",
        &format!("/{}/oauth2/v2.0/token", b.id),
        Some(&form),
    );
    assert_eq!(used.status, 200, "{}", used.body);

    let (code, out, err) = siemfwd(&["auth", "status", "--config", config]);
    assert_eq!(code, Some(1), "{out}{err}");
    let block = |name: &str| status_block(&out, name);
    let alpha = block("alpha");
    assert!(
        alpha.starts_with("alpha  ok")
            && alpha.contains(
                "refresh_token (v2 token endpoint, for https://api.securitycenter.microsoft.com)"
            )
            && alpha.contains("works now")
            && alpha.contains("rotated just now by this check; 90 days left"),
        "{alpha}"
    );
    let bravo = block("bravo");
    assert!(
        bravo.starts_with("bravo  RE-CONSENT NEEDED")
            && bravo.contains("AADSTS70008")
            && bravo.contains(&format!(
                "re-consent needed: run `siemfwd auth login --config {config} --tenant bravo`"
            ))
            && bravo.contains("days left before the 90-day inactivity expiry"),
        "{bravo}"
    );
    let charlie = block("charlie");
    assert!(
        charlie.starts_with("charlie  ok")
            && charlie.contains("client_credentials")
            && !charlie.contains("refresh token"),
        "{charlie}"
    );
    assert!(out.contains("1 of 3 tenants need action"), "{out}");
    assert!(!out.contains(&spent) && !out.contains(sim.sim.client_secret()));

    // The failure is kept for later: without asking Entra, status still says it, with when.
    let (code, out, _) = siemfwd(&["auth", "status", "--config", config, "--no-check"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("bravo  RE-CONSENT NEEDED") && out.contains("not checked (--no-check)"),
        "{out}"
    );
    let recorded = std::fs::read_to_string(TokenProvider::status_path(&state, "bravo")).unwrap();
    assert!(
        recorded.contains("\"code\": 70008") && !recorded.contains(&spent),
        "{recorded}"
    );

    // The fix it names: a new sign-in for bravo; then every tenant is fine again.
    let (code, stderr) = device_login(&sim, config, "bravo", true);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!TokenProvider::status_path(&state, "bravo").exists());
    let (code, out, _) = siemfwd(&["auth", "status", "--config", config]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("all 3 tenants ok"), "{out}");
}

/// `auth status` shows a failing tenant in its report (standard output); the provider's ERROR
/// log line, which `run` needs, used to repeat it on standard error.
#[test]
fn status_does_not_repeat_a_failing_tenants_error_on_stderr() {
    let sim = Sim::start(sim_config(1, 1));
    let dir = TestDir::new("auth-status-quiet");
    let t = sim.tenant(0);
    let config = write_config(
        dir.path(),
        &sim.sim,
        &[("alpha", &t.id, "auth = \"refresh_token\"\n")],
    );
    // A token Entra does not know: the check's request fails with invalid_grant.
    StoredRefreshToken::received_now(&Secret::new("0.A-not-issued"), &t.id, sim.sim.client_id())
        .save(&TokenProvider::token_path(&dir.join("state"), "alpha"))
        .unwrap();
    let (code, out, err) = siemfwd(&["auth", "status", "--config", config.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.contains("alpha  RE-CONSENT NEEDED") && out.contains("does not work: invalid_grant"),
        "{out}"
    );
    assert_eq!(err, "", "the report on standard output says it all");
}

#[test]
fn consent_url_gives_the_link_and_the_portal_steps() {
    let client = "0aa1b2c3-d4e5-4f60-8a9b-c0d1e2f3a4b5";
    let customer = "8f0b6c2e-1a2b-4c3d-9e8f-0a1b2c3d4e5f";
    let mssp = "11111111-2222-3333-4444-555555555555";
    let (code, out, err) = siemfwd(&[
        "auth",
        "consent-url",
        "--client-id",
        client,
        "--tenant",
        customer,
        "--mssp-tenant-id",
        mssp,
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains(&format!(
            "  https://login.microsoftonline.com/{customer}/adminconsent?client_id={client}\n"
        )),
        "{out}"
    );
    assert!(
        out.contains("Settings > Endpoints > APIs > SIEM, tab MSSP")
            && out.contains(client)
            && out.contains(mssp)
            && out.contains("Alert.Read.All"),
        "{out}"
    );
    let (code, out, _) = siemfwd(&[
        "auth",
        "consent-url",
        "--client-id",
        client,
        "--login-url",
        "https://login.microsoftonline.us",
    ]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains(&format!(
            "https://login.microsoftonline.us/common/adminconsent?client_id={client}"
        )),
        "{out}"
    );
    let (code, _, err) = siemfwd(&["auth", "consent-url", "--client-id", "my-app"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("not an application (client) id"), "{err}");
}

#[test]
fn login_without_a_config_prints_or_stores_the_token() {
    let mut config = sim_config(1, 1);
    config.auto_approve = true;
    let sim = Sim::start(config);
    let t = sim.tenant(0);
    let dir = TestDir::new("auth-adhoc");
    let base = [
        "auth",
        "login",
        "--tenant-id",
        &t.id,
        "--client-id",
        sim.sim.client_id(),
        "--login-url",
        sim.sim.url(),
        "--device-code",
    ];
    let (code, _, err) = siemfwd(&base);
    assert_eq!(code, Some(2));
    assert!(err.contains("--state-dir DIR --name NAME"), "{err}");

    let started = Instant::now();
    let (code, out, err) = siemfwd(&[&base[..], &["--print"]].concat());
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.trim().starts_with("0.A") && out.lines().count() == 1,
        "{out}"
    );
    assert!(
        err.contains("warning: the refresh token below is a credential"),
        "{err}"
    );
    assert!(started.elapsed() < STEP);

    let state = dir.join("state");
    let state_arg = state.to_str().unwrap();
    let (code, _, err) =
        siemfwd(&[&base[..], &["--state-dir", state_arg, "--name", "fabrikam"]].concat());
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("a [[tenant]] named \"fabrikam\""), "{err}");
    assert_eq!(stored(&dir, "fabrikam").tenant_id, t.id);
}

/// Regression: an admin's shell without the service's environment could not sign in a new
/// customer, nor see any tenant's status, because loading the file read every tenant's secret.
/// Now only the tenant that needs its secret fails, and says which variable is missing.
#[test]
fn an_unset_secret_of_another_tenant_does_not_block_login_or_status() {
    let sim = Sim::start(sim_config(3, 1));
    let dir = TestDir::new("auth-unset-secret");
    let (a, b, c) = (sim.tenant(0), sim.tenant(1), sim.tenant(2));
    let config = write_config(
        dir.path(),
        &sim.sim,
        &[
            ("newcustomer", &a.id, "auth = \"refresh_token\"\n"),
            (
                "serviceonly",
                &b.id,
                "client_secret_env = \"SIEMFWD_TEST_UNSET_VARIABLE\"\n",
            ),
            (
                "confidential",
                &c.id,
                "auth = \"refresh_token\"\nclient_secret_file = \"missing.secret\"\n",
            ),
        ],
    );
    let config = config.to_str().unwrap();

    let (code, stderr) = device_login(&sim, config, "newcustomer", true);
    assert_eq!(code, Some(0), "{stderr}");
    stored(&dir, "newcustomer");

    let (code, out, err) = siemfwd(&["auth", "status", "--config", config]);
    assert_eq!(code, Some(1), "{out}{err}");
    let block = |name: &str| status_block(&out, name);
    assert!(
        block("newcustomer").contains("token          works now"),
        "{out}"
    );
    let other = block("serviceonly");
    assert!(
        other.contains("cannot be checked: ")
            && other.contains("`client_secret_env`: the environment variable SIEMFWD_TEST_UNSET_VARIABLE is not set")
            && other.contains("fix            give this shell the secret the service uses"),
        "{out}"
    );
    assert!(out.contains("2 of 3 tenants need action"), "{out}");

    // The tenant whose secret is missing cannot sign in here, and is told why.
    let login = |tenant: &str, flow: &str| {
        let (code, _, err) = siemfwd(&[
            "auth", "login", "--config", config, "--tenant", tenant, flow,
        ]);
        assert_eq!(code, Some(2), "{err}");
        err
    };
    let err = login("serviceonly", "--device-code");
    assert!(
        err.contains("client_credentials"),
        "a client-credentials tenant needs no sign-in: {err}"
    );
    let err = login("confidential", "--auth-code");
    assert!(
        err.contains(
            "tenant \"confidential\" has a client secret configured, and signing in needs it"
        ) && err.contains("`client_secret_file`: cannot read ")
            && err.contains("missing.secret"),
        "{err}"
    );
}

/// A tenant's block in `auth status` output: its head line and the indented lines under it.
fn status_block(out: &str, name: &str) -> String {
    let mut lines = out
        .lines()
        .skip_while(|l| !l.starts_with(&format!("{name}  ")));
    let head = lines.next().unwrap_or_else(|| panic!("no {name} in {out}"));
    let mut text = format!("{head}\n");
    for l in lines.take_while(|l| l.starts_with("    ")) {
        text.push_str(l);
        text.push('\n');
    }
    text
}
