//! Compiling expression text into an [`Expr`](super::Expr): tokens, the grammar, and the
//! names of the alert's fields.

use std::fmt::Write;

use super::{Expr, Filter, Path, TenantField};

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
    "rbacGroupName" => rbac_group_name, "aadTenantId" => aad_tenant_id,
    // Graph's own fields, and Graph's names for MDE's (a Graph alert is read into the MDE
    // model: src/alert/graph.rs).
    "serviceSource" => service_source, "providerAlertId" => provider_alert_id,
    "alertWebUrl" => alert_web_url, "incidentWebUrl" => incident_web_url,
    "tenantId" => aad_tenant_id, "threatDisplayName" => threat_name;
    time: "alertCreationTime" => alert_creation_time, "firstEventTime" => first_event_time,
    "lastEventTime" => last_event_time, "lastUpdateTime" => last_update_time,
    "resolvedTime" => resolved_time, "createdDateTime" => alert_creation_time,
    "firstActivityDateTime" => first_event_time, "lastActivityDateTime" => last_event_time,
    "lastUpdateDateTime" => last_update_time, "resolvedDateTime" => resolved_time
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
    "detectionStatus" => detection_status, "mdeDeviceId" => mde_device_id,
    "deviceDnsName" => device_dns_name, "rbacGroupName" => rbac_group_name,
    "verdict" => verdict, "remediationStatus" => remediation_status,
    "azureAdUserId" => aad_user_id;
    time: "evidenceCreationTime" => evidence_creation_time,
    "processCreationTime" => process_creation_time,
    "parentProcessCreationTime" => parent_process_creation_time,
    "createdDateTime" => evidence_creation_time,
    "processCreationDateTime" => process_creation_time,
    "parentProcessCreationDateTime" => parent_process_creation_time
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
