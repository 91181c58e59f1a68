//! Mapping alerts to CEF, LEEF and JSON records.
//!
//! A mapping file (`mappings/cef.toml`, `mappings/leef.toml`, or a user's copy) says which
//! alert value goes into which header field and key; it is compiled once into a [`Mapping`] and
//! then applied to every alert. The encoders own the escaping rules of each format, so no
//! mapping can produce a record with a raw CR or LF, an unescaped `=` in a CEF value or a
//! delimiter inside a LEEF value.
//!
//! Records can be encoded under a byte budget (the transport's maximum message size): the
//! longest values are shortened first, on character boundaries and before escaping, until the
//! record fits; an encoded record is never cut.
//!
//! This file holds the public face ([`Mapping`], [`Format`], the errors, [`EncodeStats`]).
//! Beside it: `config` (the file compiled into a plan), `expr` (value expressions), `plan` (the
//! plan and the record of an alert), `cef`, `leef` and `json` (the encoders), and `budget`
//! (shortening to a byte budget).

mod budget;
pub mod cef;
mod config;
mod expr;
pub(crate) mod json;
pub mod leef;
mod plan;

use std::fmt;
use std::path::Path;

use crate::reader::InputAlert;
use expr::Scope;
pub(crate) use plan::{Field, HeaderPlan, Part, Plan, Record, Syntax};

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// ArcSight CEF (`format = "cef"`): a header of `|`-separated fields, then `key=value`
    /// extensions.
    Cef,
    /// IBM QRadar LEEF 2.0 (`format = "leef"`): a header, then attributes split by the
    /// mapping's `delimiter`.
    Leef,
    /// The alert's own JSON text, with the tenant added (`format = "json"`); needs no mapping.
    Json,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Cef => "cef",
            Format::Leef => "leef",
            Format::Json => "json",
        })
    }
}

impl std::str::FromStr for Format {
    type Err = SettingError;
    fn from_str(s: &str) -> Result<Self, SettingError> {
        match s {
            "cef" => Ok(Format::Cef),
            "leef" => Ok(Format::Leef),
            "json" => Ok(Format::Json),
            other => Err(SettingError::UnknownFormat(other.to_owned())),
        }
    }
}

/// A format, LEEF delimiter or field key the encoders cannot take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    /// A `format` other than `cef`, `leef` and `json` (the value given).
    #[error("unknown format `{0}` (cef, leef or json)")]
    UnknownFormat(String),
    /// A LEEF `delimiter` written `xHH`/`0xHH` whose digits are not hex (the value given).
    #[error("`{0}` is not a hex byte like x09 or 0x5E")]
    DelimiterHex(String),
    /// A LEEF `delimiter` longer than one character and not `xHH`/`0xHH` (the value given).
    #[error("`{0}`: the delimiter is one character, or xHH / 0xHH")]
    DelimiterLength(String),
    /// A LEEF `delimiter` that would break the record: not ASCII, a letter, digit, space, `|`,
    /// `=`, CR or LF (the value given).
    #[error(
        "`{0}` cannot be the delimiter: it must be one ASCII character other than a letter, digit, space, |, =, CR or LF"
    )]
    DelimiterChar(String),
    /// A key of a CEF mapping's `[fields]` that CEF cannot carry (the key given).
    #[error("`{0}` is not a valid CEF extension key (letters, digits and _ only)")]
    CefKey(String),
    /// A key of a LEEF mapping's `[fields]` that LEEF cannot carry: empty, or with `=`, `|`,
    /// the delimiter, white space or a control character (the key given).
    #[error("`{0}` is not a valid LEEF attribute key")]
    LeefKey(String),
}

/// The tenant an alert came from, as configured: it goes into the `Tenant`/`TenantId` fields.
#[derive(Debug, Clone, Copy, Default)]
pub struct TenantIdentity<'t> {
    /// The tenant's `name` in the configuration, such as `contoso`.
    pub name: &'t str,
    /// The tenant's `tenant_id`, the Entra tenant GUID.
    pub id: &'t str,
}

/// A mapping file that could not be read or compiled.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    /// The file cannot be read.
    #[error("cannot read mapping file {file}: {source}")]
    Read {
        /// The file's path as given.
        file: String,
        /// Why reading failed.
        source: std::io::Error,
    },
    /// The file is not a valid mapping: bad TOML, an unknown key, an expression that does not
    /// parse, a field the format cannot carry.
    #[error("{}", invalid_message(file, *line, key, message))]
    Invalid {
        /// The file's path as given (or `mappings/cef.toml (built in)`).
        file: String,
        /// 1-based; 0 when the problem has no single line (a missing key).
        line: usize,
        /// The mapping key at fault, such as `fields.cs1`; empty when there is none.
        key: String,
        /// What is wrong, in words.
        message: String,
    },
}

fn invalid_message(file: &str, line: usize, key: &str, message: &str) -> String {
    let mut s = file.to_owned();
    if line > 0 {
        s.push_str(&format!(":{line}"));
    }
    if !key.is_empty() {
        s.push_str(&format!(": `{key}`"));
    }
    format!("{s}: {message}")
}

/// A record that could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// Even with every value shortened to nothing the record is longer than the budget.
    #[error(
        "alert {id}: the record needs at least {needed} bytes even with every alert value emptied, and the maximum message size leaves it {budget} (after the syslog header and the framing): raise the maximum message size",
        id = id.as_deref().unwrap_or("(no id)")
    )]
    TooLarge {
        /// The alert's `id`, if it has one.
        id: Option<String>,
        /// Bytes the record takes with every alert value emptied.
        needed: usize,
        /// The bytes the record may take (the output's maximum message size less the syslog
        /// envelope).
        budget: usize,
    },
    /// The JSON format was asked to encode an alert without the JSON text it was read from.
    #[error("alert {}: the JSON format needs the alert's JSON text", id.as_deref().unwrap_or("(no id)"))]
    NoRawJson {
        /// The alert's `id`, if it has one.
        id: Option<String>,
    },
    /// The JSON format cannot write this alert (its text is not an object, or it must be
    /// shortened and cannot be read whole).
    #[error("alert {}: {reason}", id.as_deref().unwrap_or("(no id)"))]
    Unencodable {
        /// The alert's `id`, if it has one.
        id: Option<String>,
        /// Why, in words.
        reason: String,
    },
}

/// What an encoder had to shorten to make a record valid and within budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EncodeStats {
    /// Values cut to the format's dictionary length (e.g. CEF `msg` to 1023 bytes).
    pub dictionary_truncations: u32,
    /// Values shortened to fit the byte budget.
    pub budget_truncations: u32,
    /// Bytes removed by both, counted before escaping.
    pub bytes_removed: u64,
}

impl EncodeStats {
    /// Whether any value was shortened.
    pub fn truncated(&self) -> bool {
        self.dictionary_truncations + self.budget_truncations > 0
    }

    /// Adds `other`'s counts to these.
    pub(crate) fn add(&mut self, other: EncodeStats) {
        self.dictionary_truncations += other.dictionary_truncations;
        self.budget_truncations += other.budget_truncations;
        self.bytes_removed += other.bytes_removed;
    }
}

/// A compiled mapping: the way alerts become records of one format.
#[derive(Debug, Clone)]
pub struct Mapping {
    source: String,
    inner: Inner,
}

#[derive(Debug, Clone)]
enum Inner {
    Plan(Box<Plan>),
    Json,
}

/// The shipped mapping files, also used when no `--mapping` is given.
pub(crate) const BUILTIN_CEF: &str = include_str!("../../mappings/cef.toml");
pub(crate) const BUILTIN_LEEF: &str = include_str!("../../mappings/leef.toml");

impl Mapping {
    /// The built-in mapping of a format (the shipped `mappings/*.toml`; JSON needs none).
    pub fn builtin(format: Format) -> Mapping {
        let (file, text) = match format {
            Format::Cef => ("mappings/cef.toml (built in)", BUILTIN_CEF),
            Format::Leef => ("mappings/leef.toml (built in)", BUILTIN_LEEF),
            Format::Json => {
                return Mapping {
                    source: "json (built in)".into(),
                    inner: Inner::Json,
                };
            }
        };
        // Built into the binary and compiled by the tests (`shipped_mappings_compile`).
        #[allow(clippy::expect_used)]
        Mapping::from_toml(file, text).expect("the shipped mapping files compile (tested)")
    }

    /// Compiles mapping text; `file` names it in errors.
    pub fn from_toml(file: &str, text: &str) -> Result<Mapping, MappingError> {
        Ok(Mapping {
            source: file.to_owned(),
            inner: Inner::Plan(Box::new(config::compile(file, text)?)),
        })
    }

    /// Reads and compiles a mapping file.
    pub fn load(path: &Path) -> Result<Mapping, MappingError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| MappingError::Read {
            file: file.clone(),
            source,
        })?;
        Mapping::from_toml(&file, &text)
    }

    /// The format the mapping writes (its `format` key; `json` for the JSON mapping).
    pub fn format(&self) -> Format {
        match &self.inner {
            Inner::Plan(p) => p.format,
            Inner::Json => Format::Json,
        }
    }

    /// Where the mapping came from, for messages.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The mapping's version (the CEF/LEEF header Version field).
    pub fn version(&self) -> &str {
        match &self.inner {
            Inner::Plan(p) => &p.version,
            Inner::Json => "",
        }
    }

    /// Whether [`encode`](Self::encode) needs the alert's JSON text ([`InputAlert::raw`]).
    pub fn needs_raw(&self) -> bool {
        matches!(self.inner, Inner::Json)
    }

    /// Appends the record of `input` to `out` (no newline). With `max_bytes`, the record is at
    /// most that long: the longest values are shortened first, and a record that cannot fit
    /// even with every value emptied is an error with nothing appended.
    pub fn encode(
        &self,
        input: &InputAlert<'_>,
        tenant: TenantIdentity<'_>,
        max_bytes: Option<usize>,
        out: &mut Vec<u8>,
    ) -> Result<EncodeStats, EncodeError> {
        let plan = match &self.inner {
            Inner::Json => {
                let raw = input.raw.ok_or_else(|| EncodeError::NoRawJson {
                    id: input.alert.id().map(str::to_owned),
                })?;
                // A Graph alert names its tenant in a `tenantId` of its own: a second member
                // of that name would make the line's meaning up to each SIEM's parser.
                let tenant = if input.alert.is_graph() && input.alert.aad_tenant_id.is_some() {
                    TenantIdentity { id: "", ..tenant }
                } else {
                    tenant
                };
                return json::encode(raw, input.alert.id(), tenant, max_bytes, out);
            }
            Inner::Plan(plan) => plan,
        };
        // The first evidence item of each selector, found once per alert; on the stack for
        // any usual mapping (a heap vector per alert was a malloc and a free per record).
        let mut first = [None; 8];
        let many: Vec<_>;
        let evidence = if let Some(first) = first.get_mut(..plan.selectors.len()) {
            for (slot, types) in first.iter_mut().zip(&plan.selectors) {
                *slot = input.alert.first_evidence(types);
            }
            &*first
        } else {
            many = plan
                .selectors
                .iter()
                .map(|types| input.alert.first_evidence(types))
                .collect();
            &many
        };
        let scope = Scope {
            alert: &input.alert,
            evidence,
            tenant_name: tenant.name,
            tenant_id: tenant.id,
            maps: &plan.maps,
        };
        let mut stats = EncodeStats::default();
        let start = out.len();
        out.reserve(4096);
        // Monomorphized per format, so that escaping inlines into the field loop.
        match &plan.header {
            HeaderPlan::Cef { .. } => plan.write_direct(&scope, &cef::CefSyntax, &mut stats, out),
            HeaderPlan::Leef { syntax, .. } => plan.write_direct(&scope, syntax, &mut stats, out),
        }
        let Some(budget) = max_bytes else {
            return Ok(stats);
        };
        let len = out.len() - start;
        if len <= budget {
            return Ok(stats);
        }
        // Over budget, the rare case: evaluate into a record whose values can be shortened.
        out.truncate(start);
        let mut stats = EncodeStats::default();
        let mut record = plan.evaluate(&scope, &mut stats);
        let syntax = plan.syntax();
        match budget::fit(&mut record, syntax, len, budget) {
            Ok(fit) => {
                stats.add(fit);
                record.drop_emptied_fields(plan);
                syntax.write(plan, &record, out);
                debug_assert!(out.len() - start <= budget);
                Ok(stats)
            }
            Err(needed) => Err(EncodeError::TooLarge {
                id: input.alert.id().map(str::to_owned),
                needed,
                budget,
            }),
        }
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub fn truncate_str(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
pub(crate) mod graph_tests;
#[cfg(test)]
mod tests;
