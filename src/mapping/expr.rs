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
use std::fmt::Write;

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

/// A `[maps.NAME]` table: exact matches, then `_default`, else the value unchanged.
#[derive(Debug, Clone, Default)]
pub(crate) struct ValueMap {
    /// Few entries (a severity scale): a scan beats hashing.
    pub entries: Vec<(String, String)>,
    pub default: Option<String>,
}

impl Expr {
    /// The value, or `None` when it is missing, null or empty.
    pub(crate) fn eval<'x>(&'x self, s: &Scope<'x, '_>) -> Option<Val<'x>> {
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
                (None, Filter::Map(i)) => Val::Text(Cow::Borrowed(s.maps[*i].default.as_deref()?)),
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

/// Why an expression does not compile. The caller adds file, line and key.
pub(crate) type ParseError = String;

/// The names a mapping's expressions refer to: value maps, and evidence selectors (each
/// distinct `evidence[Types]`, so that the first evidence of each is found once per alert).
#[derive(Debug, Default)]
pub(crate) struct Names {
    pub maps: Vec<String>,
    pub selectors: std::cell::RefCell<Vec<Vec<String>>>,
}

impl Names {
    fn map(&self, name: &str) -> Option<usize> {
        self.maps.iter().position(|m| m == name)
    }

    fn selector(&self, types: Vec<String>) -> usize {
        let mut selectors = self.selectors.borrow_mut();
        selectors
            .iter()
            .position(|s| *s == types)
            .unwrap_or_else(|| {
                selectors.push(types);
                selectors.len() - 1
            })
    }
}

/// Compiles expression text.
pub(crate) fn parse(text: &str, names: &Names) -> Result<Expr, ParseError> {
    let tokens = tokenize(text)?;
    let mut p = Parser {
        tokens,
        at: 0,
        names,
    };
    let e = p.expr()?;
    if let Some(t) = p.tokens.get(p.at) {
        return Err(format!(
            "unexpected {} after a complete expression",
            t.describe()
        ));
    }
    Ok(e)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Lit(String),
    Pipe,
    Plus,
    Open,
    Close,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("`{w}`"),
            Tok::Lit(l) => format!("literal '{l}'"),
            Tok::Pipe => "`|`".into(),
            Tok::Plus => "`+`".into(),
            Tok::Open => "`(`".into(),
            Tok::Close => "`)`".into(),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<Tok>, ParseError> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '|' => {
                chars.next();
                out.push(Tok::Pipe);
            }
            '+' => {
                chars.next();
                out.push(Tok::Plus);
            }
            '(' => {
                chars.next();
                out.push(Tok::Open);
            }
            ')' => {
                chars.next();
                out.push(Tok::Close);
            }
            '\'' => {
                chars.next();
                let mut lit = String::new();
                loop {
                    match chars.next() {
                        None => {
                            return Err(format!(
                                "literal starting at column {} is not closed with '",
                                i + 1
                            ));
                        }
                        Some((_, '\\')) => match chars.next() {
                            Some((_, e @ ('\'' | '\\'))) => lit.push(e),
                            Some((_, 't')) => lit.push('\t'),
                            _ => {
                                return Err(
                                    "in a literal, \\ must be followed by ', \\ or t".into()
                                );
                            }
                        },
                        Some((_, '\'')) => {
                            if chars.peek().map(|&(_, c)| c) == Some('\'') {
                                chars.next();
                                lit.push('\'');
                            } else {
                                break;
                            }
                        }
                        Some((_, c)) => lit.push(c),
                    }
                }
                out.push(Tok::Lit(lit));
            }
            c if c.is_alphanumeric() || matches!(c, '$' | '_' | '.' | '[' | '@') => {
                let mut w = String::new();
                let mut depth = 0;
                while let Some(&(_, c)) = chars.peek() {
                    match c {
                        '[' => depth += 1,
                        ']' if depth > 0 => depth -= 1,
                        c if depth > 0 && (c == ',' || c == ' ' || c.is_alphanumeric()) => {}
                        c if c.is_alphanumeric() || matches!(c, '$' | '_' | '.' | '@') => {}
                        _ => break,
                    }
                    w.push(c);
                    chars.next();
                }
                if depth != 0 {
                    return Err(format!("`{w}`: [ is not closed"));
                }
                out.push(Tok::Word(w));
            }
            other => {
                return Err(format!(
                    "unexpected character `{other}` at column {}",
                    i + 1
                ));
            }
        }
    }
    Ok(out)
}

struct Parser<'m> {
    tokens: Vec<Tok>,
    at: usize,
    names: &'m Names,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    // expr := concat ('else' concat)*
    fn expr(&mut self) -> Result<Expr, ParseError> {
        let mut alts = vec![self.concat()?];
        while self.peek() == Some(&Tok::Word("else".into())) {
            self.at += 1;
            alts.push(self.concat()?);
        }
        Ok(if alts.len() == 1 {
            alts.remove(0)
        } else {
            Expr::Else(alts)
        })
    }

    // concat := filtered ('+' filtered)*
    fn concat(&mut self) -> Result<Expr, ParseError> {
        let mut parts = vec![self.filtered()?];
        while self.peek() == Some(&Tok::Plus) {
            self.at += 1;
            parts.push(self.filtered()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Concat(parts)
        })
    }

    // filtered := atom ('|' filter)*
    fn filtered(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.atom()?;
        while self.peek() == Some(&Tok::Pipe) {
            self.at += 1;
            let f = self.filter()?;
            e = Expr::Filter(Box::new(e), f);
        }
        Ok(e)
    }

    fn atom(&mut self) -> Result<Expr, ParseError> {
        match self.next() {
            Some(Tok::Lit(l)) => Ok(Expr::Literal(l)),
            Some(Tok::Open) => {
                let e = self.expr()?;
                match self.next() {
                    Some(Tok::Close) => Ok(e),
                    _ => Err("`(` is not closed".into()),
                }
            }
            Some(Tok::Word(w)) if w == "else" => Err("`else` needs a value before it".into()),
            Some(Tok::Word(w)) => path(&w, self.names),
            Some(t) => Err(format!("expected a value, found {}", t.describe())),
            None => Err("expected a value, found the end".into()),
        }
    }

    fn filter(&mut self) -> Result<Filter, ParseError> {
        let name = match self.next() {
            Some(Tok::Word(w)) => w,
            Some(t) => {
                return Err(format!(
                    "expected a filter after `|`, found {}",
                    t.describe()
                ));
            }
            None => return Err("expected a filter after `|`".into()),
        };
        let arg = if self.peek() == Some(&Tok::Open) {
            self.at += 1;
            let arg = match self.next() {
                Some(Tok::Lit(l)) => l,
                Some(Tok::Word(w)) => w,
                _ => return Err(format!("`{name}(` needs an argument")),
            };
            if self.next() != Some(Tok::Close) {
                return Err(format!("`{name}(` is not closed"));
            }
            Some(arg)
        } else {
            None
        };
        match (name.as_str(), arg) {
            ("epoch_ms", None) => Ok(Filter::EpochMs),
            ("lower", None) => Ok(Filter::Lower),
            ("upper", None) => Ok(Filter::Upper),
            ("join", Some(sep)) => Ok(Filter::Join(sep)),
            ("join", None) => Ok(Filter::Join(",".into())),
            ("map", Some(table)) => (self.names.map(&table))
                .map(Filter::Map)
                .ok_or_else(|| format!("map({table}): there is no [maps.{table}] table")),
            ("map", None) => Err("map needs a table name: map(severity)".into()),
            (f @ ("epoch_ms" | "lower" | "upper"), Some(_)) => {
                Err(format!("{f} takes no argument"))
            }
            (other, _) => Err(format!(
                "unknown filter `{other}` (known: epoch_ms, join('sep'), map(table), lower, upper)"
            )),
        }
    }
}

macro_rules! alert_fields {
    (str: $($sname:literal => $sfield:ident),* ; time: $($tname:literal => $tfield:ident),*) => {
        fn alert_path(name: &str) -> Option<Path> {
            match name {
                $($sname => Some(Path::Str(|a| a.$sfield.as_ref())),)*
                $($tname => Some(Path::Time(|a| a.$tfield)),)*
                "mitreTechniques" => Some(Path::MitreTechniques),
                "relatedUser.userName" => Some(Path::UserName),
                "relatedUser.domainName" => Some(Path::UserDomain),
                _ => None,
            }
        }
        const ALERT_FIELDS: &[&str] = &[$($sname,)* $($tname,)* "mitreTechniques",
            "relatedUser.userName", "relatedUser.domainName"];
    };
}

alert_fields! {
    str: "id" => id, "incidentId" => incident_id, "investigationId" => investigation_id,
    "assignedTo" => assigned_to, "severity" => severity, "status" => status,
    "classification" => classification, "determination" => determination,
    "investigationState" => investigation_state, "detectionSource" => detection_source,
    "detectorId" => detector_id, "category" => category, "threatFamilyName" => threat_family_name,
    "threatName" => threat_name, "title" => title, "description" => description,
    "machineId" => machine_id, "computerDnsName" => computer_dns_name,
    "rbacGroupName" => rbac_group_name, "aadTenantId" => aad_tenant_id;
    time: "alertCreationTime" => alert_creation_time, "firstEventTime" => first_event_time,
    "lastEventTime" => last_event_time, "lastUpdateTime" => last_update_time,
    "resolvedTime" => resolved_time
}

macro_rules! evidence_fields {
    (str: $($sname:literal => $sfield:ident),* ; time: $($tname:literal => $tfield:ident),*) => {
        fn evidence_path(selector: usize, name: &str) -> Option<Path> {
            match name {
                $($sname => Some(Path::EvidenceStr(selector, |e| e.$sfield.as_ref())),)*
                $($tname => Some(Path::EvidenceTime(selector, |e| e.$tfield)),)*
                _ => None,
            }
        }
        const EVIDENCE_FIELDS: &[&str] = &[$($sname,)* $($tname,)*];
    };
}

evidence_fields! {
    str: "entityType" => entity_type, "sha1" => sha1, "sha256" => sha256,
    "fileName" => file_name, "filePath" => file_path, "processId" => process_id,
    "processCommandLine" => process_command_line, "parentProcessId" => parent_process_id,
    "parentProcessFileName" => parent_process_file_name,
    "parentProcessFilePath" => parent_process_file_path, "ipAddress" => ip_address,
    "url" => url, "registryKey" => registry_key, "registryHive" => registry_hive,
    "registryValueType" => registry_value_type, "registryValue" => registry_value,
    "accountName" => account_name, "domainName" => domain_name, "userSid" => user_sid,
    "aadUserId" => aad_user_id, "userPrincipalName" => user_principal_name,
    "detectionStatus" => detection_status;
    time: "evidenceCreationTime" => evidence_creation_time,
    "processCreationTime" => process_creation_time,
    "parentProcessCreationTime" => parent_process_creation_time
}

fn path(word: &str, names: &Names) -> Result<Expr, ParseError> {
    match word {
        "$tenant.name" => return Ok(Expr::Tenant(TenantField::Name)),
        "$tenant.id" => return Ok(Expr::Tenant(TenantField::Id)),
        w if w.starts_with('$') => {
            return Err(format!(
                "unknown variable `{w}` (known: $tenant.name, $tenant.id)"
            ));
        }
        _ => {}
    }
    if let Some(rest) = word.strip_prefix("evidence[") {
        let (types, field) = rest
            .split_once("].")
            .ok_or_else(|| format!("`{word}`: write evidence[Type,Type].field"))?;
        let types: Vec<String> = types
            .split(',')
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        if types.is_empty() {
            return Err(format!(
                "`{word}`: name at least one entityType, e.g. evidence[File].sha1"
            ));
        }
        if !EVIDENCE_FIELDS.contains(&field) {
            return Err(format!(
                "unknown evidence field `{field}` (known: {})",
                EVIDENCE_FIELDS.join(", ")
            ));
        }
        let selector = names.selector(types);
        return evidence_path(selector, field)
            .map(Expr::Path)
            .ok_or_else(|| {
                format!(
                    "unknown evidence field `{field}` (known: {})",
                    EVIDENCE_FIELDS.join(", ")
                )
            });
    }
    alert_path(word).map(Expr::Path).ok_or_else(|| {
        let mut msg = format!("unknown alert field `{word}`");
        if let Some(close) = ALERT_FIELDS.iter().find(|f| f.eq_ignore_ascii_case(word)) {
            let _ = write!(msg, " (did you mean `{close}`?)");
        } else {
            let _ = write!(
                msg,
                " (known: {}, evidence[Type].field, $tenant.name, $tenant.id; literals are quoted: 'text')",
                ALERT_FIELDS.join(", ")
            );
        }
        msg
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval_text(expr: &str, alert_json: &str) -> Option<String> {
        let maps = vec![ValueMap {
            entries: vec![("High".to_owned(), "8".to_owned())],
            default: Some("0".into()),
        }];
        let names = Names {
            maps: vec!["severity".into()],
            ..Names::default()
        };
        let e = parse(expr, &names).unwrap();
        let alert = Alert::from_json(alert_json).unwrap();
        let evidence: Vec<_> = names
            .selectors
            .borrow()
            .iter()
            .map(|t| alert.first_evidence(t))
            .collect();
        let scope = Scope {
            alert: &alert,
            evidence: &evidence,
            tenant_name: "contoso",
            tenant_id: "tid",
            maps: &maps,
        };
        e.eval(&scope).map(|v| v.into_text().into_owned())
    }

    #[test]
    fn paths_literals_filters_and_fallbacks() {
        let a = r#"{"id":"x1","title":"T","severity":"High","detectorId":null,"category":"Malware",
            "lastUpdateTime":"2026-11-22T10:15:57.7229Z","mitreTechniques":["T1","T2"],
            "relatedUser":{"userName":"u","domainName":"D"},
            "evidence":[{"entityType":"User"},{"entityType":"Process","sha1":"abc"}]}"#;
        assert_eq!(eval_text("title", a).as_deref(), Some("T"));
        assert_eq!(
            eval_text("'it''s \\\\ \\'q\\''", a).as_deref(),
            Some("it's \\ 'q'")
        );
        assert_eq!(
            eval_text("detectorId else category", a).as_deref(),
            Some("Malware")
        );
        assert_eq!(
            eval_text("lastUpdateTime | epoch_ms", a).as_deref(),
            Some("1795342557722")
        );
        assert_eq!(
            eval_text("lastUpdateTime", a).as_deref(),
            Some("2026-11-22T10:15:57.7229Z")
        );
        assert_eq!(
            eval_text("mitreTechniques | join('; ')", a).as_deref(),
            Some("T1; T2")
        );
        assert_eq!(eval_text("mitreTechniques", a).as_deref(), Some("T1,T2"));
        assert_eq!(
            eval_text("severity | map(severity)", a).as_deref(),
            Some("8")
        );
        assert_eq!(eval_text("status | map(severity)", a).as_deref(), Some("0"));
        assert_eq!(
            eval_text("relatedUser.domainName | lower", a).as_deref(),
            Some("d")
        );
        assert_eq!(
            eval_text("evidence[File,Process].sha1", a).as_deref(),
            Some("abc")
        );
        assert_eq!(eval_text("evidence[Ip].ipAddress", a), None);
        assert_eq!(
            eval_text("'https://x/' + id", a).as_deref(),
            Some("https://x/x1")
        );
        assert_eq!(eval_text("'https://x/' + machineId", a), None);
        assert_eq!(
            eval_text("aadTenantId else $tenant.id", a).as_deref(),
            Some("tid")
        );
        assert_eq!(eval_text("$tenant.name", a).as_deref(), Some("contoso"));
        assert_eq!(
            eval_text("(machineId else 'none') | upper", a).as_deref(),
            Some("NONE")
        );
    }

    #[test]
    fn empty_strings_count_as_missing() {
        assert_eq!(
            eval_text("title else 'fallback'", r#"{"title":""}"#).as_deref(),
            Some("fallback")
        );
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let names = Names::default();
        let err = |s: &str| parse(s, &names).unwrap_err();
        assert!(err("titel").contains("unknown alert field `titel`"));
        assert!(err("Title").contains("did you mean `title`"));
        assert!(err("evidence[File].sha512").contains("unknown evidence field `sha512`"));
        assert!(err("title | epoch").contains("unknown filter `epoch`"));
        assert!(err("severity | map(sev)").contains("no [maps.sev] table"));
        assert!(err("'open").contains("not closed"));
        assert!(err("title category").contains("unexpected `category`"));
        assert!(err("$tenant.nmae").contains("unknown variable"));
        assert!(err("else title").contains("needs a value before it"));
    }
}
