//! The alerts API: paging a window, next links, errors, quotas, faults, late visibility,
//! determinism, and a real HTTP client.
//!
//! Long (just over 500 lines) by the number of API behaviours, one test each.

use std::time::Duration;

use serde_json::{Value, json};

use siemfwd::alert::{Alert, Timestamp};
use siemfwd_simulator::{
    Endpoint, Faults, Limits, LiveConfig, Simulator, SimulatorConfig, TenantKnobs, TokenFailure,
};

use super::client::*;

/// Pages `$filter` window [from, to) with `$top` + `$skip`; returns every alert seen.
async fn page_window(sim: &Simulator, token: &str, from: &str, to: &str, top: usize) -> Vec<Value> {
    let mut all = Vec::new();
    loop {
        let query = q(&format!(
            "?$filter=lastUpdateTime ge {from} and lastUpdateTime lt {to}&$top={top}&$skip={}&$expand=evidence",
            all.len()
        ));
        let r = get_alerts(sim, token, &query).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let j = r.json();
        assert_eq!(
            j["@odata.context"],
            json!("https://api.securitycenter.microsoft.com/api/$metadata#Alerts")
        );
        assert!(j.get("@odata.nextLink").is_none(), "no nextLink with $top");
        let page = j["value"].as_array().unwrap().clone();
        let n = page.len();
        all.extend(page);
        if n < top {
            return all;
        }
    }
}

#[tokio::test]
async fn a_windows_pages_add_up_to_its_ground_truth() {
    let sim = start(SimulatorConfig {
        alerts_per_tenant: 150,
        adversarial_fraction: 0.1,
        ..config()
    })
    .await;
    let t = sim.tenants()[1].id.clone();
    let token = client_credentials(&sim, &t).await;
    let (from, to) = ("2026-11-21T18:00:00Z", "2026-11-22T06:00:00.5Z");
    let got = page_window(&sim, &token, from, to, 17).await;
    let truth = sim
        .visible_alerts(
            &t,
            Timestamp::parse(from).unwrap(),
            Timestamp::parse(to).unwrap(),
        )
        .unwrap();
    assert!(truth.len() > 40, "{}", truth.len());
    let want: Vec<Value> = truth.iter().map(|v| (*v.json).clone()).collect();
    assert_eq!(got, want);
    // Without $expand every evidence list is empty; the rest is identical.
    let r = get_alerts(
        &sim,
        &token,
        &q(&format!(
            "?$filter=lastUpdateTime ge {from} and lastUpdateTime lt {to}&$top=5"
        )),
    )
    .await
    .json();
    for (a, full) in r["value"].as_array().unwrap().iter().zip(&want) {
        assert_eq!(a["evidence"], json!([]));
        assert_eq!(a["id"], full["id"]);
    }
    // An update moves the alert out of the window: later items shift by one.
    let moved = want[0]["id"].as_str().unwrap();
    let v2 = sim.update_alert(&t, moved).unwrap();
    assert_eq!(v2.version, 2);
    let after = page_window(&sim, &token, from, to, 1000).await;
    assert_eq!(after.len(), want.len() - 1);
    assert_eq!(after[0], want[1]);
    let truth = sim.ground_truth(&t).unwrap();
    assert_eq!(truth.len(), 151);
    assert_eq!(truth.last().unwrap().id, moved);
    sim.shutdown().await;
}

#[tokio::test]
async fn without_top_pages_come_with_a_next_link_to_follow() {
    // The service's page is 10000 alerts; a smaller one keeps this test fast.
    let limits = Limits {
        page_size: 7,
        ..Limits::default()
    };
    let sim = start(SimulatorConfig {
        tenants: 1,
        alerts_per_tenant: 17,
        limits,
        ..config()
    })
    .await;
    let t = sim.tenants()[0].id.clone();
    let token = client_credentials(&sim, &t).await;
    let mut path = q("/api/alerts?$filter=lastUpdateTime ge 2026-11-20T00:00:00Z&$expand=evidence");
    let mut seen = Vec::new();
    loop {
        let auth = format!("Bearer {token}");
        let page = request(sim.addr(), "GET", &path, &[("Authorization", &auth)], "")
            .await
            .json();
        seen.extend(page["value"].as_array().unwrap().iter().cloned());
        let Some(next) = page["@odata.nextLink"].as_str() else {
            break;
        };
        assert!(next.contains("skip=") && next.contains("filter="), "{next}");
        path = next.strip_prefix(sim.url()).unwrap().to_owned();
    }
    let truth: Vec<Value> = sim
        .ground_truth(&t)
        .unwrap()
        .iter()
        .map(|v| (*v.json).clone())
        .collect();
    assert_eq!(seen, truth);
    // With $top, never a next link, even when more alerts match.
    let r = get_alerts(&sim, &token, "?$top=7").await.json();
    assert!(r.get("@odata.nextLink").is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_queries_tokens_and_tenants_get_the_documented_errors() {
    let sim = start(SimulatorConfig {
        limits: Limits {
            skip_limit: Some(30),
            ..Limits::default()
        },
        ..config()
    })
    .await;
    let t = sim.tenants()[0].id.clone();
    let token = client_credentials(&sim, &t).await;
    for query in [
        "?$filter=lastUpdateTime ge '2026-11-22T00:00:00Z'",
        "?$top=10001",
        "?$filter=title eq 'x'",
        "?$filter=lastUpdateTime ge 2026-11-22T00:00:00.123456789Z",
        "?$skip=30",
    ] {
        let r = get_alerts(&sim, &token, &q(query)).await;
        assert_eq!(r.status, 400, "{query}: {}", r.body);
        let e = &r.json()["error"];
        assert!(
            e["code"].is_string() && e["message"].is_string() && e["target"].is_string(),
            "{e}"
        );
    }
    assert_eq!(
        get_alerts(&sim, &token, "?$skip=29&$top=1").await.status,
        200
    );
    let r = request(sim.addr(), "GET", "/api/alerts", &[], "").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["code"], json!("Unauthorized"));
    assert_eq!(get_alerts(&sim, "sim-at.forged", "").await.status, 401);

    sim.set_tenant_knobs(
        &t,
        TenantKnobs {
            api_forbidden: true,
            ..Default::default()
        },
    )
    .unwrap();
    let r = get_alerts(&sim, &token, "?$top=1").await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (403, json!("Forbidden"))
    );

    let knobs = [
        (
            TenantKnobs {
                secret_expired: true,
                ..Default::default()
            },
            401,
            7000222,
        ),
        (
            TenantKnobs {
                consent_missing: true,
                ..Default::default()
            },
            400,
            65001,
        ),
        (
            TenantKnobs {
                token_failure: Some(TokenFailure::Aadsts(700016)),
                ..Default::default()
            },
            400,
            700016,
        ),
        (
            TenantKnobs {
                token_failure: Some(TokenFailure::ServerError),
                ..Default::default()
            },
            500,
            90033,
        ),
    ];
    for (k, status, code) in knobs {
        sim.set_tenant_knobs(&t, k).unwrap();
        let r = request_client_credentials(&sim, &t).await;
        assert_eq!((r.status, r.aad().1), (status, code), "{}", r.body);
    }
    sim.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn quota_429_with_retry_after_and_early_retries_extend_it() {
    let limits = Limits {
        per_minute: 3,
        ..Limits::default()
    };
    let sim = start(SimulatorConfig { limits, ..config() }).await;
    let t = sim.tenants()[0].id.clone();
    let token = client_credentials(&sim, &t).await;
    for _ in 0..3 {
        assert_eq!(get_alerts(&sim, &token, "?$top=1").await.status, 200);
    }
    let r = get_alerts(&sim, &token, "?$top=1").await;
    assert_eq!((r.status, r.header("retry-after")), (429, Some("60")));
    assert_eq!(r.json()["error"]["code"], json!("TooManyRequests"));
    tokio::time::advance(Duration::from_secs(10)).await;
    let r = get_alerts(&sim, &token, "?$top=1").await;
    assert_eq!((r.status, r.header("retry-after")), (429, Some("55")));
    tokio::time::advance(Duration::from_secs(55)).await;
    assert_eq!(get_alerts(&sim, &token, "?$top=1").await.status, 200);
    // The other tenant has its own quota.
    let other = sim.tenants()[1].id.clone();
    let token2 = client_credentials(&sim, &other).await;
    assert_eq!(get_alerts(&sim, &token2, "?$top=1").await.status, 200);
    assert_eq!(sim.requests(&t, Endpoint::Alerts), 6);
    assert_eq!(sim.requests(&t, Endpoint::Token), 1);
    let log = sim.request_log();
    let statuses: Vec<Option<u16>> = log
        .iter()
        .filter(|r| r.endpoint == Endpoint::Alerts && r.tenant.as_deref() == Some(t.as_str()))
        .map(|r| r.status)
        .collect();
    assert_eq!(
        statuses,
        [
            Some(200),
            Some(200),
            Some(200),
            Some(429),
            Some(429),
            Some(200)
        ]
    );
    sim.shutdown().await;
}

/// Every alert the simulator makes, realistic or hostile, created or updated later, is one the
/// alert model reads, with the id and times the simulator says it has.
#[tokio::test]
async fn every_generated_alert_is_read_by_the_alert_model() {
    let sim = start(SimulatorConfig {
        alerts_per_tenant: 150,
        adversarial_fraction: 0.3,
        ..config()
    })
    .await;
    for tenant in sim.tenants() {
        let new = sim.create_alert(&tenant.id).unwrap();
        sim.update_alert(&tenant.id, &new.id).unwrap();
        sim.update_alert(&tenant.id, &new.id).unwrap();
        let history = sim.ground_truth(&tenant.id).unwrap();
        assert_eq!(history.len(), 153);
        for v in &history {
            let text = v.json.text();
            let alert = Alert::from_json(text).unwrap_or_else(|e| panic!("{e}: {text}"));
            assert_eq!(alert.id(), Some(v.id.as_str()));
            assert_eq!(alert.last_update_time, Some(v.last_update_time));
            assert!(alert.alert_creation_time.unwrap() <= v.last_update_time);
        }
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn faults_malformed_alerts_server_errors_and_dropped_connections() {
    let sim = start(config()).await;
    let t = sim.tenants()[0].id.clone();
    let token = client_credentials(&sim, &t).await;
    sim.set_faults(Faults {
        malformed: 0.3,
        ..Faults::default()
    });
    let page = get_alerts(&sim, &token, "?$top=40").await.json();
    let (mut good, mut bad) = (0, 0);
    for a in page["value"].as_array().unwrap() {
        assert!(a["id"].is_string());
        match Alert::from_json(&a.to_string()) {
            Ok(_) => good += 1,
            Err(_) => bad += 1,
        }
    }
    assert!(good > 0 && bad > 0, "{good} good, {bad} malformed");

    sim.set_faults(Faults {
        http_5xx: 1.0,
        ..Faults::default()
    });
    let r = get_alerts(&sim, &token, "?$top=1").await;
    assert!(matches!(r.status, 500 | 503), "{}", r.status);
    sim.set_faults(Faults {
        http_429: 1.0,
        retry_after: Duration::from_secs(7),
        ..Faults::default()
    });
    let r = get_alerts(&sim, &token, "?$top=1").await;
    assert_eq!((r.status, r.header("retry-after")), (429, Some("7")));
    sim.set_faults(Faults {
        reset: 1.0,
        ..Faults::default()
    });
    let auth = format!("Bearer {token}");
    assert!(
        try_request(
            sim.addr(),
            "GET",
            "/api/alerts",
            &[("Authorization", &auth)],
            ""
        )
        .await
        .is_none()
    );
    assert_eq!(sim.request_log().last().unwrap().status, None);
    // Token endpoints are spared unless asked for.
    client_credentials(&sim, &t).await;
    sim.set_faults(Faults::default());
    assert_eq!(get_alerts(&sim, &token, "?$top=1").await.status, 200);
    sim.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn late_versions_become_visible_after_their_delay() {
    let sim = start(SimulatorConfig {
        max_visibility_delay: Duration::from_secs(120),
        ..config()
    })
    .await;
    let t = sim.tenants()[0].id.clone();
    let token = client_credentials(&sim, &t).await;
    let created: Vec<_> = (0..5).map(|_| sim.create_alert(&t).unwrap()).collect();
    let query = q("?$filter=lastUpdateTime ge 2026-11-22T12:00:00Z");
    let count = |r: Reply| r.json()["value"].as_array().unwrap().len();
    let hidden = count(get_alerts(&sim, &token, &query).await);
    assert!(
        hidden < 5,
        "some of 5 new alerts should still be invisible, {hidden} shown"
    );
    tokio::time::advance(Duration::from_secs(121)).await;
    assert_eq!(count(get_alerts(&sim, &token, &query).await), 5);
    let ids: Vec<&str> = created.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(
        sim.ground_truth(&t).unwrap().iter().rev().take(5).count(),
        ids.len()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn same_seed_same_answers() {
    let a = start(config()).await;
    let b = start(config()).await;
    assert_eq!((a.tenants(), a.client_id()), (b.tenants(), b.client_id()));
    let t = a.tenants()[0].id.clone();
    let (ta, tb) = (
        client_credentials(&a, &t).await,
        client_credentials(&b, &t).await,
    );
    let query = "?$expand=evidence&$top=40";
    assert_eq!(
        get_alerts(&a, &ta, query).await.body,
        get_alerts(&b, &tb, query).await.body
    );
    let c = start(SimulatorConfig {
        seed: 12,
        ..config()
    })
    .await;
    assert_ne!(c.tenants(), a.tenants());
    // Alerts whose text is not kept are generated again for each page: the same bytes.
    let d = start(SimulatorConfig {
        text_budget: 0,
        ..config()
    })
    .await;
    let td = client_credentials(&d, &t).await;
    for query in [
        "?$expand=evidence&$top=40",
        "?$top=40&$skip=3",
        "?$filter=status eq 'New' or severity eq 'High'&$expand=evidence",
    ] {
        let query = q(query);
        let (kept, generated) = (
            get_alerts(&a, &ta, &query).await,
            get_alerts(&d, &td, &query).await,
        );
        assert_eq!(kept.status, 200, "{}", kept.body);
        assert_eq!(kept.body, generated.body, "{query}");
    }
    assert_eq!(
        a.ground_truth(&t)
            .unwrap()
            .iter()
            .map(|v| v.json.text().to_owned())
            .collect::<Vec<_>>(),
        d.ground_truth(&t)
            .unwrap()
            .iter()
            .map(|v| v.json.text().to_owned())
            .collect::<Vec<_>>()
    );
    a.shutdown().await;
    b.shutdown().await;
    c.shutdown().await;
    d.shutdown().await;
}

#[tokio::test]
async fn a_real_http_client_gets_a_token_and_alerts() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = start(config()).await;
    let t = sim.tenants()[0].id.clone();
    let http = reqwest::Client::builder().build().unwrap();
    let body = form(&[
        ("grant_type", "client_credentials"),
        ("client_id", sim.client_id()),
        ("client_secret", sim.client_secret()),
        ("scope", DEFENDER_SCOPE),
    ]);
    let token: Value = serde_json::from_str(
        &http
            .post(format!("{}/{t}/oauth2/v2.0/token", sim.url()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    let at = token["access_token"].as_str().unwrap();
    // Keep-alive: several requests on one pooled connection.
    for _ in 0..3 {
        let query = form(&[
            ("$filter", "lastUpdateTime ge 2026-11-21T12:00:00Z"),
            ("$top", "10"),
        ]);
        let r = http
            .get(format!("{}/api/alerts?{query}", sim.url()))
            .bearer_auth(at)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let page: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        assert_eq!(page["value"].as_array().unwrap().len(), 10);
    }
    sim.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn live_changes_arrive_at_the_configured_rate() {
    let sim = start(config()).await;
    sim.start_live(LiveConfig {
        changes_per_minute: 60.0,
        create_fraction: 0.5,
    });
    // Two tenants at 60 per minute each: a change every 0.5 s, tenants taking turns.
    tokio::time::sleep(Duration::from_secs(10)).await;
    sim.stop_live();
    let mut changes = 0;
    let mut updates = 0;
    for t in sim.tenants() {
        let truth = sim.ground_truth(&t.id).unwrap();
        changes += truth.len() - 40;
        updates += truth.iter().filter(|v| v.version > 1).count();
    }
    assert!((19..=20).contains(&changes), "{changes}");
    assert!(updates > 0 && updates < changes, "{updates} of {changes}");
    tokio::time::sleep(Duration::from_secs(10)).await;
    let after: usize = sim
        .tenants()
        .iter()
        .map(|t| sim.ground_truth(&t.id).unwrap().len() - 40)
        .sum();
    assert_eq!(after, changes, "stopped");
    sim.shutdown().await;
}
