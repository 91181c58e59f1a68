//! Exponential backoff with jitter, for reconnecting outputs and retried API calls.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// Exponential backoff with jitter: each wait is drawn from [d/2, d] where d doubles from
/// `min` up to `max`, so that many forwarders do not reconnect in step.
#[derive(Debug)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
    rng: u64,
}

impl Backoff {
    /// A backoff whose first wait is at most `min` and whose waits never exceed `max`; seeded
    /// per instance, so two forwarders draw different jitter.
    pub fn new(min: Duration, max: Duration) -> Backoff {
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        Backoff {
            min,
            max,
            next: min,
            rng: seed | 1,
        }
    }

    /// The wait before the next attempt.
    pub fn next_wait(&mut self) -> Duration {
        let ceiling = self.next;
        self.next = (self.next * 2).min(self.max);
        // xorshift64: jitter needs spread, not secrecy.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let fraction = (self.rng >> 11) as f64 / (1u64 << 53) as f64;
        ceiling.mul_f64(0.5 + fraction / 2.0)
    }

    /// Starts again from `min`, after an attempt succeeded.
    pub fn reset(&mut self) {
        self.next = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap_with_jitter_and_resets() {
        let min = Duration::from_millis(500);
        let max = Duration::from_secs(4);
        let mut b = Backoff::new(min, max);
        let ceilings = [500u64, 1000, 2000, 4000, 4000, 4000];
        for ceiling in ceilings {
            let w = b.next_wait();
            let c = Duration::from_millis(ceiling);
            assert!(w <= c && w >= c / 2, "{w:?} not in [{:?}, {c:?}]", c / 2);
        }
        b.reset();
        assert!(b.next_wait() <= min);
    }

    #[test]
    fn backoff_jitter_spreads_waits() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..20 {
            let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(1));
            seen.insert(b.next_wait().as_micros());
        }
        assert!(
            seen.len() > 10,
            "jitter gave {} distinct waits of 20",
            seen.len()
        );
    }
}
