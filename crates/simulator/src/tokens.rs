//! Everything Entra has issued: access tokens, rotating refresh tokens, authorization codes and
//! device codes, with their lifetimes on the tokio clock (paused-time tests can expire them).

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::entra_errors::{self, AadError};
use super::rng::Rng;

/// Which API a token is for. Only Defender tokens open `/api/alerts` and only Microsoft Graph
/// tokens open `/v1.0/security/alerts_v2`; others (Azure AD Graph, the resource Microsoft's
/// script asks for) are issued but refused by both, as in reality.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Audience {
    Defender,
    /// Microsoft Graph (`https://graph.microsoft.com`).
    Graph,
    Other(String),
}

impl Audience {
    /// The resource as a token answer and an error message name it.
    pub(crate) fn resource(&self) -> &str {
        match self {
            Audience::Defender => super::token_endpoint::DEFENDER,
            Audience::Graph => super::token_endpoint::GRAPH,
            Audience::Other(r) => r,
        }
    }
}

#[derive(Debug)]
pub(crate) struct AccessToken {
    pub(crate) tenant: usize,
    pub(crate) audience: Audience,
    pub(crate) expires: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RefreshState {
    Active,
    Redeemed,
    Revoked,
}

#[derive(Debug)]
struct RefreshToken {
    tenant: usize,
    client_id: String,
    audience: Audience,
    issued: Instant,
    issued_wall: DateTime<Utc>,
    state: RefreshState,
}

/// A code from `/authorize`, waiting to be redeemed once.
#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    pub(crate) tenant: usize,
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    /// (challenge, method is S256).
    pub(crate) challenge: Option<(String, bool)>,
    pub(crate) audience: Option<Audience>,
    pub(crate) offline: bool,
    pub(crate) expires: Instant,
    pub(crate) redeemed: bool,
}

/// The user's answer to a device code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    Pending,
    Approved,
    Declined,
    Redeemed,
}

#[derive(Debug, Clone)]
pub(crate) struct DeviceCode {
    pub(crate) tenant: usize,
    pub(crate) client_id: String,
    pub(crate) user_code: String,
    pub(crate) scope: String,
    pub(crate) audience: Audience,
    pub(crate) offline: bool,
    pub(crate) expires: Instant,
    pub(crate) interval: Duration,
    pub(crate) last_poll: Instant,
    pub(crate) decision: Decision,
}

/// A device code waiting for the user (see [`super::Simulator::approve_device_code`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingDeviceCode {
    /// The code the user types at the verification URI.
    pub user_code: String,
    pub tenant_id: String,
    pub client_id: String,
    /// `scope` (v2) or `resource` (v1) of the request.
    pub scope: String,
}

/// Issued tokens and codes.
#[derive(Debug)]
pub(crate) struct Tokens {
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, RefreshToken>,
    pub(crate) codes: HashMap<String, AuthCode>,
    pub(crate) devices: HashMap<String, DeviceCode>,
    rng: Rng,
}

/// Bound on remembered tokens; expired ones are forgotten beyond it (a long `simulate` run).
const PURGE_AT: usize = 50_000;

impl Tokens {
    pub(crate) fn new(seed: u64) -> Self {
        Tokens {
            access: HashMap::new(),
            refresh: HashMap::new(),
            codes: HashMap::new(),
            devices: HashMap::new(),
            rng: Rng::derive(seed, "tokens", 0),
        }
    }

    /// A new opaque access token.
    pub(crate) fn issue_access(
        &mut self,
        tenant: usize,
        audience: Audience,
        lifetime: Duration,
    ) -> String {
        let now = Instant::now();
        if self.access.len() >= PURGE_AT {
            self.access.retain(|_, t| t.expires > now);
        }
        let token = format!("sim-at.{}", self.rng.token(64));
        self.access.insert(
            token.clone(),
            AccessToken {
                tenant,
                audience,
                expires: now + lifetime,
            },
        );
        token
    }

    pub(crate) fn access(&self, token: &str) -> Option<&AccessToken> {
        self.access.get(token)
    }

    /// A new refresh token, valid until used once, revoked, or idle for the inactivity limit.
    pub(crate) fn issue_refresh(
        &mut self,
        tenant: usize,
        client_id: &str,
        audience: Audience,
    ) -> String {
        if self.refresh.len() >= PURGE_AT {
            self.refresh.retain(|_, t| t.state == RefreshState::Active);
        }
        // Entra's refresh tokens are opaque and start with "0.A"; so do these.
        let token = format!("0.A{}", self.rng.token(120));
        self.refresh.insert(
            token.clone(),
            RefreshToken {
                tenant,
                client_id: client_id.to_owned(),
                audience,
                issued: Instant::now(),
                issued_wall: Utc::now(),
                state: RefreshState::Active,
            },
        );
        token
    }

    /// Redeems `token` for `tenant` and `client_id`: it is then spent (rotation). Returns the
    /// audience it was issued for.
    pub(crate) fn redeem_refresh(
        &mut self,
        token: &str,
        tenant: usize,
        client_id: &str,
        inactivity: Duration,
    ) -> Result<Audience, AadError> {
        let Some(rt) = self.refresh.get_mut(token) else {
            return Err(entra_errors::malformed_grant("refresh_token"));
        };
        if rt.tenant != tenant {
            return Err(entra_errors::malformed_grant("refresh_token"));
        }
        if rt.client_id != client_id {
            return Err(entra_errors::grant_other_client("refresh_token"));
        }
        let issued = rt.issued_wall.format("%m/%d/%Y %H:%M:%S").to_string();
        match rt.state {
            RefreshState::Revoked => return Err(entra_errors::refresh_revoked(&issued)),
            RefreshState::Redeemed => return Err(entra_errors::refresh_reused()),
            RefreshState::Active => {}
        }
        if Instant::now().saturating_duration_since(rt.issued) >= inactivity {
            return Err(entra_errors::refresh_inactive(&issued, inactivity));
        }
        rt.state = RefreshState::Redeemed;
        Ok(rt.audience.clone())
    }

    /// Revokes every refresh token of `tenant` (a password reset, an admin's revoke).
    pub(crate) fn revoke_refresh(&mut self, tenant: usize) -> usize {
        let mut n = 0;
        for rt in self.refresh.values_mut().filter(|t| t.tenant == tenant) {
            if rt.state == RefreshState::Active {
                n += 1;
            }
            rt.state = RefreshState::Revoked;
        }
        n
    }

    pub(crate) fn new_code(&mut self, code: AuthCode) -> String {
        let now = Instant::now();
        if self.codes.len() >= PURGE_AT {
            self.codes.retain(|_, c| c.expires > now && !c.redeemed);
        }
        let text = format!("1.A{}", self.rng.token(96));
        self.codes.insert(text.clone(), code);
        text
    }

    /// Registers a device code; returns (device_code, user_code).
    pub(crate) fn new_device_code(&mut self, mut dc: DeviceCode) -> (String, String) {
        let now = Instant::now();
        if self.devices.len() >= PURGE_AT {
            self.devices.retain(|_, d| d.expires > now);
        }
        let mut user_code = self.rng.user_code();
        while self.devices.values().any(|d| d.user_code == user_code) {
            user_code = self.rng.user_code();
        }
        dc.user_code = user_code.clone();
        let device_code = format!("DAQABAAEAAA{}", self.rng.token(80));
        self.devices.insert(device_code.clone(), dc);
        (device_code, user_code)
    }

    /// Sets the answer of the pending device code `user_code`; false if there is none.
    pub(crate) fn decide_device_code(&mut self, user_code: &str, approve: bool) -> bool {
        let now = Instant::now();
        match self
            .devices
            .values_mut()
            .find(|d| d.user_code.eq_ignore_ascii_case(user_code.trim()))
        {
            Some(d) if d.decision == Decision::Pending && d.expires > now => {
                d.decision = if approve {
                    Decision::Approved
                } else {
                    Decision::Declined
                };
                true
            }
            _ => false,
        }
    }
}
