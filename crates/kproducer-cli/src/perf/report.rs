//! [`PerfReport`]: what `kproducer perf` prints at the end — a summary for
//! people and, with `--json`, one JSON object as the last line of stdout,
//! with the same keys, order and precision as the benchmark peers
//! (`bench/peers`), so `cargo xtask bench` compares like with like.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use kproducer_perf::{BYTES_PER_MB, LatencySummary, NonFinite, PerfReport as SharedReport};

use super::scaling::ScalingStory;

/// The outcome of one run.
#[derive(Debug, Clone)]
pub(crate) struct PerfReport {
    /// `kproducer-<version>`.
    pub(crate) client: String,
    /// Records acknowledged (with `--acks 0`: written).
    pub(crate) records: u64,
    /// Bytes of each record's value.
    pub(crate) record_size: usize,
    /// From the first send to the last acknowledgement.
    pub(crate) elapsed: Duration,
    /// Send→acknowledgement latency.
    pub(crate) latency: LatencySummary,
    /// CPU time of the client: the process, less the embedded broker's
    /// threads.
    pub(crate) cpu: Duration,
    /// CPU time of the embedded broker's threads (zero against a real one).
    pub(crate) broker_cpu: Option<Duration>,
    /// CPU time of the sending loop's thread during the run.
    pub(crate) loop_cpu: Option<Duration>,
    /// Records that failed.
    pub(crate) errors: u64,
    /// Failures by kind.
    pub(crate) errors_by_kind: BTreeMap<String, u64>,
    /// The first failure, in full.
    pub(crate) first_error: Option<String>,
    /// Connections per broker over time.
    pub(crate) scaling: ScalingStory,
}

impl PerfReport {
    /// The numbers every perf driver reports alike, for the shared JSON
    /// line and rates.
    fn shared(&self) -> SharedReport {
        SharedReport {
            client: self.client.clone(),
            records: self.records,
            record_size: self.record_size,
            elapsed: self.elapsed,
            latency: self.latency,
            cpu: self.cpu,
            errors: self.errors,
            // More connections than u32::MAX to one broker cannot exist.
            max_connections_per_broker: u32::try_from(self.scaling.max_connections_per_broker())
                .unwrap_or(u32::MAX),
            scale_events: self.scaling.scale_events,
        }
    }

    /// Acknowledged records per second.
    pub(crate) fn records_per_sec(&self) -> f64 {
        self.shared().records_per_sec()
    }

    /// Acknowledged value bytes per second, in MiB.
    pub(crate) fn mb_per_sec(&self) -> f64 {
        self.shared().mb_per_sec()
    }

    /// The JSON line (no newline), the peers' layout: exactly `client`,
    /// `records`, `record_size`, `elapsed_s`, `records_per_sec`,
    /// `mb_per_sec`, `latency_ms` {`p50`, `p95`, `p99`, `max`}, `cpu_s`,
    /// `errors`, `max_connections_per_broker`, `scale_events`; NaN and
    /// infinities as `0`, as this command always wrote them.
    pub(crate) fn to_json_line(&self) -> String {
        self.shared().to_json_line_with(NonFinite::Zero)
    }

    /// The summary for people, several lines.
    pub(crate) fn human_summary(&self) -> String {
        let mut s = String::new();
        let l = &self.latency;
        let bytes = self.records as f64 * self.record_size as f64;
        let cpu_per_million = if self.records == 0 {
            0.0
        } else {
            self.cpu.as_secs_f64() * 1e6 / self.records as f64
        };
        let _ = writeln!(
            s,
            "{}: {} records of {} bytes ({:.1} MiB) acknowledged in {:.3} s: \
             {:.1} records/s, {:.2} MB/s",
            self.client,
            self.records,
            self.record_size,
            bytes / BYTES_PER_MB,
            self.elapsed.as_secs_f64(),
            self.records_per_sec(),
            self.mb_per_sec(),
        );
        let _ = writeln!(
            s,
            "latency send→ack: p50 {:.3} ms, p95 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            l.p50, l.p95, l.p99, l.max
        );
        let _ = write!(
            s,
            "CPU: client {:.2} s ({:.3} s per million records)",
            self.cpu.as_secs_f64(),
            cpu_per_million
        );
        if let Some(l) = self.loop_cpu {
            let _ = write!(
                s,
                "; the sending loop's thread {:.2} s ({:.0} % of the run)",
                l.as_secs_f64(),
                100.0 * l.as_secs_f64() / self.elapsed.as_secs_f64().max(1e-9)
            );
        }
        if let Some(b) = self.broker_cpu {
            let _ = write!(s, "; embedded broker {:.2} s", b.as_secs_f64());
        }
        s.push('\n');
        if self.errors == 0 {
            s.push_str("errors: none\n");
        } else {
            let _ = write!(s, "errors: {} records failed:", self.errors);
            for (kind, n) in &self.errors_by_kind {
                let _ = write!(s, " {kind} × {n};");
            }
            s.push('\n');
            if let Some(first) = &self.first_error {
                let _ = writeln!(s, "first error: {first}");
            }
        }
        s.push_str(&self.scaling.describe());
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> PerfReport {
        PerfReport {
            client: "kproducer-0.1.0".into(),
            records: 200_000,
            record_size: 100,
            elapsed: Duration::from_millis(250),
            latency: LatencySummary {
                p50: 3.0,
                p95: 5.5,
                p99: 7.25,
                max: 9.0,
            },
            cpu: Duration::from_millis(310),
            broker_cpu: Some(Duration::from_millis(100)),
            loop_cpu: None,
            errors: 0,
            errors_by_kind: BTreeMap::new(),
            first_error: None,
            scaling: ScalingStory::default(),
        }
    }

    #[test]
    fn json_line_has_the_peers_layout() {
        assert_eq!(
            report().to_json_line(),
            "{\"client\":\"kproducer-0.1.0\",\"records\":200000,\"record_size\":100,\
             \"elapsed_s\":0.250000,\"records_per_sec\":800000.0,\"mb_per_sec\":76.294,\
             \"latency_ms\":{\"p50\":3.000,\"p95\":5.500,\"p99\":7.250,\"max\":9.000},\
             \"cpu_s\":0.310,\"errors\":0,\"max_connections_per_broker\":0,\"scale_events\":0}"
        );
    }

    #[test]
    fn strings_are_escaped() {
        let r = PerfReport {
            client: "a\"b\\c\n".into(),
            ..report()
        };
        assert!(
            r.to_json_line()
                .starts_with("{\"client\":\"a\\\"b\\\\c\\u000a\","),
            "{}",
            r.to_json_line()
        );
    }

    #[test]
    fn non_finite_numbers_are_zero() {
        let mut r = report();
        r.latency.max = f64::NAN;
        assert!(
            r.to_json_line().contains("\"max\":0}"),
            "{}",
            r.to_json_line()
        );
    }

    #[test]
    fn zero_elapsed_gives_zero_rates() {
        let r = PerfReport {
            elapsed: Duration::ZERO,
            ..report()
        };
        assert_eq!(r.records_per_sec(), 0.0);
        assert!(r.to_json_line().contains("\"records_per_sec\":0.0"));
    }

    #[test]
    fn summary_names_errors_by_kind() {
        let mut r = report();
        r.errors = 3;
        r.errors_by_kind.insert("delivery timeout".into(), 3);
        r.first_error = Some("boom".into());
        let s = r.human_summary();
        assert!(s.contains("3 records failed"), "{s}");
        assert!(s.contains("delivery timeout × 3"), "{s}");
        assert!(s.contains("first error: boom"), "{s}");
    }
}
