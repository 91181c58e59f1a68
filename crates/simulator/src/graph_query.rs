//! The OData query options of Graph `GET /v1.0/security/alerts_v2`: `$filter` (the grammar of
//! [`super::odata`] with Graph's property names), `$top`, `$skip` and `$count`.
//!
//! `$filter` takes `lastUpdateDateTime` and `createdDateTime` (unquoted DateTimeOffset literals,
//! `eq ne gt ge lt le`), the enums `serviceSource`, `severity`, `status`, `classification`,
//! `determination` and `detectionSource` (`eq`/`ne` with a member of the enum, in any case), and
//! `assignedTo` (`eq`/`ne` a string or `null`), joined with `and`, `or`, `not` and parentheses.
//! Filters see every enum member, also those hidden without `Prefer:
//! include-unknown-enum-members`.

use std::cell::OnceCell;

use serde_json::Value;

use super::graph::{self, MDE_SOURCE};
use super::graph_companion::Companion;
use super::odata::{Expr, Field, FieldType, Literal, Record, Scalar, parse_filter_in};

/// The largest `$top` and the page size without it: 2000, the simulator's assumption of the
/// service's cap (the default of [`super::Limits::graph_max_top`]).
pub(crate) const GRAPH_MAX_TOP: u64 = 2000;

/// A parsed query.
#[derive(Debug, Default)]
pub(crate) struct GraphQuery {
    pub(crate) filter: Option<Expr>,
    pub(crate) top: Option<u64>,
    pub(crate) skip: u64,
    pub(crate) count: bool,
}

/// The properties `$filter` takes, by their Graph names.
const FILTERABLE: &[(&str, Field, FieldType)] = &[
    (
        "lastUpdateDateTime",
        Field::LastUpdateTime,
        FieldType::DateTime,
    ),
    (
        "createdDateTime",
        Field::AlertCreationTime,
        FieldType::DateTime,
    ),
    ("serviceSource", Field::ServiceSource, FieldType::Str),
    ("severity", Field::Severity, FieldType::Str),
    ("status", Field::Status, FieldType::Str),
    ("classification", Field::Classification, FieldType::Str),
    ("determination", Field::Determination, FieldType::Str),
    ("detectionSource", Field::DetectionSource, FieldType::Str),
    ("assignedTo", Field::AssignedTo, FieldType::Str),
];

/// Other properties of the alert: they exist, but the simulator does not filter on them.
const NOT_FILTERABLE: &[&str] = &[
    "id",
    "providerAlertId",
    "incidentId",
    "detectorId",
    "tenantId",
    "title",
    "description",
    "recommendedActions",
    "category",
    "alertWebUrl",
    "incidentWebUrl",
    "actorDisplayName",
    "threatDisplayName",
    "threatFamilyName",
    "mitreTechniques",
    "resolvedDateTime",
    "firstActivityDateTime",
    "lastActivityDateTime",
    "productName",
    "comments",
    "systemTags",
    "evidence",
];

const TYPE: &str = "microsoft.graph.security.alert";

fn graph_field(name: &str) -> Result<(Field, FieldType), String> {
    if let Some((_, f, ty)) = FILTERABLE.iter().find(|(n, _, _)| *n == name) {
        return Ok((*f, *ty));
    }
    if NOT_FILTERABLE.contains(&name) {
        return Err(format!(
            "Invalid filter clause: the property '{name}' of '{TYPE}' is not supported in $filter."
        ));
    }
    Err(format!(
        "Could not find a property named '{name}' on type '{TYPE}'."
    ))
}

/// The Graph name of a field `$filter` takes.
fn graph_name(f: Field) -> &'static str {
    FILTERABLE
        .iter()
        .find(|(_, field, _)| *field == f)
        .map_or("", |(name, _, _)| name)
}

/// Parses the decoded query pairs of a request, with `$top` at most `max_top`. Parameters
/// without `$` are ignored.
pub(crate) fn parse(pairs: &[(String, String)], max_top: u64) -> Result<GraphQuery, String> {
    let mut q = GraphQuery::default();
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
            "$filter" => q.filter = Some(filter(value)?),
            "$top" => {
                let n = value.trim().parse::<u64>().ok().filter(|n| *n >= 1);
                match n {
                    Some(n) if n <= max_top => q.top = Some(n),
                    _ => {
                        return Err(format!(
                            "Invalid page size specified: '{value}'. Must be between 1 and {max_top} inclusive."
                        ));
                    }
                }
            }
            "$skip" => {
                q.skip = value.trim().parse::<u64>().map_err(|_| {
                    format!("Invalid value '{value}' for $skip query option found. The $skip query option requires a non-negative integer value.")
                })?;
            }
            "$count" => {
                q.count = match value.trim() {
                    v if v.eq_ignore_ascii_case("true") => true,
                    v if v.eq_ignore_ascii_case("false") => false,
                    _ => {
                        return Err(format!(
                            "'{value}' is not a valid count option: use true or false."
                        ));
                    }
                }
            }
            _ => {
                return Err(format!(
                    "Query option '{key}' is not supported for this request: use $filter, $top, $skip and $count."
                ));
            }
        }
    }
    Ok(q)
}

/// Parses `$filter`, enum literals checked against their enum and spelled as it spells them.
pub(crate) fn filter(text: &str) -> Result<Expr, String> {
    let mut e = parse_filter_in(text, graph_field)?;
    canonical_members(&mut e)?;
    Ok(e)
}

fn canonical_members(e: &mut Expr) -> Result<(), String> {
    match e {
        Expr::And(a, b) | Expr::Or(a, b) => {
            canonical_members(a)?;
            canonical_members(b)
        }
        Expr::Not(a) => canonical_members(a),
        Expr::Cmp(f, _, Literal::Str(s)) => {
            let property = graph_name(*f);
            match graph::member(property, s) {
                Ok(Some(m)) => *s = m.to_owned(),
                Ok(None) => {}
                Err(()) => {
                    return Err(format!(
                        "The string '{s}' is not a valid enumeration type constant for property '{property}'."
                    ));
                }
            }
            Ok(())
        }
        Expr::Cmp(..) => Ok(()),
    }
}

/// `$filter`'s view of one Graph alert: an MDE alert version, or the companion riding on it.
/// Times come from what the store keeps and `serviceSource` from the id; anything else from the
/// Graph JSON, made only when a filter reads it.
pub(crate) struct GraphRow<'a> {
    mde: &'a dyn Record,
    companion: Option<Companion>,
    /// The Graph view of the MDE version.
    render: &'a dyn Fn() -> Value,
    json: OnceCell<Value>,
}

impl<'a> GraphRow<'a> {
    pub(crate) fn new(
        mde: &'a dyn Record,
        companion: Option<Companion>,
        render: &'a dyn Fn() -> Value,
    ) -> Self {
        GraphRow {
            mde,
            companion,
            render,
            json: OnceCell::new(),
        }
    }

    fn json(&self) -> &Value {
        self.json.get_or_init(|| {
            let mde = (self.render)();
            match self.companion {
                Some(c) => c.alert(&mde),
                None => mde,
            }
        })
    }
}

impl Record for GraphRow<'_> {
    fn field(&self, f: Field) -> Scalar<'_> {
        match f {
            Field::LastUpdateTime | Field::AlertCreationTime => self.mde.field(f),
            Field::ServiceSource => {
                Scalar::Str(self.companion.map_or(MDE_SOURCE, Companion::service_source))
            }
            f => match self.json().get(graph_name(f)) {
                None | Some(Value::Null) => Scalar::Null,
                Some(Value::String(s)) => Scalar::Str(s),
                Some(_) => Scalar::Other,
            },
        }
    }
}
