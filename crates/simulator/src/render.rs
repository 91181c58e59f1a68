//! An alert version's JSON as the API serves it: kept text (spliced without its evidence when
//! `$expand=evidence` is absent), or generated again from the generator's state before it was
//! first made — the generator is deterministic, so the text is the same every time.

use std::sync::Arc;

use super::generate::{self, Counters, Generated, Status, World};
use super::rng::Rng;

/// How to make an initial alert again: the state of its tenant's streams before it was made
/// (its `lastUpdateTime` is the version's).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Recipe {
    rng: u64,
    created: i64,
    /// Incident and investigation counters, past the world's first ones.
    incident: u32,
    investigation: u32,
    status: Status,
}

impl Recipe {
    /// `None` if the counters have gone too far to keep (billions of alerts).
    pub(crate) fn new(
        rng: &Rng,
        world: &World,
        counters: Counters,
        created: i64,
        status: Status,
    ) -> Option<Self> {
        Some(Recipe {
            rng: rng.state(),
            created,
            incident: u32::try_from(counters.incident - world.start.incident).ok()?,
            investigation: u32::try_from(counters.investigation - world.start.investigation)
                .ok()?,
            status,
        })
    }
}

/// Kept JSON text of a version.
#[derive(Clone, Debug)]
pub(crate) struct Text {
    /// As served with `$expand=evidence`.
    pub(crate) json: Arc<str>,
    /// Byte range of the `evidence` value, served as `[]` without `$expand=evidence`; `(0, 0)`
    /// when there is none.
    evidence: (u32, u32),
}

impl Text {
    pub(crate) fn new(alert: &Generated) -> Self {
        let mut out = Vec::with_capacity(8192);
        let evidence = alert.write(&mut out, true);
        Text {
            // The writer writes only `str`s and ASCII.
            #[allow(clippy::expect_used)]
            json: String::from_utf8(out)
                .expect("the writer writes UTF-8")
                .into(),
            evidence: evidence.map_or((0, 0), |r| (r.start as u32, r.end as u32)),
        }
    }

    fn write(&self, out: &mut Vec<u8>, expand: bool) {
        let json = self.json.as_bytes();
        match self.evidence {
            (start, end) if !expand && end > 0 => {
                out.extend_from_slice(&json[..start as usize]);
                out.extend_from_slice(b"[]");
                out.extend_from_slice(&json[end as usize..]);
            }
            _ => out.extend_from_slice(json),
        }
    }
}

/// A version's JSON: kept, or to be generated again.
#[derive(Clone, Debug)]
pub(crate) enum Body {
    Recipe(Recipe),
    Text(Text),
}

/// What a page needs to write one alert version.
#[derive(Clone, Debug)]
pub(crate) struct Source {
    pub(crate) body: Body,
    /// `lastUpdateTime` in Unix nanoseconds (as written).
    pub(crate) last_update: i64,
}

/// Appends the alert version (generated with `adversarial` in `world`) as the API serves it.
pub(crate) fn write(
    out: &mut Vec<u8>,
    world: &World,
    adversarial: f64,
    source: &Source,
    expand: bool,
) {
    match &source.body {
        Body::Text(t) => t.write(out, expand),
        Body::Recipe(r) => {
            let mut counters = Counters {
                incident: world.start.incident + u64::from(r.incident),
                investigation: world.start.investigation + u64::from(r.investigation),
            };
            let alert = generate::alert(
                &mut Rng::resume(r.rng),
                world,
                &mut counters,
                r.created,
                source.last_update,
                r.status,
                adversarial,
            );
            alert.write(out, expand);
        }
    }
}
