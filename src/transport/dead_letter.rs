//! Dead-letter files: alerts that could not be read from the API, or whose record could not be
//! made to fit an output, are kept here with the reason, one JSON object per line, never
//! dropped silently.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::reader::MalformedAlert;

/// One rejected alert.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter<'a> {
    /// When it was written (RFC 3339).
    pub time: String,
    /// The output the record was for; none when the alert itself could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<&'a str>,
    /// The `name` of the tenant the alert came from.
    pub tenant: &'a str,
    /// The alert's `id`, when it had one that could be read.
    pub alert_id: Option<&'a str>,
    /// The alert's `lastUpdateTime` (RFC 3339), when it had one: with the id, which version.
    pub last_update_time: Option<String>,
    /// Why it was not sent, in words: the parse error with its position, or the encode error.
    pub reason: String,
    /// The alert's JSON text, when the reader kept it; written on the same line.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "one_line_json"
    )]
    pub alert: Option<&'a str>,
}

impl<'a> DeadLetter<'a> {
    /// An alert that could not be read (no output: it never became a record), kept with its
    /// text when the reader had it.
    pub fn malformed(m: &'a MalformedAlert, tenant: &'a str) -> DeadLetter<'a> {
        DeadLetter {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            output: None,
            tenant,
            alert_id: m.id.as_deref(),
            last_update_time: None,
            reason: m.to_string(),
            alert: m.raw.as_deref(),
        }
    }
}

/// The alert as JSON, without the line breaks a pretty-printed input had.
fn one_line_json<S: serde::Serializer>(alert: &Option<&str>, s: S) -> Result<S::Ok, S::Error> {
    let mut compact = Vec::with_capacity(alert.map_or(0, str::len));
    crate::mapping::json::minify(alert.unwrap_or("null"), &mut compact);
    let text = String::from_utf8(compact).map_err(serde::ser::Error::custom)?;
    let raw = serde_json::value::RawValue::from_string(text).map_err(serde::ser::Error::custom)?;
    raw.serialize(s)
}

/// Appends dead letters to one file (created 0600: it holds alert data).
#[derive(Debug, Clone)]
pub struct DeadLetters {
    path: PathBuf,
}

impl DeadLetters {
    /// Dead letters appended to `path` (usually [`Self::output_path`] or
    /// [`Self::tenant_path`]); the file and its folder are made at the first letter.
    pub fn new(path: PathBuf) -> DeadLetters {
        DeadLetters { path }
    }

    /// `state_dir/dead-letter/<output>.ndjson`: the records `output` could not take.
    pub fn output_path(state_dir: &Path, output: &str) -> PathBuf {
        dead_letter_file(state_dir, output)
    }

    /// `state_dir/dead-letter/tenant-<name>.ndjson`: a tenant's alerts that could not be read,
    /// whatever the output.
    pub fn tenant_path(state_dir: &Path, tenant: &str) -> PathBuf {
        dead_letter_file(state_dir, &format!("tenant-{tenant}"))
    }

    /// The file the letters go to, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `letter` as one JSON line and syncs it to disk before returning: a letter
    /// reported kept is kept.
    pub fn append(&self, letter: &DeadLetter<'_>) -> io::Result<()> {
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir)?;
        }
        let mut line = serde_json::to_vec(letter)?;
        line.push(b'\n');
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.path)?;
        file.write_all(&line)?;
        file.sync_data()
    }
}

/// `state_dir/dead-letter/<stem>.ndjson`.
fn dead_letter_file(state_dir: &Path, stem: &str) -> PathBuf {
    state_dir.join("dead-letter").join(format!("{stem}.ndjson"))
}
