//! Reading alerts from the forms users have them in: an API page `{"value":[...]}`, a JSON
//! array, one object, or NDJSON (one alert or page per line), from a file or a pipe.
//!
//! Input is streamed: NDJSON is read a line at a time and a pretty-printed page or array one
//! element at a time, so a file of any size is mapped in bounded memory. A malformed alert is
//! reported to the caller with its position (and id when it has one) and reading goes on; only
//! a JSON syntax error in a multi-line document ends that document, since nothing after it can
//! be trusted to start an alert.
//!
//! Beside this file (the model of what is read, the form of the input, NDJSON lines and each
//! element): `page` reads an API page held in memory, as the alerts client receives it, and
//! `stream` streams multi-line documents element by element.

use std::fmt;
use std::io::{self, BufRead, Read};

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use crate::alert::{Alert, Str};

/// Where an alert was found in its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 1-based line where the alert starts.
    pub line: u64,
    /// 1-based index inside a page or array; `None` for a top-level object or NDJSON line.
    pub index: Option<u64>,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(i) => write!(f, "line {}, alert #{}", self.line, i),
            None => write!(f, "line {}", self.line),
        }
    }
}

/// An alert read from the input, with the JSON text it came from.
#[derive(Debug)]
pub struct InputAlert<'a> {
    /// The alert, its strings borrowed from the input where they had no escapes.
    pub alert: Alert<'a>,
    /// The alert's JSON text, for the JSON output format (keeps fields the model does not know);
    /// `None` only from [`read_page`] when the caller did not ask for it.
    pub raw: Option<&'a str>,
    /// Where it was in the input.
    pub position: Position,
}

/// An alert (or what should have been one) that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct MalformedAlert {
    /// Where it was in the input.
    pub position: Position,
    /// The alert's id when it could still be found.
    pub id: Option<String>,
    /// What is wrong with it, such as serde's `invalid type: ... at line 1 column 42`.
    pub reason: String,
    /// The alert's JSON text when it was a complete JSON value (kept for dead letters).
    pub raw: Option<String>,
}

impl fmt::Display for MalformedAlert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.position)?;
        if let Some(id) = &self.id {
            write!(f, " (id {id})")?;
        }
        write!(f, ": malformed alert: {}", self.reason)
    }
}

/// What the reader hands to its caller, in input order.
// Boxing the alert would cost an allocation per alert on the hot path, for an enum that only
// ever lives on the stack for one call.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Item<'a> {
    /// An alert that was read.
    Alert(InputAlert<'a>),
    /// An element or line that should have been an alert and is not; reading went on.
    Malformed(MalformedAlert),
}

/// Why reading stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ReadError<E> {
    /// The input could not be read.
    #[error("read failed: {0}")]
    Io(#[from] io::Error),
    /// The caller's sink asked to stop (e.g. its output went away).
    #[error("stopped by the consumer")]
    Stopped(E),
}

/// Reads every alert of `input` and hands each, or the reason it is malformed, to `sink`.
///
/// The form is told from the first non-blank line: when it is a complete JSON value the input is
/// NDJSON (each line a complete alert, page or array; a bad line is reported and skipped);
/// otherwise the input is one or more multi-line JSON documents, streamed element by element.
/// A first line longer than [`FIRST_LINE_MAX`] (an API page saved on one line) is streamed as
/// a document too, so that memory holds one alert at a time, not the page.
pub fn read_alerts<R, E, F>(mut input: R, mut sink: F) -> Result<(), ReadError<E>>
where
    R: BufRead,
    F: FnMut(Item<'_>) -> Result<(), E>,
{
    let mut line = Vec::with_capacity(64 * 1024);
    let mut line_no = 0u64;
    loop {
        line.clear();
        if !read_line_at_most(&mut input, &mut line, FIRST_LINE_MAX)? {
            return Ok(());
        }
        line_no += 1;
        if line.len() >= FIRST_LINE_MAX && line.last() != Some(&b'\n') {
            return read_documents(io::Cursor::new(line).chain(input), line_no, INPUT, sink);
        }
        if !trim(&line).is_empty() {
            break;
        }
    }
    if serde_json::from_slice::<IgnoredAny>(trim(&line)).is_ok() {
        loop {
            read_line(trim(&line), line_no, &mut sink)?;
            loop {
                line.clear();
                if input.read_until(b'\n', &mut line)? == 0 {
                    return Ok(());
                }
                line_no += 1;
                if !trim(&line).is_empty() {
                    break;
                }
            }
        }
    }
    let first_line = line_no;
    read_documents(io::Cursor::new(line).chain(input), first_line, INPUT, sink)
}

/// What a syntax error in a streamed document ends.
const INPUT: &str = "this input";

/// The longest first line read whole to tell NDJSON from a document: longer, it is a page or
/// an array on one line (no alert is this long), and it is streamed.
pub const FIRST_LINE_MAX: usize = 4 << 20;

/// Appends bytes up to and including the next LF, or `max` bytes, whichever comes first; false
/// at the end of the input.
fn read_line_at_most(input: &mut impl BufRead, line: &mut Vec<u8>, max: usize) -> io::Result<bool> {
    let mut any = false;
    while line.len() < max {
        let available = match input.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            break;
        }
        any = true;
        let room = max - line.len();
        let (take, done) = match available.iter().take(room).position(|&b| b == b'\n') {
            Some(at) => (at + 1, true),
            None => (available.len().min(room), false),
        };
        line.extend_from_slice(&available[..take]);
        input.consume(take);
        if done {
            break;
        }
    }
    Ok(any)
}

fn trim(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

/// One NDJSON line: an alert, a page or an array.
///
/// A line that is not UTF-8 is streamed as a document is, so that only the alerts holding
/// the damage are refused: read whole, one bad byte cost every alert of a page saved on one
/// line.
fn read_line<E, F>(line: &[u8], line_no: u64, sink: &mut F) -> Result<(), ReadError<E>>
where
    F: FnMut(Item<'_>) -> Result<(), E>,
{
    // Validating UTF-8 once and parsing from `str` spares serde_json a check per string.
    let Ok(text) = std::str::from_utf8(line) else {
        return read_documents(line, line_no, "this line", sink);
    };
    let position = Position {
        line: line_no,
        index: None,
    };
    let read = if text.starts_with('[') {
        read_page_text(text, line_no, PageShape::Array, sink)
    } else {
        match Alert::from_json(text) {
            Ok(alert) if alert.is_page() => read_page_text(text, line_no, PageShape::Page, sink),
            read => emit_read(read, text, position, sink),
        }
    };
    read.map_err(ReadError::Stopped)
}

#[derive(Clone, Copy)]
enum PageShape {
    Page,
    Array,
}

/// A page or array held in memory: its elements are read one by one so that a bad alert is
/// reported on its own and the others still come through.
fn read_page_text<E, F>(text: &str, line_no: u64, shape: PageShape, sink: &mut F) -> Result<(), E>
where
    F: FnMut(Item<'_>) -> Result<(), E>,
{
    match page_elements(text, shape) {
        Ok(elements) => emit_elements(text, line_no, elements, sink),
        Err(e) => sink(Item::Malformed(MalformedAlert {
            position: Position {
                line: line_no + u64::try_from(e.line()).unwrap_or(1) - 1,
                index: None,
            },
            id: None,
            reason: format!("not a readable page: {}", describe(&e)),
            raw: None,
        })),
    }
}

/// The elements of a page's `value` (or of an array), each checked to be complete JSON: the
/// whole text must be well-formed for this to succeed.
fn page_elements(text: &str, shape: PageShape) -> Result<Vec<&RawValue>, serde_json::Error> {
    #[derive(Deserialize)]
    struct RawPage<'a> {
        #[serde(borrow)]
        value: Vec<&'a RawValue>,
    }
    match shape {
        PageShape::Page => serde_json::from_str::<RawPage>(text).map(|p| p.value),
        PageShape::Array => serde_json::from_str::<Vec<&RawValue>>(text),
    }
}

/// Hands each element of `text` (borrowed from it) to `sink` as an alert or a malformed one,
/// with the line it starts on.
fn emit_elements<E, F>(
    text: &str,
    line_no: u64,
    elements: Vec<&RawValue>,
    sink: &mut F,
) -> Result<(), E>
where
    F: FnMut(Item<'_>) -> Result<(), E>,
{
    let mut line = line_no;
    let mut consumed = 0usize;
    let bytes = text.as_bytes();
    let base = bytes.as_ptr() as usize;
    for (i, raw) in elements.into_iter().enumerate() {
        let element = raw.get();
        // Elements borrow from `text`, so their offset gives the line they start on.
        let start = (element.as_ptr() as usize)
            .saturating_sub(base)
            .min(bytes.len());
        if start >= consumed {
            line += bytes[consumed..start]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64;
            consumed = start;
        }
        let position = Position {
            line,
            index: Some(i as u64 + 1),
        };
        emit_element(element, position, sink)?;
    }
    Ok(())
}

fn emit_element<E, F>(text: &str, position: Position, sink: &mut F) -> Result<(), E>
where
    F: FnMut(Item<'_>) -> Result<(), E>,
{
    match Alert::from_json(text) {
        Ok(alert) if alert.is_page() => sink(Item::Malformed(MalformedAlert {
            position,
            id: None,
            reason: "a page inside a page".into(),
            raw: None,
        })),
        read => emit_read(read, text, position, sink),
    }
}

/// `text` read as an alert, or as a malformed one with why it is not.
fn emit_read<'t, E, F>(
    read: Result<Alert<'t>, serde_json::Error>,
    text: &'t str,
    position: Position,
    sink: &mut F,
) -> Result<(), E>
where
    F: FnMut(Item<'_>) -> Result<(), E>,
{
    match read {
        Ok(alert) => sink(Item::Alert(InputAlert {
            alert,
            raw: Some(text),
            position,
        })),
        Err(e) => sink(Item::Malformed(MalformedAlert {
            position,
            id: id_of(text),
            reason: describe(&e),
            raw: Some(text.to_owned()),
        })),
    }
}

/// The `id` of something that failed to read as an alert, if it is still visible.
fn id_of(text: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct IdOnly<'a> {
        #[serde(borrow, default)]
        id: Option<Str<'a>>,
    }
    serde_json::from_str::<IdOnly>(text)
        .ok()
        .and_then(|o| o.id)
        .map(|s| s.0.into_owned())
}

/// serde_json's message without its trailing "at line L column C" (positions are ours).
fn describe(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(at) => s[..at].to_owned(),
        None => s,
    }
}

mod page;
mod scan;
mod stream;
pub use page::{NotAPage, PageError, PageInfo, quote_start, read_page};
use stream::read_documents;

#[cfg(test)]
mod tests;
