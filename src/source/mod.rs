//! Fetching alerts from the MDE API, per tenant.
//!
//! - [`config`]: `[[tenant]]` and `[defaults]` validated into a [`TenantConfig`].
//! - [`http`]: the HTTP client of a tenant (rustls with ring, proxy, CA), for the API and Entra.
//! - [`alerts`]: [`AlertsClient`], pages with retries, and every alert of a time window; its
//!   access tokens come from [`crate::entra::TokenProvider`].
//! - [`limiter`]: [`RateLimiter`], the API's calls per minute and hour, and Retry-After.
//! - [`page_budget`]: [`PageBudget`], the pages all tenants hold at once, and their buffers.

pub mod alerts;
pub mod config;
pub mod http;
pub mod limiter;
pub mod page_budget;

pub use alerts::{AlertPage, AlertsClient, FetchError, WindowFetch};
pub use config::{AlertsApi, ApiLimits, Emit, TenantConfig};
pub use limiter::RateLimiter;
pub use page_budget::PageBudget;

impl TenantConfig {
    /// The tenant as Entra sees it: what its token requests and their errors need.
    pub fn entra(&self) -> &crate::entra::Tenant {
        &self.entra
    }
}

/// A tenant's Entra identity is part of its config: `tenant.name`, `tenant.client_id` and the
/// other sign-in keys read straight through.
impl std::ops::Deref for TenantConfig {
    type Target = crate::entra::Tenant;

    fn deref(&self) -> &crate::entra::Tenant {
        &self.entra
    }
}

impl std::ops::DerefMut for TenantConfig {
    fn deref_mut(&mut self) -> &mut crate::entra::Tenant {
        &mut self.entra
    }
}
