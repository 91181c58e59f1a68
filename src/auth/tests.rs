//! PKCE (RFC 7636's test vector), the sign-in link, reading redirect answers, errors in
//! words, the consent link, status verdicts, and the loopback listener's refusals.
//!
//! Long because each case is a table of Entra's real answers and pasted addresses, written out
//! so that a reader sees the exact bytes; the cases share the `tenant`/`params`/`status`
//! helpers at the top, which splitting would duplicate or move out of sight.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::authorize::{
    CodeLogin, RedirectUri, authorize_url, code_from_pasted, pasted_params, with_port,
};
use super::consent::{ConsentRequest, instructions, is_guid, is_tenant};
use super::device::{PollAnswer, read_poll_error};
use super::login::{AdHocTenant, LoginError, aadsts_code};
use super::loopback::request_target;
use super::pkce::{Pkce, base64url, random_token, s256};
use super::status::{StoredToken, TenantStatus, TokenCheck, Verdict};
use crate::entra::{AuthErrorKind, LastAuthFailure, TokenVersion};
use crate::source::TenantConfig;

const CLIENT: &str = "0aa1b2c3-d4e5-4f60-8a9b-c0d1e2f3a4b5";
const TENANT: &str = "8f0b6c2e-1a2b-4c3d-9e8f-0a1b2c3d4e5f";

fn tenant(version: TokenVersion) -> TenantConfig {
    AdHocTenant {
        name: "contoso".into(),
        tenant_id: TENANT.into(),
        client_id: CLIENT.into(),
        client_secret: None,
        login_url: url::Url::parse("https://login.microsoftonline.com").unwrap(),
        token_version: version,
        resource: crate::entra::Resource::Defender,
    }
    .into_config()
}

fn params(url: &str) -> Vec<(String, String)> {
    let url = url::Url::parse(url).unwrap();
    url.query_pairs().into_owned().collect()
}

fn param<'a>(p: &'a [(String, String)], name: &str) -> Option<&'a str> {
    p.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[test]
fn pkce_matches_rfc_7636_appendix_b() {
    let octets = [
        116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212, 37,
        77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
    ];
    let verifier = base64url(&octets);
    assert_eq!(verifier, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    let pkce = Pkce::from_verifier(verifier);
    assert_eq!(
        pkce.challenge(),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
}

#[test]
fn base64url_follows_rfc_4648_without_padding() {
    for (input, want) in [
        ("", ""),
        ("f", "Zg"),
        ("fo", "Zm8"),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg"),
        ("fooba", "Zm9vYmE"),
        ("foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(base64url(input.as_bytes()), want, "{input:?}");
    }
    // The two characters that differ from standard base64.
    assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
}

#[test]
fn generated_verifiers_and_states_are_random_and_well_formed() {
    let a = Pkce::generate().unwrap();
    let b = Pkce::generate().unwrap();
    assert_ne!(a.verifier(), b.verifier());
    // 32 bytes: 43 characters of the unreserved set (RFC 7636 §4.1 allows 43 to 128).
    assert_eq!(a.verifier().len(), 43);
    assert!(
        a.verifier()
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    );
    assert_eq!(a.challenge(), s256(a.verifier()));
    assert!(!format!("{a:?}").contains(a.verifier()), "never printed");
    let (s1, s2) = (random_token(16).unwrap(), random_token(16).unwrap());
    assert_eq!(s1.len(), 22);
    assert_ne!(s1, s2);
}

#[test]
fn the_v2_link_asks_for_the_alerts_api_and_a_refresh_token() {
    let t = tenant(TokenVersion::V2);
    let pkce = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into());
    let url = authorize_url(&t, "https://SiemMsspConnector", &pkce, "st4te");
    assert!(
        url.starts_with(&format!(
            "https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/authorize?"
        )),
        "{url}"
    );
    let p = params(&url);
    assert_eq!(param(&p, "client_id"), Some(CLIENT));
    assert_eq!(param(&p, "response_type"), Some("code"));
    assert_eq!(param(&p, "redirect_uri"), Some("https://SiemMsspConnector"));
    assert_eq!(
        param(&p, "scope"),
        Some("https://api.securitycenter.microsoft.com/.default offline_access")
    );
    assert_eq!(param(&p, "resource"), None);
    assert_eq!(param(&p, "state"), Some("st4te"));
    assert_eq!(
        param(&p, "code_challenge"),
        Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    );
    assert_eq!(param(&p, "code_challenge_method"), Some("S256"));
    assert_eq!(param(&p, "prompt"), Some("select_account"));
    assert!(!url.contains("graph.windows.net"));
}

#[test]
fn the_v1_link_names_the_resource() {
    let t = tenant(TokenVersion::V1);
    let pkce = Pkce::generate().unwrap();
    let url = authorize_url(&t, "http://localhost:8400/", &pkce, "s");
    assert!(
        url.starts_with(&format!(
            "https://login.microsoftonline.com/{TENANT}/oauth2/authorize?"
        )),
        "{url}"
    );
    let p = params(&url);
    assert_eq!(
        param(&p, "resource"),
        Some("https://api.securitycenter.microsoft.com")
    );
    assert_eq!(param(&p, "scope"), None);
    assert_eq!(param(&p, "redirect_uri"), Some("http://localhost:8400/"));
}

#[test]
fn redirect_uris_are_loopback_or_https_and_kept_as_written() {
    match RedirectUri::parse("http://localhost:8400/callback").unwrap() {
        RedirectUri::Loopback {
            text, port, path, ..
        } => {
            assert_eq!(
                (text.as_str(), port, path.as_str()),
                ("http://localhost:8400/callback", Some(8400), "/callback")
            );
        }
        other => panic!("{other:?}"),
    }
    match RedirectUri::parse("http://127.0.0.1").unwrap() {
        RedirectUri::Loopback { port, path, .. } => assert_eq!((port, path.as_str()), (None, "/")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        RedirectUri::parse("http://[::1]:9000/").unwrap(),
        RedirectUri::Loopback {
            port: Some(9000),
            ..
        }
    ));
    // Entra compares redirect URIs exactly: Microsoft's spelling is kept, not normalized.
    assert_eq!(
        RedirectUri::parse("https://SiemMsspConnector").unwrap(),
        RedirectUri::External {
            text: "https://SiemMsspConnector".into()
        }
    );
    assert!(
        RedirectUri::parse("http://siem.example.net/cb")
            .unwrap_err()
            .to_string()
            .contains("https")
    );
    assert!(RedirectUri::parse("localhost:8400").is_err());
    assert_eq!(
        with_port("http://localhost", 5123),
        "http://localhost:5123/"
    );
    assert_eq!(
        with_port("http://localhost/", 5123),
        "http://localhost:5123/"
    );
    assert_eq!(
        with_port("http://127.0.0.1/cb?x=1", 80),
        "http://127.0.0.1:80/cb?x=1"
    );
}

#[test]
fn pasted_addresses_are_read_in_every_shape() {
    let full = "https://siemmsspconnector/?code=1.AbC-d_&state=s%201&session_state=x";
    for input in [
        full.to_owned(),
        format!("  {full}  \n"),
        format!("\"{full}\""),
        "https://SiemMsspConnector?code=1.AbC-d_&state=s%201".to_owned(),
        "https://SiemMsspConnector/#code=1.AbC-d_&state=s%201".to_owned(),
        "?code=1.AbC-d_&state=s%201".to_owned(),
        "code=1.AbC-d_&state=s%201".to_owned(),
    ] {
        let p = pasted_params(&input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(param(&p, "code"), Some("1.AbC-d_"), "{input:?}");
        assert_eq!(param(&p, "state"), Some("s 1"), "{input:?}");
        let t = tenant(TokenVersion::V2);
        assert_eq!(code_from_pasted(&t, &input, "s 1").unwrap(), "1.AbC-d_");
    }
    for junk in ["", "   ", "hello", "https://SiemMsspConnector/", "x=1&y=2"] {
        let e = pasted_params(junk).unwrap_err();
        assert!(!e.to_string().is_empty(), "{junk:?}");
    }
}

#[test]
fn an_answer_of_another_sign_in_is_refused() {
    let t = tenant(TokenVersion::V2);
    for input in [
        "https://SiemMsspConnector/?code=abc&state=other",
        "https://SiemMsspConnector/?code=abc",
    ] {
        let e = code_from_pasted(&t, input, "mine").unwrap_err();
        assert!(matches!(e, LoginError::StateMismatch { .. }), "{e:?}");
        let text = e.to_string();
        assert!(
            text.contains("contoso") && text.contains("nothing was exchanged"),
            "{text}"
        );
    }
}

/// An error redirect was explained as this sign-in's before its `state` was looked at: one of an
/// older attempt, or one forged to the listener, ended the sign-in as "the user declined".
#[test]
fn an_error_redirect_of_another_sign_in_is_not_taken_for_this_ones() {
    let t = tenant(TokenVersion::V2);
    for input in [
        "https://SiemMsspConnector/?error=access_denied&error_description=AADSTS65004%3A+User+declined&state=other",
        "http://localhost:41837/?error=access_denied&error_description=AADSTS65004%3A+User+declined",
    ] {
        let e = code_from_pasted(&t, input, "mine").unwrap_err();
        assert!(
            matches!(e, LoginError::StateMismatch { .. }),
            "{input}: {e:?}"
        );
        assert!(!e.to_string().contains("declined"), "{e}");
    }
    // This sign-in's own error is still explained.
    let own = "https://SiemMsspConnector/?error=access_denied&error_description=AADSTS65004%3A+User+declined&state=mine";
    let e = code_from_pasted(&t, own, "mine").unwrap_err();
    assert_eq!(e.code(), Some(65004), "{e}");
}

#[test]
fn error_redirects_and_error_pages_are_explained_in_words() {
    let t = tenant(TokenVersion::V2);
    let redirect = |error: &str, description: &str| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("error", error)
            .append_pair("error_description", description)
            .append_pair("state", "mine");
        format!("https://SiemMsspConnector/?{}", q.finish())
    };
    let cases = [
        (
            redirect(
                "access_denied",
                "AADSTS65004: User declined to consent to access the app.\r\nTrace ID: 1",
            ),
            65004,
            "declined",
        ),
        (
            redirect(
                "invalid_client",
                "AADSTS50194: Application 'x' is not configured as a multi-tenant application.",
            ),
            50194,
            "multitenant",
        ),
        (
            redirect(
                "invalid_grant",
                "AADSTS65001: The user or administrator has not consented to use the application.",
            ),
            65001,
            "consent-url",
        ),
        (
            redirect(
                "unauthorized_client",
                "AADSTS700016: Application with identifier 'x' was not found in the directory 'y'.",
            ),
            700016,
            "multi-tenant",
        ),
        // Entra shows a redirect URI mismatch on its own page: its text, pasted.
        (
            "AADSTS50011: The redirect URI 'https://SiemMsspConnector' specified in the request does not match the redirect URIs configured for the application 'x'.".to_owned(),
            50011,
            "redirect URI is not registered",
        ),
    ];
    for (input, code, says) in cases {
        let e = code_from_pasted(&t, &input, "mine").unwrap_err();
        assert!(matches!(e, LoginError::SignIn { .. }), "{e:?}");
        assert_eq!(e.code(), Some(code), "{e}");
        let text = e.to_string();
        assert!(
            text.contains(says) && text.contains("tenant \"contoso\""),
            "{code}: {text}"
        );
        assert!(!text.contains("Trace ID"), "{text}");
    }
    assert_eq!(aadsts_code("x AADSTS7000218: y"), Some(7000218));
    assert_eq!(aadsts_code("no code"), None);
}

#[test]
fn device_code_polls_read_entras_answers() {
    let t = tenant(TokenVersion::V2);
    let body = |error: &str, code: u32| {
        serde_json::json!({
            "error": error,
            "error_description": format!("AADSTS{code}: something.\r\nTrace ID: 1"),
            "error_codes": [code],
        })
        .to_string()
    };
    assert_eq!(
        read_poll_error(&t, 400, body("authorization_pending", 70016).as_bytes()).unwrap(),
        PollAnswer::Pending
    );
    assert_eq!(
        read_poll_error(&t, 400, body("slow_down", 70016).as_bytes()).unwrap(),
        PollAnswer::SlowDown
    );
    let declined =
        read_poll_error(&t, 400, body("authorization_declined", 65004).as_bytes()).unwrap_err();
    assert!(declined.to_string().contains("declined"), "{declined}");
    let expired = read_poll_error(&t, 400, body("expired_token", 70020).as_bytes()).unwrap_err();
    assert!(expired.to_string().contains("expired"), "{expired}");
    let public = read_poll_error(&t, 401, body("invalid_client", 7000218).as_bytes()).unwrap_err();
    match &public {
        LoginError::Entra(e) => assert_eq!(e.kind, AuthErrorKind::Misconfigured),
        other => panic!("{other:?}"),
    }
    assert!(
        public.to_string().contains("Allow public client flows"),
        "{public}"
    );
}

#[test]
fn the_consent_link_is_entras_admin_consent_endpoint() {
    let any = ConsentRequest::new(CLIENT, None, None);
    assert_eq!(
        any.url(),
        format!("https://login.microsoftonline.com/common/adminconsent?client_id={CLIENT}")
    );
    let gcc = ConsentRequest::new(
        CLIENT,
        Some("contoso.onmicrosoft.us"),
        Some("https://login.microsoftonline.us/"),
    );
    assert_eq!(
        gcc.url(),
        format!(
            "https://login.microsoftonline.us/contoso.onmicrosoft.us/adminconsent?client_id={CLIENT}"
        )
    );
    let steps = instructions(&any, Some(TENANT), false);
    assert!(
        steps.contains("Settings > Endpoints > APIs > SIEM")
            && steps.contains("MSSP")
            && steps.contains(CLIENT)
            && steps.contains(TENANT),
        "{steps}"
    );
    // Graph: the consent is all, and GDAP is not a substitute for it.
    let steps = instructions(&any, Some(TENANT), true);
    assert!(
        steps.contains("SecurityAlert.Read.All")
            && steps.contains("GDAP")
            && steps.contains("Partner Center")
            && !steps.contains("Settings > Endpoints"),
        "{steps}"
    );
    assert!(is_guid(CLIENT) && !is_guid("0aa1b2c3"));
    assert!(is_tenant(TENANT) && is_tenant("contoso.onmicrosoft.com"));
    assert!(!is_tenant("contoso") && !is_tenant("a/b.c"));
}

fn status(stored: StoredToken, last: Option<AuthErrorKind>) -> TenantStatus {
    TenantStatus {
        name: "contoso".into(),
        mode: "refresh_token",
        token_version: "v2",
        audience: crate::entra::MDE_RESOURCE,
        check: TokenCheck::Skipped,
        stored,
        rotated_now: false,
        last_failure: last.map(|k| LastAuthFailure {
            at: "2026-11-20T00:00:00Z".into(),
            kind: k.as_str().into(),
            code: None,
            summary: "x".into(),
            hint: "y".into(),
        }),
        now: Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap(),
    }
}

#[test]
fn status_verdicts_follow_token_age_and_the_last_failure() {
    let rotated = |y, m, d| StoredToken::Stored {
        rotated_at: Some(Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()),
    };
    let fresh = status(rotated(2026, 11, 20), None);
    assert_eq!(
        (fresh.days_left(), fresh.verdict()),
        (Some(80), Verdict::Ok)
    );
    let old = status(rotated(2026, 9, 10), None);
    assert_eq!(
        (old.days_left(), old.verdict()),
        (Some(9), Verdict::ExpiresSoon)
    );
    let dead = status(rotated(2026, 8, 1), None);
    assert_eq!(dead.verdict(), Verdict::ReconsentNeeded);
    assert_eq!(
        status(rotated(2026, 11, 20), Some(AuthErrorKind::ReconsentNeeded)).verdict(),
        Verdict::ReconsentNeeded
    );
    assert_eq!(
        status(rotated(2026, 11, 20), Some(AuthErrorKind::BadSecret)).verdict(),
        Verdict::ActionNeeded
    );
    assert_eq!(
        status(rotated(2026, 11, 20), Some(AuthErrorKind::Retryable)).verdict(),
        Verdict::Unreachable
    );
    assert_eq!(
        status(StoredToken::Missing { initial: false }, None).verdict(),
        Verdict::ReconsentNeeded
    );
    assert_eq!(
        status(StoredToken::Missing { initial: true }, None).verdict(),
        Verdict::Ok
    );
    let mut works = status(rotated(2026, 8, 1), Some(AuthErrorKind::ReconsentNeeded));
    works.check = TokenCheck::Works;
    works.rotated_now = true;
    assert_eq!(
        (works.days_left(), works.verdict()),
        (Some(90), Verdict::Ok)
    );
    for kind in AuthErrorKind::ALL {
        assert_eq!(AuthErrorKind::from_name(kind.as_str()), Some(kind));
    }
}

#[test]
fn only_get_requests_are_read_by_the_listener() {
    assert_eq!(
        request_target("GET /?code=1&state=2 HTTP/1.1\r\nHost: x\r\n\r\n"),
        Some("/?code=1&state=2")
    );
    assert_eq!(request_target("POST / HTTP/1.1\r\n\r\n"), None);
    assert_eq!(request_target("GET /\r\n"), None);
    assert_eq!(request_target(""), None);
}

/// A GET over plain TCP: (status, body).
async fn get(port: u16, target: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    s.write_all(format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).await.unwrap();
    let status = text[9..12].parse().unwrap();
    (status, text)
}

#[tokio::test]
async fn the_listener_ignores_strays_and_refuses_another_sign_ins_answer() {
    // Entra is unreachable here: a test that reaches the exchange fails on the network.
    let mut t = tenant(TokenVersion::V2);
    t.login_url = url::Url::parse("http://127.0.0.1:9").unwrap();
    let redirect = RedirectUri::parse("http://localhost/cb").unwrap();
    let login = CodeLogin::start(t.clone(), &redirect, true).await.unwrap();
    assert!(login.listens());
    let uri = login.redirect_uri().to_owned();
    let port: u16 = uri
        .strip_prefix("http://localhost:")
        .and_then(|r| r.strip_suffix("/cb"))
        .unwrap()
        .parse()
        .unwrap();
    let link = login.authorize_url();
    let state = params(&link)
        .into_iter()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1;
    let http = crate::source::http::client(&t).unwrap();
    let mut ignored = |_: &LoginError| {};
    let waiting = login.finish(&http, None, Duration::from_secs(20), &mut ignored);
    let browser = async {
        // A favicon and a request without an answer do not end the wait.
        assert_eq!(get(port, "/favicon.ico").await.0, 404);
        assert_eq!(get(port, "/cb?foo=1").await.0, 400);
        let (status, page) = get(port, "/cb?code=abc&state=not-mine").await;
        assert_eq!(status, 400, "{page}");
        assert!(page.contains("does not belong to this sign-in"), "{page}");
    };
    let (result, ()) = tokio::join!(waiting, browser);
    let e = result.unwrap_err();
    assert!(matches!(e, LoginError::StateMismatch { .. }), "{e:?}");
    assert_ne!(state, "not-mine");
}
