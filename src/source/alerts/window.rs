//! [`WindowFetch`]: every alert of a time window, paged by `$skip`, its pages checked against
//! each other at their seams, restarted when alerts move, shortened when it holds too many.

use std::collections::HashSet;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::time::Duration;

use super::{AlertsClient, FetchError, MAX_ATTEMPTS, MAX_RESTARTS, PageQuery};
use crate::alert::Timestamp;
use crate::backoff::Backoff;
use crate::reader::{self, Item, NotAPage, PageError};
use crate::source::page_budget::PageLease;

impl AlertsClient {
    /// Every alert version with lastUpdateTime in [from, to), page by page.
    /// The window may end earlier than `to` ([`WindowFetch::end`]) when it holds more than one
    /// query can page through.
    pub fn window(&self, from: Timestamp, to: Timestamp) -> WindowFetch<'_> {
        WindowFetch {
            client: self,
            from,
            end: to,
            probe_pages: None,
            held: 0,
            pass_times: Vec::new(),
            cursor: Some(Cursor::start()),
            unread: None,
            seen: HashSet::new(),
            hasher: RandomState::new(),
            stats: WindowStats::default(),
            not_a_page: None,
            bad_answers: 0,
            backoff: Backoff::new(Duration::from_secs(1), Duration::from_secs(60)),
        }
    }
}

/// What a window took.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WindowStats {
    /// Pages fetched, the ones fetched again included.
    pub pages: u32,
    /// Alerts handed to the caller (each version once).
    pub alerts: u64,
    /// Items of a page that were not a readable alert, handed out with their position.
    pub malformed: u64,
    /// Alerts seen again (seam items, restarts, halvings) and not handed out twice.
    pub repeats: u64,
    /// Times the window was halved: it held more than a query may page through, or a probe's
    /// first page was full.
    pub shrinks: u32,
    /// Times a window was paged again from its start because its alerts moved under it.
    pub restarts: u32,
    /// 200 answers that were not pages (fetched again).
    pub not_pages: u32,
}

/// Where the paging of [from, end) stands.
impl std::ops::AddAssign for WindowStats {
    fn add_assign(&mut self, other: WindowStats) {
        self.pages += other.pages;
        self.alerts += other.alerts;
        self.malformed += other.malformed;
        self.repeats += other.repeats;
        self.shrinks += other.shrinks;
        self.restarts += other.restarts;
        self.not_pages += other.not_pages;
    }
}

#[derive(Debug, Clone)]
struct Cursor {
    /// Items of the window consumed so far.
    skip: u32,
    /// Pages of this pass read so far.
    pages: u32,
    /// The last item of the previous page, which the next page must start with.
    seam: Option<u64>,
    /// What the first page of this pass counted in the window (`@odata.count`, Graph), which
    /// a pass that ends with fewer items did not page through.
    counted: Option<u64>,
    restarts: u32,
    /// Paged without the seam check: a window too small to split that keeps changing.
    unchecked: bool,
}

impl Cursor {
    fn start() -> Cursor {
        Cursor {
            skip: 0,
            pages: 0,
            seam: None,
            counted: None,
            restarts: 0,
            unchecked: false,
        }
    }
}

/// A page as received, to be read with [`WindowFetch::read`].
pub struct AlertPage {
    /// The answer's body, JSON as the API sent it.
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
    from: Timestamp,
    /// The window's end: the `to` asked for, or earlier once halved.
    end: Timestamp,
    /// Shorten the window when this many full pages did not reach its end.
    probe_pages: Option<u32>,
    /// The lastUpdateTime (Unix nanoseconds) of each alert of the current pass over the window:
    /// where to cut it when it is shortened.
    pass_times: Vec<i64>,
    /// `None` once every alert of [from, end) was handed out.
    cursor: Option<Cursor>,
    /// Items of [from, end), counted by the pass that reached its last page.
    held: u64,
    /// The page returned last, until it is read.
    unread: Option<(u32, bool)>,
    seen: HashSet<u64>,
    hasher: RandomState,
    /// What the window took so far.
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
    /// The page had an `@odata.nextLink`.
    next_link: bool,
    /// The page's `@odata.count`.
    counted: Option<u64>,
}

impl WindowFetch<'_> {
    /// The next page of the window, or `None` when every alert of it was handed out.
    ///
    /// # Panics
    ///
    /// If the page returned before was not given to [`Self::read`]: the seam check needs it.
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
                return Ok(None);
            };
            let page_size = self.client.tenant.page_size;
            let overlaps = cursor.seam.is_some() && cursor.skip > 0 && !cursor.unchecked;
            let skip = cursor.skip - u32::from(overlaps);
            let cap = self.client.max_results;
            // The seam's extra alert never asks past the API's largest page (Graph refuses
            // $top=2001 when page_size is its 2,000).
            let top = (page_size + u32::from(overlaps))
                .min(cap)
                .min(self.client.tenant.api.max_page_size());
            if skip > 0 && skip + top > cap {
                self.shrink()?;
                continue;
            }
            let query = PageQuery {
                from: self.from,
                to: self.end,
                skip,
                top,
            };
            let super::client::Page {
                bytes,
                top: requested,
                lease,
            } = self.client.get_page(query).await?;
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

    /// Shortens the window when its density is not known: when `pages` full pages did not
    /// reach its end, it ends where half the alerts read so far are before, again until a pass
    /// reaches the end, so that a tenant's first window holds about what a planned one does
    /// instead of everything since `initial_lookback` (issue 16).
    #[must_use]
    pub fn probing(mut self, pages: u32) -> Self {
        self.probe_pages = Some(pages.max(1));
        self
    }

    /// The window's end (exclusive): the `to` asked for, or earlier if it held too many
    /// alerts. Every alert of [from, end) has been handed out once [`Self::next_page`] says
    /// `None`; alerts of [end, to) may have been too, and a later window sees them again.
    pub fn end(&self) -> Timestamp {
        self.end
    }

    /// Items of [from, end) (malformed ones included), as counted by the pass of the window
    /// that reached its last page: what it held, whatever was handed out before it was
    /// shortened. Known once [`Self::next_page`] said `None`.
    pub fn held(&self) -> u64 {
        self.held
    }

    /// Ends the window at its middle and pages it again from its start. The later half is
    /// left to the next window, so a window is bounded in alerts: a crash sends at most one
    /// window again, however long the range (issue 16).
    ///
    /// It ends where half the alerts of the current pass are before: where the API's order
    /// follows time, the shorter window holds about half of what was read; where it does not,
    /// what was read is a sample and the cut halves the alerts, not the hours. Without alerts
    /// to go by, at the middle.
    fn shrink(&mut self) -> Result<(), FetchError> {
        let (a, b) = (self.from.unix_nanos(), self.end.unix_nanos());
        // 100 ns is the API's precision: below it there is nothing to split.
        if b - a < 200 {
            return Err(FetchError::TooDense {
                tenant: self.client.tenant.name.clone(),
                limit: self.client.max_results,
                from: self.from,
                to: self.end,
            });
        }
        let mid = match median_end(&mut self.pass_times) {
            Some(cut) if cut > a && cut < b => Timestamp::from_unix_nanos(cut, 7),
            _ => Timestamp::from_unix_nanos(a + (b - a) / 200 * 100, 7),
        };
        tracing::debug!(tenant = %self.client.tenant.name, "window {} .. {} ends at {mid} instead", self.from, self.end);
        self.end = mid;
        self.cursor = Some(Cursor::start());
        self.pass_times.clear();
        self.stats.shrinks += 1;
        Ok(())
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
            next_link: false,
            counted: None,
        };
        let (pass_times, hasher) = (&mut self.pass_times, &self.hasher);
        let result = reader::read_page(&page.bytes, want_raw, |item| {
            let first = outcome.items == 0;
            outcome.items += 1;
            let key = match &item {
                Item::Alert(a) => {
                    if let Some(t) = a.alert.last_update_time {
                        pass_times.push(t.unix_nanos());
                    }
                    a.alert
                        .id()
                        .map(|id| key(hasher, id, a.alert.last_update_time))
                }
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
            Ok(info) => {
                outcome.next_link = info.next_link;
                outcome.counted = info.count;
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
        if cursor.pages == 0 {
            cursor.counted = outcome.counted;
        }
        let full = outcome.items >= page.requested
            || (outcome.next_link && outcome.items > u32::from(page.overlaps));
        let paged = cursor.skip + outcome.items.saturating_sub(u32::from(page.overlaps));
        let counted = cursor.counted.filter(|_| !full && !cursor.unchecked);
        if let Some(counted) = counted.filter(|n| u64::from(paged) < *n) {
            // Fewer alerts paged than the query counted: it ended early (deep `$skip` stalls
            // on Graph, and would again at the same depth). The window ends where half of what
            // was paged is before, so that its `$skip` stays shallower, and is paged again.
            // (An alert updated out of the window while it is paged also lowers what is
            // paged: the window is then cut for nothing, never short.)
            tracing::debug!(tenant = %self.client.tenant.name, "the API counted {counted} alerts in {} .. {} but its pages ended after {paged}; paging a shorter window", self.from, self.end);
            if self.shrink().is_ok() {
                return;
            }
            tracing::warn!(tenant = %self.client.tenant.name, "the API counted {counted} alerts in {} .. {} but its pages ended after {paged}, and the window is too short to split: taking what was paged", self.from, self.end);
        }
        let Some(cursor) = self.cursor.as_mut() else {
            return;
        };
        if !outcome.seam_held {
            // Something shifted under the pages: page the window again from its start.
            cursor.restarts += 1;
            cursor.skip = 0;
            cursor.pages = 0;
            cursor.seam = None;
            self.stats.restarts += 1;
            self.pass_times.clear();
            tracing::debug!(tenant = %self.client.tenant.name, "alerts moved while paging {} .. {}; restarting the window", self.from, self.end);
            // Smaller windows change less while they are paged. A window too small to halve
            // is paged once more without the seam check rather than given up.
            if cursor.restarts > MAX_RESTARTS && self.shrink().is_err() {
                tracing::warn!(tenant = %self.client.tenant.name, "alerts keep changing within {} .. {}; paging it once more without the consistency check (an alert moved meanwhile is caught by the next poll's overlap)", self.from, self.end);
                if let Some(cursor) = self.cursor.as_mut() {
                    cursor.unchecked = true;
                }
            }
            return;
        }
        // A page with a nextLink is not the last, however short (above): Graph's pages may
        // hold fewer than `$top` asked for. (One holding nothing new cannot move the cursor.)
        cursor.skip += outcome.items - u32::from(page.overlaps);
        cursor.pages += 1;
        cursor.seam = outcome.last;
        if !full {
            // A short page is the window's last.
            self.held = u64::from(cursor.skip);
            self.cursor = None;
        } else if self.probe_pages.is_some_and(|n| cursor.pages >= n) {
            // No density known, and the window holds more than a planned one would: it is
            // shortened before it is paged further. Nothing is lost when it cannot be: it is
            // paged.
            let _ = self.shrink();
        }
    }
}

/// The key an alert version is known by within a window.
fn key(hasher: &RandomState, id: &str, last_update: Option<Timestamp>) -> u64 {
    let mut h = hasher.build_hasher();
    id.hash(&mut h);
    last_update.map(Timestamp::unix_nanos).hash(&mut h);
    h.finish()
}

/// The end (exclusive, on the API's 100 ns grid) of a window that holds the earlier half of
/// `times`.
fn median_end(times: &mut [i64]) -> Option<i64> {
    if times.is_empty() {
        return None;
    }
    let middle = times.len() / 2;
    let (_, &mut median, _) = times.select_nth_unstable(middle);
    Some((median.div_euclid(100) + 1) * 100)
}
