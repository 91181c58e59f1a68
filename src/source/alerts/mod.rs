//! The MDE alerts API: one page with retries ([`AlertsClient::get_page`]), and every alert of a
//! time window ([`WindowFetch`]), paged by `$skip` because `@odata.nextLink` does not come with
//! `$top`.
//!
//! A window is `lastUpdateTime ge FROM and lastUpdateTime lt TO`. Its pages are checked against
//! each other: each page after the first starts one item early, and that item must be the last
//! one of the previous page. Alerts change while they are paged (an update moves an alert out
//! of the window, so everything after it shifts); a broken seam restarts the window, and alerts
//! already handed out are not handed out again. A window with more alerts than one query
//! should page through (10,000) ends at its middle instead, as often as needed; the rest is
//! the next window's.
//!
//! - `client`: [`AlertsClient`], one tenant's API: a page with its retries, throttling,
//!   token renewal and `max_page_bytes`; `client/answer.rs`: what each answer comes to.
//! - `hedge`: a call slow to answer is sent again and the first answer taken.
//! - `window`: [`WindowFetch`], every alert of a window: paging by `$skip`, the seam check
//!   and restarts, halving the window.

mod client;
mod hedge;
mod window;

pub use client::{AlertsClient, ClientStats, PageQuery, WaitStatus};
pub use window::{AlertPage, WindowFetch, WindowStats};

use crate::alert::Timestamp;
use crate::entra::AuthError;

/// No window is paged beyond this many results: `$top` is at most 10,000 and nothing promises
/// that `$skip` goes further (Graph's successor API stalls on deep `$skip`).
pub const MAX_RESULTS_PER_QUERY: u32 = 10_000;
/// Retries of one page after network errors, timeouts and 5xx.
const MAX_ATTEMPTS: u32 = 6;
/// The most of an announced Content-Length reserved up front (a page of 10,000 large alerts).
const MAX_PAGE_RESERVE: usize = 64 << 20;
/// 429s in a row for one page before giving up on it for this poll.
const MAX_THROTTLED: u32 = 20;
/// Seam breaks before a window is halved instead of restarted.
const MAX_RESTARTS: u32 = 3;

/// Fetching failed for a reason the caller should report (and usually retry next poll).
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    /// No access token from Entra ID (consent, secret, refresh token, or Entra unreachable);
    /// the error says which, and the fix.
    #[error("{0}")]
    Auth(#[from] AuthError),
    #[error("tenant \"{tenant}\": the alerts API refused access (HTTP 403: {message}): {fix}")]
    /// HTTP 403: the app may not read this tenant's alerts. Not cured by retrying: the
    /// customer's admin must allow it.
    Forbidden {
        /// The tenant's `name` in the config.
        tenant: String,
        /// The API's `code: message`, or the start of its body.
        message: String,
        /// What the customer's admin must do, for the tenant's API.
        fix: &'static str,
    },
    #[error("tenant \"{tenant}\": the alerts API rejected the request (HTTP {status}: {message})")]
    /// A 4xx other than 403 and 429, or a 401 again after a fresh token: the request itself
    /// is wrong for this API (a wrong `api_url`, a token for another audience).
    Rejected {
        /// The tenant's `name` in the config.
        tenant: String,
        /// The HTTP status code.
        status: u16,
        /// The API's `code: message`, or the start of its body.
        message: String,
    },
    #[error("tenant \"{tenant}\": the alerts API is unavailable after {attempts} attempts: {last}")]
    /// Network errors, timeouts, 5xx, answers that were not pages, or 429s went on through
    /// every retry of one page; the next poll tries again.
    Unavailable {
        /// The tenant's `name` in the config.
        tenant: String,
        /// Calls made for the page (429s included) before giving up.
        attempts: u32,
        /// What the last one came to, in words.
        last: String,
    },
    #[error(
        "tenant \"{tenant}\": a single alert is larger than max_page_bytes ({limit} bytes): raise max_page_bytes for this tenant"
    )]
    /// A page of a single alert was still over `max_page_bytes`: the page cannot shrink
    /// further, only the limit can grow.
    TooLarge {
        /// The tenant's `name` in the config.
        tenant: String,
        /// The tenant's `max_page_bytes`, in bytes.
        limit: usize,
    },
    #[error(
        "tenant \"{tenant}\": more than {limit} alerts changed within {from} .. {to}, too close together to split the window further"
    )]
    /// More alerts than one query may page through changed within 200 ns, the API's
    /// precision: the window cannot be split in two any more.
    TooDense {
        /// The tenant's `name` in the config.
        tenant: String,
        /// Results one query may reach ([`MAX_RESULTS_PER_QUERY`] on the real API).
        limit: u32,
        /// Start of the window that could not be split (inclusive).
        from: Timestamp,
        /// End of that window (exclusive).
        to: Timestamp,
    },
}
