//! What a perf run reports: one JSON line (the same keys, order and
//! precision in every driver, so `cargo xtask bench` compares like with
//! like) and a one-line human summary.

use std::fmt::Write as _;
use std::time::Duration;

use crate::LatencySummary;

/// Bytes in the "MB" of `mb_per_sec`: a mebibyte, as in Apache Kafka's
/// `kafka-producer-perf-test`.
pub const BYTES_PER_MB: f64 = 1024.0 * 1024.0;

/// The outcome of one perf run.
///
/// ```
/// use std::time::Duration;
/// use kproducer_perf::{LatencySummary, PerfReport};
///
/// let report = PerfReport {
///     client: "librdkafka-2.16.0".into(),
///     records: 200_000,
///     record_size: 100,
///     elapsed: Duration::from_millis(250),
///     latency: LatencySummary { p50: 3.0, p95: 5.5, p99: 7.25, max: 9.0 },
///     cpu: Duration::from_millis(310),
///     errors: 0,
///     max_connections_per_broker: 1,
///     scale_events: 0,
/// };
/// assert_eq!(report.records_per_sec(), 800_000.0);
/// assert!(report.to_json_line().starts_with(r#"{"client":"librdkafka-2.16.0","records":200000,"#));
/// assert_eq!(report.exit_code(), std::process::ExitCode::SUCCESS);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PerfReport {
    /// Client and version, e.g. `librdkafka-2.16.0`, `krafka-0.28.1`.
    pub client: String,
    /// Records the broker acknowledged (with `--acks 0`: records written).
    pub records: u64,
    /// Bytes in each record's value.
    pub record_size: usize,
    /// From just before the first send to the last acknowledgement.
    pub elapsed: Duration,
    /// Per-record latency from the send call to its acknowledgement.
    pub latency: LatencySummary,
    /// User + system CPU this process used, all threads, whole run.
    pub cpu: Duration,
    /// Records whose delivery failed.
    pub errors: u64,
    /// Most connections the client held to any one broker.
    pub max_connections_per_broker: u32,
    /// How often the client changed its number of connections.
    pub scale_events: u64,
}

/// How the JSON line writes a number that is NaN or infinite (JSON has
/// neither). Each driver keeps the choice it always made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonFinite {
    /// `null`: the peers' choice, and [`PerfReport::to_json_line`]'s.
    Null,
    /// `0`: `kproducer perf`'s choice.
    Zero,
}

impl PerfReport {
    /// Acknowledged records per second of `elapsed`.
    #[must_use]
    pub fn records_per_sec(&self) -> f64 {
        per_second(self.records as f64, self.elapsed)
    }

    /// Acknowledged value bytes per second, in MiB.
    #[must_use]
    pub fn mb_per_sec(&self) -> f64 {
        per_second(
            self.records as f64 * self.record_size as f64 / BYTES_PER_MB,
            self.elapsed,
        )
    }

    /// The report as one line of JSON (no trailing newline), with exactly the
    /// keys `client`, `records`, `record_size`, `elapsed_s`,
    /// `records_per_sec`, `mb_per_sec`, `latency_ms` (`p50`, `p95`, `p99`,
    /// `max`), `cpu_s`, `errors`, `max_connections_per_broker` and
    /// `scale_events`.
    ///
    /// NaN and infinities are written as `null`; see
    /// [`PerfReport::to_json_line_with`].
    #[must_use]
    pub fn to_json_line(&self) -> String {
        self.to_json_line_with(NonFinite::Null)
    }

    /// [`PerfReport::to_json_line`], writing NaN and infinities as
    /// `non_finite` says.
    #[must_use]
    pub fn to_json_line_with(&self, non_finite: NonFinite) -> String {
        let mut line = String::with_capacity(320);
        // Writing to a String cannot fail; the results are ignored for that
        // reason only.
        let _ = write!(line, "{{\"client\":");
        push_json_string(&mut line, &self.client);
        let _ = write!(
            line,
            ",\"records\":{},\"record_size\":{},\"elapsed_s\":{},\"records_per_sec\":{},\
             \"mb_per_sec\":{},\"latency_ms\":{{\"p50\":{},\"p95\":{},\"p99\":{},\"max\":{}}},\
             \"cpu_s\":{},\"errors\":{},\"max_connections_per_broker\":{},\"scale_events\":{}}}",
            self.records,
            self.record_size,
            json_number(non_finite, self.elapsed.as_secs_f64(), 6),
            json_number(non_finite, self.records_per_sec(), 1),
            json_number(non_finite, self.mb_per_sec(), 3),
            json_number(non_finite, self.latency.p50, 3),
            json_number(non_finite, self.latency.p95, 3),
            json_number(non_finite, self.latency.p99, 3),
            json_number(non_finite, self.latency.max, 3),
            json_number(non_finite, self.cpu.as_secs_f64(), 3),
            self.errors,
            self.max_connections_per_broker,
            self.scale_events,
        );
        line
    }

    /// A one-line summary for people, in the style of Kafka's perf tool.
    #[must_use]
    pub fn human_summary(&self) -> String {
        format!(
            "{client}: {records} records acknowledged, {errors} failed, in {elapsed:.3} s: \
             {rate:.1} records/s ({mb:.2} MB/s); latency p50 {p50:.3} ms, p95 {p95:.3} ms, \
             p99 {p99:.3} ms, max {max:.3} ms; CPU {cpu:.3} s ({cpu_per_m:.3} s per million records)",
            client = self.client,
            records = self.records,
            errors = self.errors,
            elapsed = self.elapsed.as_secs_f64(),
            rate = self.records_per_sec(),
            mb = self.mb_per_sec(),
            p50 = self.latency.p50,
            p95 = self.latency.p95,
            p99 = self.latency.p99,
            max = self.latency.max,
            cpu = self.cpu.as_secs_f64(),
            cpu_per_m = if self.records == 0 {
                0.0
            } else {
                self.cpu.as_secs_f64() * 1e6 / self.records as f64
            },
        )
    }

    /// Prints the report: with `json`, the summary to stderr and the JSON
    /// line last on stdout; otherwise the summary to stdout.
    pub fn print(&self, json: bool) {
        if json {
            eprintln!("{}", self.human_summary());
            println!("{}", self.to_json_line());
        } else {
            println!("{}", self.human_summary());
        }
    }

    /// Success only if no record failed.
    #[must_use]
    pub fn exit_code(&self) -> std::process::ExitCode {
        if self.errors == 0 {
            std::process::ExitCode::SUCCESS
        } else {
            std::process::ExitCode::FAILURE
        }
    }
}

fn per_second(amount: f64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { amount / secs } else { 0.0 }
}

/// A finite number with `decimals` places (never an exponent, which Rust's
/// fixed-precision formatting does not produce); NaN or infinity, which
/// JSON cannot hold, as `non_finite` says.
fn json_number(non_finite: NonFinite, value: f64, decimals: usize) -> String {
    if value.is_finite() {
        format!("{value:.decimals$}")
    } else {
        match non_finite {
            NonFinite::Null => "null",
            NonFinite::Zero => "0",
        }
        .to_owned()
    }
}

fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> PerfReport {
        PerfReport {
            client: "krafka-0.28.1".into(),
            records: 1_000_000,
            record_size: 100,
            elapsed: Duration::from_millis(500),
            latency: LatencySummary {
                p50: 1.5,
                p95: 2.0,
                p99: 4.125,
                max: 10.0,
            },
            cpu: Duration::from_millis(1230),
            errors: 0,
            max_connections_per_broker: 1,
            scale_events: 0,
        }
    }

    #[test]
    fn json_line_has_exactly_the_agreed_keys_and_values() {
        let line = report().to_json_line();
        assert!(!line.contains('\n'));
        let value: serde_json::Value = serde_json::from_str(&line).expect("valid JSON");
        let object = value.as_object().expect("an object");
        let keys: Vec<&str> = object.keys().map(String::as_str).collect();
        let mut want = vec![
            "client",
            "records",
            "record_size",
            "elapsed_s",
            "records_per_sec",
            "mb_per_sec",
            "latency_ms",
            "cpu_s",
            "errors",
            "max_connections_per_broker",
            "scale_events",
        ];
        want.sort_unstable();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, want);
        assert_eq!(value["client"], "krafka-0.28.1");
        assert_eq!(value["records"], 1_000_000);
        assert_eq!(value["record_size"], 100);
        assert_eq!(value["elapsed_s"], 0.5);
        assert_eq!(value["records_per_sec"], 2_000_000.0);
        assert_eq!(value["mb_per_sec"], 190.735);
        assert_eq!(value["cpu_s"], 1.23);
        assert_eq!(value["errors"], 0);
        assert_eq!(value["max_connections_per_broker"], 1);
        assert_eq!(value["scale_events"], 0);
        let latency = value["latency_ms"].as_object().expect("an object");
        assert_eq!(latency.len(), 4);
        assert_eq!(value["latency_ms"]["p50"], 1.5);
        assert_eq!(value["latency_ms"]["p95"], 2.0);
        assert_eq!(value["latency_ms"]["p99"], 4.125);
        assert_eq!(value["latency_ms"]["max"], 10.0);
    }

    #[test]
    fn degenerate_runs_still_give_valid_json() {
        let mut degenerate = report();
        degenerate.client = "odd \"name\"\\\n".into();
        degenerate.elapsed = Duration::ZERO;
        degenerate.records = 0;
        degenerate.latency.max = f64::NAN;
        let line = degenerate.to_json_line();
        let value: serde_json::Value = serde_json::from_str(&line).expect("valid JSON");
        assert_eq!(value["client"], "odd \"name\"\\\n");
        assert_eq!(value["records_per_sec"], 0.0);
        assert!(value["latency_ms"]["max"].is_null());
        assert!(
            degenerate
                .human_summary()
                .contains("0 records acknowledged")
        );
    }

    #[test]
    fn non_finite_numbers_are_written_as_asked() {
        let mut odd = report();
        odd.latency.p99 = f64::INFINITY;
        assert!(odd.to_json_line().contains("\"p99\":null,"));
        assert!(
            odd.to_json_line_with(NonFinite::Zero)
                .contains("\"p99\":0,")
        );
        assert_eq!(
            report().to_json_line(),
            report().to_json_line_with(NonFinite::Zero)
        );
    }

    #[test]
    fn any_failure_fails_the_run() {
        let mut failed = report();
        assert_eq!(failed.exit_code(), std::process::ExitCode::SUCCESS);
        failed.errors = 1;
        assert_eq!(failed.exit_code(), std::process::ExitCode::FAILURE);
    }
}
