//! The fetcher (tokens, alerts client, rate limits, windows) against the simulator over real
//! HTTP on 127.0.0.1: what issue 4 promises, each in a test.

#[path = "fetch/harness.rs"]
pub(crate) mod harness;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use harness::{Fixture, fetch_all, fetch_everything, t};
use siemfwd::entra::AuthErrorKind;
use siemfwd::source::alerts::WindowStats;
use siemfwd::source::{FetchError, PageBudget};
use siemfwd_simulator::{Faults, Limits, SimulatorConfig, TenantKnobs, TokenFailure};

/// A simulator of `tenants` tenants with `alerts` alerts each, the rest default.
fn sized(tenants: usize, alerts: usize) -> SimulatorConfig {
    SimulatorConfig {
        tenants,
        alerts_per_tenant: alerts,
        ..SimulatorConfig::default()
    }
}

#[tokio::test]
async fn an_access_token_is_cached_and_renewed_before_it_expires() {
    let f = Fixture::start(SimulatorConfig {
        access_token_lifetime: Duration::from_secs(4),
        ..sized(1, 1)
    })
    .await;
    let client = f.client(0, "");
    let first = client.tokens().access_token().await.unwrap();
    for _ in 0..5 {
        assert_eq!(
            client.tokens().access_token().await.unwrap(),
            first,
            "cached"
        );
    }
    assert_eq!(f.token_requests(0), 1);
    // A quarter of the lifetime before expiry it is renewed.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let second = client.tokens().access_token().await.unwrap();
    assert_ne!(second, first, "renewed ahead of expiry");
    assert_eq!(f.token_requests(0), 2);
}

#[tokio::test]
async fn concurrent_callers_share_one_token_request() {
    let f = Fixture::start(sized(1, 1)).await;
    let client = f.client(0, "");
    let tokens = client.tokens();
    let results = futures_join_all((0..16).map(|_| tokens.access_token())).await;
    assert!(results.iter().all(|r| r.is_ok()));
    assert_eq!(f.token_requests(0), 1, "one request in flight per tenant");
}

async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut set = Vec::new();
    for fut in futures {
        set.push(fut);
    }
    let mut out = Vec::new();
    // Poll them together: join via a JoinSet would need 'static futures.
    let all = async {
        let mut pinned: Vec<_> = set.into_iter().map(Box::pin).collect();
        let mut done: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
        std::future::poll_fn(|cx| {
            let mut pending = false;
            for (i, f) in pinned.iter_mut().enumerate() {
                if done[i].is_none() {
                    match f.as_mut().poll(cx) {
                        std::task::Poll::Ready(v) => done[i] = Some(v),
                        std::task::Poll::Pending => pending = true,
                    }
                }
            }
            if pending {
                std::task::Poll::Pending
            } else {
                std::task::Poll::Ready(())
            }
        })
        .await;
        done.into_iter().map(Option::unwrap).collect::<Vec<_>>()
    };
    out.extend(all.await);
    out
}

#[tokio::test]
async fn a_rotated_refresh_token_is_saved_and_used_after_a_restart() {
    let f = Fixture::start(sized(1, 3)).await;
    let seed = f.sim.issue_refresh_token(&f.tenant_id(0)).unwrap();
    let initial = f.dir.join("initial.token");
    std::fs::write(&initial, format!("{seed}\n")).unwrap();
    let extra = format!(
        "auth = \"refresh_token\"\nrefresh_token_file = \"{}\"\n",
        initial.display()
    );
    {
        let client = f.client(0, &extra);
        client.tokens().access_token().await.unwrap();
    }
    let stored_path = f.dir.join("state/tokens/tenant-01.json");
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&stored_path).unwrap()).unwrap();
    let rotated = stored["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rotated, seed, "the token rotated");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&stored_path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    // "Restart": a new client. The initial token was used up by the first refresh; only the
    // saved one works now.
    let client = f.client(0, &extra);
    client.tokens().access_token().await.unwrap();
    let (alerts, _) = fetch_everything(&client).await.unwrap();
    assert_eq!(alerts.len(), 3);
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&stored_path).unwrap()).unwrap();
    assert_ne!(
        stored["refresh_token"].as_str().unwrap(),
        rotated,
        "rotated again"
    );
}

/// The MSSP's app has one secret for every tenant, and it expires every few months: a new one
/// written to `client_secret_file` is used at the next token request, without restarting `run`.
/// When the file cannot be read for a moment, the secret read at start is used.
#[tokio::test]
async fn a_rotated_secret_file_is_used_without_a_restart() {
    let f = Fixture::start(sized(1, 2)).await;
    let file = f.dir.join("app.secret");
    let line = format!("client_secret_file = \"{}\"", file.display());
    std::fs::write(&file, "the-secret-that-expired\n").unwrap();
    let client = f.client_with_secret(0, &line, "");
    let e = client.tokens().access_token().await.unwrap_err();
    assert_eq!((e.kind, e.code), (AuthErrorKind::BadSecret, Some(7000215)));
    assert!(
        e.to_string().contains(&format!(
            "write it to {} (read again at each token request: no restart needed)",
            file.display()
        )),
        "{e}"
    );
    std::fs::write(&file, format!("{}\n", f.sim.client_secret())).unwrap();
    client.tokens().access_token().await.unwrap();
    let (alerts, _) = fetch_everything(&client).await.unwrap();
    assert_eq!(alerts.len(), 2);

    let client = f.client_with_secret(0, &line, "");
    std::fs::remove_file(&file).unwrap();
    client.tokens().access_token().await.unwrap();
}

#[tokio::test]
async fn each_entra_error_class_is_told_apart() {
    let f = Fixture::start(sized(6, 1)).await;
    let knobs = [
        TenantKnobs {
            secret_expired: true,
            ..TenantKnobs::default()
        },
        TenantKnobs {
            consent_missing: true,
            ..TenantKnobs::default()
        },
        TenantKnobs {
            token_failure: Some(TokenFailure::Aadsts(700016)),
            ..TenantKnobs::default()
        },
        TenantKnobs {
            token_failure: Some(TokenFailure::Aadsts(90002)),
            ..TenantKnobs::default()
        },
        TenantKnobs {
            token_failure: Some(TokenFailure::ServerError),
            ..TenantKnobs::default()
        },
    ];
    for (i, k) in knobs.iter().enumerate() {
        f.sim.set_tenant_knobs(&f.tenant_id(i), k.clone()).unwrap();
    }
    let expect = [
        (
            AuthErrorKind::BadSecret,
            Some(7000222),
            "the client secret has expired",
        ),
        (
            AuthErrorKind::Misconfigured,
            Some(65001),
            "has not consented",
        ),
        (
            AuthErrorKind::Misconfigured,
            Some(700016),
            "is not known in this tenant",
        ),
        (AuthErrorKind::Misconfigured, Some(90002), "does not exist"),
        (AuthErrorKind::Retryable, Some(90033), "will retry"),
    ];
    for (i, (kind, code, says)) in expect.iter().enumerate() {
        let e = f.client(i, "").tokens().access_token().await.unwrap_err();
        assert_eq!((e.kind, e.code), (*kind, *code), "tenant {i}: {e}");
        let text = e.to_string();
        assert!(
            text.contains(says) && text.contains(&format!("tenant-{:02}", i + 1)),
            "{text}"
        );
    }
    // A refresh token that was revoked: re-consent, once; later calls do not ask Entra again.
    let seed = f.sim.issue_refresh_token(&f.tenant_id(5)).unwrap();
    let file = f.dir.join("t6.token");
    std::fs::write(&file, &seed).unwrap();
    f.sim.revoke_refresh_tokens(&f.tenant_id(5)).unwrap();
    let client = f.client(
        5,
        &format!(
            "auth = \"refresh_token\"\nrefresh_token_file = \"{}\"\n",
            file.display()
        ),
    );
    let e = client.tokens().access_token().await.unwrap_err();
    assert_eq!(e.kind, AuthErrorKind::ReconsentNeeded, "{e}");
    assert!(
        e.to_string()
            .contains("siemfwd auth login --config test.toml --tenant tenant-06"),
        "{e}"
    );
    let before = f.token_requests(5);
    let again = client.tokens().access_token().await.unwrap_err();
    assert_eq!(again.kind, AuthErrorKind::ReconsentNeeded);
    assert_eq!(f.token_requests(5), before, "a dead tenant is not retried");
    let secret = f.sim.client_secret().to_owned();
    assert!(!format!("{e:?} {e}").contains(&secret) && !format!("{e:?}").contains(&seed));
}

#[tokio::test(start_paused = true)]
async fn a_429_is_waited_out_as_retry_after_asks() {
    let f = Fixture::start(SimulatorConfig {
        limits: Limits {
            per_minute: 3,
            ..Limits::default()
        },
        ..sized(1, 30)
    })
    .await;
    // The client believes it may make 100 calls a minute; the API allows 3.
    let client = f.client(0, "page_size = 5\n");
    let started = tokio::time::Instant::now();
    let (alerts, _) = fetch_everything(&client).await.unwrap();
    assert_eq!(alerts.len(), 30);
    let stats = client.stats();
    assert!(stats.throttled >= 1, "{stats:?}");
    // 7 calls (6 pages + the short last) at 3 per minute cannot take less than 2 minutes.
    assert!(
        started.elapsed() >= Duration::from_secs(120),
        "{:?}",
        started.elapsed()
    );
    // After a 429 the next call waits (Retry-After is at least a second).
    assert_eq!(
        f.calls_right_after_a_429(siemfwd_simulator::Endpoint::Alerts),
        0,
        "a call followed a 429 at once: {:?}",
        f.sim.request_log()
    );
}

#[tokio::test(start_paused = true)]
async fn the_limiter_keeps_a_busy_tenant_under_its_limit() {
    let f = Fixture::start(sized(1, 250)).await;
    // 250 one-alert pages: at 100 per minute, no 429 from the simulator's own 100/min.
    let client = f.client(0, "page_size = 1\n");
    let (alerts, _) = fetch_everything(&client).await.unwrap();
    assert_eq!(alerts.len(), 250);
    assert_eq!(client.stats().throttled, 0, "{:?}", client.stats());
    let times: Vec<_> = f
        .sim
        .request_log()
        .iter()
        .filter(|r| r.endpoint == siemfwd_simulator::Endpoint::Alerts)
        .map(|r| r.at)
        .collect();
    assert!(times.len() >= 250);
    for (i, at) in times.iter().enumerate() {
        let in_minute = times[i..]
            .iter()
            .take_while(|u| u.duration_since(*at) < Duration::from_secs(60))
            .count();
        assert!(in_minute <= 100, "{in_minute} calls in a minute");
    }
}

/// The service answers at most 10,000 results per query; a window holding more is halved until
/// it fits, and the rest is left to the next windows. Here the API's cap is 100 (`$top` at most 100, `$skip` below 100) and
/// the client knows it, so 250 alerts take the path 25,000 take on the service.
#[tokio::test]
async fn a_range_over_the_apis_cap_is_halved_and_arrives_complete_and_once() {
    const CAP: u32 = 100;
    let f = Fixture::start(SimulatorConfig {
        adversarial_fraction: 0.0,
        limits: Limits {
            max_top: u64::from(CAP),
            skip_limit: Some(u64::from(CAP)),
            ..Limits::default()
        },
        ..sized(1, 250)
    })
    .await;
    let mut client = f.client(0, "page_size = 40\n");
    client.set_max_results_per_query(CAP);
    let (from, to) = (t("2000-01-01T00:00:00Z"), t("2100-01-01T00:00:00Z"));
    let (alerts, stats) = fetch_all(&client, from, to).await.unwrap();
    let truth: BTreeSet<(String, String)> = f
        .sim
        .ground_truth(&f.tenant_id(0))
        .unwrap()
        .into_iter()
        .map(|v| (v.id, v.last_update_time.to_string()))
        .collect();
    assert_eq!(truth.len(), 250);
    let got: BTreeSet<(String, String)> = alerts.iter().cloned().collect();
    assert_eq!(got.len(), alerts.len(), "no duplicates");
    assert_eq!(got, truth, "complete");
    // 250 alerts need at least three windows of at most 100, so at least two halvings.
    assert!(stats.shrinks >= 2, "the window was halved: {stats:?}");
    assert_eq!(client.stats().calls, stats.pages as u64);
    // The API refused nothing: no query went past its cap.
    let refused = f
        .sim
        .request_log()
        .iter()
        .filter(|r| r.endpoint == siemfwd_simulator::Endpoint::Alerts && r.status != Some(200))
        .count();
    assert_eq!(refused, 0);
}

#[tokio::test]
async fn a_malformed_alert_does_not_stop_its_page() {
    let f = Fixture::start(SimulatorConfig {
        faults: Faults {
            malformed: 0.05,
            ..Faults::default()
        },
        ..sized(1, 200)
    })
    .await;
    let client = f.client(0, "page_size = 50\n");
    let (alerts, stats) = fetch_everything(&client).await.unwrap();
    assert!(stats.malformed > 0, "{stats:?}");
    assert_eq!(alerts.len() as u64 + stats.malformed, 200, "{stats:?}");
}

#[tokio::test]
async fn a_tenant_whose_token_endpoint_fails_does_not_delay_the_others() {
    let f = Fixture::start(sized(2, 100)).await;
    f.sim
        .set_tenant_knobs(
            &f.tenant_id(0),
            TenantKnobs {
                token_failure: Some(TokenFailure::ServerError),
                ..TenantKnobs::default()
            },
        )
        .unwrap();
    let (broken, healthy) = (f.client(0, ""), f.client(1, ""));
    let (from, to) = (t("2000-01-01T00:00:00Z"), t("2100-01-01T00:00:00Z"));
    let broken_fetch = fetch_all(&broken, from, to);
    let healthy_fetch = async {
        let started = std::time::Instant::now();
        let r = fetch_all(&healthy, from, to).await;
        (r, started.elapsed())
    };
    tokio::pin!(broken_fetch);
    let (healthy_result, took) = tokio::select! {
        r = healthy_fetch => r,
        _ = &mut broken_fetch => panic!("the broken tenant finished first"),
    };
    assert_eq!(healthy_result.unwrap().0.len(), 100);
    assert!(
        took < Duration::from_secs(5),
        "the healthy tenant took {took:?}"
    );
    let err = broken_fetch.await.unwrap_err();
    assert!(
        matches!(&err, FetchError::Auth(e) if e.kind == AuthErrorKind::Retryable),
        "{err}"
    );
}

#[tokio::test]
async fn updates_while_paging_never_lose_an_unchanged_alert() {
    let f = Fixture::start(sized(1, 600)).await;
    let tenant = f.tenant_id(0);
    let truth = f.sim.ground_truth(&tenant).unwrap();
    let client = f.client(0, "page_size = 50\n");
    let (from, to) = (t("2000-01-01T00:00:00Z"), harness::now());
    let mut got: HashMap<String, u32> = HashMap::new();
    let mut updated = BTreeSet::new();
    let mut page_no = 0;
    let mut stats = WindowStats::default();
    let mut start = from;
    // Alerts that keep moving may shorten the window; the rest of the range is the next one's.
    while start < to {
        let mut fetch = client.window(start, to);
        let mut in_window: HashMap<String, u32> = HashMap::new();
        while let Some(page) = fetch.next_page().await.unwrap() {
            fetch
                .read(&page, false, |item| {
                    if let siemfwd::reader::Item::Alert(a) = item {
                        *in_window
                            .entry(a.alert.id().unwrap().to_owned())
                            .or_default() += 1;
                    }
                    Ok::<(), ()>(())
                })
                .unwrap();
            // Between pages, alerts early in the order change and leave the window.
            page_no += 1;
            if page_no < 8 {
                for v in truth.iter().skip(page_no * 3).take(2) {
                    f.sim.update_alert(&tenant, &v.id).unwrap();
                    updated.insert(v.id.clone());
                }
            }
        }
        assert!(
            in_window.values().all(|n| *n == 1),
            "no alert handed out twice by a window"
        );
        for id in in_window.into_keys() {
            *got.entry(id).or_default() += 1;
        }
        stats += fetch.stats;
        start = fetch.end();
    }
    let missed: Vec<&str> = truth
        .iter()
        .filter(|v| !updated.contains(&v.id) && !got.contains_key(&v.id))
        .map(|v| v.id.as_str())
        .collect();
    assert!(
        missed.is_empty(),
        "unchanged alerts missed: {missed:?} ({stats:?})"
    );
    assert!(stats.restarts > 0, "the shifts were seen: {stats:?}");
}

/// Regression (issue 16): a tenant took its page lease *before* its call, and held it while its
/// answer was slow (or while it waited out a 429, a backoff or a token): with the two leases of
/// the whole process, two slow tenants stopped every other one. The lease is now taken when a
/// page's body starts to arrive, so a tenant whose API answers at once is not held up by one
/// whose API takes 20 s, even with a single page for both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_tenant_does_not_hold_the_page_budget_while_it_waits() {
    let slow = Fixture::start(SimulatorConfig {
        faults: Faults {
            slow: 1.0,
            slow_delay: Duration::from_secs(20),
            ..Faults::default()
        },
        ..sized(1, 5)
    })
    .await;
    let fast = Fixture::start(sized(1, 5)).await;
    let budget = PageBudget::with_calls(1, 64);
    let mut slow_client = slow.client(0, "");
    slow_client.share_page_budget(budget.clone());
    let mut fast_client = fast.client(0, "");
    fast_client.share_page_budget(budget.clone());
    // The slow tenant's call is on its way (its token is fetched first; Entra is not slow).
    slow_client.tokens().access_token().await.unwrap();
    let waiting = tokio::spawn(async move {
        let _ = fetch_everything(&slow_client).await;
    });
    // Let the slow call go out first (the simulator counts it only once it has answered).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (alerts, _) = tokio::time::timeout(Duration::from_secs(10), fetch_everything(&fast_client))
        .await
        .expect("the fast tenant was held up by the slow one's wait")
        .unwrap();
    assert_eq!(alerts.len(), 5);
    assert!(
        !waiting.is_finished(),
        "the slow tenant's answer came early: nothing was shown"
    );
    waiting.abort();
}

/// Issue 16: a tenant catching up makes its calls one after another, so a few slow answers set
/// its pace (the 48-hour catch-up under the fault mix took up to 18 s, most of it in 5 s-late
/// answers). A call not answered within several times the usual answer time is sent again and
/// the first answer taken. Here a third of the calls would take a minute (the simulator's
/// faults follow its seed, so which ones is the same at every run): the range still arrives,
/// whole and once, before one of them would have.
#[tokio::test]
async fn a_call_slow_to_answer_is_sent_again_and_the_first_answer_taken() {
    let f = Fixture::start(SimulatorConfig {
        faults: Faults {
            slow: 0.3,
            slow_delay: Duration::from_secs(60),
            ..Faults::default()
        },
        ..sized(1, 200)
    })
    .await;
    let client = f.client(0, "page_size = 40\n");
    let fetched = tokio::time::timeout(Duration::from_secs(55), fetch_everything(&client))
        .await
        .expect("every slow call was waited out")
        .unwrap();
    let (alerts, _) = fetched;
    let distinct: BTreeSet<&(String, String)> = alerts.iter().collect();
    assert_eq!((alerts.len(), distinct.len()), (200, 200));
    let stats = client.stats();
    assert!(stats.hedged > 0, "{stats:?}");
    assert_eq!((stats.pages, stats.retries), (6, 0), "{stats:?}");
}
