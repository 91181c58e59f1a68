//! The resend window of a stream output: the most recent bytes written, resent after the
//! connection breaks.
//!
//! Syslog over TCP has no acknowledgement. A receiver that stops (a restart, a crash) drops
//! what was still in its socket buffer and in ours, and the sender cannot tell which records
//! those were. TCP flow control bounds how much that can be: never more than the sender's
//! send buffer plus the receiver's receive buffer (Linux allows at most 4 MiB + 6 MiB by
//! default). So after an unexpected break, the output writes the last `replay_window_bytes`
//! again before anything new: the receiver may see those records twice, but none is lost.

use std::collections::VecDeque;

use tokio::time::Instant;

/// One batch in the window.
#[derive(Debug)]
struct Held {
    bytes: Vec<u8>,
    records: usize,
    /// The output's sequence number of the batch.
    seq: u64,
    written_at: Instant,
}

/// The last batches written to the current stream, up to a byte limit.
#[derive(Debug)]
pub struct ResendWindow {
    limit: usize,
    /// Each batch, oldest first.
    batches: VecDeque<Held>,
    bytes: usize,
    /// The link broke since the window was last written out whole.
    pending: bool,
}

impl ResendWindow {
    /// A window of `limit` bytes; 0 keeps nothing.
    pub fn new(limit: usize) -> ResendWindow {
        ResendWindow {
            limit,
            batches: VecDeque::new(),
            bytes: 0,
            pending: false,
        }
    }

    /// Remembers batch `seq`, just written. The window keeps the fewest recent whole batches
    /// that add up to at least the limit, so it covers the limit and exceeds it by less than
    /// one batch. Returns the newest sequence number the window no longer holds, if this write
    /// pushed any batch out (with a zero limit: `seq` itself).
    pub fn written(&mut self, bytes: &[u8], records: usize, seq: u64) -> Option<u64> {
        if self.limit == 0 {
            return Some(seq);
        }
        // Drop the oldest batches the window does not need, keeping one buffer to reuse: at
        // full speed this copy runs for every batch.
        let mut spare = None;
        let mut left = None;
        while let Some(front) = self.batches.front() {
            if self.bytes - front.bytes.len() + bytes.len() < self.limit {
                break;
            }
            let Some(held) = self.batches.pop_front() else {
                break;
            };
            self.bytes -= held.bytes.len();
            left = Some(held.seq);
            spare = Some(held.bytes);
        }
        let mut buf = spare.unwrap_or_default();
        buf.clear();
        // Exactly: amortized growth of the reused buffers held up to twice the window.
        buf.reserve_exact(bytes.len());
        buf.extend_from_slice(bytes);
        self.bytes += buf.len();
        self.batches.push_back(Held {
            bytes: buf,
            records,
            seq,
            written_at: Instant::now(),
        });
        left
    }

    /// The receiver confirmed everything (it closed the connection cleanly after ours):
    /// nothing is kept to resend.
    pub fn clear(&mut self) {
        self.batches.clear();
        self.bytes = 0;
        self.pending = false;
    }

    /// The connection broke: the window must be written again first.
    pub fn broke(&mut self) {
        self.pending = !self.batches.is_empty();
    }

    /// What must be resent on a new connection before new batches, if anything.
    pub fn pending(&self) -> Option<impl Iterator<Item = &[u8]>> {
        self.pending
            .then(|| self.batches.iter().map(|h| h.bytes.as_slice()))
    }

    /// The window was written out on a new connection.
    pub fn resent(&mut self) {
        self.pending = false;
    }

    /// When the oldest batch held was written.
    pub fn oldest(&self) -> Option<Instant> {
        self.batches.front().map(|h| h.written_at)
    }

    /// Records and bytes in the window.
    pub fn size(&self) -> (usize, usize) {
        (self.batches.iter().map(|h| h.records).sum(), self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_whole_recent_batches_up_to_the_limit_and_says_what_left() {
        let mut w = ResendWindow::new(10);
        assert_eq!(w.written(b"aaaa", 1, 1), None);
        assert_eq!(w.written(b"bbbb", 2, 2), None);
        assert_eq!(w.size(), (3, 8));
        // Without "aaaa" only 8 bytes would be covered, under the limit: it stays.
        assert_eq!(w.written(b"cccc", 1, 3), None);
        assert_eq!(w.size(), (4, 12));
        // "bbbb" "cccc" "dd" still cover 10 bytes: "aaaa" goes, and batch 1 is confirmed.
        assert_eq!(w.written(b"dd", 1, 4), Some(1));
        assert_eq!(w.size(), (4, 10));
        assert_eq!(
            w.written(b"eeeeeeeeeeeeeeee", 4, 5),
            Some(4),
            "batches 2 to 4 all left at once"
        );
        assert_eq!(
            w.size(),
            (4, 16),
            "one batch over the limit is all that is kept"
        );
    }

    #[test]
    fn only_a_break_makes_it_pending() {
        let mut w = ResendWindow::new(100);
        assert!(w.pending().is_none());
        w.broke();
        assert!(w.pending().is_none(), "nothing written, nothing to resend");
        w.written(b"one", 1, 1);
        w.written(b"two", 1, 2);
        assert!(w.pending().is_none());
        w.broke();
        let again: Vec<&[u8]> = w.pending().unwrap().collect();
        assert_eq!(again, vec![&b"one"[..], &b"two"[..]]);
        w.resent();
        assert!(w.pending().is_none());
        w.broke();
        w.clear();
        assert!(
            w.pending().is_none(),
            "a confirmed window has nothing to resend"
        );
        assert_eq!(w.size(), (0, 0));
    }

    #[test]
    fn a_zero_limit_keeps_nothing() {
        let mut w = ResendWindow::new(0);
        assert_eq!(w.written(b"x", 1, 1), Some(1), "confirmed as it is written");
        w.broke();
        assert!(w.pending().is_none());
    }
}
