//! CEF (ArcSight): `CEF:0|Vendor|Product|Version|DeviceEventClassID|Name|Severity|Extension`.
//!
//! Header fields escape `\` and `|` and nothing else; extension values escape `\`, `=`, LF and
//! CR and nothing else (strict parsers reject `\|` or `\"` in the extension). CR and LF cannot
//! be escaped in the header and become spaces. Other control characters (C0, DEL and C1, which
//! includes NEL) have no escape in either place and become spaces too, so a record never
//! carries a byte that a receiver would rewrite (rsyslog turns ESC into `#033`), a parser could
//! take for a line end, or an analyst's terminal would act on.

use super::{Plan, Record, Syntax};

pub(crate) const HEADER_KEYS: [&str; 5] =
    ["vendor", "product", "event_class_id", "name", "severity"];

/// Writes CEF records.
pub(crate) struct CefSyntax;

fn is_control(c: u8) -> bool {
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

/// Appends `s` escaped as a CEF header field.
pub fn escape_header(s: &str, out: &mut Vec<u8>) {
    let b = s.as_bytes();
    if !b
        .iter()
        .any(|&c| c == b'\\' || c == b'|' || is_control(c) || c == 0xc2)
    {
        out.extend_from_slice(b);
        return;
    }
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'|' => out.extend_from_slice(b"\\|"),
            c if is_control(c) => out.push(b' '),
            _ if c1_at(b, i) => {
                out.push(b' ');
                i += 1;
            }
            c => out.push(c),
        }
        i += 1;
    }
}

/// Appends `s` escaped as a CEF extension value.
pub fn escape_value(s: &str, out: &mut Vec<u8>) {
    let b = s.as_bytes();
    let mut from = 0;
    let mut i = 0;
    while i < b.len() {
        let (esc, width): (&[u8], usize) = match b[i] {
            b'\\' => (b"\\\\", 1),
            b'=' => (b"\\=", 1),
            b'\n' => (b"\\n", 1),
            b'\r' => (b"\\r", 1),
            c if is_control(c) => (b" ", 1),
            _ if c1_at(b, i) => (b" ", 2),
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&b[from..i]);
        out.extend_from_slice(esc);
        i += width;
        from = i;
    }
    out.extend_from_slice(&b[from..]);
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

    fn write(&self, plan: &Plan, record: &Record<'_>, out: &mut Vec<u8>) {
        out.extend_from_slice(b"CEF:0");
        for part in &record.header {
            out.push(b'|');
            escape_header(&part.text, out);
        }
        out.push(b'|');
        for (n, (i, part)) in record.fields.iter().enumerate() {
            if n > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(plan.fields[*i].key.as_bytes());
            out.push(b'=');
            escape_value(&part.text, out);
        }
    }
}

/// Header Severity: an integer 0-10 or one of the five names.
pub(crate) fn valid_severity(s: &str) -> bool {
    matches!(s, "Unknown" | "Low" | "Medium" | "High" | "Very-High")
        || s.parse::<u8>().is_ok_and(|n| n <= 10) && !s.starts_with('+')
}

/// Extension keys are the dictionary's short or full names or custom names: ASCII letters,
/// digits (`cs1`, `c6a1`) and `_`.
pub(crate) fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(format!(
            "`{key}` is not a valid CEF extension key (letters, digits and _ only)"
        ));
    }
    Ok(())
}

/// Byte lengths of the CEF dictionary's string keys (ArcSight CEF Implementation Standard),
/// the points at which values are truncated. Keys not listed (custom keys, numbers, addresses,
/// times) have no dictionary limit and are bound only by the message budget.
pub fn dictionary_limit(key: &str) -> Option<usize> {
    Some(match key {
        "act" | "deviceAction" | "outcome" | "eventOutcome" => 63,
        "app" | "applicationProtocol" | "proto" | "transportProtocol" => 31,
        "externalId" => 40,
        "dvchost" | "deviceHostName" => 100,
        "flexString1Label"
        | "flexString2Label"
        | "flexNumber1Label"
        | "flexNumber2Label"
        | "flexDate1Label"
        | "deviceInboundInterface"
        | "deviceOutboundInterface" => 128,
        "fileHash"
        | "oldFileHash"
        | "sntdom"
        | "sourceNtDomain"
        | "dntdom"
        | "destinationNtDomain"
        | "deviceDnsDomain"
        | "destinationDnsDomain"
        | "sourceDnsDomain"
        | "deviceExternalId"
        | "deviceNtDomain"
        | "deviceZoneID" => 255,
        "requestContext" => 2048,
        "cs1"
        | "cs2"
        | "cs3"
        | "cs4"
        | "cs5"
        | "cs6"
        | "deviceCustomString1"
        | "deviceCustomString2"
        | "deviceCustomString3"
        | "deviceCustomString4"
        | "deviceCustomString5"
        | "deviceCustomString6" => 4000,
        "msg"
        | "message"
        | "cat"
        | "deviceEventCategory"
        | "dhost"
        | "destinationHostName"
        | "shost"
        | "sourceHostName"
        | "suser"
        | "sourceUserName"
        | "duser"
        | "destinationUserName"
        | "suid"
        | "sourceUserId"
        | "duid"
        | "destinationUserId"
        | "spriv"
        | "sourceUserPrivileges"
        | "dpriv"
        | "destinationUserPrivileges"
        | "sproc"
        | "sourceProcessName"
        | "dproc"
        | "destinationProcessName"
        | "fname"
        | "fileName"
        | "filePath"
        | "fileId"
        | "fileType"
        | "oldFileName"
        | "oldFilePath"
        | "oldFileId"
        | "oldFileType"
        | "request"
        | "requestUrl"
        | "requestClientApplication"
        | "requestMethod"
        | "requestCookies"
        | "sourceServiceName"
        | "destinationServiceName"
        | "deviceProcessName"
        | "deviceFacility"
        | "reason"
        | "flexString1"
        | "flexString2"
        | "cs1Label"
        | "cs2Label"
        | "cs3Label"
        | "cs4Label"
        | "cs5Label"
        | "cs6Label"
        | "cn1Label"
        | "cn2Label"
        | "cn3Label"
        | "cfp1Label"
        | "cfp2Label"
        | "cfp3Label"
        | "cfp4Label"
        | "c6a1Label"
        | "c6a2Label"
        | "c6a3Label"
        | "c6a4Label"
        | "deviceCustomDate1Label"
        | "deviceCustomDate2Label"
        | "filePermission"
        | "oldFilePermission" => 1023,
        _ => return None,
    })
}
