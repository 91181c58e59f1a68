//! An API page held in memory (what the alerts client receives), read one typed alert at a
//! time: the page's text is the only thing that grows with the page. Collecting the page into a
//! `Vec<Alert>` first held some 25 MB of parsed structs per 4,000-alert page on top of its text.

use serde::de::IgnoredAny;

use super::{InputAlert, Item, PageShape, Position, describe, emit_elements, page_elements};
use crate::alert::fast::Cursor;

/// An answer that is not an API page: not UTF-8, not JSON, cut short, or JSON of another
/// shape (a proxy's HTML page, `{"message": ...}`). Nothing in it can be trusted to be the
/// window's alerts, so the caller fetches it again rather than skipping it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}; its first bytes: {first_bytes}")]
pub struct NotAPage {
    /// What it was, in words.
    pub what: String,
    /// The start of the body, quoted, for the log.
    pub first_bytes: String,
}

/// Why [`read_page`] stopped.
#[derive(Debug)]
pub enum PageError<E> {
    /// The answer as a whole is not a well-formed API page: the caller fetches it again.
    NotAPage(NotAPage),
    /// The sink's error.
    Stopped(E),
}

/// What a page says beside its alerts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageInfo {
    /// It has an `@odata.nextLink`: the service says there is more. Graph pages may hold
    /// fewer alerts than `$top` asked for and still not be the last.
    pub next_link: bool,
    /// Its `@odata.count` (asked for with `$count=true`): how many results the whole query
    /// has, when it is a whole number.
    pub count: Option<u64>,
}

/// How much of a body a [`NotAPage`] quotes.
const QUOTED_BYTES: usize = 120;

/// The start of a body, quoted for a log line: at most [`QUOTED_BYTES`], debug-escaped so that
/// a proxy's page or a broken server puts no raw control character into the log.
pub fn quote_start(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(QUOTED_BYTES)];
    let mut quoted = String::with_capacity(head.len() + 8);
    quoted.push('"');
    for c in String::from_utf8_lossy(head).chars() {
        quoted.extend(c.escape_debug());
    }
    quoted.push('"');
    if bytes.len() > QUOTED_BYTES {
        quoted.push_str("...");
    }
    quoted
}

impl NotAPage {
    /// `what` the body was, quoting its start.
    pub fn from_body(bytes: &[u8], what: String) -> NotAPage {
        NotAPage {
            what,
            first_bytes: quote_start(bytes),
        }
    }

    /// Words for a body that did not read as a page.
    fn describe(bytes: &[u8], e: &serde_json::Error) -> NotAPage {
        let start = bytes.trim_ascii_start();
        let what = if start.first() == Some(&b'<') {
            "an HTML or XML page, not JSON (a proxy's login or error page in the way?)".to_owned()
        } else if start.is_empty() {
            "an empty body".to_owned()
        } else if e.is_eof() {
            format!(
                "a page cut short after {} bytes (the connection closed before the end?)",
                bytes.len()
            )
        } else if e.is_data() && start.first() == Some(&b'{') {
            format!("JSON that is not a page ({})", describe(e))
        } else if start.first() != Some(&b'{') {
            "not a JSON object".to_owned()
        } else {
            format!(
                "broken JSON at line {} column {} ({})",
                e.line(),
                e.column(),
                describe(e)
            )
        };
        NotAPage::from_body(bytes, what)
    }
}

/// Parses one API page and hands its alerts to `sink`, in order. With `want_raw` false each
/// alert is read in one typed pass, the fast path; from the first alert that does not read as
/// one, the rest of the page is read element by element so that the others survive and the bad
/// one is reported with its position. No alert is handed out twice.
///
/// A page is all or nothing: when the body as a whole is not a well-formed page (not UTF-8, not
/// JSON, cut short, no `value` array) the result is [`PageError::NotAPage`], never a malformed
/// alert. Alerts handed out before that was found (the typed pass streams) are repeats of the
/// next good answer's, which the caller recognises.
pub fn read_page<E, F>(bytes: &[u8], want_raw: bool, mut sink: F) -> Result<PageInfo, PageError<E>>
where
    F: FnMut(Item<'_>) -> Result<(), E>,
{
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            return Err(PageError::NotAPage(NotAPage::from_body(
                bytes,
                format!("not UTF-8 (at byte {})", e.valid_up_to()),
            )));
        }
    };
    let mut emitted = 0;
    if !want_raw {
        match fast_pass(text, &mut sink) {
            Err(e) => return Err(PageError::Stopped(e)),
            Ok(Ok(info)) => return Ok(info),
            Ok(Err(handed_out)) => emitted = handed_out,
        }
    }
    let elements = page_elements(text, PageShape::Page)
        .map_err(|e| PageError::NotAPage(NotAPage::describe(bytes, &e)))?;
    let info = page_info(text);
    emit_elements(text, 1, elements, &mut |item| {
        let index = match &item {
            Item::Alert(a) => a.position.index,
            Item::Malformed(m) => m.position.index,
        };
        if index.is_some_and(|i| i <= emitted) {
            return Ok(());
        }
        sink(item)
    })
    .map_err(PageError::Stopped)?;
    Ok(info)
}

/// The [`PageInfo`] of a well-formed page, read apart (only when an alert in it was not).
fn page_info(text: &str) -> PageInfo {
    #[derive(serde::Deserialize)]
    struct Members {
        #[serde(default, rename = "@odata.nextLink")]
        next_link: Option<IgnoredAny>,
        #[serde(default, rename = "@odata.count")]
        count: Option<serde_json::Value>,
    }
    serde_json::from_str::<Members>(text).map_or(PageInfo::default(), |m| PageInfo {
        next_link: m.next_link.is_some(),
        count: m.count.as_ref().and_then(serde_json::Value::as_u64),
    })
}

/// The fast pass over `{"value": [...], ...}`: the page's members walked by hand and each
/// alert read by the alert model's own reader (serde's where that gives up). `Err(n)` when the
/// page is not one this pass vouches for (an element that is not an alert, a member name with
/// escapes, broken JSON, no `value` array): the careful pass then reads it and skips the `n`
/// alerts already handed out.
fn fast_pass<E, F>(text: &str, sink: &mut F) -> Result<Result<PageInfo, u64>, E>
where
    F: FnMut(Item<'_>) -> Result<(), E>,
{
    let mut cursor = Cursor::new(text);
    let mut info = PageInfo::default();
    let mut emitted = 0u64;
    let mut values = false;
    let mut stopped = None;
    let walked = cursor.members(|c, name| match name {
        "value" if !values => {
            values = true;
            c.elements(|c| {
                let alert = c.alert_or_serde()?;
                emitted += 1;
                let item = Item::Alert(InputAlert {
                    alert,
                    raw: None,
                    position: Position {
                        line: 1,
                        index: Some(emitted),
                    },
                });
                sink(item).map_err(|e| stopped = Some(e)).ok()
            })
        }
        "@odata.count" => {
            info.count = c.serde_value::<serde_json::Value>()?.as_u64();
            Some(())
        }
        "@odata.nextLink" => {
            info.next_link = true;
            c.skip()
        }
        _ => c.skip(),
    });
    if let Some(e) = stopped {
        return Err(e);
    }
    cursor.ws();
    let whole = walked.is_some() && values && cursor.pos() == text.len();
    Ok(if whole { Ok(info) } else { Err(emitted) })
}
