//! Fetching alerts from the MDE API, per tenant.
//!
//! - [`config`]: `[[tenant]]` and `[defaults]` validated into a [`TenantConfig`].
//! - [`secret`]: [`Secret`], a string that never prints.

pub mod config;
pub mod http;
pub mod secret;

pub use config::{ApiLimits, AuthMode, TenantConfig, TokenVersion};
pub use secret::Secret;
