//! The compiled form of a CEF or LEEF mapping file ([`Plan`]) and how an alert becomes a
//! record: written directly, or evaluated into a [`Record`] whose values can be shortened to a
//! byte budget.

use std::borrow::Cow;

use super::expr::{Expr, Scope, Val, ValueMap};
use super::{EncodeStats, Format, cef, leef, truncate_str};

/// One field of a CEF extension or of LEEF attributes.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub key: String,
    /// `key=`, as every record writes it before the value (both formats): one copy.
    pub key_equals: Vec<u8>,
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
    /// A field's value, escaped or cleaned.
    fn value(&self, text: &str, out: &mut Vec<u8>);
    /// `key=` and the value.
    fn field(&self, key: &str, text: &str, out: &mut Vec<u8>) {
        out.extend_from_slice(key.as_bytes());
        out.push(b'=');
        self.value(text, out);
    }

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

impl Record<'_> {
    /// Receivers reject `key=` with nothing after it (liblognorm drops the whole event): a value
    /// shortened to nothing takes its key, and its label, out of the record.
    pub(super) fn drop_emptied_fields(&mut self, plan: &Plan) {
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
    pub(super) fn write_direct<S: Syntax>(
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
        let mut digits = itoa::Buffer::new();
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
            out.extend_from_slice(&f.key_equals);
            match value {
                Val::Int(n) => syntax.value(digits.format(n), out),
                // Most values are the alert's own text: written from where they lie.
                Val::Text(Cow::Borrowed(text)) => {
                    syntax.value(cut_counted(text, f.limit, stats), out);
                }
                value => {
                    let text = truncate_counted(value.into_text(), f.limit, stats);
                    syntax.value(&text, out);
                }
            }
        }
    }

    pub(super) fn evaluate<'x>(
        &'x self,
        scope: &Scope<'x, '_>,
        stats: &mut EncodeStats,
    ) -> Record<'x> {
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

fn truncate_counted<'x>(
    s: Cow<'x, str>,
    limit: Option<usize>,
    stats: &mut EncodeStats,
) -> Cow<'x, str> {
    match s {
        Cow::Borrowed(b) => Cow::Borrowed(cut_counted(b, limit, stats)),
        Cow::Owned(mut o) => {
            let cut = cut_counted(&o, limit, stats).len();
            o.truncate(cut);
            Cow::Owned(o)
        }
    }
}

/// `s` cut to `limit` bytes on a character boundary, the cut counted in `stats`.
#[inline]
fn cut_counted<'x>(s: &'x str, limit: Option<usize>, stats: &mut EncodeStats) -> &'x str {
    match limit {
        Some(max) if s.len() > max => {
            let cut = truncate_str(s, max);
            stats.dictionary_truncations += 1;
            stats.bytes_removed += (s.len() - cut.len()) as u64;
            cut
        }
        _ => s,
    }
}
