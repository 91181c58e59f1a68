//! The value expressions of mapping files, e.g.
//!
//! ```text
//! title                                       a field of the alert
//! relatedUser.userName                        a field of an object in the alert
//! evidence[File,Process].sha1                 a field of the first evidence of those types
//! 'Microsoft'                                 a literal ('' or \' for a quote, \\ for \)
//! $tenant.name   $tenant.id                   the configured tenant
//! lastUpdateTime | epoch_ms                   a filter: epoch_ms, join('sep'), map(table),
//!                                             lower, upper
//! 'https://security.microsoft.com/alerts/' + id    concatenation (missing if a part is)
//! detectorId else category                    the first part that has a value
//! ```
//!
//! A missing, null or empty value makes the field absent from the record.

use std::borrow::Cow;

use crate::alert::{Alert, Evidence, Str, Timestamp};

/// A compiled expression.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Literal(String),
    Path(Path),
    Tenant(TenantField),
    Concat(Vec<Expr>),
    Else(Vec<Expr>),
    Filter(Box<Expr>, Filter),
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum TenantField {
    Name,
    Id,
}

#[derive(Debug, Clone)]
pub(crate) enum Filter {
    EpochMs,
    Join(String),
    Map(usize),
    Lower,
    Upper,
}

type AlertStr = for<'b, 'a> fn(&'b Alert<'a>) -> Option<&'b Str<'a>>;
type AlertTime = fn(&Alert<'_>) -> Option<Timestamp>;
type EvidenceStr = for<'b, 'a> fn(&'b Evidence<'a>) -> Option<&'b Str<'a>>;
type EvidenceTime = fn(&Evidence<'_>) -> Option<Timestamp>;

#[derive(Clone)]
pub(crate) enum Path {
    Str(AlertStr),
    Time(AlertTime),
    MitreTechniques,
    UserName,
    UserDomain,
    /// A field of the first evidence of a selector (an index into [`Names::selectors`]).
    EvidenceStr(usize, EvidenceStr),
    EvidenceTime(usize, EvidenceTime),
}

impl std::fmt::Debug for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Path")
    }
}

/// A value while an expression is evaluated.
pub(crate) enum Val<'x> {
    Text(Cow<'x, str>),
    /// A number computed here (epoch milliseconds), written without an allocation.
    Int(i64),
    Time(Timestamp),
    List(&'x [Str<'x>]),
}

impl<'x> Val<'x> {
    #[inline]
    pub(crate) fn into_text(self) -> Cow<'x, str> {
        match self {
            Val::Text(t) => t,
            other => other.formatted(),
        }
    }

    /// [`Self::into_text`] of a value that is not text already (kept out of line: the common
    /// case is a move).
    #[inline(never)]
    fn formatted(self) -> Cow<'x, str> {
        match self {
            Val::Text(t) => t,
            Val::Int(n) => Cow::Owned(n.to_string()),
            Val::Time(t) => {
                let mut s = String::with_capacity(30);
                t.write_rfc3339(t.fraction_digits(), &mut s);
                Cow::Owned(s)
            }
            Val::List(items) => join(items, ","),
        }
    }
}

fn join<'x>(items: &'x [Str<'x>], sep: &str) -> Cow<'x, str> {
    match items {
        [one] => Cow::Borrowed(&**one),
        _ => Cow::Owned(
            items
                .iter()
                .map(|s| &**s)
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(sep),
        ),
    }
}

/// What an expression is evaluated against.
pub(crate) struct Scope<'x, 'a> {
    pub alert: &'x Alert<'a>,
    /// The first evidence of each selector of the plan, found once per alert.
    pub evidence: &'x [Option<&'x Evidence<'a>>],
    pub tenant_name: &'x str,
    pub tenant_id: &'x str,
    pub maps: &'x [ValueMap],
}

/// A `[maps.NAME]` table: exact matches, then `_default`, else the value unchanged. A missing
/// value is `_missing` when the table has one, else `_default`.
#[derive(Debug, Clone, Default)]
pub(crate) struct ValueMap {
    /// Few entries (a severity scale): a scan beats hashing.
    pub entries: Vec<(String, String)>,
    pub default: Option<String>,
    /// For a missing value, when it differs from `_default`: an `/api/alerts` alert has no
    /// `serviceSource` and is MDE's, while a `serviceSource` not listed is a product to come.
    pub missing: Option<String>,
}

impl Expr {
    /// The value, or `None` when it is missing, null or empty.
    #[inline]
    pub(crate) fn eval<'x>(&'x self, s: &Scope<'x, '_>) -> Option<Val<'x>> {
        match self {
            // Most fields are one of the alert's own strings: no call to the general case.
            Expr::Path(Path::Str(field)) => {
                let alert: &'x Alert<'x> = s.alert;
                let text: &'x str = field(alert)?;
                (!text.is_empty()).then_some(Val::Text(Cow::Borrowed(text)))
            }
            _ => self.eval_any(s),
        }
    }

    fn eval_any<'x>(&'x self, s: &Scope<'x, '_>) -> Option<Val<'x>> {
        let v = match self {
            Expr::Literal(l) => Val::Text(Cow::Borrowed(l)),
            Expr::Tenant(TenantField::Name) => Val::Text(Cow::Borrowed(s.tenant_name)),
            Expr::Tenant(TenantField::Id) => Val::Text(Cow::Borrowed(s.tenant_id)),
            Expr::Path(p) => p.eval(s.alert, s.evidence)?,
            Expr::Else(alts) => return alts.iter().find_map(|e| e.eval(s)),
            Expr::Concat(parts) => {
                let mut out = String::new();
                for p in parts {
                    out.push_str(&p.eval(s)?.into_text());
                }
                Val::Text(Cow::Owned(out))
            }
            Expr::Filter(inner, f) => match (inner.eval(s), f) {
                (Some(v), f) => f.apply(v, s)?,
                // A map's `_default` also stands for a missing value (UnSpecified severity and
                // no severity at all are the same to a SIEM).
                (None, Filter::Map(i)) => {
                    let map = &s.maps[*i];
                    Val::Text(Cow::Borrowed(
                        map.missing.as_deref().or(map.default.as_deref())?,
                    ))
                }
                (None, _) => return None,
            },
        };
        match &v {
            Val::Text(t) if t.is_empty() => None,
            Val::List(l) if l.iter().all(|s| s.is_empty()) => None,
            _ => Some(v),
        }
    }

    /// True when the expression can never vary between alerts (a literal).
    pub(crate) fn is_literal(&self) -> bool {
        matches!(self, Expr::Literal(_))
    }
}

impl Path {
    fn eval<'x>(
        &self,
        a: &'x Alert<'_>,
        evidence: &'x [Option<&'x Evidence<'_>>],
    ) -> Option<Val<'x>> {
        // Shorten the alert's lifetime to the borrow: `Str<'a>` is covariant in 'a.
        let a: &'x Alert<'x> = a;
        let evidence: &'x [Option<&'x Evidence<'x>>] = evidence;
        match self {
            Path::Str(f) => f(a).map(|s| Val::Text(Cow::Borrowed(&**s))),
            Path::EvidenceStr(sel, f) => f(evidence[*sel]?).map(|s| Val::Text(Cow::Borrowed(&**s))),
            Path::EvidenceTime(sel, f) => f(evidence[*sel]?).map(Val::Time),
            Path::Time(f) => f(a).map(Val::Time),
            Path::MitreTechniques => a.mitre_techniques.as_ref().map(|l| Val::List(&l.0)),
            Path::UserName => a
                .related_user
                .as_ref()?
                .user_name
                .as_deref()
                .map(|s| Val::Text(Cow::Borrowed(s))),
            Path::UserDomain => a
                .related_user
                .as_ref()?
                .domain_name
                .as_deref()
                .map(|s| Val::Text(Cow::Borrowed(s))),
        }
    }
}

impl Filter {
    fn apply<'x>(&'x self, v: Val<'x>, s: &Scope<'x, '_>) -> Option<Val<'x>> {
        Some(match (self, v) {
            (Filter::EpochMs, Val::Time(t)) => Val::Int(t.unix_millis()),
            (Filter::EpochMs, other) => {
                let text = other.into_text();
                Val::Int(Timestamp::parse(&text).ok()?.unix_millis())
            }
            (Filter::Join(sep), Val::List(items)) => Val::Text(join(items, sep)),
            (Filter::Join(_), other) => other,
            (Filter::Map(i), v) => {
                let map = &s.maps[*i];
                let text = v.into_text();
                let hit = map
                    .entries
                    .iter()
                    .find(|(k, _)| **k == *text)
                    .map(|(_, v)| v);
                match hit.or(map.default.as_ref()) {
                    Some(m) => Val::Text(Cow::Borrowed(m)),
                    None => Val::Text(text),
                }
            }
            (Filter::Lower, v) => Val::Text(Cow::Owned(v.into_text().to_lowercase())),
            (Filter::Upper, v) => Val::Text(Cow::Owned(v.into_text().to_uppercase())),
        })
    }
}

mod parse;

pub(crate) use parse::{Names, parse};

#[cfg(test)]
mod tests;
