//! Formatted `tracing` output captured in memory, for tests that assert on
//! what the producer logs (or never logs).

use std::sync::{Arc, Mutex, OnceLock};

use tracing::Dispatch;
use tracing::subscriber::{DefaultGuard, NoSubscriber};

/// Everything a `fmt` subscriber writes; clones share one buffer.
#[derive(Clone, Debug, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("capture lock").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLogs {
    /// Everything captured so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("capture lock")).into_owned()
    }

    /// Everything captured so far, line by line.
    pub fn lines(&self) -> Vec<String> {
        self.text().lines().map(str::to_owned).collect()
    }
}

/// Captures the events `filter` (an `EnvFilter` directive such as `trace`)
/// lets through, without colours or timestamps, while the guard lives. It
/// is the default subscriber of this thread only, so the test wants a
/// current-thread runtime.
///
/// Safe beside tests on other threads that install no subscriber: see
/// [`pin_second_dispatcher`].
pub fn capture_logs(filter: &str) -> (CapturedLogs, DefaultGuard) {
    pin_second_dispatcher();
    let logs = CapturedLogs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_ansi(false)
        .without_time()
        .with_writer(move || writer.clone())
        .finish();
    (logs, tracing::subscriber::set_default(subscriber))
}

/// Keeps an inert dispatcher registered for the rest of the process, so
/// that a capture's dispatcher is never the only one.
///
/// Why: `tracing` caches each callsite's interest process-wide, computed
/// when the callsite is first hit. With exactly one dispatcher registered,
/// tracing-core 0.1.36 computes it from the default subscriber of the
/// *thread that first hits the callsite* (`Rebuilder::JustOne`). Another
/// test's thread, with no subscriber, then caches "never" for a callsite
/// (a SASL trace, say) and the event never reaches this thread's capture:
/// `the_password_never_leaks_into_traces_debug_or_errors` failed that way
/// once under `cargo test`, never under nextest (a process per test).
/// With two or more registered, the interest is combined over all of them
/// ("sometimes" when they disagree, and each event then asks its own
/// thread's subscriber). Creating the capture's dispatcher rebuilds every
/// callsite already cached. tokio-rs/tracing#3611 describes the bug.
fn pin_second_dispatcher() {
    static PIN: OnceLock<Dispatch> = OnceLock::new();
    PIN.get_or_init(|| Dispatch::new(NoSubscriber::default()));
}
