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
//!
//! - `client`: [`AlertsClient`], one tenant's API: a page with its retries, throttling,
//!   token renewal and `max_page_bytes`.
//! - `window`: [`WindowFetch`], every alert of a window: paging by `$skip`, the seam check
//!   and restarts, splitting by time.

mod client;
mod window;

pub use client::{AlertsClient, ClientStats, PageQuery};
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
