//! The alert model of the MDE REST Alerts API (`GET /api/alerts`), as tolerant as the real API
//! requires.
//!
//! Every field is optional and unknown fields are ignored, because fields are null or missing in
//! real responses and new ones appear over time. Where the API's documentation and its real
//! answers disagree (docs/alerts-api.md) both shapes are accepted: `mitreTechniques` as array or string,
//! `relatedUser` as object or string, `incidentId` as number or string. Strings borrow from the
//! input when they hold no JSON escapes and are owned when they do.
//!
//! The same model reads Microsoft Graph's `alerts_v2` alerts (`graph`): Graph's names for the
//! same values are aliases (`lastUpdateDateTime` is `lastUpdateTime`), and an alert with
//! Graph's marks (`@odata.type`, `serviceSource`, `providerAlertId`) is normalised after it is
//! read: its enums get their MDE spellings ([`graph_spelling`]), its nested evidence is
//! flattened into MDE's evidence fields, and the device and user MDE names on the alert come
//! from its first device and user evidence. A mapping file therefore writes the same record for
//! an MDE alert from either API; Graph's own values (`serviceSource`, `alertWebUrl`, ...) are
//! fields of their own.

pub(crate) mod fast;
mod graph;
pub mod graph_spelling;
mod text;

pub use siemfwd_time::{Timestamp, TimestampError};
pub use text::{RelatedUser, Str, StrList};

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor, value::MapAccessDeserializer};

/// One alert, borrowing its strings from the JSON text it was parsed from where it can.
#[derive(Debug, Default, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct Alert<'a> {
    /// `id`: the alert's id, such as `da637472900382838869_1364969609`; with
    /// `lastUpdateTime` it names one version of the alert.
    #[serde(borrow, default)]
    pub id: Option<Str<'a>>,
    /// `incidentId`: the incident the alert belongs to, a number (`4711`) in real answers.
    #[serde(borrow, default)]
    pub incident_id: Option<Str<'a>>,
    /// `investigationId`: the automated investigation of the alert, a number; null when none
    /// ran.
    #[serde(borrow, default)]
    pub investigation_id: Option<Str<'a>>,
    /// `assignedTo`: who owns the alert, usually a user principal name (`secop@contoso.com`).
    #[serde(borrow, default)]
    pub assigned_to: Option<Str<'a>>,
    /// `severity`: `UnSpecified`, `Informational`, `Low`, `Medium` or `High`.
    #[serde(borrow, default)]
    pub severity: Option<Str<'a>>,
    /// `status`: `Unknown`, `New`, `InProgress` or `Resolved`.
    #[serde(borrow, default)]
    pub status: Option<Str<'a>>,
    /// `classification`: an analyst's verdict: `TruePositive`, `InformationalExpectedActivity`,
    /// `FalsePositive`, or null while unclassified.
    #[serde(borrow, default)]
    pub classification: Option<Str<'a>>,
    /// `determination`: what the true positive was, such as `Malware`, `Apt`, `SecurityTesting`,
    /// `UnwantedSoftware`, `Other`, or `NotAvailable`.
    #[serde(borrow, default)]
    pub determination: Option<Str<'a>>,
    /// `investigationState`: where the automated investigation stands, such as `Running`,
    /// `SuccessfullyRemediated`, `Benign`, `UnsupportedAlertType`.
    #[serde(borrow, default)]
    pub investigation_state: Option<Str<'a>>,
    /// `detectionSource`: which product raised the alert, such as `WindowsDefenderAtp`,
    /// `WindowsDefenderAv`, `CustomDetection`.
    #[serde(borrow, default)]
    pub detection_source: Option<Str<'a>>,
    /// `detectorId`: the id (often a GUID) of the detection rule that fired.
    #[serde(borrow, default)]
    pub detector_id: Option<Str<'a>>,
    /// `category`: the attack stage or kind, such as `Malware`, `Execution`, `CredentialAccess`.
    #[serde(borrow, default)]
    pub category: Option<Str<'a>>,
    /// `threatFamilyName`: the malware family, such as `Mimikatz`; null for most behavioural
    /// alerts.
    #[serde(borrow, default)]
    pub threat_family_name: Option<Str<'a>>,
    /// `threatName`: the antivirus threat name, such as `HackTool:Win32/Mimikatz`; Graph's
    /// `threatDisplayName`.
    #[serde(borrow, default, alias = "threatDisplayName")]
    pub threat_name: Option<Str<'a>>,
    /// `title`: the one-line headline shown in the portal.
    #[serde(borrow, default)]
    pub title: Option<Str<'a>>,
    /// `description`: free text of several sentences, often with line breaks.
    #[serde(borrow, default)]
    pub description: Option<Str<'a>>,
    /// `alertCreationTime`: when MDE created the alert (UTC, ISO 8601); Graph's
    /// `createdDateTime`.
    #[serde(default, alias = "createdDateTime")]
    pub alert_creation_time: Option<Timestamp>,
    /// `firstEventTime`: the earliest activity on the device that the alert covers; Graph's
    /// `firstActivityDateTime`.
    #[serde(default, alias = "firstActivityDateTime")]
    pub first_event_time: Option<Timestamp>,
    /// `lastEventTime`: the latest activity on the device that the alert covers; Graph's
    /// `lastActivityDateTime`.
    #[serde(default, alias = "lastActivityDateTime")]
    pub last_event_time: Option<Timestamp>,
    /// `lastUpdateTime`: when the alert last changed; the poll window filters on it, the
    /// checkpoint's cursor is made of it, and `timestamp = "alert"` sends it. Graph's
    /// `lastUpdateDateTime`.
    #[serde(default, alias = "lastUpdateDateTime")]
    pub last_update_time: Option<Timestamp>,
    /// `resolvedTime`: when the status became `Resolved`; null before that. Graph's
    /// `resolvedDateTime`.
    #[serde(default, alias = "resolvedDateTime")]
    pub resolved_time: Option<Timestamp>,
    /// `machineId`: the device's MDE id, 40 hex digits.
    #[serde(borrow, default)]
    pub machine_id: Option<Str<'a>>,
    /// `computerDnsName`: the device's name, usually its FQDN (`ws-017.contoso.local`).
    #[serde(borrow, default)]
    pub computer_dns_name: Option<Str<'a>>,
    /// `rbacGroupName`: the device group the device is in, as named in the tenant's portal.
    #[serde(borrow, default)]
    pub rbac_group_name: Option<Str<'a>>,
    /// `aadTenantId`: the Entra tenant id (a GUID) the alert belongs to; Graph's `tenantId`.
    #[serde(borrow, default, alias = "tenantId")]
    pub aad_tenant_id: Option<Str<'a>>,
    /// `mitreTechniques`: MITRE ATT&CK technique ids such as `T1059.001`; an array in real
    /// answers, sometimes a single string.
    #[serde(borrow, default)]
    pub mitre_techniques: Option<StrList<'a>>,
    /// `relatedUser`: the user the alert is about, as an object or as `DOMAIN\user`.
    #[serde(borrow, default)]
    pub related_user: Option<RelatedUser<'a>>,
    /// `comments`: analysts' comments, oldest first.
    #[serde(borrow, default)]
    pub comments: Option<Vec<Comment<'a>>>,
    /// `evidence`: the files, processes, users, addresses and registry values involved; only
    /// there when the request had `$expand=evidence`.
    #[serde(borrow, default)]
    pub evidence: Option<Vec<Evidence<'a>>>,
    /// `serviceSource` (Graph only): the product that raised the alert, such as
    /// `microsoftDefenderForEndpoint` or `microsoftDefenderForOffice365`. `/api/alerts` has
    /// none: all its alerts are MDE's.
    #[serde(borrow, default)]
    pub service_source: Option<Str<'a>>,
    /// `providerAlertId` (Graph only): the alert's id in the product that raised it.
    #[serde(borrow, default)]
    pub provider_alert_id: Option<Str<'a>>,
    /// `alertWebUrl` (Graph only): the alert's page in the Defender portal.
    #[serde(borrow, default)]
    pub alert_web_url: Option<Str<'a>>,
    /// `incidentWebUrl` (Graph only): the incident's page in the Defender portal.
    #[serde(borrow, default)]
    pub incident_web_url: Option<Str<'a>>,
    /// `@odata.type`: Graph's type name (`#microsoft.graph.security.alert`), one of the marks
    /// of a Graph alert.
    #[serde(borrow, default, rename = "@odata.type")]
    pub(crate) odata_type: Option<Str<'a>>,
    /// Set when the object has a `value` array: it is an API page, not an alert. Lets a reader
    /// parse a line once as an alert and only re-read the rare page.
    #[serde(default, rename = "value")]
    pub(crate) page_marker: Option<text::ArrayMarker>,
}

/// A comment on an alert.
#[derive(Debug, Default, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct Comment<'a> {
    /// `comment`: the comment's text.
    #[serde(borrow, default)]
    pub comment: Option<Str<'a>>,
    /// `createdBy`: who wrote it, usually a user principal name; Graph's
    /// `createdByDisplayName`.
    #[serde(borrow, default, alias = "createdByDisplayName")]
    pub created_by: Option<Str<'a>>,
    /// `createdTime`: when it was written; Graph's `createdDateTime`.
    #[serde(default, alias = "createdDateTime")]
    pub created_time: Option<Timestamp>,
}

/// One evidence item (`$expand=evidence`). Which fields are set depends on `entityType`.
///
/// A Graph evidence item is read into the same fields: its type from `@odata.type`
/// (`#microsoft.graph.security.fileEvidence` is `File`), and the members of its nested objects
/// (`fileDetails`, `imageFile`, `userAccount`, ...) as MDE names them.
#[derive(Debug, Default, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct Evidence<'a> {
    /// `entityType`: what the item is: `File`, `Process`, `User`, `Ip`, `Url`, `Registry`, ...
    #[serde(borrow, default)]
    pub entity_type: Option<Str<'a>>,
    /// `evidenceCreationTime`: when the item was added to the alert; Graph's `createdDateTime`.
    #[serde(default, alias = "createdDateTime")]
    pub evidence_creation_time: Option<Timestamp>,
    /// `sha1`: the file's SHA-1, 40 hex digits (`File` and `Process`).
    #[serde(borrow, default)]
    pub sha1: Option<Str<'a>>,
    /// `sha256`: the file's SHA-256, 64 hex digits (`File` and `Process`).
    #[serde(borrow, default)]
    pub sha256: Option<Str<'a>>,
    /// `fileName`: the file's name without its folder, such as `powershell.exe`.
    #[serde(borrow, default)]
    pub file_name: Option<Str<'a>>,
    /// `filePath`: the folder the file is in, such as `C:\Windows\System32`.
    #[serde(borrow, default)]
    pub file_path: Option<Str<'a>>,
    /// `processId`: the process id on the device, a number (`Process`).
    #[serde(borrow, default)]
    pub process_id: Option<Str<'a>>,
    /// `processCommandLine`: the process's full command line, quotes and all.
    #[serde(borrow, default)]
    pub process_command_line: Option<Str<'a>>,
    /// `processCreationTime`: when the process started; Graph's `processCreationDateTime`.
    #[serde(default, alias = "processCreationDateTime")]
    pub process_creation_time: Option<Timestamp>,
    /// `parentProcessId`: the process id of the process that started this one.
    #[serde(borrow, default)]
    pub parent_process_id: Option<Str<'a>>,
    /// `parentProcessCreationTime`: when the parent process started; Graph's
    /// `parentProcessCreationDateTime`.
    #[serde(default, alias = "parentProcessCreationDateTime")]
    pub parent_process_creation_time: Option<Timestamp>,
    /// `parentProcessFileName`: the parent's executable name, such as `cmd.exe`.
    #[serde(borrow, default)]
    pub parent_process_file_name: Option<Str<'a>>,
    /// `parentProcessFilePath`: the folder of the parent's executable.
    #[serde(borrow, default)]
    pub parent_process_file_path: Option<Str<'a>>,
    /// `ipAddress`: an IPv4 or IPv6 address (`Ip`).
    #[serde(borrow, default)]
    pub ip_address: Option<Str<'a>>,
    /// `url`: a URL or domain name (`Url`).
    #[serde(borrow, default)]
    pub url: Option<Str<'a>>,
    /// `registryKey`: the key's path below its hive, such as
    /// `SOFTWARE\Microsoft\Windows\CurrentVersion\Run` (`Registry`).
    #[serde(borrow, default)]
    pub registry_key: Option<Str<'a>>,
    /// `registryHive`: the hive, such as `HKEY_LOCAL_MACHINE`.
    #[serde(borrow, default)]
    pub registry_hive: Option<Str<'a>>,
    /// `registryValueType`: the value's type, such as `String` or `Dword`.
    #[serde(borrow, default)]
    pub registry_value_type: Option<Str<'a>>,
    /// `registryValue`: the value's data, as text.
    #[serde(borrow, default)]
    pub registry_value: Option<Str<'a>>,
    /// `accountName`: the user's account name without its domain (`User`).
    #[serde(borrow, default)]
    pub account_name: Option<Str<'a>>,
    /// `domainName`: the user's domain, such as `CONTOSO`.
    #[serde(borrow, default)]
    pub domain_name: Option<Str<'a>>,
    /// `userSid`: the user's Windows security identifier (`S-1-5-21-...`).
    #[serde(borrow, default)]
    pub user_sid: Option<Str<'a>>,
    /// `aadUserId`: the user's Entra object id, a GUID; Graph's `azureAdUserId`.
    #[serde(borrow, default, alias = "azureAdUserId")]
    pub aad_user_id: Option<Str<'a>>,
    /// `userPrincipalName`: the user's sign-in name, such as `jdoe@contoso.com`.
    #[serde(borrow, default)]
    pub user_principal_name: Option<Str<'a>>,
    /// `detectionStatus`: what the sensor did: `Detected`, `Blocked` or `Prevented`.
    #[serde(borrow, default)]
    pub detection_status: Option<Str<'a>>,
    /// `mdeDeviceId` (Graph's device evidence): the device's MDE id, MDE's `machineId`.
    #[serde(borrow, default)]
    pub mde_device_id: Option<Str<'a>>,
    /// `deviceDnsName` (Graph's device evidence): the device's name, MDE's
    /// `computerDnsName`.
    #[serde(borrow, default)]
    pub device_dns_name: Option<Str<'a>>,
    /// `rbacGroupName` (Graph's device evidence): the device group.
    #[serde(borrow, default)]
    pub rbac_group_name: Option<Str<'a>>,
    /// `verdict` (Graph): `malicious`, `suspicious`, `noThreatsFound` or `unknown`.
    #[serde(borrow, default)]
    pub verdict: Option<Str<'a>>,
    /// `remediationStatus` (Graph): such as `remediated`, `prevented`, `blocked`, `none`.
    #[serde(borrow, default)]
    pub remediation_status: Option<Str<'a>>,
    /// Graph's type (`#microsoft.graph.security.fileEvidence`), made `entityType` once read.
    #[serde(borrow, default, rename = "@odata.type")]
    pub(crate) odata_type: Option<Str<'a>>,
    // Graph's nested members, moved into the fields above once read. Boxed: an MDE alert's
    // evidence items never have them, and inline they would double an item's size (~0.5 KB
    // more for each of an alert's items, allocated and dropped on the MDE path too).
    #[serde(borrow, default)]
    pub(crate) file_details: Option<Box<graph::FileDetails<'a>>>,
    #[serde(borrow, default)]
    pub(crate) image_file: Option<Box<graph::FileDetails<'a>>>,
    #[serde(borrow, default)]
    pub(crate) parent_process_image_file: Option<Box<graph::FileDetails<'a>>>,
    #[serde(borrow, default)]
    pub(crate) user_account: Option<Box<graph::UserAccount<'a>>>,
}

/// Implements `Deserialize` for a struct whose derive is `remote = "Self"`, accepting only a
/// JSON object. serde's derive also takes a sequence for a struct (fields by position), so
/// `["forged-id", 123]` read as an alert with id `forged-id`: an array is not an alert.
macro_rules! object_only {
    ($ty:ident, $what:literal) => {
        object_only!($ty, $what, |x| x);
    };
    ($ty:ident, $what:literal, $then:expr) => {
        impl<'de: 'a, 'a> Deserialize<'de> for $ty<'a> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct ObjectVisitor;
                impl<'de> Visitor<'de> for ObjectVisitor {
                    type Value = $ty<'de>;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<$ty<'de>, A::Error> {
                        $ty::deserialize(MapAccessDeserializer::new(map)).map($then)
                    }
                }
                d.deserialize_map(ObjectVisitor)
            }
        }
    };
}

object_only!(Alert, "an alert object", Alert::normalize_graph);
object_only!(Comment, "a comment object");
object_only!(Evidence, "an evidence object");

impl<'a> Alert<'a> {
    /// Parses one alert from JSON text.
    pub fn from_json(text: &'a str) -> Result<Self, serde_json::Error> {
        // The schema's own reader first; serde decides whatever it gives up on.
        match fast::alert_document(text) {
            Some(alert) => Ok(alert),
            None => serde_json::from_str(text),
        }
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
