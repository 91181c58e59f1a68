//! RELP, the Reliable Event Logging Protocol (rsyslog's `imrelp`, librelp's `doc/relp.md`):
//! syslog messages each acknowledged by the receiver, so that an output knows which records
//! the receiver has, and a checkpoint moves only past those.
//!
//! - [`frame`]: frames, their parser (bytes as they arrive, malformed ones refused) and
//!   responses with their offers.
//! - `session`: one session over a TCP or TLS connection: `open`, `syslog` commands sent up
//!   to a window ahead of their answers, `close`.
//!
//! The output's task (`transport::sender::relp`) holds the session, reconnects, and sends
//! again what was not acknowledged.

pub mod frame;
pub(crate) mod session;
