//! Bounded waits on the receivers' line-oriented output files.

use std::path::Path;
use std::time::{Duration, Instant};

/// The complete (newline-terminated) lines of `file` now; empty if it does not exist yet.
pub fn read_lines(file: &Path) -> Vec<String> {
    let Ok(bytes) = std::fs::read(file) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
    if lines.last().is_some_and(|l| !l.ends_with('\n')) {
        lines.pop(); // partially written
    }
    for l in &mut lines {
        l.pop();
    }
    lines
}

/// Polls `file` until it has at least `n` complete lines; returns all of them.
/// `Err` (with what was there) after `timeout`.
pub fn try_wait_for_lines(file: &Path, n: usize, timeout: Duration) -> Result<Vec<String>, String> {
    let deadline = Instant::now() + timeout;
    loop {
        let lines = read_lines(file);
        if lines.len() >= n {
            return Ok(lines);
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "timed out after {timeout:?} waiting for {n} lines in {}: got {}:\n{}",
                file.display(),
                lines.len(),
                preview(&lines)
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Like [`try_wait_for_lines`] but panics on timeout.
pub fn wait_for_lines(file: &Path, n: usize, timeout: Duration) -> Vec<String> {
    try_wait_for_lines(file, n, timeout).unwrap_or_else(|e| panic!("{e}"))
}

/// Polls `file` until a line contains `needle`; returns all lines up to and including it.
/// `Err` after `timeout`.
pub fn try_wait_for_line_containing(
    file: &Path,
    needle: &str,
    timeout: Duration,
) -> Result<Vec<String>, String> {
    let deadline = Instant::now() + timeout;
    loop {
        let mut lines = read_lines(file);
        if let Some(i) = lines.iter().position(|l| l.contains(needle)) {
            lines.truncate(i + 1);
            return Ok(lines);
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "timed out after {timeout:?} waiting for a line containing {needle:?} in {}: got {} lines:\n{}",
                file.display(),
                lines.len(),
                preview(&lines)
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Like [`try_wait_for_line_containing`] but panics on timeout.
pub fn wait_for_line_containing(file: &Path, needle: &str, timeout: Duration) -> Vec<String> {
    try_wait_for_line_containing(file, needle, timeout).unwrap_or_else(|e| panic!("{e}"))
}

/// First lines of `lines`, each cut to 300 chars, for error messages.
pub fn preview(lines: &[String]) -> String {
    let mut s = String::new();
    for l in lines.iter().take(20) {
        let cut: String = l.chars().take(300).collect();
        s.push_str(&cut);
        if cut.len() < l.len() {
            s.push_str("...");
        }
        s.push('\n');
    }
    if lines.len() > 20 {
        s.push_str(&format!("... ({} more)\n", lines.len() - 20));
    }
    s
}
