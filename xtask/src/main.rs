//! Project automation, run as `cargo xtask COMMAND` (an alias in
//! `.cargo/config.toml`). Dependency-free on purpose: it only runs other
//! programs.
//!
//! - `broker`: a fresh tansu on 127.0.0.1 for the real-broker tests.

use std::process::ExitCode;

mod broker;
mod broker_state;
mod peer;
mod roundtrip;
mod tansu;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("broker") => broker::main(&args[1..]),
        _ => {
            eprintln!("usage: cargo xtask broker start|stop|status|install|roundtrip");
            ExitCode::from(2)
        }
    }
}
