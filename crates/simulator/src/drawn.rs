//! A generated alert as drawn, before any adversarial change: typed fields, written with fixed
//! pieces of text. Most alerts served are generated again for each page, so this is the hot
//! path; an adversarial alert is turned into an [`Obj`] first ([`Drawn::to_obj`]), and both
//! write the same text for the same alert.

use std::borrow::Cow;
use std::ops::Range;

use super::catalog::Scenario;
use super::doc::{self, Evidence, Obj, V};
use super::generate::{Host, User, World};
use super::meta::Fields;
use super::write::{self, write_int, write_str, write_time};
use siemfwd_time::Timestamp;

/// A timestamp: Unix nanoseconds and the fraction digits it is written with.
pub(crate) type Time = (i64, u8);

pub(crate) struct Comment {
    pub(crate) text: String,
    pub(crate) by: &'static str,
    pub(crate) at: Time,
}

pub(crate) struct Drawn<'w> {
    pub(crate) id: String,
    pub(crate) incident: u64,
    pub(crate) investigation: Option<u64>,
    pub(crate) assigned_to: Option<&'static str>,
    pub(crate) severity: &'static str,
    pub(crate) status: &'static str,
    pub(crate) classification: Option<&'static str>,
    pub(crate) determination: Option<&'static str>,
    pub(crate) investigation_state: &'static str,
    pub(crate) sc: &'static Scenario,
    pub(crate) description: Cow<'static, str>,
    pub(crate) created: Time,
    pub(crate) first_event: Time,
    pub(crate) last_event: Time,
    pub(crate) last_update: Time,
    pub(crate) resolved: Option<Time>,
    pub(crate) world: &'w World,
    pub(crate) host: &'w Host,
    pub(crate) user: &'w User,
    pub(crate) related_user: bool,
    pub(crate) comments: Vec<Comment>,
    pub(crate) evidence: Vec<Evidence<'w>>,
}

/// What an analyst or automation changes on an alert ([`super::generate`]'s `advance`), on a
/// drawn alert or on any alert object.
pub(crate) trait Lifecycle {
    fn set_status(&mut self, s: &'static str);
    fn set_assigned_to(&mut self, s: &'static str);
    fn is_assigned(&self) -> bool;
    fn set_investigation_state(&mut self, s: &'static str);
    fn set_classification(&mut self, s: &'static str);
    fn set_determination(&mut self, s: &'static str);
    fn set_resolved(&mut self, t: Time);
    fn add_comment(&mut self, c: Comment);
}

impl Lifecycle for Drawn<'_> {
    fn set_status(&mut self, s: &'static str) {
        self.status = s;
    }
    fn set_assigned_to(&mut self, s: &'static str) {
        self.assigned_to = Some(s);
    }
    fn is_assigned(&self) -> bool {
        self.assigned_to.is_some()
    }
    fn set_investigation_state(&mut self, s: &'static str) {
        self.investigation_state = s;
    }
    fn set_classification(&mut self, s: &'static str) {
        self.classification = Some(s);
    }
    fn set_determination(&mut self, s: &'static str) {
        self.determination = Some(s);
    }
    fn set_resolved(&mut self, t: Time) {
        self.resolved = Some(t);
    }
    fn add_comment(&mut self, c: Comment) {
        self.comments.push(c);
    }
}

impl Lifecycle for Obj<'_> {
    fn set_status(&mut self, s: &'static str) {
        self.set("status", V::str(s));
    }
    fn set_assigned_to(&mut self, s: &'static str) {
        self.set("assignedTo", V::str(s));
    }
    fn is_assigned(&self) -> bool {
        self.get("assignedTo").is_some_and(|v| !v.is_null())
    }
    fn set_investigation_state(&mut self, s: &'static str) {
        self.set("investigationState", V::str(s));
    }
    fn set_classification(&mut self, s: &'static str) {
        self.set("classification", V::str(s));
    }
    fn set_determination(&mut self, s: &'static str) {
        self.set("determination", V::str(s));
    }
    fn set_resolved(&mut self, t: Time) {
        self.set("resolvedTime", V::Time(t.0, t.1));
    }
    fn add_comment(&mut self, c: Comment) {
        let comment = V::Obj(comment_obj(c.text.into(), c.by, c.at));
        match self.get_mut("comments") {
            Some(V::List(list)) => list.push(comment),
            _ => self.set("comments", V::List(vec![comment])),
        }
    }
}

fn comment_obj<'a>(text: Cow<'a, str>, by: &'static str, at: Time) -> Obj<'a> {
    let mut o = Obj::with_capacity(3);
    o.push("comment", V::Str(text));
    o.push("createdBy", V::str(by));
    o.push("createdTime", V::Time(at.0, at.1));
    o
}

fn opt(s: Option<&str>) -> V<'_> {
    s.map_or(V::Null, V::str)
}

fn time<'a>(t: Time) -> V<'a> {
    V::Time(t.0, t.1)
}

/// A string this code made of letters, digits, `-`, `_` and `.` (ids, names, GUIDs): no escapes.
fn plain(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

fn opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => write_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

impl<'w> Drawn<'w> {
    /// The same alert as an object, keys in the API's order.
    pub(crate) fn to_obj(&self) -> Obj<'w> {
        let (world, host, user, sc) = (self.world, self.host, self.user, self.sc);
        let mut a = Obj::with_capacity(34);
        a.push("id", V::owned(self.id.clone()));
        a.push("incidentId", V::Int(self.incident as i64));
        let investigation = self.investigation.map_or(V::Null, |n| V::Int(n as i64));
        a.push("investigationId", investigation);
        a.push("assignedTo", opt(self.assigned_to));
        a.push("severity", V::str(self.severity));
        a.push("status", V::str(self.status));
        a.push("classification", opt(self.classification));
        a.push("determination", opt(self.determination));
        a.push("investigationState", V::str(self.investigation_state));
        a.push("detectionSource", V::str(sc.source));
        a.push("detectorId", V::str(sc.detector));
        a.push("category", V::str(sc.category));
        a.push("threatFamilyName", opt(sc.threat.map(|t| t.0)));
        a.push("title", V::str(sc.title));
        a.push("description", V::Str(self.description.clone()));
        a.push("alertCreationTime", time(self.created));
        a.push("firstEventTime", time(self.first_event));
        a.push("lastEventTime", time(self.last_event));
        a.push("lastUpdateTime", time(self.last_update));
        a.push("resolvedTime", self.resolved.map_or(V::Null, time));
        a.push("machineId", V::str(&host.machine_id));
        a.push("computerDnsName", V::str(&host.name));
        a.push("rbacGroupName", V::str(host.rbac));
        a.push("aadTenantId", V::str(&world.tenant_id));
        a.push("threatName", opt(sc.threat.map(|t| t.1)));
        a.push("mitreTechniques", V::Strs(sc.mitre));
        let related = if self.related_user {
            let mut u = Obj::with_capacity(2);
            u.push("userName", V::str(user.name));
            u.push("domainName", V::str(&world.netbios));
            V::Obj(u)
        } else {
            V::Null
        };
        a.push("relatedUser", related);
        let mut logged_on = Obj::with_capacity(2);
        logged_on.push("accountName", V::str(user.name));
        logged_on.push("domainName", V::str(&world.netbios));
        a.push("loggedOnUsers", V::List(vec![V::Obj(logged_on)]));
        let comments = self.comments.iter();
        let comments = comments.map(|c| V::Obj(comment_obj(c.text.clone().into(), c.by, c.at)));
        a.push("comments", V::List(comments.collect()));
        a.push("evidence", V::Evidences(self.evidence.clone()));
        a
    }

    /// Writes the alert as [`write::write_alert`] writes [`Drawn::to_obj`]; returns where its
    /// `evidence` value is.
    // why: one straight run of the alert's fields in the API's order, to be read side by side
    // with `write::write_alert`; cut in pieces, that order would be harder to check.
    #[allow(clippy::too_many_lines)]
    pub(crate) fn write(&self, out: &mut Vec<u8>, expand: bool) -> Range<usize> {
        let (world, host, user, sc) = (self.world, self.host, self.user, self.sc);
        out.reserve(8192);
        out.extend_from_slice(b"{\"id\":");
        plain(out, &self.id);
        out.extend_from_slice(b",\"incidentId\":");
        write_int(out, self.incident as i64);
        out.extend_from_slice(b",\"investigationId\":");
        match self.investigation {
            Some(n) => write_int(out, n as i64),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"assignedTo\":");
        opt_str(out, self.assigned_to);
        out.extend_from_slice(b",\"severity\":");
        write_str(out, self.severity);
        out.extend_from_slice(b",\"status\":");
        write_str(out, self.status);
        out.extend_from_slice(b",\"classification\":");
        opt_str(out, self.classification);
        out.extend_from_slice(b",\"determination\":");
        opt_str(out, self.determination);
        out.extend_from_slice(b",\"investigationState\":");
        write_str(out, self.investigation_state);
        out.extend_from_slice(b",\"detectionSource\":");
        write_str(out, sc.source);
        out.extend_from_slice(b",\"detectorId\":");
        write_str(out, sc.detector);
        out.extend_from_slice(b",\"category\":");
        write_str(out, sc.category);
        out.extend_from_slice(b",\"threatFamilyName\":");
        opt_str(out, sc.threat.map(|t| t.0));
        out.extend_from_slice(b",\"title\":");
        write_str(out, sc.title);
        out.extend_from_slice(b",\"description\":");
        write_str(out, &self.description);
        out.extend_from_slice(b",\"alertCreationTime\":");
        write_time(out, self.created.0, self.created.1);
        out.extend_from_slice(b",\"firstEventTime\":");
        write_time(out, self.first_event.0, self.first_event.1);
        out.extend_from_slice(b",\"lastEventTime\":");
        write_time(out, self.last_event.0, self.last_event.1);
        out.extend_from_slice(b",\"lastUpdateTime\":");
        write_time(out, self.last_update.0, self.last_update.1);
        out.extend_from_slice(b",\"resolvedTime\":");
        match self.resolved {
            Some((n, d)) => write_time(out, n, d),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"machineId\":");
        plain(out, &host.machine_id);
        out.extend_from_slice(b",\"computerDnsName\":");
        plain(out, &host.name);
        out.extend_from_slice(b",\"rbacGroupName\":");
        write_str(out, host.rbac);
        out.extend_from_slice(b",\"aadTenantId\":");
        plain(out, &world.tenant_id);
        out.extend_from_slice(b",\"threatName\":");
        opt_str(out, sc.threat.map(|t| t.1));
        out.extend_from_slice(b",\"mitreTechniques\":");
        write::write_value(out, &V::Strs(sc.mitre));
        out.extend_from_slice(b",\"relatedUser\":");
        if self.related_user {
            out.extend_from_slice(b"{\"userName\":");
            plain(out, user.name);
            out.extend_from_slice(b",\"domainName\":");
            plain(out, &world.netbios);
            out.push(b'}');
        } else {
            out.extend_from_slice(b"null");
        }
        out.extend_from_slice(b",\"loggedOnUsers\":[{\"accountName\":");
        plain(out, user.name);
        out.extend_from_slice(b",\"domainName\":");
        plain(out, &world.netbios);
        out.extend_from_slice(b"}],\"comments\":[");
        for (i, c) in self.comments.iter().enumerate() {
            out.extend_from_slice(if i == 0 {
                b"{\"comment\":"
            } else {
                b",{\"comment\":"
            });
            write_str(out, &c.text);
            out.extend_from_slice(b",\"createdBy\":");
            write_str(out, c.by);
            out.extend_from_slice(b",\"createdTime\":");
            write_time(out, c.at.0, c.at.1);
            out.push(b'}');
        }
        out.extend_from_slice(b"],\"evidence\":");
        let start = out.len();
        if expand {
            out.push(b'[');
            for (i, e) in self.evidence.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write::write_evidence(out, e);
            }
            out.push(b']');
        } else {
            out.extend_from_slice(b"[]");
        }
        let evidence = start..out.len();
        out.push(b'}');
        evidence
    }

    /// The values `$filter` reads.
    pub(crate) fn fields(&self) -> Fields<'_> {
        let time = |t: Time| V::Time(t.0, t.1);
        [
            ("alertCreationTime", time(self.created)),
            ("lastUpdateTime", time(self.last_update)),
            ("lastEventTime", time(self.last_event)),
            ("incidentId", V::Int(self.incident as i64)),
            (
                "investigationId",
                self.investigation.map_or(V::Null, |n| V::Int(n as i64)),
            ),
            ("assignedTo", opt(self.assigned_to)),
            ("detectionSource", V::str(self.sc.source)),
            ("status", V::str(self.status)),
            ("severity", V::str(self.severity)),
            ("category", V::str(self.sc.category)),
        ]
    }

    pub(crate) fn last_update_time(&self) -> Timestamp {
        let (nanos, digits) = self.last_update;
        Timestamp::from_unix_nanos(doc::truncate(nanos, digits), digits)
    }
}
