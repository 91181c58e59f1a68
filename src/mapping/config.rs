//! The mapping file as written (TOML), and its compilation into a [`Plan`](super::Plan).

use indexmap::IndexMap;
use serde::Deserialize;
use toml::Spanned;

use super::expr::{self, Expr, Names, ValueMap};
use super::{Field, Format, HeaderPlan, MappingError, Plan, cef, leef};
use crate::settings::line_of;

/// A mapping file before validation. Unknown keys are errors: a typo must not silently drop a
/// field from every alert.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMapping {
    format: Spanned<String>,
    version: Spanned<String>,
    /// LEEF only: "2.0" (default) or "1.0".
    leef_version: Option<Spanned<String>>,
    /// LEEF 2.0 only: one character, or `xHH` / `0xHH`; default TAB.
    delimiter: Option<Spanned<String>>,
    #[serde(default)]
    header: IndexMap<String, Spanned<String>>,
    /// CEF extension or LEEF attributes, in output order.
    #[serde(default)]
    fields: IndexMap<String, Spanned<String>>,
    #[serde(default)]
    maps: IndexMap<String, IndexMap<String, String>>,
}

pub(crate) fn compile(file: &str, text: &str) -> Result<Plan, MappingError> {
    let source = Source { file, text };
    let raw: RawMapping = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(0, |s| line_of(text, s.start));
        source.err(line, "", e.message().trim_end().to_owned())
    })?;
    let format = source.format(&raw.format)?;
    let version = raw.version.get_ref().clone();
    let (maps, map_names) = value_maps(&raw.maps);
    let names = Names {
        maps: map_names,
        ..Names::default()
    };
    let header = source.header(format, &raw, &names, Expr::Literal(version.clone()))?;
    if format == Format::Cef && (raw.leef_version.is_some() || raw.delimiter.is_some()) {
        return Err(source.err(
            0,
            "delimiter",
            "leef_version and delimiter are LEEF settings; this mapping is CEF",
        ));
    }
    let mut fields = source.fields(format, &header, &raw.fields, &names)?;
    // `cs1Label` belongs to `cs1`: it is left out whenever `cs1` is.
    for i in 0..fields.len() {
        if let Some(base) = fields[i].key.strip_suffix("Label") {
            fields[i].label_of = fields.iter().position(|f| f.key == base);
        }
    }
    let mut plan = Plan {
        format,
        version,
        header,
        fields,
        maps,
        selectors: names.selectors.into_inner(),
    };
    write_literals(&mut plan);
    Ok(plan)
}

/// `[maps]`: each table's entries in order, `_default` and `_missing` set apart; and the maps'
/// names, which expressions refer to by position.
fn value_maps(raw: &IndexMap<String, IndexMap<String, String>>) -> (Vec<ValueMap>, Vec<String>) {
    let mut maps = Vec::new();
    let mut map_names = Vec::new();
    for (name, entries) in raw {
        let mut map = ValueMap::default();
        for (k, v) in entries {
            if k == "_default" {
                map.default = Some(v.clone());
            } else if k == "_missing" {
                map.missing = Some(v.clone());
            } else {
                map.entries.push((k.clone(), v.clone()));
            }
        }
        map_names.push(name.clone());
        maps.push(map);
    }
    (maps, map_names)
}

/// Literal fields (labels) are the same in every record: escape them once.
fn write_literals(plan: &mut Plan) {
    let written: Vec<Option<Vec<u8>>> = plan
        .fields
        .iter()
        .map(|f| match &f.expr {
            Expr::Literal(text) if !text.is_empty() => {
                let mut bytes = Vec::new();
                plan.syntax().field(&f.key, text, &mut bytes);
                Some(bytes)
            }
            _ => None,
        })
        .collect();
    for (f, w) in plan.fields.iter_mut().zip(written) {
        f.written = w;
    }
}

/// The mapping file being compiled, for errors that name its lines; and the per-group steps of
/// [`compile`], in the order it runs them: the first error found is the one reported.
#[derive(Clone, Copy)]
struct Source<'a> {
    file: &'a str,
    text: &'a str,
}

impl Source<'_> {
    fn err(&self, line: usize, key: &str, message: impl std::fmt::Display) -> MappingError {
        MappingError::Invalid {
            file: self.file.to_owned(),
            line,
            key: key.to_owned(),
            message: message.to_string(),
        }
    }

    fn line(&self, offset: usize) -> usize {
        line_of(self.text, offset)
    }

    /// `format`: cef or leef.
    fn format(&self, format: &Spanned<String>) -> Result<Format, MappingError> {
        match format.get_ref().as_str() {
            "cef" => Ok(Format::Cef),
            "leef" => Ok(Format::Leef),
            other => Err(self.err(
                self.line(format.span().start),
                "format",
                format!("unknown format `{other}` (a mapping file is for \"cef\" or \"leef\")"),
            )),
        }
    }

    /// An expression: `key` names it in errors.
    fn expr(
        &self,
        key: &str,
        value: &Spanned<String>,
        names: &Names,
    ) -> Result<Expr, MappingError> {
        expr::parse(value.get_ref(), names)
            .map_err(|m| self.err(self.line(value.span().start), key, m))
    }

    /// `[header]`: only the format's fields, each of them mapped; and LEEF's settings.
    fn header(
        &self,
        format: Format,
        raw: &RawMapping,
        names: &Names,
        version: Expr,
    ) -> Result<HeaderPlan, MappingError> {
        let allowed: &[&str] = match format {
            Format::Cef => &cef::HEADER_KEYS,
            Format::Leef => &leef::HEADER_KEYS,
            Format::Json => &[],
        };
        let mut header = Vec::new();
        for (key, value) in &raw.header {
            if !allowed.contains(&key.as_str()) {
                return Err(self.err(
                    self.line(value.span().start),
                    &format!("header.{key}"),
                    format!(
                        "not a {format} header field (expected: {})",
                        allowed.join(", ")
                    ),
                ));
            }
            header.push((
                key.as_str(),
                self.expr(&format!("header.{key}"), value, names)?,
            ));
        }
        let mut take = |name: &str| -> Result<Expr, MappingError> {
            match header.iter().position(|(k, _)| *k == name) {
                Some(i) => Ok(header.remove(i).1),
                None => Err(self.err(
                    0,
                    &format!("header.{name}"),
                    "missing: every header field must be mapped",
                )),
            }
        };
        Ok(match format {
            Format::Cef => HeaderPlan::Cef {
                vendor: take("vendor")?,
                product: take("product")?,
                version,
                event_class_id: take("event_class_id")?,
                name: take("name")?,
                severity: take("severity")?,
            },
            Format::Leef => HeaderPlan::Leef {
                syntax: self.leef_syntax(raw.leef_version.as_ref(), raw.delimiter.as_ref())?,
                vendor: take("vendor")?,
                product: take("product")?,
                version,
                event_id: take("event_id")?,
            },
            Format::Json => unreachable!("JSON has no mapping file"),
        })
    }

    /// `leef_version` and `delimiter` of a LEEF mapping.
    fn leef_syntax(
        &self,
        version: Option<&Spanned<String>>,
        delimiter: Option<&Spanned<String>>,
    ) -> Result<leef::LeefSyntax, MappingError> {
        let leef_version = match version.map(|v| v.get_ref().as_str()) {
            None | Some("2.0") => leef::Version::V2,
            Some("1.0") => leef::Version::V1,
            Some(other) => {
                let span = version.map_or(0, |v| v.span().start);
                return Err(self.err(
                    self.line(span),
                    "leef_version",
                    format!("unknown LEEF version `{other}` (\"1.0\" or \"2.0\")"),
                ));
            }
        };
        let delimiter = match delimiter {
            None => '\t',
            Some(d) => {
                let line = self.line(d.span().start);
                let parsed = leef::parse_delimiter(d.get_ref())
                    .map_err(|m| self.err(line, "delimiter", m))?;
                if leef_version == leef::Version::V1 && parsed != '\t' {
                    return Err(self.err(
                        line,
                        "delimiter",
                        "LEEF 1.0 always uses TAB; set leef_version = \"2.0\" for another delimiter",
                    ));
                }
                parsed
            }
        };
        Ok(leef::LeefSyntax {
            version: leef_version,
            delimiter,
        })
    }

    /// `[fields]`: keys the format can carry, expressions, and CEF's length limits on literals.
    fn fields(
        &self,
        format: Format,
        header: &HeaderPlan,
        raw: &IndexMap<String, Spanned<String>>,
        names: &Names,
    ) -> Result<Vec<Field>, MappingError> {
        let mut fields: Vec<Field> = Vec::with_capacity(raw.len());
        for (key, value) in raw {
            let line = self.line(value.span().start);
            let check = match header {
                HeaderPlan::Cef { .. } => cef::check_key(key),
                HeaderPlan::Leef { syntax, .. } => leef::check_key(key, syntax.delimiter),
            };
            check.map_err(|m| self.err(line, &format!("fields.{key}"), m))?;
            let expr = self.expr(&format!("fields.{key}"), value, names)?;
            let limit = match format {
                Format::Cef => cef::dictionary_limit(key),
                _ => None,
            };
            if let Expr::Literal(text) = &expr
                && let Some(max) = limit.filter(|max| text.len() > *max)
            {
                return Err(self.err(
                    line,
                    &format!("fields.{key}"),
                    format!(
                        "this literal is {} bytes, over the {max} that CEF allows for `{key}`",
                        text.len()
                    ),
                ));
            }
            fields.push(Field {
                key_equals: format!("{key}=").into_bytes(),
                key: key.clone(),
                shrinkable: !expr.is_literal(),
                expr,
                limit,
                label_of: None,
                written: None,
            });
        }
        Ok(fields)
    }
}
