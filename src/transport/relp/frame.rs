//! RELP frames (librelp's `doc/relp.md`): `TXNR SP COMMAND SP DATALEN [SP DATA] LF`.
//!
//! A transaction number is 1 to 999,999,999 and wraps to 1 (0 only in the server's
//! `serverclose` hint); a command is 1 to 32 letters; `DATALEN` counts the bytes of `DATA`,
//! which is absent when it is 0. The parser takes bytes as they arrive and says when a frame is
//! whole; anything that is not a frame is an error that drops the connection, never a panic.

use std::fmt;

/// The largest transaction number; the next one is 1.
pub const MAX_TXNR: u32 = 999_999_999;
/// Digits of a transaction number or a data length, at most.
const MAX_DIGITS: usize = 9;
/// Letters of a command, at most.
const MAX_COMMAND: usize = 32;
/// The longest response this client reads: a server's answer is a status line and, for
/// `open`, its offers. Anything longer is not a RELP server we talk to.
pub const MAX_RESPONSE_DATA: usize = 64 * 1024;

/// One frame as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Its transaction number (0 for `serverclose`).
    pub txnr: u32,
    /// `rsp`, `serverclose`, ...
    pub command: String,
    /// Its data (empty when `DATALEN` was 0).
    pub data: Vec<u8>,
}

/// Bytes that are not a RELP frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a RELP frame: {0}")]
pub struct FrameError(pub String);

/// Appends the frame `txnr command datalen data LF` to `out`.
pub fn write_frame(txnr: u32, command: &str, data: &[u8], out: &mut Vec<u8>) {
    use std::io::Write;
    // Writing into a Vec cannot fail.
    let _ = write!(out, "{txnr} {command} {}", data.len());
    if !data.is_empty() {
        out.push(b' ');
        out.extend_from_slice(data);
    }
    out.push(b'\n');
}

/// The transaction number after `txnr`.
pub fn next_txnr(txnr: u32) -> u32 {
    if txnr >= MAX_TXNR { 1 } else { txnr + 1 }
}

/// Parses the first frame of `buf`: `Ok(None)` while it is incomplete, else the frame and the
/// bytes it took. `max_data` bounds `DATALEN`.
pub fn parse_frame(buf: &[u8], max_data: usize) -> Result<Option<(Frame, usize)>, FrameError> {
    let mut at = 0;
    let Some(txnr) = number(buf, &mut at, "transaction number")? else {
        return Ok(None);
    };
    if txnr > u64::from(MAX_TXNR) {
        return Err(FrameError(format!(
            "transaction number {txnr} is over {MAX_TXNR}"
        )));
    }
    let Some(command) = word(buf, &mut at)? else {
        return Ok(None);
    };
    let Some(len) = number_end(buf, &mut at)? else {
        return Ok(None);
    };
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    if len > max_data {
        return Err(FrameError(format!(
            "{len} bytes of data, more than the {max_data} a response may have"
        )));
    }
    let data = if len == 0 {
        Vec::new()
    } else {
        // DATALEN SP DATA LF: `at` is past the space.
        let Some(data) = buf.get(at..at + len) else {
            return Ok(None);
        };
        at += len;
        data.to_vec()
    };
    match buf.get(at) {
        None => Ok(None),
        Some(b'\n') => Ok(Some((
            Frame {
                // At most 9 digits: it fits.
                txnr: u32::try_from(txnr).unwrap_or(MAX_TXNR),
                command,
                data,
            },
            at + 1,
        ))),
        Some(&other) => Err(FrameError(format!(
            "the frame does not end with LF after its {len} bytes of data (found {})",
            show(other)
        ))),
    }
}

/// Digits up to a space (`at` then past the space); `None` when the buffer ends first.
fn number(buf: &[u8], at: &mut usize, what: &str) -> Result<Option<u64>, FrameError> {
    match digits(buf, at, what)? {
        None => Ok(None),
        Some((n, b' ')) => {
            *at += 1;
            Ok(Some(n))
        }
        Some((_, other)) => Err(expected_digits(what, other)),
    }
}

/// `DATALEN`, ended by a space (data follows) or by the LF of a frame without data (`at` is
/// left on the LF).
fn number_end(buf: &[u8], at: &mut usize) -> Result<Option<u64>, FrameError> {
    const WHAT: &str = "data length";
    match digits(buf, at, WHAT)? {
        None => Ok(None),
        Some((n, b' ')) if n > 0 => {
            *at += 1;
            Ok(Some(n))
        }
        Some((0, b'\n')) => Ok(Some(0)),
        Some((n, b'\n')) => Err(FrameError(format!("a data length of {n} but no data"))),
        Some((_, other)) => Err(expected_digits(WHAT, other)),
    }
}

/// At least one and at most [`MAX_DIGITS`] digits, and the byte after them (not consumed);
/// `None` when the buffer ends first.
fn digits(buf: &[u8], at: &mut usize, what: &str) -> Result<Option<(u64, u8)>, FrameError> {
    let start = *at;
    let mut n: u64 = 0;
    loop {
        let Some(&b) = buf.get(*at) else {
            return Ok(None);
        };
        if !b.is_ascii_digit() {
            if *at == start {
                return Err(expected_digits(what, b));
            }
            return Ok(Some((n, b)));
        }
        if *at - start == MAX_DIGITS {
            return Err(FrameError(format!("the {what} has over 9 digits")));
        }
        n = n * 10 + u64::from(b - b'0');
        *at += 1;
    }
}

fn expected_digits(what: &str, found: u8) -> FrameError {
    FrameError(format!(
        "expected the {what}'s digits, found {}",
        show(found)
    ))
}

/// A command: letters up to a space.
fn word(buf: &[u8], at: &mut usize) -> Result<Option<String>, FrameError> {
    let start = *at;
    loop {
        let Some(&b) = buf.get(*at) else {
            return Ok(None);
        };
        match b {
            b'a'..=b'z' | b'A'..=b'Z' if *at - start < MAX_COMMAND => {}
            b'a'..=b'z' | b'A'..=b'Z' => {
                return Err(FrameError("a command of over 32 letters".into()));
            }
            b' ' if *at > start => {
                let command = String::from_utf8_lossy(&buf[start..*at]).into_owned();
                *at += 1;
                return Ok(Some(command));
            }
            other => {
                return Err(FrameError(format!(
                    "expected a command's letters, found {}",
                    show(other)
                )));
            }
        }
        *at += 1;
    }
}

fn show(b: u8) -> String {
    format!("{:?}", char::from(b))
}

/// A response's status: `200 OK`, `500 error message`, then (for `open`) LF and the offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The code: 200 is success, anything else a refusal.
    pub code: u16,
    /// The human-readable message after the code.
    pub message: String,
    /// What follows the status line (the server's offers, for `open`).
    pub body: String,
}

impl Response {
    /// Reads a `rsp` frame's data.
    pub fn parse(data: &[u8]) -> Result<Response, FrameError> {
        let text = String::from_utf8_lossy(data);
        let (status, body) = text.split_once('\n').unwrap_or((&text, ""));
        let (code, message) = status.split_once(' ').unwrap_or((status, ""));
        let code = code
            .parse()
            .ok()
            .filter(|c| (100..1000).contains(c))
            .ok_or_else(|| FrameError(format!("a response without a status code: {status:?}")))?;
        Ok(Response {
            code,
            message: message.to_owned(),
            body: body.to_owned(),
        })
    }

    /// The value of an offer (`commands`, `relp_version`, `relp_software`) in the body.
    pub fn offer(&self, name: &str) -> Option<&str> {
        self.body.lines().find_map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            (k == name).then_some(v)
        })
    }
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(bytes: &[u8]) -> Result<Vec<Frame>, FrameError> {
        let mut frames = Vec::new();
        let mut at = 0;
        while let Some((f, used)) = parse_frame(&bytes[at..], MAX_RESPONSE_DATA)? {
            frames.push(f);
            at += used;
        }
        Ok(frames)
    }

    #[test]
    fn frames_round_trip_with_and_without_data() {
        let mut out = Vec::new();
        write_frame(1, "open", b"relp_version=0\ncommands=syslog", &mut out);
        write_frame(2, "syslog", b"<13>1 - - - - - - CEF:0|a", &mut out);
        write_frame(3, "close", b"", &mut out);
        assert!(out.starts_with(b"1 open 30 relp_version=0\ncommands=syslog\n2 syslog 25 "));
        assert!(out.ends_with(b"3 close 0\n"));
        let frames = parse_all(&out).unwrap();
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[1].txnr, 2);
        assert_eq!(frames[1].data, b"<13>1 - - - - - - CEF:0|a");
        assert_eq!(frames[2].command, "close");
        assert!(frames[2].data.is_empty());
    }

    #[test]
    fn a_frame_read_a_byte_at_a_time_is_whole_only_at_its_lf() {
        let bytes = b"17 rsp 6 200 OK\n0 serverclose 0\n";
        for cut in 0..bytes.len() {
            let r = parse_frame(&bytes[..cut], MAX_RESPONSE_DATA).unwrap();
            if cut < 16 {
                assert_eq!(r, None, "{cut} bytes");
            } else {
                assert_eq!(r.unwrap().1, 16);
            }
        }
        let frames = parse_all(bytes).unwrap();
        assert_eq!(frames[0].txnr, 17);
        assert_eq!(Response::parse(&frames[0].data).unwrap().code, 200);
        assert_eq!(frames[1].command, "serverclose");
        assert_eq!(frames[1].txnr, 0);
        // Data holding LFs and spaces is counted, not scanned.
        let f = parse_all(b"1 rsp 25 200 OK\nrelp_version=0\nx y\n").unwrap();
        let r = Response::parse(&f[0].data).unwrap();
        assert_eq!(r.offer("relp_version"), Some("0"));
        assert_eq!(r.message, "OK");
    }

    #[test]
    fn transaction_numbers_wrap_to_one() {
        assert_eq!(next_txnr(1), 2);
        assert_eq!(next_txnr(MAX_TXNR), 1);
        let mut out = Vec::new();
        write_frame(MAX_TXNR, "syslog", b"x", &mut out);
        assert_eq!(parse_all(&out).unwrap()[0].txnr, MAX_TXNR);
        assert!(parse_frame(b"1000000000 rsp 0\n", 100).is_err());
    }

    #[test]
    fn malformed_frames_are_errors_never_panics() {
        for bad in [
            &b"x rsp 6 200 OK\n"[..],
            b"1 r5p 6 200 OK\n",
            b"1  rsp 6 200 OK\n",
            b"1 rsp -6 200 OK\n",
            b"1 rsp 6 200 OKX",
            b"1 rsp 3\n",
            b"1 rsp 00000000001 x\n",
            b"1 rspppppppppppppppppppppppppppppppppp 0\n",
            b"1 rsp 99999 ",
            b"\n",
            b" 1 rsp 0\n",
        ] {
            let r = parse_frame(bad, 100);
            assert!(r.is_err(), "{:?}: {r:?}", String::from_utf8_lossy(bad));
        }
        assert!(Response::parse(b"OK").is_err());
        assert_eq!(Response::parse(b"500 queue full").unwrap().code, 500);
    }

    #[test]
    fn no_byte_string_panics_the_parser() {
        // Every prefix and one-byte change of a valid stream.
        let good = b"1 rsp 59 200 OK\nrelp_version=0\nrelp_software=librelp\ncommands=syslog\n2 rsp 6 200 OK\n";
        assert_eq!(parse_all(good).unwrap().len(), 2);
        for i in 0..good.len() {
            for b in [b'0', b' ', b'\n', b'a', 0, 0xff] {
                let mut v = good.to_vec();
                v[i] = b;
                let _ = parse_all(&v);
                let _ = parse_frame(&v[..i], 100);
            }
        }
    }
}
