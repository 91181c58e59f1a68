//! The alert model of the MDE REST Alerts API (`GET /api/alerts`), as tolerant as the real API
//! requires.
//!
//! Every field is optional and unknown fields are ignored, because fields are null or missing in
//! real responses and new ones appear over time. Where the API's documentation and its real
//! answers disagree (design.md §3) both shapes are accepted: `mitreTechniques` as array or string,
//! `relatedUser` as object or string, `incidentId` as number or string. Strings borrow from the
//! input when they hold no JSON escapes and are owned when they do.

mod text;

pub use siemfwd_time::{Timestamp, TimestampError};
pub use text::{RelatedUser, Str, StrList};

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor, value::MapAccessDeserializer};

/// One alert, borrowing its strings from the JSON text it was parsed from where it can.
#[derive(Debug, Default, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct Alert<'a> {
    #[serde(borrow, default)]
    pub id: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub incident_id: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub investigation_id: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub assigned_to: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub severity: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub status: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub classification: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub determination: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub investigation_state: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub detection_source: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub detector_id: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub category: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub threat_family_name: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub threat_name: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub title: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub description: Option<Str<'a>>,
    #[serde(default)]
    pub alert_creation_time: Option<Timestamp>,
    #[serde(default)]
    pub first_event_time: Option<Timestamp>,
    #[serde(default)]
    pub last_event_time: Option<Timestamp>,
    #[serde(default)]
    pub last_update_time: Option<Timestamp>,
    #[serde(default)]
    pub resolved_time: Option<Timestamp>,
    #[serde(borrow, default)]
    pub machine_id: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub computer_dns_name: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub rbac_group_name: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub aad_tenant_id: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub mitre_techniques: Option<StrList<'a>>,
    #[serde(borrow, default)]
    pub related_user: Option<RelatedUser<'a>>,
    #[serde(borrow, default)]
    pub comments: Option<Vec<Comment<'a>>>,
    #[serde(borrow, default)]
    pub evidence: Option<Vec<Evidence<'a>>>,
    /// Set when the object has a `value` array: it is an API page, not an alert. Lets a reader
    /// parse a line once as an alert and only re-read the rare page.
    #[serde(default, rename = "value")]
    pub(crate) page_marker: Option<text::ArrayMarker>,
}

/// A comment on an alert.
#[derive(Debug, Default, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct Comment<'a> {
    #[serde(borrow, default)]
    pub comment: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub created_by: Option<Str<'a>>,
    #[serde(default)]
    pub created_time: Option<Timestamp>,
}

/// One evidence item (`$expand=evidence`). Which fields are set depends on `entityType`.
#[derive(Debug, Default, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct Evidence<'a> {
    #[serde(borrow, default)]
    pub entity_type: Option<Str<'a>>,
    #[serde(default)]
    pub evidence_creation_time: Option<Timestamp>,
    #[serde(borrow, default)]
    pub sha1: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub sha256: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub file_name: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub file_path: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub process_id: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub process_command_line: Option<Str<'a>>,
    #[serde(default)]
    pub process_creation_time: Option<Timestamp>,
    #[serde(borrow, default)]
    pub parent_process_id: Option<Str<'a>>,
    #[serde(default)]
    pub parent_process_creation_time: Option<Timestamp>,
    #[serde(borrow, default)]
    pub parent_process_file_name: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub parent_process_file_path: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub ip_address: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub url: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub registry_key: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub registry_hive: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub registry_value_type: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub registry_value: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub account_name: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub domain_name: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub user_sid: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub aad_user_id: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub user_principal_name: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub detection_status: Option<Str<'a>>,
}

/// Implements `Deserialize` for a struct whose derive is `remote = "Self"`, accepting only a
/// JSON object. serde's derive also takes a sequence for a struct (fields by position), so
/// `["forged-id", 123]` read as an alert with id `forged-id`: an array is not an alert.
macro_rules! object_only {
    ($ty:ident, $what:literal) => {
        impl<'de: 'a, 'a> Deserialize<'de> for $ty<'a> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct ObjectVisitor;
                impl<'de> Visitor<'de> for ObjectVisitor {
                    type Value = $ty<'de>;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<$ty<'de>, A::Error> {
                        $ty::deserialize(MapAccessDeserializer::new(map))
                    }
                }
                d.deserialize_map(ObjectVisitor)
            }
        }
    };
}

object_only!(Alert, "an alert object");
object_only!(Comment, "a comment object");
object_only!(Evidence, "an evidence object");

impl<'a> Alert<'a> {
    /// Parses one alert from JSON text.
    pub fn from_json(text: &'a str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The alert id, if it has one.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The evidence items, empty when the field was missing or null.
    pub fn evidence(&self) -> &[Evidence<'a>] {
        self.evidence.as_deref().unwrap_or(&[])
    }

    /// The first evidence item whose `entityType` is one of `types` (case-insensitive).
    pub fn first_evidence(&self, types: &[impl AsRef<str>]) -> Option<&Evidence<'a>> {
        self.evidence().iter().find(|e| {
            e.entity_type.as_deref().is_some_and(|t| {
                types
                    .iter()
                    .any(|want| want.as_ref().eq_ignore_ascii_case(t))
            })
        })
    }

    pub(crate) fn is_page(&self) -> bool {
        self.page_marker.as_ref().is_some_and(|m| m.0)
    }
}

#[cfg(test)]
mod tests;
