//! The syslog envelope: RFC 5424 (`<PRI>1 TIMESTAMP HOST APP PROCID MSGID - MSG`), RFC 3164
//! (`<PRI>Mmm dd hh:mm:ss HOST TAG: MSG`) or none.
//!
//! Header fields are checked once, when the envelope is built: printable US-ASCII without
//! spaces and within RFC 5424's lengths, so a host name from the machine or the config cannot
//! break the header. RFC 3164 always gets a TAG, because without one both rsyslog and syslog-ng
//! take `CEF:` for the program name.

use std::fmt::Write;
use std::str::FromStr;

use crate::alert::{Alert, Timestamp};

/// Which envelope goes around each record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyslogFormat {
    /// RFC 5424: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - ` (`syslog = "rfc5424"`,
    /// the default for network outputs).
    Rfc5424,
    /// RFC 3164, the BSD format: `<PRI>Mmm dd hh:mm:ss HOSTNAME APP-NAME[PROCID]`
    /// (`"rfc3164"`, the default for the local syslog socket).
    Rfc3164,
    /// No header: the record alone (`"none"`, the default for files and stdout).
    None,
}

impl FromStr for SyslogFormat {
    type Err = EnvelopeSettingError;
    fn from_str(s: &str) -> Result<Self, EnvelopeSettingError> {
        match s {
            "rfc5424" => Ok(SyslogFormat::Rfc5424),
            "rfc3164" => Ok(SyslogFormat::Rfc3164),
            "none" => Ok(SyslogFormat::None),
            other => Err(EnvelopeSettingError::SyslogFormat(other.to_owned())),
        }
    }
}

/// A `syslog` or `facility` setting that names no envelope or facility.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeSettingError {
    /// A `syslog` value other than `rfc5424`, `rfc3164` or `none`.
    #[error("unknown syslog format `{0}` (rfc5424, rfc3164 or none)")]
    SyslogFormat(String),
    /// A `facility` that is neither a name nor a number 0–23.
    #[error("unknown facility `{0}` (kern, user, ..., local0-local7, or 0-23)")]
    Facility(String),
}

/// Which time goes into the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeSource {
    /// The alert's lastUpdateTime (when the alert has none: now). The SIEM then orders events
    /// by when they changed in Defender, also when they are replayed.
    #[default]
    Alert,
    /// When the record is written.
    Now,
}

/// Syslog facilities (RFC 5424 §6.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facility(u8);

impl Facility {
    /// `local0` (16), the default `facility`.
    pub(crate) const LOCAL0: Facility = Facility(16);

    /// Its number, 0–23: PRI is this × 8 + the severity.
    pub fn code(self) -> u8 {
        self.0
    }
}

impl FromStr for Facility {
    type Err = EnvelopeSettingError;
    fn from_str(s: &str) -> Result<Self, EnvelopeSettingError> {
        const NAMES: [&str; 24] = [
            "kern",
            "user",
            "mail",
            "daemon",
            "auth",
            "syslog",
            "lpr",
            "news",
            "uucp",
            "cron",
            "authpriv",
            "ftp",
            "ntp",
            "security",
            "console",
            "solaris-cron",
            "local0",
            "local1",
            "local2",
            "local3",
            "local4",
            "local5",
            "local6",
            "local7",
        ];
        NAMES
            .iter()
            .position(|n| *n == s)
            .map(|i| Facility(i as u8))
            .or_else(|| s.parse::<u8>().ok().filter(|n| *n < 24).map(Facility))
            .ok_or_else(|| EnvelopeSettingError::Facility(s.to_owned()))
    }
}

/// A header field that cannot go into a syslog header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("syslog {field} `{value}` is not valid: {why}")]
pub struct EnvelopeError {
    field: &'static str,
    value: String,
    why: String,
}

/// The envelope settings of one output.
#[derive(Debug, Clone)]
pub struct Envelope {
    format: SyslogFormat,
    facility: Facility,
    hostname: String,
    app_name: String,
    procid: String,
    msgid: String,
    time: TimeSource,
}

fn check(field: &'static str, value: &str, max: usize) -> Result<(), EnvelopeError> {
    let err = |why: &str| EnvelopeError {
        field,
        value: value.chars().take(80).collect(),
        why: why.into(),
    };
    if value.is_empty() {
        return Err(err("it is empty (use - for none)"));
    }
    if value.len() > max {
        return Err(err(&format!("longer than {max} characters")));
    }
    if !value.bytes().all(|b| (33..=126).contains(&b)) {
        return Err(err("only printable US-ASCII without spaces is allowed"));
    }
    Ok(())
}

/// The machine's host name, or `-` when it cannot be read or is not a valid header field.
pub fn local_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|h| check("HOSTNAME", h, 255).is_ok())
        .unwrap_or_else(|| "-".into())
}

impl Envelope {
    /// Builds and checks an envelope. `procid` and `msgid` may be `-`.
    pub fn new(
        format: SyslogFormat,
        facility: Facility,
        hostname: &str,
        app_name: &str,
        procid: &str,
        msgid: &str,
    ) -> Result<Envelope, EnvelopeError> {
        check("HOSTNAME", hostname, 255)?;
        check("APP-NAME", app_name, 48)?;
        check("PROCID", procid, 128)?;
        check("MSGID", msgid, 32)?;
        if format == SyslogFormat::Rfc3164 && (app_name == "-" || app_name.len() > 32) {
            return Err(EnvelopeError {
                field: "TAG",
                value: app_name.into(),
                why: "RFC 3164 needs a TAG of 1 to 32 characters".into(),
            });
        }
        Ok(Envelope {
            format,
            facility,
            hostname: hostname.into(),
            app_name: app_name.into(),
            procid: procid.into(),
            msgid: msgid.into(),
            time: TimeSource::Alert,
        })
    }

    /// Takes the header time from `time` instead of the alert.
    pub fn with_time_source(mut self, time: TimeSource) -> Envelope {
        self.time = time;
        self
    }

    /// RFC 5424 with this machine's name, app `siemfwd`, facility local0.
    pub fn default_for(format: SyslogFormat) -> Envelope {
        // `local_hostname` returns only names that pass the same check, or "-".
        #[allow(clippy::expect_used)]
        Envelope::new(
            format,
            Facility::LOCAL0,
            &local_hostname(),
            "siemfwd",
            "-",
            "-",
        )
        .expect("the defaults are valid")
    }

    /// Which header it writes.
    pub fn format(&self) -> SyslogFormat {
        self.format
    }

    /// Syslog severity for an alert: High 2 (critical), Medium 3 (error), Low 4 (warning),
    /// Informational 6 (informational), anything else 5 (notice).
    pub fn severity_of(alert: &Alert<'_>) -> u8 {
        match alert.severity.as_deref() {
            Some("High") => 2,
            Some("Medium") => 3,
            Some("Low") => 4,
            Some("Informational") => 6,
            _ => 5,
        }
    }

    /// Appends the header for `alert` to `out`; the record follows it directly. The timestamp
    /// is the alert's lastUpdateTime, or `now` when it has none or the envelope says
    /// [`TimeSource::Now`].
    pub fn write_header(&self, alert: &Alert<'_>, now: Timestamp, out: &mut Vec<u8>) {
        if self.format == SyslogFormat::None {
            return;
        }
        let pri = u16::from(self.facility.code()) * 8 + u16::from(Self::severity_of(alert));
        let time = match self.time {
            TimeSource::Alert => alert.last_update_time.unwrap_or(now),
            TimeSource::Now => now,
        };
        let mut s = String::with_capacity(96);
        match self.format {
            SyslogFormat::Rfc5424 => {
                let _ = write!(s, "<{pri}>1 ");
                time.write_rfc3339(time.fraction_digits().min(6), &mut s);
                let _ = write!(
                    s,
                    " {} {} {} {} - ",
                    self.hostname, self.app_name, self.procid, self.msgid
                );
            }
            SyslogFormat::Rfc3164 => {
                let mut iso = String::with_capacity(30);
                time.write_rfc3339(0, &mut iso);
                // iso = YYYY-MM-DDTHH:MM:SSZ
                const MONTHS: [&str; 12] = [
                    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                    "Dec",
                ];
                let month: usize = iso[5..7].parse().unwrap_or(1);
                let day: u8 = iso[8..10].parse().unwrap_or(1);
                let _ = write!(
                    s,
                    "<{pri}>{} {day:>2} {} {} {}",
                    MONTHS[month - 1],
                    &iso[11..19],
                    self.hostname,
                    self.app_name
                );
                if self.procid != "-" {
                    let _ = write!(s, "[{}]", self.procid);
                }
                s.push_str(": ");
            }
            SyslogFormat::None => {}
        }
        out.extend_from_slice(s.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(format: SyslogFormat, json: &str) -> String {
        let env = Envelope::new(format, Facility::LOCAL0, "fwd01", "siemfwd", "-", "-").unwrap();
        let alert = Alert::from_json(json).unwrap();
        let mut out = Vec::new();
        env.write_header(
            &alert,
            Timestamp::parse("2026-01-02T03:04:05Z").unwrap(),
            &mut out,
        );
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn rfc5424_uses_the_alert_time_with_at_most_six_digits() {
        assert_eq!(
            header(
                SyslogFormat::Rfc5424,
                r#"{"severity":"High","lastUpdateTime":"2026-11-22T10:15:57.7220239Z"}"#
            ),
            "<130>1 2026-11-22T10:15:57.722023Z fwd01 siemfwd - - - "
        );
        assert_eq!(
            header(SyslogFormat::Rfc5424, "{}"),
            "<133>1 2026-01-02T03:04:05Z fwd01 siemfwd - - - "
        );
    }

    #[test]
    fn rfc3164_pads_the_day_and_always_has_a_tag() {
        assert_eq!(
            header(
                SyslogFormat::Rfc3164,
                r#"{"severity":"Low","lastUpdateTime":"2026-11-02T10:15:57.7Z"}"#
            ),
            "<132>Nov  2 10:15:57 fwd01 siemfwd: "
        );
        assert!(
            Envelope::new(SyslogFormat::Rfc3164, Facility::LOCAL0, "h", "-", "-", "-").is_err()
        );
    }

    #[test]
    fn header_fields_are_checked() {
        let bad = Envelope::new(
            SyslogFormat::Rfc5424,
            Facility::LOCAL0,
            "my host",
            "a",
            "-",
            "-",
        );
        assert!(bad.unwrap_err().to_string().contains("HOSTNAME `my host`"));
        assert!(
            Envelope::new(
                SyslogFormat::Rfc5424,
                Facility::LOCAL0,
                "h",
                &"a".repeat(49),
                "-",
                "-"
            )
            .is_err()
        );
        assert!(
            Envelope::new(SyslogFormat::Rfc5424, Facility::LOCAL0, "h", "a", "-", "ü").is_err()
        );
        assert_eq!("local4".parse::<Facility>().unwrap().code(), 20);
        assert!("local9".parse::<Facility>().is_err());
    }
}
