//! How long the next window of a tenant is: as long as its alerts allow, not a fixed hour.
//!
//! A window is one checkpoint: the fewer windows, the fewer API calls (a 30-day range with 200
//! alerts is one call, not 720); the more alerts a window holds, the more a crash sends again.
//! So the planner aims at nearly a page per window (a few pages when pages are small, see
//! [`Target`]), from the density the last windows showed: the whole range while a tenant is
//! sparse, shorter windows where it is dense. A first window, whose density is unknown, takes
//! the whole range as a probe: the fetcher shortens it while it holds more than a planned
//! window would (issue 16).

use std::time::Duration;

use crate::alert::Timestamp;

/// What a planned window aims at with pages of `page_size`.
///
/// Alerts arrive about as a Poisson process: the count of a window expected to hold n varies by
/// sqrt(n). A window aims at its pages less two standard deviations, so that about one window
/// in 40 needs a call more than planned (a window of exactly its pages costs one more: the
/// last, empty page says it is the last). Enough pages that this margin is at most a tenth:
/// one page of 5,000 (aiming at 97 % of it), eight of 50, forty of 10.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    /// Pages a window may take.
    pub pages: u32,
    /// Alerts it aims at.
    pub alerts: f64,
}

impl Target {
    /// For pages of `page_size` alerts and queries that reach at most `cap` results.
    pub fn new(page_size: u32, cap: u32) -> Target {
        let p = f64::from(page_size.max(1));
        // 2 sqrt(m) <= m / 10 when m >= 400.
        let pages = ((400.0 / p).ceil() as u32).clamp(1, (cap / page_size.max(1)).max(1));
        let m = f64::from(pages) * p;
        Target {
            pages,
            alerts: (m - 2.0 * m.sqrt()).max(m / 2.0).max(1.0),
        }
    }
}

/// The shortest window planned: below it, the API's time filter is finer than its data.
const MIN_WINDOW: Duration = Duration::from_secs(60);

/// A window never grows to more than this many times the last one: a tenant that was quiet
/// for a moment is not assumed quiet for a month.
const MAX_GROWTH: f64 = 8.0;

/// Plans one tenant's windows from what the last one held.
#[derive(Debug, Clone)]
pub struct WindowPlanner {
    target: Target,
    /// The length and the alerts of the windows so far, each earlier window weighing half
    /// as much as the one after it: the density of the last few windows, steadier than the
    /// last one's alone (whose count varies by its square root) and quick to follow a change.
    last: Option<(f64, f64)>,
    /// The last window's length, which the next may outgrow at most [`MAX_GROWTH`] times.
    last_len: f64,
}

/// The next window, as planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Planned {
    /// Its end (exclusive).
    pub to: Timestamp,
    /// Nothing is known of the density: the fetcher shortens the window when this many full
    /// pages did not reach its end.
    pub probe: Option<u32>,
}

impl WindowPlanner {
    /// For a tenant whose pages hold `page_size` alerts, with queries that reach at most `cap`
    /// results.
    pub fn new(page_size: u32, cap: u32) -> WindowPlanner {
        WindowPlanner {
            target: Target::new(page_size, cap),
            last: None,
            last_len: 0.0,
        }
    }

    /// The window that starts at `from` and ends at most at `end`.
    pub fn next(&self, from: Timestamp, end: Timestamp) -> Planned {
        let range = end.unix_nanos().saturating_sub(from.unix_nanos()).max(0) as u64;
        let Some((len_nanos, alerts)) = self.last else {
            return Planned {
                to: end,
                probe: Some(self.target.pages),
            };
        };
        let most = self.last_len.max(1.0) * MAX_GROWTH;
        let wanted = if alerts < 0.5 {
            most
        } else {
            (len_nanos.max(1.0) * self.target.alerts / alerts).min(most)
        };
        let wanted = wanted.max(MIN_WINDOW.as_nanos() as f64);
        let to = if wanted >= range as f64 {
            end
        } else {
            Timestamp::from_unix_nanos(from.unix_nanos() + wanted as i64, 7)
        };
        Planned { to, probe: None }
    }

    /// The window [from, to) held `alerts`.
    pub fn held(&mut self, from: Timestamp, to: Timestamp, alerts: u64) {
        let nanos = to.unix_nanos().saturating_sub(from.unix_nanos()).max(0) as f64;
        let (len, count) = self.last.unwrap_or((0.0, 0.0));
        self.last = Some((len / 2.0 + nanos, count / 2.0 + alerts as f64));
        self.last_len = nanos;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written with 7 fraction digits, as the planner writes its window ends (equality of
    /// timestamps counts the digits).
    fn t(s: &str) -> Timestamp {
        Timestamp::from_unix_nanos(Timestamp::parse(s).unwrap().unix_nanos(), 7)
    }

    #[test]
    fn a_first_window_takes_the_whole_range() {
        let p = WindowPlanner::new(5_000, 10_000);
        let (from, end) = (t("2026-11-01T00:00:00Z"), t("2026-12-01T00:00:00Z"));
        assert_eq!(
            p.next(from, end),
            Planned {
                to: end,
                probe: Some(1)
            },
            "30 days of a new tenant: one window, shortened by the fetcher if its page is full"
        );
    }

    #[test]
    fn a_sparse_tenant_keeps_whole_ranges_and_a_dense_one_gets_windows_of_the_target() {
        let mut p = WindowPlanner::new(5_000, 10_000);
        let (from, end) = (t("2026-11-01T00:00:00Z"), t("2026-11-01T01:00:00Z"));
        p.held(from, end, 200);
        let later = t("2026-11-01T02:00:00Z");
        assert_eq!(
            p.next(end, later),
            Planned {
                to: later,
                probe: None
            },
            "200 alerts an hour: the next hour whole"
        );

        // Pages of 10,000: windows aim at 9,800 (less 2 sqrt(10,000)). 98,000 alerts in an
        // hour: the next window is a tenth of an hour.
        let mut p = WindowPlanner::new(10_000, 10_000);
        p.held(from, end, 98_000);
        let next = p.next(end, t("2026-11-02T00:00:00Z"));
        assert_eq!(next.to, t("2026-11-01T01:06:00Z"));
    }

    #[test]
    fn growth_is_bounded_and_windows_are_never_shorter_than_a_minute() {
        let mut p = WindowPlanner::new(5_000, 10_000);
        let from = t("2026-11-01T00:00:00Z");
        p.held(from, t("2026-11-01T00:10:00Z"), 0);
        assert_eq!(
            p.next(t("2026-11-01T00:10:00Z"), t("2026-12-01T00:00:00Z"))
                .to,
            t("2026-11-01T01:30:00Z"),
            "quiet for 10 minutes: the next window is 80 minutes, not a month"
        );
        p.held(from, t("2026-11-01T00:01:00Z"), 1_000_000);
        assert_eq!(
            p.next(from, t("2026-11-02T00:00:00Z")).to,
            t("2026-11-01T00:01:00Z")
        );
    }

    #[test]
    fn small_pages_make_windows_of_several_pages() {
        let t = Target::new(5_000, 10_000);
        assert_eq!(t.pages, 1);
        assert!((t.alerts - 4_858.6).abs() < 0.1, "{t:?}");
        // Pages of 10: a window of one page would aim at 5 alerts (half a page, the count
        // varies too much), so one planned window is 40 pages, aiming at 360.
        assert_eq!(
            Target::new(10, 10_000),
            Target {
                pages: 40,
                alerts: 360.0
            }
        );
        assert_eq!(Target::new(50, 10_000).pages, 8);
        // Never past what a query reaches.
        assert_eq!(Target::new(10, 100).pages, 10);
    }
}
