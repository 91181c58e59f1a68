//! Response bodies: a list of chunks with an exact length, and the buffers big pages are written
//! into, reused from page to page.
//!
//! A 40 MB page written into one fresh buffer costs a page fault per 4 KB on both the write and
//! (after it is freed) the next page; chunks of about 1 MB from a pool are written into memory
//! that is already mapped.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use hyper::body::{Body, Bytes, Frame, SizeHint};

/// A page is cut into chunks of about this size.
const CHUNK: usize = 1 << 20;
/// Buffers kept for reuse (a page of 10,000 alerts of 4.6 KB takes about 45).
const POOLED: usize = 64;

/// A response body: chunks sent in order, `Content-Length` their total.
#[derive(Debug, Default)]
pub(crate) struct Chunks {
    chunks: VecDeque<Bytes>,
    left: u64,
}

impl Chunks {
    pub(crate) fn one(bytes: Bytes) -> Self {
        let mut c = Chunks::default();
        c.push(bytes);
        c
    }

    /// The body's length in bytes.
    pub(crate) fn byte_len(&self) -> u64 {
        self.left
    }

    /// The first `keep` bytes, still in chunks: slices of the same buffers, not copies, as a
    /// truncated page may be tens of MB.
    pub(crate) fn prefix(self, keep: u64) -> Vec<Bytes> {
        let mut left = keep;
        let mut out = Vec::new();
        for chunk in self.chunks {
            if left == 0 {
                break;
            }
            let take = usize::try_from(left).map_or(chunk.len(), |l| l.min(chunk.len()));
            out.push(chunk.slice(..take));
            left -= take as u64;
        }
        out
    }

    fn push(&mut self, bytes: Bytes) {
        if !bytes.is_empty() {
            self.left += bytes.len() as u64;
            self.chunks.push_back(bytes);
        }
    }
}

impl Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        Poll::Ready(this.chunks.pop_front().map(|c| {
            this.left -= c.len() as u64;
            Ok(Frame::data(c))
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

/// Page buffers given back once hyper has sent them.
#[derive(Debug, Default)]
pub(crate) struct Pool(Mutex<Vec<Vec<u8>>>);

impl Pool {
    fn take(&self) -> Vec<u8> {
        let reused = self.0.lock().unwrap_or_else(|e| e.into_inner()).pop();
        reused.unwrap_or_else(|| Vec::with_capacity(CHUNK + CHUNK / 8))
    }
}

/// A pooled buffer inside a `Bytes`: back to the pool when the `Bytes` is dropped.
struct Pooled {
    buf: Vec<u8>,
    pool: Arc<Pool>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let mut pool = self.pool.0.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < POOLED && buf.capacity() <= 4 * CHUNK {
            pool.push(buf);
        }
    }
}

/// Writes a body in pooled chunks: each piece written through [`PageWriter::buf`] goes whole
/// into one chunk.
pub(crate) struct PageWriter {
    pool: Arc<Pool>,
    current: Vec<u8>,
    body: Chunks,
}

impl PageWriter {
    pub(crate) fn new(pool: &Arc<Pool>) -> Self {
        PageWriter {
            pool: pool.clone(),
            current: pool.take(),
            body: Chunks::default(),
        }
    }

    /// The buffer to append the next piece to.
    pub(crate) fn buf(&mut self) -> &mut Vec<u8> {
        if self.current.len() >= CHUNK {
            self.seal();
            self.current = self.pool.take();
        }
        &mut self.current
    }

    fn seal(&mut self) {
        let buf = std::mem::take(&mut self.current);
        let pool = self.pool.clone();
        self.body.push(Bytes::from_owner(Pooled { buf, pool }));
    }

    pub(crate) fn finish(mut self) -> Chunks {
        self.seal();
        self.body
    }
}
