//! Graph `alerts_v2` over real HTTP when things go wrong or change: its own quota, query errors,
//! tenant knobs, faults, and live updates that move an alert and its companion together.

use std::time::Duration;

use serde_json::json;

use super::test_http::{
    DEFENDER_SCOPE, FROM, TO, config, filter, get, graph, graph_error, s, start, token, values,
};
use super::{Endpoint, Faults, GRAPH_SCOPE, Limits, TenantKnobs};
use siemfwd_time::Timestamp;

#[tokio::test(start_paused = true)]
async fn graph_has_its_own_quota_of_150_calls_a_minute() {
    let sim = start(config(10)).await;
    let t = sim.tenants()[0].id.clone();
    let tok = sim.issue_graph_access_token(&t).unwrap();
    let mde = sim.issue_access_token(&t).unwrap();
    for i in 0..150 {
        assert_eq!(
            get(&sim, &tok, &graph("$top=1"), &[]).await.status,
            200,
            "call {i}"
        );
    }
    let r = get(&sim, &tok, &graph("$top=1"), &[]).await;
    assert_eq!(r.status, 429);
    assert_eq!(graph_error(&r).0, "TooManyRequests");
    let after: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&after), "{after}");
    // The MDE quota is another one.
    assert_eq!(get(&sim, &mde, "/api/alerts?$top=1", &[]).await.status, 200);
    tokio::time::advance(Duration::from_secs(70)).await;
    assert_eq!(get(&sim, &tok, &graph("$top=1"), &[]).await.status, 200);
    assert_eq!(sim.requests(&t, Endpoint::GraphAlerts), 152);
    // Configurable, like the MDE quotas.
    sim.set_limits(Limits {
        graph_per_minute: 1,
        ..Limits::default()
    });
    tokio::time::advance(Duration::from_secs(70)).await;
    assert_eq!(get(&sim, &tok, &graph("$top=1"), &[]).await.status, 200);
    assert_eq!(get(&sim, &tok, &graph("$top=1"), &[]).await.status, 429);
}

#[tokio::test]
async fn bad_queries_get_graph_400s() {
    let sim = start(config(10)).await;
    let t = sim.tenants()[0].id.clone();
    let tok = token(&sim, &t, GRAPH_SCOPE).await;
    assert_eq!(get(&sim, &tok, &graph("$top=2000"), &[]).await.status, 200);
    let cases = [
        ("$top=2001", "between 1 and 2000"),
        ("$top=0", "between 1 and 2000"),
        (
            &filter("lastUpdateTime ge 2026-11-22T00:00:00Z") as &str,
            "Could not find a property named 'lastUpdateTime'",
        ),
        (&filter("title eq 'x'"), "not supported in $filter"),
        (
            &filter("serviceSource eq 'microsoftDefenderForToasters'"),
            "not a valid enumeration",
        ),
        (
            &filter("lastUpdateDateTime ge '2026-11-22T00:00:00Z'"),
            "incompatible types",
        ),
        (&filter("severity gt 'high'"), "Only eq and ne"),
        ("$orderby=createdDateTime", "not supported"),
        ("$count=maybe", "not a valid count"),
    ];
    for (query, want) in cases {
        let r = get(&sim, &tok, &graph(query), &[]).await;
        assert_eq!(r.status, 400, "{query}: {}", r.body);
        let (code, message) = graph_error(&r);
        assert_eq!(code, "BadRequest");
        assert!(message.contains(want), "{query}: {message}");
    }
    let r = get(&sim, &tok, "/v1.0/security/alertz", &[]).await;
    assert_eq!(
        (r.status, graph_error(&r).1.contains("'alertz'")),
        (400, true)
    );
}

#[tokio::test]
async fn knobs_faults_and_live_changes_reach_graph_too() {
    let sim = start(config(200)).await;
    let t = sim.tenants()[0].id.clone();
    let tok = token(&sim, &t, GRAPH_SCOPE).await;
    let mde = token(&sim, &t, DEFENDER_SCOPE).await;
    // An update moves the MDE alert and its companion together; /api/alerts shows one.
    let (from, to) = (
        Timestamp::parse(FROM).unwrap(),
        Timestamp::parse(TO).unwrap(),
    );
    let all = sim.visible_graph_alerts(&t, from, to).unwrap();
    let with = all
        .windows(2)
        .find(|w| s(&w[1], "id").starts_with("fa"))
        .unwrap();
    let v = sim.update_alert(&t, s(&with[0], "id")).unwrap();
    let since = filter(&format!("lastUpdateDateTime ge {}", v.last_update_time));
    let got = values(&get(&sim, &tok, &graph(&since), &[]).await);
    assert_eq!(got.len(), 2);
    assert_eq!(
        (&got[0]["id"], &got[1]["id"]),
        (&with[0]["id"], &with[1]["id"])
    );
    assert_eq!(
        got[1]["lastUpdateDateTime"],
        json!(v.last_update_time.to_string())
    );
    assert_eq!(got[0]["lastUpdateDateTime"], got[1]["lastUpdateDateTime"]);
    let since_mde = filter(&format!("lastUpdateTime ge {}", v.last_update_time));
    assert_eq!(
        values(&get(&sim, &mde, &format!("/api/alerts?{since_mde}"), &[]).await).len(),
        1
    );
    // Not allowed, throttled by another tool, a bad day of the service.
    let knobs = TenantKnobs {
        api_forbidden: true,
        ..TenantKnobs::default()
    };
    sim.set_tenant_knobs(&t, knobs).unwrap();
    let r = get(&sim, &tok, &graph(""), &[]).await;
    let (code, message) = graph_error(&r);
    assert_eq!((r.status, code.as_str()), (403, "Forbidden"));
    assert!(message.contains("SecurityAlert.Read.All"), "{message}");
    let knobs = TenantKnobs {
        throttled: Some(Duration::from_secs(30)),
        ..TenantKnobs::default()
    };
    sim.set_tenant_knobs(&t, knobs).unwrap();
    let r = get(&sim, &tok, &graph(""), &[]).await;
    assert_eq!((r.status, r.header("retry-after")), (429, Some("30")));
    sim.set_tenant_knobs(&t, TenantKnobs::default()).unwrap();
    sim.set_faults(Faults {
        http_5xx: 1.0,
        ..Faults::default()
    });
    let r = get(&sim, &tok, &graph(""), &[]).await;
    assert!(r.status == 500 || r.status == 503, "{}", r.status);
    graph_error(&r);
    sim.set_faults(Faults {
        malformed: 1.0,
        ..Faults::default()
    });
    let page = values(&get(&sim, &tok, &graph("$top=50"), &[]).await);
    for a in &page {
        assert!(a["id"].is_string());
        let broken = !a["evidence"].is_array()
            || !a["comments"].is_array()
            || !a["createdDateTime"].is_string();
        assert!(broken, "{a}");
    }
    sim.set_faults(Faults::default());
    let log = sim.request_log();
    let graph_calls = log.iter().filter(|r| r.endpoint == Endpoint::GraphAlerts);
    assert_eq!(graph_calls.clone().count(), 5);
    assert!(
        graph_calls
            .into_iter()
            .all(|r| r.tenant.as_deref() == Some(t.as_str()))
    );
}
