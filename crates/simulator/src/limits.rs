//! The alerts API's call quotas per app per tenant (docs/alerts-api.md: 100 per minute, 1500 per
//! hour), with `Retry-After` and a penalty for clients that retry before it; Microsoft Graph's
//! `alerts_v2` has a quota of its own (150 per minute per app per tenant), kept the same way.
//!
//! Every decision uses `tokio::time::Instant`, so tests can run the limiter under paused time.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::graph_query::GRAPH_MAX_TOP;
use super::odata::MAX_TOP;

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

/// Quotas of the alerts API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Calls per sliding minute per app per tenant.
    pub per_minute: u32,
    /// Calls per sliding hour per app per tenant.
    pub per_hour: u32,
    /// A call made while throttled (before the `Retry-After` it was given) extends the throttle
    /// by this much: retrying early keeps the client throttled longer.
    pub early_retry_penalty: Duration,
    /// `$skip` at or beyond this answers 400, like backends that cap deep paging; `None` (the
    /// default) means no cap. Lets tests exercise splitting a big window by time.
    pub skip_limit: Option<u64>,
    /// The largest `$top`: 10000 on the service, and so the most results one query returns.
    /// With `skip_limit` at the same value, a client must split a window holding more by time;
    /// a lower cap lets tests see that with a few hundred alerts instead of tens of thousands.
    pub max_top: u64,
    /// Alerts per page when `$top` is not given, followed by `@odata.nextLink`: 10000 as on the
    /// service; smaller values let tests follow next links without generating 10000 alerts.
    pub page_size: u64,
    /// Graph `alerts_v2` calls per sliding minute per app per tenant (150, the documented limit
    /// for security alerts), counted apart from the alerts API's quotas. Early retries are
    /// punished the same way (`early_retry_penalty`).
    pub graph_per_minute: u32,
    /// The largest `$top` of Graph `alerts_v2`; a larger one answers 400. 2000 is the
    /// simulator's assumption of the service's cap.
    pub graph_max_top: u64,
    /// Graph `alerts_v2` results per page without `$top`, followed by `@odata.nextLink`: 2000 by
    /// the same assumption.
    pub graph_page_size: u64,
    /// Graph `alerts_v2` paged by `$skip` at or beyond this answers one result and no
    /// `@odata.nextLink`, as if the results ended there: the failure reported of deep `$skip`
    /// under volume (elastic/integrations#20234). `None` (the default): no stall.
    pub graph_skip_stall: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            per_minute: 100,
            per_hour: 1500,
            early_retry_penalty: Duration::from_secs(5),
            skip_limit: None,
            max_top: MAX_TOP,
            page_size: MAX_TOP,
            graph_per_minute: 150,
            graph_max_top: GRAPH_MAX_TOP,
            graph_page_size: GRAPH_MAX_TOP,
            graph_skip_stall: None,
        }
    }
}

impl Limits {
    /// The quota of Graph `alerts_v2`, in the form [`RateLimiter::check`] reads: per minute
    /// only.
    pub(crate) fn graph(&self) -> Limits {
        Limits {
            per_minute: self.graph_per_minute,
            per_hour: u32::MAX,
            ..self.clone()
        }
    }
}

/// The sliding windows of one app in one tenant.
#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    /// Instants of accepted calls within the last hour, oldest first.
    calls: VecDeque<Instant>,
    /// Throttled until then; calls before it are early retries.
    blocked_until: Option<Instant>,
}

impl RateLimiter {
    /// Admits a call at `now`, or says how long until the client may call again.
    pub(crate) fn check(&mut self, now: Instant, limits: &Limits) -> Result<(), Duration> {
        while self
            .calls
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= HOUR)
        {
            self.calls.pop_front();
        }
        if let Some(until) = self.blocked_until {
            if now < until {
                let until = until + limits.early_retry_penalty;
                self.blocked_until = Some(until);
                return Err(until - now);
            }
            self.blocked_until = None;
        }
        let in_minute = self
            .calls
            .iter()
            .rev()
            .take_while(|&&t| now.saturating_duration_since(t) < MINUTE)
            .count();
        let minute_full = in_minute >= limits.per_minute as usize;
        let hour_full = self.calls.len() >= limits.per_hour as usize;
        if !minute_full && !hour_full {
            self.calls.push_back(now);
            return Ok(());
        }
        if limits.per_minute == 0 || limits.per_hour == 0 {
            self.blocked_until = Some(now + MINUTE);
            return Err(MINUTE);
        }
        // When the oldest call that keeps the window full leaves it, a slot frees.
        let mut frees = now;
        if minute_full {
            let oldest = self.calls[self.calls.len() - limits.per_minute as usize];
            frees = frees.max(oldest + MINUTE);
        }
        if hour_full {
            let oldest = self.calls[self.calls.len() - limits.per_hour as usize];
            frees = frees.max(oldest + HOUR);
        }
        self.blocked_until = Some(frees);
        Err(frees - now)
    }
}

/// `Retry-After` in whole seconds, rounded up and at least 1.
pub(crate) fn retry_after_secs(d: Duration) -> u64 {
    d.as_nanos().div_ceil(1_000_000_000).max(1) as u64
}
