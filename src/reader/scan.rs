//! Finding where JSON values end in a byte stream, without building them: the structure of a
//! multi-line document (a page's members, its `value` array, an array's elements) is walked
//! here byte by byte, and each element is handed over as text to be parsed like an NDJSON line
//! (issue 21: serde_json's `from_reader` with a `RawValue` per element took 4.6 times as long).
//!
//! Only the structure around the elements is checked here; an element itself is checked by
//! the parse that reads it.

use std::io::{self, Read};

/// Input read in chunks, kept from the earliest byte still needed.
pub(super) struct Scanner<R> {
    input: R,
    /// Held input, `buf[..filled]`; the bytes after it are room for the next read, zeroed
    /// once when the buffer grows (zeroing it for every read was 1 % of the samples of
    /// mapping a pretty-printed array).
    buf: Vec<u8>,
    filled: usize,
    /// The next byte to look at, in `buf`.
    pub(super) pos: usize,
    /// Bytes dropped from the front of `buf` so far: `dropped + pos` is the offset in the input.
    dropped: u64,
    /// The line of `buf[pos]` (1-based), and the input offset its line starts at.
    pub(super) line: u64,
    line_start: u64,
    eof: bool,
}

/// Something that is not JSON where the structure needs it, in words.
#[derive(Debug)]
pub(super) struct Syntax(pub(super) String);

const CHUNK: usize = 256 * 1024;

impl<R: Read> Scanner<R> {
    pub(super) fn new(input: R, first_line: u64) -> Scanner<R> {
        Scanner {
            input,
            buf: Vec::new(),
            filled: 0,
            pos: 0,
            dropped: 0,
            line: first_line,
            line_start: 0,
            eof: false,
        }
    }

    /// The 1-based column of `buf[pos]`.
    pub(super) fn column(&self) -> u64 {
        self.dropped + self.pos as u64 - self.line_start + 1
    }

    /// Reads more input, dropping the bytes before `keep` (an index into `buf`; the caller's
    /// indices move down by the returned amount). False at the end of the input.
    fn more(&mut self, keep: usize) -> io::Result<(bool, usize)> {
        if self.eof {
            return Ok((false, 0));
        }
        // Dropping what is no longer needed when it is at least half of what is held keeps
        // the copies amortised and memory at about twice the longest value.
        let drop = keep.min(self.pos);
        let drop = if drop > 0 && drop * 2 >= self.filled {
            self.buf.copy_within(drop..self.filled, 0);
            self.filled -= drop;
            self.pos -= drop;
            self.dropped += drop as u64;
            drop
        } else {
            0
        };
        let len = self.filled;
        if self.buf.len() < len + CHUNK {
            self.buf.resize(len + CHUNK, 0);
        }
        let n = loop {
            match self.input.read(&mut self.buf[len..len + CHUNK]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        self.filled = len + n;
        if n == 0 {
            self.eof = true;
        }
        Ok((n > 0, drop))
    }

    /// The input held.
    #[inline]
    fn held(&self) -> &[u8] {
        &self.buf[..self.filled]
    }

    /// Steps over `buf[pos]`, counting a newline.
    #[inline]
    fn step(&mut self, b: u8) {
        self.pos += 1;
        if b == b'\n' {
            self.line += 1;
            self.line_start = self.dropped + self.pos as u64;
        }
    }

    /// The next byte that is not whitespace (not consumed); `None` at the end of the input.
    /// `keep` as for [`Self::more`], adjusted in place.
    pub(super) fn peek(&mut self, keep: &mut usize) -> io::Result<Option<u8>> {
        loop {
            while let Some(&b) = self.held().get(self.pos) {
                if matches!(b, b' ' | b'\t' | b'\r' | b'\n') {
                    self.step(b);
                } else {
                    return Ok(Some(b));
                }
            }
            let (read, dropped) = self.more(*keep)?;
            *keep -= dropped;
            if !read {
                return Ok(None);
            }
        }
    }

    /// Consumes the byte [`Self::peek`] returned.
    pub(super) fn consume(&mut self) {
        if let Some(&b) = self.held().get(self.pos) {
            self.step(b);
        }
    }

    /// Scans one value starting at `pos` (a string, an object, an array or a scalar) and
    /// returns where it starts and ends in `buf`. The value's bytes stay in `buf` until the
    /// next call that reads more with a later `keep`.
    pub(super) fn value(&mut self, keep: &mut usize) -> io::Result<Result<(usize, usize), Syntax>> {
        let mut start = self.pos;
        let mut depth = 0u32;
        let mut in_string = false;
        let mut escaped = false;
        let scalar = !matches!(self.held().get(self.pos), Some(b'{' | b'[' | b'"'));
        loop {
            while let Some(&b) = self.held().get(self.pos) {
                if in_string {
                    if escaped {
                        escaped = false;
                    } else if b == b'\\' {
                        escaped = true;
                    } else if b == b'"' {
                        in_string = false;
                        if depth == 0 {
                            self.step(b);
                            return Ok(Ok((start, self.pos)));
                        }
                    } else if b == b'\n' {
                        return Ok(Err(Syntax("a line break inside a string".into())));
                    } else {
                        // Most of an alert is the inside of strings: jump to where one may end.
                        // (A raw line break inside is invalid JSON the element's parse reports.)
                        let rest = &self.held()[self.pos..];
                        self.pos += memchr::memchr2(b'"', b'\\', rest).unwrap_or(rest.len());
                        continue;
                    }
                    self.pos += 1;
                    continue;
                }
                if scalar {
                    if matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\r' | b'\n') {
                        return Ok(Ok((start, self.pos)));
                    }
                    self.pos += 1;
                    continue;
                }
                match b {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            self.step(b);
                            return Ok(Ok((start, self.pos)));
                        }
                    }
                    _ => {}
                }
                self.step(b);
            }
            let (read, dropped) = self.more((*keep).min(start))?;
            *keep -= dropped.min(*keep);
            start -= dropped;
            if !read {
                return Ok(if scalar && self.pos > start {
                    Ok((start, self.pos))
                } else {
                    Err(Syntax("the input ends inside a value".into()))
                });
            }
        }
    }

    /// The bytes `start..end` of `buf`.
    pub(super) fn bytes(&self, start: usize, end: usize) -> &[u8] {
        &self.held()[start..end]
    }

    /// The bytes read and not yet looked at.
    pub(super) fn ahead(&self) -> &[u8] {
        &self.held()[self.pos..]
    }

    /// Reads more input, keeping everything from `pos`; false at the end of the input.
    pub(super) fn read_ahead(&mut self) -> io::Result<bool> {
        Ok(self.more(self.pos)?.0)
    }

    /// Steps over `n` bytes that were read as a value, counting their line breaks.
    pub(super) fn skip(&mut self, n: usize) {
        let bytes = &self.held()[self.pos..self.pos + n];
        // The last break found from the end, and the count by a loop the compiler vectorises:
        // a search per break, as before, cost 10 % of mapping a pretty-printed array, where
        // every member has a line of its own.
        if let Some(last) = memchr::memrchr(b'\n', bytes) {
            let breaks = |block: &[u8]| block.iter().fold(0u8, |n, &b| n + u8::from(b == b'\n'));
            // Sums of at most 128 in a byte, over blocks whose length is a multiple of the
            // vector loop's: blocks of 255 left 127 bytes of each to a loop of 4 at a time.
            let mut blocks = bytes[..=last].chunks_exact(128);
            let count = blocks
                .by_ref()
                .map(|b| usize::from(breaks(b)))
                .sum::<usize>()
                + usize::from(breaks(blocks.remainder()));
            self.line += count as u64;
            self.line_start = self.dropped + (self.pos + last + 1) as u64;
        }
        self.pos += n;
    }
}
