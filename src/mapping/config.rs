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
    let err = |line: usize, key: &str, message: String| MappingError::Invalid {
        file: file.to_owned(),
        line,
        key: key.to_owned(),
        message,
    };
    let raw: RawMapping = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(0, |s| line_of(text, s.start));
        err(line, "", e.message().trim_end().to_owned())
    })?;

    let format = match raw.format.get_ref().as_str() {
        "cef" => Format::Cef,
        "leef" => Format::Leef,
        other => {
            return Err(err(
                line_of(text, raw.format.span().start),
                "format",
                format!("unknown format `{other}` (a mapping file is for \"cef\" or \"leef\")"),
            ));
        }
    };
    let version = raw.version.get_ref().clone();

    let mut maps = Vec::new();
    let mut map_names = Vec::new();
    for (name, entries) in raw.maps {
        let mut map = ValueMap::default();
        for (k, v) in entries {
            if k == "_default" {
                map.default = Some(v);
            } else {
                map.entries.push((k, v));
            }
        }
        map_names.push(name);
        maps.push(map);
    }
    let names = Names {
        maps: map_names,
        ..Names::default()
    };
    let compile_expr = |key: &str, value: &Spanned<String>| -> Result<Expr, MappingError> {
        expr::parse(value.get_ref(), &names)
            .map_err(|m| err(line_of(text, value.span().start), key, m))
    };

    let allowed: &[&str] = match format {
        Format::Cef => &cef::HEADER_KEYS,
        Format::Leef => &leef::HEADER_KEYS,
        Format::Json => &[],
    };
    let mut header = Vec::new();
    for (key, value) in &raw.header {
        if !allowed.contains(&key.as_str()) {
            return Err(err(
                line_of(text, value.span().start),
                &format!("header.{key}"),
                format!(
                    "not a {format} header field (expected: {})",
                    allowed.join(", ")
                ),
            ));
        }
        header.push((key.as_str(), compile_expr(&format!("header.{key}"), value)?));
    }
    let mut take = |name: &str| -> Result<Expr, MappingError> {
        match header.iter().position(|(k, _)| *k == name) {
            Some(i) => Ok(header.remove(i).1),
            None => Err(err(
                0,
                &format!("header.{name}"),
                "missing: every header field must be mapped".into(),
            )),
        }
    };
    let version_expr = Expr::Literal(version.clone());
    let header = match format {
        Format::Cef => HeaderPlan::Cef {
            vendor: take("vendor")?,
            product: take("product")?,
            version: version_expr,
            event_class_id: take("event_class_id")?,
            name: take("name")?,
            severity: take("severity")?,
        },
        Format::Leef => {
            let leef_version = match raw.leef_version.as_ref().map(|v| v.get_ref().as_str()) {
                None | Some("2.0") => leef::Version::V2,
                Some("1.0") => leef::Version::V1,
                Some(other) => {
                    let span = raw.leef_version.as_ref().map_or(0, |v| v.span().start);
                    return Err(err(
                        line_of(text, span),
                        "leef_version",
                        format!("unknown LEEF version `{other}` (\"1.0\" or \"2.0\")"),
                    ));
                }
            };
            let delimiter = match &raw.delimiter {
                None => '\t',
                Some(d) => {
                    let parsed = leef::parse_delimiter(d.get_ref())
                        .map_err(|m| err(line_of(text, d.span().start), "delimiter", m))?;
                    if leef_version == leef::Version::V1 && parsed != '\t' {
                        return Err(err(
                            line_of(text, d.span().start),
                            "delimiter",
                            "LEEF 1.0 always uses TAB; set leef_version = \"2.0\" for another delimiter".into(),
                        ));
                    }
                    parsed
                }
            };
            HeaderPlan::Leef {
                syntax: leef::LeefSyntax {
                    version: leef_version,
                    delimiter,
                },
                vendor: take("vendor")?,
                product: take("product")?,
                version: version_expr,
                event_id: take("event_id")?,
            }
        }
        Format::Json => unreachable!("JSON has no mapping file"),
    };
    if format == Format::Cef && (raw.leef_version.is_some() || raw.delimiter.is_some()) {
        return Err(err(
            0,
            "delimiter",
            "leef_version and delimiter are LEEF settings; this mapping is CEF".into(),
        ));
    }

    let mut fields: Vec<Field> = Vec::with_capacity(raw.fields.len());
    for (key, value) in &raw.fields {
        let line = line_of(text, value.span().start);
        let check = match &header {
            HeaderPlan::Cef { .. } => cef::check_key(key),
            HeaderPlan::Leef { syntax, .. } => leef::check_key(key, syntax.delimiter),
        };
        check.map_err(|m| err(line, &format!("fields.{key}"), m))?;
        let expr = compile_expr(&format!("fields.{key}"), value)?;
        let limit = match format {
            Format::Cef => cef::dictionary_limit(key),
            _ => None,
        };
        if let Expr::Literal(text) = &expr
            && let Some(max) = limit.filter(|max| text.len() > *max)
        {
            return Err(err(
                line,
                &format!("fields.{key}"),
                format!(
                    "this literal is {} bytes, over the {max} that CEF allows for `{key}`",
                    text.len()
                ),
            ));
        }
        fields.push(Field {
            key: key.clone(),
            shrinkable: !expr.is_literal(),
            expr,
            limit,
            label_of: None,
            written: None,
        });
    }
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
    // Literal fields (labels) are the same in every record: escape them once.
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
    Ok(plan)
}
