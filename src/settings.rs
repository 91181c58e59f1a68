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

/// Of `candidates`, the one `word` most likely meant: the same but for case, or the nearest
/// within a third of its length in edits (`client_secert_env` → `client_secret_env`).
pub fn closest<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    if let Some(same) = candidates.iter().find(|c| c.eq_ignore_ascii_case(word)) {
        return Some(same);
    }
    let most = (word.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|c| (edits(word, c), *c))
        .filter(|(d, _)| *d <= most)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance, counting a swap of two neighbours as one edit.
fn edits(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// A TOML "unknown field" message made helpful: the key it most likely meant, and, where the
/// parser could not say (a tenant's keys are read in two parts), the keys there are.
pub fn explain_unknown_key(message: &str, keys_if_unlisted: &[&str]) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message.to_owned();
    };
    let Some((word, after)) = rest.split_once('`') else {
        return message.to_owned();
    };
    let listed: Vec<&str> = after
        .strip_prefix(", expected one of ")
        .or_else(|| after.strip_prefix(", expected "))
        .map(|l| l.split(", ").map(|k| k.trim_matches('`')).collect())
        .unwrap_or_default();
    let mut text = message.to_owned();
    let keys = if listed.is_empty() {
        if keys_if_unlisted.is_empty() {
            return text;
        }
        text.push_str(&format!(
            ", expected one of {}",
            keys_if_unlisted
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        keys_if_unlisted
    } else {
        &listed[..]
    };
    if let Some(meant) = closest(word, keys) {
        text = format!(
            "unknown field `{word}` (did you mean `{meant}`?){}",
            &text[16 + word.len()..]
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelt_key_is_matched_to_the_one_meant() {
        let keys = [
            "client_secret_env",
            "client_secret",
            "client_id",
            "state_dir",
        ];
        assert_eq!(
            closest("client_secert_env", &keys),
            Some("client_secret_env")
        );
        assert_eq!(closest("stat_dir", &keys), Some("state_dir"));
        assert_eq!(closest("Client_ID", &keys), Some("client_id"));
        assert_eq!(closest("colour", &keys), None, "nothing close: no guess");
        assert_eq!(
            explain_unknown_key(
                "unknown field `stat_dir`, expected one of `state_dir`, `admin`",
                &[]
            ),
            "unknown field `stat_dir` (did you mean `state_dir`?), expected one of `state_dir`, `admin`"
        );
        assert_eq!(
            explain_unknown_key("unknown field `client_secert_env`", &keys),
            "unknown field `client_secert_env` (did you mean `client_secret_env`?), expected one of `client_secret_env`, `client_secret`, `client_id`, `state_dir`"
        );
        assert_eq!(
            explain_unknown_key("invalid type: string", &keys),
            "invalid type: string"
        );
    }
}
