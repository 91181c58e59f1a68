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

mod budget;
pub mod cef;
mod config;
mod expr;
pub(crate) mod json;
pub mod leef;
mod scan;

use std::borrow::Cow;
use std::fmt;
use std::path::Path;

use crate::reader::InputAlert;
use expr::{Expr, Scope, Val, ValueMap};

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
        "alert {id}: the record needs at least {needed} bytes even with every alert value emptied, over the limit of {budget}: raise the maximum message size",
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

/// One field of a CEF extension or of LEEF attributes.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub key: String,
    pub expr: Expr,
    /// Dictionary length in bytes; values are cut to it before escaping.
    pub limit: Option<usize>,
    /// Literals (labels) are never shortened to fit a budget.
    pub shrinkable: bool,
    /// For `xLabel`: the index of `x`, whose absence removes the label too.
    pub label_of: Option<usize>,
    /// For a literal: the field as written (`key=value`, escaped), prepared once.
    pub written: Option<Vec<u8>>,
}

#[derive(Debug, Clone)]
pub(crate) enum HeaderPlan {
    Cef {
        vendor: Expr,
        product: Expr,
        version: Expr,
        event_class_id: Expr,
        name: Expr,
        severity: Expr,
    },
    Leef {
        syntax: leef::LeefSyntax,
        vendor: Expr,
        product: Expr,
        version: Expr,
        event_id: Expr,
    },
}

/// A compiled mapping file.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub format: Format,
    pub version: String,
    pub header: HeaderPlan,
    pub fields: Vec<Field>,
    pub maps: Vec<ValueMap>,
    /// The distinct `evidence[Types]` of the expressions.
    pub selectors: Vec<Vec<String>>,
}

/// A part of a record before escaping.
#[derive(Debug)]
pub(crate) struct Part<'x> {
    pub text: Cow<'x, str>,
    pub shrinkable: bool,
}

/// An evaluated record: header values, then `(field index, value)` in output order.
#[derive(Debug)]
pub(crate) struct Record<'x> {
    pub header: Vec<Part<'x>>,
    pub fields: Vec<(usize, Part<'x>)>,
}

/// How a record is written: its fixed parts, and how each character of a value is escaped or
/// replaced. [`Syntax::write`] and the direct path of [`Mapping::encode`] both go through these
/// pieces, so the bytes of a record have one definition.
pub(crate) trait Syntax {
    fn header_char_len(&self, c: char) -> usize;
    fn field_char_len(&self, c: char) -> usize;
    /// `CEF:0` / `LEEF:2.0`.
    fn start(&self, out: &mut Vec<u8>);
    /// A header value with the separator before it.
    fn header(&self, text: &str, out: &mut Vec<u8>);
    /// What follows the last header value.
    fn end_header(&self, out: &mut Vec<u8>);
    /// The separator before a field that is not the first.
    fn separator(&self, out: &mut Vec<u8>);
    /// `key=` and the value.
    fn field(&self, key: &str, text: &str, out: &mut Vec<u8>);

    fn write(&self, plan: &Plan, record: &Record<'_>, out: &mut Vec<u8>) {
        self.start(out);
        for part in &record.header {
            self.header(&part.text, out);
        }
        self.end_header(out);
        for (n, (i, part)) in record.fields.iter().enumerate() {
            if n > 0 {
                self.separator(out);
            }
            self.field(&plan.fields[*i].key, &part.text, out);
        }
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
                return json::encode(raw, input.alert.id(), tenant, max_bytes, out);
            }
            Inner::Plan(plan) => plan,
        };
        let evidence: Vec<_> = plan
            .selectors
            .iter()
            .map(|types| input.alert.first_evidence(types))
            .collect();
        let scope = Scope {
            alert: &input.alert,
            evidence: &evidence,
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

impl Record<'_> {
    /// Receivers reject `key=` with nothing after it (liblognorm drops the whole event): a value
    /// shortened to nothing takes its key, and its label, out of the record.
    fn drop_emptied_fields(&mut self, plan: &Plan) {
        if self.fields.iter().all(|(_, p)| !p.text.is_empty()) {
            return;
        }
        self.fields.retain(|(_, p)| !p.text.is_empty());
        let kept: Vec<usize> = self.fields.iter().map(|(i, _)| *i).collect();
        self.fields.retain(|(i, _)| {
            plan.fields[*i]
                .label_of
                .is_none_or(|base| kept.contains(&base))
        });
    }
}

impl Plan {
    pub(crate) fn syntax(&self) -> &dyn Syntax {
        match &self.header {
            HeaderPlan::Cef { .. } => &cef::CefSyntax,
            HeaderPlan::Leef { syntax, .. } => syntax,
        }
    }

    /// Calls `part` with each header value, cut to its length and made valid.
    fn each_header_part<'x>(
        &'x self,
        scope: &Scope<'x, '_>,
        stats: &mut EncodeStats,
        mut part: impl FnMut(Part<'x>),
    ) {
        let mut push = |e: &'x Expr, limit: usize, shrinkable: bool| {
            let text = e.eval(scope).map(|v| v.into_text()).unwrap_or_default();
            part(Part {
                text: truncate_counted(text, Some(limit), stats),
                shrinkable: shrinkable && !e.is_literal(),
            });
        };
        match &self.header {
            HeaderPlan::Cef {
                vendor,
                product,
                version,
                event_class_id,
                name,
                severity,
            } => {
                push(vendor, 63, false);
                push(product, 63, false);
                push(version, 31, false);
                push(event_class_id, 1023, true);
                push(name, 512, true);
                let sev = severity
                    .eval(scope)
                    .map(|v| v.into_text())
                    .unwrap_or_default();
                part(Part {
                    text: if cef::valid_severity(&sev) {
                        sev
                    } else {
                        Cow::Borrowed("Unknown")
                    },
                    shrinkable: false,
                });
            }
            HeaderPlan::Leef {
                vendor,
                product,
                version,
                event_id,
                ..
            } => {
                push(vendor, 255, false);
                push(product, 255, false);
                push(version, 255, false);
                push(event_id, 255, true);
            }
        }
    }

    /// Whether field `i`, a label, must be left out because its base field has no value.
    fn label_without_base(&self, i: usize, present: &Present, scope: &Scope<'_, '_>) -> bool {
        match self.fields[i].label_of {
            None => false,
            Some(base) if base < i => !present.get(base),
            // A label written before its field (unusual order): look the field up.
            Some(base) => self.fields[base].expr.eval(scope).is_none(),
        }
    }

    /// Evaluates and writes the record in one pass, with no intermediate record: the path every
    /// alert takes unless it has to be shortened.
    fn write_direct<S: Syntax>(
        &self,
        scope: &Scope<'_, '_>,
        syntax: &S,
        stats: &mut EncodeStats,
        out: &mut Vec<u8>,
    ) {
        syntax.start(out);
        self.each_header_part(scope, stats, |part| syntax.header(&part.text, out));
        syntax.end_header(out);
        let mut present = Present::new(self.fields.len());
        let mut first = true;
        let mut digits = [0u8; 20];
        for (i, f) in self.fields.iter().enumerate() {
            if self.label_without_base(i, &present, scope) {
                continue;
            }
            if let Some(written) = &f.written {
                present.set(i);
                if !first {
                    syntax.separator(out);
                }
                first = false;
                out.extend_from_slice(written);
                continue;
            }
            let Some(value) = f.expr.eval(scope) else {
                continue;
            };
            present.set(i);
            if !first {
                syntax.separator(out);
            }
            first = false;
            match value {
                Val::Int(n) => syntax.field(&f.key, int_str(n, &mut digits), out),
                value => {
                    let text = truncate_counted(value.into_text(), f.limit, stats);
                    syntax.field(&f.key, &text, out);
                }
            }
        }
    }

    fn evaluate<'x>(&'x self, scope: &Scope<'x, '_>, stats: &mut EncodeStats) -> Record<'x> {
        let mut header = Vec::with_capacity(6);
        self.each_header_part(scope, stats, |part| header.push(part));
        let mut present = Present::new(self.fields.len());
        let mut fields = Vec::with_capacity(self.fields.len());
        for (i, f) in self.fields.iter().enumerate() {
            if self.label_without_base(i, &present, scope) {
                continue;
            }
            let Some(value) = f.expr.eval(scope) else {
                continue;
            };
            present.set(i);
            fields.push((
                i,
                Part {
                    text: truncate_counted(value.into_text(), f.limit, stats),
                    shrinkable: f.shrinkable,
                },
            ));
        }
        Record { header, fields }
    }
}

/// Which fields of a record have a value: bits for the usual mapping, a vector past 128.
struct Present {
    bits: u128,
    more: Vec<bool>,
}

impl Present {
    fn new(fields: usize) -> Present {
        Present {
            bits: 0,
            more: if fields > 128 {
                vec![false; fields]
            } else {
                Vec::new()
            },
        }
    }

    fn set(&mut self, i: usize) {
        if self.more.is_empty() {
            self.bits |= 1 << i;
        } else {
            self.more[i] = true;
        }
    }

    fn get(&self, i: usize) -> bool {
        if self.more.is_empty() {
            self.bits & (1 << i) != 0
        } else {
            self.more[i]
        }
    }
}

/// Formats `n` in `buf` (epoch milliseconds fit any dictionary length).
fn int_str(n: i64, buf: &mut [u8; 20]) -> &str {
    let mut at = buf.len();
    let mut m = n.unsigned_abs();
    loop {
        at -= 1;
        buf[at] = b'0' + (m % 10) as u8;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    if n < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    // Only ASCII digits and '-' were written.
    #[allow(clippy::expect_used)]
    std::str::from_utf8(&buf[at..]).expect("ASCII digits")
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

fn truncate_counted<'x>(
    s: Cow<'x, str>,
    limit: Option<usize>,
    stats: &mut EncodeStats,
) -> Cow<'x, str> {
    match limit {
        Some(max) if s.len() > max => {
            stats.dictionary_truncations += 1;
            let cut = truncate_str(&s, max).len();
            stats.bytes_removed += (s.len() - cut) as u64;
            match s {
                Cow::Borrowed(b) => Cow::Borrowed(&b[..cut]),
                Cow::Owned(mut o) => {
                    o.truncate(cut);
                    Cow::Owned(o)
                }
            }
        }
        _ => s,
    }
}

#[cfg(test)]
mod tests;
