//! What the peer perf drivers share: the command-line flags (the same as
//! `kproducer perf`'s), and, re-exported from `kproducer-perf` (the crate
//! `kproducer perf` uses too), the pacing of `--throughput`, the record
//! payload, the latency histogram, the process CPU time and the report (a
//! human summary and one JSON line).
//!
//! Two binaries use it:
//!
//! - `rdkafka-perf` drives librdkafka (2.16, the shared library the project
//!   installs for kcat; the bundled 2.12.1 behind a feature) through the
//!   `rdkafka` crate's `BaseProducer` and a delivery callback;
//! - `krafka-perf` drives the pure-Rust `krafka` 0.28 through `enqueue`.
//!
//! Both print, with `--json`, exactly one JSON object as the last line of
//! stdout (see [`PerfReport::to_json_line`]), so `cargo xtask bench` can run
//! them and `kproducer perf` side by side and compare like with like.
//!
//! Nothing here depends on either client.
//!
//! ```
//! use clap::Parser;
//! use kproducer_bench_peers::{PerfCommand, PerfReport};
//!
//! let command = PerfCommand::try_parse_from([
//!     "rdkafka-perf", "--bootstrap", "127.0.0.1:9092", "--num-records", "1000", "--json",
//! ])?;
//! assert_eq!(command.flags.num_records, 1000);
//! assert_eq!(command.flags.batch_size, 1_048_576);
//! # Ok::<(), clap::Error>(())
//! ```

mod flags;

pub use flags::{Acks, Compression, PerfCommand, PerfFlags, Property, PropertyError};
pub use kproducer_perf::{
    CpuTimeError, LatencyRecorder, LatencySummary, Pacer, PerfReport, perf_payload,
    process_cpu_time,
};
