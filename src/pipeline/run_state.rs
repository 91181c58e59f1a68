//! What `run` last said of a tenant that is not well: `state_dir/run-state/<tenant>.json`,
//! read by `check` and `auth status`, which run as other processes.
//!
//! A tenant that keeps failing (polls that fail, a task that panics) or that stopped for good
//! must not look idle to an operator who asks. The file exists only while the tenant is not
//! well: the first delivered poll removes it, so a healthy fleet writes nothing.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// How a tenant stands, as `run` last saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Polls or the task fail; `run` retries with backoff.
    Failing,
    /// The tenant is not forwarded until an operator acts (consent, checkpoint).
    Stopped,
}

/// The record on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunState {
    /// Failing (retried) or stopped (waits for an operator).
    pub health: Health,
    /// When it started to fail (RFC 3339).
    pub since: String,
    /// Failures in a row.
    pub failures: u32,
    /// The latest failure, in words.
    pub last_error: String,
    /// When the record was last written (RFC 3339).
    pub updated_at: String,
}

/// One tenant's record, kept in memory by its writer so that a healthy poll costs nothing.
#[derive(Debug, Clone)]
pub struct RunStateFile {
    path: PathBuf,
    current: Option<RunState>,
}

fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl RunStateFile {
    fn path_for(state_dir: &Path, tenant: &str) -> PathBuf {
        state_dir.join("run-state").join(format!("{tenant}.json"))
    }

    /// The writer of `tenant`'s record; a record left by an earlier run is kept (and counted
    /// on) until this run delivers a poll.
    pub fn new(state_dir: &Path, tenant: &str) -> RunStateFile {
        let path = RunStateFile::path_for(state_dir, tenant);
        let current = RunStateFile::read(&path);
        RunStateFile { path, current }
    }

    /// The record of `tenant`, if `run` left one.
    pub fn load(state_dir: &Path, tenant: &str) -> Option<RunState> {
        RunStateFile::read(&RunStateFile::path_for(state_dir, tenant))
    }

    fn read(path: &Path) -> Option<RunState> {
        serde_json::from_slice(&std::fs::read(path).ok()?).ok()
    }

    /// A poll was delivered: the tenant is well again.
    pub fn ok(&mut self) {
        if self.current.take().is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }

    pub(crate) fn failing(&mut self, error: &str) {
        self.record(Health::Failing, error);
    }

    pub(crate) fn stopped(&mut self, error: &str) {
        self.record(Health::Stopped, error);
    }

    fn record(&mut self, health: Health, error: &str) {
        let now = now_text();
        let state = match self.current.take() {
            Some(s) => RunState {
                health,
                since: s.since,
                failures: s.failures.saturating_add(1),
                last_error: error.to_owned(),
                updated_at: now,
            },
            None => RunState {
                health,
                since: now.clone(),
                failures: 1,
                last_error: error.to_owned(),
                updated_at: now,
            },
        };
        // Best effort: the log already said it; a state_dir that cannot be written is
        // reported by the checkpoint that follows.
        if let Ok(bytes) = serde_json::to_vec_pretty(&state) {
            if let Err(e) = crate::atomic_file::write_atomic(&self.path, &bytes) {
                tracing::warn!("cannot write {}: {e}", self.path.display());
            }
        }
        self.current = Some(state);
    }
}

impl RunState {
    /// One line for `check` and `auth status`.
    pub fn describe(&self) -> String {
        let what = match self.health {
            Health::Failing => "siemfwd run reports it failing",
            Health::Stopped => "siemfwd run stopped it",
        };
        format!(
            "{what} since {} ({} in a row, last at {}): {}",
            self.since,
            if self.failures == 1 {
                "1 failure".to_owned()
            } else {
                format!("{} failures", self.failures)
            },
            self.updated_at,
            self.last_error
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_lives_while_the_tenant_fails_and_goes_with_the_first_good_poll() {
        let dir = std::env::temp_dir().join(format!("siemfwd-run-state-{}", std::process::id()));
        let mut file = RunStateFile::new(&dir, "t");
        file.ok();
        assert_eq!(
            RunStateFile::load(&dir, "t"),
            None,
            "a healthy tenant writes nothing"
        );
        file.failing("the alerts API is unavailable");
        file.failing("the task panicked");
        let state = RunStateFile::load(&dir, "t").unwrap();
        assert_eq!(state.health, Health::Failing);
        assert_eq!(state.failures, 2);
        assert!(
            state.describe().contains("2 failures in a row"),
            "{}",
            state.describe()
        );
        assert!(state.describe().ends_with("the task panicked"));
        // Another run picks it up and counts on.
        let mut again = RunStateFile::new(&dir, "t");
        again.stopped("re-consent needed");
        let state = RunStateFile::load(&dir, "t").unwrap();
        assert_eq!((state.health, state.failures), (Health::Stopped, 3));
        again.ok();
        assert_eq!(RunStateFile::load(&dir, "t"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
