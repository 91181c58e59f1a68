//! Alerts of other Defender products, which Graph `alerts_v2` lists besides the MDE ones and
//! `/api/alerts` never shows: one rides on about one MDE alert in four, chosen from a hash of
//! the MDE alert's id, so every version of that alert has it.
//!
//! A companion follows right after its MDE alert in Graph's order and has the same
//! `createdDateTime`, `lastUpdateDateTime`, activity times, incident, status and assignee as the
//! MDE version it rides on: it falls into the same time windows, and changes when that one
//! changes. Its id (`fa` and 20 digits of the hash) is stable across versions and never an MDE
//! id. Some carry enum members newer than `unknownFutureValue` (a made-up product,
//! `microsoftDefenderForSomethingNew`, and the determination `aiGeneratedThreat`) and some an
//! evidence type no client knows (`quantumEntanglementEvidence`).

use serde_json::{Map, Value, json};

use super::graph::ALERT_TYPE;
use super::graph_evidence::{evidence_head, user_account};

/// What a product's alerts look like.
struct Product {
    service_source: &'static str,
    detection_source: &'static str,
    name: &'static str,
    detections: &'static [Detection],
    evidence: fn(&Ctx) -> Vec<Value>,
}

struct Detection {
    title: &'static str,
    category: &'static str,
    mitre: &'static [&'static str],
    description: &'static str,
}

const PRODUCTS: &[Product] = &[
    Product {
        service_source: "microsoftDefenderForOffice365",
        detection_source: "microsoftDefenderForOffice365",
        name: "Microsoft Defender for Office 365",
        detections: &[
            Detection {
                title: "Email messages containing malicious URL removed after delivery",
                category: "InitialAccess",
                mitre: &["T1566.002"],
                description: "Emails with a malicious URL that were delivered and later removed by zero-hour auto purge.",
            },
            Detection {
                title: "A potentially malicious URL click was detected",
                category: "InitialAccess",
                mitre: &["T1566.002", "T1204.001"],
                description: "A user clicked a link in an email that Safe Links later identified as malicious.",
            },
        ],
        evidence: office365,
    },
    Product {
        service_source: "microsoftDefenderForIdentity",
        detection_source: "microsoftDefenderForIdentity",
        name: "Microsoft Defender for Identity",
        detections: &[
            Detection {
                title: "Suspected DCSync attack (replication of directory services)",
                category: "CredentialAccess",
                mitre: &["T1003.006"],
                description: "A replication request was sent to a domain controller from a computer that is not a domain controller.",
            },
            Detection {
                title: "Suspected Brute Force attack (Kerberos, NTLM)",
                category: "CredentialAccess",
                mitre: &["T1110.001", "T1110.003"],
                description: "Many authentication failures for one account were seen from one source.",
            },
        ],
        evidence: identity,
    },
    Product {
        service_source: "microsoftDefenderForCloudApps",
        detection_source: "cloudAppSecurity",
        name: "Microsoft Defender for Cloud Apps",
        detections: &[
            Detection {
                title: "Impossible travel activity",
                category: "InitialAccess",
                mitre: &["T1078"],
                description: "The same user signed in from two distant countries within a time shorter than the travel between them.",
            },
            Detection {
                title: "Mass download by a single user",
                category: "Exfiltration",
                mitre: &["T1530"],
                description: "A user downloaded an unusual number of files from SharePoint Online in a single session.",
            },
        ],
        evidence: cloud_apps,
    },
    Product {
        service_source: "azureAdIdentityProtection",
        detection_source: "azureAdIdentityProtection",
        name: "Microsoft Entra ID Protection",
        detections: &[
            Detection {
                title: "Unfamiliar sign-in properties",
                category: "InitialAccess",
                mitre: &["T1078.004"],
                description: "A sign-in with properties not seen recently for this user (location, ASN, browser).",
            },
            Detection {
                title: "Anonymous IP address",
                category: "InitialAccess",
                mitre: &["T1090.003"],
                description: "A sign-in from an anonymous IP address, such as a Tor exit node.",
            },
        ],
        evidence: sign_in,
    },
    Product {
        service_source: "dataLossPrevention",
        detection_source: "microsoftDataLossPrevention",
        name: "Microsoft Purview Data Loss Prevention",
        detections: &[Detection {
            title: "DLP policy (Financial data) matched for a document in SharePoint",
            category: "Exfiltration",
            mitre: &[],
            description: "A document with credit card numbers was shared outside the organization.",
        }],
        evidence: dlp,
    },
    Product {
        service_source: "microsoftDefenderForSomethingNew",
        detection_source: "securityCopilot",
        name: "Microsoft Defender for Something New",
        detections: &[Detection {
            title: "Anomalous agent activity detected",
            category: "Execution",
            mitre: &["T1059"],
            description: "An AI agent performed actions outside its usual pattern.",
        }],
        evidence: something_new,
    },
];

const SEVERITIES: [&str; 4] = ["low", "medium", "high", "informational"];

/// FNV-1a, then SplitMix64's finalizer: well-mixed bits from an id.
fn hash(s: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325_u64;
    for b in s.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    mix(h)
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn guid(h: u64) -> String {
    let (a, b) = (mix(h), mix(h ^ 0x5555));
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

/// The companion of an MDE alert, if it has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Companion(u64);

impl Companion {
    /// The companion of the MDE alert `mde_id` (about one in four have one).
    pub(crate) fn of(mde_id: &str) -> Option<Companion> {
        let h = hash(mde_id);
        (h % 4 == 0).then_some(Companion(h))
    }

    fn product(self) -> &'static Product {
        &PRODUCTS[(self.0 >> 8) as usize % PRODUCTS.len()]
    }

    pub(crate) fn service_source(self) -> &'static str {
        self.product().service_source
    }

    pub(crate) fn id(self) -> String {
        format!("fa{:020}", self.0)
    }

    /// One companion in ten carries a determination newer than `unknownFutureValue`.
    fn newer_determination(self) -> bool {
        (self.0 >> 16) % 10 == 0
    }

    /// The companion as Graph shows it, from the Graph view of the MDE version it rides on.
    pub(crate) fn alert(self, mde: &Value) -> Value {
        let p = self.product();
        let d = &p.detections[(self.0 >> 40) as usize % p.detections.len()];
        let id = self.id();
        let g = |k: &str| mde.get(k).cloned().unwrap_or(Value::Null);
        let tenant = mde.get("tenantId").and_then(Value::as_str).unwrap_or("");
        let determination = if self.newer_determination() {
            json!("aiGeneratedThreat")
        } else {
            g("determination")
        };
        let ctx = Ctx::new(self.0, mde);
        let mut m = Map::new();
        let mut put = |k: &str, v: Value| {
            m.insert(k.to_owned(), v);
        };
        put("@odata.type", json!(ALERT_TYPE));
        put("id", json!(id));
        put("providerAlertId", json!(guid(self.0)));
        put("incidentId", g("incidentId"));
        put("status", g("status"));
        put("severity", json!(SEVERITIES[(self.0 >> 32) as usize % 4]));
        put("classification", g("classification"));
        put("determination", determination);
        put("serviceSource", json!(p.service_source));
        put("detectionSource", json!(p.detection_source));
        put("productName", json!(p.name));
        put("detectorId", json!(guid(hash(d.title))));
        put("tenantId", g("tenantId"));
        put("title", json!(d.title));
        put("description", json!(d.description));
        put(
            "recommendedActions",
            json!(format!(
                "Investigate the activity of {} in the Microsoft Defender portal and confirm it with the user.",
                ctx.name
            )),
        );
        put("category", json!(d.category));
        put("assignedTo", g("assignedTo"));
        put(
            "alertWebUrl",
            json!(format!(
                "https://security.microsoft.com/alerts/{id}?tid={tenant}"
            )),
        );
        put("incidentWebUrl", g("incidentWebUrl"));
        put("actorDisplayName", Value::Null);
        put("threatDisplayName", Value::Null);
        put("threatFamilyName", Value::Null);
        put("mitreTechniques", json!(d.mitre));
        for k in [
            "createdDateTime",
            "lastUpdateDateTime",
            "resolvedDateTime",
            "firstActivityDateTime",
            "lastActivityDateTime",
        ] {
            put(k, g(k));
        }
        put("comments", json!([]));
        put("systemTags", json!([]));
        let mut evidence = (p.evidence)(&ctx);
        // One companion in eight, and every made-up product's, has an evidence type of the
        // future: a client must keep the alert and skip what it does not know.
        if (self.0 >> 24) % 8 == 0 || p.service_source == "microsoftDefenderForSomethingNew" {
            evidence.push(ctx.quantum());
        }
        put("evidence", Value::Array(evidence));
        Value::Object(m)
    }
}

/// What the evidence of a companion is made of: its MDE alert's user, and draws from its hash.
struct Ctx {
    h: u64,
    created: Value,
    name: String,
    account: Value,
    upn: String,
}

impl Ctx {
    fn new(h: u64, mde: &Value) -> Self {
        // The related user of the MDE alert: its first userEvidence (graph::evidence).
        let account = mde
            .get("evidence")
            .and_then(Value::as_array)
            .and_then(|items| {
                items.iter().find(|e| {
                    e.get("@odata.type").and_then(Value::as_str)
                        == Some("#microsoft.graph.security.userEvidence")
                })
            })
            .and_then(|e| e.get("userAccount"))
            .cloned();
        let field = |k: &str| {
            account
                .as_ref()
                .and_then(|a| a.get(k))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let name = field("accountName").unwrap_or_else(|| "svc_mail".to_owned());
        let domain = field("domainName");
        let upn = field("userPrincipalName").unwrap_or_else(|| {
            let suffix = domain.as_deref().unwrap_or("contoso").to_ascii_lowercase();
            format!("{name}@{suffix}.com")
        });
        let account = user_account(
            json!(name),
            domain.map_or(Value::Null, Value::String),
            account
                .as_ref()
                .and_then(|a| a.get("userSid"))
                .cloned()
                .unwrap_or_default(),
            account
                .as_ref()
                .and_then(|a| a.get("azureAdUserId"))
                .cloned()
                .unwrap_or_default(),
            json!(upn),
        );
        Ctx {
            h,
            created: mde.get("createdDateTime").cloned().unwrap_or_default(),
            name,
            account,
            upn,
        }
    }

    fn head(&self, kind: &str) -> Map<String, Value> {
        evidence_head(kind, self.created.clone())
    }

    fn ip(&self) -> String {
        format!("198.51.100.{}", 1 + (self.h >> 48) % 254)
    }

    fn user(&self) -> Value {
        let mut m = self.head("userEvidence");
        m.insert("userAccount".into(), self.account.clone());
        Value::Object(m)
    }

    fn ip_evidence(&self) -> Value {
        let mut m = self.head("ipEvidence");
        m.insert("ipAddress".into(), json!(self.ip()));
        m.insert("countryLetterCode".into(), json!("NL"));
        Value::Object(m)
    }

    fn cloud_app(&self, app_id: u32, name: &str) -> Value {
        let mut m = self.head("cloudApplicationEvidence");
        m.insert("appId".into(), json!(app_id));
        m.insert("displayName".into(), json!(name));
        Value::Object(m)
    }

    fn quantum(&self) -> Value {
        let mut m = self.head("quantumEntanglementEvidence");
        m.insert("entangledPartnerId".into(), json!(guid(self.h ^ 0xe17a)));
        m.insert("coherenceSeconds".into(), json!((self.h >> 20) % 900));
        Value::Object(m)
    }
}

fn office365(c: &Ctx) -> Vec<Value> {
    let mut mailbox = c.head("mailboxEvidence");
    mailbox.insert("primaryAddress".into(), json!(c.upn));
    mailbox.insert("displayName".into(), json!(c.name));
    mailbox.insert("userAccount".into(), c.account.clone());
    let mut message = c.head("analyzedMessageEvidence");
    message.insert("networkMessageId".into(), json!(guid(c.h ^ 0x0365)));
    message.insert(
        "subject".into(),
        json!("Action required: your mailbox is full"),
    );
    message.insert("senderIp".into(), json!(c.ip()));
    message.insert("recipientEmailAddress".into(), json!(c.upn));
    message.insert(
        "p1Sender".into(),
        json!({"emailAddress": "it-support@mailbox-quota.example", "displayName": "IT Support", "domainName": "mailbox-quota.example"}),
    );
    let mut url = c.head("urlEvidence");
    url.insert("url".into(), json!("https://mailbox-quota.example/login"));
    vec![
        Value::Object(mailbox),
        Value::Object(message),
        Value::Object(url),
        c.ip_evidence(),
    ]
}

fn identity(c: &Ctx) -> Vec<Value> {
    vec![c.user(), c.ip_evidence()]
}

fn cloud_apps(c: &Ctx) -> Vec<Value> {
    vec![
        c.user(),
        c.cloud_app(20892, "Microsoft SharePoint Online"),
        c.ip_evidence(),
    ]
}

fn sign_in(c: &Ctx) -> Vec<Value> {
    vec![c.user(), c.ip_evidence()]
}

fn dlp(c: &Ctx) -> Vec<Value> {
    vec![c.user(), c.cloud_app(20892, "Microsoft SharePoint Online")]
}

fn something_new(c: &Ctx) -> Vec<Value> {
    vec![c.user()]
}
