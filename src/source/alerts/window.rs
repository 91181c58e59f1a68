//! [`WindowFetch`]: every alert of a time window, paged by `$skip`, its pages checked against
//! each other at their seams, restarted when alerts move, split by time when too many.

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
    /// Alerts seen again (seam items, restarts, splits) and not handed out twice.
    pub repeats: u64,
    /// Times a window was split in two by time (more than a query may page through).
    pub splits: u32,
    /// Times a window was paged again from its start because its alerts moved under it.
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
    /// Windows still to fetch; the last is next.
    pending: Vec<(Timestamp, Timestamp)>,
    cursor: Option<Cursor>,
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
