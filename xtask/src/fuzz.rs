//! `cargo xtask fuzz [--seconds N] [TARGET…]`: runs each libFuzzer target
//! under `fuzz/` for a bounded time. Not part of CI: fuzzing is open-ended
//! and needs a nightly compiler.
//!
//! Targets are the files `fuzz/fuzz_targets/NAME.rs`; each is declared as a
//! `[[bin]]` called NAME in `fuzz/Cargo.toml`.

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Instant;

use crate::process::{self, cargo, repo_root, secs};
use crate::tools::CARGO_FUZZ;

/// Seconds each target runs when `--seconds` is not given.
const DEFAULT_SECONDS: u64 = 60;

const USAGE: &str = "\
usage: cargo xtask fuzz [--seconds N] [TARGET…]

Runs each fuzz target (all of them when none is named) for N seconds
(default 60), from its corpus in fuzz/corpus/TARGET/ plus any committed seed
inputs, installing cargo-fuzz when it is missing. A panic or a single
allocation over 256 MiB is a crash; crashing inputs are saved under
fuzz/artifacts/TARGET/ and make the command exit non-zero.";

/// The command line of `cargo xtask fuzz`.
#[derive(Debug, PartialEq, Eq)]
struct Options {
    seconds: u64,
    targets: Vec<String>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        seconds: DEFAULT_SECONDS,
        targets: Vec::new(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let seconds = if arg == "--seconds" {
            Some(args.next().ok_or("--seconds needs a number")?.as_str())
        } else {
            arg.strip_prefix("--seconds=")
        };
        match seconds {
            Some(n) => {
                options.seconds =
                    n.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                        format!("--seconds wants a whole number above 0, not `{n}`")
                    })?;
            }
            None if arg.starts_with('-') => return Err(format!("unknown option `{arg}`")),
            None => options.targets.push(arg.clone()),
        }
    }
    Ok(options)
}

/// The fuzz targets: the stems of `fuzz/fuzz_targets/*.rs`, sorted.
fn all_targets(fuzz_dir: &Path) -> Result<Vec<String>, String> {
    let dir = fuzz_dir.join("fuzz_targets");
    let entries =
        std::fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut targets: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .filter_map(|path| Some(path.file_stem()?.to_string_lossy().into_owned()))
        .collect();
    targets.sort();
    Ok(targets)
}

/// True when a toolchain called `nightly` is installed.
fn has_nightly() -> bool {
    process::succeeds_quietly(&mut cargo(&["+nightly", "--version"]))
}

/// `cargo +nightly ARGS`, or, on a machine with only a stable toolchain
/// (which cannot download another), the stable compiler with its nightly
/// features unlocked by `RUSTC_BOOTSTRAP=1`.
fn nightly_cargo(nightly: bool, args: &[&str]) -> Command {
    if nightly {
        let mut full = vec!["+nightly"];
        full.extend_from_slice(args);
        cargo(&full)
    } else {
        let mut cmd = cargo(args);
        cmd.env("RUSTC_BOOTSTRAP", "1");
        cmd
    }
}

/// The largest single allocation a target may make, in MiB; libFuzzer
/// reports a larger one as a crash. Inputs are at most 4 KiB, and decoders
/// must never allocate more than their input justifies (a record batch may
/// decompress to at most 64 MiB), so anything near this is a bug: typically
/// a count taken from the input and trusted.
const MALLOC_LIMIT_MB: u32 = 256;

/// Real inputs each target starts from, besides its own corpus: folders of
/// the repository whose files are inputs in the target's format. libFuzzer
/// reads them and writes what it finds only to the target's corpus.
const SEEDS: &[(&str, &str)] = &[
    (
        "request_decode",
        // Whole request frames (header + body) captured from librdkafka.
        "crates/kproducer-protocol/tests/data/librdkafka-2.16",
    ),
    (
        "producer_responses",
        // Scripts for the scripted broker: well-formed conversations in
        // every delivery mode, and one of each operation.
        "fuzz/seeds/producer_responses",
    ),
];

/// Tuning for targets that need it: extra libFuzzer flags, and
/// `ASAN_OPTIONS`.
const TUNING: &[(&str, &[&str], &str)] = &[(
    "producer_responses",
    // A whole producer per input touches ~10k coverage counters, which made
    // libFuzzer's entropic bookkeeping about 2/3 of the time, and ASan's
    // stack trace per allocation (only used to report memory-unsafety; the
    // code is safe Rust) most of the rest: 11 ms CPU per input with both,
    // 4.4 ms without. At tens of inputs a second libFuzzer's slow growth of
    // the input length (`-len_control`) kept scripts under 26 bytes after
    // 10 minutes: scripts may be as long as useful (a conversation is tens
    // of responses; a replaced body at most 255 bytes) from the start.
    &["-entropic=0", "-len_control=0", "-max_len=1024"],
    "malloc_context_size=0",
)];

/// Fuzzes `target` for `seconds`, starting from its corpus
/// (`fuzz/corpus/TARGET`, kept between runs, not committed) and its seeds.
fn run_target(nightly: bool, target: &str, seconds: u64) -> Result<(), String> {
    let root = repo_root();
    let corpus = root.join("fuzz").join("corpus").join(target);
    std::fs::create_dir_all(&corpus)
        .map_err(|e| format!("cannot create {}: {e}", corpus.display()))?;
    let mut dirs = vec![corpus.to_string_lossy().into_owned()];
    for (_, seed) in SEEDS.iter().filter(|(t, _)| *t == target) {
        dirs.push(root.join(seed).to_string_lossy().into_owned());
    }
    let max_time = format!("-max_total_time={seconds}");
    let malloc_limit = format!("-malloc_limit_mb={MALLOC_LIMIT_MB}");
    let mut args = vec!["fuzz", "run", target];
    args.extend(dirs.iter().map(String::as_str));
    args.extend(["--", &max_time, &malloc_limit]);
    let mut cmd = nightly_cargo(nightly, &args);
    for (_, flags, asan) in TUNING.iter().filter(|(t, _, _)| *t == target) {
        cmd.args(flags.iter());
        cmd.env("ASAN_OPTIONS", asan);
    }
    process::run(&mut cmd)
}

/// Runs `cargo xtask fuzz` with the arguments after `fuzz`.
pub(crate) fn main(args: &[String]) -> ExitCode {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let options = match parse(args) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("xtask fuzz: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let fuzz_dir = repo_root().join("fuzz");
    let known = match all_targets(&fuzz_dir) {
        Ok(known) => known,
        Err(e) => {
            eprintln!("xtask fuzz: {e}");
            return ExitCode::FAILURE;
        }
    };
    let targets = if options.targets.is_empty() {
        known.clone()
    } else {
        options.targets.clone()
    };
    if let Some(unknown) = targets.iter().find(|t| !known.contains(t)) {
        eprintln!(
            "xtask fuzz: no target `{unknown}`; targets: {}",
            known.join(", ")
        );
        return ExitCode::from(2);
    }
    if let Err(e) = CARGO_FUZZ.ensure_installed() {
        eprintln!("xtask fuzz: {e}");
        return ExitCode::FAILURE;
    }
    let nightly = has_nightly();
    if !nightly {
        println!(
            "no nightly toolchain: using the default one with RUSTC_BOOTSTRAP=1 \
             (cargo-fuzz needs nightly-only sanitizer flags)"
        );
    }

    let mut lines = Vec::new();
    let mut failed = 0;
    for target in &targets {
        println!("\n==> fuzz {target} for {} s", options.seconds);
        let start = Instant::now();
        let result = run_target(nightly, target, options.seconds);
        let took = secs(start.elapsed());
        let line = match result {
            Ok(()) => format!("{target:<18} ok       {took:>9}"),
            Err(why) => {
                failed += 1;
                format!(
                    "{target:<18} FAILED   {took:>9}  {why}; inputs that crash are in \
                     fuzz/artifacts/{target}/, replay one with \
                     `cargo +nightly fuzz run {target} FILE`"
                )
            }
        };
        println!("{line}");
        lines.push(line);
    }
    println!("\n==> summary");
    for line in &lines {
        println!("{line}");
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn defaults_to_every_target_for_a_minute() {
        assert_eq!(
            parse(&[]).unwrap(),
            Options {
                seconds: DEFAULT_SECONDS,
                targets: vec![]
            }
        );
    }

    #[test]
    fn parses_seconds_and_targets() {
        let options = parse(&strings(&["--seconds", "5", "batch_read", "--seconds=7"])).unwrap();
        assert_eq!(options.seconds, 7);
        assert_eq!(options.targets, ["batch_read"]);
    }

    #[test]
    fn rejects_bad_seconds_and_unknown_options() {
        assert!(parse(&strings(&["--seconds", "0"])).is_err());
        assert!(parse(&strings(&["--seconds", "soon"])).is_err());
        assert!(parse(&strings(&["--seconds"])).is_err());
        assert!(parse(&strings(&["--jobs", "2"])).is_err());
    }

    #[test]
    fn seeds_name_real_targets_and_folders() {
        let targets = all_targets(&repo_root().join("fuzz")).unwrap();
        for (target, dir) in SEEDS {
            assert!(targets.iter().any(|t| t == target), "{target}");
            let files = std::fs::read_dir(repo_root().join(dir)).unwrap().count();
            assert!(files > 0, "{dir} is empty");
        }
        for (target, _, _) in TUNING {
            assert!(targets.iter().any(|t| t == target), "{target}");
        }
    }

    #[test]
    fn finds_the_committed_targets() {
        let targets = all_targets(&repo_root().join("fuzz")).unwrap();
        assert_eq!(
            targets,
            [
                "batch_read",
                "producer_responses",
                "request_decode",
                "response_decode"
            ]
        );
    }
}
