//! The alerts of every tenant: each alert's versions in the order they were made, what the API
//! can see of them now (late visibility), and the ground truth tests compare against.
//!
//! A version costs little memory: 32 bytes to find and order it, what `$filter` reads of it
//! ([`Meta`], 48 bytes), and either its JSON text or, for the initial alerts past
//! [`SimulatorConfig::text_budget`], the generator's state before it was made, from which the
//! same text is generated again whenever it is served ([`Body`]).

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::doc::{Obj, V};
use super::generate::{self, Counters, Generated, Status, World};
use super::ids::Ids;
use super::meta::{Meta, Metas};
use super::odata::{Field, Record, Scalar};
use super::render::{self, Body, Recipe, Source, Text};
use super::rng::Rng;
use super::simulator_config::{SimulatorConfig, TenantInfo, TenantKnobs};
use super::versions::{AlertJson, AlertVersion};
use siemfwd_time::Timestamp;

/// One version as stored; its [`Meta`] and [`Body`] are kept alongside, at the same index.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Version {
    /// Position of its alert in creation order.
    alert: u32,
    /// The alert's previous version, or `NONE`.
    prev: u32,
    pub(crate) version: u32,
    digits: u8,
    /// `lastUpdateTime` in Unix nanoseconds.
    last_update: i64,
    /// Visible to the API from `Store::epoch` + this many nanoseconds (tokio clock).
    visible: u64,
}

impl Version {
    pub(crate) fn last_update_time(&self) -> Timestamp {
        Timestamp::from_unix_nanos(self.last_update, self.digits)
    }
}

const NONE: u32 = u32::MAX;

/// One tenant: identity, knobs, and its alerts.
#[derive(Debug)]
pub(crate) struct TenantState {
    pub(crate) info: TenantInfo,
    pub(crate) knobs: TenantKnobs,
    world: Arc<World>,
    counters: Counters,
    epoch: Instant,
    /// Per alert in creation order (the API's result order): its id and newest version.
    ids: Ids,
    latest: Vec<u32>,
    /// Every version in the order it was made, with what `$filter` reads and its JSON.
    versions: Vec<Version>,
    metas: Vec<Meta>,
    bodies: Vec<Body>,
    meta: Metas,
    live_rng: Rng,
    visibility_rng: Rng,
}

/// Everything the simulator knows about alerts.
#[derive(Debug)]
pub(crate) struct Store {
    pub(crate) tenants: Vec<TenantState>,
    max_visibility_delay: Duration,
    adversarial: f64,
}

const HOUR: i64 = 3_600_000_000_000;

/// Now on the wall clock, in Unix nanoseconds rounded down to the API's 100 ns resolution.
pub(crate) fn wall_nanos() -> i64 {
    let now = chrono::Utc::now();
    let nanos = now
        .timestamp_nanos_opt()
        .unwrap_or_else(|| now.timestamp_micros() * 1000);
    nanos - nanos.rem_euclid(100)
}

/// What generating the initial alerts of every tenant shares.
struct Start<'c> {
    config: &'c SimulatorConfig,
    now: Instant,
    wall: i64,
    end: i64,
    span: i64,
    text_budget: usize,
}

/// When a version is made: now on both clocks, and the visibility delay to draw from.
#[derive(Clone, Copy)]
struct Made {
    now: Instant,
    wall: i64,
    delay: Duration,
}

impl Store {
    pub(crate) fn new(config: &SimulatorConfig, tenants: &[TenantInfo]) -> Self {
        let wall = wall_nanos();
        let start = Start {
            config,
            now: Instant::now(),
            wall,
            end: config
                .history_end
                .and_then(|t| t.timestamp_nanos_opt())
                .unwrap_or(wall),
            span: i64::try_from(config.history.as_nanos())
                .unwrap_or(i64::MAX)
                .max(1),
            text_budget: config.text_budget / tenants.len().max(1),
        };
        // Tenants are independent (their own random streams): generate them in parallel.
        let threads = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .clamp(1, tenants.len().max(1));
        let mut made: Vec<(usize, TenantState)> = std::thread::scope(|s| {
            let start = &start;
            let workers: Vec<_> = (0..threads)
                .map(|w| {
                    s.spawn(move || {
                        (w..tenants.len())
                            .step_by(threads)
                            .map(|i| (i, TenantState::generate(start, i, &tenants[i])))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            // A panic in a generator thread is a simulator bug: passed on, not hidden.
            #[allow(clippy::expect_used)]
            workers
                .into_iter()
                .flat_map(|w| w.join().expect("alert generation does not panic"))
                .collect()
        });
        made.sort_by_key(|(i, _)| *i);
        Store {
            tenants: made.into_iter().map(|(_, t)| t).collect(),
            max_visibility_delay: config.max_visibility_delay,
            adversarial: config.adversarial_fraction,
        }
    }

    /// The tenant a path segment or token names: its GUID (any case) or `<name>.onmicrosoft.com`.
    pub(crate) fn find(&self, key: &str) -> Option<usize> {
        self.tenants.iter().position(|t| {
            t.info.id.eq_ignore_ascii_case(key)
                || key
                    .strip_suffix(".onmicrosoft.com")
                    .is_some_and(|n| n.eq_ignore_ascii_case(&t.info.name))
        })
    }

    pub(crate) fn adversarial(&self) -> f64 {
        self.adversarial
    }

    fn made(&self) -> Made {
        Made {
            now: Instant::now(),
            wall: wall_nanos(),
            delay: self.max_visibility_delay,
        }
    }

    /// Creates a new alert (status New) in tenant `t`, last updated now.
    pub(crate) fn create_alert(&mut self, t: usize) -> AlertVersion {
        let (made, adversarial) = (self.made(), self.adversarial);
        let tenant = &mut self.tenants[t];
        let created = made.wall - tenant.live_rng.between(0, 2_000_000_000);
        let world = tenant.world.clone();
        let doc = generate::alert(
            &mut tenant.live_rng,
            &world,
            &mut tenant.counters,
            created,
            made.wall,
            Status::New,
            adversarial,
        );
        let i = tenant.push_new(doc, None, made);
        tenant.public(i, adversarial)
    }

    /// Makes the next version of alert `pos` (creation order) of tenant `t`, updated now.
    pub(crate) fn update_alert(&mut self, t: usize, pos: usize) -> AlertVersion {
        let (made, adversarial) = (self.made(), self.adversarial);
        let tenant = &mut self.tenants[t];
        let prev_index = tenant.latest[pos];
        let prev = tenant.versions[prev_index as usize];
        // lastUpdateTime strictly increases per alert even if the clock did not move.
        let at = made.wall.max(prev.last_update + 100);
        let text = tenant.public(prev_index, adversarial).json;
        let prev_doc = match V::from_value(serde_json::from_str(text.text()).unwrap_or(Value::Null))
        {
            V::Obj(o) => o,
            _ => Obj::default(),
        };
        let world = tenant.world.clone();
        let doc = Generated::Obj(generate::next_version(
            &mut tenant.live_rng,
            &world,
            prev_doc,
            at,
        ));
        let body = Body::Text(Text::new(&doc));
        let i = tenant.push_version(&doc, pos as u32, prev_index, body, made);
        tenant.latest[pos] = i;
        tenant.public(i, adversarial)
    }

    pub(crate) fn random_alert(&mut self, t: usize) -> Option<usize> {
        let tenant = &mut self.tenants[t];
        match tenant.latest.len() {
            0 => None,
            n => Some(tenant.live_rng.below(n as u64) as usize),
        }
    }

    /// A draw from tenant `t`'s live-change stream (which change to make next).
    pub(crate) fn live_draw(&mut self, t: usize) -> f64 {
        self.tenants[t].live_rng.unit()
    }
}

impl TenantState {
    /// Tenant number `i` with its initial alerts.
    fn generate(start: &Start, i: usize, info: &TenantInfo) -> Self {
        let (seed, i64i) = (start.config.seed, i as u64);
        let (world, counters) = World::new(&mut Rng::derive(seed, "world", i64i), i, &info.id);
        let mut rng = Rng::derive(seed, "alerts", i64i);
        let (end, span) = (start.end, start.span);
        // Times first, sorted by creation, so that creation order (the API's order), ids and
        // incident numbers agree.
        let mut times: Vec<(i64, i64, Status)> = (0..start.config.alerts_per_tenant)
            .map(|_| {
                let last_update = end - 1 - rng.below(span as u64) as i64;
                // Created up to 6 h before its last update, at most 1 h before the span.
                let age = rng.between(0, (6 * HOUR).min(last_update - (end - span) + HOUR));
                let status = match rng.below(4) {
                    0 | 1 => Status::New,
                    2 => Status::InProgress,
                    _ => Status::Resolved,
                };
                (last_update - age.max(0), last_update, status)
            })
            .collect();
        times.sort_by_key(|t| t.0);
        let n = times.len();
        let mut tenant = TenantState {
            info: info.clone(),
            knobs: TenantKnobs::default(),
            world: Arc::new(world),
            counters,
            epoch: start.now,
            ids: Ids::with_capacity(n),
            latest: Vec::with_capacity(n),
            versions: Vec::with_capacity(n),
            metas: Vec::with_capacity(n),
            bodies: Vec::with_capacity(n),
            meta: Metas::default(),
            live_rng: Rng::derive(seed, "live", i64i),
            visibility_rng: Rng::derive(seed, "visibility", i64i),
        };
        let world = tenant.world.clone();
        let adversarial = start.config.adversarial_fraction;
        let made = Made {
            now: start.now,
            wall: start.wall,
            delay: start.config.max_visibility_delay,
        };
        let mut kept = 0;
        for (created, last_update, status) in times {
            let keep = kept < start.text_budget;
            let recipe = (!keep)
                .then(|| Recipe::new(&rng, &world, tenant.counters, created, status))
                .flatten();
            let doc = generate::alert(
                &mut rng,
                &world,
                &mut tenant.counters,
                created,
                last_update,
                status,
                adversarial,
            );
            let i = tenant.push_new(doc, recipe, made);
            if let Body::Text(t) = &tenant.bodies[i as usize] {
                kept += t.json.len();
            }
        }
        tenant
    }

    /// Adds a new alert from its first version; its text is kept unless `recipe` says how to
    /// make it again. Returns the version's index.
    fn push_new(&mut self, mut doc: Generated, recipe: Option<Recipe>, made: Made) -> u32 {
        let mut id = doc.id().to_owned();
        let mut recipe = recipe;
        while self.ids.position(&id).is_some() {
            // Same creation tick and a colliding suffix: draw another suffix, as the service would.
            let prefix = id.split('_').next().unwrap_or("da0").to_owned();
            id = format!("{prefix}_{}", self.live_rng.next_u64() as i32);
            doc.set_id(id.clone());
            // Generated again, it would have the first id: keep this one's text.
            recipe = None;
        }
        let body = match recipe {
            Some(r) => Body::Recipe(r),
            None => Body::Text(Text::new(&doc)),
        };
        let pos = self.ids.len() as u32;
        self.ids.push(&id);
        let i = self.push_version(&doc, pos, NONE, body, made);
        self.latest.push(i);
        i
    }

    /// Adds a version of alert `alert` (after version `prev`); returns its index.
    fn push_version(
        &mut self,
        doc: &Generated,
        alert: u32,
        prev: u32,
        body: Body,
        made: Made,
    ) -> u32 {
        let last_update_time = doc
            .last_update_time()
            .unwrap_or_else(|| Timestamp::from_unix_nanos(made.wall, 7));
        // Visible `delay` after its lastUpdateTime, on the tokio clock so paused-time tests can
        // step through it; a draw is made even when the maximum is zero (stable sequences).
        let nanos = (made.delay.as_nanos() as f64 * self.visibility_rng.unit()) as i64;
        let visible_wall = last_update_time.unix_nanos().saturating_add(nanos);
        let wait = Duration::from_nanos(visible_wall.saturating_sub(made.wall).max(0) as u64);
        let visible_at = made.now + wait;
        let number = match prev {
            NONE => 1,
            p => self.versions[p as usize].version + 1,
        };
        let meta = doc.meta(&mut self.meta, last_update_time.unix_nanos());
        let i = self.versions.len() as u32;
        self.versions.push(Version {
            alert,
            prev,
            version: number,
            digits: last_update_time.fraction_digits(),
            last_update: last_update_time.unix_nanos(),
            visible: visible_at.saturating_duration_since(self.epoch).as_nanos() as u64,
        });
        self.metas.push(meta);
        self.bodies.push(body);
        i
    }

    /// Position (creation order) of alert `id`.
    pub(crate) fn position(&self, id: &str) -> Option<usize> {
        self.ids.position(id)
    }

    /// What the API shows at `now`: per alert, in creation order, the newest version that is
    /// already visible (with its index); alerts with no visible version yet are absent.
    pub(crate) fn visible(&self, now: Instant) -> impl Iterator<Item = (u32, &Version)> {
        let now = now.saturating_duration_since(self.epoch).as_nanos() as u64;
        self.latest.iter().filter_map(move |&latest| {
            let mut i = latest;
            loop {
                let v = &self.versions[i as usize];
                if v.visible <= now {
                    return Some((i, v));
                }
                if v.prev == NONE {
                    return None;
                }
                i = v.prev;
            }
        })
    }

    /// `$filter`'s view of version `i`.
    pub(crate) fn record(&self, i: u32) -> impl Record + '_ {
        Row { tenant: self, i }
    }

    pub(crate) fn world(&self) -> &Arc<World> {
        &self.world
    }

    /// What writing version `i` takes, to do it after the lock is released.
    pub(crate) fn source(&self, i: u32) -> Source {
        Source {
            body: self.bodies[i as usize].clone(),
            last_update: self.versions[i as usize].last_update,
        }
    }

    /// Version `i` as the Rust API hands it out, its text complete.
    fn public(&self, i: u32, adversarial: f64) -> AlertVersion {
        let v = &self.versions[i as usize];
        let text = match &self.bodies[i as usize] {
            Body::Text(t) => t.json.clone(),
            Body::Recipe(_) => {
                let mut out = Vec::new();
                render::write(&mut out, &self.world, adversarial, &self.source(i), true);
                // The writer writes only `str`s and ASCII.
                #[allow(clippy::expect_used)]
                String::from_utf8(out).expect("JSON text").into()
            }
        };
        AlertVersion {
            id: self.ids.get(v.alert as usize).to_owned(),
            version: v.version,
            last_update_time: v.last_update_time(),
            json: AlertJson::new(text),
            visible_at: self.epoch + Duration::from_nanos(v.visible),
        }
    }

    /// Every version ever made, in the order made.
    pub(crate) fn history(&self, adversarial: f64) -> Vec<AlertVersion> {
        (0..self.versions.len() as u32)
            .map(|i| self.public(i, adversarial))
            .collect()
    }

    /// The newest visible versions whose `lastUpdateTime` is in `[from, to)`, in the API's order.
    pub(crate) fn visible_between(
        &self,
        now: Instant,
        from: Timestamp,
        to: Timestamp,
        adversarial: f64,
    ) -> Vec<AlertVersion> {
        self.visible(now)
            .filter(|(_, v)| v.last_update_time() >= from && v.last_update_time() < to)
            .map(|(i, _)| self.public(i, adversarial))
            .collect()
    }
}

struct Row<'a> {
    tenant: &'a TenantState,
    i: u32,
}

impl Record for Row<'_> {
    fn field(&self, f: Field) -> Scalar<'_> {
        let v = &self.tenant.versions[self.i as usize];
        match f {
            Field::Id => Scalar::Str(self.tenant.ids.get(v.alert as usize)),
            Field::LastUpdateTime => Scalar::Time(v.last_update),
            f => {
                let meta = &self.tenant.metas[self.i as usize];
                self.tenant.meta.field(meta, v.last_update, f)
            }
        }
    }
}
