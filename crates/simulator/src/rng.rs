//! SplitMix64: a tiny seedable generator. The simulator needs reproducible data and fault
//! sequences, not cryptographic randomness, so no `rand` dependency.

/// A SplitMix64 stream. Independent streams come from [`Rng::derive`], so adding a draw in one
/// place (say, faults) does not shift the alerts generated from the same seed.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

/// Characters of user codes: no 0/O/1/I, which people misread when typing a code.
const USER_CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const URL_SAFE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

impl Rng {
    /// A stream for one purpose (`label`) and index, decorrelated from every other stream of the
    /// same seed.
    pub(crate) fn derive(seed: u64, label: &str, index: u64) -> Self {
        // FNV-1a over the label, then mixed with the seed and index through SplitMix itself.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in label.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        let mut r = Rng(seed ^ h.rotate_left(17) ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        r.next_u64();
        r
    }

    /// Where the stream is, to replay it from here later with [`Rng::resume`].
    pub(crate) fn state(&self) -> u64 {
        self.0
    }

    pub(crate) fn resume(state: u64) -> Self {
        Rng(state)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`); the modulo bias is irrelevant for test data.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        self.next_u64() % n.max(1)
    }

    /// Uniform in `lo..=hi`.
    pub(crate) fn between(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = (hi - lo) as u64 + 1;
        lo + self.below(span) as i64
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p` (clamped to `[0, 1]`); draws even when `p` is 0 so that the
    /// sequence does not depend on the configured rates.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p.clamp(0.0, 1.0)
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Lower-case hex digits, e.g. a machine id (40) or a SHA-256 (64).
    pub(crate) fn hex(&mut self, len: usize) -> String {
        let mut digits = Vec::with_capacity(len);
        self.write_hex(len, &mut digits);
        String::from_utf8(digits).unwrap_or_default()
    }

    /// Appends what [`Rng::hex`] returns.
    pub(crate) fn write_hex(&mut self, len: usize, out: &mut Vec<u8>) {
        const HEX: &[u8] = b"0123456789abcdef";
        out.extend((0..len).map(|_| HEX[self.below(16) as usize]));
    }

    /// Moves on as `n` draws would (each draw is one step of the stream).
    pub(crate) fn skip(&mut self, n: u64) {
        self.0 = self.0.wrapping_add(n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    }

    /// A version-4-shaped GUID, lower case, as Entra and MDE write them.
    pub(crate) fn guid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            8 + (b >> 62),
            (b >> 48) & 0xfff,
            b & 0xffff_ffff_ffff
        )
    }

    /// Opaque token text from the base64url alphabet.
    pub(crate) fn token(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| URL_SAFE[self.below(64) as usize] as char)
            .collect()
    }

    /// A device-flow user code like `GDCXH5LQ7`.
    pub(crate) fn user_code(&mut self) -> String {
        (0..9)
            .map(|_| *self.pick(USER_CODE_ALPHABET) as char)
            .collect()
    }
}
