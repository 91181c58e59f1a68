//! A call that is slow to answer is sent a second time, and the first answer is taken: the
//! alerts API answers most calls in hundreds of milliseconds and a few in seconds, and a
//! tenant catching up makes its calls one after another, so those few set its pace ("The Tail
//! at Scale", Dean and Barroso, 2013). A second call costs one more against the tenant's rate
//! limit, taken only after the usual answer time has passed several times over.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// No call is sent again before this: most answers come well within it.
const HEDGE_MIN: Duration = Duration::from_secs(1);
/// A call is sent again once it took this many times the usual answer time.
const HEDGE_FACTOR: u32 = 4;
/// The usual answer time before any was measured.
const FIRST_GUESS: Duration = Duration::from_millis(500);

/// How long a tenant's API usually takes to answer (until the answer's headers): a moving
/// average of the answers it gave, each weighing a quarter.
#[derive(Debug)]
pub(super) struct AnswerTime {
    nanos: AtomicU64,
}

impl Default for AnswerTime {
    fn default() -> Self {
        AnswerTime {
            nanos: AtomicU64::new(FIRST_GUESS.as_nanos() as u64),
        }
    }
}

impl AnswerTime {
    /// An answer came `took` after its call was sent.
    pub(super) fn record(&self, took: Duration) {
        let took = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let old = self.nanos.load(Ordering::Relaxed);
        // Racy on purpose: two answers at once may lose one sample of an average.
        self.nanos
            .store(old - old / 4 + took / 4, Ordering::Relaxed);
    }

    /// When to send a call again that has not been answered: several times the usual answer
    /// time, at least [`HEDGE_MIN`], and early enough that `timeout` has not run out.
    pub(super) fn hedge_after(&self, timeout: Duration) -> Duration {
        let usual = Duration::from_nanos(self.nanos.load(Ordering::Relaxed));
        (usual * HEDGE_FACTOR).max(HEDGE_MIN).min(timeout / 2)
    }
}

/// Which call's answer was taken, and how long that call took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Answered {
    /// The first, before a second was sent.
    Once(Duration),
    /// The first, though a second was sent.
    FirstOfTwo(Duration),
    /// The second.
    SecondOfTwo(Duration),
}

impl Answered {
    /// How long the call whose answer was taken took.
    pub(super) fn took(self) -> Duration {
        match self {
            Answered::Once(d) | Answered::FirstOfTwo(d) | Answered::SecondOfTwo(d) => d,
        }
    }
}

/// `first`, or when it has not finished within `after`, whichever of it and `second()`
/// finishes first (the other is dropped, which drops its connection). `second` is called at
/// most once.
pub(super) async fn hedged<T, F, S>(
    first: F,
    after: Duration,
    second: impl FnOnce() -> S,
) -> (T, Answered)
where
    F: std::future::Future<Output = T>,
    S: std::future::Future<Output = T>,
{
    tokio::pin!(first);
    let started = Instant::now();
    tokio::select! {
        r = &mut first => return (r, Answered::Once(started.elapsed())),
        () = tokio::time::sleep_until(started + after) => {}
    }
    let second = second();
    tokio::pin!(second);
    let resent = Instant::now();
    tokio::select! {
        r = &mut first => (r, Answered::FirstOfTwo(started.elapsed())),
        r = &mut second => (r, Answered::SecondOfTwo(resent.elapsed())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_follows_the_usual_answer_time_within_bounds() {
        let t = AnswerTime::default();
        let timeout = Duration::from_secs(30);
        assert_eq!(t.hedge_after(timeout), Duration::from_secs(2));
        for _ in 0..40 {
            t.record(Duration::from_millis(100));
        }
        assert_eq!(
            t.hedge_after(timeout),
            HEDGE_MIN,
            "fast answers: never below 1 s"
        );
        for _ in 0..40 {
            t.record(Duration::from_secs(3));
        }
        let after = t.hedge_after(timeout);
        assert!(
            after > Duration::from_secs(11) && after <= Duration::from_secs(12),
            "{after:?}"
        );
        assert_eq!(
            t.hedge_after(Duration::from_secs(10)),
            Duration::from_secs(5),
            "half the timeout at most"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_call_is_sent_again_and_the_first_answer_wins() {
        let slow = async {
            tokio::time::sleep(Duration::from_secs(20)).await;
            "first"
        };
        let started = Instant::now();
        let (answer, how) = hedged(slow, Duration::from_secs(1), || async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            "second"
        })
        .await;
        assert_eq!(
            (answer, how),
            ("second", Answered::SecondOfTwo(Duration::from_millis(300)))
        );
        assert_eq!(started.elapsed(), Duration::from_millis(1_300));

        // An API slow for every call: the first call answers first, and its whole time is
        // what is learnt, so that calls stop being sent twice.
        let slow = async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            "first"
        };
        let (answer, how) = hedged(slow, Duration::from_secs(2), || async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            "second"
        })
        .await;
        assert_eq!(
            (answer, how),
            ("first", Answered::FirstOfTwo(Duration::from_secs(3)))
        );

        let fast = async { "first" };
        let (answer, how) = hedged(fast, Duration::from_secs(1), || async {
            unreachable!("a fast call is not sent again")
        })
        .await;
        assert_eq!((answer, how), ("first", Answered::Once(Duration::ZERO)));
    }
}
