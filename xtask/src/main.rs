//! Project automation, run as `cargo xtask COMMAND` (an alias in
//! `.cargo/config.toml`).
//!
//! - `ci`: every check CI runs (format, lints, tests, the librdkafka peer
//!   against the fake broker, the real-broker tests against tansu, docs,
//!   fuzz targets build, cargo-deny).
//! - `fuzz`: the libFuzzer targets under `fuzz/`, each for a bounded time.
//! - `broker`: a fresh tansu on 127.0.0.1 for the real-broker tests.
//! - `bench`: the three producer clients side by side (`docs/benchmarks.md`).
//! - `sim`: the seeded whole-cluster simulation, for N seeds or one.
//!
//! Dependency-free on purpose: it must build on a fresh machine before
//! anything else, and it only runs other programs.

use std::process::ExitCode;

mod bench;
mod bench_broker;
mod bench_child;
mod bench_plan;
mod bench_report;
mod broker;
mod broker_state;
mod ci;
mod deny;
mod fuzz;
mod integration;
mod json;
mod peer;
mod process;
mod roundtrip;
mod sim;
mod tansu;
mod tools;

const USAGE: &str = "\
usage: cargo xtask COMMAND [ARGS]

commands:
  ci      every check CI runs: fmt, clippy, tests, librdkafka peer, tansu
          tests, docs, fuzz-build, cargo-deny
  fuzz    run the fuzz targets for a bounded time (needs nightly; not in CI)
  broker  start|stop|status|install|roundtrip a tansu broker on 127.0.0.1
  bench   kproducer, librdkafka and krafka side by side on tansu and the
          fake broker; writes docs/benchmarks.md
  sim     the seeded whole-cluster simulation (--seeds N, --seed S)

`cargo xtask COMMAND --help` describes a command.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("ci") => ci::main(&args[1..]),
        Some("fuzz") => fuzz::main(&args[1..]),
        Some("broker") => broker::main(&args[1..]),
        Some("bench") => bench::main(&args[1..]),
        Some("sim") => sim::main(&args[1..]),
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
