//! What `$filter` reads of each alert version, kept apart from its JSON: 48 bytes a version.
//!
//! Times and numbers are `i64` (`i64::MIN` for null), strings are symbols of the tenant's small
//! table. A version whose values do not fit that (a number where a string belongs, ...) keeps
//! them all in full on the side; generated alerts never need it, but updates read back from JSON
//! could.

use super::doc::V;
use super::ids::FastMap;
use super::odata::{Field, Scalar};
use siemfwd_time::Timestamp;

/// A `$filter`able value in full.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Slot {
    Null,
    Int(i64),
    Sym(u32),
    Time(i64),
    Other,
}

const NULL: i64 = i64::MIN;

/// The filterable values of a generated alert.
pub(crate) type Fields<'a> = [(&'static str, V<'a>); 10];

/// The compact form; `odd` > 0 says the values are in `Metas::odd[odd - 1]` instead.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Meta {
    created: i64,
    last_event: i64,
    incident: i64,
    investigation: i64,
    /// assignedTo, detectionSource, status, severity, category: symbol + 1, or 0 for null.
    strs: [u16; 5],
    odd: u32,
}

const STR_FIELDS: [Field; 5] = [
    Field::AssignedTo,
    Field::DetectionSource,
    Field::Status,
    Field::Severity,
    Field::Category,
];

/// The strings and odd values of one tenant's versions.
#[derive(Debug, Default)]
pub(crate) struct Metas {
    syms: Vec<Box<str>>,
    sym_index: FastMap<Box<str>, u32>,
    odd: Vec<[Slot; 11]>,
}

/// A generated or read-back timestamp value.
pub(crate) fn timestamp(v: &V) -> Option<Timestamp> {
    match v {
        V::Time(nanos, digits) => Some(Timestamp::from_unix_nanos(
            super::doc::truncate(*nanos, *digits),
            *digits,
        )),
        V::Str(s) => Timestamp::parse(s).ok(),
        _ => None,
    }
}

impl Metas {
    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.sym_index.get(s) {
            return i;
        }
        let i = self.syms.len() as u32;
        self.syms.push(s.into());
        self.sym_index.insert(s.into(), i);
        i
    }

    /// What `$filter` needs of an alert's `fields` (all of them, or just the filterable ones),
    /// whose `lastUpdateTime` was read as `last_update`.
    pub(crate) fn add<'a>(
        &mut self,
        fields: impl IntoIterator<Item = (&'a str, &'a V<'a>)>,
        last_update: i64,
    ) -> Meta {
        let mut slots = [Slot::Null; 11];
        for (key, v) in fields {
            let (field, time) = match key {
                "alertCreationTime" => (Field::AlertCreationTime, true),
                "lastUpdateTime" => (Field::LastUpdateTime, true),
                "lastEventTime" => (Field::LastEventTime, true),
                "incidentId" => (Field::IncidentId, false),
                "investigationId" => (Field::InvestigationId, false),
                "assignedTo" => (Field::AssignedTo, false),
                "detectionSource" => (Field::DetectionSource, false),
                "status" => (Field::Status, false),
                "severity" => (Field::Severity, false),
                "category" => (Field::Category, false),
                _ => continue,
            };
            slots[field as usize] = match (v, time.then(|| timestamp(v)).flatten()) {
                (_, Some(t)) => Slot::Time(t.unix_nanos()),
                (V::Null, _) => Slot::Null,
                (V::Int(n), _) => Slot::Int(*n),
                (V::Str(s), _) => Slot::Sym(self.intern(s)),
                // A timestamp where a string is compared: compare its text.
                (V::Time(..), _) => match timestamp(v) {
                    Some(t) => Slot::Sym(self.intern(&t.to_string())),
                    None => Slot::Other,
                },
                _ => Slot::Other,
            };
        }
        self.compact(&slots, last_update).unwrap_or_else(|| {
            self.odd.push(slots);
            Meta {
                created: NULL,
                last_event: NULL,
                incident: NULL,
                investigation: NULL,
                strs: [0; 5],
                odd: self.odd.len() as u32,
            }
        })
    }

    fn compact(&self, slots: &[Slot; 11], last_update: i64) -> Option<Meta> {
        let time = |f: Field| match slots[f as usize] {
            Slot::Null => Some(NULL),
            Slot::Time(t) if t != NULL => Some(t),
            _ => None,
        };
        let int = |f: Field| match slots[f as usize] {
            Slot::Null => Some(NULL),
            Slot::Int(n) if n != NULL => Some(n),
            _ => None,
        };
        let sym = |f: Field| match slots[f as usize] {
            Slot::Null => Some(0),
            Slot::Sym(s) => u16::try_from(s + 1).ok(),
            _ => None,
        };
        if slots[Field::LastUpdateTime as usize] != Slot::Time(last_update) {
            return None;
        }
        let mut strs = [0; 5];
        for (slot, f) in strs.iter_mut().zip(STR_FIELDS) {
            *slot = sym(f)?;
        }
        Some(Meta {
            created: time(Field::AlertCreationTime)?,
            last_event: time(Field::LastEventTime)?,
            incident: int(Field::IncidentId)?,
            investigation: int(Field::InvestigationId)?,
            strs,
            odd: 0,
        })
    }

    /// Field `f` (not `id`) of a version with `meta` and `lastUpdateTime` `last_update`.
    pub(crate) fn field(&self, meta: &Meta, last_update: i64, f: Field) -> Scalar<'_> {
        if meta.odd > 0 {
            // Graph's own fields are not kept: `/api/alerts` does not filter on them.
            let Some(&slot) = self.odd[meta.odd as usize - 1].get(f as usize) else {
                return Scalar::Null;
            };
            return match slot {
                Slot::Null => Scalar::Null,
                Slot::Int(n) => Scalar::Int(n),
                Slot::Sym(s) => Scalar::Str(&self.syms[s as usize]),
                Slot::Time(t) => Scalar::Time(t),
                Slot::Other => Scalar::Other,
            };
        }
        let or_null = |n: i64, some: fn(i64) -> Scalar<'static>| {
            if n == NULL { Scalar::Null } else { some(n) }
        };
        match f {
            Field::LastUpdateTime => Scalar::Time(last_update),
            Field::AlertCreationTime => or_null(meta.created, Scalar::Time),
            Field::LastEventTime => or_null(meta.last_event, Scalar::Time),
            Field::IncidentId => or_null(meta.incident, Scalar::Int),
            Field::InvestigationId => or_null(meta.investigation, Scalar::Int),
            Field::Id | Field::ServiceSource | Field::Classification | Field::Determination => {
                Scalar::Null
            }
            _ => {
                let i = STR_FIELDS.iter().position(|s| *s == f).unwrap_or(0);
                match meta.strs[i] {
                    0 => Scalar::Null,
                    s => Scalar::Str(&self.syms[usize::from(s) - 1]),
                }
            }
        }
    }
}
