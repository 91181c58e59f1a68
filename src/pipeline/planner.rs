//! How long the next window of a tenant is: as long as its alerts allow, not a fixed hour.
//!
//! A window is one checkpoint: the fewer windows, the fewer API calls (a 30-day range with 200
//! alerts is one call, not 720); the more alerts a window holds, the more a crash sends again.
//! So the planner aims at [`TARGET_WINDOW_ALERTS`] per window, from the density the last window
//! showed: the whole range while a tenant is sparse, shorter windows where it is dense. A first
//! window, whose density is unknown, takes the whole range: the fetcher pages and splits it by
//! time when it holds more than one query can page (issue 16).

use std::time::Duration;

use crate::alert::Timestamp;

/// Alerts a window aims at: one page of the default `page_size`, so that a sparse tenant
/// costs one call per window and a crash sends at most about this many again.
pub const TARGET_WINDOW_ALERTS: f64 = 5_000.0;

/// The shortest window planned: below it, the API's time filter is finer than its data.
const MIN_WINDOW: Duration = Duration::from_secs(60);

/// A window never grows to more than this many times the last one: a tenant that was quiet
/// for a moment is not assumed quiet for a month.
const MAX_GROWTH: f64 = 8.0;

/// Plans one tenant's windows from what the last one held.
#[derive(Debug, Default, Clone)]
pub struct WindowPlanner {
    /// The last window's length and the alerts it held.
    last: Option<(Duration, u64)>,
}

impl WindowPlanner {
    /// The end of the window that starts at `from`, at most `end`.
    pub fn next(&self, from: Timestamp, end: Timestamp) -> Timestamp {
        let range = end.unix_nanos().saturating_sub(from.unix_nanos()).max(0) as u64;
        let Some((len, alerts)) = self.last else {
            return end;
        };
        let len_nanos = len.as_nanos().max(1) as f64;
        let wanted = if alerts == 0 {
            len_nanos * MAX_GROWTH
        } else {
            (len_nanos * TARGET_WINDOW_ALERTS / alerts as f64).min(len_nanos * MAX_GROWTH)
        };
        let wanted = wanted.max(MIN_WINDOW.as_nanos() as f64);
        if wanted >= range as f64 {
            return end;
        }
        Timestamp::from_unix_nanos(from.unix_nanos() + wanted as i64, 7)
    }

    /// The window [from, to) held `alerts`.
    pub fn held(&mut self, from: Timestamp, to: Timestamp, alerts: u64) {
        let nanos = to.unix_nanos().saturating_sub(from.unix_nanos()).max(0) as u64;
        self.last = Some((Duration::from_nanos(nanos), alerts));
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
        let p = WindowPlanner::default();
        let (from, end) = (t("2026-11-01T00:00:00Z"), t("2026-12-01T00:00:00Z"));
        assert_eq!(
            p.next(from, end),
            end,
            "30 days of a new tenant: one window"
        );
    }

    #[test]
    fn a_sparse_tenant_keeps_whole_ranges_and_a_dense_one_gets_windows_of_the_target() {
        let mut p = WindowPlanner::default();
        let (from, end) = (t("2026-11-01T00:00:00Z"), t("2026-11-01T01:00:00Z"));
        p.held(from, end, 200);
        let later = t("2026-11-01T02:00:00Z");
        assert_eq!(
            p.next(end, later),
            later,
            "200 alerts an hour: the next hour whole"
        );

        // 50,000 alerts in an hour: the next window aims at 5,000, a tenth of an hour.
        p.held(from, end, 50_000);
        let next = p.next(end, t("2026-11-02T00:00:00Z"));
        assert_eq!(next, t("2026-11-01T01:06:00Z"));
    }

    #[test]
    fn growth_is_bounded_and_windows_are_never_shorter_than_a_minute() {
        let mut p = WindowPlanner::default();
        let from = t("2026-11-01T00:00:00Z");
        p.held(from, t("2026-11-01T00:10:00Z"), 0);
        assert_eq!(
            p.next(t("2026-11-01T00:10:00Z"), t("2026-12-01T00:00:00Z")),
            t("2026-11-01T01:30:00Z"),
            "quiet for 10 minutes: the next window is 80 minutes, not a month"
        );
        p.held(from, t("2026-11-01T00:01:00Z"), 1_000_000);
        assert_eq!(
            p.next(from, t("2026-11-02T00:00:00Z")),
            t("2026-11-01T00:01:00Z")
        );
    }
}
