//! The `deny` CI step: cargo-deny's licence, ban and source checks always,
//! and the security-advisory check whenever the RustSec database can be had.
//!
//! The advisory check needs the RustSec database, which cargo-deny clones
//! from GitHub. Machines that reach only the package registries cannot
//! fetch it, so the step tries for a bounded time, falls back to a cached
//! copy, and otherwise says plainly that advisories were not checked
//! (or fails, when `XTASK_REQUIRE_ADVISORIES=1`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::ci::Outcome;
use crate::process::{self, Bounded, cargo};
use crate::tools::CARGO_DENY;

/// How long fetching the advisory database may take before it counts as
/// unreachable. A real clone takes a few seconds; a blocked network either
/// fails at once or hangs, and CI should not hang with it.
const FETCH_LIMIT: Duration = Duration::from_secs(60);

/// Set to `1` to make an unavailable advisory database a failure.
const REQUIRE_ADVISORIES: &str = "XTASK_REQUIRE_ADVISORIES";

/// Runs the step.
pub(crate) fn check() -> Outcome {
    if let Err(e) = CARGO_DENY.ensure_installed() {
        return Outcome::with_note(Err(e), None);
    }
    let policy = process::run(&mut cargo(&[
        "deny", "check", "bans", "licenses", "sources",
    ]));
    let advisories = advisories();
    Outcome::with_note(policy.and(advisories.result), advisories.note)
}

fn advisories() -> Outcome {
    let fetch = process::run_bounded(&mut cargo(&["deny", "fetch", "db"]), FETCH_LIMIT);
    // `--offline` uses the database on disk as it is.
    let check_offline = || process::run(&mut cargo(&["deny", "--offline", "check", "advisories"]));
    let why_not = match fetch {
        Bounded::Succeeded => {
            let check = process::run(&mut cargo(&["deny", "check", "advisories"]));
            return Outcome::with_note(check, None);
        }
        Bounded::Failed(why) => format!("fetching it {why}"),
        Bounded::TimedOut(limit) => format!("fetching it took over {} s", limit.as_secs()),
    };
    if let Some(dir) = cached_database() {
        let note = format!(
            "advisory database not updated ({why_not}); checked against the cached copy in {}{}",
            dir.display(),
            last_commit_date(&dir).map_or_else(String::new, |d| format!(" (last updated {d})"))
        );
        println!("{note}");
        return Outcome::with_note(check_offline(), Some(note));
    }
    let note = format!(
        "advisories NOT checked: the RustSec database is not cached and could not be fetched \
         ({why_not}); bans, licences and sources were checked"
    );
    println!("{note}");
    if std::env::var(REQUIRE_ADVISORIES).is_ok_and(|v| v == "1") {
        Outcome::with_note(Err(format!("{REQUIRE_ADVISORIES}=1")), Some(note))
    } else {
        Outcome::with_note(Ok(()), Some(note))
    }
}

/// A database cloned earlier into cargo-deny's default location,
/// `$CARGO_HOME/advisory-dbs/NAME-HASH/`, if there is one.
fn cached_database() -> Option<PathBuf> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))?;
    cached_database_in(&cargo_home)
}

/// A folder of `CARGO_HOME/advisory-dbs` that holds a database (its
/// `crates/` folder), ignoring lock files and failed clones.
fn cached_database_in(cargo_home: &Path) -> Option<PathBuf> {
    std::fs::read_dir(cargo_home.join("advisory-dbs"))
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.join("crates").is_dir())
}

/// The date of the database's newest commit, so that the note shows how
/// stale a cached copy is.
fn last_commit_date(dir: &Path) -> Option<String> {
    let out = Command::new("git")
        .args(["log", "-1", "--format=%cs"])
        .current_dir(dir)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let date = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !date.is_empty()).then_some(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_database_is_a_folder_with_crates_in_it() {
        let home = std::env::temp_dir().join(format!("xtask-deny-test-{}", std::process::id()));
        let dbs = home.join("advisory-dbs");
        std::fs::create_dir_all(dbs.join("advisory-db-0123")).unwrap();
        std::fs::write(dbs.join("db.lock"), "").unwrap();
        // What a failed clone leaves behind is not a database.
        assert_eq!(cached_database_in(&home), None);

        std::fs::create_dir_all(dbs.join("advisory-db-0123/crates")).unwrap();
        assert_eq!(
            cached_database_in(&home),
            Some(dbs.join("advisory-db-0123"))
        );
        std::fs::remove_dir_all(&home).unwrap();
    }

    #[test]
    fn no_advisory_folder_means_no_database() {
        assert_eq!(
            cached_database_in(Path::new("/nonexistent/cargo-home")),
            None
        );
    }
}
