//! The configuration file (README: Tenants, Outputs): `state_dir`, `[[tenant]]` and `[[output]]`.
//!
//! The file is read into raw structs that reject unknown keys, then turned into a validated
//! [`Config`] by one fallible constructor, so the rest of the program never sees a half-checked
//! setting. Every error names the file, the line and the key.

mod admin;
#[cfg(test)]
mod graph_tests;
#[cfg(test)]
mod relp_tests;
#[cfg(test)]
mod tests;

pub use admin::{AdminConfig, DEFAULT_FAILING_TENANT_GRACE, LogFormat};

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::duration::parse_duration_in;
use crate::settings::line_of;
use crate::source::config::{
    ConfigWarning, RawTenant, RawTenantKeys, SecretUnavailable, TenantConfig,
};
use crate::transport::config::{OutputConfig, RawOutput};

/// Where checkpoints, rotated refresh tokens and dead letters go when the file does not say.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/siemfwd";

pub use crate::source::page_budget::DEFAULT_MAX_CALLS_IN_FLIGHT;

/// `shutdown_grace` unless configured: well inside the shipped unit's `TimeoutStopSec=30s`.
pub const DEFAULT_SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// A configuration file that could not be read or is not valid.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read config file {file}: {source}")]
    Read {
        /// The file's path as given.
        file: String,
        /// Why reading failed.
        source: std::io::Error,
    },
    /// The file is not a valid configuration: bad TOML, an unknown key, a value out of range,
    /// a name twice, a secret that cannot be read.
    #[error("{file}:{line}: {message}")]
    Invalid {
        /// The file's path as given.
        file: String,
        /// 1-based.
        line: usize,
        /// What is wrong and, where it helps, how to fix it.
        message: String,
    },
}

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    state_dir: Option<PathBuf>,
    shutdown_grace: Option<Spanned<String>>,
    max_calls_in_flight: Option<Spanned<u64>>,
    log_format: Option<Spanned<String>>,
    admin: Option<admin::RawAdmin>,
    /// Keys every tenant takes by default (one MSSP app: one client id and secret).
    defaults: Option<RawTenantKeys>,
    #[serde(default)]
    tenant: Vec<Spanned<RawTenant>>,
    #[serde(default)]
    output: Vec<Spanned<RawOutput>>,
}

/// A validated configuration.
#[derive(Debug)]
pub struct Config {
    /// The file it came from, for messages.
    pub source: String,
    /// `state_dir`: where checkpoints, tokens, dead letters and run state live, relative to the
    /// file's folder; `/var/lib/siemfwd` ([`DEFAULT_STATE_DIR`]) by default.
    pub state_dir: PathBuf,
    /// How long `run` may take to stop after SIGTERM, whatever the outputs and the API do.
    pub shutdown_grace: std::time::Duration,
    /// `max_calls_in_flight`: API calls waiting for their answer at once, over all tenants
    /// ([`DEFAULT_MAX_CALLS_IN_FLIGHT`] unless set; 1 to 4096).
    pub max_calls_in_flight: usize,
    /// `log_format`: text (the default) or json; `--log-format` wins.
    pub log_format: LogFormat,
    /// `[admin]`: the admin listener, off unless set.
    pub admin: AdminConfig,
    /// The `[[tenant]]` tables in file order, `[defaults]` applied; without those set apart
    /// ([`Config::unusable`]).
    pub tenants: Vec<TenantConfig>,
    /// The `[[output]]` tables in file order.
    pub outputs: Vec<OutputConfig>,
    /// Things that work but should be changed (a secret written in the file), for the log.
    pub warnings: Vec<String>,
    /// Tenants set apart because their secret cannot be read now; always empty when loaded
    /// with [`UnreadableSecret::Fails`].
    pub unusable: Vec<UnusableTenant>,
}

/// What loading does with a tenant whose secret is configured but cannot be read now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnreadableSecret {
    /// The file is invalid: `run` does not start without every secret.
    Fails,
    /// The tenant goes to [`Config::unusable`]: `check` and `auth` report it and go on with
    /// the others, `replay` needs only the tenants it replays and `map` none, as these are
    /// often run from a shell without the service's environment.
    SetsTenantApart,
}

/// A tenant that is valid except that its secret cannot be read now.
#[derive(Debug)]
pub struct UnusableTenant {
    /// The tenant, with `client_secret` unset.
    pub config: TenantConfig,
    /// Why, with the file and line, as [`UnreadableSecret::Fails`] would report it.
    pub error: ConfigError,
}

impl Config {
    /// Reads and validates a file; a secret that cannot be read makes it invalid.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::load_with(path, UnreadableSecret::Fails)
    }

    /// Reads and validates a file; what a secret that cannot be read does is `secrets`' choice.
    pub fn load_with(path: &Path, secrets: UnreadableSecret) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: file.clone(),
            source,
        })?;
        Config::from_toml_with(&file, &text, secrets)
    }

    /// Parses and validates `text`; `file` names it in errors and resolves relative paths
    /// (mapping, certificates) against the file's folder.
    pub fn from_toml(file: &str, text: &str) -> Result<Config, ConfigError> {
        Config::from_toml_with(file, text, UnreadableSecret::Fails)
    }

    /// [`Config::from_toml`], with `secrets` deciding about a secret that cannot be read.
    pub(crate) fn from_toml_with(
        file: &str,
        text: &str,
        secrets: UnreadableSecret,
    ) -> Result<Config, ConfigError> {
        let doc = Document { file, text };
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |s| line_of(text, s.start));
            let message = e.message().trim_end();
            doc.invalid(
                line,
                crate::settings::explain_unknown_key(message, crate::source::config::TENANT_KEYS),
            )
        })?;
        let base = Path::new(file).parent().unwrap_or(Path::new(""));
        let shutdown_grace = doc.shutdown_grace(raw.shutdown_grace.as_ref())?;
        let max_calls_in_flight = doc.max_calls_in_flight(raw.max_calls_in_flight.as_ref())?;
        let log_format = match &raw.log_format {
            None => LogFormat::Text,
            Some(f) => f.get_ref().parse().map_err(|m: String| {
                doc.invalid(line_of(text, f.span().start), format!("`log_format`: {m}"))
            })?,
        };
        let admin = raw
            .admin
            .unwrap_or_default()
            .validate()
            .map_err(|(at, m)| doc.invalid(line_of(text, at), m))?;
        let (outputs, output_lines) = doc.outputs(raw.output, base)?;
        let defaults = raw.defaults.unwrap_or_default();
        let mut warnings: Vec<ConfigWarning> = Vec::new();
        let mut tenants: Vec<TenantConfig> = Vec::with_capacity(raw.tenant.len());
        let mut unusable: Vec<UnusableTenant> = Vec::new();
        for spanned in raw.tenant {
            let line = line_of(text, spanned.span().start);
            let (mut tenant, secret) =
                TenantConfig::from_raw(spanned.into_inner(), &defaults, base, &mut warnings)
                    .map_err(|m| doc.invalid(line, format!("[[tenant]] {m}")))?;
            tenant.entra.config_file = Some(PathBuf::from(file));
            // Names and ids stay unique across the tenants set apart too: they come back.
            let others: Vec<&TenantConfig> = tenants
                .iter()
                .chain(unusable.iter().map(|u| &u.config))
                .collect();
            doc.check_tenant(&tenant, line, &others, &outputs)?;
            let Some(SecretUnavailable(m)) = secret else {
                tenants.push(tenant);
                continue;
            };
            let error = doc.invalid(line, format!("[[tenant]] {m}"));
            match secrets {
                UnreadableSecret::Fails => return Err(error),
                UnreadableSecret::SetsTenantApart => unusable.push(UnusableTenant {
                    config: tenant,
                    error,
                }),
            }
        }
        let all: Vec<&TenantConfig> = tenants
            .iter()
            .chain(unusable.iter().map(|u| &u.config))
            .collect();
        warnings.extend(doc.idle_outputs(&outputs, &output_lines, &all));
        Ok(Config {
            source: file.to_owned(),
            state_dir: raw
                .state_dir
                .map(|d| base.join(d))
                .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR)),
            shutdown_grace,
            max_calls_in_flight,
            log_format,
            admin,
            tenants,
            outputs,
            warnings: warnings.into_iter().map(|w| w.0).collect(),
            unusable,
        })
    }

    /// The usable tenant named `name` (its `name` key).
    pub fn tenant(&self, name: &str) -> Option<&TenantConfig> {
        self.tenants.iter().find(|t| t.name == name)
    }

    /// The tenant `name` if it was set apart for its secret ([`UnreadableSecret::SetsTenantApart`]).
    pub fn unusable_tenant(&self, name: &str) -> Option<&UnusableTenant> {
        self.unusable.iter().find(|u| u.config.name == name)
    }

    /// Every tenant of the file, usable or set apart, usable ones first.
    pub fn all_tenants(&self) -> impl Iterator<Item = &TenantConfig> {
        self.tenants
            .iter()
            .chain(self.unusable.iter().map(|u| &u.config))
    }

    /// The output named `name` (its `name` key).
    pub fn output(&self, name: &str) -> Option<&OutputConfig> {
        self.outputs.iter().find(|o| o.name == name)
    }

    /// Where records that could not be sent to `output` are kept.
    pub fn dead_letter_path(&self, output: &str) -> PathBuf {
        crate::transport::DeadLetters::output_path(&self.state_dir, output)
    }
}

/// The file being validated, for errors that name it and a line; and the steps of
/// [`Config::from_toml_with`] that check one part of it each.
#[derive(Clone, Copy)]
struct Document<'a> {
    file: &'a str,
    text: &'a str,
}

impl Document<'_> {
    fn invalid(&self, line: usize, message: String) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_owned(),
            line,
            message,
        }
    }

    /// `shutdown_grace`, 1s to 10m.
    fn shutdown_grace(
        &self,
        grace: Option<&Spanned<String>>,
    ) -> Result<std::time::Duration, ConfigError> {
        let Some(g) = grace else {
            return Ok(DEFAULT_SHUTDOWN_GRACE);
        };
        parse_duration_in(
            g.get_ref(),
            std::time::Duration::from_secs(1),
            std::time::Duration::from_secs(600),
        )
        .map_err(|m| {
            self.invalid(
                line_of(self.text, g.span().start),
                format!("`shutdown_grace`: {m}; a service manager must allow more (the shipped unit's TimeoutStopSec=30s)"),
            )
        })
    }

    /// `max_calls_in_flight`, 1 to 4096.
    fn max_calls_in_flight(&self, calls: Option<&Spanned<u64>>) -> Result<usize, ConfigError> {
        let Some(c) = calls else {
            return Ok(DEFAULT_MAX_CALLS_IN_FLIGHT);
        };
        crate::settings::number_in(*c.get_ref(), 1..=4096)
            .map(|n| n as usize)
            .map_err(|m| {
                self.invalid(
                    line_of(self.text, c.span().start),
                    format!("`max_calls_in_flight`: {m}"),
                )
            })
    }

    /// Every `[[output]]`, with unique names; and the line each starts on.
    fn outputs(
        &self,
        raw: Vec<Spanned<RawOutput>>,
        base: &Path,
    ) -> Result<(Vec<OutputConfig>, Vec<usize>), ConfigError> {
        let mut outputs: Vec<OutputConfig> = Vec::with_capacity(raw.len());
        let mut output_lines: Vec<usize> = Vec::with_capacity(raw.len());
        for spanned in raw {
            let line = line_of(self.text, spanned.span().start);
            let output = OutputConfig::from_raw(spanned.into_inner(), base)
                .map_err(|m| self.invalid(line, format!("[[output]] {m}")))?;
            if outputs.iter().any(|o| o.name == output.name) {
                return Err(self.invalid(
                    line,
                    format!(
                        "[[output]] `name`: \"{}\" is used by another output; names must be unique",
                        output.name
                    ),
                ));
            }
            outputs.push(output);
            output_lines.push(line);
        }
        Ok((outputs, output_lines))
    }

    /// A tenant (at `line`) against the tenants before it and the outputs: a name of its own,
    /// not the same tenant and app as another, and outputs that exist.
    fn check_tenant(
        &self,
        tenant: &TenantConfig,
        line: usize,
        others: &[&TenantConfig],
        outputs: &[OutputConfig],
    ) -> Result<(), ConfigError> {
        if let Some(other) = others.iter().find(|t| t.name == tenant.name) {
            return Err(self.invalid(
                line,
                format!(
                    "[[tenant]] `name`: \"{}\" is used by another tenant; names must be unique",
                    other.name
                ),
            ));
        }
        if let Some(other) = others.iter().find(|t| {
            t.tenant_id.eq_ignore_ascii_case(&tenant.tenant_id) && t.client_id == tenant.client_id
        }) {
            return Err(self.invalid(
                line,
                format!(
                    "[[tenant]] \"{}\": `tenant_id`: the same tenant and app as \"{}\": every alert would be sent twice",
                    tenant.name, other.name
                ),
            ));
        }
        for name in tenant.outputs.iter().flatten() {
            if !outputs.iter().any(|o| &o.name == name) {
                let known: Vec<&str> = outputs.iter().map(|o| o.name.as_str()).collect();
                return Err(self.invalid(
                    line,
                    format!(
                        "[[tenant]] \"{}\": `outputs`: no [[output]] is named \"{name}\" (there are: {})",
                        tenant.name,
                        if known.is_empty() {
                            "none".to_owned()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Outputs no tenant sends to. A warning, not an error: it works (it just stays idle), an
    /// operator may be adding it or taking it out one tenant at a time, and a file without
    /// tenants (outputs for `map --config F --output NAME`) must stay valid. `all` includes the
    /// tenants set apart for their secret: they come back.
    fn idle_outputs(
        &self,
        outputs: &[OutputConfig],
        lines: &[usize],
        all: &[&TenantConfig],
    ) -> Vec<ConfigWarning> {
        // A tenant without `outputs` sends to every output.
        if all.is_empty() || all.iter().any(|t| t.outputs.is_none()) {
            return Vec::new();
        }
        let file = self.file;
        outputs
            .iter()
            .zip(lines)
            .filter(|(output, _)| {
                !all.iter()
                    .any(|t| t.outputs.iter().flatten().any(|n| *n == output.name))
            })
            .map(|(output, line)| {
                ConfigWarning(format!(
                    "{file}:{line}: [[output]] \"{}\": no tenant lists it in `outputs`, so it receives nothing",
                    output.name
                ))
            })
            .collect()
    }
}
