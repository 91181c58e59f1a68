//! `siemfwd auth`: onboarding a customer tenant on any OS, in place of Microsoft's
//! Windows-only PowerShell script and its browser module (docs/onboarding.md).
//!
//! A refresh token for the alerts API comes from one sign-in of a user of the customer's
//! tenant, by the authorization code flow with PKCE or by the device code flow, and is stored
//! where `siemfwd run` reads and rotates it (`state_dir/tokens/<tenant>.json`, mode 0600). Every
//! Entra error on the way is explained in words (redirect URI mismatch, single-tenant app,
//! missing consent, public client flows off, declined or expired sign-ins).
//!
//! - [`pkce`]: PKCE verifier and S256 challenge, `state`, base64url.
//! - [`authorize`]: the authorization code flow: the sign-in link, the answer (loopback
//!   listener or pasted address, `state` checked), the code's exchange.
//! - [`loopback`]: the listener on 127.0.0.1 the browser is redirected to.
//! - [`device`]: the device code flow: the code to show, polling with pending / slow down /
//!   declined / expired.
//! - [`consent`]: the admin-consent link and the customer's steps in the Defender portal.
//! - [`status`]: each tenant's mode, a token check, refresh-token age and last auth failure.
//! - [`login`]: what the flows share: endpoints, errors in words, storing the token, a
//!   tenant given on the command line.

pub mod authorize;
pub mod consent;
pub mod device;
pub mod login;
pub(crate) mod loopback;
pub mod pkce;
pub mod status;

#[cfg(test)]
mod tests;

pub use authorize::{CodeLogin, RedirectUri};
pub use login::{AdHocTenant, LoginError, store_refresh_token};
