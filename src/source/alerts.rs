//! The MDE alerts API: one page with retries ([`AlertsClient::get_page`]), and every alert of a
//! time window ([`WindowFetch`]), paged by `$skip` because `@odata.nextLink` does not come with
//! `$top`.
//!
//! A window is `lastUpdateTime ge FROM and lastUpdateTime lt TO`. Its pages are checked against
//! each other: each page after the first starts one item early, and that item must be the last
//! one of the previous page. Alerts change while they are paged (an update moves an alert out
//! of the window, so everything after it shifts); a broken seam restarts the window, and alerts
//! already handed out are not handed out again. A window with more alerts than one query
//! should page through (10,000) is split in two by time, as often as needed.

use std::collections::HashSet;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Deserialize;

use super::config::TenantConfig;
use super::http::HttpSetupError;
use super::limiter::RateLimiter;
use super::page_budget::{PageBudget, PageLease};
use crate::alert::Timestamp;
use crate::backoff::Backoff;
use crate::entra::{AuthError, TokenProvider};
use crate::http::{self, describe_reqwest};
use crate::reader::{self, Item, NotAPage, PageError};
use crate::secret::Secret;

/// No window is paged beyond this many results: `$top` is at most 10,000 and nothing promises
/// that `$skip` goes further (Graph's successor API stalls on deep `$skip`).
pub const MAX_RESULTS_PER_QUERY: u32 = 10_000;
/// Retries of one page after network errors, timeouts and 5xx.
const MAX_ATTEMPTS: u32 = 6;
/// The most of an announced Content-Length reserved up front (a page of 10,000 large alerts).
const MAX_PAGE_RESERVE: usize = 64 << 20;
/// 429s in a row for one page before giving up on it for this poll.
const MAX_THROTTLED: u32 = 20;
/// Seam breaks before a window is split instead of restarted.
const MAX_RESTARTS: u32 = 3;

/// Fetching failed for a reason the caller should report (and usually retry next poll).
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    #[error("{0}")]
    Auth(#[from] AuthError),
    #[error(
        "tenant \"{tenant}\": the alerts API refused access (HTTP 403: {message}): the customer's admin must allow the app in the Defender portal (Settings > Endpoints > APIs > SIEM) and the app needs Alert.Read.All on WindowsDefenderATP"
    )]
    Forbidden { tenant: String, message: String },
    #[error("tenant \"{tenant}\": the alerts API rejected the request (HTTP {status}: {message})")]
    Rejected {
        tenant: String,
        status: u16,
        message: String,
    },
    #[error("tenant \"{tenant}\": the alerts API is unavailable after {attempts} attempts: {last}")]
    Unavailable {
        tenant: String,
        attempts: u32,
        last: String,
    },
    #[error(
        "tenant \"{tenant}\": a single alert is larger than max_page_bytes ({limit} bytes): raise max_page_bytes for this tenant"
    )]
    TooLarge { tenant: String, limit: usize },
    #[error(
        "tenant \"{tenant}\": more than {limit} alerts changed within {from} .. {to}, too close together to split the window further"
    )]
    TooDense {
        tenant: String,
        limit: u32,
        from: Timestamp,
        to: Timestamp,
    },
}

/// Counters of one tenant's client since it started.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ClientStats {
    pub calls: u64,
    pub throttled: u64,
    pub retries: u64,
    pub pages: u64,
}

#[derive(Debug, Default)]
struct SharedStats {
    calls: AtomicU64,
    throttled: AtomicU64,
    retries: AtomicU64,
    pages: AtomicU64,
}

/// One call to make: a window, a position and a page size.
#[derive(Debug, Clone, Copy)]
pub struct PageQuery {
    pub from: Timestamp,
    pub to: Timestamp,
    pub skip: u32,
    pub top: u32,
}

/// The API of one tenant.
pub struct AlertsClient {
    tenant: Arc<TenantConfig>,
    http: reqwest::Client,
    tokens: Arc<TokenProvider>,
    limiter: Arc<RateLimiter>,
    stats: SharedStats,
    /// Pages held at once across the tenants that share it (a page of 10,000 alerts is ~45 MB).
    page_budget: Option<Arc<PageBudget>>,
    /// Results one query may reach (`$skip` + `$top`): [`MAX_RESULTS_PER_QUERY`] on the service.
    max_results: u32,
}

impl AlertsClient {
    pub fn new(
        tenant: Arc<TenantConfig>,
        state_dir: &Path,
    ) -> Result<AlertsClient, HttpSetupError> {
        let http = super::http::client(&tenant)?;
        Ok(Self::with_http(tenant, http, state_dir))
    }

    /// A client over an HTTP client shared with other tenants (see [`super::http::ClientCache`]).
    pub fn with_http(
        tenant: Arc<TenantConfig>,
        http: reqwest::Client,
        state_dir: &Path,
    ) -> AlertsClient {
        let tokens = Arc::new(TokenProvider::new(tenant.entra(), http.clone(), state_dir));
        let limiter = Arc::new(RateLimiter::new(tenant.limits));
        AlertsClient {
            tenant,
            http,
            tokens,
            limiter,
            stats: SharedStats::default(),
            page_budget: None,
            max_results: MAX_RESULTS_PER_QUERY,
        }
    }

    /// Pages no window beyond `n` results (at least 1) instead of [`MAX_RESULTS_PER_QUERY`]: for
    /// an API with a lower cap, such as a simulator set so that a few hundred alerts make a
    /// window split.
    pub fn set_max_results_per_query(&mut self, n: u32) {
        self.max_results = n.max(1);
    }

    /// Shares a limit on the pages held at once with other tenants' clients: memory stays
    /// bounded however many tenants fetch at the same time.
    pub fn share_page_budget(&mut self, budget: Arc<PageBudget>) {
        self.page_budget = Some(budget);
    }

    pub fn tenant(&self) -> &TenantConfig {
        &self.tenant
    }

    pub fn tokens(&self) -> &TokenProvider {
        &self.tokens
    }

    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
    }

    pub fn stats(&self) -> ClientStats {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ClientStats {
            calls: get(&self.stats.calls),
            throttled: get(&self.stats.throttled),
            retries: get(&self.stats.retries),
            pages: get(&self.stats.pages),
        }
    }

    /// Every alert version with lastUpdateTime in [from, to), page by page.
    pub fn window(&self, from: Timestamp, to: Timestamp) -> WindowFetch<'_> {
        WindowFetch {
            client: self,
            pending: vec![(from, to)],
            cursor: None,
            unread: None,
            seen: HashSet::new(),
            hasher: RandomState::new(),
            stats: WindowStats::default(),
            not_a_page: None,
            bad_answers: 0,
            backoff: Backoff::new(Duration::from_secs(1), Duration::from_secs(60)),
        }
    }

    fn url(&self) -> String {
        format!(
            "{}/api/alerts",
            self.tenant.api_url.as_str().trim_end_matches('/')
        )
    }

    /// The body of a 200 answer, read into a page buffer of the budget when there is one: the
    /// chunks are copied as they arrive rather than collected and then copied whole. A body
    /// longer than `max_page_bytes` is not read further.
    async fn read_body(&self, mut response: reqwest::Response) -> Result<Body, reqwest::Error> {
        let limit = self.tenant.max_page_bytes;
        let announced = response.content_length();
        if let Some(len) = announced
            && len > limit as u64
        {
            return Ok(Body::TooLarge { announced });
        }
        let mut body = match &self.page_budget {
            Some(budget) => budget.buffer(),
            None => Vec::new(),
        };
        if let Some(len) = announced {
            // Trust the announced length only up to what a page can be.
            body.reserve_exact(usize::try_from(len).unwrap_or(0).min(MAX_PAGE_RESERVE));
        }
        if http::read_limited(&mut response, limit, &mut body).await? {
            Ok(Body::Page(body))
        } else {
            Ok(Body::TooLarge { announced })
        }
    }

    /// One page, retried through network errors, timeouts, 5xx and 429 (honouring
    /// Retry-After), within the rate limits. A timeout retries with half the page size; the
    /// page size used comes back with the body.
    pub async fn get_page(&self, query: PageQuery) -> Result<(Vec<u8>, u32), FetchError> {
        let mut retry = PageRetry {
            top: query.top.clamp(1, self.max_results),
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
            self.stats.calls.fetch_add(1, Ordering::Relaxed);
            let failure = match self.page_request(query, retry.top, &token).send().await {
                Err(e) => {
                    if e.is_timeout() && retry.top > 1 {
                        retry.top = (retry.top / 2).max(1);
                        format!("the request timed out; retrying with $top={}", retry.top)
                    } else {
                        describe_reqwest(&e)
                    }
                }
                Ok(response) => match self.page_answer(response, &token, &mut retry).await? {
                    Call::Page(body) => return Ok((body, retry.top)),
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
            tokio::time::sleep(wait).await;
        }
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
        match self.tokens.access_token().await {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.is_transient() && retry.attempts + 1 < MAX_ATTEMPTS => {
                retry.attempts += 1;
                let wait = e.retry_after.unwrap_or_else(|| retry.backoff.next_wait());
                tracing::warn!(tenant = %self.tenant.name, "{e}; retrying in {}s", wait.as_secs_f32().ceil());
                tokio::time::sleep(wait).await;
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The call for `top` alerts of `query`'s window from its `skip`.
    fn page_request(&self, query: PageQuery, top: u32, token: &Secret) -> reqwest::RequestBuilder {
        let filter = format!(
            "lastUpdateTime ge {} and lastUpdateTime lt {}",
            odata_time(query.from),
            odata_time(query.to)
        );
        self.http
            .get(self.url())
            .bearer_auth(token.expose())
            .query(&[
                ("$filter", filter.as_str()),
                ("$expand", "evidence"),
                ("$top", &top.to_string()),
                ("$skip", &query.skip.to_string()),
            ])
    }

    /// What an answer to a page call comes to: a page, a call to make again now, a failure to
    /// retry after a backoff, or an error that retrying would not cure.
    async fn page_answer(
        &self,
        response: reqwest::Response,
        token: &Secret,
        retry: &mut PageRetry,
    ) -> Result<Call, FetchError> {
        let tenant = &self.tenant.name;
        let status = response.status().as_u16();
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
            Ok(Body::Page(body)) => {
                self.stats.pages.fetch_add(1, Ordering::Relaxed);
                Ok(Call::Page(body))
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

/// What one call for a page came to.
enum Call {
    Page(Vec<u8>),
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
enum Body {
    Page(Vec<u8>),
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

/// A time as the OData filter takes it: unquoted, UTC, 7 fraction digits (the API's precision).
fn odata_time(t: Timestamp) -> String {
    let mut s = String::with_capacity(28);
    t.write_rfc3339(7, &mut s);
    s
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

/// What a window took.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WindowStats {
    pub pages: u32,
    /// Alerts handed to the caller (each version once).
    pub alerts: u64,
    pub malformed: u64,
    /// Alerts seen again (seam items, restarts, splits) and not handed out twice.
    pub repeats: u64,
    pub splits: u32,
    pub restarts: u32,
    /// 200 answers that were not pages (fetched again).
    pub not_pages: u32,
}

#[derive(Debug, Clone)]
struct Cursor {
    from: Timestamp,
    to: Timestamp,
    /// Items of the window consumed so far.
    skip: u32,
    /// The last item of the previous page, which the next page must start with.
    seam: Option<u64>,
    restarts: u32,
    /// Paged without the seam check: a window too small to split that keeps changing.
    unchecked: bool,
}

/// A page as received, to be read with [`WindowFetch::read`].
pub struct AlertPage {
    pub bytes: Vec<u8>,
    /// Released, with the buffer, when the page is dropped.
    lease: Option<PageLease>,
    /// Items asked for (after any shrinking).
    requested: u32,
    /// Whether the first item repeats the previous page's last.
    overlaps: bool,
}

impl Drop for AlertPage {
    fn drop(&mut self) {
        if let Some(lease) = &self.lease {
            lease.give_back(std::mem::take(&mut self.bytes));
        }
    }
}

/// Reading every alert of one window. Call [`Self::next_page`], then [`Self::read`] on the
/// page, until `next_page` returns `None`; the caller may await between pages (to send them).
pub struct WindowFetch<'c> {
    client: &'c AlertsClient,
    /// Windows still to fetch; the last is next.
    pending: Vec<(Timestamp, Timestamp)>,
    cursor: Option<Cursor>,
    /// The page returned last, until it is read.
    unread: Option<(u32, bool)>,
    seen: HashSet<u64>,
    hasher: RandomState,
    pub stats: WindowStats,
    /// The last page read was not a page: it is fetched again, after a backoff.
    not_a_page: Option<NotAPage>,
    /// Answers in a row that were not pages.
    bad_answers: u32,
    backoff: Backoff,
}

/// What a read page said about the window's progress.
struct PageOutcome {
    items: u32,
    seam_held: bool,
    last: Option<u64>,
}

impl WindowFetch<'_> {
    pub async fn next_page(&mut self) -> Result<Option<AlertPage>, FetchError> {
        assert!(
            self.unread.is_none(),
            "WindowFetch::read must be called on every page before the next"
        );
        if let Some(bad) = self.not_a_page.take() {
            // Retried like a 5xx: the window is not delivered until a good page comes.
            self.bad_answers += 1;
            self.stats.not_pages += 1;
            let last = format!("it answered 200 with {bad}");
            if self.bad_answers >= MAX_ATTEMPTS {
                return Err(FetchError::Unavailable {
                    tenant: self.client.tenant.name.clone(),
                    attempts: self.bad_answers,
                    last,
                });
            }
            let wait = self.backoff.next_wait();
            tracing::warn!(tenant = %self.client.tenant.name, "alerts API: {last}; fetching the page again in {:.1}s", wait.as_secs_f32());
            tokio::time::sleep(wait).await;
        }
        loop {
            let Some(cursor) = self.cursor.clone() else {
                let Some((from, to)) = self.pending.pop() else {
                    return Ok(None);
                };
                self.cursor = Some(Cursor {
                    from,
                    to,
                    skip: 0,
                    seam: None,
                    restarts: 0,
                    unchecked: false,
                });
                continue;
            };
            let page_size = self.client.tenant.page_size;
            let overlaps = cursor.seam.is_some() && cursor.skip > 0 && !cursor.unchecked;
            let skip = cursor.skip - u32::from(overlaps);
            let cap = self.client.max_results;
            let top = (page_size + u32::from(overlaps)).min(cap);
            if skip > 0 && skip + top > cap {
                self.split(&cursor)?;
                continue;
            }
            let query = PageQuery {
                from: cursor.from,
                to: cursor.to,
                skip,
                top,
            };
            let lease = match &self.client.page_budget {
                Some(budget) => Some(budget.lease().await),
                None => None,
            };
            let (bytes, requested) = self.client.get_page(query).await?;
            self.stats.pages += 1;
            self.unread = Some((requested, overlaps));
            return Ok(Some(AlertPage {
                lease,
                bytes,
                requested,
                overlaps,
            }));
        }
    }

    /// Splits the current window in two by time; the earlier half is fetched first.
    fn split(&mut self, cursor: &Cursor) -> Result<(), FetchError> {
        let (a, b) = (cursor.from.unix_nanos(), cursor.to.unix_nanos());
        // 100 ns is the API's precision: below it there is nothing to split.
        if b - a < 200 {
            return Err(FetchError::TooDense {
                tenant: self.client.tenant.name.clone(),
                limit: self.client.max_results,
                from: cursor.from,
                to: cursor.to,
            });
        }
        let mid = Timestamp::from_unix_nanos(a + (b - a) / 200 * 100, 7);
        self.pending.push((mid, cursor.to));
        self.pending.push((cursor.from, mid));
        self.cursor = None;
        self.stats.splits += 1;
        tracing::debug!(tenant = %self.client.tenant.name, "window {} .. {} split at {mid}", cursor.from, cursor.to);
        Ok(())
    }

    fn key(&self, id: &str, last_update: Option<Timestamp>) -> u64 {
        let mut h = self.hasher.build_hasher();
        id.hash(&mut h);
        last_update.map(Timestamp::unix_nanos).hash(&mut h);
        h.finish()
    }

    /// Parses `page` and hands each alert version not handed out before in this window (and
    /// each malformed alert, with its position) to `sink`.
    pub fn read<E>(
        &mut self,
        page: &AlertPage,
        want_raw: bool,
        mut sink: impl FnMut(Item<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.unread = None;
        let expected_seam = if page.overlaps {
            self.cursor.as_ref().and_then(|c| c.seam)
        } else {
            None
        };
        let mut outcome = PageOutcome {
            items: 0,
            seam_held: expected_seam.is_none(),
            last: None,
        };
        let result = reader::read_page(&page.bytes, want_raw, |item| {
            let first = outcome.items == 0;
            outcome.items += 1;
            let key = match &item {
                Item::Alert(a) => a
                    .alert
                    .id()
                    .map(|id| self.key(id, a.alert.last_update_time)),
                Item::Malformed(_) => None,
            };
            outcome.last = key;
            if first && page.overlaps {
                outcome.seam_held = key.is_some() && key == expected_seam;
                if outcome.seam_held {
                    return Ok(());
                }
            }
            if let Some(k) = key
                && !self.seen.insert(k)
            {
                self.stats.repeats += 1;
                return Ok(());
            }
            match &item {
                Item::Alert(_) => self.stats.alerts += 1,
                Item::Malformed(_) => self.stats.malformed += 1,
            }
            sink(item)
        });
        match result {
            Ok(()) => {
                self.bad_answers = 0;
                self.advance(page, outcome);
                Ok(())
            }
            Err(PageError::Stopped(e)) => {
                self.advance(page, outcome);
                Err(e)
            }
            // The cursor stays: the same page is asked for again. Alerts the typed pass handed
            // out before the damage was found are in `seen` and are not handed out twice.
            Err(PageError::NotAPage(bad)) => {
                self.not_a_page = Some(bad);
                Ok(())
            }
        }
    }

    fn advance(&mut self, page: &AlertPage, outcome: PageOutcome) {
        let Some(cursor) = self.cursor.as_mut() else {
            return;
        };
        if !outcome.seam_held {
            // Something shifted under the pages: page the window again from its start.
            cursor.restarts += 1;
            self.stats.restarts += 1;
            tracing::debug!(tenant = %self.client.tenant.name, "alerts moved while paging {} .. {}; restarting the window", cursor.from, cursor.to);
            if cursor.restarts > MAX_RESTARTS {
                let c = cursor.clone();
                // Smaller windows change less while they are paged. A window too small to
                // split is paged once more without the seam check rather than given up.
                if self.split(&c).is_err()
                    && let Some(cursor) = self.cursor.as_mut()
                {
                    tracing::warn!(tenant = %self.client.tenant.name, "alerts keep changing within {} .. {}; paging it once more without the consistency check (an alert moved meanwhile is caught by the next poll's overlap)", c.from, c.to);
                    cursor.unchecked = true;
                    cursor.skip = 0;
                    cursor.seam = None;
                }
                return;
            }
            cursor.skip = 0;
            cursor.seam = None;
            return;
        }
        let new_items = outcome.items - u32::from(page.overlaps);
        cursor.skip += new_items;
        cursor.seam = outcome.last;
        if outcome.items < page.requested {
            // A short page is the window's last.
            self.cursor = None;
        }
    }
}
