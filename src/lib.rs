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
//! - [`transport`]: the syslog envelope (RFC 5424 / RFC 3164) around an encoded record.
//!
//! The command line (`src/cli/`) belongs to the binary, `src/main.rs`: the library returns typed
//! errors, and only the binary turns them into messages and exit statuses.
#![forbid(unsafe_code)]

pub mod alert;
pub mod input;
pub mod mapping;
pub mod transport;
