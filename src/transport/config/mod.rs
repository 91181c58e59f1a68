//! `[[output]]` as written, and its validation into an [`OutputConfig`]: the destination,
//! format, envelope and sizes here; the TLS keys in [`tls`], the connection keys in
//! [`connection`].

mod connection;
mod tls;

pub use connection::ConnectionSettings;
pub use tls::{FingerprintError, TlsSettings};

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::envelope::{Facility, SyslogFormat, TimeSource};
use super::framing::Framing;
use crate::duration::parse_duration_in;
use crate::mapping::Format;
use crate::settings::{is_file_name, number_in};

/// One `[[output]]` table before validation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutput {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    address: Option<String>,
    path: Option<PathBuf>,
    format: Option<String>,
    mapping: Option<PathBuf>,
    syslog: Option<String>,
    framing: Option<String>,
    facility: Option<String>,
    hostname: Option<String>,
    app_name: Option<String>,
    procid: Option<String>,
    msgid: Option<String>,
    timestamp: Option<String>,
    max_message_bytes: Option<usize>,
    ca_file: Option<PathBuf>,
    system_roots: Option<bool>,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    server_name: Option<String>,
    pin_sha256: Option<String>,
    insecure_skip_verify: Option<bool>,
    connect_timeout: Option<String>,
    write_timeout: Option<String>,
    delivery_timeout: Option<String>,
    reconnect_backoff: Option<String>,
    reconnect_backoff_max: Option<String>,
    queue: Option<usize>,
    replay_window_bytes: Option<usize>,
    batch_max_bytes: Option<usize>,
    tls: Option<bool>,
    relp_window: Option<usize>,
}

/// Where an output sends its records.
#[derive(Debug, Clone, PartialEq)]
pub enum Destination {
    /// `type = "tls"`: TLS over TCP, octet-counted (RFC 5425).
    Tls {
        /// `host:port` (`[v6]:port`), resolved again on every reconnect.
        address: String,
        /// How the server is checked and how the output proves who it is.
        tls: TlsSettings,
    },
    /// `type = "relp"`: RELP (rsyslog's `imrelp`), every record acknowledged by the
    /// receiver; over TLS with `tls = true`.
    Relp {
        /// `host:port` (`[v6]:port`), resolved again on every reconnect.
        address: String,
        /// `tls = true`: how the server is checked and how the output proves who it is (the
        /// keys of a tls output).
        tls: Option<TlsSettings>,
        /// `relp_window`: records sent ahead of their acknowledgements, at most.
        window: usize,
    },
    /// `type = "tcp"`: plain TCP.
    Tcp {
        /// `host:port` (`[v6]:port`), resolved again on every reconnect.
        address: String,
    },
    /// `type = "udp"`: one record per datagram.
    Udp {
        /// `host:port` (`[v6]:port`), resolved again on every reconnect.
        address: String,
    },
    /// The local syslog socket (a datagram socket such as `/dev/log`).
    Unix {
        /// The socket (`path`; default `/dev/log`).
        path: PathBuf,
    },
    /// `type = "file"`: records appended to a file, one a line.
    File {
        /// The file (`path`), a relative one resolved against the config file's folder.
        path: PathBuf,
    },
    /// `type = "stdout"`: records on standard output, one a line.
    Stdout,
}

impl OutputConfig {
    /// The files it reads when it starts (mapping, CA, client certificate and key): a reload
    /// starts it again when one of them changed, even if its table did not.
    pub fn files_read(&self) -> Vec<&Path> {
        let mut files: Vec<&Path> = self.mapping.iter().map(PathBuf::as_path).collect();
        if let Some(tls) = self.destination.tls() {
            files.extend(tls.ca_file.as_deref());
            if let Some((cert, key)) = &tls.client_cert {
                files.extend([cert.as_path(), key.as_path()]);
            }
        }
        files
    }
}

impl Destination {
    /// Its TLS settings: a tls output's, or a relp output's with `tls = true`.
    pub fn tls(&self) -> Option<&TlsSettings> {
        match self {
            Destination::Tls { tls, .. } => Some(tls),
            Destination::Relp { tls, .. } => tls.as_ref(),
            _ => None,
        }
    }

    /// What to call it in messages: the address, the path or `stdout`.
    pub fn describe(&self) -> String {
        match self {
            Destination::Tls { address, .. }
            | Destination::Relp { address, .. }
            | Destination::Tcp { address }
            | Destination::Udp { address } => address.clone(),
            Destination::Unix { path } | Destination::File { path } => path.display().to_string(),
            Destination::Stdout => "stdout".into(),
        }
    }
}

/// A validated output.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputConfig {
    /// `name`: unique among the outputs; letters, digits, `-_.`, as it names the dead-letter
    /// file and appears in every message about the output.
    pub name: String,
    /// Where the records go (`type` with `address` or `path`, and the TLS keys).
    pub destination: Destination,
    /// `format`: `cef` (default), `leef` or `json`.
    pub format: Format,
    /// `mapping`: a mapping file of `format`, a relative path resolved against the config
    /// file's folder; `None`: the built-in mapping of the format.
    pub mapping: Option<PathBuf>,
    /// `syslog`: the envelope (default rfc5424; rfc3164 on unix; none on file and stdout).
    pub syslog: SyslogFormat,
    /// `framing`: how records are delimited on the wire (default octet counting on tcp; TLS
    /// always octet counting, file and stdout LF, udp and unix one record per datagram).
    pub framing: Framing,
    /// `facility` of the envelope (default `local0`).
    pub facility: Facility,
    /// `hostname` of the envelope; `None`: this machine's name.
    pub hostname: Option<String>,
    /// `app_name` of the envelope (default `siemfwd`).
    pub app_name: String,
    /// `procid` of the envelope (default `-`, none).
    pub procid: String,
    /// `msgid` of the envelope (default `-`, none).
    pub msgid: String,
    /// `timestamp`: which time goes into the envelope (default the alert's lastUpdateTime).
    pub timestamp: TimeSource,
    /// The longest record on the wire, envelope and framing included.
    pub max_message_bytes: usize,
    /// Records are grouped into batches of at most this many bytes (one write each).
    pub batch_max_bytes: usize,
    /// Timeouts, backoff, queue and resend window (`connect_timeout` ... `replay_window_bytes`).
    pub connection: ConnectionSettings,
}

/// An `[[output]]` that is not valid. Reads `"name": `key`: message`; the caller adds the file
/// and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutputConfigError {
    /// A `name` outside the safe alphabet: it names the output's dead-letter file.
    #[error("`name`: \"{0}\" must be letters, digits, '-', '_' or '.' (it names files)")]
    Name(String),
    /// One key of the output is wrong.
    #[error("\"{output}\": `{key}`: {problem}")]
    Key {
        /// The output's `name`.
        output: String,
        /// The key as written in the config file, e.g. `address`.
        key: &'static str,
        /// What is wrong with it and what is allowed.
        problem: String,
    },
}

/// An `address` that is not `host:port`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// No `:` and port at all.
    #[error("`{0}` is not \"host:port\"")]
    NotHostPort(String),
    /// Nothing before the `:port`.
    #[error("`{0}` has no host")]
    NoHost(String),
    /// An IPv6 address without brackets: where the port starts is ambiguous.
    #[error("`{0}`: write an IPv6 address as \"[addr]:port\"")]
    Ipv6Unbracketed(String),
    /// A port that is not a number 1–65535.
    #[error("`{address}`: `{port}` is not a port number")]
    Port {
        /// The `address` as written.
        address: String,
        /// What stood where the port goes.
        port: String,
    },
}

const MIB: usize = 1024 * 1024;

/// The values of an output's `type`.
const OUTPUT_TYPES: &[&str] = &["tls", "relp", "tcp", "udp", "unix", "file", "stdout"];
/// `relp_window` unless set: librelp's own window.
pub const DEFAULT_RELP_WINDOW: usize = 128;
/// One record at a time at least; rsyslog's imrelp keeps at most 1,024 unanswered per session
/// by default, and more only holds more records in memory.
const RELP_WINDOW: RangeInclusive<usize> = 1..=1024;

/// Smallest `max_message_bytes` accepted: room for an envelope and a minimal record.
const MIN_MESSAGE_BYTES: usize = 480;
/// Largest `max_message_bytes`: receivers are configured in KiB (rsyslog's maxMessageSize is 8 KiB
/// by default, syslog-ng's log-msg-size 64 KiB), so 1 MiB is above any of them already.
const MAX_MESSAGE_BYTES: usize = MIB;
/// Largest `max_message_bytes` of a UDP output: an IPv4 datagram carries at most 65,507 bytes.
const MAX_DATAGRAM_BYTES: usize = 65_000;
/// A batch is one write, and its buffer is allocated whole (plus one record) before it fills:
/// 64 MiB is 256 times the default and more than any socket takes in one write.
const BATCH_MAX_BYTES: usize = 64 * MIB;
impl OutputConfig {
    /// Validates one `[[output]]`. Errors read `"name": key: message` (the caller adds file
    /// and line). Relative paths are resolved against `base`, the config file's folder.
    pub fn from_raw(raw: RawOutput, base: &Path) -> Result<OutputConfig, OutputConfigError> {
        raw.check_name()?;
        let destination = raw.destination(base)?;
        let format = match &raw.format {
            Some(f) => f.parse().map_err(|m| raw.err("format", m))?,
            None => Format::Cef,
        };
        let envelope = raw.envelope()?;
        let max_message_bytes = raw.max_message_bytes()?;
        let connection = raw.connection()?;
        // Below one record, a batch is raised to one record: it must hold the longest.
        let batch_max_bytes = raw
            .number(
                "batch_max_bytes",
                raw.batch_max_bytes,
                256 * 1024,
                0..=BATCH_MAX_BYTES,
            )?
            .max(max_message_bytes);
        Ok(OutputConfig {
            destination,
            format,
            mapping: raw.mapping.as_deref().map(|p| base.join(p)),
            syslog: envelope.syslog,
            framing: envelope.framing,
            facility: envelope.facility,
            hostname: raw.hostname,
            app_name: raw.app_name.unwrap_or_else(|| "siemfwd".into()),
            procid: raw.procid.unwrap_or_else(|| "-".into()),
            msgid: raw.msgid.unwrap_or_else(|| "-".into()),
            timestamp: envelope.timestamp,
            max_message_bytes,
            batch_max_bytes,
            connection,
            name: raw.name,
        })
    }
}

/// The syslog envelope and framing of an output, validated together (their defaults depend
/// on the output's type).
struct Envelope {
    syslog: SyslogFormat,
    framing: Framing,
    facility: Facility,
    timestamp: TimeSource,
}

/// The per-group checks of [`OutputConfig::from_raw`], in the order it runs them: the first
/// error found is the one reported.
impl RawOutput {
    /// `"name": `key`: message`.
    fn err(&self, key: &'static str, message: impl std::fmt::Display) -> OutputConfigError {
        OutputConfigError::Key {
            output: self.name.clone(),
            key,
            problem: message.to_string(),
        }
    }

    /// A TLS, TCP or UDP output (`address`), not a local one (`path`).
    fn is_network(&self) -> bool {
        matches!(self.kind.as_str(), "tls" | "relp" | "tcp" | "udp")
    }

    /// File and stdout: one record per line, no syslog envelope unless asked.
    fn is_lines(&self) -> bool {
        matches!(self.kind.as_str(), "file" | "stdout")
    }

    /// `name` names files (dead letters), so it is kept to a safe alphabet.
    fn check_name(&self) -> Result<(), OutputConfigError> {
        if !is_file_name(&self.name) {
            return Err(OutputConfigError::Name(self.name.clone()));
        }
        Ok(())
    }

    /// `type` with `address` or `path`, and the TLS keys of a tls output.
    fn destination(&self, base: &Path) -> Result<Destination, OutputConfigError> {
        let kind = self.kind.as_str();
        if !OUTPUT_TYPES.contains(&kind) {
            // Said first: a wrong type is not to be blamed on the keys that go with the right one.
            let meant = crate::settings::closest(kind, OUTPUT_TYPES)
                .map(|m| format!("; did you mean `{m}`?"))
                .unwrap_or_default();
            return Err(self.err(
                "type",
                format!(
                    "unknown output type `{kind}`: one of {} (lower case){meant}",
                    OUTPUT_TYPES.join(", ")
                ),
            ));
        }
        if self.is_network() && self.path.is_some() {
            return Err(self.err(
                "path",
                format!("a {kind} output takes `address`, not `path`"),
            ));
        }
        if !self.is_network() && self.address.is_some() {
            return Err(self.err(
                "address",
                format!("a {kind} output takes no `address` (file and unix take `path`)"),
            ));
        }
        self.check_no_tls_keys()?;
        if kind != "relp" {
            for (key, set) in [
                ("tls", self.tls.is_some()),
                ("relp_window", self.relp_window.is_some()),
            ] {
                if set {
                    return Err(self.err(key, format!("only a relp output has `{key}`")));
                }
            }
        }
        Ok(match kind {
            "tls" => {
                let address = self.address()?;
                let tls = self.tls(&address, base)?;
                Destination::Tls { address, tls }
            }
            "relp" => {
                if self.replay_window_bytes.is_some() {
                    return Err(self.err(
                        "replay_window_bytes",
                        "a relp output sends again what the receiver did not acknowledge: it has no replay window",
                    ));
                }
                let address = self.address()?;
                let tls = match self.tls {
                    Some(true) => Some(self.tls(&address, base)?),
                    _ => None,
                };
                let window =
                    number_in(self.relp_window.unwrap_or(DEFAULT_RELP_WINDOW), RELP_WINDOW)
                        .map_err(|m| self.err("relp_window", m))?;
                Destination::Relp {
                    address,
                    tls,
                    window,
                }
            }
            "tcp" => Destination::Tcp {
                address: self.address()?,
            },
            "udp" => Destination::Udp {
                address: self.address()?,
            },
            "unix" => Destination::Unix {
                path: self
                    .path
                    .as_deref()
                    .map(|p| base.join(p))
                    .unwrap_or_else(|| PathBuf::from("/dev/log")),
            },
            "file" => Destination::File {
                path: self
                    .path
                    .as_deref()
                    .map(|p| base.join(p))
                    .ok_or_else(|| self.err("path", "a file output needs a path"))?,
            },
            "stdout" => {
                if self.path.is_some() {
                    return Err(self.err("path", "stdout takes no path"));
                }
                Destination::Stdout
            }
            other => {
                return Err(self.err(
                    "type",
                    format!(
                        "unknown output type `{other}` (tls, relp, tcp, udp, unix, file or stdout)"
                    ),
                ));
            }
        })
    }

    /// `address` of a network output, required.
    fn address(&self) -> Result<String, OutputConfigError> {
        let kind = &self.kind;
        let a = self
            .address
            .clone()
            .ok_or_else(|| self.err("address", format!("a {kind} output needs \"host:port\"")))?;
        check_address(&a).map_err(|m| self.err("address", m))?;
        Ok(a)
    }

    /// `syslog`, `framing`, `facility` and `timestamp`.
    fn envelope(&self) -> Result<Envelope, OutputConfigError> {
        let kind = self.kind.as_str();
        let syslog = match &self.syslog {
            Some(s) => s.parse().map_err(|m| self.err("syslog", m))?,
            None if self.is_lines() => SyslogFormat::None,
            // What local syslog daemons (rsyslog's imuxsock, journald) read on /dev/log.
            None if kind == "unix" => SyslogFormat::Rfc3164,
            None => SyslogFormat::Rfc5424,
        };
        let framing = self.framing()?;
        let facility = match &self.facility {
            Some(f) => f.parse().map_err(|m| self.err("facility", m))?,
            None => Facility::LOCAL0,
        };
        let timestamp = match self.timestamp.as_deref() {
            None | Some("alert") => TimeSource::Alert,
            Some("now") => TimeSource::Now,
            Some(other) => {
                return Err(self.err(
                    "timestamp",
                    format!(
                        "unknown timestamp `{other}` (\"alert\": the alert's lastUpdateTime, or \"now\")"
                    ),
                ));
            }
        };
        Ok(Envelope {
            syslog,
            framing,
            facility,
            timestamp,
        })
    }

    /// `framing`: what the output's type allows, and its default.
    fn framing(&self) -> Result<Framing, OutputConfigError> {
        let kind = self.kind.as_str();
        Ok(match (self.framing.as_deref(), kind) {
            (None, "tls" | "tcp") => Framing::OctetCounting,
            (None, "file" | "stdout") => Framing::Lf,
            (None, _) => Framing::Datagram,
            (Some(_), "relp") => {
                return Err(self.err(
                    "framing",
                    "RELP frames each record itself: a relp output takes no `framing`",
                ));
            }
            (Some("octet-counting"), "tls" | "tcp") => Framing::OctetCounting,
            (Some("lf"), "tcp" | "file" | "stdout") => Framing::Lf,
            (Some("lf"), "tls") => {
                return Err(self.err(
                    "framing",
                    "TLS always uses octet counting (RFC 5425); LF framing is for plain tcp",
                ));
            }
            (Some(f @ ("octet-counting" | "lf")), _) => {
                return Err(self.err(
                    "framing",
                    format!(
                        "`{f}` does not apply to a {kind} output ({})",
                        if self.is_lines() {
                            "one record per line"
                        } else {
                            "one record per datagram"
                        }
                    ),
                ));
            }
            (Some(other), _) => {
                return Err(self.err(
                    "framing",
                    format!("unknown framing `{other}` (octet-counting or lf)"),
                ));
            }
        })
    }

    /// `max_message_bytes`, whose default and bounds depend on the output's type.
    fn max_message_bytes(&self) -> Result<usize, OutputConfigError> {
        let udp = self.kind == "udp";
        let streamed = matches!(self.kind.as_str(), "tls" | "relp" | "tcp");
        let max_message_bytes = self
            .max_message_bytes
            .unwrap_or(if streamed || self.is_lines() {
                8192
            } else {
                2048
            });
        let most = if udp {
            MAX_DATAGRAM_BYTES
        } else {
            MAX_MESSAGE_BYTES
        };
        number_in(max_message_bytes, MIN_MESSAGE_BYTES..=most).map_err(|m| {
            let why = if udp {
                "; a UDP datagram carries at most 65,000 bytes here"
            } else {
                ""
            };
            self.err("max_message_bytes", format!("{m}{why}"))
        })
    }

    /// A duration key within `(min, max)`, or `default`.
    fn duration(
        &self,
        key: &'static str,
        value: &Option<String>,
        default: Duration,
        (min, max): (Duration, Duration),
    ) -> Result<Duration, OutputConfigError> {
        value
            .as_deref()
            .map(|v| parse_duration_in(v, min, max))
            .transpose()
            .map_err(|m| self.err(key, m))
            .map(|d| d.unwrap_or(default))
    }

    /// A number key within `range`, or `default` (which must be in it too).
    fn number(
        &self,
        key: &'static str,
        value: Option<usize>,
        default: usize,
        range: RangeInclusive<usize>,
    ) -> Result<usize, OutputConfigError> {
        number_in(value.unwrap_or(default), range).map_err(|m| self.err(key, m))
    }
}

/// `host:port`, with `[v6]:port` for IPv6 literals.
fn check_address(a: &str) -> Result<(), AddressError> {
    let (host, port) = a
        .rsplit_once(':')
        .ok_or_else(|| AddressError::NotHostPort(a.to_owned()))?;
    if host.is_empty() {
        return Err(AddressError::NoHost(a.to_owned()));
    }
    if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
        return Err(AddressError::Ipv6Unbracketed(a.to_owned()));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(()),
        _ => Err(AddressError::Port {
            address: a.to_owned(),
            port: port.to_owned(),
        }),
    }
}

/// The host part of a checked `host:port`, without IPv6 brackets.
pub fn host_of(address: &str) -> &str {
    let host = address.rsplit_once(':').map_or(address, |(h, _)| h);
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}
