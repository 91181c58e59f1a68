//! The device code flow (RFC 8628): siemfwd shows a short code, someone signs in with it on
//! any device's browser, and siemfwd polls the token endpoint until they have.
//!
//! siemfwd is a public client here (no secret is sent), which Entra allows only when the app
//! registration has "Allow public client flows"; otherwise every poll answers AADSTS7000218,
//! explained in words.

use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

use crate::entra::EntraError;
use crate::entra::token::number_or_string;
use crate::secret::Secret;
use crate::source::TenantConfig;

use super::login::{self, Endpoint, LoginError, audience, endpoint};

/// The grant type of a device code poll.
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Polls in a row that may fail on the network or with a 5xx before the login gives up.
const MAX_TRANSIENT_FAILURES: u32 = 3;

/// RFC 8628 §3.5: each `slow_down` adds 5 seconds to the interval.
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// A device code waiting for the user. No `Debug`: the device code redeems the sign-in.
pub struct DeviceAuthorization {
    /// What the user types at `verification_uri`.
    pub user_code: String,
    /// Where the user signs in.
    pub verification_uri: String,
    /// How long the code is valid.
    pub expires_in: Duration,
    /// The time between polls Entra asked for.
    pub interval: Duration,
    /// Entra's own instructions, for whoever prefers them.
    pub message: Option<String>,
    device_code: Secret,
}

/// Entra's answer: v2 says `verification_uri` and writes numbers, v1 says `verification_url`
/// and writes them as strings.
#[derive(Deserialize)]
struct DeviceCodeAnswer {
    user_code: String,
    device_code: String,
    #[serde(alias = "verification_url")]
    verification_uri: String,
    #[serde(default, deserialize_with = "number_or_string")]
    expires_in: Option<u64>,
    #[serde(default, deserialize_with = "number_or_string")]
    interval: Option<u64>,
    #[serde(default)]
    message: Option<String>,
}

/// Asks Entra for a device code for the alerts API (and a refresh token).
pub async fn start(
    http: &reqwest::Client,
    tenant: &TenantConfig,
) -> Result<DeviceAuthorization, LoginError> {
    let (key, value) = audience(tenant);
    let form = [("client_id", tenant.client_id.as_str()), (key, &value)];
    let url = endpoint(tenant, Endpoint::DeviceCode);
    let (status, body) = login::post_form(http, tenant, &url, &form).await?;
    if status != 200 {
        return Err(login::entra_error(tenant, status, &body));
    }
    let answer: DeviceCodeAnswer = serde_json::from_slice(&body).map_err(|e| {
        LoginError::failed(
            tenant,
            format!("the device code endpoint answered 200 but not a device code: {e}"),
        )
    })?;
    Ok(DeviceAuthorization {
        user_code: answer.user_code,
        verification_uri: answer.verification_uri,
        // Entra's device codes live 15 minutes and ask for 5 s between polls; absurd numbers
        // from a broken endpoint must neither overflow the deadline nor stall the login.
        expires_in: Duration::from_secs(answer.expires_in.unwrap_or(900).min(3600)),
        interval: Duration::from_secs(answer.interval.unwrap_or(5).clamp(1, 60)),
        message: answer.message,
        device_code: Secret::new(answer.device_code),
    })
}

/// What one poll found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PollAnswer {
    /// The user has not finished yet.
    Pending,
    /// Polling too fast: wait longer between polls.
    SlowDown,
}

/// Reads a poll's error answer: keep polling, or the end of the login.
pub(crate) fn read_poll_error(
    tenant: &TenantConfig,
    status: u16,
    body: &[u8],
) -> Result<PollAnswer, LoginError> {
    let err = EntraError::parse(body);
    match err.error.as_str() {
        "authorization_pending" => Ok(PollAnswer::Pending),
        "slow_down" => Ok(PollAnswer::SlowDown),
        "expired_token" | "code_expired" => Err(LoginError::failed(
            tenant,
            "the code expired before anyone signed in with it: run the command again and sign in within the time shown",
        )),
        // Declined, and everything else, explained by code.
        _ => Err(login::entra_error(tenant, status, body)),
    }
}

/// Polls until the user has signed in (a refresh token), declined, or the code expired.
/// `on_pending` is called after every "still waiting" answer, for a progress display.
pub async fn poll(
    http: &reqwest::Client,
    tenant: &TenantConfig,
    authorization: &DeviceAuthorization,
    on_pending: &mut dyn FnMut(Duration),
) -> Result<Secret, LoginError> {
    let started = Instant::now();
    let expires = started + authorization.expires_in;
    let mut interval = authorization.interval;
    let url = endpoint(tenant, Endpoint::Token);
    let form = [
        ("grant_type", DEVICE_GRANT),
        ("client_id", tenant.client_id.as_str()),
        ("device_code", authorization.device_code.expose()),
    ];
    let mut failures = 0;
    loop {
        // The first poll too waits an interval: the user cannot have signed in sooner.
        tokio::time::sleep(interval).await;
        if Instant::now() >= expires {
            return Err(LoginError::failed(
                tenant,
                "the code expired before anyone signed in with it: run the command again and sign in within the time shown",
            ));
        }
        // A network blip or an Entra outage must not throw away a sign-in in progress.
        let answer = login::post_form(http, tenant, &url, &form).await;
        let transient = match &answer {
            Err(_) => true,
            Ok((status, _)) => *status >= 500,
        };
        if transient && failures < MAX_TRANSIENT_FAILURES {
            failures += 1;
            continue;
        }
        let (status, body) = answer?;
        if transient {
            return Err(LoginError::failed(
                tenant,
                format!(
                    "Entra's token endpoint kept failing ({}); try again later",
                    EntraError::parse(&body).summary(status)
                ),
            ));
        }
        failures = 0;
        if status == 200 {
            return login::refresh_token_of(tenant, &body);
        }
        match read_poll_error(tenant, status, &body)? {
            PollAnswer::Pending => on_pending(started.elapsed()),
            PollAnswer::SlowDown => interval += SLOW_DOWN_STEP,
        }
    }
}
