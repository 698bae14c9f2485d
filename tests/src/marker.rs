//! Proof that a test really ran against a broker: `cargo xtask ci` sets
//! `KPRODUCER_ITESTS_MARKER` to a file and, after the run, checks that every
//! `tansu_*` test appended its line. A test that skipped (or a harness that
//! filtered it out) leaves no line, and the CI step fails.

use std::fs::OpenOptions;
use std::io::Write;

/// The environment variable naming the marker file.
pub const MARKER_ENV: &str = "KPRODUCER_ITESTS_MARKER";

/// Appends `test ran: <summary>` to the marker file when
/// `KPRODUCER_ITESTS_MARKER` names one; does nothing otherwise.
///
/// # Panics
/// When the file is named but cannot be written: CI would otherwise report
/// a test that passed as not run, and the reason would be lost.
pub fn record_ran(test: &str, summary: &str) {
    let Some(path) = std::env::var_os(MARKER_ENV).filter(|v| !v.is_empty()) else {
        return;
    };
    // One write per line, in append mode: tests in parallel threads (and
    // test binaries one after another) never interleave within a line.
    let line = format!("{test} ran: {summary}\n");
    let written = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        panic!(
            "cannot append to {} ({MARKER_ENV}): {e}",
            std::path::Path::new(&path).display()
        );
    }
}
