//! Microsoft Graph `alerts_v2` spells its enums in camelCase, and some differently from the MDE
//! alerts API (issue 19). An MSSP's ArcSight and QRadar content keys on the MDE spellings, so an
//! MDE alert read from Graph must give the same record as read from `/api/alerts`: these are the
//! MDE spellings of Graph's values (the product each `serviceSource` names is the default
//! mappings' `[maps.product]`). A member neither API documents yet (Graph adds members behind `Prefer:
//! include-unknown-enum-members`) is kept, with its first letter upper case as MDE spells its
//! enums: `aiGeneratedThreat` is `AiGeneratedThreat`.

use std::borrow::Cow;

use super::Str;

/// `informational` → `Informational`, `unknown` → `UnSpecified` (MDE's "no severity").
pub fn severity(graph: Str<'_>) -> Str<'_> {
    spell(
        graph,
        &[
            ("unknown", "UnSpecified"),
            ("informational", "Informational"),
            ("low", "Low"),
            ("medium", "Medium"),
            ("high", "High"),
        ],
    )
}

/// `inProgress` → `InProgress`.
pub fn status(graph: Str<'_>) -> Str<'_> {
    spell(
        graph,
        &[
            ("new", "New"),
            ("inProgress", "InProgress"),
            ("resolved", "Resolved"),
        ],
    )
}

/// `truePositive` → `TruePositive`; Graph's `unknown` is MDE's absent value (`None`).
pub fn classification(graph: Str<'_>) -> Option<Str<'_>> {
    (&*graph != "unknown").then(|| {
        spell(
            graph,
            &[
                ("truePositive", "TruePositive"),
                ("falsePositive", "FalsePositive"),
                (
                    "informationalExpectedActivity",
                    "InformationalExpectedActivity",
                ),
            ],
        )
    })
}

/// `malware` → `Malware`, with the values MDE names otherwise (`notMalicious` → `Clean`,
/// `compromisedAccount` → `CompromisedUser`, `notEnoughDataToValidate` → `InsufficientData`,
/// `confirmedActivity` → `ConfirmedUserActivity`); Graph's `unknown` is MDE's absent value.
pub fn determination(graph: Str<'_>) -> Option<Str<'_>> {
    (&*graph != "unknown").then(|| {
        spell(
            graph,
            &[
                ("notMalicious", "Clean"),
                ("compromisedAccount", "CompromisedUser"),
                ("notEnoughDataToValidate", "InsufficientData"),
                ("confirmedActivity", "ConfirmedUserActivity"),
                ("malware", "Malware"),
                ("apt", "Apt"),
                ("securityTesting", "SecurityTesting"),
                ("securityPersonnel", "SecurityPersonnel"),
                ("unwantedSoftware", "UnwantedSoftware"),
                ("multiStagedAttack", "MultiStagedAttack"),
                ("phishing", "Phishing"),
                ("maliciousUserActivity", "MaliciousUserActivity"),
                ("lineOfBusinessApplication", "LineOfBusinessApplication"),
                ("other", "Other"),
            ],
        )
    })
}

/// `antivirus` → `WindowsDefenderAv`: the detection sources MDE names otherwise, else the value
/// with its first letter upper case (`microsoftDefenderForIdentity` →
/// `MicrosoftDefenderForIdentity`).
pub fn detection_source(graph: Str<'_>) -> Str<'_> {
    spell(
        graph,
        &[
            ("microsoftDefenderForEndpoint", "WindowsDefenderAtp"),
            ("antivirus", "WindowsDefenderAv"),
            ("smartScreen", "WindowsDefenderSmartScreen"),
            ("customTi", "CustomerTI"),
            ("microsoftDefenderForOffice365", "OfficeATP"),
            ("automatedInvestigation", "AutomatedInvestigation"),
            ("microsoftThreatExperts", "ThreatExperts"),
            ("customDetection", "CustomDetection"),
            ("microsoft365Defender", "MTP"),
        ],
    )
}

/// `detected` → `Detected`: an evidence item's `detectionStatus`.
pub fn detection_status(graph: Str<'_>) -> Str<'_> {
    spell(
        graph,
        &[
            ("detected", "Detected"),
            ("blocked", "Blocked"),
            ("prevented", "Prevented"),
        ],
    )
}

/// The MDE spelling from `known` (no allocation: these are most alerts' values), else the value
/// with its first letter upper case, as MDE spells its enums.
fn spell<'a>(graph: Str<'a>, known: &[(&str, &'static str)]) -> Str<'a> {
    if let Some((_, mde)) = known.iter().find(|(g, _)| *g == &*graph) {
        return Str(Cow::Borrowed(mde));
    }
    pascal(graph)
}

/// `camelCase` → `CamelCase`: the first letter upper case, the rest as written.
pub(crate) fn pascal(s: Str<'_>) -> Str<'_> {
    match s.as_bytes().first() {
        Some(first) if first.is_ascii_lowercase() => {
            let mut owned = s.0.into_owned();
            owned[..1].make_ascii_uppercase();
            Str(Cow::Owned(owned))
        }
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn str(s: &str) -> Str<'_> {
        Str::from(s)
    }

    #[test]
    fn graph_values_get_their_mde_spellings_and_unknown_members_pass_through() {
        assert_eq!(&*severity(str("high")), "High");
        assert_eq!(&*severity(str("informational")), "Informational");
        assert_eq!(&*severity(str("unknown")), "UnSpecified");
        assert_eq!(&*status(str("inProgress")), "InProgress");
        assert_eq!(&*status(str("new")), "New");
        assert_eq!(
            classification(str("truePositive")).as_deref(),
            Some("TruePositive")
        );
        assert_eq!(
            classification(str("falsePositive")).as_deref(),
            Some("FalsePositive")
        );
        assert_eq!(classification(str("unknown")), None);
        for (graph, mde) in [
            ("notMalicious", "Clean"),
            ("compromisedAccount", "CompromisedUser"),
            ("notEnoughDataToValidate", "InsufficientData"),
            ("confirmedActivity", "ConfirmedUserActivity"),
            ("malware", "Malware"),
            ("unwantedSoftware", "UnwantedSoftware"),
            ("multiStagedAttack", "MultiStagedAttack"),
        ] {
            assert_eq!(determination(str(graph)).as_deref(), Some(mde), "{graph}");
        }
        assert_eq!(determination(str("unknown")), None);
        // A member added after this was written (Prefer: include-unknown-enum-members).
        assert_eq!(
            determination(str("aiGeneratedThreat")).as_deref(),
            Some("AiGeneratedThreat")
        );
        assert_eq!(&*severity(str("")), "");
        assert_eq!(&*detection_source(str("antivirus")), "WindowsDefenderAv");
        assert_eq!(
            &*detection_source(str("microsoftDefenderForIdentity")),
            "MicrosoftDefenderForIdentity"
        );
    }
}
