//! What every reader of a settings file shares (the config file's sections, mapping files): a
//! number checked against its range, and the line of a byte offset for messages.

use std::ops::RangeInclusive;

/// `value` if it lies in `range`, else a message that names the range. Every numeric key has
/// one: the keys take numbers up to 2^64 - 1, which are no setting, and some become allocations
/// or arithmetic that would fail far from the file (a batch's buffer, a channel).
pub fn number_in<T>(value: T, range: RangeInclusive<T>) -> Result<T, String>
where
    T: PartialOrd + std::fmt::Display,
{
    let (lo, hi) = (range.start(), range.end());
    if value < *lo {
        Err(format!("{value} is too small ({lo} to {hi})"))
    } else if value > *hi {
        Err(format!("{value} is too large ({lo} to {hi})"))
    } else {
        Ok(value)
    }
}

/// Line (1-based) of a byte offset in `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Whether `name` may name a file: not empty, letters, digits, '-', '_' or '.' only. Tenant
/// and output names do (state files, dead letters).
pub(crate) fn is_file_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}
