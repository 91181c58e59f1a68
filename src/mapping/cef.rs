//! CEF (ArcSight): `CEF:0|Vendor|Product|Version|DeviceEventClassID|Name|Severity|Extension`.
//!
//! Header fields escape `\` and `|` and nothing else; extension values escape `\`, `=`, LF and
//! CR and nothing else (strict parsers reject `\|` or `\"` in the extension). CR and LF cannot
//! be escaped in the header and become spaces. Other control characters (C0, DEL and C1, which
//! includes NEL) have no escape in either place and become spaces too, so a record never
//! carries a byte that a receiver would rewrite (rsyslog turns ESC into `#033`), a parser could
//! take for a line end, or an analyst's terminal would act on.

use super::{SettingError, Syntax};

pub(crate) const HEADER_KEYS: [&str; 5] =
    ["vendor", "product", "event_class_id", "name", "severity"];

/// Writes CEF records.
pub(crate) struct CefSyntax;

const fn is_control(c: u8) -> bool {
    (c < 0x20 && c != b'\t') || c == 0x7f
}

/// A C1 control character (U+0080..U+009F) starts at `b[i]`: its UTF-8 form is C2 80..C2 9F.
fn c1_at(b: &[u8], i: usize) -> bool {
    b[i] == 0xc2 && b.get(i + 1).is_some_and(|n| (0x80..=0x9f).contains(n))
}

/// Whether a character is written as a space: control characters without an escape.
pub(crate) fn is_replaced(c: char) -> bool {
    (c < ' ' && !matches!(c, '\t' | '\r' | '\n')) || ('\x7f'..='\u{9f}').contains(&c)
}

/// Bytes written differently in a header (`[0]`) and in an extension value (`[1]`). 0xC2 is
/// flagged because it starts the C1 controls; the escaper looks at the byte after it.
static SPECIAL: [[bool; 256]; 2] = {
    let mut t = [[false; 256]; 2];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        let common = c == b'\\' || is_control(c) || c == 0xc2;
        t[0][i] = common || c == b'|';
        t[1][i] = common || c == b'=' || c == b'\n' || c == b'\r';
        i += 1;
    }
    t
};

/// Appends `s` escaped as a CEF header field.
pub fn escape_header(s: &str, out: &mut Vec<u8>) {
    escape::<false>(s.as_bytes(), out);
}

/// Appends `s` escaped as a CEF extension value.
pub fn escape_value(s: &str, out: &mut Vec<u8>) {
    escape::<true>(s.as_bytes(), out);
}

fn escape<const VALUE: bool>(b: &[u8], out: &mut Vec<u8>) {
    let (mut from, mut i) = (0, 0);
    while let Some(at) = next_special::<VALUE>(b, i) {
        let c = b[at];
        if c == 0xc2 && !c1_at(b, at) {
            // A character that is not a control (such as U+00A0): kept, in the same copy.
            i = at + 1;
            continue;
        }
        out.extend_from_slice(&b[from..at]);
        // Replacements of a fixed length: copies the compiler writes inline.
        let width = match c {
            b'\\' | b'|' | b'=' => {
                out.extend_from_slice(&[b'\\', c]);
                1
            }
            // An extension value escapes CR and LF; a header cannot, and writes a space.
            b'\n' if VALUE => {
                out.extend_from_slice(b"\\n");
                1
            }
            b'\r' if VALUE => {
                out.extend_from_slice(b"\\r");
                1
            }
            // A C1 control: two bytes, one space.
            0xc2 => {
                out.push(b' ');
                2
            }
            _ => {
                out.push(b' ');
                1
            }
        };
        i = at + width;
        from = i;
    }
    out.extend_from_slice(&b[from..]);
}

/// The first byte at or after `at` that [`SPECIAL`] flags. Most values need no escaping, and
/// the encoder spends its time proving it: 32 bytes at a time, then the few bytes left by
/// windows that end where the text ends (overlapping bytes already found clean), so that a
/// short value takes one or two vector tests and no loop. Only a window that may hold one is
/// looked at byte by byte.
#[inline(always)]
fn next_special<const VALUE: bool>(b: &[u8], mut at: usize) -> Option<usize> {
    let table = &SPECIAL[usize::from(VALUE)];
    let sep = if VALUE { b'=' } else { b'|' };
    let special = |c: &u8| table[usize::from(*c)];
    while let Some(block) = b.get(at..).and_then(<[u8]>::first_chunk::<32>) {
        if may_hold(block, sep)
            && let Some(p) = block.iter().position(special)
        {
            return Some(at + p);
        }
        at += 32;
    }
    // Fewer than 32 bytes left: [at, len) is covered by the windows below.
    let rest = b.get(at..)?;
    let clean = if rest.is_empty() {
        true
    } else if let Some(last) = b.last_chunk::<32>() {
        !may_hold(last, sep)
    } else if let Some(last) = b.last_chunk::<16>() {
        !rest.first_chunk::<16>().is_some_and(|w| may_hold(w, sep)) && !may_hold(last, sep)
    } else if let Some(last) = b.last_chunk::<8>() {
        !rest.first_chunk::<8>().is_some_and(|w| may_hold(w, sep)) && !may_hold(last, sep)
    } else {
        false
    };
    if clean {
        return None;
    }
    rest.iter().position(special).map(|p| at + p)
}

/// Whether `window` may hold a byte to escape: a `\\`, the separator, a control character or a
/// byte of a non-ASCII character. A loop with no early exit over a fixed-size array, which the
/// compiler turns into vector compares (a byte accumulator: a `bool` fold made it widen each
/// byte to 16 bits first).
#[inline(always)]
fn may_hold<const N: usize>(window: &[u8; N], sep: u8) -> bool {
    let mut found = 0u8;
    for &c in window {
        found |=
            u8::from(c == b'\\') | u8::from(c == sep) | u8::from(c < 0x20) | u8::from(c >= 0x7f);
    }
    found != 0
}

impl Syntax for CefSyntax {
    fn header_char_len(&self, c: char) -> usize {
        match c {
            '\\' | '|' => 2,
            c if is_replaced(c) || c == '\r' || c == '\n' => 1,
            c => c.len_utf8(),
        }
    }

    fn field_char_len(&self, c: char) -> usize {
        match c {
            '\\' | '=' | '\n' | '\r' => 2,
            c if is_replaced(c) => 1,
            c => c.len_utf8(),
        }
    }

    fn start(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"CEF:0");
    }

    fn header(&self, text: &str, out: &mut Vec<u8>) {
        out.push(b'|');
        escape_header(text, out);
    }

    fn end_header(&self, out: &mut Vec<u8>) {
        out.push(b'|');
    }

    fn separator(&self, out: &mut Vec<u8>) {
        out.push(b' ');
    }

    fn value(&self, text: &str, out: &mut Vec<u8>) {
        escape_value(text, out);
    }
}

/// Header Severity: an integer 0-10 or one of the five names.
pub(crate) fn valid_severity(s: &str) -> bool {
    matches!(s, "Unknown" | "Low" | "Medium" | "High" | "Very-High")
        || s.parse::<u8>().is_ok_and(|n| n <= 10) && !s.starts_with('+')
}

/// Extension keys are the dictionary's short or full names or custom names: ASCII letters,
/// digits (`cs1`, `c6a1`) and `_`.
pub(crate) fn check_key(key: &str) -> Result<(), SettingError> {
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(SettingError::CefKey(key.to_owned()));
    }
    Ok(())
}

/// Byte lengths of the CEF dictionary's string keys (ArcSight CEF Implementation Standard),
/// the points at which values are truncated. Keys not listed (custom keys, numbers, addresses,
/// times) have no dictionary limit and are bound only by the message budget.
pub fn dictionary_limit(key: &str) -> Option<usize> {
    DICTIONARY_LIMITS
        .iter()
        .find(|(_, keys)| keys.contains(&key))
        .map(|(limit, _)| *limit)
}

/// [`dictionary_limit`]'s table: a limit and the keys (short and full names) it applies to.
const DICTIONARY_LIMITS: [(usize, &[&str]); 9] = [
    (63, &["act", "deviceAction", "outcome", "eventOutcome"]),
    (
        31,
        &["app", "applicationProtocol", "proto", "transportProtocol"],
    ),
    (40, &["externalId"]),
    (100, &["dvchost", "deviceHostName"]),
    (
        128,
        &[
            "flexString1Label",
            "flexString2Label",
            "flexNumber1Label",
            "flexNumber2Label",
            "flexDate1Label",
            "deviceInboundInterface",
            "deviceOutboundInterface",
        ],
    ),
    (
        255,
        &[
            "fileHash",
            "oldFileHash",
            "sntdom",
            "sourceNtDomain",
            "dntdom",
            "destinationNtDomain",
            "deviceDnsDomain",
            "destinationDnsDomain",
            "sourceDnsDomain",
            "deviceExternalId",
            "deviceNtDomain",
            "deviceZoneID",
        ],
    ),
    (2048, &["requestContext"]),
    (
        4000,
        &[
            "cs1",
            "cs2",
            "cs3",
            "cs4",
            "cs5",
            "cs6",
            "deviceCustomString1",
            "deviceCustomString2",
            "deviceCustomString3",
            "deviceCustomString4",
            "deviceCustomString5",
            "deviceCustomString6",
        ],
    ),
    (
        1023,
        &[
            "msg",
            "message",
            "cat",
            "deviceEventCategory",
            "dhost",
            "destinationHostName",
            "shost",
            "sourceHostName",
            "suser",
            "sourceUserName",
            "duser",
            "destinationUserName",
            "suid",
            "sourceUserId",
            "duid",
            "destinationUserId",
            "spriv",
            "sourceUserPrivileges",
            "dpriv",
            "destinationUserPrivileges",
            "sproc",
            "sourceProcessName",
            "dproc",
            "destinationProcessName",
            "fname",
            "fileName",
            "filePath",
            "fileId",
            "fileType",
            "oldFileName",
            "oldFilePath",
            "oldFileId",
            "oldFileType",
            "request",
            "requestUrl",
            "requestClientApplication",
            "requestMethod",
            "requestCookies",
            "sourceServiceName",
            "destinationServiceName",
            "deviceProcessName",
            "deviceFacility",
            "reason",
            "flexString1",
            "flexString2",
            "cs1Label",
            "cs2Label",
            "cs3Label",
            "cs4Label",
            "cs5Label",
            "cs6Label",
            "cn1Label",
            "cn2Label",
            "cn3Label",
            "cfp1Label",
            "cfp2Label",
            "cfp3Label",
            "cfp4Label",
            "c6a1Label",
            "c6a2Label",
            "c6a3Label",
            "c6a4Label",
            "deviceCustomDate1Label",
            "deviceCustomDate2Label",
            "filePermission",
            "oldFilePermission",
        ],
    ),
];
