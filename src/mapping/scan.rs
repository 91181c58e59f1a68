//! Tests of eight bytes at a time for the bytes that need escaping: most values need none, and
//! the encoders spend their time proving it.

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

// The tests below return masks that are non-zero when the chunk holds a match, and are
// combined with `|`, not `||`: one branch per chunk instead of one per test.

/// Non-zero when some byte of `x` is below `n` (n <= 128). Never a false "no".
#[inline]
fn less(x: u64, n: u8) -> u64 {
    x.wrapping_sub(LO * u64::from(n)) & !x & HI
}

/// Non-zero when some byte of `x` equals `b`.
#[inline]
pub(crate) fn byte(x: u64, b: u8) -> u64 {
    let y = x ^ (LO * u64::from(b));
    y.wrapping_sub(LO) & !y & HI
}

/// Non-zero when a chunk may hold a control character or is not all ASCII: cheap for
/// the ASCII text most values are, at the price of a closer look at others.
#[inline]
pub(crate) fn control_or_non_ascii(x: u64) -> u64 {
    less(x, 0x20) | byte(x, 0x7f) | (x & HI)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_flag_exactly_the_chunks_with_a_match() {
        for n in 0..=255u8 {
            let x = u64::from_le_bytes([b'a', b'b', n, b'c', b'd', b'e', b'f', b'g']);
            assert_eq!(byte(x, b'=') != 0, n == b'=', "{n}");
            assert_eq!(byte(x, 0xc2) != 0, n == 0xc2, "{n}");
            assert_eq!(
                control_or_non_ascii(x) != 0,
                !(0x20..0x7f).contains(&n),
                "{n}"
            );
        }
    }
}
