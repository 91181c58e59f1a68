//! Getting records to a SIEM: syslog envelope, framing, and the outputs (TLS, TCP, UDP, the
//! local syslog socket, files, stdout).
//!
//! - [`envelope`]: RFC 5424 / RFC 3164 headers.
//! - [`framing`]: octet counting, LF, one record per datagram.
//! - [`batch`]: [`RecordEncoder`] turns alerts into framed records within the output's maximum
//!   size; a [`Batch`] holds them for one write.
//! - [`config`]: `[[output]]` validated into an [`OutputConfig`].
//! - [`tls`]: rustls client configuration, pinning, and handshake errors in words.
//! - [`link`]: opening and writing one connection.
//! - `sender`: the task that owns the connection, with reconnects and backoff; its
//!   `sender::confirm` says how far the receiver has confirmed what was written.
//! - [`resend`]: the resend window: the recent bytes a stream output writes again after its
//!   connection breaks (`replay_window_bytes`).
//! - [`output`]: the [`Output`] handle and its delivery contract.
//! - [`dead_letter`]: where records that cannot be sent are kept.
//! - [`relp`]: RELP frames and sessions, for `type = "relp"` outputs, whose records are each
//!   acknowledged by the receiver.

pub mod batch;
pub mod config;
pub mod dead_letter;
pub mod envelope;
pub mod framing;
pub mod link;
pub mod output;
pub mod relp;
pub mod resend;
mod sender;
pub mod tls;

pub use batch::{Batch, RecordEncoder};
pub use config::{ConnectionSettings, Destination, OutputConfig, TlsSettings};
pub use dead_letter::{DeadLetter, DeadLetters};
pub use envelope::{Envelope, EnvelopeError, Facility, SyslogFormat, TimeSource};
pub use framing::Framing;
pub use output::{
    DeliveryError, Output, OutputError, Receipt, WrittenMark, load_mapping, preflight, probe,
};
pub use sender::OutputStats;
