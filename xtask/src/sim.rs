//! `cargo xtask sim`: the seeded whole-cluster simulation
//! (`crates/kproducer/tests/simulation.rs`), for as many seeds as asked.
//!
//! It only runs the test binary with environment variables: the simulation
//! itself, its invariants and its shrinking live in the test.

use std::process::ExitCode;

use crate::process::{self, cargo};

const USAGE: &str = "\
usage: cargo xtask sim [--seeds N] [--from F] [--seed S] [--release]

Runs the seeded simulation of the producer against the fake cluster:
  --seeds N   seeds F..F+N (default 300, the set CI runs)
  --from F    first seed (default 0)
  --seed S    seed S alone (what a failing run prints to reproduce it)
  --release   build the test optimised (worth it for long runs)
A failing seed is printed with its reproduction command and a shrunk fault
schedule. KPRODUCER_SIM_DEBUG=1 also prints the broker's request log.";

/// The command line of `cargo xtask sim`.
#[derive(Debug, Default, PartialEq, Eq)]
struct Options {
    seeds: Option<u64>,
    from: Option<u64>,
    seed: Option<u64>,
    release: bool,
}

fn number(flag: &str, value: Option<&String>) -> Result<u64, String> {
    let value = value.ok_or_else(|| format!("{flag} needs a number"))?;
    value
        .parse()
        .map_err(|_| format!("{flag} takes a whole number, not `{value}`"))
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seeds" => options.seeds = Some(number(arg, args.next())?),
            "--from" => options.from = Some(number(arg, args.next())?),
            "--seed" => options.seed = Some(number(arg, args.next())?),
            "--release" => options.release = true,
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if options.seed.is_some() && (options.seeds.is_some() || options.from.is_some()) {
        return Err("--seed runs one seed; leave out --seeds and --from".into());
    }
    Ok(options)
}

/// Runs `cargo xtask sim` with the arguments after `sim`.
pub(crate) fn main(args: &[String]) -> ExitCode {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let options = match parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("xtask sim: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut test_args = vec!["test", "-p", "kproducer", "--test", "simulation"];
    if options.release {
        test_args.push("--release");
    }
    test_args.extend(["--", "--nocapture"]);
    let mut cmd = cargo(&test_args);
    let envs = [
        ("KPRODUCER_SIM_SEED", options.seed),
        ("KPRODUCER_SIM_SEEDS", options.seeds),
        ("KPRODUCER_SIM_FROM", options.from),
    ];
    for (name, value) in envs {
        if let Some(v) = value {
            cmd.env(name, v.to_string());
        }
    }
    match process::run(&mut cmd) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask sim: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn parses_seed_ranges_and_one_seed() {
        assert_eq!(
            parse(&args("--seeds 20000 --from 5 --release")),
            Ok(Options {
                seeds: Some(20000),
                from: Some(5),
                seed: None,
                release: true
            })
        );
        assert_eq!(parse(&args("--seed 7")).map(|o| o.seed), Ok(Some(7)));
        assert_eq!(parse(&[]), Ok(Options::default()));
    }

    #[test]
    fn refuses_bad_arguments_with_a_reason() {
        assert!(
            parse(&args("--seeds"))
                .unwrap_err()
                .contains("needs a number")
        );
        assert!(
            parse(&args("--seeds x"))
                .unwrap_err()
                .contains("whole number")
        );
        assert!(
            parse(&args("--seed 1 --seeds 2"))
                .unwrap_err()
                .contains("one seed")
        );
        assert!(parse(&args("--fast")).unwrap_err().contains("unknown"));
    }
}
