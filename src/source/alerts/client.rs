//! [`AlertsClient`]: one tenant's alerts API, one page at a time, with retries, throttling,
//! token renewal and the page size cut to fit `max_page_bytes`.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

mod answer;

use answer::Call;

use super::hedge::{self, AnswerTime};
use super::{FetchError, MAX_ATTEMPTS, MAX_PAGE_RESERVE, MAX_RESULTS_PER_QUERY, MAX_THROTTLED};
use crate::alert::Timestamp;
use crate::backoff::Backoff;
use crate::entra::TokenProvider;
use crate::http::describe_reqwest;
use crate::secret::Secret;
use crate::source::config::{AlertsApi, TenantConfig};
use crate::source::http::HttpSetupError;
use crate::source::limiter::RateLimiter;
use crate::source::page_budget::{PageBudget, PageLease};
use crate::telemetry::{ApiOutcome, ApiOutcomes};

/// Counters of one tenant's client since it started.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ClientStats {
    /// Calls made to the alerts API (each retry and each 429 counts).
    pub calls: u64,
    /// Answers that were 429 (throttled by the API).
    pub throttled: u64,
    /// Calls made again after a network error, timeout, 5xx or broken body.
    pub retries: u64,
    /// Pages received whole.
    pub pages: u64,
    /// Calls sent a second time because the first was slow to answer (each counted in
    /// `calls` too).
    pub hedged: u64,
}

#[derive(Debug, Default)]
struct SharedStats {
    calls: AtomicU64,
    throttled: AtomicU64,
    retries: AtomicU64,
    pages: AtomicU64,
    hedged: AtomicU64,
}

/// One call to make: a window, a position and a page size.
#[derive(Debug, Clone, Copy)]
pub struct PageQuery {
    /// Start of the window, `lastUpdateTime ge from`.
    pub from: Timestamp,
    /// End of the window, `lastUpdateTime lt to`.
    pub to: Timestamp,
    /// Alerts of the window to pass over (`$skip`).
    pub skip: u32,
    /// Alerts to ask for (`$top`); clamped to 1 ..= the client's results per query, and
    /// lowered by the client after timeouts and pages over `max_page_bytes`.
    pub top: u32,
}

/// What a client is waiting for, if anything, and until when: for progress displays
/// ("tenant-01: throttled (429), resuming in 24 s").
#[derive(Debug, Default)]
pub struct WaitStatus(std::sync::Mutex<Option<(&'static str, tokio::time::Instant)>>);

impl WaitStatus {
    /// Waiting for `why` until `until`.
    pub fn set(&self, why: &'static str, until: tokio::time::Instant) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((why, until));
    }

    /// Not waiting (any more).
    pub fn clear(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Why it waits and how much longer, while it does.
    pub fn get(&self) -> Option<(&'static str, Duration)> {
        let now = tokio::time::Instant::now();
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .filter(|(_, until)| *until > now)
            .map(|(why, until)| (why, until - now))
    }
}

/// The API of one tenant.
pub struct AlertsClient {
    pub(super) tenant: Arc<TenantConfig>,
    http: reqwest::Client,
    tokens: Arc<TokenProvider>,
    limiter: Arc<RateLimiter>,
    stats: SharedStats,
    /// Pages held at once across the tenants that share it (a page of 10,000 alerts is ~45 MB).
    pub(super) page_budget: Option<Arc<PageBudget>>,
    /// Results one query may reach (`$skip` + `$top`): [`MAX_RESULTS_PER_QUERY`] on the service.
    pub(super) max_results: u32,
    /// What it waits for now, if anything.
    waiting: Arc<WaitStatus>,
    /// How long its API usually takes to answer: when to send a slow call again.
    answer_time: AnswerTime,
    /// Its calls by outcome, for the metrics.
    outcomes: Arc<ApiOutcomes>,
}

impl AlertsClient {
    /// A client with an HTTP client of its own, built from the tenant's `proxy`, `ca_file`
    /// and `request_timeout`. Refresh tokens (`auth = "refresh_token"`) are kept in
    /// `state_dir/tokens/`.
    pub fn new(
        tenant: Arc<TenantConfig>,
        state_dir: &Path,
    ) -> Result<AlertsClient, HttpSetupError> {
        let http = crate::source::http::client(&tenant)?;
        Ok(Self::with_http(tenant, http, state_dir))
    }

    /// A client over an HTTP client shared with other tenants (see [`crate::source::http::ClientCache`]).
    pub fn with_http(
        tenant: Arc<TenantConfig>,
        http: reqwest::Client,
        state_dir: &Path,
    ) -> AlertsClient {
        let tokens = Arc::new(TokenProvider::new(
            tenant.entra().clone(),
            http.clone(),
            state_dir,
        ));
        let limiter = Arc::new(RateLimiter::new(tenant.limits));
        AlertsClient {
            tenant,
            http,
            tokens,
            limiter,
            stats: SharedStats::default(),
            page_budget: None,
            max_results: MAX_RESULTS_PER_QUERY,
            waiting: Arc::default(),
            answer_time: AnswerTime::default(),
            outcomes: Arc::default(),
        }
    }

    /// Pages no window beyond `n` results (at least 1) instead of [`MAX_RESULTS_PER_QUERY`]: for
    /// an API with a lower cap, such as a simulator set so that a few hundred alerts make a
    /// window split.
    pub fn set_max_results_per_query(&mut self, n: u32) {
        self.max_results = n.max(1);
    }

    /// Results one query may reach ([`MAX_RESULTS_PER_QUERY`] unless set lower).
    pub fn max_results_per_query(&self) -> u32 {
        self.max_results
    }

    /// Counts its calls by outcome in `outcomes` (the tenant's status, for the metrics).
    pub fn count_outcomes_in(&mut self, outcomes: Arc<ApiOutcomes>) {
        self.outcomes = outcomes;
    }

    /// Shares a limit on the pages held at once with other tenants' clients: memory stays
    /// bounded however many tenants fetch at the same time.
    pub fn share_page_budget(&mut self, budget: Arc<PageBudget>) {
        self.page_budget = Some(budget);
    }

    /// The tenant whose alerts it fetches, as configured.
    pub fn tenant(&self) -> &TenantConfig {
        &self.tenant
    }

    /// Where its access tokens come from (Entra ID, cached until shortly before expiry).
    pub fn tokens(&self) -> &TokenProvider {
        &self.tokens
    }

    /// Its calls-per-minute and per-hour limit (`max_calls_per_minute`,
    /// `max_calls_per_hour`), which every call waits on.
    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
    }

    /// What it waits for now (a 429's Retry-After, a backoff, Entra), shared for a display.
    pub fn wait_status(&self) -> Arc<WaitStatus> {
        self.waiting.clone()
    }

    /// Its counters since it was made.
    pub fn stats(&self) -> ClientStats {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ClientStats {
            calls: get(&self.stats.calls),
            throttled: get(&self.stats.throttled),
            retries: get(&self.stats.retries),
            pages: get(&self.stats.pages),
            hedged: get(&self.stats.hedged),
        }
    }

    fn url(&self) -> String {
        let path = match self.tenant.api {
            AlertsApi::Mde => "/api/alerts",
            AlertsApi::Graph { .. } => "/v1.0/security/alerts_v2",
        };
        format!(
            "{}{path}",
            self.tenant.api_url.as_str().trim_end_matches('/')
        )
    }

    /// One page, retried through network errors, timeouts, 5xx and 429 (honouring
    /// Retry-After), within the rate limits. A timeout retries with half the page size; the
    /// page size used comes back with the body.
    pub async fn get_page(&self, query: PageQuery) -> Result<Page, FetchError> {
        let mut retry = PageRetry {
            top: query
                .top
                .clamp(1, self.max_results.min(self.tenant.api.max_page_size())),
            attempts: 0,
            throttled: 0,
            renewed_token: false,
            backoff: Backoff::new(Duration::from_secs(1), Duration::from_secs(60)),
        };
        loop {
            let Some(token) = self.page_token(&mut retry).await? else {
                continue;
            };
            self.limiter.acquire().await;
            self.waiting.clear();
            self.stats.calls.fetch_add(1, Ordering::Relaxed);
            let sent = {
                // Held only until the answer's headers: see `page_budget`.
                let _call = match &self.page_budget {
                    Some(budget) => Some(budget.call().await),
                    None => None,
                };
                self.send_hedged(query, retry.top, &token).await
            };
            let failure = match sent {
                Err(e) => {
                    self.outcomes.record(ApiOutcome::NetworkError);
                    if e.is_timeout() && retry.top > 1 {
                        retry.top = (retry.top / 2).max(1);
                        format!("the request timed out; retrying with $top={}", retry.top)
                    } else {
                        describe_reqwest(&e)
                    }
                }
                Ok(response) => match self.page_answer(response, &token, &mut retry).await? {
                    Call::Page(page) => {
                        return Ok(Page {
                            top: retry.top,
                            ..page
                        });
                    }
                    Call::Again => continue,
                    Call::Failed(failure) => failure,
                },
            };
            retry.attempts += 1;
            if retry.attempts >= MAX_ATTEMPTS {
                return Err(self.unavailable(retry.attempts, failure));
            }
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            let wait = retry.backoff.next_wait();
            tracing::warn!(tenant = %self.tenant.name, "alerts API: {failure}; retrying in {:.1}s", wait.as_secs_f32());
            self.waiting.set(
                "retrying after an error",
                tokio::time::Instant::now() + wait,
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// The call, sent again if its answer is slow to come (see `hedge`); the answer that comes
    /// first. Both count against the rate limit.
    async fn send_hedged(
        &self,
        query: PageQuery,
        top: u32,
        token: &Secret,
    ) -> reqwest::Result<reqwest::Response> {
        let first = self.page_request(query, top, token).send();
        let after = self.answer_time.hedge_after(self.tenant.request_timeout);
        let (sent, answered) = hedge::hedged(first, after, || async {
            self.limiter.acquire().await;
            self.stats.calls.fetch_add(1, Ordering::Relaxed);
            self.stats.hedged.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(tenant = %self.tenant.name, "alerts API: no answer after {:.1}s; sending the call again", after.as_secs_f32());
            self.page_request(query, top, token).send().await
        })
        .await;
        if sent.is_ok() {
            // Hedged answers too: an API slow for every call is soon waited for, not hedged.
            self.answer_time.record(answered.took());
        }
        sent
    }

    fn unavailable(&self, attempts: u32, last: String) -> FetchError {
        FetchError::Unavailable {
            tenant: self.tenant.name.clone(),
            attempts,
            last,
        }
    }

    /// An access token for the next call; `None` after a transient failure it waited out (the
    /// caller asks again).
    async fn page_token(&self, retry: &mut PageRetry) -> Result<Option<Secret>, FetchError> {
        let token = self.tokens.access_token().await;
        if token.is_err() {
            self.outcomes.record(ApiOutcome::AuthError);
        }
        match token {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.is_transient() && retry.attempts + 1 < MAX_ATTEMPTS => {
                retry.attempts += 1;
                let wait = e.retry_after.unwrap_or_else(|| retry.backoff.next_wait());
                tracing::warn!(tenant = %self.tenant.name, "{e}; retrying in {}s", wait.as_secs_f32().ceil());
                self.waiting
                    .set("waiting for Entra ID", tokio::time::Instant::now() + wait);
                tokio::time::sleep(wait).await;
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The call for `top` alerts of `query`'s window from its `skip`.
    ///
    /// Graph's pages are asked for by `$skip` too, not by following `@odata.nextLink`: each
    /// page after the first starts one alert early to check the seam (`window`), which a
    /// nextLink cannot do, and an alert updated while the window is paged shifts the ones
    /// after it, lost without that check. A nextLink still says that more pages follow.
    fn page_request(&self, query: PageQuery, top: u32, token: &Secret) -> reqwest::RequestBuilder {
        let (from, to) = (odata_time(query.from), odata_time(query.to));
        let request = self.http.get(self.url()).bearer_auth(token.expose());
        let (top, skip) = (top.to_string(), query.skip.to_string());
        match &self.tenant.api {
            AlertsApi::Mde => {
                let filter = format!("lastUpdateTime ge {from} and lastUpdateTime lt {to}");
                request.query(&[
                    ("$filter", filter.as_str()),
                    ("$expand", "evidence"),
                    ("$top", &top),
                    ("$skip", &skip),
                ])
            }
            AlertsApi::Graph { service_sources } => {
                let mut filter =
                    format!("lastUpdateDateTime ge {from} and lastUpdateDateTime lt {to}");
                if !service_sources.is_empty() {
                    let any: Vec<String> = service_sources
                        .iter()
                        .map(|s| format!("serviceSource eq '{s}'"))
                        .collect();
                    filter = format!("{filter} and ({})", any.join(" or "));
                }
                let request = request
                    // Without it, enum members newer than the API's first version read
                    // `unknownFutureValue`: a determination or a product lost to the SIEM.
                    .header("Prefer", "include-unknown-enum-members")
                    .query(&[
                        ("$filter", filter.as_str()),
                        ("$top", &top),
                        ("$skip", &skip),
                    ]);
                // The window's count, with its first page: deep `$skip` has been seen to end a
                // Graph query early, and the window checks what it paged against the count.
                if query.skip == 0 {
                    request.query(&[("$count", "true")])
                } else {
                    request
                }
            }
        }
    }
}

/// One page of alerts as the API sent it.
pub struct Page {
    /// The answer's body: JSON, not yet read.
    pub bytes: Vec<u8>,
    /// Alerts asked for (`$top`), after any shrinking.
    pub top: u32,
    /// The page's place in the shared budget, when there is one: held as long as the page.
    pub(crate) lease: Option<PageLease>,
}

/// Where the retries of one page stand.
struct PageRetry {
    /// Alerts asked for: lowered after timeouts and pages over `max_page_bytes`.
    top: u32,
    /// Failed calls (and token requests) so far.
    attempts: u32,
    /// 429s so far.
    throttled: u32,
    /// A 401 was answered with a new token once already.
    renewed_token: bool,
    backoff: Backoff,
}

/// A time as the OData filter takes it: unquoted, UTC, 7 fraction digits (the API's precision).
fn odata_time(t: Timestamp) -> String {
    let mut s = String::with_capacity(28);
    t.write_rfc3339(7, &mut s);
    s
}
