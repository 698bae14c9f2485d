//! [`Kcat`]: kcat on librdkafka 2.16, the independent client that tests
//! run against the fake broker (and against what kproducer wrote to it).
//!
//! One copy of what those tests share: where librdkafka 2.16 is
//! (`KPRODUCER_KCAT_LIBDIR`, the directory `tools/install-librdkafka-peer.sh`
//! prints on its last line), whether a test without it skips or fails, and
//! a kcat run bounded in time. Debian's own librdkafka (2.0.2) is too old
//! for some of what the tests check, so kcat loads 2.16 through
//! `LD_LIBRARY_PATH`.
//!
//! The real-broker package (`tests/`) and `xtask` keep their own kcat
//! code: the first finds the peer through `cargo xtask broker`'s state file
//! too and does not depend on the fake broker; the second installs the
//! peer and depends on no workspace crate, so that it builds fast.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The variable naming librdkafka 2.16's library directory.
pub const KCAT_LIBDIR_ENV: &str = "KPRODUCER_KCAT_LIBDIR";

/// The script that installs kcat and librdkafka 2.16 (from the repository
/// root) and prints the library directory on its last line.
pub const PEER_INSTALLER: &str = "tools/install-librdkafka-peer.sh";

/// Set by `cargo xtask ci` for its workspace test run: the peer tests run
/// in their own step, with the peer installed.
const IN_OWN_STEP_ENV: &str = "KPRODUCER_PEER_TEST_IN_OWN_STEP";

/// kcat, loading librdkafka 2.16 from a directory.
///
/// ```no_run
/// use std::time::Duration;
/// use kproducer_fake_broker::Kcat;
///
/// // In a test: skip (saying why on stderr) when the peer is not installed.
/// let Some(kcat) = Kcat::from_env("my_test", "cargo test --test my_test").unwrap() else {
///     return;
/// };
/// let out = kcat.run(&["-V"], None, Duration::from_secs(10)).unwrap();
/// assert!(out.stdout.contains("librdkafka"));
/// ```
#[derive(Debug, Clone)]
pub struct Kcat {
    libdir: PathBuf,
}

/// What a finished kcat run printed.
#[derive(Debug, Clone)]
pub struct KcatOutput {
    /// Its standard output.
    pub stdout: String,
    /// Its standard error (kcat reports delivery failures there).
    pub stderr: String,
}

impl Kcat {
    /// kcat loading `librdkafka.so.1` from `libdir`.
    pub fn new(libdir: impl Into<PathBuf>) -> Self {
        Self {
            libdir: libdir.into(),
        }
    }

    /// The peer named by `KPRODUCER_KCAT_LIBDIR`. Without it: `Ok(None)`
    /// after saying on stderr why `test` skips and how to run it (`run`,
    /// such as `cargo test -p kproducer --test transactions_librdkafka`),
    /// or, when `cargo xtask ci` runs the test in its own step, that it is
    /// not run here.
    ///
    /// # Errors
    /// When `CI` is set (outside that step): the peer is required there,
    /// and the message says how to install it.
    pub fn from_env(test: &str, run: &str) -> Result<Option<Self>, String> {
        if let Some(dir) = std::env::var_os(KCAT_LIBDIR_ENV).filter(|d| !d.is_empty()) {
            return Ok(Some(Self::new(dir)));
        }
        if std::env::var_os(IN_OWN_STEP_ENV).is_some() {
            say(
                test,
                "not run here: `cargo xtask ci` runs it in its librdkafka-peer step",
            );
            return Ok(None);
        }
        if std::env::var_os("CI").is_some() {
            return Err(format!(
                "{test}: {KCAT_LIBDIR_ENV} is not set, and CI is: the librdkafka peer is \
                 required in CI. Run `{PEER_INSTALLER}` and set {KCAT_LIBDIR_ENV} to the \
                 directory it prints on its last line (cargo xtask ci does this)"
            ));
        }
        say(
            test,
            &format!(
                "SKIPPED: {KCAT_LIBDIR_ENV} is not set. To run it: \
                 {KCAT_LIBDIR_ENV}=$({PEER_INSTALLER} | tail -n1) {run}"
            ),
        );
        Ok(None)
    }

    /// The directory kcat loads librdkafka from.
    pub fn libdir(&self) -> &Path {
        &self.libdir
    }

    /// Runs `kcat args…` with standard input from `stdin` (or none) and
    /// waits for it, killing it after `timeout`. Its output goes through
    /// files, so a run printing megabytes never blocks on a full pipe.
    /// Blocking: from async code, call it in `spawn_blocking`.
    ///
    /// # Errors
    /// kcat could not start, failed (with its stderr), or did not finish
    /// in time.
    pub fn run(
        &self,
        args: &[&str],
        stdin: Option<&Path>,
        timeout: Duration,
    ) -> Result<KcatOutput, String> {
        let stdout_file = ScratchFile::new("stdout");
        let stderr_file = ScratchFile::new("stderr");
        let input = match stdin {
            Some(path) => Stdio::from(
                File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?,
            ),
            None => Stdio::null(),
        };
        let mut child = Command::new("kcat")
            .args(args)
            .env("LD_LIBRARY_PATH", &self.libdir)
            .stdin(input)
            .stdout(stdout_file.create()?)
            .stderr(stderr_file.create()?)
            .spawn()
            .map_err(|e| format!("cannot start kcat ({e}); install it with {PEER_INSTALLER}"))?;
        let started = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed() >= timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "kcat {args:?} did not finish within {timeout:?}; killed it"
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => return Err(format!("waiting for kcat {args:?}: {e}")),
            }
        };
        let output = KcatOutput {
            stdout: stdout_file.read()?,
            stderr: stderr_file.read()?,
        };
        if status.success() {
            Ok(output)
        } else {
            Err(format!(
                "kcat {args:?} failed ({status}):\n{}",
                output.stderr
            ))
        }
    }
}

/// Writes to the real stderr, which the test harness does not capture, so
/// that a skip is never silent.
fn say(test: &str, line: &str) {
    let _ = writeln!(std::io::stderr(), "{test}: {line}");
}

/// A file in the temp directory for one run's output, removed when
/// dropped.
struct ScratchFile(PathBuf);

impl ScratchFile {
    fn new(label: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Self(
            std::env::temp_dir().join(format!("kproducer-kcat-{}-{n}-{label}", std::process::id())),
        )
    }

    fn create(&self) -> Result<File, String> {
        File::create(&self.0).map_err(|e| format!("cannot create {}: {e}", self.0.display()))
    }

    fn read(&self) -> Result<String, String> {
        let bytes =
            std::fs::read(&self.0).map_err(|e| format!("cannot read {}: {e}", self.0.display()))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

impl Drop for ScratchFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
