//! The replay window of a stream output: the most recent bytes written, resent after the
//! connection breaks.
//!
//! Syslog over TCP has no acknowledgement. A receiver that stops (a restart, a crash) drops
//! what was still in its socket buffer and in ours, and the sender cannot tell which records
//! those were. TCP flow control bounds how much that can be: never more than the sender's
//! send buffer plus the receiver's receive buffer (Linux allows at most 4 MiB + 6 MiB by
//! default). So after an unexpected break, the output writes the last `replay_window_bytes`
//! again before anything new: the receiver may see those records twice, but none is lost.

use std::collections::VecDeque;

/// The last batches written to the current stream, up to a byte limit.
#[derive(Debug)]
pub struct ReplayWindow {
    limit: usize,
    /// (framed bytes, records) of each batch, oldest first.
    batches: VecDeque<(Vec<u8>, usize)>,
    bytes: usize,
    /// The link broke since the window was last written out whole.
    pending: bool,
}

impl ReplayWindow {
    /// A window of `limit` bytes; 0 keeps nothing.
    pub fn new(limit: usize) -> ReplayWindow {
        ReplayWindow {
            limit,
            batches: VecDeque::new(),
            bytes: 0,
            pending: false,
        }
    }

    /// Remembers a batch that was just written. The window keeps the fewest recent whole
    /// batches that add up to at least the limit, so it covers the limit and exceeds it by
    /// less than one batch.
    pub fn written(&mut self, bytes: &[u8], records: usize) {
        if self.limit == 0 {
            return;
        }
        // Drop the oldest batches the window does not need, keeping one buffer to reuse: at
        // full speed this copy runs for every batch.
        let mut spare = None;
        while let Some((front, _)) = self.batches.front() {
            if self.bytes - front.len() + bytes.len() < self.limit {
                break;
            }
            let Some((buf, _)) = self.batches.pop_front() else {
                break;
            };
            self.bytes -= buf.len();
            spare = Some(buf);
        }
        let mut buf = spare.unwrap_or_default();
        buf.clear();
        // Exactly: amortized growth of the reused buffers held up to twice the window.
        buf.reserve_exact(bytes.len());
        buf.extend_from_slice(bytes);
        self.bytes += buf.len();
        self.batches.push_back((buf, records));
    }

    /// The connection broke: the window must be written again first.
    pub fn broke(&mut self) {
        self.pending = !self.batches.is_empty();
    }

    /// What must be resent on a new connection before new batches, if anything.
    pub fn pending(&self) -> Option<impl Iterator<Item = &[u8]>> {
        self.pending
            .then(|| self.batches.iter().map(|(b, _)| b.as_slice()))
    }

    /// The window was written out on a new connection.
    pub fn resent(&mut self) {
        self.pending = false;
    }

    /// Records and bytes in the window.
    pub fn size(&self) -> (usize, usize) {
        (self.batches.iter().map(|(_, r)| r).sum(), self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_whole_recent_batches_up_to_the_limit() {
        let mut w = ReplayWindow::new(10);
        w.written(b"aaaa", 1);
        w.written(b"bbbb", 2);
        assert_eq!(w.size(), (3, 8));
        w.written(b"cccc", 1);
        // Without "aaaa" only 8 bytes would be covered, under the limit: it stays.
        assert_eq!(w.size(), (4, 12));
        w.written(b"dd", 1);
        // "bbbb" "cccc" "dd" still cover 10 bytes: "aaaa" goes.
        assert_eq!(w.size(), (4, 10));
        w.written(b"eeeeeeeeeeeeeeee", 4);
        assert_eq!(
            w.size(),
            (4, 16),
            "one batch over the limit is all that is kept"
        );
    }

    #[test]
    fn only_a_break_makes_it_pending() {
        let mut w = ReplayWindow::new(100);
        assert!(w.pending().is_none());
        w.broke();
        assert!(w.pending().is_none(), "nothing written, nothing to resend");
        w.written(b"one", 1);
        w.written(b"two", 1);
        assert!(w.pending().is_none());
        w.broke();
        let again: Vec<&[u8]> = w.pending().unwrap().collect();
        assert_eq!(again, vec![&b"one"[..], &b"two"[..]]);
        w.resent();
        assert!(w.pending().is_none());
    }

    #[test]
    fn a_zero_limit_keeps_nothing() {
        let mut w = ReplayWindow::new(0);
        w.written(b"x", 1);
        w.broke();
        assert!(w.pending().is_none());
    }
}
