//! The OData query options of `GET /api/alerts` (docs/alerts-api.md): `$filter`, `$top`, `$skip`,
//! `$expand=evidence`, with the strictness of the real service where clients go wrong — DateTime
//! literals must be unquoted, `$top` is at most 10000, and only the documented properties filter.
//! Graph `alerts_v2` parses its `$filter` with the same grammar and its own property names
//! ([`parse_filter_in`], `graph_query.rs`).
//!
//! Long (over 500 lines): the query grammar the service accepts and the errors it gives for the
//! rest belong together.

use std::cmp::Ordering;

use serde_json::Value;

use siemfwd_time::Timestamp;

/// The largest `$top` the service takes, and its page size when `$top` is not given: the
/// default of [`super::Limits::max_top`].
pub(crate) const MAX_TOP: u64 = 10_000;

/// A parsed query.
#[derive(Debug, Default)]
pub(crate) struct Query {
    pub(crate) filter: Option<Expr>,
    pub(crate) top: Option<u64>,
    pub(crate) skip: u64,
    pub(crate) expand_evidence: bool,
}

/// A `$filter` expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp(Field, Op, Literal),
}

/// The properties the service lets `$filter` use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    AlertCreationTime,
    LastUpdateTime,
    LastEventTime,
    IncidentId,
    InvestigationId,
    Id,
    AssignedTo,
    DetectionSource,
    Status,
    Severity,
    Category,
    /// Graph only (`alerts_v2`): the product that raised the alert.
    ServiceSource,
    /// Graph only: filterable there, not on `/api/alerts`.
    Classification,
    /// Graph only: filterable there, not on `/api/alerts`.
    Determination,
}

impl Field {
    pub(crate) fn name(self) -> &'static str {
        FILTERABLE
            .iter()
            .find(|(_, f, _)| *f == self)
            .map_or("", |(name, _, _)| name)
    }
}

/// A property's value as `$filter` sees it; a missing property is `Null`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Scalar<'a> {
    Null,
    Int(i64),
    Str(&'a str),
    /// A timestamp string, already read (Unix nanoseconds).
    Time(i64),
    /// An array, an object, a boolean, a number that is no i64.
    Other,
}

/// Something `$filter` can test: an alert's JSON, or what the store keeps of it.
pub(crate) trait Record {
    fn field(&self, f: Field) -> Scalar<'_>;
}

impl Record for Value {
    fn field(&self, f: Field) -> Scalar<'_> {
        match self.get(f.name()) {
            None | Some(Value::Null) => Scalar::Null,
            Some(Value::String(s)) => Scalar::Str(s),
            Some(Value::Number(n)) => n.as_i64().map_or(Scalar::Other, Scalar::Int),
            Some(_) => Scalar::Other,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    DateTime(Timestamp),
    Str(String),
    Number(i64),
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldType {
    DateTime,
    Str,
    Number,
}

/// The properties the service lets `$filter` use, and their types.
pub(crate) const FILTERABLE: &[(&str, Field, FieldType)] = &[
    (
        "alertCreationTime",
        Field::AlertCreationTime,
        FieldType::DateTime,
    ),
    ("lastUpdateTime", Field::LastUpdateTime, FieldType::DateTime),
    ("lastEventTime", Field::LastEventTime, FieldType::DateTime),
    ("incidentId", Field::IncidentId, FieldType::Number),
    ("investigationId", Field::InvestigationId, FieldType::Number),
    ("id", Field::Id, FieldType::Str),
    ("assignedTo", Field::AssignedTo, FieldType::Str),
    ("detectionSource", Field::DetectionSource, FieldType::Str),
    ("status", Field::Status, FieldType::Str),
    ("severity", Field::Severity, FieldType::Str),
    ("category", Field::Category, FieldType::Str),
];

/// Other properties of an alert: they exist but the service refuses them in `$filter`.
const NOT_FILTERABLE: &[&str] = &[
    "title",
    "description",
    "classification",
    "determination",
    "investigationState",
    "detectorId",
    "threatFamilyName",
    "threatName",
    "firstEventTime",
    "resolvedTime",
    "machineId",
    "computerDnsName",
    "rbacGroupName",
    "aadTenantId",
    "mitreTechniques",
    "relatedUser",
    "comments",
    "evidence",
];

/// Parses the decoded query pairs of a request, with `$top` at most `max_top`. Parameters
/// without `$` are ignored.
pub(crate) fn parse_query(pairs: &[(String, String)], max_top: u64) -> Result<Query, String> {
    let mut q = Query::default();
    let mut seen: Vec<String> = Vec::new();
    for (key, value) in pairs {
        let lower = key.to_ascii_lowercase();
        if !lower.starts_with('$') {
            continue;
        }
        if seen.contains(&lower) {
            return Err(format!(
                "Query option '{key}' was specified more than once, but it must be specified at most once."
            ));
        }
        seen.push(lower.clone());
        match lower.as_str() {
            "$filter" => q.filter = Some(parse_filter(value)?),
            "$top" => {
                let n = parse_count(key, value)?;
                if n > max_top {
                    return Err(format!(
                        "The limit of '{max_top}' for Top query has been exceeded. The value from the incoming request is '{n}'."
                    ));
                }
                q.top = Some(n);
            }
            "$skip" => q.skip = parse_count(key, value)?,
            "$expand" => {
                for item in value.split(',').map(str::trim) {
                    if item.eq_ignore_ascii_case("evidence") {
                        q.expand_evidence = true;
                    } else {
                        return Err(format!(
                            "Property '{item}' on type 'Alert' is not a navigation property or complex property. Only navigation properties can be expanded."
                        ));
                    }
                }
            }
            // Seen in integrations, not documented for alerts: accepted and ignored, so a client
            // that depends on an order gets the service's own order (docs/alerts-api.md).
            "$orderby" => {}
            _ => {
                return Err(format!(
                    "Query option '{key}' is not allowed. To allow it, set the 'AllowedQueryOptions' property on EnableQueryAttribute or QueryValidationSettings."
                ));
            }
        }
    }
    Ok(q)
}

fn parse_count(key: &str, value: &str) -> Result<u64, String> {
    value.trim().parse::<u64>().map_err(|_| {
        format!("Invalid value '{value}' for {key} query option found. The {key} query option requires a non-negative integer value.")
    })
}

/// How a `$filter` grammar names its properties: the field and type of a property name, or
/// the error for a name it does not filter on.
pub(crate) type Schema = fn(&str) -> Result<(Field, FieldType), String>;

/// Parses a `$filter` expression of `/api/alerts`.
pub(crate) fn parse_filter(text: &str) -> Result<Expr, String> {
    parse_filter_in(text, field_type)
}

/// Parses a `$filter` expression whose property names `schema` knows (the same OData grammar
/// serves Graph's `alerts_v2` with its own names).
pub(crate) fn parse_filter_in(text: &str, schema: Schema) -> Result<Expr, String> {
    let tokens = lex(text)?;
    let mut p = Parser {
        tokens,
        pos: 0,
        schema,
    };
    let e = p.or()?;
    match p.tokens.get(p.pos) {
        None => Ok(e),
        Some(t) => Err(format!(
            "Syntax error at '{}' in $filter '{text}'.",
            t.text()
        )),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Number(i64),
    DateTime(Timestamp),
    Open,
    Close,
}

impl Token {
    fn text(&self) -> String {
        match self {
            Token::Word(w) => w.clone(),
            Token::Str(s) => format!("'{s}'"),
            Token::Number(n) => n.to_string(),
            Token::DateTime(t) => t.to_string(),
            Token::Open => "(".into(),
            Token::Close => ")".into(),
        }
    }
}

fn lex(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' || c == ')' {
            out.push(if c == '(' { Token::Open } else { Token::Close });
            i += 1;
        } else if c == '\'' {
            // OData strings: single quotes, a quote doubled inside.
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(format!("Unterminated string literal in $filter '{text}'."));
                    }
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        s.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(&ch) => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            out.push(Token::Str(s));
        } else if c.is_ascii_digit()
            || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || ":.+-".contains(chars[i]))
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            out.push(literal_token(&word)?);
        } else if c.is_alphabetic() || c == '_' || c == '$' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || "_./$".contains(chars[i])) {
                i += 1;
            }
            out.push(Token::Word(chars[start..i].iter().collect()));
        } else {
            return Err(format!(
                "Syntax error: character '{c}' is not valid at position {i} in $filter '{text}'."
            ));
        }
    }
    Ok(out)
}

/// A number or a DateTimeOffset literal (unquoted, as OData writes them).
fn literal_token(word: &str) -> Result<Token, String> {
    if !word.contains('T') {
        if word.len() == 10 && word.as_bytes()[4] == b'-' {
            return Err(format!(
                "The date literal '{word}' cannot be compared with an Edm.DateTimeOffset property; write a full DateTime like {word}T00:00:00Z."
            ));
        }
        return word
            .parse::<i64>()
            .map(Token::Number)
            .map_err(|_| format!("Syntax error: '{word}' is not a valid literal."));
    }
    let fraction = word.split_once('.').map_or(0, |(_, f)| {
        f.chars().take_while(char::is_ascii_digit).count()
    });
    if fraction > 7 {
        return Err(format!(
            "The DateTimeOffset literal '{word}' has {fraction} fractional digits; at most 7 are allowed."
        ));
    }
    Timestamp::parse(word)
        .map(Token::DateTime)
        .map_err(|_| format!("Unrecognized 'Edm.DateTimeOffset' literal '{word}'."))
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    schema: Schema,
}

impl Parser {
    fn keyword(&mut self, kw: &str) -> bool {
        if let Some(Token::Word(w)) = self.tokens.get(self.pos)
            && w == kw
        {
            self.pos += 1;
            return true;
        }
        false
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut e = self.and()?;
        while self.keyword("or") {
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut e = self.unary()?;
        while self.keyword("and") {
            e = Expr::And(Box::new(e), Box::new(self.unary()?));
        }
        Ok(e)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.keyword("not") {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.tokens.get(self.pos) == Some(&Token::Open) {
            self.pos += 1;
            let e = self.or()?;
            if self.tokens.get(self.pos) != Some(&Token::Close) {
                return Err("Syntax error: ')' expected in $filter.".into());
            }
            self.pos += 1;
            return Ok(e);
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, String> {
        let field = match self.tokens.get(self.pos) {
            Some(Token::Word(w)) => w.clone(),
            Some(t) => {
                return Err(format!(
                    "Syntax error: a property name was expected, found '{}'.",
                    t.text()
                ));
            }
            None => return Err("Syntax error: the $filter expression ended early.".into()),
        };
        self.pos += 1;
        let (f, ty) = (self.schema)(&field)?;
        let op = match self.tokens.get(self.pos) {
            Some(Token::Word(w)) => match w.as_str() {
                "eq" => Op::Eq,
                "ne" => Op::Ne,
                "gt" => Op::Gt,
                "ge" => Op::Ge,
                "lt" => Op::Lt,
                "le" => Op::Le,
                other => {
                    return Err(format!(
                        "Syntax error: unknown operator '{other}' after '{field}'."
                    ));
                }
            },
            _ => {
                return Err(format!(
                    "Syntax error: an operator (eq, ne, gt, ge, lt, le) was expected after '{field}'."
                ));
            }
        };
        self.pos += 1;
        let lit = match self.tokens.get(self.pos) {
            Some(Token::DateTime(t)) => Literal::DateTime(*t),
            Some(Token::Str(s)) => Literal::Str(s.clone()),
            Some(Token::Number(n)) => Literal::Number(*n),
            Some(Token::Word(w)) if w == "null" => Literal::Null,
            Some(t) => {
                return Err(format!(
                    "Syntax error: a literal was expected after '{field}', found '{}'.",
                    t.text()
                ));
            }
            None => {
                return Err(format!(
                    "Syntax error: a literal was expected after '{field}'."
                ));
            }
        };
        self.pos += 1;
        check_types(&field, ty, op, &lit)?;
        Ok(Expr::Cmp(f, op, lit))
    }
}

fn field_type(field: &str) -> Result<(Field, FieldType), String> {
    if let Some((_, f, ty)) = FILTERABLE.iter().find(|(name, _, _)| *name == field) {
        return Ok((*f, *ty));
    }
    if NOT_FILTERABLE.contains(&field) {
        return Err(format!(
            "The property '{field}' cannot be used in the $filter query option."
        ));
    }
    Err(format!(
        "Could not find a property named '{field}' on type 'Alert'."
    ))
}

fn check_types(field: &str, ty: FieldType, op: Op, lit: &Literal) -> Result<(), String> {
    let found = match (ty, lit) {
        (_, Literal::Null) if matches!(op, Op::Eq | Op::Ne) => return Ok(()),
        (FieldType::DateTime, Literal::DateTime(_)) | (FieldType::Number, Literal::Number(_)) => {
            return Ok(());
        }
        (FieldType::Str, Literal::Str(_)) if matches!(op, Op::Eq | Op::Ne) => return Ok(()),
        (FieldType::Str, Literal::Str(_)) => {
            return Err(format!(
                "Only eq and ne are supported on the string property '{field}'."
            ));
        }
        (_, Literal::Null) => "null",
        (_, Literal::DateTime(_)) => "Edm.DateTimeOffset",
        (_, Literal::Str(_)) => "Edm.String",
        (_, Literal::Number(_)) => "Edm.Int64",
    };
    let want = match ty {
        FieldType::DateTime => "Edm.DateTimeOffset",
        FieldType::Str => "Edm.String",
        FieldType::Number => "Edm.Int64",
    };
    let hint = if ty == FieldType::DateTime && found == "Edm.String" {
        " (DateTime literals are not quoted: lastUpdateTime ge 2026-11-22T00:00:00Z)"
    } else {
        ""
    };
    let kind = match op {
        Op::Eq => "Equal",
        Op::Ne => "NotEqual",
        Op::Gt => "GreaterThan",
        Op::Ge => "GreaterThanOrEqual",
        Op::Lt => "LessThan",
        Op::Le => "LessThanOrEqual",
    };
    Err(format!(
        "A binary operator with incompatible types was detected. Found operand types '{want}' and '{found}' for operator kind '{kind}' on '{field}'{hint}."
    ))
}

impl Expr {
    /// Whether `alert` matches. A missing or null property matches only `eq null`.
    pub(crate) fn matches(&self, alert: &impl Record) -> bool {
        match self {
            Expr::And(a, b) => a.matches(alert) && b.matches(alert),
            Expr::Or(a, b) => a.matches(alert) || b.matches(alert),
            Expr::Not(a) => !a.matches(alert),
            Expr::Cmp(field, op, lit) => compare(alert.field(*field), *op, lit),
        }
    }
}

fn compare(value: Scalar, op: Op, lit: &Literal) -> bool {
    let ord = match (value, lit) {
        (Scalar::Null, Literal::Null) => Some(Ordering::Equal),
        (_, Literal::Null) => Some(Ordering::Greater),
        (Scalar::Time(n), Literal::DateTime(t)) => Some(n.cmp(&t.unix_nanos())),
        (Scalar::Str(s), Literal::DateTime(t)) => Timestamp::parse(s).ok().map(|v| v.cmp(t)),
        (Scalar::Str(s), Literal::Str(t)) => Some(s.cmp(t.as_str())),
        (Scalar::Int(n), Literal::Number(t)) => Some(n.cmp(t)),
        (Scalar::Str(s), Literal::Number(t)) => s.parse::<i64>().ok().map(|v| v.cmp(t)),
        _ => None,
    };
    match (ord, lit) {
        // Null compares only for (in)equality.
        (Some(o), Literal::Null) => match op {
            Op::Eq => o == Ordering::Equal,
            Op::Ne => o != Ordering::Equal,
            _ => false,
        },
        (Some(o), _) => match op {
            Op::Eq => o == Ordering::Equal,
            Op::Ne => o != Ordering::Equal,
            Op::Gt => o == Ordering::Greater,
            Op::Ge => o != Ordering::Less,
            Op::Lt => o == Ordering::Less,
            Op::Le => o != Ordering::Greater,
        },
        (None, _) => op == Op::Ne,
    }
}
