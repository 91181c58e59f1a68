//! Fitting a record into a byte budget by shortening its longest values first.

use std::borrow::Cow;

use super::{EncodeStats, Part, Record, Syntax};

/// A part that may be shortened: the part, the escaped length of each of its characters, and
/// its escaped length.
type Shrinkable<'p, 'x> = (&'p mut Part<'x>, &'p dyn Fn(char) -> usize, usize);

/// Shortens the shrinkable parts of `record` so that, written by `syntax`, it takes at most
/// `budget` bytes; `written` is its length as it stands. Returns what was cut, or the least
/// length the record could have (all shrinkable values empty) when that is over budget.
pub(crate) fn fit(
    record: &mut Record<'_>,
    syntax: &dyn Syntax,
    written: usize,
    budget: usize,
) -> Result<EncodeStats, usize> {
    let header_len = |c: char| syntax.header_char_len(c);
    let field_len = |c: char| syntax.field_char_len(c);
    let mut parts: Vec<Shrinkable<'_, '_>> = Vec::new();
    for p in record.header.iter_mut().filter(|p| p.shrinkable) {
        let len = escaped_len(&p.text, &header_len);
        parts.push((p, &header_len, len));
    }
    for (_, p) in record.fields.iter_mut().filter(|(_, p)| p.shrinkable) {
        let len = escaped_len(&p.text, &field_len);
        parts.push((p, &field_len, len));
    }
    let shrinkable: usize = parts.iter().map(|(_, _, len)| len).sum();
    let fixed = written - shrinkable;
    if fixed > budget {
        return Err(fixed);
    }
    let cap = water_level(parts.iter().map(|(_, _, len)| *len), budget - fixed);
    let mut stats = EncodeStats::default();
    for (part, char_len, len) in parts {
        if len <= cap {
            continue;
        }
        let keep = prefix_within(&part.text, cap, char_len);
        stats.budget_truncations += 1;
        stats.bytes_removed += (part.text.len() - keep) as u64;
        match &mut part.text {
            Cow::Borrowed(b) => *b = &b[..keep],
            Cow::Owned(o) => o.truncate(keep),
        }
    }
    Ok(stats)
}

fn escaped_len(s: &str, char_len: &dyn Fn(char) -> usize) -> usize {
    s.chars().map(char_len).sum()
}

/// The largest cap such that the lengths, each limited to the cap, add up to at most `room`.
fn water_level(lens: impl Iterator<Item = usize> + Clone, room: usize) -> usize {
    let total = |cap: usize| lens.clone().map(|l| l.min(cap)).sum::<usize>();
    let (mut lo, mut hi) = (0usize, lens.clone().max().unwrap_or(0));
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if total(mid) <= room {
            lo = mid
        } else {
            hi = mid - 1
        }
    }
    lo
}

/// Byte length of the longest prefix of `s`, cut between characters, whose escaped form takes
/// at most `max` bytes.
fn prefix_within(s: &str, max: usize, char_len: &dyn Fn(char) -> usize) -> usize {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        used += char_len(c);
        if used > max {
            return i;
        }
    }
    s.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn water_level_caps_the_longest_first() {
        assert_eq!(water_level([10, 2, 3].into_iter(), 15), 10);
        assert_eq!(water_level([10, 2, 3].into_iter(), 11), 6);
        assert_eq!(water_level([10, 10, 1].into_iter(), 11), 5);
        assert_eq!(water_level([5, 5].into_iter(), 0), 0);
        assert_eq!(water_level(std::iter::empty(), 3), 0);
    }

    #[test]
    fn prefix_respects_escapes_and_char_boundaries() {
        let cost = |c: char| if c == '=' { 2 } else { c.len_utf8() };
        assert_eq!(prefix_within("a=b", 2, &cost), 1);
        assert_eq!(prefix_within("a=b", 3, &cost), 2);
        assert_eq!(prefix_within("éé", 3, &cost), 2);
        assert_eq!(prefix_within("abc", 10, &cost), 3);
    }
}
