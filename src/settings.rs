//! What every reader of a settings file shares (the config file's sections, mapping files): a
//! number checked against its range, and the line of a byte offset for messages.

use std::ops::RangeInclusive;

/// A number outside its key's range; the message names the range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// Below the range.
    #[error("{value} is too small ({lo} to {hi})")]
    TooSmall {
        /// The value, as the file wrote it.
        value: String,
        /// The range's first value.
        lo: String,
        /// The range's last value.
        hi: String,
    },
    /// Above the range.
    #[error("{value} is too large ({lo} to {hi})")]
    TooLarge {
        /// The value, as the file wrote it.
        value: String,
        /// The range's first value.
        lo: String,
        /// The range's last value.
        hi: String,
    },
}

/// `value` if it lies in `range`, else an error that names the range. Every numeric key has
/// one: the keys take numbers up to 2^64 - 1, which are no setting, and some become allocations
/// or arithmetic that would fail far from the file (a batch's buffer, a channel).
pub fn number_in<T>(value: T, range: RangeInclusive<T>) -> Result<T, RangeError>
where
    T: PartialOrd + std::fmt::Display,
{
    let (lo, hi) = (range.start(), range.end());
    let words = || (value.to_string(), lo.to_string(), hi.to_string());
    if value < *lo {
        let (value, lo, hi) = words();
        Err(RangeError::TooSmall { value, lo, hi })
    } else if value > *hi {
        let (value, lo, hi) = words();
        Err(RangeError::TooLarge { value, lo, hi })
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
