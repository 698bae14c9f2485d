//! The tansu binary: found in the tool cache (or elsewhere on the machine),
//! or built from crates.io into the cache.
//!
//! tansu is a Kafka-compatible broker written in Rust. Apache Kafka cannot
//! run here (no Docker, no JVM downloads), so the real-broker tests run
//! against tansu; `docs/real-broker.md` says where it differs from Kafka.
//!
//! The cache lives **outside** the clone (`~/.cache/kproducer/` unless
//! `KPRODUCER_TOOLS_CACHE` says otherwise), so a fresh clone on the same
//! machine — which is what CI is — reuses the binary instead of compiling
//! tansu again for 7–12 minutes.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The tansu release the tests are written against.
pub(crate) const VERSION: &str = "0.6.0";

/// Where tools built or downloaded for the project are cached:
/// `$KPRODUCER_TOOLS_CACHE`, else `$XDG_CACHE_HOME/kproducer`, else
/// `$HOME/.cache/kproducer`.
pub(crate) fn tools_cache() -> Result<PathBuf, String> {
    if let Some(dir) = env::var_os("KPRODUCER_TOOLS_CACHE").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir).join("kproducer"));
    }
    match env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".cache").join("kproducer")),
        None => Err(
            "neither KPRODUCER_TOOLS_CACHE, XDG_CACHE_HOME nor HOME is set: \
             set KPRODUCER_TOOLS_CACHE to a directory where tansu may be cached"
                .to_string(),
        ),
    }
}

/// The `cargo install --root` directory for this tansu version.
fn install_root(cache: &Path) -> PathBuf {
    cache.join(format!("tansu-{VERSION}"))
}

/// Where the cached binary is (or will be).
fn cached_binary(cache: &Path) -> PathBuf {
    install_root(cache).join("bin").join("tansu")
}

/// The places a usable tansu may already be, best first: `$KPRODUCER_TANSU`
/// (an explicit choice), the cache, `$CARGO_HOME/bin` (a plain
/// `cargo install tansu`), then `tansu` on `PATH`.
fn candidates(cache: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    if let Some(path) = env::var_os("KPRODUCER_TANSU").filter(|v| !v.is_empty()) {
        found.push(PathBuf::from(path));
    }
    found.push(cached_binary(cache));
    let cargo_home = env::var_os("CARGO_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")));
    if let Some(cargo_home) = cargo_home {
        found.push(cargo_home.join("bin").join("tansu"));
    }
    found.push(PathBuf::from("tansu"));
    found
}

/// True when `tansu --version` at `path` runs and names [`VERSION`].
fn is_wanted_version(path: &Path) -> bool {
    let output = Command::new(path)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    match output {
        Ok(out) if out.status.success() => reports_version(&String::from_utf8_lossy(&out.stdout)),
        _ => false,
    }
}

/// True when a `--version` line such as `tansu 0.6.0` names [`VERSION`]
/// as a whole word (so `0.6.01` does not pass for `0.6.0`).
fn reports_version(text: &str) -> bool {
    text.split_whitespace().any(|word| word == VERSION)
}

/// Finds tansu [`VERSION`] on this machine without building anything.
pub(crate) fn find() -> Result<Option<PathBuf>, String> {
    let cache = tools_cache()?;
    Ok(candidates(&cache)
        .into_iter()
        .find(|path| is_wanted_version(path)))
}

/// Finds tansu, or builds it into the cache with `cargo install` (minutes:
/// it says so first, and how long it took after).
pub(crate) fn ensure_installed() -> Result<PathBuf, String> {
    if let Some(path) = find()? {
        println!("tansu {VERSION}: {}", path.display());
        return Ok(path);
    }
    let cache = tools_cache()?;
    let root = install_root(&cache);
    println!(
        "tansu {VERSION} not found (looked in $KPRODUCER_TANSU, {}, $CARGO_HOME/bin, PATH): \
         building it from crates.io into {} — about 7 minutes on 2 idle cores, \
         more on a busy machine; later runs reuse it …",
        cached_binary(&cache).display(),
        root.display()
    );
    let mut install = Command::new("cargo");
    // The default features have no in-memory storage engine; `dynostore`
    // is the smallest set that has one (`memory://`).
    install.args([
        "install",
        "tansu",
        "--version",
        VERSION,
        "--no-default-features",
        "--features",
        "dynostore",
        "--locked",
        "--root",
    ]);
    install.arg(&root);
    println!("{}", crate::process::describe(&install));
    let start = Instant::now();
    let status = install
        .status()
        .map_err(|e| format!("could not run `cargo install tansu`: {e}"))?;
    if !status.success() {
        return Err(format!(
            "`cargo install tansu --version {VERSION}` failed ({status}); its output is above. \
             crates.io must be reachable; retrying resumes from cargo's download cache"
        ));
    }
    println!(
        "built tansu {VERSION} in {:.0} s",
        start.elapsed().as_secs_f64()
    );
    let binary = cached_binary(&cache);
    if is_wanted_version(&binary) {
        Ok(binary)
    } else {
        Err(format!(
            "`cargo install` succeeded but {} does not report version {VERSION}",
            binary.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_must_match_as_a_whole_word() {
        assert!(reports_version("tansu 0.6.0\n"));
        assert!(!reports_version("tansu 0.6.01\n"));
        assert!(!reports_version("tansu 0.5.0\n"));
        assert!(!reports_version(""));
    }

    #[test]
    fn the_cache_is_versioned_so_an_upgrade_cannot_reuse_an_old_binary() {
        let binary = cached_binary(Path::new("/cache"));
        assert_eq!(
            binary,
            PathBuf::from(format!("/cache/tansu-{VERSION}/bin/tansu"))
        );
    }
}
