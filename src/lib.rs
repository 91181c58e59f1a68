//! siemfwd: Microsoft Defender for Endpoint alerts from many tenants into SIEMs.
//!
//! # Layout
//!
//! In the order an alert meets them: a tenant signs in, its alerts are fetched, read, mapped,
//! sent, and its checkpoint moves.
//!
//! - [`config`]: the configuration file (`state_dir`, `[[tenant]]`, `[[output]]`), validated;
//!   each section by the module it configures (`source::config`, `transport::config`).
//! - [`entra`]: Entra ID for a tenant: access tokens, rotated refresh tokens, and Entra's errors
//!   sorted into what to do about them, with the fix in words.
//! - [`auth`]: `siemfwd auth`: a tenant's refresh token from one sign-in (authorization code
//!   with PKCE, or device code), the admin-consent link, and each tenant's auth status.
//! - [`source`]: a tenant's settings and HTTP client, and the alerts client (the MDE alerts
//!   API, or Microsoft Graph's `alerts_v2` with `api = "graph"`) with its rate limits, retries
//!   and page budget.
//! - [`reader`]: reading alerts from API pages, arrays, single objects and NDJSON, streamed,
//!   with the position of every malformed alert.
//! - [`alert`]: the alert model of the MDE REST Alerts API, tolerant of the shapes the real API
//!   sends, which reads Graph's alerts into the same fields, with a reader of its own (serde
//!   deciding what that gives up on); and [`alert::Timestamp`] with the clock
//!   ([`alert::Timestamp::now`]).
//! - [`mapping`]: mapping files (`mappings/*.toml`) compiled into plans, and the CEF, LEEF and
//!   JSON encoders with their escaping and byte budgets.
//! - [`transport`]: syslog envelope and framing, and the outputs (TLS, mutual TLS, RELP, TCP,
//!   UDP, local syslog socket, file, stdout) with reconnects, the resend window, dead letters and
//!   a delivery contract.
//! - [`pipeline`]: the per-tenant loop: window, fetch, de-duplicate, map, send, checkpoint;
//!   `run`'s daemon and `replay`, wired alike.
//!
//! What several of them share:
//!
//! - [`duration`]: durations as the config and the command line write them (`"5m"`), and times
//!   such as `--from -24h`.
//! - [`settings`]: a number checked against its range, and the line of a byte offset, for
//!   every reader of a settings file.
//! - [`secret`]: [`secret::Secret`], a client secret or token that never prints.
//! - [`http`]: HTTP answers read only up to a bound, and reqwest's errors in words.
//! - [`backoff`]: exponential backoff with jitter, for the outputs and the API client.
//! - [`atomic_file`]: atomic writes of the files in `state_dir` (checkpoints, tokens, status).
//!
//! The command line (`src/cli/`) belongs to the binary, `src/main.rs`: the library returns typed
//! errors, and only the binary turns them into messages and exit statuses.
//!
//! Two crates of the workspace sit beside this one in `crates/`: `siemfwd-time`
//! (`crates/time/`), the alert timestamp, re-exported as [`alert::Timestamp`]; and
//! `siemfwd-simulator` (`crates/simulator/`), a fake of Entra ID and the alerts API over real
//! HTTP, used by the binary's `demo` and `simulate` and by the tests, never by this library.
#![forbid(unsafe_code)]
// Every public item of the library says what it is (issue 15). The simulator and time crates
// are tools of the tests and the binary, not an API: they are not held to it.
#![warn(missing_docs)]
// No input may panic the forwarder (issue 13): outside tests, an `unwrap` or `expect` needs a
// local `allow` that says why the invariant holds (`[lints]` in Cargo.toml, clippy.toml).

pub mod alert;
pub mod atomic_file;
pub mod auth;
pub mod backoff;
pub mod config;
pub mod duration;
pub mod entra;
pub mod http;
pub mod mapping;
pub mod pipeline;
pub mod reader;
pub mod secret;
pub mod settings;
pub mod source;
pub mod telemetry;
pub mod transport;
pub mod words;
