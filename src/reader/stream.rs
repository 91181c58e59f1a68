//! Multi-line JSON documents (a pretty-printed page, array or alert, one after another)
//! streamed element by element through serde_json, each element with the line it starts on.

use std::cell::Cell;
use std::fmt;
use std::io::{self, Read};
use std::rc::Rc;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::{Item, MalformedAlert, Position, ReadError, describe, emit_element};

/// Counts the newlines that the JSON deserializer has consumed, so elements get line numbers.
struct LineCounter<R> {
    inner: R,
    newlines: Rc<Cell<u64>>,
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let nl = buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        self.newlines.set(self.newlines.get() + nl);
        Ok(n)
    }
}

/// Shared state of a streaming read: the consumer, and its error if it asked to stop.
struct Stream<'s, E, F> {
    sink: &'s mut F,
    stopped: Option<E>,
    newlines: Rc<Cell<u64>>,
    first_line: u64,
}

impl<E, F> Stream<'_, E, F>
where
    F: FnMut(Item<'_>) -> Result<(), E>,
{
    fn line_now(&self) -> u64 {
        self.first_line + self.newlines.get()
    }

    fn emit(&mut self, item: Item<'_>) -> Result<(), StopSignal> {
        match (self.sink)(item) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.stopped = Some(e);
                Err(StopSignal)
            }
        }
    }

    /// Hands one element to the consumer; `position` says where it started.
    fn element<D: de::Error>(&mut self, text: &str, position: Position) -> Result<(), D> {
        emit_element(text, position, &mut |item| self.emit(item)).map_err(|_| D::custom(STOPPED))
    }

    /// Where an element that was just read started: count back the newlines inside it.
    fn start_of(&self, text: &str) -> u64 {
        self.line_now() - text.bytes().filter(|&b| b == b'\n').count() as u64
    }
}

#[derive(Debug)]
struct StopSignal;
const STOPPED: &str = "siemfwd: consumer stopped";

pub(super) fn read_documents<R, E, F>(
    input: R,
    first_line: u64,
    mut sink: F,
) -> Result<(), ReadError<E>>
where
    R: Read,
    F: FnMut(Item<'_>) -> Result<(), E>,
{
    let newlines = Rc::new(Cell::new(0));
    let reader = LineCounter {
        inner: input,
        newlines: newlines.clone(),
    };
    let mut de = serde_json::Deserializer::from_reader(reader);
    let mut stream = Stream {
        sink: &mut sink,
        stopped: None,
        newlines,
        first_line,
    };
    // `end()` skips whitespace and fails only when another document follows.
    while de.end().is_err() {
        if let Err(e) = (Document {
            stream: &mut stream,
        })
        .deserialize(&mut de)
        {
            if let Some(stop) = stream.stopped.take() {
                return Err(ReadError::Stopped(stop));
            }
            if e.is_io() {
                return Err(ReadError::Io(e.into()));
            }
            let line = first_line + u64::try_from(e.line()).unwrap_or(1) - 1;
            let item = Item::Malformed(MalformedAlert {
                position: Position { line, index: None },
                id: None,
                reason: format!(
                    "JSON syntax error at column {}: {}; the rest of this input is skipped",
                    e.column(),
                    describe(&e)
                ),
                raw: None,
            });
            return (stream.sink)(item).map_err(ReadError::Stopped);
        }
    }
    Ok(())
}

/// One top-level JSON document: a page, an array of alerts or a single alert.
struct Document<'a, 's, E, F> {
    stream: &'a mut Stream<'s, E, F>,
}

impl<'de, E, F> DeserializeSeed<'de> for Document<'_, '_, E, F>
where
    F: FnMut(Item<'_>) -> Result<(), E>,
{
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, E, F> Visitor<'de> for Document<'_, '_, E, F>
where
    F: FnMut(Item<'_>) -> Result<(), E>,
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an alert object, an array of alerts or a page {\"value\": [...]}")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        elements(self.stream, seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let start_line = self.stream.line_now();
        let mut members: Vec<(String, Box<RawValue>)> = Vec::new();
        let mut page = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "value" {
                map.next_value_seed(Elements {
                    stream: &mut *self.stream,
                })?;
                page = true;
            } else {
                members.push((key, map.next_value()?));
            }
        }
        if page {
            return Ok(());
        }
        // A single alert: rebuild its text from the members read so far.
        let mut text = String::from("{");
        for (i, (k, v)) in members.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            text.push_str(&serde_json::to_string(k).map_err(de::Error::custom)?);
            text.push(':');
            text.push_str(v.get());
        }
        text.push('}');
        let position = Position {
            line: start_line,
            index: None,
        };
        self.stream.element(&text, position)
    }

    fn visit_unit<Er: de::Error>(self) -> Result<(), Er> {
        self.not_an_alert("null")
    }
    fn visit_bool<Er: de::Error>(self, _: bool) -> Result<(), Er> {
        self.not_an_alert("a boolean")
    }
    fn visit_i64<Er: de::Error>(self, _: i64) -> Result<(), Er> {
        self.not_an_alert("a number")
    }
    fn visit_u64<Er: de::Error>(self, _: u64) -> Result<(), Er> {
        self.not_an_alert("a number")
    }
    fn visit_f64<Er: de::Error>(self, _: f64) -> Result<(), Er> {
        self.not_an_alert("a number")
    }
    fn visit_str<Er: de::Error>(self, _: &str) -> Result<(), Er> {
        self.not_an_alert("a string")
    }
}

impl<E, F> Document<'_, '_, E, F>
where
    F: FnMut(Item<'_>) -> Result<(), E>,
{
    fn not_an_alert<Er: de::Error>(self, what: &str) -> Result<(), Er> {
        let item = Item::Malformed(MalformedAlert {
            position: Position {
                line: self.stream.line_now(),
                index: None,
            },
            id: None,
            reason: format!("expected an alert object, an array or a page, found {what}"),
            raw: None,
        });
        self.stream.emit(item).map_err(|_| Er::custom(STOPPED))
    }
}

/// The elements of a page's `value` or of a top-level array.
struct Elements<'a, 's, E, F> {
    stream: &'a mut Stream<'s, E, F>,
}

impl<'de, E, F> DeserializeSeed<'de> for Elements<'_, '_, E, F>
where
    F: FnMut(Item<'_>) -> Result<(), E>,
{
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, E, F> Visitor<'de> for Elements<'_, '_, E, F>
where
    F: FnMut(Item<'_>) -> Result<(), E>,
{
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("`value` to be an array of alerts")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        elements(self.stream, seq)
    }
}

fn elements<'de, A, E, F>(stream: &mut Stream<'_, E, F>, mut seq: A) -> Result<(), A::Error>
where
    A: SeqAccess<'de>,
    F: FnMut(Item<'_>) -> Result<(), E>,
{
    let mut index = 0u64;
    while let Some(raw) = seq.next_element::<Box<RawValue>>()? {
        index += 1;
        let position = Position {
            line: stream.start_of(raw.get()),
            index: Some(index),
        };
        stream.element(raw.get(), position)?;
    }
    Ok(())
}
