//! `replay`'s progress line on a terminal (indicatif), and the log lines printed above it
//! rather than through it (issue 16: a throttled replay's line froze and WARN lines were
//! written into it).

use std::io::{self, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing_subscriber::fmt::MakeWriter;

/// The bar shown now, if any: log lines are printed with it suspended.
static SHOWN: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// A progress line on stderr, with a spinner that turns even while every tenant waits (a
/// throttled replay is not a hung one). Log lines are printed above it while it is shown.
pub struct ProgressLine {
    bar: ProgressBar,
}

impl ProgressLine {
    /// Shows `text` as a line on stderr.
    pub fn show(text: String) -> ProgressLine {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {wide_msg}") {
            bar.set_style(style);
        }
        bar.set_message(text);
        bar.enable_steady_tick(Duration::from_millis(120));
        if let Ok(mut shown) = SHOWN.lock() {
            *shown = Some(bar.clone());
        }
        ProgressLine { bar }
    }

    /// Replaces the line's text.
    pub fn set(&self, text: String) {
        self.bar.set_message(text);
    }

    /// Leaves `text` as the line's last state, and the line for the output that follows.
    pub fn finish(self, text: String) {
        self.bar.finish_with_message(text);
        // The line stays; what follows starts below it.
        eprintln!();
    }
}

impl Drop for ProgressLine {
    fn drop(&mut self) {
        if let Ok(mut shown) = SHOWN.lock() {
            *shown = None;
        }
        if !self.bar.is_finished() {
            self.bar.finish_and_clear();
        }
    }
}

/// The log's writer: stderr, with any progress line suspended while an event is written.
#[derive(Clone, Copy, Default)]
pub struct LogWriter;

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = EventWriter;

    fn make_writer(&'a self) -> EventWriter {
        EventWriter { buf: Vec::new() }
    }
}

/// One log event, held until it is whole and then written at once.
pub struct EventWriter {
    buf: Vec<u8>,
}

impl Write for EventWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for EventWriter {
    fn drop(&mut self) {
        let shown = SHOWN.lock().ok().and_then(|s| s.clone());
        // Nothing else to do with a log line stderr refuses.
        let write = || {
            let _ = io::stderr().write_all(&self.buf);
        };
        match shown {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }
}
