//! The support code every kproducer perf driver shares: `kproducer perf`
//! (crates/kproducer-cli) and the benchmark peers that drive librdkafka and
//! krafka (bench/peers). One copy, so that all of them send the same bytes,
//! pace `--throughput` the same way, measure latency and CPU time alike and
//! print the same JSON line:
//!
//! - [`perf_payload`]: the record value;
//! - [`Pacer`]: `--throughput` as a send schedule;
//! - [`LatencyRecorder`]: send→acknowledgement latency percentiles;
//! - [`process_cpu_time`] and friends: CPU time from `/proc`, no `unsafe`;
//! - [`PerfReport`]: the JSON line `cargo xtask bench` reads, a one-line
//!   summary and the exit code.
//!
//! What only one driver needs (the CLI's connection-scaling story, the
//! peers' command-line flags) stays with that driver.
//!
//! ```
//! use std::time::Duration;
//! use kproducer_perf::{LatencyRecorder, PerfReport, perf_payload};
//!
//! let payload = perf_payload(100);
//! let mut latency = LatencyRecorder::new();
//! latency.record(Duration::from_millis(2));
//! let report = PerfReport {
//!     client: "example-1.0".into(),
//!     records: 1,
//!     record_size: payload.len(),
//!     elapsed: Duration::from_millis(2),
//!     latency: latency.summary(),
//!     cpu: Duration::ZERO,
//!     errors: 0,
//!     max_connections_per_broker: 1,
//!     scale_events: 0,
//! };
//! assert!(report.to_json_line().ends_with(r#""max_connections_per_broker":1,"scale_events":0}"#));
//! ```

mod cpu_time;
mod latency;
mod pacing;
mod payload;
mod report;

pub use cpu_time::{
    CpuTimeError, StatTimes, current_thread_cpu_time, parse_stat, process_cpu_time,
    threads_cpu_time,
};
pub use latency::{LatencyRecorder, LatencySummary};
pub use pacing::Pacer;
pub use payload::perf_payload;
pub use report::{BYTES_PER_MB, NonFinite, PerfReport};
