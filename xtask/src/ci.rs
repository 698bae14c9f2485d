//! `cargo xtask ci`: every check CI runs, in order, with a one-line result
//! per step and a summary.
//!
//! All steps run even after one fails, so that one run shows every problem
//! (a formatting slip should not hide a failing test); the command exits
//! non-zero if any step failed. `--skip NAME` leaves steps out for local
//! use; with `CI=true` it is refused, so CI never skips a step silently.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::deny;
use crate::integration;
use crate::peer::Peer;
use crate::process::{self, cargo, secs};

/// What a step concluded.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// `Ok` when the step passed, else why it failed.
    pub(crate) result: Result<(), String>,
    /// Something the summary must say even when the step passed, such as
    /// a check that could not run here.
    pub(crate) note: Option<String>,
}

impl Outcome {
    fn from_result(result: Result<(), String>) -> Self {
        Self { result, note: None }
    }

    /// An outcome whose summary line carries `note`.
    pub(crate) fn with_note(result: Result<(), String>, note: Option<String>) -> Self {
        Self { result, note }
    }
}

/// One CI step: a name for `--skip` and the summary, and what it does.
#[derive(Debug)]
struct Step {
    name: &'static str,
    action: Action,
}

/// What a step does.
#[derive(Debug)]
enum Action {
    /// One cargo command, with extra environment variables.
    Cargo(
        &'static [&'static str],
        &'static [(&'static str, &'static str)],
    ),
    /// Anything else.
    Custom(fn() -> Outcome),
}

impl Step {
    const fn cargo(name: &'static str, args: &'static [&'static str]) -> Self {
        Self::cargo_env(name, args, &[])
    }

    const fn cargo_env(
        name: &'static str,
        args: &'static [&'static str],
        envs: &'static [(&'static str, &'static str)],
    ) -> Self {
        Self {
            name,
            action: Action::Cargo(args, envs),
        }
    }

    const fn custom(name: &'static str, run: fn() -> Outcome) -> Self {
        Self {
            name,
            action: Action::Custom(run),
        }
    }

    fn run(&self) -> Outcome {
        match self.action {
            Action::Cargo(args, envs) => {
                let mut cmd = cargo(args);
                cmd.envs(envs.iter().copied());
                Outcome::from_result(process::run(&mut cmd))
            }
            Action::Custom(run) => run(),
        }
    }
}

/// The steps, in order. Adding a check is adding a line.
#[rustfmt::skip]
const STEPS: &[Step] = &[
    Step::custom("fmt", formatting),
    // `--locked`: a Cargo.lock that does not match the manifests fails here
    // instead of being rewritten silently.
    Step::cargo("clippy", &["clippy", "--locked", "--workspace", "--all-targets", "--", "-D", "warnings"]),
    Step::custom("test", tests),
    Step::custom("librdkafka-peer", librdkafka_peer_vs_fake_broker),
    Step::custom("integration-tansu", integration::tansu_step),
    Step::cargo_env("doc", &["doc", "--workspace", "--no-deps"], &[("RUSTDOCFLAGS", "-D warnings")]),
    // The fuzz targets sit outside the workspace, so clippy above does not
    // see them; this keeps them compiling as the decoders change. Fuzzing
    // itself is `cargo xtask fuzz`, not part of CI.
    Step::cargo("fuzz-build", &["clippy", "--locked", "--manifest-path", "fuzz/Cargo.toml", "--bins", "--", "-D", "warnings"]),
    Step::custom("deny", deny::check),
];

/// The workspace's formatting, and the fuzz project's, which `--all` does
/// not reach because it is outside the workspace.
fn formatting() -> Outcome {
    let result = process::run(&mut cargo(&["fmt", "--all", "--check"])).and_then(|()| {
        process::run(&mut cargo(&[
            "fmt",
            "--manifest-path",
            "fuzz/Cargo.toml",
            "--check",
        ]))
    });
    Outcome::from_result(result)
}

/// Set for the workspace test run: the fake broker's librdkafka peer test
/// then says it runs in its own step instead of failing for want of kcat.
const PEER_TEST_IN_OWN_STEP: (&str, &str) = ("KPRODUCER_PEER_TEST_IN_OWN_STEP", "1");

/// librdkafka peer vs fake broker: installs kcat with librdkafka 2.16
/// (`tools/install-librdkafka-peer.sh`) and runs the fake broker's
/// `librdkafka_peer` test with `KPRODUCER_KCAT_LIBDIR` pointing at it:
/// 100,000 records produced per codec and with acks=1 over loopback TCP,
/// then consumed back and checked. Then kproducer's
/// `transactions_librdkafka` test: kcat reads kproducer's committed,
/// aborted and open transactions back with `isolation.level=read_committed`.
fn librdkafka_peer_vs_fake_broker() -> Outcome {
    let result = Peer::ensure_installed().and_then(|peer| {
        let mut cmd = cargo(&[
            "test",
            "-p",
            "kproducer-fake-broker",
            "--test",
            "librdkafka_peer",
            "--",
            "--nocapture",
        ]);
        cmd.env("KPRODUCER_KCAT_LIBDIR", peer.lib_dir());
        process::run(&mut cmd)?;
        let mut cmd = cargo(&[
            "test",
            "-p",
            "kproducer",
            "--test",
            "transactions_librdkafka",
            "--",
            "--nocapture",
        ]);
        cmd.env("KPRODUCER_KCAT_LIBDIR", peer.lib_dir());
        process::run(&mut cmd)
    });
    Outcome::from_result(result)
}

/// Unit and integration tests with nextest when it is installed (faster,
/// clearer output), then doctests, which nextest does not run. Without
/// nextest, `cargo test` runs both. Like the steps, every test runs even
/// after one fails. The real-broker package is left to its own step
/// (`integration-tansu`), which starts the broker it needs.
fn tests() -> Outcome {
    if process::succeeds_quietly(&mut cargo(&["nextest", "--version"])) {
        let result = process::run(
            cargo(&[
                "nextest",
                "run",
                "--workspace",
                "--exclude",
                integration::PACKAGE,
                "--no-fail-fast",
            ])
            .env(PEER_TEST_IN_OWN_STEP.0, PEER_TEST_IN_OWN_STEP.1),
        )
        .and_then(|()| process::run(&mut cargo(&["test", "--workspace", "--doc"])));
        Outcome::from_result(result)
    } else {
        Outcome {
            result: process::run(
                cargo(&[
                    "test",
                    "--workspace",
                    "--exclude",
                    integration::PACKAGE,
                    "--no-fail-fast",
                ])
                .env(PEER_TEST_IN_OWN_STEP.0, PEER_TEST_IN_OWN_STEP.1),
            ),
            note: Some("cargo-nextest not found; ran `cargo test`".to_string()),
        }
    }
}

/// The command line of `cargo xtask ci`.
#[derive(Debug, Default, PartialEq, Eq)]
struct Options {
    skip: Vec<String>,
}

const USAGE: &str = "\
usage: cargo xtask ci [--skip STEP[,STEP…]]…

Runs every step below in order, all of them even after a failure, and exits
non-zero if any failed. --skip is for local use and is refused when CI=true.";

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let list = if arg == "--skip" {
            args.next().ok_or("--skip needs a step name")?.as_str()
        } else if let Some(list) = arg.strip_prefix("--skip=") {
            list
        } else {
            return Err(format!("unknown argument `{arg}`"));
        };
        for name in list.split(',').filter(|n| !n.is_empty()) {
            if !STEPS.iter().any(|s| s.name == name) {
                return Err(format!("no step named `{name}`"));
            }
            options.skip.push(name.to_string());
        }
    }
    Ok(options)
}

fn step_names() -> String {
    STEPS.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
}

/// True when the environment says this is a CI run (`CI=true`, as GitHub
/// Actions, GitLab and this project's runner set it).
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Runs `cargo xtask ci` with the arguments after `ci`.
pub(crate) fn main(args: &[String]) -> ExitCode {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}\n\nsteps: {}", step_names());
        return ExitCode::SUCCESS;
    }
    let options = match parse(args) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("xtask ci: {e}\n{USAGE}\n\nsteps: {}", step_names());
            return ExitCode::from(2);
        }
    };
    if in_ci() && !options.skip.is_empty() {
        eprintln!(
            "xtask ci: refusing --skip {} because CI is set: CI runs every step",
            options.skip.join(",")
        );
        return ExitCode::from(2);
    }

    let started = Instant::now();
    let mut lines = Vec::new();
    let mut failed = 0;
    let mut skipped = 0;
    for step in STEPS {
        if options.skip.iter().any(|s| s == step.name) {
            lines.push(format!("{:<15} SKIPPED  (--skip)", step.name));
            skipped += 1;
            continue;
        }
        println!("\n==> {}", step.name);
        let step_start = Instant::now();
        let outcome = step.run();
        let line = summary_line(step.name, &outcome, step_start.elapsed());
        println!("{line}");
        failed += usize::from(outcome.result.is_err());
        lines.push(line);
    }

    println!("\n==> summary");
    for line in &lines {
        println!("{line}");
    }
    let total = secs(started.elapsed());
    let skipped = match skipped {
        0 => String::new(),
        n => format!(" ({n} skipped by --skip)"),
    };
    if failed == 0 {
        println!("xtask ci: every step run is ok{skipped}, in {total}");
        ExitCode::SUCCESS
    } else {
        println!("xtask ci: {failed} step(s) FAILED{skipped}, in {total}");
        ExitCode::FAILURE
    }
}

fn summary_line(name: &str, outcome: &Outcome, took: Duration) -> String {
    let mut line = match &outcome.result {
        Ok(()) => format!("{name:<15} ok       {:>8}", secs(took)),
        Err(why) => format!("{name:<15} FAILED   {:>8}  {why}", secs(took)),
    };
    if let Some(note) = &outcome.note {
        line.push_str(&format!("  [{note}]"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn skip_accepts_both_spellings_and_lists() {
        let options = parse(&strings(&["--skip", "deny,doc", "--skip=fmt"])).unwrap();
        assert_eq!(options.skip, ["deny", "doc", "fmt"]);
    }

    #[test]
    fn unknown_steps_and_arguments_are_errors() {
        assert_eq!(
            parse(&strings(&["--skip", "lint"])),
            Err("no step named `lint`".to_string())
        );
        assert!(parse(&strings(&["--fast"])).is_err());
        assert!(parse(&strings(&["--skip"])).is_err());
    }

    #[test]
    fn step_names_are_unique() {
        for (i, a) in STEPS.iter().enumerate() {
            assert!(
                STEPS[i + 1..].iter().all(|b| b.name != a.name),
                "{}",
                a.name
            );
        }
    }

    #[test]
    fn summary_names_the_step_result_and_note() {
        let outcome = Outcome {
            result: Err("`cargo fmt --all` exited with status 1".into()),
            note: Some("n".into()),
        };
        let line = summary_line("fmt", &outcome, Duration::from_millis(1500));
        assert!(line.starts_with("fmt             FAILED"), "{line}");
        assert!(line.contains("1.5 s"), "{line}");
        assert!(line.ends_with("[n]"), "{line}");
    }
}
