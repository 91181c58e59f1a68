//! Where a tenant's forwarding stands: the cursor and the versions recently delivered, kept in
//! `state_dir/checkpoints/<tenant>.json` and replaced atomically after every delivered window.
//!
//! The cursor is the end of the last window whose every alert version reached every output:
//! each version with an earlier lastUpdateTime has been delivered, as far as the API showed it.
//! The next window starts `overlap` before the cursor, to catch versions that became visible
//! late; the recent set (versions delivered at or after `cursor - overlap`) keeps that overlap
//! from sending them twice.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::alert::Timestamp;

/// One alert version: its id and lastUpdateTime. Two keys are the same version when their
/// times are the same instant, however many fraction digits each was written with (the API
/// writes 0 to 7; the checkpoint always 7).
#[derive(Debug, Clone)]
pub(crate) struct VersionKey {
    /// The alert's `id`.
    pub(crate) id: String,
    /// Its `lastUpdateTime`, none when the API sent none.
    pub(crate) last_update: Option<Timestamp>,
}

impl VersionKey {
    fn instant(&self) -> (&str, Option<i64>) {
        (&self.id, self.last_update.map(Timestamp::unix_nanos))
    }
}

impl PartialEq for VersionKey {
    fn eq(&self, other: &Self) -> bool {
        self.instant() == other.instant()
    }
}

impl Eq for VersionKey {}

impl std::hash::Hash for VersionKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.instant().hash(state);
    }
}

/// A tenant's checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Checkpoint {
    /// `None` before the first delivered window.
    pub(crate) cursor: Option<Timestamp>,
    /// The versions delivered within `overlap` of the cursor: the next poll's window starts
    /// that much earlier and skips these.
    pub(crate) recent: HashSet<VersionKey>,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    tenant_id: String,
    cursor: Option<String>,
    /// `id` and lastUpdateTime of each recent version.
    recent: Vec<(String, Option<String>)>,
    updated_at: String,
}

/// A checkpoint that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The file exists but cannot be read (permissions, I/O).
    #[error("cannot read the checkpoint {path}: {source}")]
    Read {
        /// `state_dir/checkpoints/<tenant>.json`.
        path: PathBuf,
        /// Why reading failed.
        source: io::Error,
    },
    /// The file is not a checkpoint: not its JSON, or a time in it that is not a timestamp.
    #[error(
        "the checkpoint {path} is damaged ({message}); move it away to start again from initial_lookback"
    )]
    Damaged {
        /// `state_dir/checkpoints/<tenant>.json`.
        path: PathBuf,
        /// What is wrong with it, in words.
        message: String,
    },
    /// The file was written for another `tenant_id` under the same tenant name: its cursor
    /// says nothing about this tenant's alerts.
    #[error(
        "the checkpoint {path} belongs to tenant id {found}, not {expected}; move it away if the tenant really changed"
    )]
    OtherTenant {
        /// `state_dir/checkpoints/<tenant>.json`.
        path: PathBuf,
        /// The tenant id in the file.
        found: String,
        /// The tenant's configured `tenant_id`.
        expected: String,
    },
    /// The new checkpoint could not be written (disk full, permissions); the old one stays.
    #[error("cannot save the checkpoint {path}: {source}{}", fix_for(source))]
    Write {
        /// `state_dir/checkpoints/<tenant>.json`.
        path: PathBuf,
        /// Why writing failed.
        source: io::Error,
    },
    /// The cursor is later than now plus [`FUTURE_TOLERANCE`]: forwarding from it would skip
    /// every alert changed in between.
    #[error(
        "the checkpoint {path} says alerts were delivered up to {cursor}, later than now ({now}): the clock was ahead when it was written, or the file was edited; alerts changed before that time would never be fetched. Delete the file to start again from initial_lookback, or set its \"cursor\" to the last time you know was delivered (before {now})"
    )]
    InTheFuture {
        /// `state_dir/checkpoints/<tenant>.json`.
        path: PathBuf,
        /// The cursor in the file.
        cursor: Timestamp,
        /// The clock when the file was read.
        now: Timestamp,
    },
}

/// How far ahead of now a cursor may be before it is refused: clocks of two machines, or of
/// one machine before and after an NTP step, differ by seconds, not minutes.
pub const FUTURE_TOLERANCE: Duration = Duration::from_secs(300);

/// Reads and writes one tenant's checkpoint.
#[derive(Debug, Clone)]
pub(crate) struct CheckpointStore {
    path: PathBuf,
    tenant_id: String,
}

impl CheckpointStore {
    pub fn new(state_dir: &Path, tenant: &str, tenant_id: &str) -> CheckpointStore {
        CheckpointStore {
            path: state_dir.join("checkpoints").join(format!("{tenant}.json")),
            tenant_id: tenant_id.to_owned(),
        }
    }

    /// The stored checkpoint if its cursor is not later than `now` (with
    /// [`FUTURE_TOLERANCE`]), or an empty one when there is none yet.
    pub fn load_at(&self, now: Timestamp) -> Result<Checkpoint, CheckpointError> {
        let checkpoint = self.load()?;
        let limit = now
            .unix_nanos()
            .saturating_add(FUTURE_TOLERANCE.as_nanos() as i64);
        match checkpoint.cursor {
            Some(cursor) if cursor.unix_nanos() > limit => Err(CheckpointError::InTheFuture {
                path: self.path.clone(),
                cursor,
                now,
            }),
            _ => Ok(checkpoint),
        }
    }

    /// The stored checkpoint, or an empty one when there is none yet.
    pub fn load(&self) -> Result<Checkpoint, CheckpointError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Checkpoint::default()),
            Err(source) => {
                return Err(CheckpointError::Read {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let damaged = |message: String| CheckpointError::Damaged {
            path: self.path.clone(),
            message,
        };
        let stored: Stored = serde_json::from_slice(&bytes).map_err(|e| damaged(e.to_string()))?;
        if !stored.tenant_id.eq_ignore_ascii_case(&self.tenant_id) {
            return Err(CheckpointError::OtherTenant {
                path: self.path.clone(),
                found: stored.tenant_id,
                expected: self.tenant_id.clone(),
            });
        }
        let time = |s: &str| Timestamp::parse(s).map_err(|e| damaged(format!("{s}: {e}")));
        let cursor = stored.cursor.as_deref().map(time).transpose()?;
        let mut recent = HashSet::with_capacity(stored.recent.len());
        for (id, lut) in stored.recent {
            recent.insert(VersionKey {
                id,
                last_update: lut.as_deref().map(time).transpose()?,
            });
        }
        Ok(Checkpoint { cursor, recent })
    }

    /// Saves `checkpoint` atomically (temp file, fsync, rename).
    pub fn save(&self, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
        let fmt = |t: Timestamp| {
            let mut s = String::new();
            t.write_rfc3339(7, &mut s);
            s
        };
        let mut recent: Vec<(String, Option<String>)> = checkpoint
            .recent
            .iter()
            .map(|k| (k.id.clone(), k.last_update.map(fmt)))
            .collect();
        recent.sort();
        let stored = Stored {
            tenant_id: self.tenant_id.clone(),
            cursor: checkpoint.cursor.map(fmt),
            recent,
            updated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        };
        let bytes = serde_json::to_vec(&stored).map_err(|e| CheckpointError::Write {
            path: self.path.clone(),
            source: io::Error::other(e),
        })?;
        crate::atomic_file::write_atomic(&self.path, &bytes).map_err(|source| {
            CheckpointError::Write {
                path: self.path.clone(),
                source,
            }
        })
    }
}

impl Checkpoint {
    /// After a window ending at `to` was delivered whole: the cursor moves to `to` and the
    /// recent set keeps what the next window (from `to - overlap`) can return again.
    pub fn advance(
        &mut self,
        to: Timestamp,
        delivered: impl IntoIterator<Item = VersionKey>,
        overlap: Duration,
    ) {
        self.recent.extend(delivered);
        let cursor = self.cursor.map_or(to, |c| c.max(to));
        self.cursor = Some(cursor);
        let horizon = cursor.unix_nanos() - overlap.as_nanos() as i64;
        self.recent
            .retain(|k| k.last_update.is_none_or(|t| t.unix_nanos() >= horizon));
    }

    pub fn contains(&self, key: &VersionKey) -> bool {
        self.recent.contains(key)
    }
}

/// What to do about a checkpoint that cannot be written, when the cause says (issue 18).
fn fix_for(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => format!(
            ": state_dir must be writable by the user siemfwd runs as ({}; e.g. chown -R that user the state_dir)",
            crate::atomic_file::current_user()
        ),
        io::ErrorKind::NotFound => {
            ": create state_dir (or a folder on its path) for the user siemfwd runs as".to_owned()
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    fn key(id: &str, lut: &str) -> VersionKey {
        VersionKey {
            id: id.into(),
            last_update: Some(t(lut)),
        }
    }

    /// Regression: a restart re-sent versions whose lastUpdateTime the API wrote with fewer
    /// than 7 fraction digits, because the saved copy (7 digits) compared unequal.
    #[test]
    fn a_version_is_the_same_whatever_its_fraction_digits() {
        let dir = std::env::temp_dir().join(format!("siemfwd-digits-{}", std::process::id()));
        let store = CheckpointStore::new(&dir, "t", "8f0b6c2e-1a2b-4c3d-9e8f-0a1b2c3d4e5f");
        let mut c = Checkpoint::default();
        c.advance(
            t("2026-11-22T10:00:00Z"),
            [
                key("a", "2026-11-22T09:59:38.694Z"),
                key("b", "2026-11-22T09:59:07Z"),
            ],
            Duration::from_secs(600),
        );
        store.save(&c).unwrap();
        let loaded = store.load().unwrap();
        assert!(loaded.contains(&key("a", "2026-11-22T09:59:38.694Z")));
        assert!(loaded.contains(&key("b", "2026-11-22T09:59:07Z")));
        assert!(!loaded.contains(&key("b", "2026-11-22T09:59:07.0000001Z")));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn advancing_keeps_only_the_overlap() {
        let mut c = Checkpoint::default();
        c.advance(
            t("2026-11-22T10:00:00Z"),
            [
                key("a", "2026-11-22T09:40:00Z"),
                key("b", "2026-11-22T09:55:00.1234567Z"),
            ],
            Duration::from_secs(600),
        );
        assert_eq!(c.cursor, Some(t("2026-11-22T10:00:00Z")));
        assert!(
            !c.contains(&key("a", "2026-11-22T09:40:00Z")),
            "older than the overlap"
        );
        assert!(c.contains(&key("b", "2026-11-22T09:55:00.1234567Z")));
        // An empty window still moves the cursor.
        c.advance(t("2026-11-22T10:20:00Z"), [], Duration::from_secs(600));
        assert_eq!(c.cursor, Some(t("2026-11-22T10:20:00Z")));
        assert!(c.recent.is_empty());
    }

    #[test]
    fn checkpoints_round_trip_with_full_precision_and_refuse_another_tenant() {
        let dir = std::env::temp_dir().join(format!("siemfwd-checkpoint-{}", std::process::id()));
        let store = CheckpointStore::new(&dir, "contoso", "8f0b6c2e-1a2b-4c3d-9e8f-0a1b2c3d4e5f");
        assert_eq!(store.load().unwrap(), Checkpoint::default());
        let mut c = Checkpoint::default();
        c.advance(
            t("2026-11-22T10:00:00.0000001Z"),
            [key("x|y", "2026-11-22T09:59:59.9999999Z")],
            Duration::from_secs(600),
        );
        store.save(&c).unwrap();
        assert_eq!(store.load().unwrap(), c);
        let other = CheckpointStore::new(&dir, "contoso", "00000000-0000-0000-0000-000000000000");
        assert!(matches!(
            other.load(),
            Err(CheckpointError::OtherTenant { .. })
        ));
        std::fs::write(store.path.as_path(), b"{not json").unwrap();
        assert!(store.load().unwrap_err().to_string().contains("is damaged"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Regression: a cursor an hour ahead (a clock that ran ahead, then was corrected) made
    /// every poll fetch nothing, silently; alerts before cursor - overlap were never fetched.
    #[test]
    fn a_cursor_later_than_now_is_refused_with_the_fix() {
        let dir = std::env::temp_dir().join(format!("siemfwd-future-{}", std::process::id()));
        let store = CheckpointStore::new(&dir, "t", "8f0b6c2e-1a2b-4c3d-9e8f-0a1b2c3d4e5f");
        let now = t("2026-12-05T10:00:00Z");
        let mut c = Checkpoint::default();
        c.advance(t("2026-12-05T11:00:00Z"), [], Duration::from_secs(600));
        store.save(&c).unwrap();
        let e = store.load_at(now).unwrap_err();
        assert!(matches!(e, CheckpointError::InTheFuture { .. }));
        let text = e.to_string();
        assert!(
            text.contains(&store.path.as_path().display().to_string()),
            "{text}"
        );
        assert!(text.contains("Delete the file"), "{text}");
        // A clock a little behind the one that wrote it is no reason to stop.
        c.cursor = Some(t("2026-12-05T10:04:00Z"));
        store.save(&c).unwrap();
        let loaded = store
            .load_at(now)
            .unwrap()
            .cursor
            .map(Timestamp::unix_nanos);
        assert_eq!(loaded, c.cursor.map(Timestamp::unix_nanos));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_checkpoint_that_cannot_be_written_says_the_fix_for_its_cause() {
        let denied = CheckpointError::Write {
            path: "/var/lib/siemfwd/checkpoints/t.json".into(),
            source: io::Error::from(io::ErrorKind::PermissionDenied),
        }
        .to_string();
        assert!(
            denied.contains("state_dir must be writable by the user siemfwd runs as ("),
            "{denied}"
        );
        let other = CheckpointError::Write {
            path: "/x".into(),
            source: io::Error::other("disk full"),
        };
        assert_eq!(
            other.to_string(),
            "cannot save the checkpoint /x: disk full"
        );
    }
}
