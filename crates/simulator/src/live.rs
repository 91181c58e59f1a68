//! Background changes: new alerts and updates of existing ones at a steady rate, as a busy
//! tenant produces them.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::MissedTickBehavior;

use super::shared_state::Shared;

/// Rate and mix of background changes (see [`super::Simulator::start_live`]).
#[derive(Clone, Debug, PartialEq)]
pub struct LiveConfig {
    /// Changes (creations plus updates) per minute, per tenant.
    pub changes_per_minute: f64,
    /// Fraction (0–1) of changes that create a new alert; the rest update an existing one.
    pub create_fraction: f64,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            changes_per_minute: 6.0,
            create_fraction: 0.4,
        }
    }
}

/// Makes changes until shutdown; tenants take turns so each gets the configured rate.
pub(crate) async fn run(shared: Arc<Shared>, cfg: LiveConfig) {
    let tenants = shared.lock().store.tenants.len();
    if tenants == 0 || cfg.changes_per_minute <= 0.0 || !cfg.changes_per_minute.is_finite() {
        return;
    }
    let period = Duration::from_secs_f64(60.0 / (cfg.changes_per_minute * tenants as f64))
        .max(Duration::from_millis(1));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut shutdown = shared.shutdown.subscribe();
    let mut t = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.recv() => break,
        }
        step(&shared, t, cfg.create_fraction);
        t = (t + 1) % tenants;
    }
}

/// One change in tenant `t`.
pub(crate) fn step(shared: &Shared, t: usize, create_fraction: f64) {
    let mut st = shared.lock();
    let create = st.store.live_draw(t) < create_fraction;
    match st.store.random_alert(t) {
        Some(pos) if !create => {
            st.store.update_alert(t, pos);
        }
        _ => {
            st.store.create_alert(t);
        }
    }
}
