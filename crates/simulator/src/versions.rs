//! The alert versions the Rust API hands out: ground truth for tests.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use serde_json::Value;
use tokio::time::Instant;

use siemfwd_time::Timestamp;

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
    pub json: AlertJson,
    /// From this instant (tokio clock) on, the API serves this version.
    pub visible_at: Instant,
}

/// An alert's JSON: the compact text the API serves, and (through `Deref`, parsed on first use)
/// its `serde_json::Value`.
#[derive(Clone)]
pub struct AlertJson {
    text: Arc<str>,
    value: OnceLock<Value>,
}

impl AlertJson {
    pub(crate) fn new(text: Arc<str>) -> Self {
        AlertJson {
            text,
            value: OnceLock::new(),
        }
    }

    /// The JSON text, byte for byte as served.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn value(&self) -> &Value {
        // The text is the simulator's own writing, checked by its tests.
        #[allow(clippy::expect_used)]
        self.value.get_or_init(|| {
            serde_json::from_str(&self.text).expect("the simulator writes valid JSON")
        })
    }
}

impl Deref for AlertJson {
    type Target = Value;

    fn deref(&self) -> &Value {
        self.value()
    }
}

/// The JSON text (what `Value`'s `Display` would write).
impl fmt::Display for AlertJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for AlertJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}
