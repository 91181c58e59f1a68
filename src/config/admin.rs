//! `[admin]`: the admin listener (metrics, health, status) and when a failing tenant makes
//! the process not ready; and the top-level `log_format`.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::duration::parse_duration_in;

/// `failing_tenant_grace` unless configured.
pub const DEFAULT_FAILING_TENANT_GRACE: Duration = Duration::from_secs(15 * 60);

/// `[admin]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAdmin {
    listen: Option<Spanned<String>>,
    failing_tenant_grace: Option<Spanned<String>>,
}

/// `[admin]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    /// `listen`: where `/metrics`, `/healthz`, `/readyz` and `/status` are served; off
    /// unless set (or `--admin-listen`).
    pub listen: Option<SocketAddr>,
    /// `failing_tenant_grace`: `/readyz` answers 503 once a tenant has failed for this long
    /// (15 minutes unless set; 10 s to 1 day).
    pub failing_grace: Duration,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            listen: None,
            failing_grace: DEFAULT_FAILING_TENANT_GRACE,
        }
    }
}

/// How log lines are written (`log_format`, `--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One line of text per event.
    #[default]
    Text,
    /// One JSON object per line, with `tenant` and `output` fields where they apply.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("unknown log format \"{other}\": text or json")),
        }
    }
}

impl RawAdmin {
    /// Validated; `Err` is the line's offset in the file and what is wrong.
    pub(super) fn validate(self) -> Result<AdminConfig, (usize, String)> {
        let listen = match self.listen {
            None => None,
            Some(l) => Some(l.get_ref().parse::<SocketAddr>().map_err(|_| {
                (
                    l.span().start,
                    format!(
                        "[admin] `listen`: \"{}\" is not an address and port, e.g. \"127.0.0.1:9400\"",
                        l.get_ref()
                    ),
                )
            })?),
        };
        let failing_grace = match self.failing_tenant_grace {
            None => DEFAULT_FAILING_TENANT_GRACE,
            Some(g) => parse_duration_in(
                g.get_ref(),
                Duration::from_secs(10),
                Duration::from_secs(86_400),
            )
            .map_err(|e| {
                (
                    g.span().start,
                    format!("[admin] `failing_tenant_grace`: {e}"),
                )
            })?,
        };
        Ok(AdminConfig {
            listen,
            failing_grace,
        })
    }
}
