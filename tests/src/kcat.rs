//! kcat (librdkafka's command-line client) as the independent reader of
//! what kproducer wrote, and as the reference producer for key placement.
//!
//! Every run is bounded in time and killed at the limit; its stdout goes to
//! a file (a million-record topic prints ~20 MB, more than a pipe should
//! hold while we wait).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The longest one kcat run may take: a million records take ~4 s on an
/// idle machine; the margin is for a machine busy with builds.
pub const KCAT_TIMEOUT: Duration = Duration::from_secs(240);

/// kcat, with the librdkafka it must load.
#[derive(Debug, Clone)]
pub struct Kcat {
    libdir: Option<PathBuf>,
}

/// A file removed when dropped.
#[derive(Debug)]
pub struct TempFile(PathBuf);

impl TempFile {
    /// A fresh path in the temp directory, named after `label` and this
    /// process.
    pub fn new(label: &str) -> Self {
        Self(std::env::temp_dir().join(format!("kproducer-itests-{}-{label}", std::process::id())))
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Kcat {
    /// kcat loading `librdkafka.so.1` from `libdir` (via `LD_LIBRARY_PATH`)
    /// when given, else the system's.
    pub fn new(libdir: Option<PathBuf>) -> Self {
        Self { libdir }
    }

    /// Reads every record of `topic` from the beginning to the current end
    /// of each partition, one line per record in kcat's `-f` `format`
    /// (e.g. `%p %o %k %s\n`), and returns the lines.
    ///
    /// # Errors
    /// kcat failed, timed out, or printed something that is not UTF-8.
    pub fn consume(&self, bootstrap: &str, topic: &str, format: &str) -> Result<String, String> {
        self.consume_with(bootstrap, topic, format, &[])
    }

    /// [`Kcat::consume`] with extra `-X` `settings` (for example
    /// `isolation.level=read_committed`, which stops at each partition's
    /// last stable offset and skips aborted transactions).
    ///
    /// # Errors
    /// kcat failed, timed out, or printed something that is not UTF-8.
    pub fn consume_with(
        &self,
        bootstrap: &str,
        topic: &str,
        format: &str,
        settings: &[(&str, &str)],
    ) -> Result<String, String> {
        let out = TempFile::new(&format!("{topic}.consumed"));
        let mut args: Vec<String> = [
            "-C",
            "-b",
            bootstrap,
            "-t",
            topic,
            "-o",
            "beginning",
            "-e",
            "-q",
            "-f",
            format,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for (key, value) in settings {
            args.push("-X".into());
            args.push(format!("{key}={value}"));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run(&args, None, out.path())?;
        std::fs::read_to_string(out.path())
            .map_err(|e| format!("kcat's output {}: {e}", out.path().display()))
    }

    /// Produces `input` (one `KEY:VALUE` line per record) to `topic` with
    /// the `-X` `settings`.
    ///
    /// # Errors
    /// kcat failed (it exits non-zero when any record failed delivery) or
    /// timed out.
    pub fn produce_keyed(
        &self,
        bootstrap: &str,
        topic: &str,
        settings: &[(&str, &str)],
        input: &Path,
    ) -> Result<(), String> {
        let mut args: Vec<String> = ["-P", "-b", bootstrap, "-t", topic, "-K", ":"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for (key, value) in settings {
            args.push("-X".into());
            args.push(format!("{key}={value}"));
        }
        args.push("-l".into());
        args.push(input.display().to_string());
        let sink = TempFile::new(&format!("{topic}.produce-out"));
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run(&argv, None, sink.path())
    }

    /// Runs kcat with `args`, stdout to `stdout`, bounded by
    /// [`KCAT_TIMEOUT`].
    fn run(&self, args: &[&str], stdin: Option<&Path>, stdout: &Path) -> Result<(), String> {
        let mut cmd = Command::new("kcat");
        cmd.args(args);
        if let Some(dir) = &self.libdir {
            cmd.env("LD_LIBRARY_PATH", dir);
        }
        let out = File::create(stdout).map_err(|e| format!("{}: {e}", stdout.display()))?;
        let err_path = stdout.with_extension("stderr");
        let err = File::create(&err_path).map_err(|e| format!("{}: {e}", err_path.display()))?;
        let stdin = match stdin {
            Some(path) => Stdio::from(File::open(path).map_err(|e| format!("{path:?}: {e}"))?),
            None => Stdio::null(),
        };
        let mut child = cmd
            .stdin(stdin)
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| {
                format!("cannot start kcat ({e}); tools/install-librdkafka-peer.sh installs it")
            })?;
        let started = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed() >= KCAT_TIMEOUT => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let _ = std::fs::remove_file(&err_path);
                    return Err(format!(
                        "kcat {args:?} did not finish within {KCAT_TIMEOUT:?}; killed it"
                    ));
                }
                Ok(None) => thread::sleep(Duration::from_millis(10)),
                Err(e) => return Err(format!("waiting for kcat: {e}")),
            }
        };
        let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
        let _ = std::fs::remove_file(&err_path);
        if !status.success() {
            return Err(format!("kcat {args:?} failed ({status}):\n{stderr}"));
        }
        // kcat reports delivery failures on stderr (and exits non-zero).
        if stderr.contains("ERROR") || stderr.contains("Delivery failed") {
            return Err(format!("kcat {args:?} reported errors:\n{stderr}"));
        }
        Ok(())
    }
}
