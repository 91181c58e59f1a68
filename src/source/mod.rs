//! Fetching alerts from the MDE API, per tenant.
//!
//! - [`alerts`]: [`AlertsClient`], pages with retries, and every alert of a time window.
//! - [`config`]: `[[tenant]]` and `[defaults]` validated into a [`TenantConfig`].
//! - [`secret`]: [`Secret`], a string that never prints.
//! - [`http`]: the HTTP client of a tenant (rustls with ring, proxy, CA).
//! - [`limiter`]: [`RateLimiter`], the API's calls per minute and hour, and Retry-After.
//! - [`page_budget`]: [`PageBudget`], the pages all tenants hold at once, and their buffers.
//! - [`token`]: [`TokenProvider`], access tokens per tenant, rotated refresh tokens, and Entra
//!   errors sorted into what to do.

pub mod alerts;
pub mod config;
pub mod http;
pub mod limiter;
pub mod page_budget;
pub mod secret;
pub mod token;

pub use alerts::{AlertPage, AlertsClient, FetchError, WindowFetch};
pub use config::{ApiLimits, AuthMode, Emit, TenantConfig, TokenVersion};
pub use limiter::RateLimiter;
pub use page_budget::PageBudget;
pub use secret::Secret;
pub use token::{AuthError, AuthErrorKind, TokenProvider};
