//! Writing JSON: exactly the compact text serde_json writes for the same value (same escapes,
//! same order), so an alert reads the same whether it was generated now or parsed back from its
//! text.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::LazyLock;

use super::doc::{EVIDENCE_KEYS, Evidence, Key, Obj, V};
use super::rng::Rng;
use siemfwd_time::Timestamp;

/// `,"key":null` and `,"key":` of every evidence field, each list in one piece, so that a run of
/// null fields is written at once.
struct EvidenceText {
    nulls: Vec<u8>,
    null_at: [usize; 26],
    keys: Vec<u8>,
    key_at: [usize; 26],
}

static EVIDENCE_TEXT: LazyLock<EvidenceText> = LazyLock::new(|| {
    let mut t = EvidenceText {
        nulls: Vec::new(),
        null_at: [0; 26],
        keys: Vec::new(),
        key_at: [0; 26],
    };
    for (i, k) in EVIDENCE_KEYS.iter().enumerate() {
        t.nulls
            .extend_from_slice(format!(",\"{k}\":null").as_bytes());
        t.null_at[i + 1] = t.nulls.len();
        t.keys.extend_from_slice(format!(",\"{k}\":").as_bytes());
        t.key_at[i + 1] = t.keys.len();
    }
    t
});

pub(crate) fn write_evidence(out: &mut Vec<u8>, e: &Evidence) {
    let t = &*EVIDENCE_TEXT;
    fn first(s: &[u8], i: usize) -> &[u8] {
        if i == 0 { &s[1..] } else { s }
    }
    out.push(b'{');
    let mut i = 0;
    while i < e.0.len() {
        let from = i;
        if e.0[i].is_null() {
            while i < e.0.len() && e.0[i].is_null() {
                i += 1;
            }
            out.extend_from_slice(first(&t.nulls[t.null_at[from]..t.null_at[i]], from));
        } else {
            out.extend_from_slice(first(&t.keys[t.key_at[i]..t.key_at[i + 1]], i));
            write_value(out, &e.0[i]);
            i += 1;
        }
    }
    out.push(b'}');
}

/// How serde_json escapes each byte inside a string: 0 for none, `u` for `\u00XX`.
const ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Whether any of the 8 bytes of `w` must be escaped: below 0x20, `"` or `\\`.
fn any_special(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    control | zero_byte(w ^ (ONES * u64::from(b'"'))) | zero_byte(w ^ (ONES * u64::from(b'\\')))
        != 0
}

/// Writes `s` as a JSON string.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    loop {
        // Skip 8 bytes at a time while none needs escaping.
        while let Some(word) = bytes.get(i..i + 8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            if any_special(u64::from_le_bytes(w)) {
                break;
            }
            i += 8;
        }
        let end = (i + 8).min(bytes.len());
        if i >= end {
            break;
        }
        for (at, &b) in bytes[i..end].iter().enumerate() {
            let e = ESCAPE[usize::from(b)];
            if e != 0 {
                let at = i + at;
                out.extend_from_slice(&bytes[start..at]);
                if e == b'u' {
                    let (hi, lo) = (HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]);
                    out.extend_from_slice(&[b'\\', b'u', b'0', b'0', hi, lo]);
                } else {
                    out.extend_from_slice(&[b'\\', e]);
                }
                start = at + 1;
            }
        }
        i = end;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Writes `"key":`. The keys this code writes itself need no escaping.
fn write_key(out: &mut Vec<u8>, key: &Key) {
    match key {
        Cow::Borrowed(k) => {
            out.reserve(k.len() + 3);
            out.push(b'"');
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b"\":");
        }
        Cow::Owned(k) => {
            write_str(out, k);
            out.push(b':');
        }
    }
}

pub(crate) fn write_int(out: &mut Vec<u8>, n: i64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

/// Writes a timestamp string as `Timestamp`'s `Display` does (`YYYY-MM-DDTHH:MM:SS[.f]Z`).
pub(crate) fn write_time(out: &mut Vec<u8>, nanos: i64, digits: u8) {
    let secs = nanos.div_euclid(1_000_000_000);
    let sub = nanos.rem_euclid(1_000_000_000) as u32;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    if !(0..=9999).contains(&y) {
        let mut s = String::new();
        Timestamp::from_unix_nanos(nanos, digits).write_rfc3339(digits, &mut s);
        write_str(out, &s);
        return;
    }
    let sod = secs.rem_euclid(86_400) as u32;
    let y = y as u32;
    let two = |n: u32| [b'0' + (n / 10) as u8, b'0' + (n % 10) as u8];
    let (hh, mm, ss) = (two(sod / 3600), two(sod % 3600 / 60), two(sod % 60));
    let (c, yy, mo, dd) = (two(y / 100), two(y % 100), two(m), two(d));
    let mut buf = [
        b'"', c[0], c[1], yy[0], yy[1], b'-', mo[0], mo[1], b'-', dd[0], dd[1], b'T', hh[0], hh[1],
        b':', mm[0], mm[1], b':', ss[0], ss[1], b'.', 0, 0, 0, 0, 0, 0, 0, 0, 0, b'Z', b'"',
    ];
    let digits = usize::from(digits.min(9));
    let len = if digits > 0 {
        let mut frac = sub / 10u32.pow(9 - digits as u32);
        for slot in buf[21..21 + digits].iter_mut().rev() {
            *slot = b'0' + (frac % 10) as u8;
            frac /= 10;
        }
        21 + digits
    } else {
        20
    };
    buf[len] = b'Z';
    buf[len + 1] = b'"';
    out.extend_from_slice(&buf[..len + 2]);
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

pub(crate) fn write_value(out: &mut Vec<u8>, v: &V) {
    match v {
        V::Null => out.extend_from_slice(b"null"),
        V::Int(n) => write_int(out, *n),
        V::Str(s) => write_str(out, s),
        V::Time(nanos, digits) => write_time(out, *nanos, *digits),
        V::Strs(items) => {
            out.push(b'[');
            for (i, s) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, s);
            }
            out.push(b']');
        }
        V::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        V::Obj(o) => write_obj(out, o),
        V::Evidence(e) => write_evidence(out, e),
        V::Evidences(items) => {
            out.push(b'[');
            for (i, e) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_evidence(out, e);
            }
            out.push(b']');
        }
        V::Hex(state, len) => {
            out.push(b'"');
            Rng::resume(*state).write_hex(usize::from(*len), out);
            out.push(b'"');
        }
        V::Json(v) => {
            // Writing a Value into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, v);
        }
    }
}

pub(crate) fn write_obj(out: &mut Vec<u8>, o: &Obj) {
    out.push(b'{');
    for (i, (k, v)) in o.0.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_key(out, k);
        write_value(out, v);
    }
    out.push(b'}');
}

/// Writes an alert; returns where its `evidence` value is in `out`. Without `expand`, the
/// evidence is written as `[]` whatever it holds, as the API does without `$expand=evidence`.
pub(crate) fn write_alert(out: &mut Vec<u8>, a: &Obj, expand: bool) -> Option<Range<usize>> {
    let mut evidence = None;
    out.push(b'{');
    for (i, (k, v)) in a.0.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_key(out, k);
        let start = out.len();
        if k == "evidence" {
            if expand {
                write_value(out, v);
            } else {
                out.extend_from_slice(b"[]");
            }
            evidence = Some(start..out.len());
        } else {
            write_value(out, v);
        }
    }
    out.push(b'}');
    evidence
}
