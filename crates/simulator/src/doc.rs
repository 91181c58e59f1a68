//! A light JSON document for generated alerts (written by [`super::write`]).
//!
//! Objects keep their keys in order (static strings, no hashing), text can borrow from the
//! tenant's world or the catalog, and timestamps and hex digits stay numbers until written.

use std::borrow::Cow;

use serde_json::Value;

use super::rng::Rng;
use siemfwd_time::Timestamp;

pub(crate) type Key = Cow<'static, str>;

/// A JSON value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum V<'a> {
    Null,
    Int(i64),
    Str(Cow<'a, str>),
    /// A timestamp string: Unix nanoseconds written with this many fraction digits.
    Time(i64, u8),
    /// An array of static strings (MITRE techniques).
    Strs(&'static [&'static str]),
    List(Vec<V<'a>>),
    Obj(Obj<'a>),
    /// Anything else (floats, booleans, big numbers), written by serde_json.
    Json(Box<Value>),
    /// A generated evidence item (an object with [`EVIDENCE_KEYS`]).
    Evidence(Box<Evidence<'a>>),
    /// An array of generated evidence items.
    Evidences(Vec<Evidence<'a>>),
    /// Lower-case hex digits: `len` draws of a random stream from `state` (`Rng::hex`).
    Hex(u64, u8),
}

impl<'a> V<'a> {
    pub(crate) fn str(s: &'a str) -> Self {
        V::Str(Cow::Borrowed(s))
    }

    pub(crate) fn owned(s: String) -> Self {
        V::Str(Cow::Owned(s))
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            V::Str(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn is_null(&self) -> bool {
        matches!(self, V::Null)
    }

    /// The text of a string value.
    pub(crate) fn text(&self) -> Option<Cow<'_, str>> {
        match self {
            V::Str(s) => Some(Cow::Borrowed(s)),
            V::Hex(state, len) => Some(Cow::Owned(Rng::resume(*state).hex(usize::from(*len)))),
            _ => None,
        }
    }

    /// A value read back from JSON text (updates start from the previous version's text).
    pub(crate) fn from_value(v: Value) -> V<'static> {
        match v {
            Value::Null => V::Null,
            Value::String(s) => V::Str(Cow::Owned(s)),
            Value::Number(n) if n.is_i64() => V::Int(n.as_i64().unwrap_or_default()),
            Value::Array(items) => V::List(items.into_iter().map(V::from_value).collect()),
            Value::Object(m) => V::Obj(Obj(m
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k), V::from_value(v)))
                .collect())),
            other => V::Json(Box::new(other)),
        }
    }
}

/// A JSON object: keys in insertion order, with serde_json's `preserve_order` semantics.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Obj<'a>(pub(crate) Vec<(Key, V<'a>)>);

impl<'a> Obj<'a> {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Obj(Vec::with_capacity(n))
    }

    /// Appends without looking for the key (building an object whose keys are distinct).
    pub(crate) fn push(&mut self, key: &'static str, v: V<'a>) {
        self.0.push((Cow::Borrowed(key), v));
    }

    fn index(&self, key: &str) -> Option<usize> {
        self.0.iter().position(|(k, _)| k == key)
    }

    pub(crate) fn get(&self, key: &str) -> Option<&V<'a>> {
        self.index(key).map(|i| &self.0[i].1)
    }

    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut V<'a>> {
        self.index(key).map(|i| &mut self.0[i].1)
    }

    pub(crate) fn str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(V::as_str)
    }

    /// A timestamp field in Unix nanoseconds, whether generated or read back as text.
    pub(crate) fn time(&self, key: &str) -> Option<i64> {
        match self.get(key)? {
            V::Time(nanos, digits) => Some(truncate(*nanos, *digits)),
            V::Str(s) => Timestamp::parse(s).ok().map(Timestamp::unix_nanos),
            _ => None,
        }
    }

    /// Replaces the value in place, or appends the key (like `Map::insert`).
    pub(crate) fn set(&mut self, key: &'static str, v: V<'a>) {
        match self.index(key) {
            Some(i) => self.0[i].1 = v,
            None => self.push(key, v),
        }
    }

    /// Removes the key; the last entry takes its place (like `Map::remove` with
    /// `preserve_order`, which is `swap_remove`).
    pub(crate) fn remove(&mut self, key: &str) {
        if let Some(i) = self.index(key) {
            self.0.swap_remove(i);
        }
    }
}

/// The fields of an evidence item, in the API's order.
pub(crate) const EVIDENCE_KEYS: [&str; 25] = [
    "entityType",
    "evidenceCreationTime",
    "sha1",
    "sha256",
    "fileName",
    "filePath",
    "processId",
    "processCommandLine",
    "processCreationTime",
    "parentProcessId",
    "parentProcessCreationTime",
    "parentProcessFileName",
    "parentProcessFilePath",
    "ipAddress",
    "url",
    "registryKey",
    "registryHive",
    "registryValueType",
    "registryValue",
    "accountName",
    "domainName",
    "userSid",
    "aadUserId",
    "userPrincipalName",
    "detectionStatus",
];

/// The fields of an evidence item, in the API's order ([`EVIDENCE_KEYS`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ev {
    EntityType,
    EvidenceCreationTime,
    Sha1,
    Sha256,
    FileName,
    FilePath,
    ProcessId,
    ProcessCommandLine,
    ProcessCreationTime,
    ParentProcessId,
    ParentProcessCreationTime,
    ParentProcessFileName,
    ParentProcessFilePath,
    IpAddress,
    Url,
    RegistryKey,
    RegistryHive,
    RegistryValueType,
    RegistryValue,
    AccountName,
    DomainName,
    UserSid,
    AadUserId,
    UserPrincipalName,
    DetectionStatus,
}

/// An evidence item: every field of [`EVIDENCE_KEYS`] present, in order, null unless set. It
/// writes as the object with those keys would.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Evidence<'a>(pub(crate) [V<'a>; 25]);

impl<'a> Evidence<'a> {
    pub(crate) fn new() -> Self {
        Evidence(std::array::from_fn(|_| V::Null))
    }

    pub(crate) fn put(&mut self, field: Ev, v: V<'a>) {
        self.0[field as usize] = v;
    }

    fn index(key: &str) -> Option<usize> {
        EVIDENCE_KEYS.iter().position(|k| *k == key)
    }

    pub(crate) fn get(&self, key: &str) -> Option<&V<'a>> {
        Self::index(key).map(|i| &self.0[i])
    }

    /// Sets one of [`EVIDENCE_KEYS`] (`key` must be one).
    pub(crate) fn set(&mut self, key: &str, v: V<'a>) {
        match Self::index(key) {
            Some(i) => self.0[i] = v,
            None => debug_assert!(false, "{key} is no evidence field"),
        }
    }
}

/// `nanos` as written with `digits` fraction digits (the rest truncated).
pub(crate) fn truncate(nanos: i64, digits: u8) -> i64 {
    let unit = 10i64.pow(9 - u32::from(digits.min(9)));
    nanos - nanos.rem_euclid(unit)
}
