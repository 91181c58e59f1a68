//! Multi-line JSON documents (a pretty-printed page, array or alert, one after another)
//! streamed element by element, each element with the line it starts on.
//!
//! The structure around the elements is walked by `scan` (a page's members, its `value`
//! array, an array's elements), and each element is parsed from its text as an NDJSON line
//! is: memory holds one element (or one single alert) at a time, whatever the document's
//! size, and no value is built twice.

use std::io::{self, Read};

use super::scan::{Scanner, Syntax};
use super::{Item, MalformedAlert, Position, ReadError, describe, emit_read};
use crate::alert::{Alert, fast};

/// Why a document ended early.
enum Stop<E> {
    /// The consumer asked to stop.
    Consumer(E),
    /// Not JSON where the structure needed it (reported, and the rest skipped).
    Syntax {
        line: u64,
        column: u64,
        what: String,
    },
    Io(io::Error),
}

impl<E> From<io::Error> for Stop<E> {
    fn from(e: io::Error) -> Self {
        Stop::Io(e)
    }
}

/// Reads the documents of `input`, which starts at line `first_line`. `scope` names what a
/// syntax error ends ("this input", or "this line" for a line of NDJSON).
pub(super) fn read_documents<R, E, F>(
    input: R,
    first_line: u64,
    scope: &str,
    mut sink: F,
) -> Result<(), ReadError<E>>
where
    R: Read,
    F: FnMut(Item<'_>) -> Result<(), E>,
{
    let mut scanner = Scanner::new(input, first_line);
    loop {
        let result = document(&mut scanner, &mut sink);
        match result {
            Ok(true) => {}
            Ok(false) => return Ok(()),
            Err(Stop::Consumer(e)) => return Err(ReadError::Stopped(e)),
            Err(Stop::Io(e)) => return Err(ReadError::Io(e)),
            Err(Stop::Syntax { line, column, what }) => {
                let item = Item::Malformed(MalformedAlert {
                    position: Position { line, index: None },
                    id: None,
                    reason: format!(
                        "JSON syntax error at column {column}: {what}; the rest of {scope} is skipped"
                    ),
                    raw: None,
                });
                return sink(item).map_err(ReadError::Stopped);
            }
        }
    }
}

/// A syntax stop at the scanner's place.
fn syntax<R: Read, E>(s: &Scanner<R>, what: impl Into<String>) -> Stop<E> {
    Stop::Syntax {
        line: s.line,
        column: s.column(),
        what: what.into(),
    }
}

fn expect<R: Read, E>(s: &mut Scanner<R>, keep: &mut usize, want: u8) -> Result<(), Stop<E>> {
    match s.peek(keep)? {
        Some(b) if b == want => {
            s.consume();
            Ok(())
        }
        Some(b) => Err(syntax(
            s,
            format!("expected `{}`, found `{}`", char::from(want), char::from(b)),
        )),
        None => Err(syntax(
            s,
            format!("the input ends where `{}` was expected", char::from(want)),
        )),
    }
}

/// What follows a member or an element: `,` (false: another follows) or `close` (true: the
/// object or array ends there).
fn after_item<R: Read, E>(
    s: &mut Scanner<R>,
    keep: &mut usize,
    close: u8,
    item: &str,
    inside: &str,
) -> Result<bool, Stop<E>> {
    match s.peek(keep)? {
        Some(b',') => {
            s.consume();
            Ok(false)
        }
        Some(b) if b == close => {
            s.consume();
            Ok(true)
        }
        Some(b) => Err(syntax(
            s,
            format!(
                "expected `,` or `{}` after {item}, found `{}`",
                char::from(close),
                char::from(b)
            ),
        )),
        None => Err(syntax(s, format!("the input ends inside {inside}"))),
    }
}

/// One top-level document; false when there was none left.
fn document<R, E, F>(s: &mut Scanner<R>, sink: &mut F) -> Result<bool, Stop<E>>
where
    R: Read,
    F: FnMut(Item<'_>) -> Result<(), E>,
{
    let mut keep = s.pos;
    let Some(first) = s.peek(&mut keep)? else {
        return Ok(false);
    };
    match first {
        b'[' => {
            s.consume();
            elements(s, sink)?;
        }
        b'{' => object(s, sink)?,
        _ => {
            let line = s.line;
            let mut keep = s.pos;
            let (start, end) = s.value(&mut keep)?.map_err(|Syntax(w)| syntax(s, w))?;
            let what = match s.bytes(start, end).first() {
                Some(b'n') => "null",
                Some(b't' | b'f') => "a boolean",
                Some(b'"') => "a string",
                Some(b'-' | b'0'..=b'9') => "a number",
                _ => return Err(syntax(s, "expected a JSON value")),
            };
            let item = Item::Malformed(MalformedAlert {
                position: Position { line, index: None },
                id: None,
                reason: format!("expected an alert object, an array or a page, found {what}"),
                raw: None,
            });
            sink(item).map_err(Stop::Consumer)?;
        }
    }
    Ok(true)
}

/// A top-level object: a page (its `value` array's elements are handed out) or one alert (its
/// text, kept whole until its end, is).
fn object<R, E, F>(s: &mut Scanner<R>, sink: &mut F) -> Result<(), Stop<E>>
where
    R: Read,
    F: FnMut(Item<'_>) -> Result<(), E>,
{
    let line = s.line;
    let mut keep = s.pos;
    s.consume();
    let mut page = false;
    let mut first = true;
    loop {
        match s.peek(&mut keep)? {
            Some(b'}') if first => {
                s.consume();
                break;
            }
            Some(b'"') => {}
            Some(b) => {
                return Err(syntax(
                    s,
                    format!("expected a member name, found `{}`", char::from(b)),
                ));
            }
            None => return Err(syntax(s, "the input ends inside an object")),
        }
        first = false;
        let (ks, ke) = s.value(&mut keep)?.map_err(|Syntax(w)| syntax(s, w))?;
        let is_value = s.bytes(ks, ke) == b"\"value\"";
        expect(s, &mut keep, b':')?;
        match s.peek(&mut keep)? {
            Some(b'[') if is_value && !page => {
                // A page: its other members are not kept, nor the bytes before its elements.
                page = true;
                s.consume();
                elements(s, sink)?;
                keep = s.pos;
            }
            Some(_) if is_value => {
                return Err(syntax(s, "`value` is not an array of alerts"));
            }
            Some(_) => {
                s.value(&mut keep)?.map_err(|Syntax(w)| syntax(s, w))?;
                if page {
                    keep = s.pos;
                }
            }
            None => return Err(syntax(s, "the input ends inside an object")),
        }
        if after_item(s, &mut keep, b'}', "a member", "an object")? {
            break;
        }
    }
    if page {
        return Ok(());
    }
    // One alert: its text as it was written. Or a page after all, whose `value` member was
    // written with escapes (`"val\u0075e"`): read whole, as a page held in memory is.
    let position = Position { line, index: None };
    let bytes = s.bytes(keep, s.pos);
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => return not_utf8(bytes, e.valid_up_to(), position, sink),
    };
    let read = Alert::from_json(text);
    if read.as_ref().is_ok_and(Alert::is_page) {
        return super::read_page_text(text, line, super::PageShape::Page, sink)
            .map_err(Stop::Consumer);
    }
    settle(read, text, position, sink)
}

/// The elements of a page's `value` or of a top-level array, after its `[`.
fn elements<R, E, F>(s: &mut Scanner<R>, sink: &mut F) -> Result<(), Stop<E>>
where
    R: Read,
    F: FnMut(Item<'_>) -> Result<(), E>,
{
    let mut index = 0u64;
    let mut keep = s.pos;
    let mut guess = FIRST_GUESS;
    if s.peek(&mut keep)? == Some(b']') {
        s.consume();
        return Ok(());
    }
    loop {
        keep = s.pos;
        if s.peek(&mut keep)?.is_none() {
            return Err(syntax(s, "the input ends inside an array"));
        }
        keep = s.pos;
        let line = s.line;
        index += 1;
        let position = Position {
            line,
            index: Some(index),
        };
        if !parsed_in_place(s, position, &mut guess, sink)? {
            let (start, end) = s.value(&mut keep)?.map_err(|Syntax(w)| syntax(s, w))?;
            element_bytes(s.bytes(start, end), position, sink)?;
        }
        keep = s.pos;
        if after_item(s, &mut keep, b']', "an element", "an array")? {
            return Ok(());
        }
    }
}

/// How many bytes ahead the first element of an array is looked for; later ones a quarter more
/// than the last one's length, and at least [`LEAST_GUESS`]. A longer element doubles the
/// window until it fits.
const FIRST_GUESS: usize = 16 * 1024;
const LEAST_GUESS: usize = 1024;

/// The element at the scanner's place parsed where it lies, its end found by the parse itself:
/// one pass, as for an NDJSON line. False (nothing consumed) for what this cannot read: an
/// element that is not a well-formed alert, not UTF-8, or a page; the caller then finds its
/// end by scanning and reports it.
///
/// The window is checked as UTF-8 before it is parsed, so it follows the elements' size. It
/// used to be never under [`FIRST_GUESS`]: for 4 KB alerts that checked four times their bytes,
/// and made a one-line array 13-15 % slower to map than NDJSON. Twice the last element still
/// checked every byte twice (3.4 % of a pretty-printed array's profile; 2.5 % at a quarter
/// over); an array of alerts that serde reads maps in the same time with either.
fn parsed_in_place<R, E, F>(
    s: &mut Scanner<R>,
    position: Position,
    guess: &mut usize,
    sink: &mut F,
) -> Result<bool, Stop<E>>
where
    R: Read,
    F: FnMut(Item<'_>) -> Result<(), E>,
{
    enum Outcome<E> {
        Emitted(usize, Result<(), E>),
        NeedMore,
        No,
    }
    loop {
        let outcome = {
            let ahead = s.ahead();
            let window = &ahead[..ahead.len().min(*guess)];
            // The window may end inside a character: its complete part.
            let text = match std::str::from_utf8(window) {
                Ok(t) => t,
                Err(e) if e.error_len().is_none() => {
                    std::str::from_utf8(&window[..e.valid_up_to()]).unwrap_or_default()
                }
                Err(_) => return Ok(false),
            };
            match alert_prefix(text) {
                Some(Ok((alert, end))) => {
                    let item = Item::Alert(super::InputAlert {
                        alert,
                        raw: Some(&text[..end]),
                        position,
                    });
                    Outcome::Emitted(end, sink(item))
                }
                Some(Err(e)) if e.is_eof() => {
                    if window.len() < ahead.len() {
                        *guess = guess.saturating_mul(2);
                        continue;
                    }
                    Outcome::NeedMore
                }
                _ => Outcome::No,
            }
        };
        match outcome {
            Outcome::Emitted(end, result) => {
                s.skip(end);
                *guess = (end + end / 4).max(LEAST_GUESS);
                result.map_err(Stop::Consumer)?;
                return Ok(true);
            }
            Outcome::NeedMore => {
                if !s.read_ahead()? {
                    return Ok(false);
                }
            }
            Outcome::No => return Ok(false),
        }
    }
}

/// The alert at the start of `text` and where it ends: read by the alert model's own reader,
/// or by serde where that gives up (the text ends inside the element, or it is not a plain
/// alert), whose error then says which. `None` for a page.
fn alert_prefix(text: &str) -> Option<Result<(Alert<'_>, usize), serde_json::Error>> {
    if let Some(read) = fast::alert_prefix(text) {
        return Some(Ok(read));
    }
    let mut values = serde_json::Deserializer::from_str(text).into_iter::<Alert<'_>>();
    match values.next()? {
        Ok(alert) if alert.is_page() => None,
        Ok(alert) => Some(Ok((alert, values.byte_offset()))),
        Err(e) => Some(Err(e)),
    }
}

/// An element's bytes read as an alert, or refused when they are not UTF-8: JSON is UTF-8,
/// and an alert mapped with its damage replaced would reach the SIEM silently altered.
fn element_bytes<E, F>(bytes: &[u8], position: Position, sink: &mut F) -> Result<(), Stop<E>>
where
    F: FnMut(Item<'_>) -> Result<(), E>,
{
    match std::str::from_utf8(bytes) {
        Ok(text) => element(text, position, sink),
        Err(e) => not_utf8(bytes, e.valid_up_to(), position, sink),
    }
}

/// An element whose bytes are not UTF-8 from `bad` on: reported as malformed, with its id and
/// its text (the damage replaced by U+FFFD) for the dead letter; a syntax error in it still ends
/// the document, as in any element.
fn not_utf8<E, F>(bytes: &[u8], bad: usize, position: Position, sink: &mut F) -> Result<(), Stop<E>>
where
    F: FnMut(Item<'_>) -> Result<(), E>,
{
    let text = String::from_utf8_lossy(bytes);
    let id = match Alert::from_json(&text) {
        Err(e) if e.is_syntax() || e.is_eof() => return settle(Err(e), &text, position, sink),
        Ok(alert) => alert.id().map(str::to_owned),
        Err(_) => super::id_of(&text),
    };
    let lines_before = bytes[..bad].iter().filter(|&&b| b == b'\n').count() as u64;
    let reason = format!(
        "not UTF-8: byte {:#04x} at line {} (offset {bad} in the alert); JSON is UTF-8, \
         save the input as UTF-8",
        bytes[bad],
        position.line + lines_before
    );
    sink(Item::Malformed(MalformedAlert {
        position,
        id,
        reason,
        raw: Some(text.into_owned()),
    }))
    .map_err(Stop::Consumer)
}

/// Parses one element and hands it out; a syntax error inside it ends the document (as it
/// would have before: nothing after broken JSON can be trusted to start an alert).
fn element<E, F>(text: &str, position: Position, sink: &mut F) -> Result<(), Stop<E>>
where
    F: FnMut(Item<'_>) -> Result<(), E>,
{
    settle(Alert::from_json(text), text, position, sink)
}

/// [`element`] of a parse already made.
fn settle<'t, E, F>(
    read: Result<Alert<'t>, serde_json::Error>,
    text: &'t str,
    position: Position,
    sink: &mut F,
) -> Result<(), Stop<E>>
where
    F: FnMut(Item<'_>) -> Result<(), E>,
{
    match read {
        Err(e) if e.is_syntax() || e.is_eof() => Err(Stop::Syntax {
            line: position.line + u64::try_from(e.line()).unwrap_or(1) - 1,
            column: u64::try_from(e.column()).unwrap_or(0),
            what: describe(&e),
        }),
        Ok(alert) if alert.is_page() => sink(Item::Malformed(MalformedAlert {
            position,
            id: None,
            reason: "a page inside a page".into(),
            raw: None,
        }))
        .map_err(Stop::Consumer),
        read => emit_read(read, text, position, sink).map_err(Stop::Consumer),
    }
}
