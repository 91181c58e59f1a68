//! Unique temporary directories for receiver tests.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh directory under `std::env::temp_dir()`, removed on drop unless the environment
/// variable `SIEMFWD_KEEP_TEST_DIRS` is set (then its path is printed to stderr).
#[derive(Debug)]
pub struct TestDir {
    path: PathBuf,
}

impl TestDir {
    /// Creates `<tmp>/siemfwd-<prefix>-<pid>-<n>-<nanos>`.
    pub fn new(prefix: &str) -> TestDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "siemfwd-{prefix}-{}-{n}-{nanos:09}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create test dir {}: {e}", path.display()));
        TestDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `self.path().join(rel)`.
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.path.join(rel)
    }

    /// Creates a subdirectory (and parents) and returns its path.
    pub fn mkdir(&self, rel: impl AsRef<Path>) -> PathBuf {
        let p = self.path.join(rel);
        std::fs::create_dir_all(&p)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", p.display()));
        p
    }
}

/// True when `SIEMFWD_KEEP_TEST_DIRS` is set (to anything but an empty string).
pub fn keep_test_dirs() -> bool {
    std::env::var_os("SIEMFWD_KEEP_TEST_DIRS").is_some_and(|v| !v.is_empty())
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if keep_test_dirs() {
            eprintln!("keeping test dir {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
