//! The alerts API's 200 answers that are not a usable page (`--fault-html`, `--fault-not-page`,
//! `--fault-truncate`, `--fault-invalid-utf8`), read with reqwest, as a real client reads them:
//! the point of a close-delimited truncated body is that an HTTP client sees no error.

use serde_json::{Value, json};

use siemfwd_simulator::{Endpoint, Faults, Simulator, SimulatorConfig};

use super::client::*;

const QUERY: &str = "?$top=5&$expand=evidence";

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().build().unwrap()
}

/// One alerts API call: (status, headers, body bytes). Reading the body must succeed.
async fn call(
    http: &reqwest::Client,
    sim: &Simulator,
    token: &str,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let r = http
        .get(format!("{}/api/alerts{QUERY}", sim.url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let (status, headers) = (r.status().as_u16(), r.headers().clone());
    let body = r.bytes().await.expect("the body reads without an error");
    (status, headers, body.to_vec())
}

fn content_type(headers: &reqwest::header::HeaderMap) -> &str {
    headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// A simulator, an alerts API token, and the page [`QUERY`] gets without faults.
async fn setup() -> (Simulator, String, Vec<u8>, reqwest::Client) {
    let sim = start(config()).await;
    let t = sim.tenants()[0].id.clone();
    let token = client_credentials(&sim, &t).await;
    let http = http();
    let (status, _, page) = call(&http, &sim, &token).await;
    assert_eq!(status, 200);
    let j: Value = serde_json::from_slice(&page).unwrap();
    assert_eq!(j["value"].as_array().unwrap().len(), 5);
    (sim, token, page, http)
}

#[tokio::test]
async fn html_fault_is_a_proxys_sign_in_page() {
    let (sim, token, _, http) = setup().await;
    sim.set_faults(Faults {
        html: 1.0,
        ..Faults::default()
    });
    let (status, headers, body) = call(&http, &sim, &token).await;
    assert_eq!(status, 200);
    assert_eq!(content_type(&headers), "text/html; charset=utf-8");
    let text = String::from_utf8(body).unwrap();
    assert!(text.starts_with("<!DOCTYPE html>"), "{text}");
    assert!((200..2000).contains(&text.len()), "{}", text.len());
    assert!(serde_json::from_str::<Value>(&text).is_err());
    // Even without a token: the proxy answers before the service would check it.
    let r = get_alerts(&sim, "not-a-token", "").await;
    assert_eq!(r.status, 200);
    assert!(r.body.starts_with("<!DOCTYPE html>"));
    sim.shutdown().await;
}

#[tokio::test]
async fn not_page_fault_is_json_without_a_value_array() {
    let (sim, token, _, http) = setup().await;
    sim.set_faults(Faults {
        not_page: 1.0,
        ..Faults::default()
    });
    let (status, headers, body) = call(&http, &sim, &token).await;
    assert_eq!(status, 200);
    assert!(
        content_type(&headers).starts_with("application/json"),
        "{headers:?}"
    );
    let j: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(j, json!({"message": "An error has occurred."}));
    sim.shutdown().await;
}

#[tokio::test]
async fn truncate_fault_cuts_the_page_and_ends_the_body_by_closing() {
    let (sim, token, page, http) = setup().await;
    sim.set_faults(Faults {
        truncate: 1.0,
        ..Faults::default()
    });
    let mut cuts = Vec::new();
    for _ in 0..5 {
        let (status, headers, body) = call(&http, &sim, &token).await;
        assert_eq!(status, 200);
        assert!(
            content_type(&headers).starts_with("application/json"),
            "{headers:?}"
        );
        assert!(headers.get("content-length").is_none(), "{headers:?}");
        assert!(headers.get("transfer-encoding").is_none(), "{headers:?}");
        assert_eq!(headers.get("connection").unwrap(), "close");
        // The page's other headers stay.
        assert_eq!(headers.get("odata-version").unwrap(), "4.0");
        assert!(headers.get("date").is_some());
        assert!(
            body.len() >= 16 && body.len() < page.len(),
            "{}",
            body.len()
        );
        assert_eq!(body[..], page[..body.len()], "a prefix of the page");
        assert!(serde_json::from_slice::<Value>(&body).is_err());
        cuts.push(body.len());
    }
    cuts.dedup();
    assert!(cuts.len() > 1, "the cut moves: {cuts:?}");
    let log: Vec<_> = sim
        .request_log()
        .into_iter()
        .filter(|r| r.endpoint == Endpoint::Alerts)
        .map(|r| r.status)
        .collect();
    assert_eq!(log, [Some(200); 6]);
    // An error answer is not cut, and the same client goes on once the faults stop.
    let r = get_alerts(&sim, "not-a-token", QUERY).await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (401, json!("Unauthorized"))
    );
    sim.set_faults(Faults::default());
    assert_eq!(call(&http, &sim, &token).await.2, page);
    sim.shutdown().await;
}

#[tokio::test]
async fn invalid_utf8_fault_breaks_the_envelope_only() {
    let (sim, token, page, http) = setup().await;
    sim.set_faults(Faults {
        invalid_utf8: 1.0,
        ..Faults::default()
    });
    let (status, headers, body) = call(&http, &sim, &token).await;
    assert_eq!(status, 200);
    assert!(content_type(&headers).starts_with("application/json"));
    assert!(std::str::from_utf8(&body).is_err());
    assert!(serde_json::from_slice::<Value>(&body).is_err());
    let lenient: Value = serde_json::from_str(&String::from_utf8_lossy(&body)).unwrap();
    let good: Value = serde_json::from_slice(&page).unwrap();
    assert_eq!(lenient["value"], good["value"]);
    assert_ne!(lenient["@odata.context"], good["@odata.context"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn entra_endpoints_never_get_these_faults() {
    let sim = start(config()).await;
    sim.set_faults(Faults {
        html: 1.0,
        not_page: 1.0,
        truncate: 1.0,
        invalid_utf8: 1.0,
        ..Faults::default()
    });
    let t = sim.tenants()[0].id.clone();
    for _ in 0..3 {
        client_credentials(&sim, &t).await;
    }
    sim.shutdown().await;
}

/// Which of 30 calls the 5xx fault hits, with `extra` faults also set.
async fn server_errors(extra: Faults) -> Vec<bool> {
    let sim = start(SimulatorConfig {
        faults: Faults {
            http_5xx: 0.4,
            ..extra
        },
        ..config()
    })
    .await;
    let t = sim.tenants()[0].id.clone();
    let token = client_credentials(&sim, &t).await;
    let http = http();
    let mut hit = Vec::new();
    for _ in 0..30 {
        let (status, _, _) = call(&http, &sim, &token).await;
        hit.push(matches!(status, 500 | 503));
    }
    sim.shutdown().await;
    hit
}

#[tokio::test]
async fn these_faults_leave_the_older_faults_sequence_alone() {
    let alone = server_errors(Faults::default()).await;
    assert!(alone.contains(&true) && alone.contains(&false), "{alone:?}");
    let with = server_errors(Faults {
        html: 0.2,
        not_page: 0.2,
        truncate: 0.2,
        invalid_utf8: 0.2,
        ..Faults::default()
    })
    .await;
    assert_eq!(alone, with);
}
