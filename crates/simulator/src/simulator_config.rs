//! What a simulator is started with, and the per-tenant knobs that break one tenant on purpose.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::faults::Faults;
use super::limits::Limits;
use super::rng::Rng;

/// How to build and run a simulator. `Default` gives 3 tenants of 50 alerts over the last 24 h,
/// Microsoft's limits and lifetimes, and no faults.
#[derive(Clone, Debug)]
pub struct SimulatorConfig {
    /// Number of customer tenants (`tenant-01`, `tenant-02`, ...).
    pub tenants: usize,
    /// Alerts generated per tenant at start.
    pub alerts_per_tenant: usize,
    /// Everything generated (ids, alerts, tokens, fault sequences) follows from this.
    pub seed: u64,
    /// The MSSP app's client secret, accepted by every tenant.
    pub client_secret: String,
    /// Initial alerts have `lastUpdateTime` spread over this span before `history_end`.
    pub history: Duration,
    /// End of that span; `None` means the moment the simulator starts. Set it to get the same
    /// alerts byte for byte from the same seed.
    pub history_end: Option<DateTime<Utc>>,
    /// Fraction (0–1) of generated alerts that carry hostile strings (separators, CR/LF, forged
    /// syslog lines, control characters, 10–70 KB descriptions, nulls, unknown fields).
    pub adversarial_fraction: f64,
    /// Each version becomes visible to the API a random delay (up to this) after its
    /// `lastUpdateTime`, as in the real service.
    pub max_visibility_delay: Duration,
    /// Lifetime of access tokens (the token answer says one second less, as Entra does).
    pub access_token_lifetime: Duration,
    /// A refresh token not used for this long is expired (AADSTS700082).
    pub refresh_token_inactivity: Duration,
    /// Authorization codes from `/authorize` must be redeemed within this.
    pub auth_code_lifetime: Duration,
    /// Device codes expire after this (`expires_in`).
    pub device_code_lifetime: Duration,
    /// Minimum time between device-code polls (`interval`); faster polls get `slow_down`.
    pub device_code_interval: Duration,
    /// Redirect URIs registered for the app. Loopback URIs (`http://localhost`,
    /// `http://127.0.0.1`) match any port, as Entra allows for native apps; others must match
    /// exactly.
    pub redirect_uris: Vec<String>,
    /// Sign-ins (`/authorize`) and device codes are approved at once, as if a user consented;
    /// when false they wait for [`super::Simulator::approve_authorization`] and friends.
    pub auto_approve: bool,
    /// Rate limits of the alerts API and of Graph `alerts_v2`, the `$skip` limit and page sizes.
    pub limits: Limits,
    /// Random faults of the alerts API and of Graph `alerts_v2`.
    pub faults: Faults,
    /// Bytes of JSON text of the initial alerts kept in memory, over all tenants. Alerts beyond
    /// it keep only what `$filter` reads and are generated again, identically, whenever they are
    /// served: slower to serve, but a million alerts take a few hundred MB. Updated and live
    /// alerts always keep their text.
    pub text_budget: usize,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            tenants: 3,
            alerts_per_tenant: 50,
            seed: 1,
            client_secret: "simulator-secret".to_owned(),
            history: Duration::from_secs(24 * 3600),
            history_end: None,
            adversarial_fraction: 0.05,
            max_visibility_delay: Duration::ZERO,
            access_token_lifetime: Duration::from_secs(3600),
            refresh_token_inactivity: Duration::from_secs(90 * 24 * 3600),
            auth_code_lifetime: Duration::from_secs(600),
            device_code_lifetime: Duration::from_secs(900),
            device_code_interval: Duration::from_secs(5),
            redirect_uris: vec![
                "http://localhost".to_owned(),
                "https://login.microsoftonline.com/common/oauth2/nativeclient".to_owned(),
            ],
            auto_approve: true,
            limits: Limits::default(),
            faults: Faults::default(),
            text_budget: 512 << 20,
        }
    }
}

/// A customer tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantInfo {
    /// The Entra tenant id (a GUID), also every alert's `aadTenantId`.
    pub id: String,
    /// `tenant-01`, `tenant-02`, ...; `<name>.onmicrosoft.com` also names it in token URLs.
    pub name: String,
}

/// Ways to break one tenant. All off by default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TenantKnobs {
    /// Every token request for this tenant fails like this.
    pub token_failure: Option<TokenFailure>,
    /// The customer has not allowed the MSSP app in Defender: the alerts API answers 403, and
    /// Graph `alerts_v2` answers 403 too (`SecurityAlert.Read.All` not granted).
    pub api_forbidden: bool,
    /// The alerts API and Graph `alerts_v2` answer every call of this tenant 429 with this
    /// `Retry-After` (a tenant throttled for a long time, as when another tool of the customer
    /// uses the quota).
    pub throttled: Option<std::time::Duration>,
    /// The client secret is expired for this tenant (AADSTS7000222).
    pub secret_expired: bool,
    /// The customer admin never consented to the app (AADSTS65001 on every grant).
    pub consent_missing: bool,
    /// "Allow public client flows" is off: grants without a client secret (device code, public
    /// refresh/code redemption) answer AADSTS7000218.
    pub public_client_flows_disabled: bool,
}

/// How a tenant's token endpoint fails when [`TenantKnobs::token_failure`] is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenFailure {
    /// HTTP 500 with a transient `temporarily_unavailable` body.
    ServerError,
    /// The error Entra writes for this AADSTS code (e.g. 700016, 90002, 50173); unknown codes
    /// get a generic `invalid_request`.
    Aadsts(u32),
}

/// The app and tenant identities of a seed: the client id, then one GUID per tenant.
pub(crate) fn identities(seed: u64, tenants: usize) -> (String, Vec<TenantInfo>) {
    let mut rng = Rng::derive(seed, "identities", 0);
    let client_id = rng.guid();
    let tenants = (1..=tenants)
        .map(|n| TenantInfo {
            id: rng.guid(),
            name: format!("tenant-{n:02}"),
        })
        .collect();
    (client_id, tenants)
}
