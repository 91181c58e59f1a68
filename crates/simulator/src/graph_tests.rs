//! Graph `alerts_v2` over real HTTP: the same alerts as `/api/alerts` with the same ids and
//! instants, companions of other products only in Graph, nextLink paging, `Prefer`, filters and
//! tokens of the wrong audience (errors and changes: `graph_errors_tests.rs`).

use std::collections::HashSet;

use serde_json::{Value, json};

use super::test_http::{
    DEFENDER_SCOPE, FROM, PREFER, TO, config, filter, get, graph, graph_error, request, s, start,
    token, values, window_filter,
};
use super::{GRAPH_DELEGATED_SCOPE, GRAPH_SCOPE, SimulatorConfig, to_graph};
use siemfwd_time::Timestamp;

#[tokio::test]
async fn graph_shows_the_mde_alerts_with_the_same_ids_and_instants_and_companions_besides() {
    let sim = start(SimulatorConfig {
        adversarial_fraction: 0.2,
        ..config(300)
    })
    .await;
    let t = sim.tenants()[0].id.clone();
    let mde_token = token(&sim, &t, DEFENDER_SCOPE).await;
    let graph_token = token(&sim, &t, GRAPH_SCOPE).await;
    let mde_filter = filter(&format!(
        "lastUpdateTime ge {FROM} and lastUpdateTime lt {TO}"
    ));
    let target = format!("/api/alerts?{mde_filter}&$expand=evidence");
    let mde = values(&get(&sim, &mde_token, &target, &[]).await);
    let served = values(&get(&sim, &graph_token, &graph(&window_filter()), &[PREFER]).await);
    assert!(mde.len() > 200, "{}", mde.len());
    let (mut pairs, mut companions) = (0, 0);
    let mut mde_ids = mde
        .iter()
        .map(|a| s(a, "id"))
        .collect::<Vec<_>>()
        .into_iter();
    let mut previous: Option<&Value> = None;
    for g in &served {
        assert_eq!(g["@odata.type"], json!("#microsoft.graph.security.alert"));
        if s(g, "serviceSource") != "microsoftDefenderForEndpoint" {
            // A companion: right after its MDE alert, in its time window.
            let p = previous.unwrap();
            assert!(s(g, "id").starts_with("fa") && s(p, "id").starts_with("da"));
            for k in [
                "createdDateTime",
                "lastUpdateDateTime",
                "lastActivityDateTime",
            ] {
                assert_eq!(g[k], p[k], "{k}");
            }
            companions += 1;
            continue;
        }
        let id = s(g, "id");
        assert_eq!(
            Some(id),
            mde_ids.next(),
            "the same alerts in the same order"
        );
        let a = mde.iter().find(|a| s(a, "id") == id).unwrap();
        for (graph_key, mde_key) in [
            ("createdDateTime", "alertCreationTime"),
            ("lastUpdateDateTime", "lastUpdateTime"),
            ("firstActivityDateTime", "firstEventTime"),
            ("lastActivityDateTime", "lastEventTime"),
            ("resolvedDateTime", "resolvedTime"),
            ("tenantId", "aadTenantId"),
            ("threatDisplayName", "threatName"),
            ("title", "title"),
            ("description", "description"),
            ("assignedTo", "assignedTo"),
        ] {
            assert_eq!(
                g[graph_key],
                a.get(mde_key).cloned().unwrap_or_default(),
                "{id}"
            );
        }
        assert_eq!(s(g, "providerAlertId"), &id[2..]);
        let incident = a["incidentId"].as_i64().map(|n| n.to_string());
        assert_eq!(g["incidentId"].as_str().map(str::to_owned), incident);
        let evidence = g["evidence"].as_array().unwrap();
        if a["machineId"].is_string() {
            assert_eq!(evidence[0]["mdeDeviceId"], a["machineId"], "{id}");
            assert_eq!(evidence[0]["deviceDnsName"], a["computerDnsName"]);
        }
        if let Some(user) = a["relatedUser"]["userName"].as_str() {
            let first = evidence
                .iter()
                .find(|e| s(e, "@odata.type").ends_with(".userEvidence"))
                .unwrap();
            assert_eq!(first["userAccount"]["accountName"], json!(user), "{id}");
        }
        pairs += 1;
        previous = Some(g);
    }
    assert_eq!(mde_ids.next(), None);
    assert_eq!(pairs, mde.len());
    // About one in four MDE alerts has a companion; /api/alerts never shows one.
    assert!((40..=110).contains(&companions), "{companions}");
    assert!(mde.iter().all(|a| s(a, "id").starts_with("da")));
    // What the Rust API says Graph serves is what it serves.
    let (from, to) = (
        Timestamp::parse(FROM).unwrap(),
        Timestamp::parse(TO).unwrap(),
    );
    assert_eq!(sim.visible_graph_alerts(&t, from, to).unwrap(), served);
    let truth: Vec<Value> = sim
        .visible_alerts(&t, from, to)
        .unwrap()
        .iter()
        .flat_map(|v| to_graph(&v.json))
        .collect();
    assert_eq!(truth, served);
}

/// Follows `@odata.nextLink` verbatim from `first`; returns (pages, ids, `@odata.count`).
async fn follow(sim: &super::Simulator, token: &str, first: &str) -> (usize, Vec<String>, u64) {
    let mut target = first.to_owned();
    let (mut pages, mut ids, mut count) = (0, Vec::new(), 0);
    loop {
        let r = get(sim, token, &target, &[]).await;
        let page = r.json();
        if pages == 0 {
            count = page["@odata.count"].as_u64().unwrap();
        }
        ids.extend(values(&r).iter().map(|a| s(a, "id").to_owned()));
        pages += 1;
        match page["@odata.nextLink"].as_str() {
            Some(link) => {
                assert!(link.starts_with(&sim.graph_alerts_url()), "{link}");
                target = link[sim.url().len()..].to_owned();
            }
            None => return (pages, ids, count),
        }
    }
}

#[tokio::test]
async fn next_links_page_through_more_than_2000_alerts_once_each() {
    let sim = start(SimulatorConfig {
        adversarial_fraction: 0.0,
        ..config(1800)
    })
    .await;
    let t = sim.tenants()[0].id.clone();
    let tok = token(&sim, &t, GRAPH_SCOPE).await;
    let (from, to) = (
        Timestamp::parse(FROM).unwrap(),
        Timestamp::parse(TO).unwrap(),
    );
    let truth: Vec<String> = sim
        .visible_graph_alerts(&t, from, to)
        .unwrap()
        .iter()
        .map(|a| s(a, "id").to_owned())
        .collect();
    assert!(truth.len() > 2000, "{}", truth.len());
    let (pages, ids, count) = follow(&sim, &tok, &graph("$count=true")).await;
    assert_eq!(
        (pages, ids.len(), count),
        (2, truth.len(), truth.len() as u64)
    );
    assert_eq!(ids, truth, "each alert once, in order");
    // A filter with spaces, quotes and parentheses survives the nextLink, and so does $top.
    let f = format!(
        "lastUpdateDateTime ge {FROM} and (serviceSource eq 'microsoftDefenderForEndpoint' or serviceSource ne 'dataLossPrevention')"
    );
    let first = graph(&format!("{}&$top=700&$count=true", filter(&f)));
    let (pages, ids, count) = follow(&sim, &tok, &first).await;
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len());
    assert_eq!(ids.len() as u64, count);
    assert_eq!(pages, ids.len().div_ceil(700));
    assert!(ids.len() > 2000 && ids.len() < truth.len(), "{}", ids.len());
}

#[tokio::test]
async fn newer_enum_members_show_only_with_prefer() {
    let sim = start(config(400)).await;
    let t = sim.tenants()[0].id.clone();
    let tok = token(&sim, &t, GRAPH_SCOPE).await;
    let target = graph(&window_filter());
    let plain = get(&sim, &tok, &target, &[]).await;
    assert_eq!(plain.header("preference-applied"), None);
    let asked = [(
        "Prefer",
        "odata.maxpagesize=5000, include-unknown-enum-members",
    )];
    let full = get(&sim, &tok, &target, &asked).await;
    assert_eq!(
        full.header("preference-applied"),
        Some("include-unknown-enum-members")
    );
    let (plain, full) = (values(&plain), values(&full));
    assert_eq!(plain.len(), full.len());
    let (mut new_source, mut new_determination) = (0, 0);
    for (p, f) in plain.iter().zip(&full) {
        assert_eq!(p["id"], f["id"]);
        if s(f, "serviceSource") == "microsoftDefenderForSomethingNew" {
            new_source += 1;
            assert_eq!(p["serviceSource"], json!("unknownFutureValue"));
            assert_eq!(p["detectionSource"], json!("unknownFutureValue"));
            assert_eq!(f["detectionSource"], json!("securityCopilot"));
            let types: Vec<&str> = f["evidence"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| s(e, "@odata.type"))
                .collect();
            assert!(types.contains(&"#microsoft.graph.security.quantumEntanglementEvidence"));
        } else {
            assert_eq!(p["serviceSource"], f["serviceSource"]);
        }
        if s(f, "determination") == "aiGeneratedThreat" {
            new_determination += 1;
            assert_eq!(p["determination"], json!("unknownFutureValue"));
        } else {
            assert_eq!(p["determination"], f["determination"]);
        }
    }
    assert!(
        new_source > 0 && new_determination > 0,
        "{new_source} {new_determination}"
    );
}

#[tokio::test]
async fn filters_on_service_source_severity_status_and_times() {
    let sim = start(config(300)).await;
    let t = sim.tenants()[0].id.clone();
    let tok = token(&sim, &t, GRAPH_SCOPE).await;
    let (from, to) = (
        Timestamp::parse(FROM).unwrap(),
        Timestamp::parse(TO).unwrap(),
    );
    let all = sim.visible_graph_alerts(&t, from, to).unwrap();
    type Keep = fn(&Value) -> bool;
    let cases: [(&str, Keep); 5] = [
        (
            "(serviceSource eq 'microsoftDefenderForEndpoint' or serviceSource eq 'microsoftDefenderForOffice365')",
            |a| {
                [
                    "microsoftDefenderForEndpoint",
                    "microsoftDefenderForOffice365",
                ]
                .contains(&s(a, "serviceSource"))
            },
        ),
        ("serviceSource eq 'microsoftDefenderForIdentity'", |a| {
            s(a, "serviceSource") == "microsoftDefenderForIdentity"
        }),
        ("severity eq 'high' and status eq 'New'", |a| {
            s(a, "severity") == "high" && s(a, "status") == "new"
        }),
        (
            "createdDateTime gt 2026-11-22T00:00:00.0000000Z and lastUpdateDateTime le 2026-11-22T06:00:00Z",
            |a| {
                let c = Timestamp::parse(s(a, "createdDateTime")).unwrap();
                let u = Timestamp::parse(s(a, "lastUpdateDateTime")).unwrap();
                c > Timestamp::parse("2026-11-22T00:00:00Z").unwrap()
                    && u <= Timestamp::parse("2026-11-22T06:00:00Z").unwrap()
            },
        ),
        (
            "classification eq 'truePositive' or determination eq 'aiGeneratedThreat'",
            |a| {
                s(a, "classification") == "truePositive"
                    || s(a, "determination") == "aiGeneratedThreat"
            },
        ),
    ];
    for (f, keep) in cases {
        let got = values(&get(&sim, &tok, &graph(&filter(f)), &[PREFER]).await);
        let want: Vec<&Value> = all.iter().filter(|a| keep(a)).collect();
        assert!(!want.is_empty(), "{f} matches nothing");
        assert_eq!(got.iter().collect::<Vec<_>>(), want, "{f}");
    }
}

#[tokio::test]
async fn tokens_of_the_wrong_audience_get_401_both_ways() {
    let sim = start(config(20)).await;
    let t = sim.tenants()[0].id.clone();
    let mde = token(&sim, &t, DEFENDER_SCOPE).await;
    let graph_token = token(&sim, &t, GRAPH_SCOPE).await;
    let r = get(&sim, &mde, &graph(""), &[]).await;
    assert_eq!(r.status, 401);
    let (code, message) = graph_error(&r);
    assert_eq!(code, "InvalidAuthenticationToken");
    assert!(message.contains("Invalid audience"), "{message}");
    let r = get(&sim, &graph_token, "/api/alerts", &[]).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(s(&r.json()["error"], "message").contains("graph.microsoft.com"));
    let page = values(&get(&sim, &graph_token, &graph(""), &[]).await);
    assert!(page.len() >= 20, "{}", page.len());
    // No token, a made-up one; the client's request id comes back.
    let id = [("client-request-id", "7f0c2d7e-8d0e-4b5e-9a43-2a1b3c4d5e6f")];
    let r = request(sim.addr(), "GET", &graph(""), &id, "").await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.json()["error"]["innerError"]["client-request-id"],
        json!(id[0].1)
    );
    assert_eq!(r.header("client-request-id"), Some(id[0].1));
    assert_eq!(
        graph_error(&get(&sim, "sim-at.nope", &graph(""), &[]).await).0,
        "InvalidAuthenticationToken"
    );
    // Delegated: a Graph refresh token refreshes to Graph tokens, asked for or not.
    let ct = [("Content-Type", "application/x-www-form-urlencoded")];
    let path = format!("/{t}/oauth2/v2.0/token");
    let mut rt = sim.issue_graph_refresh_token(&t).unwrap();
    for scope in [None, Some(GRAPH_DELEGATED_SCOPE)] {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "refresh_token")
            .append_pair("client_id", sim.client_id())
            .append_pair("refresh_token", &rt);
        if let Some(scope) = scope {
            form.append_pair("scope", scope);
        }
        let r = request(sim.addr(), "POST", &path, &ct, &form.finish()).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let body = r.json();
        rt = s(&body, "refresh_token").to_owned();
        let access = s(&body, "access_token");
        assert_eq!(get(&sim, access, &graph("$top=1"), &[]).await.status, 200);
        assert_eq!(
            get(&sim, access, "/api/alerts?$top=1", &[]).await.status,
            401
        );
    }
    let direct = sim.issue_graph_access_token(&t).unwrap();
    assert_eq!(get(&sim, &direct, &graph("$top=1"), &[]).await.status, 200);
}
