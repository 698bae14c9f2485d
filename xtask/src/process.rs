//! Running commands: echoing them, timing them, bounding them in time.
//!
//! Everything xtask does goes through here, so that every command it runs is
//! printed before it runs (`$ cargo …`) and a reader of a CI log can repeat
//! it by hand.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The repository root: xtask lives in `<root>/xtask`.
pub(crate) fn repo_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map_or_else(|| manifest_dir.to_path_buf(), Path::to_path_buf)
}

/// A `cargo` command with `args`, run from the repository root.
///
/// Plain `cargo` (the rustup proxy) rather than `$CARGO`, so that
/// `cargo +nightly …` works for the fuzz command.
pub(crate) fn cargo(args: &[&str]) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.args(args).current_dir(repo_root());
    cmd
}

/// How a command line looks when echoed: `$ VAR=value cargo arg …`.
pub(crate) fn describe(cmd: &Command) -> String {
    let mut line = String::from("$");
    for (key, value) in cmd.get_envs() {
        if let Some(value) = value {
            line.push_str(&format!(
                " {}={}",
                key.to_string_lossy(),
                quote(&value.to_string_lossy())
            ));
        }
    }
    line.push(' ');
    line.push_str(&cmd.get_program().to_string_lossy());
    for arg in cmd.get_args() {
        line.push(' ');
        line.push_str(&quote(&arg.to_string_lossy()));
    }
    line
}

fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=+./:,@%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Echoes `cmd`, runs it with inherited output and says whether it
/// succeeded. A command that cannot be started is a failure with a reason.
pub(crate) fn run(cmd: &mut Command) -> Result<(), String> {
    println!("{}", describe(cmd));
    match cmd.status() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("`{}` {}", short(cmd), exit_text(status))),
        Err(e) => Err(format!("`{}` could not be started: {e}", short(cmd))),
    }
}

/// True when `cmd` runs and exits 0; its output is discarded. For probes
/// such as `cargo deny --version`.
pub(crate) fn succeeds_quietly(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// What became of a command run under a time limit.
#[derive(Debug)]
pub(crate) enum Bounded {
    /// It exited 0 in time.
    Succeeded,
    /// It exited non-zero (or could not start), with the reason.
    Failed(String),
    /// It was still running at the limit and was killed.
    TimedOut(Duration),
}

/// Echoes `cmd` and runs it for at most `limit`, killing it after that.
pub(crate) fn run_bounded(cmd: &mut Command, limit: Duration) -> Bounded {
    println!("{}  (time limit {} s)", describe(cmd), limit.as_secs());
    let mut child = match cmd.stdin(Stdio::null()).spawn() {
        Ok(child) => child,
        Err(e) => return Bounded::Failed(format!("could not be started: {e}")),
    };
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Bounded::Succeeded,
            Ok(Some(status)) => return Bounded::Failed(exit_text(status)),
            Ok(None) if start.elapsed() >= limit => {
                // Killing a child that has just exited fails harmlessly;
                // waiting reaps it either way.
                let _ = child.kill();
                let _ = child.wait();
                return Bounded::TimedOut(limit);
            }
            Ok(None) => thread::sleep(Duration::from_millis(100)),
            Err(e) => return Bounded::Failed(format!("could not be waited for: {e}")),
        }
    }
}

fn exit_text(status: ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exited with status {code}"),
        None => "was killed by a signal".to_string(),
    }
}

/// The program and its first two arguments, for one-line messages.
fn short(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args().take(2) {
        s.push(' ');
        s.push_str(&arg.to_string_lossy());
    }
    s
}

/// Seconds as the summaries print them.
pub(crate) fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_quotes_what_a_shell_would_split() {
        let mut cmd = Command::new("cargo");
        cmd.args(["clippy", "--", "-D", "warnings", "a b"])
            .env("RUSTDOCFLAGS", "-D warnings");
        assert_eq!(
            describe(&cmd),
            "$ RUSTDOCFLAGS='-D warnings' cargo clippy -- -D warnings 'a b'"
        );
    }

    #[test]
    fn repo_root_holds_the_workspace_manifest() {
        assert!(repo_root().join("Cargo.toml").is_file());
        assert!(repo_root().join("xtask").is_dir());
    }

    #[test]
    fn bounded_run_kills_at_the_limit() {
        let mut cmd = Command::new("sleep");
        cmd.arg("5");
        assert!(matches!(
            run_bounded(&mut cmd, Duration::from_millis(200)),
            Bounded::TimedOut(_)
        ));
    }

    #[test]
    fn bounded_run_reports_exit_status() {
        assert!(matches!(
            run_bounded(&mut Command::new("true"), Duration::from_secs(5)),
            Bounded::Succeeded
        ));
        match run_bounded(&mut Command::new("false"), Duration::from_secs(5)) {
            Bounded::Failed(why) => assert_eq!(why, "exited with status 1"),
            other => panic!("expected a failure, got {other:?}"),
        }
    }
}
