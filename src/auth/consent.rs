//! The admin-consent link an MSSP sends to a customer's administrator, and the steps that
//! remain for them in the Defender portal (docs/onboarding.md).
//!
//! The link is Entra's tenant-wide admin consent endpoint,
//! `{login}/{tenant}/adminconsent?client_id=...`. Of the two forms Entra has, this one (not
//! `/v2.0/adminconsent?scope=...`) is used because it grants every permission the app
//! registration lists, application and delegated alike, so one link serves both auth modes
//! (client credentials and refresh tokens); and it needs no redirect URI in the link: Entra
//! sends the administrator to the app's first registered one, which need not load.

use crate::source::config::DEFAULT_LOGIN_URL;
pub use crate::source::config::is_guid;

/// What the consent link is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRequest {
    /// The MSSP's multi-tenant app.
    pub client_id: String,
    /// The customer's tenant (id or domain); `None`: `common`, the admin's own tenant.
    pub tenant: Option<String>,
    /// Entra's host: `https://login.microsoftonline.com`, `https://login.microsoftonline.us`
    /// for GCC High and DoD.
    pub login_url: String,
}

impl ConsentRequest {
    /// The request for `client_id` in `tenant` (`None`: `common`) at `login_url` (`None`:
    /// `https://login.microsoftonline.com`).
    pub fn new(client_id: &str, tenant: Option<&str>, login_url: Option<&str>) -> Self {
        ConsentRequest {
            client_id: client_id.to_owned(),
            tenant: tenant.map(str::to_owned),
            login_url: login_url.unwrap_or(DEFAULT_LOGIN_URL).to_owned(),
        }
    }

    /// The link.
    pub fn url(&self) -> String {
        let tenant = self.tenant.as_deref().unwrap_or("common");
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("client_id", &self.client_id);
        format!(
            "{}/{}/adminconsent?{}",
            self.login_url.trim_end_matches('/'),
            form_urlencoded::byte_serialize(tenant.as_bytes()).collect::<String>(),
            q.finish()
        )
    }
}

/// A tenant as Entra takes it in a URL: a GUID, or a domain such as contoso.onmicrosoft.com.
pub fn is_tenant(s: &str) -> bool {
    is_guid(s)
        || (s.contains('.')
            && !s.starts_with('.')
            && !s.ends_with('.')
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.".contains(&b)))
}

/// The last step, the same for both APIs.
const LAST_STEP: &str = "\
3. Tell the MSSP it is done. For a tenant read with delegated tokens (auth = \"refresh_token\"),
   a user of this tenant who can read Defender alerts then signs in once, with the link or code
   the MSSP gets from:
     siemfwd auth login --config FILE --tenant NAME
   The MSSP then checks the tenant with:
     siemfwd check --config FILE
";

/// The instructions to send along with the link: what the customer's admin does, in order.
/// `mssp_tenant_id`: the MSSP's own tenant id, which the Defender portal asks for. `graph`:
/// the app reads Microsoft Graph's `alerts_v2` (consent is all it takes) rather than the MDE
/// alerts API (consent, then the Defender portal's SIEM step).
pub fn instructions(request: &ConsentRequest, mssp_tenant_id: Option<&str>, graph: bool) -> String {
    if graph {
        return format!("{GRAPH_STEPS}{LAST_STEP}");
    }
    let mssp = mssp_tenant_id.unwrap_or("<the MSSP's tenant id>");
    let client = &request.client_id;
    format!(
        "\
1. Sign in with the link above as an administrator of the customer's tenant (Global
   Administrator, Privileged Role Administrator or Cloud Application Administrator) and
   accept the permissions it asks for on WindowsDefenderATP: \"Read all alerts\"
   (Alert.Read.All, for the app itself) and/or \"Read alerts\" (Alert.Read, for a signed-in
   user). The browser then goes to the app's redirect URI, which may not load: that is
   expected, the consent is done.
2. In the Microsoft Defender portal of the customer's tenant (https://security.microsoft.com):
   Settings > Endpoints > APIs > SIEM, tab MSSP: enter the app (client) id {client}
   and the MSSP's tenant id {mssp}, and authorize the app.
{LAST_STEP}"
    )
}

/// What the customer's admin does first for an app that reads Microsoft Graph
/// (`api = "graph"`).
const GRAPH_STEPS: &str = "\
1. Sign in with the link above as an administrator of the customer's tenant (Global
   Administrator, Privileged Role Administrator or Cloud Application Administrator) and
   accept the permissions it asks for on Microsoft Graph: \"Read all security alerts\"
   (SecurityAlert.Read.All, for the app itself) and/or \"Read your organization's security
   alerts\" (SecurityAlert.Read.All, for a signed-in user). The browser then goes to the app's
   redirect URI, which may not load: that is expected, the consent is done.
   GDAP roles the MSSP holds in this tenant do not grant an app anything: the consent is
   needed all the same. A CSP partner may instead consent for its customers through
   Partner Center's application consent API, with the same permission.
2. Nothing to do in the Defender portal: Graph reads the alerts of every Defender product
   the tenant has (Endpoint, Office 365, Identity, Cloud Apps, ...).
";
