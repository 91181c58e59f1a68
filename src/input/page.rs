//! An API page held in memory (what the alerts client receives), read one typed alert at a
//! time: the page's text is the only thing that grows with the page. Collecting the page into a
//! `Vec<Alert>` first held some 25 MB of parsed structs per 4,000-alert page on top of its text.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{InputAlert, Item, MalformedAlert, PageShape, Position, read_page_text};
use crate::alert::Alert;

/// Parses one API page and hands its alerts to `sink`, in order. With `want_raw` false each
/// alert is read in one typed pass, the fast path; from the first alert that does not read as
/// one, the rest of the page is read element by element so that the others survive and the bad
/// one is reported with its position. No alert is handed out twice.
pub fn read_page<E, F>(bytes: &[u8], want_raw: bool, mut sink: F) -> Result<(), E>
where
    F: FnMut(Item<'_>) -> Result<(), E>,
{
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            return sink(Item::Malformed(MalformedAlert {
                position: Position {
                    line: 1,
                    index: None,
                },
                id: None,
                reason: format!("page is not UTF-8: {e}"),
                raw: None,
            }));
        }
    };
    let mut emitted = 0;
    if !want_raw {
        let mut typed = TypedPage {
            sink: &mut sink,
            emitted: 0,
            stopped: None,
        };
        let mut de = serde_json::Deserializer::from_str(text);
        let read = (&mut typed).deserialize(&mut de).and_then(|()| de.end());
        if let Some(e) = typed.stopped {
            return Err(e);
        }
        if read.is_ok() {
            return Ok(());
        }
        emitted = typed.emitted;
    }
    read_page_text(text, 1, PageShape::Page, &mut |item| {
        let index = match &item {
            Item::Alert(a) => a.position.index,
            Item::Malformed(m) => m.position.index,
        };
        if index.is_some_and(|i| i <= emitted) {
            return Ok(());
        }
        sink(item)
    })
}

/// The typed pass over `{"value": [...], ...}`.
struct TypedPage<'f, E, F> {
    sink: &'f mut F,
    /// Alerts handed to the sink so far.
    emitted: u64,
    /// The sink's error, which ends reading without the fallback.
    stopped: Option<E>,
}

const STOPPED: &str = "siemfwd: consumer stopped";

impl<'de, E, F> DeserializeSeed<'de> for &mut TypedPage<'_, E, F>
where
    F: FnMut(Item<'_>) -> Result<(), E>,
{
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, E, F> Visitor<'de> for &mut TypedPage<'_, E, F>
where
    F: FnMut(Item<'_>) -> Result<(), E>,
{
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an API page")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "lowercase")]
        enum Key {
            Value,
            #[serde(other)]
            Other,
        }
        let mut values = false;
        while let Some(key) = map.next_key::<Key>()? {
            if matches!(key, Key::Value) && !values {
                values = true;
                map.next_value_seed(TypedAlerts { page: &mut *self })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        if !values {
            return Err(de::Error::missing_field("value"));
        }
        Ok(())
    }
}

/// The `value` array, one alert at a time.
struct TypedAlerts<'p, 'f, E, F> {
    page: &'p mut TypedPage<'f, E, F>,
}

impl<'de, E, F> DeserializeSeed<'de> for TypedAlerts<'_, '_, E, F>
where
    F: FnMut(Item<'_>) -> Result<(), E>,
{
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, E, F> Visitor<'de> for TypedAlerts<'_, '_, E, F>
where
    F: FnMut(Item<'_>) -> Result<(), E>,
{
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("`value` to be an array of alerts")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let page = self.page;
        while let Some(alert) = seq.next_element::<Alert<'de>>()? {
            page.emitted += 1;
            let item = Item::Alert(InputAlert {
                alert,
                raw: None,
                position: Position {
                    line: 1,
                    index: Some(page.emitted),
                },
            });
            if let Err(e) = (page.sink)(item) {
                page.stopped = Some(e);
                return Err(de::Error::custom(STOPPED));
            }
        }
        Ok(())
    }
}
