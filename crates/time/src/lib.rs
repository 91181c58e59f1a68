//! Alert timestamps: RFC 3339 UTC with 0 to 7 (or 9) fractional digits.
//!
//! The API writes `2026-11-22T10:15:59Z`, `...:59.2Z` and `...:57.7220239Z` side by side, so the
//! parser takes any number of fractional digits up to nanoseconds and remembers how many were
//! written: the cursor of a later issue needs the sub-millisecond part, and formatting back gives
//! the same text the API sent.

use std::fmt;

/// An instant in UTC with nanosecond precision, plus the number of fractional digits it was
/// written with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Timestamp {
    nanos: i64,
    digits: u8,
}

impl PartialOrd for Timestamp {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Timestamp {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

/// Why a timestamp could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid timestamp `{text}`: expected RFC 3339 like 2026-11-22T10:15:59.1234567Z")]
pub struct TimestampError {
    text: String,
}

impl Timestamp {
    /// Nanoseconds since the Unix epoch.
    pub fn unix_nanos(self) -> i64 {
        self.nanos
    }

    /// Milliseconds since the Unix epoch, rounded down (CEF `rt`, LEEF `devTime`).
    pub fn unix_millis(self) -> i64 {
        self.nanos.div_euclid(1_000_000)
    }

    /// Builds a timestamp from nanoseconds since the epoch, written with `digits` fraction digits.
    pub fn from_unix_nanos(nanos: i64, digits: u8) -> Self {
        Timestamp {
            nanos,
            digits: digits.min(9),
        }
    }

    /// Now, as the forwarder's clock: with 7 fractional digits, as the alerts API writes times
    /// (a syslog header shows at most 6).
    pub fn now() -> Self {
        let now = chrono::Utc::now();
        Timestamp::from_unix_nanos(now.timestamp_nanos_opt().unwrap_or(0), 7)
    }

    /// How many fractional digits the source text had.
    pub fn fraction_digits(self) -> u8 {
        self.digits
    }

    /// Parses RFC 3339. `Z`/`z` or a numeric offset; `T`, `t` or a space between date and time.
    pub fn parse(text: &str) -> Result<Self, TimestampError> {
        parse_rfc3339(text.as_bytes()).ok_or_else(|| TimestampError {
            text: text.chars().take(64).collect(),
        })
    }

    /// Writes `YYYY-MM-DDTHH:MM:SS[.f]Z` with `digits` fractional digits (0..=9, truncating).
    pub fn write_rfc3339(self, digits: u8, out: &mut String) {
        use fmt::Write;
        let secs = self.nanos.div_euclid(1_000_000_000);
        let sub = self.nanos.rem_euclid(1_000_000_000) as u32;
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let _ = write!(
            out,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            sod / 3600,
            sod % 3600 / 60,
            sod % 60
        );
        let digits = digits.min(9);
        if digits > 0 {
            let frac = sub / 10u32.pow(9 - u32::from(digits));
            let _ = write!(out, ".{frac:0width$}", width = usize::from(digits));
        }
        out.push('Z');
    }
}

impl fmt::Display for Timestamp {
    /// The timestamp as the API wrote it (same number of fractional digits, `Z`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(30);
        self.write_rfc3339(self.digits, &mut s);
        f.write_str(&s)
    }
}

fn digits_at(b: &[u8], at: usize, n: usize) -> Option<i64> {
    let part = b.get(at..at + n)?;
    let mut v = 0i64;
    for &c in part {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

/// Where `YYYY-MM-DDTHH:MM:SS` has digits.
const DIGIT_AT: [bool; 19] = {
    let mut at = [true; 19];
    at[4] = false;
    at[7] = false;
    at[10] = false;
    at[13] = false;
    at[16] = false;
    at
};

/// The six numbers of `YYYY-MM-DDTHH:MM:SS` at the start of `b`, unchecked for range. Every
/// alert has several timestamps: the fixed-size head is checked in one pass with no early exit
/// (the compiler unrolls it), then its numbers are read without further checks.
#[inline(always)]
fn head(b: &[u8]) -> Option<[i64; 6]> {
    let head: &[u8; 19] = b.first_chunk()?;
    let value = head.map(|c| c.wrapping_sub(b'0'));
    let digits_ok = value
        .iter()
        .zip(DIGIT_AT)
        .fold(true, |ok, (&v, digit)| ok & (!digit | (v < 10)));
    if !digits_ok
        || head[4] != b'-'
        || head[7] != b'-'
        || !matches!(head[10], b'T' | b't' | b' ')
        || head[13] != b':'
        || head[16] != b':'
    {
        return None;
    }
    let number = |at: usize, n: usize| {
        value[at..at + n]
            .iter()
            .fold(0i64, |v, &d| v * 10 + i64::from(d))
    };
    Some([
        number(0, 4),
        number(5, 2),
        number(8, 2),
        number(11, 2),
        number(14, 2),
        number(17, 2),
    ])
}

fn parse_rfc3339(b: &[u8]) -> Option<Timestamp> {
    let [year, month, day, hour, minute, second] = head(b)?;
    // A leap second (60) is folded into the next second's start, as chrono does.
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut at = 19;
    let mut frac: i64 = 0;
    let mut digits: u8 = 0;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while let Some(c) = b.get(at).filter(|c| c.is_ascii_digit()) {
            // Digits past nanoseconds are accepted and dropped.
            if at - start < 9 {
                frac = frac * 10 + i64::from(c - b'0');
                digits += 1;
            }
            at += 1;
        }
        if at == start {
            return None;
        }
        // 10^(9 - digits), digits being 1..=9.
        const SCALE: [i64; 10] = [
            1,
            10,
            100,
            1_000,
            10_000,
            100_000,
            1_000_000,
            10_000_000,
            100_000_000,
            1_000_000_000,
        ];
        frac *= SCALE[usize::from(9 - digits)];
    }
    let offset_secs = match b.get(at)? {
        b'Z' | b'z' if at + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if at + 6 == b.len() && b[at + 3] == b':' => {
            let oh = digits_at(b, at + 1, 2)?;
            let om = digits_at(b, at + 4, 2)?;
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 3600 + om * 60;
            if *sign == b'+' { off } else { -off }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    Some(Timestamp {
        nanos: secs.checked_mul(1_000_000_000)?.checked_add(frac)?,
        digits,
    })
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's days_from_civil / civil_from_days (public domain algorithms).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// An RFC 3339 string (the alert model's timestamps; with the `serde` feature).
#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TsVisitor;
        impl serde::de::Visitor<'_> for TsVisitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an RFC 3339 timestamp string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Timestamp::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(TsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chrono_nanos(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_nanos_opt()
            .unwrap()
    }

    #[test]
    fn zero_to_seven_fraction_digits_parse_like_chrono() {
        for s in [
            "2026-11-22T10:15:59Z",
            "2026-11-22T10:15:59.2Z",
            "2026-11-22T10:15:59.25Z",
            "2026-11-22T10:15:59.123Z",
            "2026-11-22T10:15:57.7220239Z",
            "2026-11-22T10:15:57.722023912Z",
            "1970-01-01T00:00:00Z",
            "1969-12-31T23:59:59.5Z",
            "2024-02-29T23:59:59.9999999Z",
            "2026-11-22T10:15:59+02:00",
            "2026-11-22T10:15:59.5-05:30",
        ] {
            let t = Timestamp::parse(s).unwrap();
            assert_eq!(t.unix_nanos(), chrono_nanos(s), "{s}");
        }
    }

    #[test]
    fn formats_back_with_the_same_digits() {
        for s in [
            "2026-11-22T10:15:59Z",
            "2026-11-22T10:15:59.2Z",
            "2026-11-22T10:15:57.7220239Z",
            "1969-12-31T23:59:59.5Z",
        ] {
            assert_eq!(Timestamp::parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn millis_round_down_before_the_epoch_too() {
        let t = Timestamp::parse("2026-11-22T10:15:57.7229999Z").unwrap();
        assert_eq!(t.unix_millis(), 1_795_342_557_722);
        let t = Timestamp::parse("1969-12-31T23:59:59.9995Z").unwrap();
        assert_eq!(t.unix_millis(), -1);
    }

    /// The head as it was read before it was read in one pass: number by number, each digit
    /// checked as it is read.
    fn head_number_by_number(b: &[u8]) -> Option<[i64; 6]> {
        let n = |at, len| digits_at(b, at, len);
        let numbers = [
            n(0, 4)?,
            n(5, 2)?,
            n(8, 2)?,
            n(11, 2)?,
            n(14, 2)?,
            n(17, 2)?,
        ];
        let separators = b[4] == b'-'
            && b[7] == b'-'
            && matches!(b[10], b'T' | b't' | b' ')
            && b[13] == b':'
            && b[16] == b':';
        separators.then_some(numbers)
    }

    /// Every byte of several timestamps replaced by each of a set of bytes: the head read in
    /// one pass takes exactly what reading it number by number took, with the same numbers.
    #[test]
    fn the_head_read_in_one_pass_takes_and_reads_what_number_by_number_did() {
        let bases = [
            "2026-11-22T10:15:59Z",
            "2024-02-29T23:59:60.9999999Z",
            "0000-01-01T00:00:00.5+01:00",
            "9999-12-31 23:59:59.123456789123z",
            "2026-11-22T10:15:59-05:30",
        ];
        let bytes = b"0123456789-:T tZz.+/a\x7f";
        let mut parsed = 0;
        for base in bases {
            for at in 0..base.len() {
                for &byte in bytes {
                    let mut text = base.as_bytes().to_vec();
                    text[at] = byte;
                    let want = head_number_by_number(&text);
                    assert_eq!(head(&text), want, "{}", String::from_utf8_lossy(&text));
                    parsed += usize::from(want.is_some());
                }
            }
        }
        // Most one-byte changes leave a readable head: the test is not all refusals.
        assert!(parsed > 300, "{parsed}");
    }

    #[test]
    fn garbage_is_rejected() {
        for s in [
            "",
            "2026-11-22",
            "2026-11-22T10:15:59",
            "2026-13-22T10:15:59Z",
            "2026-02-30T10:15:59Z",
            "2026-11-22T10:15:59.Z",
            "2026-11-22T10:15:59Zjunk",
            "yesterday",
            "2026-11-22T25:15:59Z",
        ] {
            assert!(Timestamp::parse(s).is_err(), "{s}");
        }
    }
}
