//! The connection keys of an `[[output]]` (timeouts, reconnect backoff, queue, replay window):
//! their bounds and defaults, and the settings they become.

use std::ops::RangeInclusive;
use std::time::Duration;

use super::{MIB, OutputConfigError, RawOutput};

/// Timeouts and retry pacing of a connection-oriented output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConnectionSettings {
    /// One connection attempt, DNS, TCP and TLS handshake together (`connect_timeout`,
    /// 1ms–1h; default 10s).
    pub connect_timeout: Duration,
    /// A write (and flush) of one batch that takes longer fails, and the batch is retried.
    pub write_timeout: Duration,
    /// How long one batch is retried (reconnecting) before it is reported undelivered.
    pub delivery_timeout: Duration,
    /// The first wait between connection attempts, doubled (with jitter) after each failure
    /// (`reconnect_backoff`, 1ms–1h; default 500ms).
    pub backoff_min: Duration,
    /// The longest wait between attempts (`reconnect_backoff_max`, 1ms–1h; default 30s).
    pub backoff_max: Duration,
    /// Batches waiting for the connection; the sender waits when it is full.
    pub queue: usize,
    /// TCP/TLS: bytes resent after the connection breaks (see [`crate::transport::resend`]).
    pub replay_window_bytes: usize,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        ConnectionSettings {
            connect_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            delivery_timeout: Duration::from_secs(60),
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            queue: 8,
            replay_window_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Each place in the queue holds a batch of up to `batch_max_bytes`; the sender blocks when it
/// is full. 0 is refused rather than raised: a channel needs one place, and a file that says 0
/// (perhaps meaning "no queue") should not silently get something else.
const QUEUE: RangeInclusive<usize> = 1..=1024;
/// The window is kept in memory (up to twice, while its buffers are reused) to cover what the
/// two socket buffers can hold after a break (Linux: at most 4 + 6 MiB by default); 1 GiB covers
/// even tuned buffers many times over.
const REPLAY_WINDOW_BYTES: RangeInclusive<usize> = 0..=1024 * MIB;

const MS: Duration = Duration::from_millis(1);
const HOUR: Duration = Duration::from_secs(3600);
/// Bounds of the connection's durations, `(min, max)`. None may be zero (a timeout of zero
/// fails every attempt; a backoff of zero spins), and the maxima keep `Instant::now() + d` in
/// the sender from overflowing. An hour to connect or write, or between two attempts, is
/// already a broken receiver; a batch may be retried for a day (a SIEM's maintenance window).
const CONNECT_TIMEOUT: (Duration, Duration) = (MS, HOUR);
const WRITE_TIMEOUT: (Duration, Duration) = (MS, HOUR);
const DELIVERY_TIMEOUT: (Duration, Duration) = (MS, Duration::from_secs(86_400));
const BACKOFF: (Duration, Duration) = (MS, HOUR);

/// The connection keys of the output, checked.
impl RawOutput {
    /// The timeouts, backoff, queue and replay window of the connection.
    pub(super) fn connection(&self) -> Result<ConnectionSettings, OutputConfigError> {
        let d = ConnectionSettings::default();
        let connection = ConnectionSettings {
            connect_timeout: self.duration(
                "connect_timeout",
                &self.connect_timeout,
                d.connect_timeout,
                CONNECT_TIMEOUT,
            )?,
            write_timeout: self.duration(
                "write_timeout",
                &self.write_timeout,
                d.write_timeout,
                WRITE_TIMEOUT,
            )?,
            delivery_timeout: self.duration(
                "delivery_timeout",
                &self.delivery_timeout,
                d.delivery_timeout,
                DELIVERY_TIMEOUT,
            )?,
            backoff_min: self.duration(
                "reconnect_backoff",
                &self.reconnect_backoff,
                d.backoff_min,
                BACKOFF,
            )?,
            backoff_max: self.duration(
                "reconnect_backoff_max",
                &self.reconnect_backoff_max,
                d.backoff_max,
                BACKOFF,
            )?,
            queue: self.number("queue", self.queue, d.queue, QUEUE)?,
            replay_window_bytes: self.number(
                "replay_window_bytes",
                self.replay_window_bytes,
                d.replay_window_bytes,
                REPLAY_WINDOW_BYTES,
            )?,
        };
        if connection.backoff_max < connection.backoff_min {
            return Err(self.err(
                "reconnect_backoff_max",
                "must be at least reconnect_backoff",
            ));
        }
        Ok(connection)
    }
}
