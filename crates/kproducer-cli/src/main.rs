//! The `kproducer` command.
//!
//! - `kproducer perf`: a producer performance test, Kafka's
//!   `kafka-producer-perf-test` done well; by default against a fake broker
//!   started in-process on 127.0.0.1, so it runs on a fresh machine.
//! - `kproducer produce`: one record per line of standard input, like
//!   `kcat -P`.
//!
//! Errors a person can act on (unreachable broker, unknown topic, bad
//! property) are one line on stderr; the exit status is 0 on success, 1
//! when records failed or the cluster could not be used, 2 for a wrong
//! command line or configuration.

mod error;
mod key_value;
mod perf;
mod preflight;
mod produce;
mod producer_config;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// A pure-Rust Kafka producer's command line.
#[derive(Debug, Parser)]
#[command(name = "kproducer", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Produce records as fast as allowed and report throughput, latency,
    /// CPU time and how connections scaled.
    Perf(perf::PerfArgs),
    /// Produce one record per line of standard input.
    Produce(produce::ProduceArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Command::Perf(args) => perf::main(args),
        Command::Produce(args) => produce::main(args),
    }
}
