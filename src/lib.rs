//! siemfwd: Microsoft Defender for Endpoint alerts from many tenants into SIEMs.
//!
//! # Layout
//!
//! - [`alert`]: the alert model of the MDE REST Alerts API, tolerant of the shapes the real API
//!   sends, and [`alert::Timestamp`].
//! - [`input`]: reading alerts from pages, arrays, single objects and NDJSON, streamed, with the
//!   position of every malformed alert.
//! - [`mapping`]: mapping files (`mappings/*.toml`) compiled into plans, and the CEF, LEEF and
//!   JSON encoders with their escaping and byte budgets.
//! - [`source`]: tenants, their secrets and tokens, and the MDE alerts API client with its rate
//!   limits and retries.
//! - [`auth`]: `siemfwd auth`: a tenant's refresh token from one sign-in (authorization code
//!   with PKCE, or device code), the admin-consent link, and each tenant's auth status.
//! - [`backoff`]: exponential backoff with jitter, shared by outputs and the API client.
//! - [`pipeline`]: the per-tenant loop: window, fetch, de-duplicate, map, send, checkpoint.
//! - [`state`]: files in `state_dir` (checkpoints, rotated refresh tokens), written atomically.
//! - [`config`]: the configuration file (`state_dir`, `[[tenant]]`, `[[output]]`), validated.
//! - [`transport`]: syslog envelope and framing, and the outputs (TLS, mutual TLS, TCP, UDP,
//!   local syslog socket, file, stdout) with reconnects and a delivery contract.
//!
//! The command line (`src/cli/`) belongs to the binary, `src/main.rs`: the library returns typed
//! errors, and only the binary turns them into messages and exit statuses.
//!
//! Two crates of the workspace sit beside this one in `crates/`: `siemfwd-time`
//! (`crates/time/`), the alert timestamp, re-exported as [`alert::Timestamp`]; and
//! `siemfwd-simulator` (`crates/simulator/`), a fake of Entra ID and the alerts API over real
//! HTTP, used by the binary's `demo` and `simulate` and by the tests, never by this library.
#![forbid(unsafe_code)]
// No input may panic the forwarder (issue 13): outside tests, an `unwrap` or `expect` needs a
// local `allow` that says why the invariant holds.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod alert;
pub mod auth;
pub mod backoff;
pub mod config;
pub mod input;
pub mod mapping;
pub mod pipeline;
pub mod source;
pub mod state;
pub mod transport;
