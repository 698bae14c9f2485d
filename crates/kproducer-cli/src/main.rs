//! The `kproducer` command.
//!
//! Not built yet: `perf` and `produce` land with the project's issue
//! "Real-broker integration, the `kproducer` CLI, and benchmarks". Until then
//! the command says so and exits with status 2 rather than pretending.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cmd = std::env::args().nth(1).unwrap_or_default();
    eprintln!(
        "kproducer {cmd}: not yet built — the CLI lands with the issue \
         \"Real-broker integration, the kproducer CLI, and benchmarks\"; \
         see README.md for what works today"
    );
    ExitCode::from(2)
}
