//! LEEF (QRadar). 1.0: `LEEF:1.0|Vendor|Product|Version|EventID|` then attributes separated by
//! TAB; 2.0: `LEEF:2.0|Vendor|Product|Version|EventID|Delim|` then attributes separated by Delim.
//!
//! LEEF has no escaping at all, so nothing is escaped: in header fields `|` is replaced, in
//! values the delimiter, CR and LF are, all by a space (as are other control characters, for
//! the reasons given in the CEF module). `=` inside a value is fine.

use super::{SettingError, Syntax};

pub(crate) const HEADER_KEYS: [&str; 3] = ["vendor", "product", "event_id"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    V1,
    V2,
}

/// Writes LEEF records of one version and delimiter.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LeefSyntax {
    pub version: Version,
    pub delimiter: char,
}

fn is_control(c: char) -> bool {
    (c < ' ' && c != '\t') || ('\x7f'..='\u{9f}').contains(&c)
}

/// Appends `s` as a LEEF header field: `|`, CR, LF (and other controls) become spaces.
pub fn clean_header(s: &str, out: &mut Vec<u8>) {
    if !s
        .bytes()
        .any(|b| b == b'|' || b == b'\t' || is_control(b as char))
    {
        out.extend_from_slice(s.as_bytes());
        return;
    }
    for c in s.chars() {
        if c == '|' || c == '\t' || is_control(c) {
            out.push(b' ');
        } else {
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
}

/// Appends `s` as a LEEF value: the delimiter, CR, LF (and other controls) become spaces.
pub fn clean_value(s: &str, delimiter: char, out: &mut Vec<u8>) {
    let bad = |c: char| c == delimiter || is_control(c);
    if !s.chars().any(bad) {
        out.extend_from_slice(s.as_bytes());
        return;
    }
    for c in s.chars() {
        if bad(c) {
            out.push(b' ');
        } else {
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
}

/// How a LEEF 2.0 header names its delimiter: the character if it is printable, else `xHH`.
pub fn delimiter_field(d: char) -> String {
    if d.is_ascii_graphic() {
        d.to_string()
    } else {
        format!("x{:02X}", d as u32)
    }
}

/// Reads a delimiter setting: one ASCII character, or `xHH` / `0xHH`.
pub(crate) fn parse_delimiter(s: &str) -> Result<char, SettingError> {
    let hex = s.strip_prefix("0x").or_else(|| s.strip_prefix("x"));
    let c = match hex {
        Some(h) if h.len() == 2 => u8::from_str_radix(h, 16)
            .map(char::from)
            .map_err(|_| SettingError::DelimiterHex(s.to_owned()))?,
        _ => {
            let mut chars = s.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => c,
                _ => return Err(SettingError::DelimiterLength(s.to_owned())),
            }
        }
    };
    if !c.is_ascii()
        || c == '|'
        || c == '='
        || c == '\n'
        || c == '\r'
        || c == ' '
        || c.is_ascii_alphanumeric()
    {
        return Err(SettingError::DelimiterChar(s.to_owned()));
    }
    Ok(c)
}

/// Attribute keys: no `=`, no delimiter, no spaces or control characters.
pub(crate) fn check_key(key: &str, delimiter: char) -> Result<(), SettingError> {
    if key.is_empty()
        || key
            .chars()
            .any(|c| c == '=' || c == delimiter || c == '|' || c.is_whitespace() || c.is_control())
    {
        return Err(SettingError::LeefKey(key.to_owned()));
    }
    Ok(())
}

impl Syntax for LeefSyntax {
    fn header_char_len(&self, c: char) -> usize {
        if is_control(c) { 1 } else { c.len_utf8() }
    }

    fn field_char_len(&self, c: char) -> usize {
        self.header_char_len(c)
    }

    fn start(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(match self.version {
            Version::V1 => b"LEEF:1.0",
            Version::V2 => b"LEEF:2.0",
        });
    }

    fn header(&self, text: &str, out: &mut Vec<u8>) {
        out.push(b'|');
        clean_header(text, out);
    }

    fn end_header(&self, out: &mut Vec<u8>) {
        out.push(b'|');
        if self.version == Version::V2 {
            out.extend_from_slice(delimiter_field(self.delimiter).as_bytes());
            out.push(b'|');
        }
    }

    fn separator(&self, out: &mut Vec<u8>) {
        let mut buf = [0; 4];
        out.extend_from_slice(self.delimiter.encode_utf8(&mut buf).as_bytes());
    }

    fn value(&self, text: &str, out: &mut Vec<u8>) {
        clean_value(text, self.delimiter, out);
    }
}
