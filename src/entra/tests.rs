use super::*;

#[test]
fn entra_errors_are_sorted_by_code_first() {
    use AuthErrorKind::*;
    assert_eq!(classify(400, "invalid_grant", &[700082]), ReconsentNeeded);
    assert_eq!(classify(400, "invalid_grant", &[70008]), ReconsentNeeded);
    assert_eq!(
        classify(400, "interaction_required", &[50173]),
        ReconsentNeeded
    );
    assert_eq!(classify(400, "invalid_grant", &[70043]), ReconsentNeeded);
    assert_eq!(classify(400, "invalid_grant", &[]), ReconsentNeeded);
    assert_eq!(classify(401, "invalid_client", &[7000215]), BadSecret);
    assert_eq!(classify(401, "invalid_client", &[7000222]), BadSecret);
    assert_eq!(
        classify(400, "unauthorized_client", &[700016]),
        Misconfigured
    );
    assert_eq!(classify(400, "invalid_grant", &[65001]), Misconfigured);
    assert_eq!(classify(400, "invalid_resource", &[500011]), Misconfigured);
    assert_eq!(classify(400, "invalid_request", &[90002]), Misconfigured);
    assert_eq!(classify(400, "invalid_request", &[90055]), Throttled);
    assert_eq!(classify(429, "", &[]), Throttled);
    assert_eq!(classify(503, "temporarily_unavailable", &[]), Retryable);
    assert_eq!(classify(500, "", &[]), Retryable);
    // What a sign-in meets: redirect URI, single-tenant app, public client flows off.
    assert_eq!(classify(400, "invalid_request", &[50011]), Misconfigured);
    assert_eq!(classify(400, "invalid_grant", &[500112]), Misconfigured);
    assert_eq!(classify(400, "invalid_client", &[50194]), Misconfigured);
    assert_eq!(classify(401, "invalid_client", &[7000218]), Misconfigured);
}

use std::path::Path;

use super::token::TokenResponse;
use siemfwd_simulator::{Simulator, SimulatorConfig, TenantKnobs, TokenFailure};

/// The refresh-token tenant "contoso" of `sim`, with no refresh token file.
fn refresh_tenant(sim: &Simulator) -> Tenant {
    let t = &sim.tenants()[0];
    Tenant {
        name: "contoso".into(),
        tenant_id: t.id.clone(),
        client_id: sim.client_id().to_owned(),
        client_secret: None,
        client_secret_file: None,
        auth: AuthMode::RefreshToken { initial: None },
        login_url: url::Url::parse(sim.url()).unwrap(),
        token_version: TokenVersion::V2,
        config_file: None,
        resource: crate::entra::Resource::Defender,
    }
}

fn provider(tenant: &Tenant, state_dir: &Path) -> TokenProvider {
    // The simulator speaks plain HTTP: no CA needed, but reqwest wants a TLS provider.
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    let http = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .unwrap();
    TokenProvider::new(tenant.clone(), http, state_dir)
}

#[tokio::test]
async fn a_token_rotated_by_another_process_is_picked_up_and_failures_are_kept() {
    let sim = Simulator::start("127.0.0.1:0".parse().unwrap(), SimulatorConfig::default())
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("siemfwd-token-{}", std::process::id()));
    let tenant = refresh_tenant(&sim);
    let tenant_id = tenant.tenant_id.clone();
    let seed = Secret::new(sim.issue_refresh_token(&tenant_id).unwrap());
    StoredRefreshToken::received_now(&seed, &tenant_id, &tenant.client_id)
        .save(&TokenProvider::token_path(&dir, "contoso"))
        .unwrap();
    let status_file = TokenProvider::status_path(&dir, "contoso");

    // `run` holds the token in memory; `auth status` (another process) rotates it.
    let run = provider(&tenant, &dir);
    let first = run.access_token().await.unwrap();
    let status = provider(&tenant, &dir);
    status.access_token().await.unwrap();
    // `run`'s access token is refused: its next refresh uses a spent refresh token, then
    // the one in state_dir.
    run.invalidate(&first).await;
    run.access_token().await.unwrap();
    assert!(!status_file.exists(), "no failure recorded");

    // A real failure is recorded, in words and without secrets; a success clears it.
    sim.set_tenant_knobs(
        &tenant_id,
        TenantKnobs {
            token_failure: Some(TokenFailure::Aadsts(7000222)),
            ..TenantKnobs::default()
        },
    )
    .unwrap();
    let broken = provider(&tenant, &dir);
    let e = broken.access_token().await.unwrap_err();
    assert_eq!(e.kind, AuthErrorKind::BadSecret);
    let kept = LastAuthFailure::load(&status_file).unwrap();
    assert_eq!(
        (kept.kind.as_str(), kept.code),
        ("bad_secret", Some(7000222))
    );
    assert!(kept.hint.contains("expired"), "{kept:?}");
    let text = std::fs::read_to_string(&status_file).unwrap();
    let stored = StoredRefreshToken::load(&TokenProvider::token_path(&dir, "contoso"))
        .unwrap()
        .unwrap();
    assert!(!text.contains(&stored.refresh_token) && !text.contains(sim.client_secret()));
    sim.set_tenant_knobs(&tenant_id, TenantKnobs::default())
        .unwrap();
    broken.access_token().await.unwrap();
    assert!(!status_file.exists(), "cleared by a success");
    sim.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn expires_in_is_a_number_or_a_string() {
    let v2: TokenResponse =
        serde_json::from_str(r#"{"access_token":"a","expires_in":3599}"#).unwrap();
    let v1: TokenResponse = serde_json::from_str(
        r#"{"access_token":"a","expires_in":"3599","expires_on":"1795000000"}"#,
    )
    .unwrap();
    assert_eq!(v2.expires_in, Some(3599));
    assert_eq!(v1.expires_in, Some(3599));
}

#[test]
fn only_entras_first_sentence_is_kept() {
    let d = "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 1\r\nCorrelation ID: 2";
    assert_eq!(
        first_sentence(d),
        "AADSTS7000215: Invalid client secret provided."
    );
}
