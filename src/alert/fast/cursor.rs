//! A place in JSON text, read forward: whitespace, objects and arrays, strings (borrowed
//! unless they have escapes), and values skipped as serde_json checks what it skips. Every
//! reader returns `None` where the text is not what it expects, and the caller gives up.

use std::borrow::Cow;

use serde::Deserialize;

/// A place in JSON text, read forward.
pub(crate) struct Cursor<'a> {
    pub(super) text: &'a str,
    pub(super) pos: usize,
    /// Where an escaped string is decoded before it is copied out at its exact length. Growing
    /// each string in place instead meant a `realloc` per long one, which glibc serves under its
    /// arena lock (never from the thread's cache): with the forwarder's threads reading pages at
    /// once, that was 7x the context switches and a 20 % slower replay.
    scratch: String,
    /// For each kind of object, the row of the member that followed each row's member last
    /// time (`BEFORE_FIRST`'s: the first member); see `members_into!`.
    member_after: [[u8; ROWS]; KINDS],
}

/// The kinds of object and the rows of each that [`Cursor::member_after`] keeps.
const KINDS: usize = 6;
const ROWS: usize = 64;
/// The row "before the first member".
pub(super) const BEFORE_FIRST: u32 = ROWS as u32 - 1;
/// The row of a member not listed.
pub(super) const NOT_LISTED: u32 = u32::MAX;

/// At first, each row's next is the row after it: rows are listed in the API's order.
const IN_ORDER: [[u8; ROWS]; KINDS] = {
    let mut rows = [0u8; ROWS];
    let mut i = 0;
    while i < ROWS - 1 {
        rows[i] = i as u8 + 1;
        i += 1;
    }
    [rows; KINDS]
};

/// The first byte at or after `from` that ends a string's plain run: `"`, `\\`, or a control
/// character (which JSON forbids raw in a string). The first bytes eight at a time (most of an
/// alert's strings are short: names, enums, ids, where a vector search's setup costs more than
/// it saves), the rest of a long one with a vector search.
#[inline]
fn string_stop(bytes: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const SHORT: usize = 32;
    // Sets the high bit of the lowest byte of `v` that is zero (bits above it may be set
    // spuriously by the borrow, never below: the lowest is exact).
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let rest = bytes.get(from..)?;
    let head = &rest[..rest.len().min(SHORT)];
    let mut chunks = head.chunks_exact(8);
    for (i, chunk) in chunks.by_ref().enumerate() {
        let Ok(chunk) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let chunk = u64::from_le_bytes(chunk);
        let below_space = chunk.wrapping_sub(ONES * 0x20) & !chunk & HIGH;
        let stops = zero(chunk ^ (ONES * u64::from(b'"')))
            | zero(chunk ^ (ONES * u64::from(b'\\')))
            | below_space;
        if stops != 0 {
            return Some(from + i * 8 + (stops.trailing_zeros() / 8) as usize);
        }
    }
    let stop = |b: &u8| *b == b'"' || *b == b'\\' || *b < 0x20;
    let tail = chunks.remainder();
    if let Some(found) = tail.iter().position(stop) {
        return Some(from + (head.len() - tail.len()) + found);
    }
    let long = from + head.len();
    let end = memchr::memchr2(b'"', b'\\', &bytes[long..]).map_or(bytes.len(), |p| long + p);
    let span = &bytes[long..end];
    // A fold, not `any`: a vector loop with no early exit, and a control character is rare.
    if span.iter().fold(false, |found, &b| found | (b < 0x20)) {
        return span.iter().position(stop).map(|p| long + p);
    }
    (end < bytes.len()).then_some(end)
}

/// Deeper than this inside a value the model does not know, the fast path gives up: skipping
/// recurses, and hostile input must not exhaust the stack. serde skips such a value without
/// recursing, and reads it.
const SKIP_DEPTH: u32 = 64;

fn hex4(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |value, &d| {
        Some(value * 16 + char::from(d).to_digit(16)?)
    })
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Cursor {
            text,
            pos: 0,
            scratch: String::new(),
            member_after: IN_ORDER,
        }
    }

    /// Where the cursor is, in bytes from the start of the text.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Skips JSON whitespace.
    #[inline]
    pub(crate) fn ws(&mut self) {
        let bytes = self.text.as_bytes();
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    /// The next byte that is not whitespace.
    #[inline]
    pub(crate) fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.text.as_bytes().get(self.pos).copied()
    }

    #[inline]
    pub(super) fn eat(&mut self, want: u8) -> Option<()> {
        (self.peek()? == want).then(|| self.pos += 1)
    }

    /// `word` (`null`, `true`, `false`) at the cursor.
    pub(super) fn word(&mut self, word: &str) -> Option<()> {
        self.text.as_bytes()[self.pos..]
            .starts_with(word.as_bytes())
            .then(|| self.pos += word.len())
    }

    /// An object's members: `each` is called with each member's name, the cursor on its value,
    /// and must read the value. Names with escapes are given up on.
    pub(crate) fn members(
        &mut self,
        mut each: impl FnMut(&mut Self, &'a str) -> Option<()>,
    ) -> Option<()> {
        self.delimited(b'{', b'}', |c| {
            if c.peek()? != b'"' {
                return None;
            }
            let name = c.name()?;
            c.eat(b':')?;
            each(c, name)
        })
    }

    /// The row guessed to come after row `last` in an object of kind `kind`.
    #[inline(always)]
    pub(super) fn member_after(&self, kind: usize, last: u32) -> u32 {
        u32::from(self.member_after[kind][last as usize % ROWS])
    }

    /// Row `found` came after row `last` (a member not listed teaches nothing).
    #[inline(always)]
    pub(super) fn learn_member_after(&mut self, kind: usize, last: u32, found: u32) {
        if let Ok(found) = u8::try_from(found) {
            self.member_after[kind][last as usize % ROWS] = found;
        }
    }

    /// Steps over the member name at the cursor (on its `"`) when it is `name`, written
    /// without escapes; false, and nothing consumed, when it is not.
    #[inline(always)]
    pub(super) fn name_is(&mut self, name: &str) -> bool {
        let rest = &self.text.as_bytes()[self.pos + 1..];
        let found =
            rest.get(..name.len()) == Some(name.as_bytes()) && rest.get(name.len()) == Some(&b'"');
        if found {
            self.pos += name.len() + 2;
        }
        found
    }

    /// An array's elements: `each` is called with the cursor on each and must read it.
    pub(crate) fn elements(&mut self, each: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.delimited(b'[', b']', each)
    }

    /// `open`, items separated by commas, `close`: `item` reads each (the cursor on it), and
    /// the brackets and commas around them are checked here.
    #[inline]
    fn delimited(
        &mut self,
        open: u8,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<()> {
        self.eat(open)?;
        if self.peek()? == close {
            self.pos += 1;
            return Some(());
        }
        loop {
            item(self)?;
            match self.peek()? {
                b',' => self.pos += 1,
                b if b == close => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A value read by serde_json (a page's count, an alert this path gives up on).
    pub(crate) fn serde_value<T: Deserialize<'a>>(&mut self) -> Option<T> {
        let mut values = serde_json::Deserializer::from_str(&self.text[self.pos..]).into_iter();
        let value = values.next()?.ok()?;
        self.pos += values.byte_offset();
        Some(value)
    }
    /// A member name at the cursor (on its `"`); one with escapes is given up on.
    #[inline]
    pub(super) fn name(&mut self) -> Option<&'a str> {
        let start = self.pos + 1;
        let end = string_stop(self.text.as_bytes(), start)?;
        if self.text.as_bytes()[end] != b'"' {
            return None;
        }
        self.pos = end + 1;
        self.text.get(start..end)
    }

    /// A string at the cursor (on its `"`): its text, borrowed when it has no escapes.
    #[inline]
    pub(super) fn string(&mut self) -> Option<Cow<'a, str>> {
        let bytes = self.text.as_bytes();
        let start = self.pos + 1;
        let end = string_stop(bytes, start)?;
        match bytes[end] {
            b'"' => {
                self.pos = end + 1;
                Some(Cow::Borrowed(&self.text[start..end]))
            }
            b'\\' => self.escaped(start, end).map(Cow::Owned),
            _ => None,
        }
    }

    /// The rest of a string from its first escape at `at`, decoded (rare: kept out of line so
    /// that [`Self::string`] stays small). A bad escape, or a
    /// surrogate that is not half of a pair, is given up on (serde refuses both).
    #[cold]
    #[inline(never)]
    pub(super) fn escaped(&mut self, start: usize, mut at: usize) -> Option<String> {
        let bytes = self.text.as_bytes();
        let out = &mut self.scratch;
        out.clear();
        out.push_str(&self.text[start..at]);
        loop {
            let escape = *bytes.get(at + 1)?;
            at += 2;
            let decoded = match escape {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => {
                    let high = hex4(bytes.get(at..at + 4)?)?;
                    at += 4;
                    if (0xD800..0xDC00).contains(&high) {
                        if bytes.get(at..at + 2)? != b"\\u" {
                            return None;
                        }
                        let low = hex4(bytes.get(at + 2..at + 6)?)?;
                        if !(0xDC00..0xE000).contains(&low) {
                            return None;
                        }
                        at += 6;
                        char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))?
                    } else {
                        char::from_u32(high)?
                    }
                }
                _ => return None,
            };
            out.push(decoded);
            let next = string_stop(bytes, at)?;
            out.push_str(&self.text[at..next]);
            at = next;
            match bytes[at] {
                b'"' => {
                    self.pos = at + 1;
                    return Some(out.as_str().to_owned());
                }
                b'\\' => {}
                _ => return None,
            }
        }
    }

    /// Skips a string, checking it as serde_json does when it skips one: raw control
    /// characters and unknown escapes are errors, `\u` needs four hex digits.
    fn skip_string(&mut self) -> Option<()> {
        let bytes = self.text.as_bytes();
        let mut at = self.pos + 1;
        loop {
            at = string_stop(bytes, at)?;
            match bytes[at] {
                b'"' => {
                    self.pos = at + 1;
                    return Some(());
                }
                b'\\' => match *bytes.get(at + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => at += 2,
                    b'u' => {
                        hex4(bytes.get(at + 2..at + 6)?)?;
                        at += 6;
                    }
                    _ => return None,
                },
                _ => return None,
            }
        }
    }

    /// Skips a number, checking JSON's grammar for one.
    fn skip_number(&mut self) -> Option<()> {
        let bytes = self.text.as_bytes();
        let digits = |at: usize| {
            bytes[at..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count()
        };
        let mut at = self.pos;
        if bytes.get(at) == Some(&b'-') {
            at += 1;
        }
        match bytes.get(at)? {
            b'0' => at += 1,
            b'1'..=b'9' => at += digits(at),
            _ => return None,
        }
        if bytes.get(at) == Some(&b'.') {
            let n = digits(at + 1);
            if n == 0 {
                return None;
            }
            at += 1 + n;
        }
        if let Some(b'e' | b'E') = bytes.get(at) {
            at += 1;
            if let Some(b'+' | b'-') = bytes.get(at) {
                at += 1;
            }
            let n = digits(at);
            if n == 0 {
                return None;
            }
            at += n;
        }
        self.pos = at;
        Some(())
    }

    /// Skips a value the model does not know, checking that it is well-formed JSON.
    pub(crate) fn skip(&mut self) -> Option<()> {
        self.skip_nested(0)
    }

    fn skip_nested(&mut self, depth: u32) -> Option<()> {
        if depth > SKIP_DEPTH {
            return None;
        }
        match self.peek()? {
            b'"' => self.skip_string(),
            b'[' => self.elements(|c| c.skip_nested(depth + 1)),
            b'{' => self.delimited(b'{', b'}', |c| {
                if c.peek()? != b'"' {
                    return None;
                }
                c.skip_string()?;
                c.eat(b':')?;
                c.skip_nested(depth + 1)
            }),
            b'n' => self.word("null"),
            b't' => self.word("true"),
            b'f' => self.word("false"),
            b'-' | b'0'..=b'9' => self.skip_number(),
            _ => None,
        }
    }
}
