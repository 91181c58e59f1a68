//! Durations as the config and the command line write them: a number and a unit, `"500ms"`,
//! `"2s"`, `"5m"`, `"48h"`, `"7d"`; and times as the command line takes them (`--from -24h`).

use std::time::Duration;

use crate::alert::Timestamp;

/// A duration that cannot be read, or is out of its key's range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// A bare number: seconds or minutes?
    #[error("`{0}` has no unit (write e.g. \"500ms\", \"2s\", \"5m\", \"48h\", \"7d\")")]
    NoUnit(String),
    /// No number before the unit.
    #[error("`{0}` is not a duration (write e.g. \"30s\")")]
    NotADuration(String),
    /// A unit other than ms, s, m, h, d.
    #[error("`{text}`: unknown unit `{unit}` (ms, s, m, h or d)")]
    UnknownUnit {
        /// The value as written.
        text: String,
        /// The unit found.
        unit: String,
    },
    /// More milliseconds than a u64 holds.
    #[error("`{0}` is too long")]
    Overflow(String),
    /// Below the key's minimum; `range` says the bounds in words.
    #[error("`{text}` is too short ({range})")]
    TooShort {
        /// The value as written.
        text: String,
        /// `1s to 1d`, or `at most 7d`.
        range: String,
    },
    /// Above the key's maximum.
    #[error("`{text}` is too long ({range})")]
    TooLong {
        /// The value as written.
        text: String,
        /// `1s to 1d`, or `at most 7d`.
        range: String,
    },
}

/// A `--from`/`--to` time that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WhenError {
    /// `-<duration>` with a duration that cannot be read.
    #[error(transparent)]
    Duration(#[from] DurationError),
    /// So far back that it is before the epoch's range of nanoseconds.
    #[error("`{0}` is too far back")]
    TooFarBack(String),
    /// None of the forms a time may take.
    #[error(
        "`{0}` is not a time: write RFC 3339 (2026-11-22T08:00:00Z), a date (2026-11-22, UTC midnight), Unix seconds, `now`, `today`, `yesterday` or a time back from now (-24h, -2 hours)"
    )]
    NotATime(String),
}

/// Parses `"<number><unit>"` with unit `ms`, `s`, `m`, `h` or `d`. A bare number is refused,
/// because `poll_interval = 60` could mean seconds or minutes.
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    let t = s.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| DurationError::NoUnit(s.to_owned()))?;
    let (n, unit) = t.split_at(split);
    if n.is_empty() {
        return Err(DurationError::NotADuration(s.to_owned()));
    }
    // Only digits: a number that does not parse is one too big for a u64.
    let n: u64 = n
        .parse()
        .map_err(|_| DurationError::Overflow(s.to_owned()))?;
    let ms = match unit.trim() {
        "ms" | "msec" | "millisecond" | "milliseconds" => Some(n),
        "s" | "sec" | "secs" | "second" | "seconds" => n.checked_mul(1_000),
        "m" | "min" | "mins" | "minute" | "minutes" => n.checked_mul(60_000),
        "h" | "hr" | "hrs" | "hour" | "hours" => n.checked_mul(3_600_000),
        "d" | "day" | "days" => n.checked_mul(86_400_000),
        other => {
            return Err(DurationError::UnknownUnit {
                text: s.to_owned(),
                unit: other.to_owned(),
            });
        }
    };
    // Any u64 of milliseconds fits a Duration (u64 seconds): from_millis cannot overflow.
    ms.map(Duration::from_millis)
        .ok_or_else(|| DurationError::Overflow(s.to_owned()))
}

/// [`parse_duration`], refused outside `min..=max`. Every duration key has such bounds: the
/// program adds and multiplies durations (`now - lag` in i64 nanoseconds, `Instant + d`,
/// `poll_interval * 10`), which a duration of years would overflow, and a zero timeout cannot
/// work.
pub fn parse_duration_in(s: &str, min: Duration, max: Duration) -> Result<Duration, DurationError> {
    let d = parse_duration(s)?;
    let range = if min.is_zero() {
        format!("at most {}", show_duration(max))
    } else {
        format!("{} to {}", show_duration(min), show_duration(max))
    };
    let text = s.trim().to_owned();
    if d < min {
        Err(DurationError::TooShort { text, range })
    } else if d > max {
        Err(DurationError::TooLong { text, range })
    } else {
        Ok(d)
    }
}

/// A duration as the config writes it, in its largest whole unit: `1d`, `90m`, `500ms`.
pub fn show_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".to_owned();
    }
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// A time as the command line takes it, and a note when it was read by a guess worth saying
/// (a date and time without a zone is read as UTC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct When {
    /// The instant.
    pub at: Timestamp,
    /// What to tell the user about how it was read.
    pub note: Option<String>,
}

/// A time as the command line takes it: RFC 3339 (`2026-11-22T00:00:00Z`), a date and time
/// without a zone (UTC, with a note), a date (UTC midnight), Unix seconds, `now`, `today`,
/// `yesterday` (UTC midnights), or back from now (`-24h`, `-2 hours`).
pub fn parse_when(s: &str, now: Timestamp) -> Result<When, WhenError> {
    let s = s.trim();
    let plain = |at| Ok(When { at, note: None });
    match s {
        "now" => return plain(now),
        "today" | "yesterday" => {
            const DAY: i64 = 86_400 * 1_000_000_000;
            let midnight = now.unix_nanos().div_euclid(DAY) * DAY;
            let back = if s == "today" { 0 } else { DAY };
            return plain(Timestamp::from_unix_nanos(midnight - back, 0));
        }
        _ => {}
    }
    if let Some(rel) = s.strip_prefix('-') {
        let d = parse_duration(rel)?;
        // Checked twice: the duration may not fit i64 nanoseconds (~292 years), and taking
        // even one that does from a `now` far in the past could go below i64::MIN.
        let back = i64::try_from(d.as_nanos())
            .ok()
            .and_then(|nanos| now.unix_nanos().checked_sub(nanos))
            .ok_or_else(|| WhenError::TooFarBack(s.to_owned()))?;
        return plain(Timestamp::from_unix_nanos(back, now.fraction_digits()));
    }
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        let secs: i64 = s.parse().map_err(|_| WhenError::NotATime(s.to_owned()))?;
        let nanos = secs
            .checked_mul(1_000_000_000)
            .ok_or_else(|| WhenError::NotATime(s.to_owned()))?;
        return plain(Timestamp::from_unix_nanos(nanos, 0));
    }
    if let Ok(at) = Timestamp::parse(s) {
        return plain(at);
    }
    if let Ok(date) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let nanos = date
            .and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_utc().timestamp_nanos_opt())
            .ok_or_else(|| WhenError::NotATime(s.to_owned()))?;
        return plain(Timestamp::from_unix_nanos(nanos, 0));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, format)
            && let Some(nanos) = t.and_utc().timestamp_nanos_opt()
        {
            let at = Timestamp::from_unix_nanos(nanos, 7);
            return Ok(When {
                at,
                note: Some(format!("`{s}` has no time zone: read as UTC ({at})")),
            });
        }
    }
    Err(WhenError::NotATime(s.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_a_unit() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("48h"), Ok(Duration::from_secs(48 * 3600)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86400)));
        assert!(
            parse_duration("60")
                .unwrap_err()
                .to_string()
                .contains("no unit")
        );
        // Long unit names too, with or without a space.
        assert_eq!(parse_duration("5 minutes"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2hours"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1 day"), Ok(Duration::from_secs(86_400)));
        assert!(
            parse_duration("5 fortnights")
                .unwrap_err()
                .to_string()
                .contains("unknown unit")
        );
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn durations_never_overflow_and_bounds_name_the_range() {
        // The largest count of milliseconds is still a Duration.
        assert_eq!(
            parse_duration("18446744073709551615ms"),
            Ok(Duration::from_millis(u64::MAX))
        );
        for huge in [
            "18446744073709551616ms",
            "213503982334601d",
            "99999999999999999999s",
        ] {
            let e = parse_duration(huge).unwrap_err().to_string();
            assert!(e.contains("is too long"), "{huge}: {e}");
        }
        assert!(
            parse_duration("s")
                .unwrap_err()
                .to_string()
                .contains("is not a duration")
        );
        let (min, max) = (Duration::from_secs(1), Duration::from_secs(86_400));
        assert_eq!(parse_duration_in("1d", min, max), Ok(max));
        assert_eq!(
            parse_duration_in("25h", min, max).map_err(|e| e.to_string()),
            Err("`25h` is too long (1s to 1d)".into())
        );
        assert_eq!(
            parse_duration_in("999ms", min, max).map_err(|e| e.to_string()),
            Err("`999ms` is too short (1s to 1d)".into())
        );
        assert_eq!(
            parse_duration_in("8d", Duration::ZERO, Duration::from_secs(7 * 86_400))
                .map_err(|e| e.to_string()),
            Err("`8d` is too long (at most 7d)".into())
        );
        let shown: Vec<String> = [0, 1, 1_500, 90_000, 7_200_000, 180 * 86_400_000]
            .map(|ms| show_duration(Duration::from_millis(ms)))
            .into();
        assert_eq!(shown, ["0s", "1ms", "1500ms", "90s", "2h", "180d"]);
    }

    #[test]
    fn absolute_relative_and_now() {
        let now = Timestamp::parse("2026-11-29T12:00:00Z").unwrap();
        let at = |s: &str| parse_when(s, now).unwrap().at.to_string();
        assert_eq!(parse_when("now", now).unwrap().at, now);
        assert_eq!(at("-24h"), "2026-11-28T12:00:00Z");
        assert_eq!(at("-90m"), "2026-11-29T10:30:00Z");
        assert_eq!(at("-2 hours"), "2026-11-29T10:00:00Z");
        assert_eq!(at("2026-11-22T00:00:00.5Z"), "2026-11-22T00:00:00.5Z");
        // Issue 18: what users typed first.
        assert_eq!(
            at("2026-12-05"),
            "2026-12-05T00:00:00Z",
            "a date: UTC midnight"
        );
        assert_eq!(at("today"), "2026-11-29T00:00:00Z");
        assert_eq!(at("yesterday"), "2026-11-28T00:00:00Z");
        assert_eq!(at("1764979200"), "2025-12-06T00:00:00Z", "Unix seconds");
        let zoneless = parse_when("2026-12-05T08:00:00", now).unwrap();
        assert_eq!(zoneless.at.to_string(), "2026-12-05T08:00:00.0000000Z");
        assert_eq!(
            zoneless.note.as_deref(),
            Some(
                "`2026-12-05T08:00:00` has no time zone: read as UTC (2026-12-05T08:00:00.0000000Z)"
            )
        );
        let e = parse_when("last tuesday", now).unwrap_err().to_string();
        assert_eq!(e.matches("RFC 3339").count(), 1, "{e}");
        assert!(
            e.starts_with("`last tuesday` is not a time: write RFC 3339"),
            "{e}"
        );
    }

    #[test]
    fn far_back_is_an_error_not_an_overflow() {
        let now = Timestamp::parse("2026-11-29T12:00:00Z").unwrap();
        // Fit a Duration, not i64 nanoseconds.
        for far in ["-999999999d", "-18446744073709551615ms"] {
            let e = parse_when(far, now).unwrap_err().to_string();
            assert!(e.contains("is too far back"), "{far}: {e}");
        }
        // Do not even fit a Duration of u64 milliseconds.
        for far in ["-213503982334601d", "-99999999999999999999999d"] {
            let e = parse_when(far, now).unwrap_err().to_string();
            assert!(e.contains("is too long"), "{far}: {e}");
        }
        // Fits i64 nanoseconds, but not once taken from a `now` that is itself far back.
        let long_ago = Timestamp::from_unix_nanos(i64::MIN + 1, 0);
        let e = parse_when("-1d", long_ago).unwrap_err().to_string();
        assert!(e.contains("too far back"), "{e}");
    }
}
