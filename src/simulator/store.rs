//! The alerts of every tenant: each alert's versions in the order they were made, what the API
//! can see of them now (late visibility), and the ground truth tests compare against.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::config::{SimulatorConfig, TenantInfo, TenantKnobs};
use super::generate::{self, Status, World};
use super::rng::Rng;
use crate::alert::Timestamp;

/// One version of one alert: what the API returned (or will return) for it between two updates.
#[derive(Clone, Debug)]
pub struct AlertVersion {
    /// The alert id (`da638672170592213380_1847720195`).
    pub id: String,
    /// 1 for the alert as created, then 2, 3, ... for each update.
    pub version: u32,
    /// `lastUpdateTime` of this version.
    pub last_update_time: Timestamp,
    /// The complete alert as the API serves it with `$expand=evidence`.
    pub json: Arc<Value>,
    /// From this instant (tokio clock) on, the API serves this version.
    pub visible_at: Instant,
}

/// One tenant: identity, knobs, and its alerts.
#[derive(Debug)]
pub(crate) struct TenantState {
    pub(crate) info: TenantInfo,
    pub(crate) knobs: TenantKnobs,
    world: World,
    /// In creation order, which is the API's result order; each alert's versions oldest first.
    alerts: Vec<Vec<Arc<AlertVersion>>>,
    index: HashMap<String, usize>,
    /// Every version in the order it was made.
    history: Vec<Arc<AlertVersion>>,
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

impl Store {
    pub(crate) fn new(config: &SimulatorConfig, tenants: &[TenantInfo]) -> Self {
        let now = Instant::now();
        let wall = wall_nanos();
        let end = config
            .history_end
            .and_then(|t| t.timestamp_nanos_opt())
            .unwrap_or(wall);
        let span = i64::try_from(config.history.as_nanos())
            .unwrap_or(i64::MAX)
            .max(1);
        let mut store = Store {
            tenants: Vec::with_capacity(tenants.len()),
            max_visibility_delay: config.max_visibility_delay,
            adversarial: config.adversarial_fraction,
        };
        for (i, info) in tenants.iter().enumerate() {
            let i64i = i as u64;
            let world = World::new(&mut Rng::derive(config.seed, "world", i64i), i, &info.id);
            let mut rng = Rng::derive(config.seed, "alerts", i64i);
            // Times first, sorted by creation, so that creation order (the API's order), ids and
            // incident numbers agree.
            let mut times: Vec<(i64, i64, Status)> = (0..config.alerts_per_tenant)
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
            let mut tenant = TenantState {
                info: info.clone(),
                knobs: TenantKnobs::default(),
                world,
                alerts: Vec::with_capacity(times.len()),
                index: HashMap::with_capacity(times.len()),
                history: Vec::with_capacity(times.len()),
                live_rng: Rng::derive(config.seed, "live", i64i),
                visibility_rng: Rng::derive(config.seed, "visibility", i64i),
            };
            for (created, last_update, status) in times {
                let json = generate::alert(
                    &mut rng,
                    &mut tenant.world,
                    created,
                    last_update,
                    status,
                    store.adversarial,
                );
                tenant.push_new(json, now, wall, store.max_visibility_delay);
            }
            store.tenants.push(tenant);
        }
        store
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

    /// Creates a new alert (status New) in tenant `t`, last updated now.
    pub(crate) fn create_alert(&mut self, t: usize) -> Arc<AlertVersion> {
        let (now, wall) = (Instant::now(), wall_nanos());
        let (delay, adversarial) = (self.max_visibility_delay, self.adversarial);
        let tenant = &mut self.tenants[t];
        let created = wall - tenant.live_rng.between(0, 2_000_000_000);
        let json = generate::alert(
            &mut tenant.live_rng,
            &mut tenant.world,
            created,
            wall,
            Status::New,
            adversarial,
        );
        tenant.push_new(json, now, wall, delay)
    }

    /// Makes the next version of alert `pos` (creation order) of tenant `t`, updated now.
    pub(crate) fn update_alert(&mut self, t: usize, pos: usize) -> Arc<AlertVersion> {
        let (now, wall) = (Instant::now(), wall_nanos());
        let delay = self.max_visibility_delay;
        let tenant = &mut self.tenants[t];
        let prev = tenant.alerts[pos]
            .last()
            .expect("every alert has a version")
            .clone();
        // lastUpdateTime strictly increases per alert even if the clock did not move.
        let at = wall.max(prev.last_update_time.unix_nanos() + 100);
        let json = generate::next_version(&mut tenant.live_rng, &tenant.world, &prev.json, at);
        let version = tenant.version(json, prev.version + 1, now, wall, delay);
        tenant.alerts[pos].push(version.clone());
        tenant.history.push(version.clone());
        version
    }

    pub(crate) fn random_alert(&mut self, t: usize) -> Option<usize> {
        let tenant = &mut self.tenants[t];
        match tenant.alerts.len() {
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
    fn push_new(
        &mut self,
        mut json: Value,
        now: Instant,
        wall: i64,
        delay: Duration,
    ) -> Arc<AlertVersion> {
        let mut id = json["id"].as_str().unwrap_or_default().to_owned();
        while self.index.contains_key(&id) {
            // Same creation tick and a colliding suffix: draw another suffix, as the service would.
            let prefix = id.split('_').next().unwrap_or("da0").to_owned();
            id = format!("{prefix}_{}", self.live_rng.next_u64() as i32);
            json["id"] = Value::String(id.clone());
        }
        let version = self.version(json, 1, now, wall, delay);
        self.index.insert(id, self.alerts.len());
        self.alerts.push(vec![version.clone()]);
        self.history.push(version.clone());
        version
    }

    fn version(
        &mut self,
        json: Value,
        version: u32,
        now: Instant,
        wall: i64,
        delay: Duration,
    ) -> Arc<AlertVersion> {
        let id = json["id"].as_str().unwrap_or_default().to_owned();
        let last_update_time = json["lastUpdateTime"]
            .as_str()
            .and_then(|t| Timestamp::parse(t).ok())
            .unwrap_or_else(|| Timestamp::from_unix_nanos(wall, 7));
        // Visible `delay` after its lastUpdateTime, on the tokio clock so paused-time tests can
        // step through it; a draw is made even when the maximum is zero (stable sequences).
        let nanos = (delay.as_nanos() as f64 * self.visibility_rng.unit()) as i64;
        let visible_wall = last_update_time.unix_nanos().saturating_add(nanos);
        let wait = Duration::from_nanos(visible_wall.saturating_sub(wall).max(0) as u64);
        Arc::new(AlertVersion {
            id,
            version,
            last_update_time,
            json: Arc::new(json),
            visible_at: now + wait,
        })
    }

    /// Position (creation order) of alert `id`.
    pub(crate) fn position(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// What the API shows at `now`: per alert, in creation order, the newest version that is
    /// already visible; alerts with no visible version yet are absent.
    pub(crate) fn visible(&self, now: Instant) -> impl Iterator<Item = &Arc<AlertVersion>> {
        self.alerts
            .iter()
            .filter_map(move |vs| vs.iter().rev().find(|v| v.visible_at <= now))
    }

    /// Every version ever made, in the order made.
    pub(crate) fn history(&self) -> &[Arc<AlertVersion>] {
        &self.history
    }
}
