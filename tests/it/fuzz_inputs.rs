//! A fuzz run over what the API or a file can send: the page reader, the file reader and every
//! encoder (CEF, LEEF, JSON; with and without a byte budget) must never panic, and every
//! record must stay one line without a raw control character (issue 13).
//!
//! Inputs are the shipped sample alerts and hand-made hostile pages, mutated at random (bytes
//! flipped, inserted, deleted, duplicated, spliced, cut; JSON tokens and hostile strings
//! inserted). No nightly toolchain is needed (cargo-fuzz needs one), so this is a seeded
//! mutation loop with its own generator; it is repeatable from `SIEMFWD_FUZZ_SEED`.
//!
//! CI runs 20,000 cases; `SIEMFWD_FUZZ_CASES=10000000 cargo test --release --test fuzz_inputs
//! -- --nocapture` is the long run (figures in BENCHMARKS.md). A panicking input is saved in
//! `tests/fuzz-corpus/`, and every file there is run first, each time: found crashes stay
//! regression tests.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use siemfwd::alert::Timestamp;
use siemfwd::mapping::{Format, Mapping, TenantIdentity};
use siemfwd::reader::{self, Item};

const TENANT: TenantIdentity<'static> = TenantIdentity {
    name: "contoso",
    id: "8f0b6c2e-1a2b-4c3d-9e8f-0a1b2c3d4e5f",
};

/// splitmix64: small, fast and good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fuzz-corpus")
}

fn seeds() -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/alerts");
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    for f in [
        "single.json",
        "array.json",
        "malformed.ndjson",
        "realistic.ndjson",
    ] {
        let text = std::fs::read(dir.join(f)).unwrap();
        seeds.push(text.clone());
        for line in text.split(|b| *b == b'\n').filter(|l| l.len() > 2) {
            seeds.push(line.to_vec());
        }
    }
    let hand: &[&str] = &[
        r#"{"value":[{"id":"a","title":"x|y=z\\\n","severity":"High","lastUpdateTime":"2026-11-22T10:00:00.1234567Z"}]}"#,
        r#"{"value":[["forged-id",123],{"id":"ok"},null,"x",7]}"#,
        r#"{"value":[{"id":"s","description":"\ud800 lone","x":"\udc00"}]}"#,
        r#"{"value":[{"id":"c","description":"a\u001b[31mred\u007f\u0085nel\u2028ls","computerDnsName":"h\u0000"}]}"#,
        r#"{"value":[{"id":"e","evidence":[{"entityType":"File","fileName":"a\\b.exe","sha256":null},{"entityType":"Ip","ipAddress":"::1"}],"mitreTechniques":"T1059","relatedUser":{"userName":"u","domainName":"d"}}]}"#,
        r#"{"value":[{"id":"n","incidentId":1e999,"investigationId":-0,"x":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}]}"#,
        "{\"value\":[{\"id\":\"r\",\"title\":\"raw \u{7f} del \u{85} nel \u{9f}\"}]}",
        r#"{"@odata.context":"x","value":[],"@odata.nextLink":"y"}"#,
        r#"<!DOCTYPE html><html><body>Sign in</body></html>"#,
        r#"{"message":"An error has occurred."}"#,
    ];
    seeds.extend(hand.iter().map(|s| s.as_bytes().to_vec()));
    seeds
}

/// Tokens and strings that break readers and encoders.
const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b"\\",
    b",",
    b":",
    b"null",
    b"true",
    b"-0",
    b"1e999",
    b"\\u0000",
    b"\\ud800",
    b"\\udfff",
    b"\\u2028",
    b"\"value\":[",
    b"\"evidence\":[",
    b"\"id\":",
    b"\"lastUpdateTime\":\"2026-13-45T25:61:61.12345678Z\"",
    b"\x7f",
    b"\xc2\x85",
    b"\xff",
    b"\xed\xa0\x80",
    b"\r\n",
    b"\n<13>1 - - - - - CEF:0|forged|",
    b"|",
    b"=",
    b"\t",
    b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
];

/// What may stand inside a JSON string and still be valid JSON: what encoders must survive.
const IN_STRING: &[&[u8]] = &[
    b"\\u0000",
    b"\\ud800",
    b"\\udc00x",
    b"\\u001b[31m",
    b"\\n<13>1 - CEF:0|x|",
    b"\\r",
    b"\\\"",
    b"\\\\",
    b"\x7f",
    b"\xc2\x85",
    b"\xc2\x9f",
    b"\xe2\x80\xa8",
    b"|",
    b"=",
    b"\\t",
    b"\xf0\x9f\x98\x80",
    b"\xc3\xa9",
    b"%n%s",
    b"${jndi:ldap://x}",
];

/// Valid JSON with hostile string content: a token put right after the opening quote of a
/// string value (after `":"`), repeated to make long values that budgets must cut.
fn mutate_strings(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut b = seeds[rng.below(seeds.len())].clone();
    for _ in 0..1 + rng.below(6) {
        let starts: Vec<usize> = b
            .windows(3)
            .enumerate()
            .filter(|(_, w)| w == b"\":\"")
            .map(|(i, _)| i + 3)
            .collect();
        if starts.is_empty() {
            break;
        }
        let at = starts[rng.below(starts.len())];
        let token = IN_STRING[rng.below(IN_STRING.len())];
        let times = if rng.below(4) == 0 {
            1 + rng.below(2000)
        } else {
            1
        };
        let insert: Vec<u8> = token.repeat(times);
        b.splice(at..at, insert);
    }
    b
}

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    if rng.below(2) == 0 {
        return mutate_strings(rng, seeds);
    }
    let mut b = seeds[rng.below(seeds.len())].clone();
    // Large samples are cut to a window so that each case stays cheap.
    if b.len() > 4096 {
        let start = rng.below(b.len() - 4096);
        if rng.below(2) == 0 {
            b = b[start..start + 4096].to_vec();
        }
    }
    for _ in 0..1 + rng.below(3) {
        let len = b.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                b[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(len + 1);
                b.insert(i, rng.next() as u8);
            }
            2 if len > 0 => {
                let i = rng.below(len);
                let n = rng.below((len - i).min(64)) + 1;
                b.drain(i..i + n);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = rng.below((len - i).min(256)) + 1;
                let copy = b[i..i + n].to_vec();
                let at = rng.below(len + 1);
                b.splice(at..at, copy);
            }
            4 => {
                let other = &seeds[rng.below(seeds.len())];
                let i = rng.below(other.len());
                let n = rng.below((other.len() - i).min(512)) + 1;
                let at = rng.below(len + 1);
                b.splice(at..at, other[i..i + n].iter().copied());
            }
            5 if len > 0 => b.truncate(rng.below(len)),
            6 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                let at = rng.below(len + 1);
                b.splice(at..at, token.iter().copied());
            }
            _ => {
                // Wrapped in a page, as the API sends alerts.
                let mut page = b"{\"value\":[".to_vec();
                page.extend_from_slice(&b);
                page.extend_from_slice(b"]}");
                b = page;
            }
        }
    }
    b
}

/// Records written, to show the encoders were reached (not only the readers' refusals).
static RECORDS: AtomicU64 = AtomicU64::new(0);

struct Encoders {
    mappings: Vec<Mapping>,
}

impl Encoders {
    fn new() -> Encoders {
        Encoders {
            mappings: [Format::Cef, Format::Leef, Format::Json]
                .into_iter()
                .map(Mapping::builtin)
                .collect(),
        }
    }

    /// Encodes one item with every mapping, without a budget and with a random one, and checks
    /// that each record is one line without a raw control character.
    fn encode(&self, item: Item<'_>, rng: &mut Rng, out: &mut Vec<u8>) {
        let Item::Alert(alert) = item else {
            return;
        };
        for mapping in &self.mappings {
            for budget in [None, Some(64 + rng.below(4096))] {
                out.clear();
                if mapping.encode(&alert, TENANT, budget, out).is_ok() {
                    if let Some(b) = budget {
                        assert!(out.len() <= b, "{} bytes over a budget of {b}", out.len());
                    }
                    check_one_clean_line(out);
                    RECORDS.fetch_add(1, Ordering::Relaxed);
                } else {
                    assert!(out.is_empty(), "nothing is appended on an error");
                }
            }
        }
    }
}

fn check_one_clean_line(record: &[u8]) {
    let text = String::from_utf8_lossy(record);
    for c in text.chars() {
        // TAB is LEEF's delimiter; every other control character is written escaped or as a
        // space in every format.
        assert!(
            c == '\t' || !c.is_control(),
            "a raw control character U+{:04X} in {text:?}",
            c as u32
        );
    }
}

fn exercise(bytes: &[u8], encoders: &Encoders, rng: &mut Rng, out: &mut Vec<u8>) {
    for want_raw in [false, true] {
        let _ = reader::read_page(bytes, want_raw, |item| {
            encoders.encode(item, rng, out);
            Ok::<_, ()>(())
        });
    }
    let _ = reader::read_alerts(bytes, |item| {
        encoders.encode(item, rng, out);
        Ok::<_, ()>(())
    });
    // Any bytes as a timestamp.
    if let Ok(s) = std::str::from_utf8(&bytes[..bytes.len().min(40)]) {
        let _ = Timestamp::parse(s);
    }
}

fn run_case(bytes: &[u8], encoders: &Encoders, rng: &mut Rng, out: &mut Vec<u8>) -> bool {
    catch_unwind(AssertUnwindSafe(|| exercise(bytes, encoders, rng, out))).is_ok()
}

#[test]
fn no_input_panics_a_reader_or_an_encoder() {
    let cases: u64 = std::env::var("SIEMFWD_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let seed: u64 = std::env::var("SIEMFWD_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(13);
    let encoders = Encoders::new();
    let mut rng = Rng(seed);
    let mut out = Vec::new();
    let mut failures = Vec::new();
    // The crashes found so far, first.
    for entry in std::fs::read_dir(corpus_dir())
        .into_iter()
        .flatten()
        .flatten()
    {
        let bytes = std::fs::read(entry.path()).unwrap();
        if !run_case(&bytes, &encoders, &mut rng, &mut out) {
            failures.push(entry.path().display().to_string());
        }
    }
    let seeds = seeds();
    let started = std::time::Instant::now();
    for n in 0..cases {
        let bytes = mutate(&mut rng, &seeds);
        if !run_case(&bytes, &encoders, &mut rng, &mut out) {
            let name = format!("crash-{seed}-{n}");
            std::fs::create_dir_all(corpus_dir()).unwrap();
            std::fs::write(corpus_dir().join(&name), &bytes).unwrap();
            failures.push(format!("tests/fuzz-corpus/{name}"));
            if failures.len() >= 10 {
                break;
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let records = RECORDS.load(Ordering::Relaxed);
    eprintln!(
        "fuzz: {cases} cases (seed {seed}) in {secs:.1}s, {:.0} cases/s, {records} records encoded, {} panics",
        cases as f64 / secs,
        failures.len()
    );
    assert!(
        records > cases / 10,
        "the encoders were reached: {records} records"
    );
    assert!(failures.is_empty(), "inputs that panicked: {failures:?}");
}
