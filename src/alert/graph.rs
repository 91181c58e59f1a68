//! A Microsoft Graph `alerts_v2` alert read into the MDE model (design §10's mapping contract).
//!
//! Graph's names for MDE's values are serde aliases on the model. What an alias cannot do is
//! done here, once the alert is read: the enums get their MDE spellings, evidence gets its MDE
//! `entityType` from `@odata.type` and its nested members (`fileDetails`, `imageFile`,
//! `userAccount`, ...) flattened, and the alert gets what MDE puts on the alert itself: the
//! device (`computerDnsName`, `machineId`, `rbacGroupName`) from its first device evidence and
//! `relatedUser` from its first user evidence, else from its first process's account.
//!
//! An object is taken for a Graph alert by its marks: `@odata.type` naming a Graph type, or
//! `serviceSource` or `providerAlertId`, which `/api/alerts` never sends. An MDE alert is left
//! as read.

use serde::Deserialize;

use super::graph_spelling;
use super::{Alert, Evidence, RelatedUser, Str};

/// `fileDetails`, `imageFile` and `parentProcessImageFile` of Graph's file and process
/// evidence.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FileDetails<'a> {
    #[serde(borrow, default)]
    pub(super) file_name: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub(super) file_path: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub(super) sha1: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub(super) sha256: Option<Str<'a>>,
}

/// `userAccount` of Graph's user, process and mailbox evidence.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserAccount<'a> {
    #[serde(borrow, default)]
    pub(super) account_name: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub(super) domain_name: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub(super) user_sid: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub(super) azure_ad_user_id: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub(super) user_principal_name: Option<Str<'a>>,
}

/// The prefix of Graph's type names.
const GRAPH_TYPE: &str = "#microsoft.graph.";

impl<'a> Alert<'a> {
    /// True when the object was read from Graph's shape (see the module's doc).
    pub fn is_graph(&self) -> bool {
        self.service_source.is_some()
            || self.provider_alert_id.is_some()
            || self
                .odata_type
                .as_deref()
                .is_some_and(|t| t.starts_with(GRAPH_TYPE))
    }

    /// Gives a Graph alert the MDE model's spellings and places; an MDE alert is returned as
    /// it is.
    pub(crate) fn normalize_graph(mut self) -> Self {
        self.normalize_graph_in_place();
        self
    }

    /// [`Self::normalize_graph`] where the alert lies (an alert is ~1 KB: moving it costs).
    pub(crate) fn normalize_graph_in_place(&mut self) {
        let graph = self.is_graph();
        // Evidence is flattened whatever the alert: Graph evidence pasted into an MDE-shaped
        // alert still reads as evidence.
        for e in self.evidence.iter_mut().flatten() {
            e.normalize_graph();
        }
        if !graph {
            return;
        }
        self.severity = self.severity.take().map(graph_spelling::severity);
        self.status = self.status.take().map(graph_spelling::status);
        self.classification = self
            .classification
            .take()
            .and_then(graph_spelling::classification);
        self.determination = self
            .determination
            .take()
            .and_then(graph_spelling::determination);
        self.detection_source = self
            .detection_source
            .take()
            .map(graph_spelling::detection_source);
        let evidence = self.evidence.as_deref().unwrap_or(&[]);
        let device = evidence.iter().find(|e| e.is_type("Device"));
        if let Some(device) = device {
            fill(&mut self.computer_dns_name, &device.device_dns_name);
            fill(&mut self.machine_id, &device.mde_device_id);
            fill(&mut self.rbac_group_name, &device.rbac_group_name);
        }
        if self.related_user.is_none() {
            let user = evidence
                .iter()
                .find(|e| e.is_type("User") && e.account_name.is_some())
                .or_else(|| {
                    evidence
                        .iter()
                        .find(|e| e.is_type("Process") && e.account_name.is_some())
                });
            self.related_user = user.map(|u| RelatedUser {
                user_name: u.account_name.clone(),
                domain_name: u.domain_name.clone(),
            });
        }
    }
}

impl Evidence<'_> {
    fn is_type(&self, entity_type: &str) -> bool {
        self.entity_type.as_deref() == Some(entity_type)
    }

    /// `@odata.type` to `entityType`, and the nested members into the flat fields (a flat
    /// field already set wins).
    fn normalize_graph(&mut self) {
        let Some(odata_type) = self.odata_type.take() else {
            return;
        };
        if self.entity_type.is_none() {
            self.entity_type = Some(entity_type(odata_type));
        }
        let file = self.file_details.take().or_else(|| self.image_file.take());
        if let Some(f) = file {
            put(&mut self.file_name, f.file_name);
            put(&mut self.file_path, f.file_path);
            put(&mut self.sha1, f.sha1);
            put(&mut self.sha256, f.sha256);
        }
        if let Some(parent) = self.parent_process_image_file.take() {
            put(&mut self.parent_process_file_name, parent.file_name);
            put(&mut self.parent_process_file_path, parent.file_path);
        }
        if let Some(account) = self.user_account.take() {
            put(&mut self.account_name, account.account_name);
            put(&mut self.domain_name, account.domain_name);
            put(&mut self.user_sid, account.user_sid);
            put(&mut self.aad_user_id, account.azure_ad_user_id);
            put(&mut self.user_principal_name, account.user_principal_name);
        }
        self.detection_status = self
            .detection_status
            .take()
            .map(graph_spelling::detection_status);
    }
}

/// MDE's `entityType` for a Graph evidence type: `#microsoft.graph.security.fileEvidence` is
/// `File`, both registry types are `Registry`, and a type neither API documents keeps its name
/// (`#microsoft.graph.security.mailboxEvidence` is `Mailbox`).
fn entity_type(odata_type: Str<'_>) -> Str<'_> {
    let name = odata_type.rsplit('.').next().unwrap_or("");
    let name = name.strip_suffix("Evidence").unwrap_or(name);
    let known = match name {
        "file" => "File",
        "process" => "Process",
        "user" => "User",
        "ip" => "Ip",
        "url" => "Url",
        "registryKey" | "registryValue" => "Registry",
        "device" => "Device",
        _ => "",
    };
    if !known.is_empty() {
        return Str::from(known);
    }
    if name.is_empty() {
        return odata_type;
    }
    graph_spelling::pascal(Str(std::borrow::Cow::Owned(name.to_owned())))
}

fn put<'a>(field: &mut Option<Str<'a>>, value: Option<Str<'a>>) {
    if field.is_none() {
        *field = value;
    }
}

fn fill<'a>(field: &mut Option<Str<'a>>, value: &Option<Str<'a>>) {
    if field.is_none() {
        field.clone_from(value);
    }
}
