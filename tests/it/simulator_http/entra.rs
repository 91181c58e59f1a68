//! Entra ID: token shapes and errors, refresh rotation, expiry, authorization code + PKCE,
//! device code.

use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};

use siemfwd_simulator::{Simulator, SimulatorConfig, TenantKnobs};

use super::client::*;

#[tokio::test]
async fn token_answers_have_the_v1_and_v2_shapes_and_entra_errors() {
    let sim = start(config()).await;
    let t = sim.tenants()[0].id.clone();
    let v2 = request_client_credentials(&sim, &t).await;
    let j = v2.json();
    assert_eq!(
        (
            j["token_type"].clone(),
            j["expires_in"].clone(),
            j["ext_expires_in"].clone()
        ),
        (json!("Bearer"), json!(3599), json!(3599))
    );
    assert!(j["access_token"].is_string() && j.get("refresh_token").is_none());
    assert_eq!(v2.header("cache-control"), Some("no-store, no-cache"));

    let v1 = post(
        &sim,
        &format!("/{t}/oauth2/token"),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", sim.client_id()),
            ("client_secret", sim.client_secret()),
            ("resource", DEFENDER),
        ],
    )
    .await
    .json();
    assert_eq!(v1["expires_in"], json!("3599"));
    assert_eq!(v1["resource"], json!(DEFENDER));
    let on: i64 = v1["expires_on"].as_str().unwrap().parse().unwrap();
    assert!((on - Utc::now().timestamp() - 3599).abs() < 5);
    assert!(v1["not_before"].is_string());

    // (tenant, form fields besides grant_type and client_id, status, error, AADSTS code)
    let cases: [ErrorCase; 7] = [
        (
            &t,
            vec![("client_secret", "wrong"), ("scope", DEFENDER_SCOPE)],
            401,
            "invalid_client",
            7000215,
        ),
        (
            "00000000-0000-0000-0000-000000000000",
            vec![
                ("client_secret", "simulator-secret"),
                ("scope", DEFENDER_SCOPE),
            ],
            400,
            "invalid_request",
            90002,
        ),
        (
            &t,
            vec![("client_secret", "simulator-secret")],
            400,
            "invalid_request",
            900144,
        ),
        (
            &t,
            vec![
                ("client_secret", "simulator-secret"),
                (
                    "scope",
                    "https://api.securitycenter.microsoft.com/Alert.Read.All",
                ),
            ],
            400,
            "invalid_scope",
            1002012,
        ),
        (
            &t,
            vec![("scope", DEFENDER_SCOPE)],
            401,
            "invalid_client",
            7000218,
        ),
        (
            &t,
            vec![
                ("client_secret", "simulator-secret"),
                ("scope", "https://nothing.example/.default"),
            ],
            400,
            "invalid_resource",
            500011,
        ),
        (
            &t,
            vec![
                ("client_secret", "simulator-secret"),
                ("resource", DEFENDER),
            ],
            400,
            "invalid_request",
            901002,
        ),
    ];
    for (tenant, extra, status, error, code) in cases {
        let mut pairs = vec![
            ("grant_type", "client_credentials"),
            ("client_id", sim.client_id()),
        ];
        pairs.extend(extra);
        let r = post(&sim, &format!("/{tenant}/oauth2/v2.0/token"), &pairs).await;
        assert_eq!(r.status, status, "{}", r.body);
        assert_eq!(r.aad(), (error.to_owned(), code));
    }
    let r = post(
        &sim,
        &format!("/{t}/oauth2/v2.0/token"),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "0aa1aaaa-0000-4000-8000-000000000000"),
            ("client_secret", "simulator-secret"),
            ("scope", DEFENDER_SCOPE),
        ],
    )
    .await;
    assert_eq!(r.aad(), ("unauthorized_client".to_owned(), 700016));
    // The correlation id a client sends comes back in the error.
    let corr = "11111111-2222-4333-8444-555555555555";
    let r = request(
        sim.addr(),
        "POST",
        &format!("/{t}/oauth2/v2.0/token"),
        &[("client-request-id", corr)],
        "grant_type=client_credentials",
    )
    .await;
    assert_eq!(r.json()["correlation_id"], json!(corr));

    // A token for Azure AD Graph (what Microsoft's script asks for) is issued, but the alerts
    // API refuses it.
    let graph = post(
        &sim,
        &format!("/{t}/oauth2/token"),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", sim.client_id()),
            ("client_secret", sim.client_secret()),
            ("resource", "https://graph.windows.net"),
        ],
    )
    .await
    .json();
    let r = get_alerts(&sim, graph["access_token"].as_str().unwrap(), "?$top=1").await;
    assert_eq!(r.status, 401);
    assert!(r.body.contains("graph.windows.net"), "{}", r.body);
    sim.shutdown().await;
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_spent_or_revoked_one_fails() {
    let sim = start(config()).await;
    let t = sim.tenants()[1].id.clone();
    let path = format!("/{t}/oauth2/v2.0/token");
    let refresh = |rt: String| {
        let sim = &sim;
        let path = path.clone();
        async move {
            post(
                sim,
                &path,
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", sim.client_id()),
                    ("client_secret", sim.client_secret()),
                    ("refresh_token", &rt),
                    ("scope", &format!("{DEFENDER_SCOPE} offline_access")),
                ],
            )
            .await
        }
    };
    let rt0 = sim.issue_refresh_token(&t).unwrap();
    let r = refresh(rt0.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    let rt1 = j["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt1, rt0);
    assert_eq!(j["expires_in"], json!(3599));
    assert!(j["scope"].as_str().unwrap().starts_with(DEFENDER));
    // The spent token: re-consent class error.
    let r = refresh(rt0).await;
    assert_eq!(
        (r.status, r.aad()),
        (400, ("invalid_grant".to_owned(), 70008))
    );
    let rt2 = refresh(rt1).await.json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // v1 refresh: strings, resource, and again a new refresh token.
    let v1 = post(
        &sim,
        &format!("/{t}/oauth2/token"),
        &[
            ("grant_type", "refresh_token"),
            ("client_id", sim.client_id()),
            ("client_secret", sim.client_secret()),
            ("refresh_token", &rt2),
            ("resource", DEFENDER),
        ],
    )
    .await
    .json();
    assert_eq!(v1["expires_in"], json!("3599"));
    let rt3 = v1["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(sim.revoke_refresh_tokens(&t).unwrap(), 1);
    let r = refresh(rt3).await;
    assert_eq!(r.aad(), ("invalid_grant".to_owned(), 50173));
    let r = refresh("0.Anot-a-token".into()).await;
    assert_eq!(r.aad().0, "invalid_grant");
    sim.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn tokens_expire_on_the_tokio_clock() {
    let sim = start(config()).await;
    let t = sim.tenants()[0].id.clone();
    let at = client_credentials(&sim, &t).await;
    let rt = sim.issue_refresh_token(&t).unwrap();
    assert_eq!(get_alerts(&sim, &at, "?$top=1").await.status, 200);
    tokio::time::advance(Duration::from_secs(3600)).await;
    let r = get_alerts(&sim, &at, "?$top=1").await;
    assert_eq!(r.status, 401);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    tokio::time::advance(Duration::from_secs(90 * 86_400)).await;
    let r = post(
        &sim,
        &format!("/{t}/oauth2/v2.0/token"),
        &[
            ("grant_type", "refresh_token"),
            ("client_id", sim.client_id()),
            ("client_secret", sim.client_secret()),
            ("refresh_token", &rt),
            ("scope", DEFENDER_SCOPE),
        ],
    )
    .await;
    assert_eq!(r.aad(), ("invalid_grant".to_owned(), 700082));
    sim.shutdown().await;
}

fn location_params(r: &Reply) -> (String, Vec<(String, String)>) {
    assert_eq!(r.status, 302, "{}", r.body);
    let loc = r.header("location").unwrap();
    let (base, query) = loc.split_once('?').unwrap();
    (
        base.to_owned(),
        form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect(),
    )
}

fn param<'a>(p: &'a [(String, String)], name: &str) -> Option<&'a str> {
    p.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn authorization_code_with_pkce_through_authorize() {
    let sim = start(config()).await;
    let t = sim.tenants()[0].id.clone();
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let redirect = "http://localhost:53123/callback-not-registered";
    let authorize = |redirect: &str| {
        format!(
            "/{t}/oauth2/v2.0/authorize?{}",
            form(&[
                ("client_id", sim.client_id()),
                ("response_type", "code"),
                ("redirect_uri", redirect),
                ("scope", &format!("{DEFENDER_SCOPE} offline_access")),
                ("state", "xyz 1"),
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
            ])
        )
    };
    let r = request(sim.addr(), "GET", &authorize(redirect), &[], "").await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("AADSTS50011"), "{}", r.body);

    let redirect = "http://localhost:53123";
    let r = request(sim.addr(), "GET", &authorize(redirect), &[], "").await;
    let (base, params) = location_params(&r);
    assert_eq!(base, redirect);
    assert_eq!(param(&params, "state"), Some("xyz 1"));
    let code = param(&params, "code").unwrap().to_owned();
    let redeem = |verifier: &str, redirect: &str| {
        let (sim, code) = (&sim, code.clone());
        let (verifier, redirect) = (verifier.to_owned(), redirect.to_owned());
        let path = format!("/{t}/oauth2/v2.0/token");
        async move {
            post(
                sim,
                &path,
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", sim.client_id()),
                    ("client_secret", sim.client_secret()),
                    ("code", &code),
                    ("redirect_uri", &redirect),
                    ("code_verifier", &verifier),
                    ("scope", &format!("{DEFENDER_SCOPE} offline_access")),
                ],
            )
            .await
        }
    };
    assert_eq!(redeem("wrong-verifier", redirect).await.aad().1, 501481);
    assert_eq!(redeem(verifier, "http://localhost:1").await.aad().1, 500112);
    let ok = redeem(verifier, redirect).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let j = ok.json();
    assert!(j["refresh_token"].is_string() && j["access_token"].is_string());
    assert_eq!(
        get_alerts(&sim, j["access_token"].as_str().unwrap(), "?$top=1")
            .await
            .status,
        200
    );
    assert_eq!(
        redeem(verifier, redirect).await.aad(),
        ("invalid_grant".to_owned(), 54005)
    );

    // Without auto-approval the sign-in waits for the user; a decline redirects an error.
    sim.set_auto_approve(false);
    let addr = sim.addr();
    let path = authorize(redirect);
    let held = tokio::spawn(async move { request(addr, "GET", &path, &[], "").await });
    let pending = loop {
        if let Some(p) = sim.pending_authorizations().pop() {
            break p;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert_eq!(
        (pending.tenant_id.as_str(), pending.state.as_deref()),
        (t.as_str(), Some("xyz 1"))
    );
    assert!(sim.decline_authorization(&pending.id));
    let (_, params) = location_params(&held.await.unwrap());
    assert_eq!(param(&params, "error"), Some("access_denied"));
    assert!(
        param(&params, "error_description")
            .unwrap()
            .starts_with("AADSTS65004")
    );
    assert_eq!(param(&params, "state"), Some("xyz 1"));
    assert!(!sim.approve_authorization(&pending.id));
    sim.shutdown().await;
}

async fn new_code(sim: &Simulator, t: &str) -> Value {
    let r = post(
        sim,
        &format!("/{t}/oauth2/v2.0/devicecode"),
        &[
            ("client_id", sim.client_id()),
            ("scope", &format!("{DEFENDER_SCOPE} offline_access")),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

async fn poll(sim: &Simulator, t: &str, dc: &Value) -> Reply {
    post(
        sim,
        &format!("/{t}/oauth2/v2.0/token"),
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", sim.client_id()),
            ("device_code", dc["device_code"].as_str().unwrap()),
        ],
    )
    .await
}

#[tokio::test(start_paused = true)]
async fn device_code_pending_slow_down_approved_declined_expired() {
    let sim = start(SimulatorConfig {
        auto_approve: false,
        ..config()
    })
    .await;
    let t = sim.tenants()[0].id.clone();
    let dc = new_code(&sim, &t).await;
    assert_eq!(
        (dc["expires_in"].clone(), dc["interval"].clone()),
        (json!(900), json!(5))
    );
    let user_code = dc["user_code"].as_str().unwrap();
    assert!(dc["message"].as_str().unwrap().contains(user_code));
    assert!(
        dc["verification_uri"]
            .as_str()
            .unwrap()
            .starts_with(sim.url())
    );
    assert_eq!(poll(&sim, &t, &dc).await.aad().0, "slow_down");
    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(
        poll(&sim, &t, &dc).await.aad(),
        ("authorization_pending".to_owned(), 70016)
    );
    assert_eq!(sim.pending_device_codes()[0].user_code, user_code);
    assert!(sim.approve_device_code(user_code));
    tokio::time::advance(Duration::from_secs(5)).await;
    let ok = poll(&sim, &t, &dc).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(ok.json()["refresh_token"].is_string());
    assert_eq!(poll(&sim, &t, &dc).await.aad().0, "invalid_grant");

    let dc = new_code(&sim, &t).await;
    assert!(sim.decline_device_code(dc["user_code"].as_str().unwrap()));
    assert_eq!(poll(&sim, &t, &dc).await.aad().0, "authorization_declined");

    let dc = new_code(&sim, &t).await;
    tokio::time::advance(Duration::from_secs(900)).await;
    assert_eq!(poll(&sim, &t, &dc).await.aad().0, "expired_token");

    // v1 writes numbers as strings and says verification_url.
    let v1 = post(
        &sim,
        &format!("/{t}/oauth2/devicecode"),
        &[("client_id", sim.client_id()), ("resource", DEFENDER)],
    )
    .await
    .json();
    assert_eq!(v1["expires_in"], json!("900"));
    assert!(v1["verification_url"].is_string());

    sim.set_tenant_knobs(
        &t,
        TenantKnobs {
            public_client_flows_disabled: true,
            ..TenantKnobs::default()
        },
    )
    .unwrap();
    let dc = new_code(&sim, &t).await;
    tokio::time::advance(Duration::from_secs(5)).await;
    let r = poll(&sim, &t, &dc).await;
    assert_eq!(
        (r.status, r.aad()),
        (401, ("invalid_client".to_owned(), 7000218))
    );
    sim.shutdown().await;
}
