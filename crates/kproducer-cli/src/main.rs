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
//!
//! `RUST_LOG` (e.g. `RUST_LOG=kproducer=debug`) writes the library's
//! `tracing` events to stderr; unset, nothing is logged and the output is
//! exactly what the commands print.

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
#[command(
    name = "kproducer",
    version,
    about,
    after_help = "Set RUST_LOG (e.g. RUST_LOG=kproducer=debug) to trace a run on stderr; unset, nothing is logged."
)]
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

/// Sends `tracing` events to stderr, filtered by `RUST_LOG`, when it is set;
/// otherwise installs nothing, so a run prints exactly what it always did
/// (stdout's last line stays the `--json` report).
fn install_tracing() {
    if std::env::var_os("RUST_LOG").is_none() {
        return;
    }
    let filter = match tracing_subscriber::EnvFilter::try_from_default_env() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("kproducer: RUST_LOG ignored, not a valid filter ({e})");
            return;
        }
    };
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .finish();
    // Fails only when a subscriber is already installed, which nothing
    // else in this binary does; then the existing one stays.
    let _ = tracing::subscriber::set_global_default(subscriber);
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    install_tracing();
    match &cli.command {
        Command::Perf(args) => perf::main(args),
        Command::Produce(args) => produce::main(args),
    }
}
