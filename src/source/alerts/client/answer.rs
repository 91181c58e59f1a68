//! What an answer to a page call comes to: a page (its body read within `max_page_bytes`, into
//! the page budget), a call to make again, a failure worth a retry, or an error no retry cures.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Deserialize;

use super::{AlertsClient, MAX_PAGE_RESERVE, MAX_THROTTLED, Page, PageRetry};
use crate::http::{self, describe_reqwest};
use crate::reader::{self, NotAPage};
use crate::secret::Secret;
use crate::source::FetchError;
use crate::source::config::AlertsApi;
use crate::telemetry::ApiOutcome;

impl AlertsClient {
    /// The body of a 200 answer, read into a page buffer of the budget when there is one: the
    /// chunks are copied as they arrive rather than collected and then copied whole. A body
    /// longer than `max_page_bytes` is not read further.
    pub(super) async fn read_body(
        &self,
        mut response: reqwest::Response,
    ) -> Result<Body, reqwest::Error> {
        let limit = self.tenant.max_page_bytes;
        let announced = response.content_length();
        if let Some(len) = announced
            && len > limit as u64
        {
            return Ok(Body::TooLarge { announced });
        }
        // The lease is taken now, as the body arrives, not before the call: waiting for the
        // answer (or for this tenant's rate limit) must not keep other tenants' pages out.
        let lease = match &self.page_budget {
            Some(budget) => Some(budget.lease().await),
            None => None,
        };
        let mut body = match &self.page_budget {
            Some(budget) => budget.buffer(),
            None => Vec::new(),
        };
        if let Some(len) = announced {
            // Trust the announced length only up to what a page can be.
            body.reserve_exact(usize::try_from(len).unwrap_or(0).min(MAX_PAGE_RESERVE));
        }
        if http::read_limited(&mut response, limit, &mut body).await? {
            Ok(Body::Page(Page {
                bytes: body,
                top: 0,
                lease,
            }))
        } else {
            Ok(Body::TooLarge { announced })
        }
    }

    /// What an answer to a page call comes to: a page, a call to make again now, a failure to
    /// retry after a backoff, or an error that retrying would not cure.
    pub(super) async fn page_answer(
        &self,
        response: reqwest::Response,
        token: &Secret,
        retry: &mut PageRetry,
    ) -> Result<Call, FetchError> {
        let tenant = &self.tenant.name;
        let status = response.status().as_u16();
        self.outcomes.record(ApiOutcome::of_status(status));
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        match status {
            200 if !is_json(&response) => Ok(Call::Failed(not_json(response).await)),
            200 => self.page_body(response, retry).await,
            429 => {
                retry.throttled += 1;
                self.stats.throttled.fetch_add(1, Ordering::Relaxed);
                let wait = Duration::from_secs(retry_after.unwrap_or(60).max(1));
                if retry.throttled > MAX_THROTTLED {
                    return Err(self.unavailable(
                        retry.attempts + retry.throttled,
                        "throttled (429) throughout".into(),
                    ));
                }
                tracing::warn!(tenant = %tenant, "throttled by the alerts API (429); waiting {}s as Retry-After asks", wait.as_secs());
                self.limiter.pause(wait).await;
                self.waiting
                    .set("throttled (429)", tokio::time::Instant::now() + wait);
                Ok(Call::Again)
            }
            401 if !retry.renewed_token => {
                retry.renewed_token = true;
                self.tokens.invalidate(token).await;
                Ok(Call::Again)
            }
            401 => Err(FetchError::Rejected {
                tenant: tenant.clone(),
                status,
                message: format!(
                    "a new token was refused too: {}",
                    error_message(response).await
                ),
            }),
            403 => Err(FetchError::Forbidden {
                tenant: tenant.clone(),
                message: error_message(response).await,
                fix: match self.tenant.api {
                    AlertsApi::Mde => {
                        "the customer's admin must allow the app in the Defender portal (Settings > Endpoints > APIs > SIEM) and the app needs Alert.Read.All on WindowsDefenderATP"
                    }
                    // GDAP roles let a partner's people in, not a partner's app.
                    AlertsApi::Graph { .. } => {
                        "the app needs the application permission SecurityAlert.Read.All on Microsoft Graph, with admin consent in the customer's tenant (siemfwd auth consent-url); GDAP roles alone do not grant it to an app"
                    }
                },
            }),
            s if s >= 500 => Ok(Call::Failed(format!(
                "HTTP {s}: {}",
                error_message(response).await
            ))),
            s => Err(FetchError::Rejected {
                tenant: tenant.clone(),
                status: s,
                message: error_message(response).await,
            }),
        }
    }

    /// The body of a 200 JSON answer. Over `max_page_bytes`, the page is asked for again with
    /// fewer alerts: in proportion when the size was announced, else by half, until it fits.
    async fn page_body(
        &self,
        response: reqwest::Response,
        retry: &mut PageRetry,
    ) -> Result<Call, FetchError> {
        match self.read_body(response).await {
            Ok(Body::Page(page)) => {
                self.stats.pages.fetch_add(1, Ordering::Relaxed);
                Ok(Call::Page(page))
            }
            Ok(Body::TooLarge { announced }) => {
                let limit = self.tenant.max_page_bytes;
                let top = retry.top;
                if top == 1 {
                    return Err(FetchError::TooLarge {
                        tenant: self.tenant.name.clone(),
                        limit,
                    });
                }
                retry.top = match announced {
                    Some(len) => (u64::from(top) * limit as u64 / len.max(1) * 9 / 10)
                        .clamp(1, u64::from(top / 2).max(1))
                        as u32,
                    None => (top / 2).max(1),
                };
                tracing::warn!(tenant = %self.tenant.name, "alerts API: a page of more than max_page_bytes ({limit} bytes); asking again with $top={}", retry.top);
                Ok(Call::Again)
            }
            Err(e) => {
                if e.is_timeout() && retry.top > 1 {
                    retry.top = (retry.top / 2).max(1);
                }
                Ok(Call::Failed(format!(
                    "the page broke off: {}",
                    describe_reqwest(&e)
                )))
            }
        }
    }
}

/// What one call for a page came to.
pub(super) enum Call {
    Page(Page),
    /// Call again now: with fewer alerts, a new token, or after a 429's wait.
    Again,
    /// Worth retrying after a backoff; what to report.
    Failed(String),
}

/// The API's message in an error answer.
async fn error_message(response: reqwest::Response) -> String {
    api_error(&http::small_body(response).await.unwrap_or_default())
}

/// A 200 answer that is not JSON: a proxy's login or error page, most likely. Only its start
/// is read, and quoted.
async fn not_json(mut response: reqwest::Response) -> String {
    let what = format!(
        "Content-Type {}, not JSON (a proxy's login or error page in the way?)",
        content_type(&response)
    );
    let mut head = Vec::new();
    let _ = http::read_limited(&mut response, 1024, &mut head).await;
    format!("it answered 200 with {}", NotAPage::from_body(&head, what))
}

/// A 200 answer's body as read.
pub(super) enum Body {
    Page(Page),
    /// Over `max_page_bytes`; the length if it was announced.
    TooLarge {
        announced: Option<u64>,
    },
}

/// Whether an answer says it is JSON (`application/json; odata.metadata=...`).
fn is_json(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let essence = v.split(';').next().unwrap_or_default().trim();
            essence.eq_ignore_ascii_case("application/json")
                || essence.to_ascii_lowercase().ends_with("+json")
        })
}

fn content_type(response: &reqwest::Response) -> String {
    match response.headers().get(reqwest::header::CONTENT_TYPE) {
        Some(v) => format!("`{}`", String::from_utf8_lossy(v.as_bytes()).escape_debug()),
        None => "missing".to_owned(),
    }
}

/// The message of the API's `{"error": {"code", "message"}}`, or the start of the body.
fn api_error(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Wrapper {
        error: Inner,
    }
    #[derive(Deserialize)]
    struct Inner {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    match serde_json::from_slice::<Wrapper>(body) {
        Ok(w) => format!("{}: {}", w.error.code, w.error.message),
        Err(_) => reader::quote_start(body),
    }
}
