//! Project automation, run as `cargo xtask COMMAND` (an alias in
//! `.cargo/config.toml`).
//!
//! - `ci`: every check CI runs (format, lints, tests, docs, fuzz targets
//!   build, cargo-deny).
//! - `fuzz`: the libFuzzer targets under `fuzz/`, each for a bounded time.
//!
//! Dependency-free on purpose: it must build on a fresh machine before
//! anything else, and it only runs other programs.

use std::process::ExitCode;

mod ci;
mod deny;
mod fuzz;
mod process;
mod tools;

const USAGE: &str = "\
usage: cargo xtask COMMAND [ARGS]

commands:
  ci     every check CI runs: fmt, clippy, tests, docs, fuzz-build, cargo-deny
  fuzz   run the fuzz targets for a bounded time (needs nightly; not in CI)

`cargo xtask COMMAND --help` describes a command.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("ci") => ci::main(&args[1..]),
        Some("fuzz") => fuzz::main(&args[1..]),
        Some("--help" | "-h" | "help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("xtask: unknown command `{other}`\n{USAGE}");
            ExitCode::from(2)
        }
        None => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
