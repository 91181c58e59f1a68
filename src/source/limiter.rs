//! Staying under the alerts API's limits by design: at most N calls in any minute and M in any
//! hour per tenant (sliding windows over the times of past calls), and no call before a
//! `Retry-After` has passed.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use super::config::ApiLimits;

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

#[derive(Debug)]
struct Window {
    /// Times of the calls of the last hour, oldest first.
    calls: VecDeque<Instant>,
    /// No call before this (from a 429's Retry-After).
    paused_until: Option<Instant>,
}

/// The call budget of one tenant.
#[derive(Debug)]
pub struct RateLimiter {
    limits: ApiLimits,
    window: Mutex<Window>,
}

impl RateLimiter {
    pub(crate) fn new(limits: ApiLimits) -> RateLimiter {
        RateLimiter {
            limits,
            window: Mutex::new(Window {
                calls: VecDeque::new(),
                paused_until: None,
            }),
        }
    }

    /// Waits until a call is allowed and counts it. Returns how long it waited.
    pub async fn acquire(&self) -> Duration {
        let start = Instant::now();
        loop {
            let wait_until = {
                let mut w = self.window.lock().await;
                let now = Instant::now();
                while w
                    .calls
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= HOUR)
                {
                    w.calls.pop_front();
                }
                let in_minute = w
                    .calls
                    .iter()
                    .rev()
                    .take_while(|t| now.duration_since(**t) < MINUTE)
                    .count();
                let mut until = w.paused_until.filter(|u| *u > now);
                if in_minute >= self.limits.per_minute as usize {
                    // The oldest call of the minute leaves it first.
                    let oldest = w.calls[w.calls.len() - in_minute];
                    until = until.max(Some(oldest + MINUTE));
                }
                if w.calls.len() >= self.limits.per_hour as usize {
                    let oldest = w.calls[w.calls.len() - self.limits.per_hour as usize];
                    until = until.max(Some(oldest + HOUR));
                }
                match until {
                    None => {
                        w.calls.push_back(now);
                        return now - start;
                    }
                    Some(u) => u,
                }
            };
            tokio::time::sleep_until(wait_until).await;
        }
    }

    /// The API answered 429: no call for `retry_after`.
    pub async fn pause(&self, retry_after: Duration) {
        let until = Instant::now() + retry_after;
        let mut w = self.window.lock().await;
        w.paused_until = Some(w.paused_until.map_or(until, |u| u.max(until)));
    }

    /// Calls made in the last minute and hour.
    pub async fn usage(&self) -> (usize, usize) {
        let w = self.window.lock().await;
        let now = Instant::now();
        let hour = w
            .calls
            .iter()
            .filter(|t| now.duration_since(**t) < HOUR)
            .count();
        let minute = w
            .calls
            .iter()
            .filter(|t| now.duration_since(**t) < MINUTE)
            .count();
        (minute, hour)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn never_more_than_the_limit_in_any_minute() {
        let limiter = RateLimiter::new(ApiLimits {
            per_minute: 100,
            per_hour: 1500,
        });
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..350 {
            limiter.acquire().await;
            times.push(Instant::now() - start);
        }
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..].iter().take_while(|u| **u - *t < MINUTE).count();
            assert!(
                in_window <= 100,
                "{in_window} calls in the minute from {t:?}"
            );
        }
        // 350 calls at 100/min: the last one no earlier than 3 minutes in.
        assert!(*times.last().unwrap() >= Duration::from_secs(180));
        assert!(*times.last().unwrap() < Duration::from_secs(181));
    }

    #[tokio::test(start_paused = true)]
    async fn the_hourly_limit_holds_too() {
        let limiter = RateLimiter::new(ApiLimits {
            per_minute: 100,
            per_hour: 150,
        });
        let start = Instant::now();
        for _ in 0..151 {
            limiter.acquire().await;
        }
        assert!(
            Instant::now() - start >= HOUR,
            "the 151st call waits for the hour"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_pauses_every_call() {
        let limiter = RateLimiter::new(ApiLimits {
            per_minute: 100,
            per_hour: 1500,
        });
        limiter.acquire().await;
        limiter.pause(Duration::from_secs(42)).await;
        let waited = limiter.acquire().await;
        assert_eq!(waited, Duration::from_secs(42));
    }
}
