//! Durations as the config writes them: a number and a unit, `"500ms"`, `"2s"`, `"5m"`,
//! `"48h"`, `"7d"`.

use std::time::Duration;

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
