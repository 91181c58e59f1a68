//! The interactive parts of Entra: `GET /{tenant}/oauth2[/v2.0]/authorize` (the browser
//! sign-in that ends in a redirect with a code), the device-code endpoint, and a device-login
//! page. Who "signs in" is decided by the auto-approve flag or by a test through the Rust API.

use std::sync::Arc;

use hyper::Method;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::entra_errors::{self, AadError};
use super::server::{Req, Resp, Version, first, response, with_header};
use super::shared_state::{PendingAuth, Shared, State};
use super::simulator_config::TokenFailure;
use super::token_endpoint::{Requested, error_with, json_ok, resource_request, scope_request};
use super::tokens::{AuthCode, Decision, DeviceCode};

/// A sign-in waiting at `/authorize` for [`super::Simulator::approve_authorization`] or
/// [`super::Simulator::decline_authorization`] (when auto-approve is off).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingAuthorization {
    /// Names this sign-in in the approve/decline calls.
    pub id: String,
    pub tenant_id: String,
    pub client_id: String,
    pub redirect_uri: String,
    /// `scope` (v2) or `resource` (v1).
    pub scope: String,
    pub state: Option<String>,
}

enum Prepared {
    Done(Resp),
    Wait {
        answer: oneshot::Receiver<bool>,
        code: AuthCode,
        target: Target,
    },
}

/// Where and how the answer is redirected.
struct Target {
    redirect_uri: String,
    fragment: bool,
    state: Option<String>,
}

impl Target {
    fn url(&self, params: &[(&str, &str)]) -> String {
        let mut enc = form_urlencoded::Serializer::new(String::new());
        enc.extend_pairs(params);
        if let Some(s) = &self.state {
            enc.append_pair("state", s);
        }
        let sep = if self.fragment {
            '#'
        } else if self.redirect_uri.contains('?') {
            '&'
        } else {
            '?'
        };
        format!("{}{sep}{}", self.redirect_uri, enc.finish())
    }
}

fn redirect(url: &str) -> Resp {
    let body = format!(
        "<html><body>Object moved to <a href=\"{}\">here</a>.</body></html>",
        html(url)
    );
    with_header(
        response(302, "text/html; charset=utf-8", body),
        "location",
        url,
    )
}

fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Errors that cannot be redirected (the redirect URI itself is not trusted): a page.
fn error_page(st: &mut State, err: &AadError) -> Resp {
    let trace = st.ids.guid();
    let correlation = st.ids.guid();
    let ts = chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string();
    let body = format!(
        "<html><head><title>Sign in to your account</title></head><body><h1>Sorry, but we're having trouble signing you in.</h1><p>{}</p></body></html>\n",
        html(&err.description(&trace, &correlation, &ts))
    );
    response(err.status, "text/html; charset=utf-8", body)
}

fn error_redirect(st: &mut State, target: &Target, err: &AadError) -> Resp {
    let trace = st.ids.guid();
    let correlation = st.ids.guid();
    let ts = chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string();
    let description = err.description(&trace, &correlation, &ts);
    redirect(&target.url(&[("error", err.error), ("error_description", &description)]))
}

/// Entra lets native apps register `http://localhost` (or 127.0.0.1) and redirect to any port
/// on it; every other redirect URI must match exactly (docs/onboarding.md: a mismatch is a common
/// onboarding failure).
pub(crate) fn registered(uri: &str, list: &[String]) -> bool {
    fn loopback(u: &str) -> Option<(&str, &str)> {
        let rest = u.strip_prefix("http://")?;
        let (authority, path) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
        let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
        let path = if path.is_empty() { "/" } else { path };
        matches!(host, "localhost" | "127.0.0.1" | "[::1]").then_some((host, path))
    }
    list.iter()
        .any(|r| r == uri || matches!((loopback(r), loopback(uri)), (Some(a), Some(b)) if a == b))
}

/// `GET /{tenant}/oauth2[/v2.0]/authorize`.
pub(crate) async fn authorize(shared: &Arc<Shared>, v: Version, tenant: &str, req: &Req) -> Resp {
    let prepared = {
        let mut st = shared.lock();
        prepare(shared, &mut st, v, tenant, req)
    };
    let (answer, code, target) = match prepared {
        Prepared::Done(resp) => return resp,
        Prepared::Wait {
            answer,
            code,
            target,
        } => (answer, code, target),
    };
    let mut shutdown = shared.shutdown.subscribe();
    let approved = tokio::select! {
        a = answer => a.ok(),
        _ = shutdown.recv() => None,
    };
    let mut st = shared.lock();
    match approved {
        Some(true) => {
            let code = issue_code(shared, &mut st, code);
            redirect(&target.url(&[("code", &code)]))
        }
        Some(false) => error_redirect(&mut st, &target, &entra_errors::user_declined_access()),
        None => response(
            503,
            "text/plain; charset=utf-8",
            "The simulator is shutting down.\n",
        ),
    }
}

fn issue_code(shared: &Shared, st: &mut State, mut code: AuthCode) -> String {
    code.expires = Instant::now() + shared.config.auth_code_lifetime;
    st.tokens.new_code(code)
}

fn prepare(shared: &Shared, st: &mut State, v: Version, tenant: &str, req: &Req) -> Prepared {
    let q = &req.query;
    let Some(t) = st.store.find(tenant) else {
        return Prepared::Done(error_page(st, &entra_errors::tenant_not_found(tenant)));
    };
    let tenant_id = st.store.tenants[t].info.id.clone();
    let Some(client_id) = first(q, "client_id") else {
        return Prepared::Done(error_page(st, &entra_errors::missing_param("client_id")));
    };
    if !client_id.eq_ignore_ascii_case(&shared.client_id) {
        return Prepared::Done(error_page(
            st,
            &entra_errors::app_not_found(client_id, &tenant_id),
        ));
    }
    let Some(redirect_uri) = first(q, "redirect_uri") else {
        return Prepared::Done(error_page(st, &entra_errors::missing_param("redirect_uri")));
    };
    if !registered(redirect_uri, &shared.config.redirect_uris) {
        let err = entra_errors::redirect_not_registered(redirect_uri, client_id);
        return Prepared::Done(error_page(st, &err));
    }
    let target = Target {
        redirect_uri: redirect_uri.to_owned(),
        fragment: first(q, "response_mode") == Some("fragment"),
        state: first(q, "state").map(str::to_owned),
    };
    let checked = check_request(v, &tenant_id, req);
    let (requested, challenge) = match checked {
        Ok(x) => x,
        Err(e) => return Prepared::Done(error_redirect(st, &target, &e)),
    };
    let code = AuthCode {
        tenant: t,
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        challenge,
        offline: requested.as_ref().is_none_or(|r| r.offline),
        audience: requested.map(|r| r.audience),
        expires: Instant::now(),
        redeemed: false,
    };
    if st.auto_approve {
        let code = issue_code(shared, st, code);
        return Prepared::Done(redirect(&target.url(&[("code", &code)])));
    }
    let (tx, rx) = oneshot::channel();
    let info = PendingAuthorization {
        id: st.ids.guid(),
        tenant_id,
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        scope: first(q, "scope")
            .or(first(q, "resource"))
            .unwrap_or_default()
            .to_owned(),
        state: target.state.clone(),
    };
    st.pending.push(PendingAuth { info, answer: tx });
    Prepared::Wait {
        answer: rx,
        code,
        target,
    }
}

type Challenge = Option<(String, bool)>;

/// The checks whose failures are redirected back to the app.
fn check_request(
    v: Version,
    tenant_id: &str,
    req: &Req,
) -> Result<(Option<Requested>, Challenge), AadError> {
    let q = &req.query;
    let response_type =
        first(q, "response_type").ok_or_else(|| entra_errors::missing_param("response_type"))?;
    if response_type != "code" {
        return Err(entra_errors::bad_response_type(response_type));
    }
    let requested = match v {
        Version::V2 => {
            let scope = first(q, "scope").ok_or_else(|| entra_errors::missing_param("scope"))?;
            Some(scope_request(scope, tenant_id, false)?)
        }
        // v1 takes the resource at the token request as well; here it is optional.
        Version::V1 => first(q, "resource")
            .map(|r| resource_request(r, tenant_id))
            .transpose()?,
    };
    let challenge = match (
        first(q, "code_challenge"),
        first(q, "code_challenge_method"),
    ) {
        (None, _) => None,
        (Some(c), None | Some("plain")) => Some((c.to_owned(), false)),
        (Some(c), Some("S256")) => Some((c.to_owned(), true)),
        (Some(_), Some(m)) => return Err(entra_errors::bad_challenge_method(m)),
    };
    Ok((requested, challenge))
}

/// `POST /{tenant}/oauth2[/v2.0]/devicecode`.
pub(crate) fn device_code(shared: &Shared, v: Version, tenant: &str, req: &Req) -> Resp {
    let mut st = shared.lock();
    match new_device_code(shared, &mut st, v, tenant, req) {
        Ok(body) => json_ok(&mut st, req, &body),
        Err(e) => error_with(&mut st, shared, req, &e),
    }
}

fn new_device_code(
    shared: &Shared,
    st: &mut State,
    v: Version,
    tenant: &str,
    req: &Req,
) -> Result<Value, AadError> {
    if req.method != Method::POST {
        return Err(entra_errors::not_post(req.method.as_str()));
    }
    let t = st
        .store
        .find(tenant)
        .ok_or_else(|| entra_errors::tenant_not_found(tenant))?;
    let tenant_id = st.store.tenants[t].info.id.clone();
    match st.store.tenants[t].knobs.token_failure {
        Some(TokenFailure::ServerError) => return Err(entra_errors::transient(500)),
        Some(TokenFailure::Aadsts(code)) => {
            return Err(entra_errors::from_code(code, &shared.client_id, &tenant_id));
        }
        None => {}
    }
    let form = &req.form;
    let client_id =
        first(form, "client_id").ok_or_else(|| entra_errors::missing_param("client_id"))?;
    if !client_id.eq_ignore_ascii_case(&shared.client_id) {
        return Err(entra_errors::app_not_found(client_id, &tenant_id));
    }
    let (scope, requested) = match v {
        Version::V2 => {
            let s = first(form, "scope").ok_or_else(|| entra_errors::missing_param("scope"))?;
            (s, scope_request(s, &tenant_id, false)?)
        }
        Version::V1 => {
            let r =
                first(form, "resource").ok_or_else(|| entra_errors::missing_param("resource"))?;
            (r, resource_request(r, &tenant_id)?)
        }
    };
    let now = Instant::now();
    let cfg = &shared.config;
    let (device_code, user_code) = st.tokens.new_device_code(DeviceCode {
        tenant: t,
        client_id: client_id.to_owned(),
        user_code: String::new(),
        scope: scope.to_owned(),
        audience: requested.audience,
        offline: requested.offline,
        expires: now + cfg.device_code_lifetime,
        interval: cfg.device_code_interval,
        last_poll: now,
        decision: if st.auto_approve {
            Decision::Approved
        } else {
            Decision::Pending
        },
    });
    let uri = format!("{}/devicelogin", shared.base_url);
    let message = format!(
        "To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate."
    );
    let (expires, interval) = (
        cfg.device_code_lifetime.as_secs(),
        cfg.device_code_interval.as_secs().max(1),
    );
    Ok(match v {
        Version::V2 => json!({
            "user_code": user_code, "device_code": device_code, "verification_uri": uri,
            "expires_in": expires, "interval": interval, "message": message,
        }),
        // v1 spells it verification_url and writes numbers as strings.
        Version::V1 => json!({
            "user_code": user_code, "device_code": device_code, "verification_url": uri,
            "expires_in": expires.to_string(), "interval": interval.to_string(), "message": message,
        }),
    })
}

/// `/devicelogin`: a page where a person running `siemfwd simulate` approves or declines a
/// device code by hand.
pub(crate) fn device_login(shared: &Shared, req: &Req) -> Resp {
    let page = |status: u16, text: &str| {
        let body = format!(
            "<html><head><title>Enter code</title></head><body><h1>siemfwd simulator: device login</h1><p>{}</p>\
             <form method=\"post\"><input name=\"user_code\" placeholder=\"Code\"> \
             <button name=\"action\" value=\"approve\">Approve</button> \
             <button name=\"action\" value=\"decline\">Decline</button></form></body></html>\n",
            html(text)
        );
        response(status, "text/html; charset=utf-8", body)
    };
    if req.method != Method::POST {
        return page(200, "Enter the code shown by the application.");
    }
    let code = first(&req.form, "user_code").unwrap_or_default();
    let approve = first(&req.form, "action") != Some("decline");
    if shared.lock().tokens.decide_device_code(code, approve) {
        page(
            200,
            if approve {
                "Approved. You can close this window."
            } else {
                "Declined."
            },
        )
    } else {
        page(
            400,
            "That code is not pending (unknown, expired or already answered).",
        )
    }
}
