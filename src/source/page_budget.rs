//! The pages that all tenants may hold at once, and the buffers they are read into; and the
//! API calls they may have waiting for an answer at once.
//!
//! Neither is held while a tenant waits for its own reasons (its rate limit, a Retry-After, a
//! backoff, a token): a call's permit is taken for the request until its answer's headers, a
//! page's lease once a 200's body starts to arrive. So one throttled or slow tenant never
//! keeps another waiting (issue 16).
//!
//! A page of 10,000 alerts is ~45 MB of JSON. Limiting how many are held bounds the forwarder's
//! memory however many tenants fetch at the same time; reusing their buffers keeps that bound
//! real: with a fresh allocation per page, glibc's allocator keeps freed pages' memory in its
//! per-thread arenas and the resident size grows well past the pages actually held.

use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// `max_calls_in_flight` unless configured: enough for 1,000 tenants polled every minute
/// against answers that take seconds, few enough to stay far below any proxy's or host's
/// connection limits.
pub const DEFAULT_MAX_CALLS_IN_FLIGHT: usize = 64;

/// A limit of pages held at once, and of calls waiting for an answer, shared by the tenants'
/// [`super::AlertsClient`]s.
pub struct PageBudget {
    permits: Arc<Semaphore>,
    calls: Semaphore,
    pages: usize,
    /// Buffers of pages dropped, kept for the next pages (at most `pages` of them).
    spare: Mutex<Vec<Vec<u8>>>,
}

/// The right to hold one page, given back (with its buffer) when the page is dropped.
pub struct PageLease {
    _permit: OwnedSemaphorePermit,
    budget: Arc<PageBudget>,
}

impl PageBudget {
    /// A budget of `pages` pages held at once, to share among the clients of all tenants (the
    /// daemon holds two: the README's **Memory** counts on it). `pages` must be at least 1, or
    /// every lease waits forever.
    pub fn new(pages: usize) -> Arc<PageBudget> {
        PageBudget::with_calls(pages, DEFAULT_MAX_CALLS_IN_FLIGHT)
    }

    /// A budget of `pages` pages and `calls` calls in flight (`max_calls_in_flight`); both at
    /// least 1.
    pub fn with_calls(pages: usize, calls: usize) -> Arc<PageBudget> {
        Arc::new(PageBudget {
            permits: Arc::new(Semaphore::new(pages)),
            calls: Semaphore::new(calls.max(1)),
            pages,
            spare: Mutex::new(Vec::with_capacity(pages)),
        })
    }

    /// Waits until fewer than the budget's pages are held.
    pub async fn lease(self: &Arc<Self>) -> PageLease {
        // The semaphore is owned here and never closed, the only way acquiring fails.
        #[allow(clippy::expect_used)]
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("the page budget is never closed");
        PageLease {
            _permit: permit,
            budget: self.clone(),
        }
    }

    /// Waits until fewer than the budget's calls wait for their answers; the permit is held
    /// until the answer's headers are in.
    pub async fn call(&self) -> tokio::sync::SemaphorePermit<'_> {
        // Never closed, as above.
        #[allow(clippy::expect_used)]
        self.calls
            .acquire()
            .await
            .expect("the call budget is never closed")
    }

    /// An empty buffer, with the capacity of an earlier page when there is one.
    pub fn buffer(&self) -> Vec<u8> {
        self.spare
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_default()
    }
}

impl PageLease {
    /// Keeps `buffer` for a next page.
    pub fn give_back(&self, mut buffer: Vec<u8>) {
        buffer.clear();
        let mut spare = self.budget.spare.lock().unwrap_or_else(|e| e.into_inner());
        if spare.len() < self.budget.pages && buffer.capacity() > 0 {
            spare.push(buffer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `max_calls_in_flight` holds: with one call allowed, a second waits until the first
    /// call's permit is gone (its answer's headers are in), and pages are a budget of their own.
    #[tokio::test(start_paused = true)]
    async fn calls_in_flight_are_bounded_apart_from_pages() {
        let budget = PageBudget::with_calls(1, 1);
        let first = budget.call().await;
        let second = tokio::time::timeout(std::time::Duration::from_secs(1), budget.call()).await;
        assert!(
            second.is_err(),
            "a second call went out while the first was in flight"
        );
        let page = tokio::time::timeout(std::time::Duration::from_secs(1), budget.lease()).await;
        assert!(page.is_ok(), "a call in flight held a page");
        drop(first);
        let second = tokio::time::timeout(std::time::Duration::from_secs(1), budget.call()).await;
        assert!(second.is_ok());
    }
}
