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
pub use config::{ApiLimits, Emit, TenantConfig};
pub use limiter::RateLimiter;
pub use page_budget::PageBudget;

impl TenantConfig {
    /// The tenant as Entra sees it: what its token requests and their errors need.
    pub fn entra(&self) -> crate::entra::Tenant {
        crate::entra::Tenant {
            name: self.name.clone(),
            tenant_id: self.tenant_id.clone(),
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            client_secret_file: self.client_secret_file.clone(),
            auth: self.auth.clone(),
            login_url: self.login_url.clone(),
            token_version: self.token_version,
        }
    }
}
