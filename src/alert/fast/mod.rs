//! A reader for the alert model that knows its schema: one pass over the JSON text, each member
//! written straight into its field, strings borrowed where they have no escapes.
//!
//! serde's derived reader is correct but general: it builds every field in a temporary first
//! (an `Option<Option<Str>>` for each of an evidence item's 35 members), moves the finished
//! item into its vector and moves it again when the vector grows, and goes through a visitor
//! for every value. On the benchmark corpus that made reading an alert cost twice what
//! serde_json's mere validation of its bytes costs.
//!
//! This is a fast path, not a second parser to trust. It reads what a well-formed alert is made
//! of and gives up (`None`) on anything else: a value of a shape the model does not take, a
//! duplicate member, an escape in a member name, a number that is not a plain whole number, a
//! `value` member (a page?), a string with a raw control character or a bad escape, text cut
//! short. The caller then reads the same text with serde, which decides and reports. So what
//! this accepts, serde accepts and reads the same (`tests.rs` holds both to that on every
//! example and on mutations of them). Members the model does not know are skipped, checked as
//! serde_json checks what it skips.

mod cursor;

pub(crate) use cursor::Cursor;

use super::graph::{FileDetails, UserAccount};
use super::text::ArrayMarker;
use super::{Alert, Comment, Evidence, RelatedUser, Str, StrList, Timestamp};

/// The alert that `text` is, with nothing but whitespace around it.
pub(crate) fn alert_document(text: &str) -> Option<Alert<'_>> {
    let mut c = Cursor::new(text);
    let alert = c.alert()?;
    c.ws();
    (c.pos == text.len()).then_some(alert)
}

/// The alert at the start of `text` (after any whitespace), and the offset just past it.
pub(crate) fn alert_prefix(text: &str) -> Option<(Alert<'_>, usize)> {
    let mut c = Cursor::new(text);
    let alert = c.alert()?;
    Some((alert, c.pos))
}

/// Marks member `bit` of an object as read: `None` when it already was. serde refuses an object
/// that names a member twice (under its name or an alias), and so does this.
#[inline(always)]
fn first_time(seen: &mut u64, bit: u32) -> Option<()> {
    let mask = 1u64 << bit;
    if *seen & mask != 0 {
        return None;
    }
    *seen |= mask;
    Some(())
}

/// `field = value`, the first time member `bit` is seen.
#[inline(always)]
fn put<T>(seen: &mut u64, bit: u32, field: &mut T, value: T) -> Option<()> {
    first_time(seen, bit)?;
    *field = value;
    Some(())
}

/// Reads an object's members into the fields of `$target`, one row per member: its bit (for
/// [`first_time`]), its names (an alias shares the bit, as serde's alias shares the field), the
/// field, and the reader of its value. Members not listed are skipped. `$kind` names the kind
/// of object, for the guess below.
///
/// The member after the last one read is guessed and its name compared with the text where it
/// lies: finding where each name ends and then looking it up was a fifth of reading an alert.
/// The guess is the member that followed that one last time in an object of the same kind (at
/// first the next row: the rows are listed in the order the MDE API writes them), so a page
/// written in another order (Graph's) is guessed right from its second alert on. A wrong guess
/// costs one comparison; the name is then looked up.
macro_rules! members_into {
    ($cursor:expr, $target:expr, $kind:expr, {
        $($bit:literal: $name:literal $(| $alias:literal)* => $field:ident by $read:ident,)*
    }) => {{
        let c: &mut Cursor<'a> = &mut *$cursor;
        let mut seen = 0u64;
        let mut last = cursor::BEFORE_FIRST;
        // The loop of `Cursor::delimited`, written out: as a closure it was not inlined, and
        // the call per member cost more than the guess saved. Text this reader does not take
        // leaves the enclosing reader with `None` (`return`, `?`), as the closure's `None` did.
        c.eat(b'{')?;
        if c.peek()? == b'}' {
            c.pos += 1;
        } else {
            loop {
                if c.peek()? != b'"' {
                    return None;
                }
                let found = match c.member_after($kind, last) {
                    $($bit if c.name_is($name) => $bit,)*
                    _ => {
                        let found = match c.name()? {
                            $($name $(| $alias)* => $bit,)*
                            _ => cursor::NOT_LISTED,
                        };
                        c.learn_member_after($kind, last, found);
                        found
                    }
                };
                c.eat(b':')?;
                match found {
                    $($bit => {
                        last = $bit;
                        put(&mut seen, $bit, &mut $target.$field, c.$read()?)?;
                    })*
                    _ => c.skip()?,
                }
                match c.peek()? {
                    b',' => c.pos += 1,
                    b'}' => {
                        c.pos += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        Some(())
    }};
}

/// The kinds of object whose member order is learned ([`members_into`]).
const ALERT: usize = 0;
const EVIDENCE: usize = 1;
const RELATED_USER: usize = 2;
const COMMENT: usize = 3;
const FILE_DETAILS: usize = 4;
const USER_ACCOUNT: usize = 5;

impl<'a> Cursor<'a> {
    /// An alert at the cursor, read by serde where this path gives up on it; `None` when it is
    /// not an alert (malformed, a page) or the text ends inside it.
    pub(crate) fn alert_or_serde(&mut self) -> Option<Alert<'a>> {
        let start = self.pos;
        if let Some(alert) = self.alert() {
            return Some(alert);
        }
        self.pos = start;
        self.serde_value::<Alert<'a>>()
            .filter(|alert| !alert.is_page())
    }

    /// A value of one of the model's string fields: a string, or a whole number or a boolean
    /// as its JSON text (`incidentId: 4711` reads as `"4711"`); null is none.
    fn str_value(&mut self) -> Option<Option<Str<'a>>> {
        match self.peek()? {
            b'"' => self.string().map(|s| Some(Str(s))),
            b'n' => self.word("null").map(|()| None),
            b't' => self.word("true").map(|()| Some(Str::from("true"))),
            b'f' => self.word("false").map(|()| Some(Str::from("false"))),
            b'0'..=b'9' => self.whole_number().map(|n| Some(Str::from(n))),
            _ => None,
        }
    }

    /// A whole number that fits a `u64` written as serde_json writes it back (no sign, no
    /// leading zero, no fraction or exponent); anything else is left to serde.
    fn whole_number(&mut self) -> Option<&'a str> {
        let bytes = self.text.as_bytes();
        let start = self.pos;
        let digits = bytes[start..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits > 19 || (digits > 1 && bytes[start] == b'0') {
            return None;
        }
        if let Some(b'.' | b'e' | b'E') = bytes.get(start + digits) {
            return None;
        }
        self.pos = start + digits;
        Some(&self.text[start..self.pos])
    }

    fn timestamp(&mut self) -> Option<Option<Timestamp>> {
        self.or_null(|c| match c.peek()? {
            b'"' => Timestamp::parse(&c.string()?).ok(),
            _ => None,
        })
    }

    /// `null` as none, else what `read` makes of the value.
    #[inline]
    fn or_null<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.peek()? == b'n' {
            return self.word("null").map(|()| None);
        }
        read(self).map(Some)
    }

    /// `mitreTechniques`: an array (null elements skipped) or one string.
    fn str_list(&mut self) -> Option<Option<StrList<'a>>> {
        self.or_null(|c| match c.peek()? {
            b'[' => {
                let mut items = Vec::with_capacity(4);
                c.elements(|c| {
                    items.extend(c.str_value()?);
                    Some(())
                })?;
                Some(StrList(items))
            }
            b'"' => c.string().map(|s| StrList(vec![Str(s)])),
            _ => None,
        })
    }

    /// `relatedUser`: an object, or a string `DOMAIN\\user`.
    fn related_user(&mut self) -> Option<Option<RelatedUser<'a>>> {
        self.or_null(|c| match c.peek()? {
            b'{' => {
                let mut user = RelatedUser::default();
                members_into!(c, user, RELATED_USER, {
                    0: "userName" => user_name by str_value,
                    1: "domainName" => domain_name by str_value,
                })?;
                Some(user)
            }
            b'"' => c.string().map(RelatedUser::from_text),
            _ => None,
        })
    }

    fn comments(&mut self) -> Option<Option<Vec<Comment<'a>>>> {
        self.or_null(|c| {
            let mut comments = Vec::new();
            c.elements(|c| {
                let mut comment = Comment::default();
                members_into!(c, comment, COMMENT, {
                    0: "comment" => comment by str_value,
                    1: "createdBy" | "createdByDisplayName" => created_by by str_value,
                    2: "createdTime" | "createdDateTime" => created_time by timestamp,
                })?;
                comments.push(comment);
                Some(())
            })?;
            Some(comments)
        })
    }

    fn evidence_list(&mut self) -> Option<Option<Vec<Evidence<'a>>>> {
        self.or_null(|c| {
            // Room for the items a busy alert has: growing moves every item already read.
            let mut items: Vec<Evidence<'a>> = Vec::with_capacity(8);
            c.elements(|c| {
                // Built where it will stay: an item is ~750 bytes, and moving it into the
                // vector was a measurable part of reading an alert.
                items.push(Evidence::default());
                let item = items.last_mut()?;
                c.evidence(item)
            })?;
            Some(items)
        })
    }

    fn evidence(&mut self, e: &mut Evidence<'a>) -> Option<()> {
        members_into!(self, e, EVIDENCE, {
            0: "entityType" => entity_type by str_value,
            1: "evidenceCreationTime" | "createdDateTime" => evidence_creation_time by timestamp,
            2: "sha1" => sha1 by str_value,
            3: "sha256" => sha256 by str_value,
            4: "fileName" => file_name by str_value,
            5: "filePath" => file_path by str_value,
            6: "processId" => process_id by str_value,
            7: "processCommandLine" => process_command_line by str_value,
            8: "processCreationTime" | "processCreationDateTime" => process_creation_time by timestamp,
            9: "parentProcessId" => parent_process_id by str_value,
            10: "parentProcessCreationTime" | "parentProcessCreationDateTime" =>
                parent_process_creation_time by timestamp,
            11: "parentProcessFileName" => parent_process_file_name by str_value,
            12: "parentProcessFilePath" => parent_process_file_path by str_value,
            13: "ipAddress" => ip_address by str_value,
            14: "url" => url by str_value,
            15: "registryKey" => registry_key by str_value,
            16: "registryHive" => registry_hive by str_value,
            17: "registryValueType" => registry_value_type by str_value,
            18: "registryValue" => registry_value by str_value,
            19: "accountName" => account_name by str_value,
            20: "domainName" => domain_name by str_value,
            21: "userSid" => user_sid by str_value,
            22: "aadUserId" | "azureAdUserId" => aad_user_id by str_value,
            23: "userPrincipalName" => user_principal_name by str_value,
            24: "detectionStatus" => detection_status by str_value,
            25: "mdeDeviceId" => mde_device_id by str_value,
            26: "deviceDnsName" => device_dns_name by str_value,
            27: "rbacGroupName" => rbac_group_name by str_value,
            28: "verdict" => verdict by str_value,
            29: "remediationStatus" => remediation_status by str_value,
            30: "@odata.type" => odata_type by str_value,
            31: "fileDetails" => file_details by file_details,
            32: "imageFile" => image_file by file_details,
            33: "parentProcessImageFile" => parent_process_image_file by file_details,
            34: "userAccount" => user_account by user_account,
        })
    }

    /// Graph's `fileDetails`, `imageFile`, `parentProcessImageFile`. serde would also take an
    /// array here (a derived struct reads one by position); that rarity is left to it.
    fn file_details(&mut self) -> Option<Option<Box<FileDetails<'a>>>> {
        self.boxed(|c, f: &mut FileDetails<'a>| {
            members_into!(c, f, FILE_DETAILS, {
                0: "fileName" => file_name by str_value,
                1: "filePath" => file_path by str_value,
                2: "sha1" => sha1 by str_value,
                3: "sha256" => sha256 by str_value,
            })
        })
    }

    /// Graph's `userAccount`.
    fn user_account(&mut self) -> Option<Option<Box<UserAccount<'a>>>> {
        self.boxed(|c, u: &mut UserAccount<'a>| {
            members_into!(c, u, USER_ACCOUNT, {
                0: "accountName" => account_name by str_value,
                1: "domainName" => domain_name by str_value,
                2: "userSid" => user_sid by str_value,
                3: "azureAdUserId" => azure_ad_user_id by str_value,
                4: "userPrincipalName" => user_principal_name by str_value,
            })
        })
    }

    /// One of Graph's nested objects, or null: boxed, as the model holds them.
    fn boxed<T: Default>(
        &mut self,
        read: impl FnOnce(&mut Self, &mut T) -> Option<()>,
    ) -> Option<Option<Box<T>>> {
        self.or_null(|c| {
            let mut object = Box::<T>::default();
            read(c, &mut object)?;
            Some(object)
        })
    }

    /// A `value` member: the object may be a page, which serde's reading tells.
    fn page_marker(&mut self) -> Option<Option<ArrayMarker>> {
        None
    }

    /// An alert object at the cursor, normalised as serde's reading of it is.
    pub(crate) fn alert(&mut self) -> Option<Alert<'a>> {
        let mut a = Alert::default();
        members_into!(self, a, ALERT, {
            0: "id" => id by str_value,
            1: "incidentId" => incident_id by str_value,
            2: "investigationId" => investigation_id by str_value,
            3: "assignedTo" => assigned_to by str_value,
            4: "severity" => severity by str_value,
            5: "status" => status by str_value,
            6: "classification" => classification by str_value,
            7: "determination" => determination by str_value,
            8: "investigationState" => investigation_state by str_value,
            9: "detectionSource" => detection_source by str_value,
            10: "detectorId" => detector_id by str_value,
            11: "category" => category by str_value,
            12: "threatFamilyName" => threat_family_name by str_value,
            13: "title" => title by str_value,
            14: "description" => description by str_value,
            15: "alertCreationTime" | "createdDateTime" => alert_creation_time by timestamp,
            16: "firstEventTime" | "firstActivityDateTime" => first_event_time by timestamp,
            17: "lastEventTime" | "lastActivityDateTime" => last_event_time by timestamp,
            18: "lastUpdateTime" | "lastUpdateDateTime" => last_update_time by timestamp,
            19: "resolvedTime" | "resolvedDateTime" => resolved_time by timestamp,
            20: "machineId" => machine_id by str_value,
            21: "computerDnsName" => computer_dns_name by str_value,
            22: "rbacGroupName" => rbac_group_name by str_value,
            23: "aadTenantId" | "tenantId" => aad_tenant_id by str_value,
            24: "threatName" | "threatDisplayName" => threat_name by str_value,
            25: "mitreTechniques" => mitre_techniques by str_list,
            26: "relatedUser" => related_user by related_user,
            27: "comments" => comments by comments,
            28: "evidence" => evidence by evidence_list,
            29: "serviceSource" => service_source by str_value,
            30: "providerAlertId" => provider_alert_id by str_value,
            31: "alertWebUrl" => alert_web_url by str_value,
            32: "incidentWebUrl" => incident_web_url by str_value,
            33: "@odata.type" => odata_type by str_value,
            34: "value" => page_marker by page_marker,
        })?;
        a.normalize_graph_in_place();
        Some(a)
    }
}

#[cfg(test)]
mod tests;
