//! Entra ID errors as Entra writes them: an OAuth `error`, an `AADSTS<code>: ...` description
//! with trace and correlation ids, `error_codes`, and the HTTP status (400, or 401 for a client
//! that failed to authenticate). Clients branch on `error` and the code (docs/alerts-api.md, Entra ID tokens).

use std::time::Duration;

use serde_json::json;

/// One Entra error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AadError {
    pub(crate) status: u16,
    pub(crate) error: &'static str,
    pub(crate) code: u32,
    pub(crate) message: String,
}

fn e(status: u16, error: &'static str, code: u32, message: impl Into<String>) -> AadError {
    AadError {
        status,
        error,
        code,
        message: message.into(),
    }
}

impl AadError {
    /// `AADSTS<code>: <message>` followed by the ids, as in `error_description`.
    pub(crate) fn description(&self, trace: &str, correlation: &str, timestamp: &str) -> String {
        format!(
            "AADSTS{}: {}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {timestamp}",
            self.code, self.message
        )
    }

    /// The JSON body of a token-endpoint error.
    pub(crate) fn body(&self, trace: &str, correlation: &str, base_url: &str) -> String {
        let ts = chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string();
        json!({
            "error": self.error,
            "error_description": self.description(trace, correlation, &ts),
            "error_codes": [self.code],
            "timestamp": ts,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": format!("{base_url}/error?code={}", self.code),
        })
        .to_string()
    }
}

pub(crate) fn tenant_not_found(tenant: &str) -> AadError {
    e(
        400,
        "invalid_request",
        90002,
        format!(
            "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
        ),
    )
}

pub(crate) fn app_not_found(client_id: &str, tenant: &str) -> AadError {
    e(
        400,
        "unauthorized_client",
        700016,
        format!(
            "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
        ),
    )
}

pub(crate) fn missing_param(name: &str) -> AadError {
    e(
        400,
        "invalid_request",
        900144,
        format!("The request body must contain the following parameter: '{name}'."),
    )
}

pub(crate) fn resource_on_v2() -> AadError {
    e(
        400,
        "invalid_request",
        901002,
        "The 'resource' request parameter is not supported. Use 'scope' (e.g. https://api.securitycenter.microsoft.com/.default) with the v2.0 endpoint.",
    )
}

pub(crate) fn invalid_secret(client_id: &str) -> AadError {
    e(
        401,
        "invalid_client",
        7000215,
        format!(
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
        ),
    )
}

pub(crate) fn secret_expired(client_id: &str) -> AadError {
    e(
        401,
        "invalid_client",
        7000222,
        format!(
            "The provided client secret keys for app '{client_id}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds."
        ),
    )
}

pub(crate) fn needs_secret() -> AadError {
    e(
        401,
        "invalid_client",
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    )
}

pub(crate) fn no_consent(client_id: &str) -> AadError {
    e(
        400,
        "invalid_grant",
        65001,
        format!(
            "The user or administrator has not consented to use the application with ID '{client_id}' named 'MSSP SIEM forwarder'. Send an interactive authorization request for this user and resource."
        ),
    )
}

pub(crate) fn unsupported_grant(grant: &str) -> AadError {
    e(
        400,
        "unsupported_grant_type",
        70003,
        format!("The app requested an unsupported grant type '{grant}'."),
    )
}

pub(crate) fn malformed_grant(param: &str) -> AadError {
    e(
        400,
        "invalid_grant",
        9002313,
        format!(
            "Invalid request. Request is malformed or invalid. The '{param}' was not issued by this tenant."
        ),
    )
}

pub(crate) fn grant_other_client(param: &str) -> AadError {
    e(
        400,
        "invalid_grant",
        70000,
        format!(
            "The provided value for the '{param}' is not valid. It was issued to a different client."
        ),
    )
}

pub(crate) fn refresh_reused() -> AadError {
    e(
        400,
        "invalid_grant",
        70008,
        "The provided authorization code or refresh token has expired due to inactivity or was already redeemed (this simulator makes refresh tokens single use: persist the new one from every answer). Send a new interactive authorization request for this user and resource.",
    )
}

pub(crate) fn refresh_inactive(issued: &str, inactivity: Duration) -> AadError {
    let days = inactivity.as_secs() / 86_400;
    let rest = inactivity.as_secs() % 86_400;
    e(
        400,
        "invalid_grant",
        700082,
        format!(
            "The refresh token has expired due to inactivity. The token was issued on {issued} and was inactive for {days}.{:02}:{:02}:{:02}.",
            rest / 3600,
            rest % 3600 / 60,
            rest % 60
        ),
    )
}

pub(crate) fn refresh_revoked(issued: &str) -> AadError {
    e(
        400,
        "invalid_grant",
        50173,
        format!(
            "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '{issued}'."
        ),
    )
}

pub(crate) fn code_invalid() -> AadError {
    e(
        400,
        "invalid_grant",
        70000,
        "The provided value for the 'code' parameter is not valid.",
    )
}

pub(crate) fn code_redeemed() -> AadError {
    e(
        400,
        "invalid_grant",
        54005,
        "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
    )
}

pub(crate) fn code_expired() -> AadError {
    e(
        400,
        "invalid_grant",
        70008,
        "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
    )
}

pub(crate) fn redirect_mismatch(got: &str, want: &str) -> AadError {
    e(
        400,
        "invalid_grant",
        500112,
        format!(
            "The reply address '{got}' does not match the reply address '{want}' provided when requesting Authorization code."
        ),
    )
}

pub(crate) fn pkce_failed() -> AadError {
    e(
        400,
        "invalid_grant",
        501481,
        "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
    )
}

pub(crate) fn invalid_scope(scope: &str) -> AadError {
    e(
        400,
        "invalid_scope",
        70011,
        format!(
            "The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope '{scope}' is not valid."
        ),
    )
}

pub(crate) fn client_credentials_scope(scope: &str) -> AadError {
    e(
        400,
        "invalid_scope",
        1002012,
        format!(
            "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
        ),
    )
}

pub(crate) fn several_resources() -> AadError {
    e(
        400,
        "invalid_scope",
        28000,
        "Provided value for the input parameter scope is not valid because it contains more than one resource.",
    )
}

pub(crate) fn resource_not_found(resource: &str, tenant: &str) -> AadError {
    e(
        400,
        "invalid_resource",
        500011,
        format!(
            "The resource principal named {resource} was not found in the tenant named {tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."
        ),
    )
}

pub(crate) fn transient(status: u16) -> AadError {
    e(
        status,
        "temporarily_unavailable",
        90033,
        "A transient error has occurred. Please try again.",
    )
}

pub(crate) fn not_post(method: &str) -> AadError {
    e(
        400,
        "invalid_request",
        900561,
        format!("The endpoint only accepts POST, OPTIONS requests. Received a {method} request."),
    )
}

pub(crate) fn authorization_pending() -> AadError {
    e(
        400,
        "authorization_pending",
        70016,
        "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
    )
}

pub(crate) fn slow_down(interval: Duration) -> AadError {
    e(
        400,
        "slow_down",
        70016,
        format!(
            "OAuth 2.0 device flow error. Polling too fast: wait at least {} seconds between requests.",
            interval.as_secs().max(1)
        ),
    )
}

pub(crate) fn user_declined() -> AadError {
    e(
        400,
        "authorization_declined",
        65004,
        "User declined to consent to access the app.",
    )
}

/// The answer of `/authorize` when the user declines.
pub(crate) fn user_declined_access() -> AadError {
    e(
        400,
        "access_denied",
        65004,
        "User declined to consent to access the app.",
    )
}

pub(crate) fn device_code_expired() -> AadError {
    e(
        400,
        "expired_token",
        70020,
        "The provided value for the input parameter 'device_code' is not valid. This device code has expired.",
    )
}

pub(crate) fn bad_device_code() -> AadError {
    e(
        400,
        "bad_verification_code",
        9002313,
        "Invalid request. Request is malformed or invalid. The device code is not known.",
    )
}

pub(crate) fn device_code_redeemed() -> AadError {
    e(
        400,
        "invalid_grant",
        54005,
        "The device code was already redeemed.",
    )
}

pub(crate) fn redirect_not_registered(uri: &str, client_id: &str) -> AadError {
    e(
        400,
        "invalid_request",
        50011,
        format!(
            "The redirect URI '{uri}' specified in the request does not match the redirect URIs configured for the application '{client_id}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this."
        ),
    )
}

pub(crate) fn bad_response_type(response_type: &str) -> AadError {
    e(
        400,
        "unsupported_response_type",
        700054,
        format!("response_type '{response_type}' is not enabled for the application."),
    )
}

pub(crate) fn bad_challenge_method(method: &str) -> AadError {
    e(
        400,
        "invalid_request",
        90023,
        format!("Unsupported code_challenge_method '{method}'. Use S256 (or plain)."),
    )
}

/// The error of a tenant knob `TokenFailure::Aadsts(code)`.
pub(crate) fn from_code(code: u32, client_id: &str, tenant: &str) -> AadError {
    match code {
        90002 => tenant_not_found(tenant),
        700016 => app_not_found(client_id, tenant),
        7000215 => invalid_secret(client_id),
        7000222 => secret_expired(client_id),
        7000218 => needs_secret(),
        65001 => no_consent(client_id),
        70008 => code_expired(),
        700082 => refresh_inactive("01/01/2026 00:00:00", Duration::from_secs(90 * 86_400)),
        50173 => refresh_revoked("01/01/2026 00:00:00"),
        500011 => resource_not_found("https://api.securitycenter.microsoft.com", tenant),
        90033 => transient(500),
        50196 | 90055 => e(
            429,
            "temporarily_unavailable",
            code,
            "The server terminated an operation because it encountered a client request loop or too many requests. Please contact your app vendor.",
        ),
        _ => e(
            400,
            "invalid_request",
            code,
            "Simulated failure for this tenant.",
        ),
    }
}
