//! Microsoft Graph `alerts_v2` spells its enums in camelCase, and some differently from the MDE
//! alerts API (issue 19). An MSSP's ArcSight and QRadar content keys on the MDE spellings, so an
//! MDE alert read from Graph must give the same record as read from `/api/alerts`: these are the
//! MDE spellings of Graph's values, and the product each `serviceSource` names in a record's
//! header. A member neither API documents yet passes through as Graph sent it.

use std::borrow::Cow;

/// `informational` → `Informational`, `unknown` → `UnSpecified` (MDE's "no severity").
pub fn severity(graph: &str) -> Cow<'_, str> {
    match graph {
        "unknown" => Cow::Borrowed("UnSpecified"),
        other => pascal(other),
    }
}

/// `inProgress` → `InProgress`.
pub fn status(graph: &str) -> Cow<'_, str> {
    pascal(graph)
}

/// `truePositive` → `TruePositive`; Graph's `unknown` is MDE's absent value (`None`).
pub fn classification(graph: &str) -> Option<Cow<'_, str>> {
    match graph {
        "unknown" => None,
        other => Some(pascal(other)),
    }
}

/// `malware` → `Malware`, with the values MDE names otherwise (`notMalicious` → `Clean`,
/// `compromisedAccount` → `CompromisedUser`, `notEnoughDataToValidate` → `InsufficientData`,
/// `confirmedActivity` → `ConfirmedUserActivity`); Graph's `unknown` is MDE's absent value.
pub fn determination(graph: &str) -> Option<Cow<'_, str>> {
    Some(match graph {
        "unknown" => return None,
        "notMalicious" => Cow::Borrowed("Clean"),
        "compromisedAccount" => Cow::Borrowed("CompromisedUser"),
        "notEnoughDataToValidate" => Cow::Borrowed("InsufficientData"),
        "confirmedActivity" => Cow::Borrowed("ConfirmedUserActivity"),
        other => pascal(other),
    })
}

/// The product a `serviceSource` names, as a record's header says it; anything unknown is
/// `Microsoft Defender XDR`, the portal all of them report to.
pub fn product(service_source: &str) -> &'static str {
    match service_source {
        "microsoftDefenderForEndpoint" => "Microsoft Defender for Endpoint",
        "microsoftDefenderForOffice365" => "Microsoft Defender for Office 365",
        "microsoftDefenderForIdentity" => "Microsoft Defender for Identity",
        "microsoftDefenderForCloudApps" => "Microsoft Defender for Cloud Apps",
        "microsoftDefenderForCloud" => "Microsoft Defender for Cloud",
        "azureAdIdentityProtection" => "Microsoft Entra ID Protection",
        "dataLossPrevention" => "Microsoft Purview Data Loss Prevention",
        "microsoftSentinel" => "Microsoft Sentinel",
        _ => "Microsoft Defender XDR",
    }
}

/// `camelCase` → `CamelCase`: the first letter upper case, the rest as written.
fn pascal(s: &str) -> Cow<'_, str> {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) if first.is_ascii_lowercase() => {
            Cow::Owned(first.to_ascii_uppercase().to_string() + chars.as_str())
        }
        _ => Cow::Borrowed(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_values_get_their_mde_spellings_and_unknown_members_pass_through() {
        assert_eq!(severity("high"), "High");
        assert_eq!(severity("informational"), "Informational");
        assert_eq!(severity("unknown"), "UnSpecified");
        assert_eq!(status("inProgress"), "InProgress");
        assert_eq!(status("new"), "New");
        assert_eq!(
            classification("truePositive").as_deref(),
            Some("TruePositive")
        );
        assert_eq!(
            classification("falsePositive").as_deref(),
            Some("FalsePositive")
        );
        assert_eq!(classification("unknown"), None);
        for (graph, mde) in [
            ("notMalicious", "Clean"),
            ("compromisedAccount", "CompromisedUser"),
            ("notEnoughDataToValidate", "InsufficientData"),
            ("confirmedActivity", "ConfirmedUserActivity"),
            ("malware", "Malware"),
            ("unwantedSoftware", "UnwantedSoftware"),
            ("multiStagedAttack", "MultiStagedAttack"),
        ] {
            assert_eq!(determination(graph).as_deref(), Some(mde), "{graph}");
        }
        assert_eq!(determination("unknown"), None);
        // A member added after this was written (Prefer: include-unknown-enum-members).
        assert_eq!(
            determination("aiGeneratedThreat").as_deref(),
            Some("AiGeneratedThreat")
        );
        assert_eq!(severity(""), "");
        assert_eq!(
            product("microsoftDefenderForEndpoint"),
            "Microsoft Defender for Endpoint"
        );
        assert_eq!(
            product("microsoftDefenderForOffice365"),
            "Microsoft Defender for Office 365"
        );
        assert_eq!(product("somethingNew"), "Microsoft Defender XDR");
    }
}
