//! Getting records to a SIEM. For now: the syslog envelope around an encoded record.

pub mod envelope;

pub use envelope::{Envelope, EnvelopeError, Facility, SyslogFormat};
