//! Durations as the config writes them: a number and a unit, `"500ms"`, `"2s"`, `"5m"`,
//! `"48h"`, `"7d"`.

use std::time::Duration;

use crate::alert::Timestamp;

/// Parses `"<number><unit>"` with unit `ms`, `s`, `m`, `h` or `d`. A bare number is refused,
/// because `poll_interval = 60` could mean seconds or minutes.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(|| {
        format!("`{s}` has no unit (write e.g. \"500ms\", \"2s\", \"5m\", \"48h\", \"7d\")")
    })?;
    let (n, unit) = t.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (write e.g. \"30s\")"))?;
    let ms = match unit.trim() {
        "ms" => Some(n),
        "s" => n.checked_mul(1_000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        "d" => n.checked_mul(86_400_000),
        other => {
            return Err(format!("`{s}`: unknown unit `{other}` (ms, s, m, h or d)"));
        }
    };
    ms.map(Duration::from_millis)
        .ok_or_else(|| format!("`{s}` is too long"))
}

/// A time as the command line takes it: RFC 3339 (`2026-11-22T00:00:00Z`), `now`, or relative
/// to now (`-24h`, `-30m`, `-7d`).
pub fn parse_when(s: &str, now: Timestamp) -> Result<Timestamp, String> {
    let s = s.trim();
    if s == "now" {
        return Ok(now);
    }
    if let Some(rel) = s.strip_prefix('-') {
        let d = parse_duration(rel)?;
        let nanos = i64::try_from(d.as_nanos()).map_err(|_| format!("`{s}` is too far back"))?;
        return Ok(Timestamp::from_unix_nanos(
            now.unix_nanos() - nanos,
            now.fraction_digits(),
        ));
    }
    Timestamp::parse(s).map_err(|e| {
        format!("`{s}` is not a time: write RFC 3339 (2026-11-22T00:00:00Z), `now` or `-24h` ({e})")
    })
}

#[cfg(test)]
mod when_tests {
    use super::*;

    #[test]
    fn absolute_relative_and_now() {
        let now = Timestamp::parse("2026-11-29T12:00:00Z").unwrap();
        assert_eq!(parse_when("now", now), Ok(now));
        assert_eq!(
            parse_when("-24h", now).unwrap().to_string(),
            "2026-11-28T12:00:00Z"
        );
        assert_eq!(
            parse_when("-90m", now).unwrap().to_string(),
            "2026-11-29T10:30:00Z"
        );
        assert_eq!(
            parse_when("2026-11-22T00:00:00.5Z", now)
                .unwrap()
                .to_string(),
            "2026-11-22T00:00:00.5Z"
        );
        assert!(
            parse_when("yesterday", now)
                .unwrap_err()
                .contains("is not a time")
        );
    }
}
