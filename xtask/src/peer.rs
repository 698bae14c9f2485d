//! The librdkafka 2.16 peer: Debian's kcat run against the librdkafka 2.16
//! shared library from the confluent-kafka wheel (Debian's own librdkafka
//! 2.0.2 cannot parse tansu's ApiVersions answer).
//!
//! Installing it is `tools/install-librdkafka-peer.sh`'s job; this module
//! only calls it, into the tool cache outside the clone, and builds kcat
//! commands with the right `LD_LIBRARY_PATH`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::process::repo_root;
use crate::tansu::tools_cache;

/// The librdkafka peer, ready to run.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    /// The directory holding `librdkafka.so.1` (2.16).
    lib_dir: PathBuf,
}

impl Peer {
    /// Finds or installs the peer. `$KPRODUCER_LIBRDKAFKA_LIB` names a
    /// directory holding librdkafka 2.16's `librdkafka.so.1` and skips the
    /// installer.
    pub(crate) fn ensure_installed() -> Result<Self, String> {
        if let Some(dir) = env::var_os("KPRODUCER_LIBRDKAFKA_LIB").filter(|v| !v.is_empty()) {
            return Ok(Self {
                lib_dir: PathBuf::from(dir),
            });
        }
        let script = repo_root().join("tools").join("install-librdkafka-peer.sh");
        if !script.is_file() {
            return Err(format!(
                "{} is missing; it installs kcat and librdkafka 2.16 \
                 (or set KPRODUCER_LIBRDKAFKA_LIB to a directory holding librdkafka.so.1 2.16)",
                script.display()
            ));
        }
        let dir = tools_cache()?.join("librdkafka-2.16");
        let mut cmd = Command::new("bash");
        cmd.arg(&script).arg(&dir).stdin(Stdio::null());
        println!("$ bash {} {}", script.display(), dir.display());
        // Its progress goes to stderr (inherited); the last stdout line is
        // the library directory.
        let out = cmd
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{} failed ({}); its messages are above",
                script.display(),
                out.status
            ));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        match stdout.lines().last().map(str::trim) {
            Some(line) if !line.is_empty() => Ok(Self {
                lib_dir: PathBuf::from(line),
            }),
            _ => Err(format!("{} printed no library directory", script.display())),
        }
    }

    /// The peer whose librdkafka 2.16 is in `lib_dir` (as recorded by
    /// `broker start`).
    pub(crate) fn at(lib_dir: &Path) -> Self {
        Self {
            lib_dir: lib_dir.to_path_buf(),
        }
    }

    /// The directory to put on `LD_LIBRARY_PATH` for kcat.
    pub(crate) fn lib_dir(&self) -> &Path {
        &self.lib_dir
    }

    /// `kcat ARGS` running against librdkafka 2.16.
    pub(crate) fn kcat(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("kcat");
        cmd.env("LD_LIBRARY_PATH", &self.lib_dir)
            .args(args)
            .stdin(Stdio::null());
        cmd
    }
}
