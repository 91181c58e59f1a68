//! The token endpoints, `POST /{tenant}/oauth2/token` (v1) and `/oauth2/v2.0/token` (v2), with
//! the grants of docs/alerts-api.md (Entra ID tokens): client_credentials, refresh_token (rotating), authorization_code
//! (+PKCE) and device_code.
//!
//! The answers keep Entra's shapes, which clients get wrong: `expires_in` is a number in v2 and
//! a string in v1 (which adds `expires_on`, `not_before`, `resource`); v2 only returns a refresh
//! token when `offline_access` was asked for.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hyper::Method;
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::entra_errors::{self, AadError};
use super::server::{Req, Resp, Version, first, response, with_header};
use super::shared_state::{Shared, State};
use super::simulator_config::TokenFailure;
use super::tokens::{Audience, Decision};

/// The classic application ID URI of the Defender for Endpoint API.
pub(crate) const DEFENDER: &str = "https://api.securitycenter.microsoft.com";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// Names of the Defender API's service principal (app id URIs and app id).
const DEFENDER_NAMES: &[&str] = &[
    DEFENDER,
    "https://api.security.microsoft.com",
    "https://securitycenter.onmicrosoft.com/windowsatpservice",
    "fc780465-2017-40d4-a0c5-307022471b92",
];
/// Microsoft Graph's application ID URI: its tokens open `/v1.0/security/alerts_v2`.
pub(crate) const GRAPH: &str = "https://graph.microsoft.com";
/// Names of Microsoft Graph's service principal (app id URI and app id).
const GRAPH_NAMES: &[&str] = &[GRAPH, "00000003-0000-0000-c000-000000000000"];
/// Resources that exist in every tenant but are neither the Defender API nor Microsoft Graph
/// (tokens for them are issued, and refused by both alert APIs).
const OTHER_RESOURCES: &[&str] = &["https://graph.windows.net", "https://management.azure.com"];
const OIDC_SCOPES: &[&str] = &["offline_access", "openid", "profile", "email"];

/// What a request asked a token for.
#[derive(Debug, Clone)]
pub(crate) struct Requested {
    pub(crate) audience: Audience,
    /// The resource as the answer names it (v1 `resource`).
    pub(crate) resource: String,
    /// The permission part of the scope (`.default`, `Alert.Read.All`).
    pub(crate) permission: String,
    pub(crate) offline: bool,
}

impl Requested {
    fn of(audience: Audience) -> Self {
        let resource = audience.resource().to_owned();
        Requested {
            audience,
            resource,
            permission: ".default".into(),
            offline: false,
        }
    }
}

fn audience(resource: &str, tenant: &str) -> Result<Audience, AadError> {
    let r = resource.trim_end_matches('/');
    if DEFENDER_NAMES.iter().any(|n| n.eq_ignore_ascii_case(r)) {
        Ok(Audience::Defender)
    } else if GRAPH_NAMES.iter().any(|n| n.eq_ignore_ascii_case(r)) {
        Ok(Audience::Graph)
    } else if OTHER_RESOURCES.iter().any(|n| n.eq_ignore_ascii_case(r)) {
        Ok(Audience::Other(r.to_owned()))
    } else {
        Err(entra_errors::resource_not_found(resource, tenant))
    }
}

/// A v1 `resource` parameter.
pub(crate) fn resource_request(resource: &str, tenant: &str) -> Result<Requested, AadError> {
    let mut r = Requested::of(audience(resource, tenant)?);
    r.resource = resource.trim_end_matches('/').to_owned();
    r.offline = true;
    Ok(r)
}

/// A v2 `scope` parameter: one resource's scopes plus OpenID ones. Client credentials accept
/// only `<resource>/.default`.
pub(crate) fn scope_request(
    scope: &str,
    tenant: &str,
    app_only: bool,
) -> Result<Requested, AadError> {
    let mut found: Option<Requested> = None;
    let mut offline = false;
    for s in scope.split_whitespace() {
        if OIDC_SCOPES.iter().any(|o| o.eq_ignore_ascii_case(s)) {
            if app_only {
                return Err(entra_errors::client_credentials_scope(s));
            }
            offline |= s.eq_ignore_ascii_case("offline_access");
            continue;
        }
        let Some((resource, permission)) = s.rsplit_once('/') else {
            return Err(entra_errors::invalid_scope(s));
        };
        if app_only && permission != ".default" {
            return Err(entra_errors::client_credentials_scope(s));
        }
        let req = Requested {
            audience: audience(resource, tenant)?,
            resource: resource.to_owned(),
            permission: permission.to_owned(),
            offline: false,
        };
        if found.as_ref().is_some_and(|f| f.audience != req.audience) {
            return Err(entra_errors::several_resources());
        }
        found = Some(req);
    }
    let mut req = found.ok_or_else(|| entra_errors::invalid_scope(scope))?;
    req.offline = offline;
    Ok(req)
}

/// (trace id, correlation id): the client's `client-request-id` is echoed as the correlation
/// id, as Entra does, so a client can find its request in our errors.
fn ids(st: &mut State, req: &Req) -> (String, String) {
    let trace = st.ids.guid();
    let correlation = req
        .header("client-request-id")
        .filter(|c| c.len() == 36 && c.chars().all(|ch| ch.is_ascii_hexdigit() || ch == '-'))
        .map_or_else(|| st.ids.guid(), str::to_owned);
    (trace, correlation)
}

fn entra_headers(r: Resp, trace: &str, correlation: &str) -> Resp {
    let r = with_header(r, "cache-control", "no-store, no-cache");
    let r = with_header(r, "pragma", "no-cache");
    let r = with_header(r, "x-ms-request-id", trace);
    with_header(r, "client-request-id", correlation)
}

pub(crate) fn error_with(st: &mut State, shared: &Shared, req: &Req, err: &AadError) -> Resp {
    let (trace, correlation) = ids(st, req);
    let body = err.body(&trace, &correlation, &shared.base_url);
    entra_headers(
        response(err.status, "application/json; charset=utf-8", body),
        &trace,
        &correlation,
    )
}

/// An Entra error answer (locks the state for the ids).
pub(crate) fn error_response(shared: &Shared, req: &Req, err: &AadError) -> Resp {
    error_with(&mut shared.lock(), shared, req, err)
}

pub(crate) fn json_ok(st: &mut State, req: &Req, body: &Value) -> Resp {
    let (trace, correlation) = ids(st, req);
    entra_headers(
        response(200, "application/json; charset=utf-8", body.to_string()),
        &trace,
        &correlation,
    )
}

/// `POST /{tenant}/oauth2[/v2.0]/token`.
pub(crate) fn token(shared: &Shared, v: Version, tenant: &str, req: &Req) -> Resp {
    let mut st = shared.lock();
    let result = if req.method == Method::POST {
        grant(shared, &mut st, v, tenant, req)
    } else {
        Err(entra_errors::not_post(req.method.as_str()))
    };
    match result {
        Ok(body) => json_ok(&mut st, req, &body),
        Err(e) => error_with(&mut st, shared, req, &e),
    }
}

/// Client id and secret from `Authorization: Basic` (RFC 6749 §2.3.1), which Entra accepts
/// besides form fields.
fn basic_auth(req: &Req) -> Option<(String, String)> {
    basic_credentials(req.header("authorization")?)
}

/// Client id and secret of an `Authorization: Basic` value: base64 of the form-encoded id, `:`
/// and the form-encoded secret.
pub(crate) fn basic_credentials(header: &str) -> Option<(String, String)> {
    let encoded = header.strip_prefix("Basic ")?.trim();
    let decoded = String::from_utf8(STANDARD.decode(encoded).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let un = |s: &str| {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((un(id), un(secret)))
}

/// The S256 code challenge of a PKCE verifier: BASE64URL(SHA256(verifier)) (RFC 7636 §4.2).
pub(crate) fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ))
}

/// The client as Entra authenticates it before looking at the grant.
pub(crate) fn check_client<'a>(
    shared: &Shared,
    st: &State,
    t: usize,
    req: &'a Req,
    basic: &'a Option<(String, String)>,
    needs_secret: bool,
) -> Result<&'a str, AadError> {
    let tenant = &st.store.tenants[t];
    let client_id = first(&req.form, "client_id")
        .or(basic.as_ref().map(|b| b.0.as_str()))
        .ok_or_else(|| entra_errors::missing_param("client_id"))?;
    if !client_id.eq_ignore_ascii_case(&shared.client_id) {
        return Err(entra_errors::app_not_found(client_id, &tenant.info.id));
    }
    let secret = first(&req.form, "client_secret").or(basic.as_ref().map(|b| b.1.as_str()));
    match secret {
        Some(s) if s != shared.client_secret => {
            return Err(entra_errors::invalid_secret(client_id));
        }
        Some(_) if tenant.knobs.secret_expired => {
            return Err(entra_errors::secret_expired(client_id));
        }
        Some(_) => {}
        None if needs_secret || tenant.knobs.public_client_flows_disabled => {
            return Err(entra_errors::needs_secret());
        }
        None => {}
    }
    Ok(client_id)
}

// why: Entra's checks in the order Entra makes them (tenant, knobs, client, grant type, scope,
// then the grant itself): the order is the behaviour, and it reads best in one place.
#[allow(clippy::too_many_lines)]
fn grant(
    shared: &Shared,
    st: &mut State,
    v: Version,
    tenant: &str,
    req: &Req,
) -> Result<Value, AadError> {
    let t = st
        .store
        .find(tenant)
        .ok_or_else(|| entra_errors::tenant_not_found(tenant))?;
    let tenant_id = st.store.tenants[t].info.id.clone();
    let knobs = st.store.tenants[t].knobs.clone();
    if let Some(f) = knobs.token_failure {
        return Err(match f {
            TokenFailure::ServerError => entra_errors::transient(500),
            TokenFailure::Aadsts(code) => {
                entra_errors::from_code(code, &shared.client_id, &tenant_id)
            }
        });
    }
    let form = &req.form;
    let grant =
        first(form, "grant_type").ok_or_else(|| entra_errors::missing_param("grant_type"))?;
    if v == Version::V2 && first(form, "resource").is_some() {
        return Err(entra_errors::resource_on_v2());
    }
    let basic = basic_auth(req);
    let client_id =
        check_client(shared, st, t, req, &basic, grant == "client_credentials")?.to_owned();
    if knobs.consent_missing {
        return Err(entra_errors::no_consent(&client_id));
    }
    let asked = |app_only: bool| -> Result<Option<Requested>, AadError> {
        match v {
            Version::V2 => first(form, "scope")
                .map(|s| scope_request(s, &tenant_id, app_only))
                .transpose(),
            Version::V1 => first(form, "resource")
                .map(|r| resource_request(r, &tenant_id))
                .transpose(),
        }
    };
    let missing = || {
        entra_errors::missing_param(if v == Version::V2 {
            "scope"
        } else {
            "resource"
        })
    };
    match grant {
        "client_credentials" => {
            let r = asked(true)?.ok_or_else(missing)?;
            Ok(token_body(shared, st, v, t, &r, None))
        }
        "refresh_token" => {
            let rt = first(form, "refresh_token")
                .ok_or_else(|| entra_errors::missing_param("refresh_token"))?;
            // Parse the request before spending the refresh token on it.
            let r = asked(false)?;
            let inactivity = shared.config.refresh_token_inactivity;
            let original = st.tokens.redeem_refresh(rt, t, &client_id, inactivity)?;
            let r = r.unwrap_or_else(|| Requested::of(original));
            let new_rt = st.tokens.issue_refresh(t, &client_id, r.audience.clone());
            Ok(token_body(shared, st, v, t, &r, Some(new_rt)))
        }
        "authorization_code" => {
            let code = first(form, "code").ok_or_else(|| entra_errors::missing_param("code"))?;
            let redirect = first(form, "redirect_uri")
                .ok_or_else(|| entra_errors::missing_param("redirect_uri"))?;
            let r = asked(false)?;
            let c = st
                .tokens
                .codes
                .get(code)
                .cloned()
                .ok_or_else(entra_errors::code_invalid)?;
            if c.tenant != t {
                return Err(entra_errors::malformed_grant("code"));
            }
            if !c.client_id.eq_ignore_ascii_case(&client_id) {
                return Err(entra_errors::grant_other_client("code"));
            }
            if c.redeemed {
                return Err(entra_errors::code_redeemed());
            }
            if Instant::now() >= c.expires {
                return Err(entra_errors::code_expired());
            }
            if redirect != c.redirect_uri {
                return Err(entra_errors::redirect_mismatch(redirect, &c.redirect_uri));
            }
            if let Some((challenge, s256)) = &c.challenge {
                let verifier =
                    first(form, "code_verifier").ok_or_else(entra_errors::pkce_failed)?;
                let computed = if *s256 {
                    s256_challenge(verifier)
                } else {
                    verifier.to_owned()
                };
                if &computed != challenge {
                    return Err(entra_errors::pkce_failed());
                }
            }
            let mut r = match (r, &c.audience) {
                (Some(r), _) => r,
                (None, Some(a)) => Requested::of(a.clone()),
                (None, None) => return Err(missing()),
            };
            r.offline |= c.offline || v == Version::V1;
            if let Some(stored) = st.tokens.codes.get_mut(code) {
                stored.redeemed = true;
            }
            let new_rt = r
                .offline
                .then(|| st.tokens.issue_refresh(t, &client_id, r.audience.clone()));
            Ok(token_body(shared, st, v, t, &r, new_rt))
        }
        DEVICE_GRANT | "device_code" => {
            let dc = first(form, "device_code")
                .or_else(|| first(form, "code"))
                .ok_or_else(|| entra_errors::missing_param("device_code"))?;
            let now = Instant::now();
            let d = st
                .tokens
                .devices
                .get_mut(dc)
                .ok_or_else(entra_errors::bad_device_code)?;
            if d.tenant != t || !d.client_id.eq_ignore_ascii_case(&client_id) {
                return Err(entra_errors::bad_device_code());
            }
            if now >= d.expires {
                return Err(entra_errors::device_code_expired());
            }
            let too_fast = now.saturating_duration_since(d.last_poll) < d.interval;
            d.last_poll = now;
            match d.decision {
                Decision::Redeemed => Err(entra_errors::device_code_redeemed()),
                Decision::Declined => Err(entra_errors::user_declined()),
                Decision::Pending if too_fast => Err(entra_errors::slow_down(d.interval)),
                Decision::Pending => Err(entra_errors::authorization_pending()),
                Decision::Approved => {
                    d.decision = Decision::Redeemed;
                    let mut r = Requested::of(d.audience.clone());
                    r.offline = d.offline;
                    let new_rt = r
                        .offline
                        .then(|| st.tokens.issue_refresh(t, &client_id, r.audience.clone()));
                    Ok(token_body(shared, st, v, t, &r, new_rt))
                }
            }
        }
        other => Err(entra_errors::unsupported_grant(other)),
    }
}

/// The success answer. Delegated grants (with a refresh token) also carry `scope`.
fn token_body(
    shared: &Shared,
    st: &mut State,
    v: Version,
    t: usize,
    r: &Requested,
    refresh: Option<String>,
) -> Value {
    let lifetime = shared.config.access_token_lifetime;
    // Entra answers 3599 for an hour: the second already spent issuing it.
    let expires_in = lifetime.as_secs().saturating_sub(1);
    let access = st.tokens.issue_access(t, r.audience.clone(), lifetime);
    let delegated = refresh.is_some();
    let permission = match (r.permission.as_str(), &r.audience) {
        (".default", Audience::Graph) => "SecurityAlert.Read.All",
        (".default", _) => "Alert.Read.All",
        (p, _) => p,
    };
    let mut m = Map::new();
    m.insert("token_type".into(), json!("Bearer"));
    match v {
        Version::V2 => {
            if delegated {
                // Entra names Graph's scopes bare (`SecurityAlert.Read.All`), other APIs'
                // with their resource.
                let scope = match r.audience {
                    Audience::Graph => permission.to_owned(),
                    _ => format!("{}/{permission}", r.resource),
                };
                m.insert("scope".into(), json!(scope));
            }
            m.insert("expires_in".into(), json!(expires_in));
            m.insert("ext_expires_in".into(), json!(expires_in));
        }
        Version::V1 => {
            let now = chrono::Utc::now().timestamp();
            if delegated {
                m.insert("scope".into(), json!(permission));
            }
            m.insert("expires_in".into(), json!(expires_in.to_string()));
            m.insert("ext_expires_in".into(), json!(expires_in.to_string()));
            m.insert(
                "expires_on".into(),
                json!((now + expires_in as i64).to_string()),
            );
            m.insert("not_before".into(), json!((now - 300).to_string()));
            m.insert("resource".into(), json!(r.resource));
        }
    }
    m.insert("access_token".into(), json!(access));
    if let Some(rt) = refresh {
        m.insert("refresh_token".into(), json!(rt));
    }
    Value::Object(m)
}
