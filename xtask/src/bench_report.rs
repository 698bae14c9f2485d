//! Turning the clients' JSON lines into the "Clients side by side" section
//! of `docs/benchmarks.md`: medians per client, workload and broker, the
//! ratios against librdkafka, and whether the project's targets are met.
//!
//! Everything here is pure (results in, text out), so it is tested without
//! running a benchmark.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::bench_broker::{BrokerKind, fake_broker_args};
use crate::bench_plan::{Client, Workload};
use crate::json;

/// The heading of the section `cargo xtask bench` owns.
pub(crate) const SECTION_HEADING: &str = "## Clients side by side";

/// One successful run, as its JSON line reported it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sample {
    /// The client and its version, e.g. `librdkafka-2.16.0`.
    pub(crate) client_version: String,
    /// Acknowledged records.
    pub(crate) records: f64,
    /// Records per second of the run.
    pub(crate) records_per_sec: f64,
    /// MiB of values per second.
    pub(crate) mb_per_sec: f64,
    /// 99th percentile send→ack latency, ms.
    pub(crate) p99_ms: f64,
    /// The client process's CPU time (user + system), s.
    pub(crate) cpu_s: f64,
    /// Most connections per broker it held.
    pub(crate) connections: f64,
}

impl Sample {
    /// CPU seconds per million acknowledged records.
    pub(crate) fn cpu_per_million(&self) -> f64 {
        if self.records > 0.0 {
            self.cpu_s * 1e6 / self.records
        } else {
            f64::NAN
        }
    }
}

/// Reads a driver's JSON line. A run with failed records is a failure: its
/// rate would not be comparable.
pub(crate) fn parse_sample(line: &str) -> Result<Sample, String> {
    let value = json::parse(line)?;
    let number = |key: &str| {
        value
            .get(key)
            .and_then(json::Value::as_f64)
            .ok_or_else(|| format!("the JSON report has no number `{key}`: {line}"))
    };
    let errors = number("errors")?;
    if errors > 0.0 {
        return Err(format!("{errors} records failed"));
    }
    let p99_ms = value
        .get("latency_ms")
        .and_then(|l| l.get("p99"))
        .and_then(json::Value::as_f64)
        .ok_or_else(|| format!("the JSON report has no number `latency_ms.p99`: {line}"))?;
    Ok(Sample {
        client_version: value
            .get("client")
            .and_then(json::Value::as_str)
            .unwrap_or("unknown")
            .to_string(),
        records: number("records")?,
        records_per_sec: number("records_per_sec")?,
        mb_per_sec: number("mb_per_sec")?,
        p99_ms,
        cpu_s: number("cpu_s")?,
        connections: number("max_connections_per_broker").unwrap_or(f64::NAN),
    })
}

/// The runs of one client on one workload and broker.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cell {
    /// Runs that succeeded.
    pub(crate) samples: Vec<Sample>,
    /// Why the others failed.
    pub(crate) failures: Vec<String>,
}

/// Medians of a cell's samples, each column on its own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Medians {
    /// Records/s.
    pub(crate) records_per_sec: f64,
    /// MB/s.
    pub(crate) mb_per_sec: f64,
    /// p99 latency, ms.
    pub(crate) p99_ms: f64,
    /// CPU s per million records.
    pub(crate) cpu_per_million: f64,
    /// The most connections per broker seen in any run.
    pub(crate) max_connections: f64,
}

impl Cell {
    /// `None` when no run succeeded.
    pub(crate) fn medians(&self) -> Option<Medians> {
        if self.samples.is_empty() {
            return None;
        }
        let of = |f: fn(&Sample) -> f64| median(self.samples.iter().map(f).collect());
        Some(Medians {
            records_per_sec: of(|s| s.records_per_sec),
            mb_per_sec: of(|s| s.mb_per_sec),
            p99_ms: of(|s| s.p99_ms),
            cpu_per_million: of(Sample::cpu_per_million),
            max_connections: self
                .samples
                .iter()
                .map(|s| s.connections)
                .fold(f64::NAN, f64::max),
        })
    }
}

/// The median (the mean of the middle two for an even count).
pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// One table row group: a workload and each client's runs.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    /// What was run.
    pub(crate) workload: Workload,
    /// Each client's runs.
    pub(crate) cells: BTreeMap<Client, Cell>,
}

/// Everything measured on one kind of broker.
#[derive(Debug, Clone)]
pub(crate) struct BrokerResults {
    /// Which broker.
    pub(crate) kind: BrokerKind,
    /// The throughput workloads, then the latency run if it ran.
    pub(crate) rows: Vec<Row>,
    /// Anything the reader must know (a skipped latency run, say).
    pub(crate) notes: Vec<String>,
}

impl BrokerResults {
    /// The medians of `client` on the first row matching `pick`.
    fn medians(&self, client: Client, pick: impl Fn(&Workload) -> bool) -> Option<Medians> {
        self.rows
            .iter()
            .find(|r| pick(&r.workload))?
            .cells
            .get(&client)?
            .medians()
    }
}

/// The unpaced 100-byte idempotent workload the targets are stated for.
fn is_headline(w: &Workload) -> bool {
    w.idempotent && w.record_size == 100 && w.throughput.is_none() && !w.sustained
}

/// The same workload, five times longer.
fn is_sustained(w: &Workload) -> bool {
    w.sustained
}

fn is_latency(w: &Workload) -> bool {
    w.throughput.is_some()
}

/// The circumstances of the run, for the section's preamble.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    /// The exact command.
    pub(crate) command: String,
    /// When it started (UTC).
    pub(crate) date: String,
    /// Logical CPUs.
    pub(crate) nproc: usize,
    /// From `/proc/cpuinfo`.
    pub(crate) cpu_model: String,
    /// `/proc/loadavg`'s first three fields before and after.
    pub(crate) load: (String, String),
    /// `rustc -V`.
    pub(crate) rustc: String,
    /// Rounds per client, workload and broker.
    pub(crate) rounds: u32,
    /// Whether `--quick` shrank the workloads.
    pub(crate) quick: bool,
}

/// The whole "Clients side by side" section, heading included.
pub(crate) fn render(ctx: &Context, brokers: &[BrokerResults]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{SECTION_HEADING}\n");
    out.push_str(
        "Written by `cargo xtask bench` (`xtask/src/bench.rs`); rerunning it \
         replaces this section only.\n\n",
    );
    if ctx.quick {
        out.push_str(
            "**A `--quick` smoke test (record counts ÷ 20): the numbers say that \
             the pipeline works, not how fast anything is.**\n\n",
        );
    }
    let _ = writeln!(out, "```text\n{}\n```\n", ctx.command);
    let versions = client_versions(brokers);
    let _ = writeln!(
        out,
        "- Date: {}\n- Machine: {} logical CPUs, {}; load average {} before, {} after \
         (the machine is shared, so rates vary from run to run)\n- Toolchain: {}\n\
         - Clients: {} (librdkafka through the `rdkafka` 0.39 crate, linked to the \
         shared library `tools/install-librdkafka-peer.sh` installs: see \
         `bench/peers/README.md`)\n- Every client gets the same flags: `--acks all --compression none \
         --linger-ms 5 --batch-size 1048576`, topic `perf` with 6 partitions, a fresh broker \
         per run, {} round(s) per client, workload and broker, the clients taking turns \
         within each round\n- Medians over the rounds, each column on its own; CPU is the \
         client process's own user + system time (`cpu_s` of its JSON line, from \
         `/proc/self/stat`, 10 ms resolution) per million acknowledged records; ratios are \
         against librdkafka on the same row (records/s: higher is better; CPU per record \
         and p99: lower is better); MB is MiB of record values, as in Kafka's perf tool\n\
         - The fake broker is one broker, `kproducer-fake-broker {}`: it serves one request \
         at a time per connection, as Kafka does, so a client gains from more connections \
         only there; kproducer scales its connections (up to 4 per broker by default), \
         librdkafka and krafka keep one\n",
        ctx.date,
        ctx.nproc,
        ctx.cpu_model,
        ctx.load.0,
        ctx.load.1,
        ctx.rustc,
        versions,
        ctx.rounds,
        fake_broker_args().join(" ")
    );
    out.push_str("### Targets\n\n");
    for line in targets(brokers) {
        let _ = writeln!(out, "- {line}");
    }
    out.push('\n');
    for broker in brokers {
        let _ = writeln!(out, "### {}\n", broker.kind.describe());
        out.push_str(
            "| workload | client | records/s | MB/s | p99 ms | CPU s / 1M records | \
             records/s vs librdkafka | CPU/record vs librdkafka | p99 vs librdkafka | \
             connections | runs ok |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
        );
        for row in &broker.rows {
            render_row(&mut out, row);
        }
        out.push('\n');
        for note in &broker.notes {
            let _ = writeln!(out, "- {note}");
        }
        let failures = failure_lines(broker);
        if !failures.is_empty() {
            out.push_str("Failed runs:\n\n");
            for line in failures {
                let _ = writeln!(out, "- {line}");
            }
        }
        if !broker.notes.is_empty() {
            out.push('\n');
        }
    }
    out
}

fn render_row(out: &mut String, row: &Row) {
    let base = row.cells.get(&Client::Librdkafka).and_then(Cell::medians);
    for (client, cell) in &row.cells {
        let runs = cell.samples.len() + cell.failures.len();
        let ok = format!("{}/{runs}", cell.samples.len());
        let Some(m) = cell.medians() else {
            let _ = writeln!(
                out,
                "| {} | {} | failed | | | | | | | | {ok} |",
                row.workload.label(),
                client.name()
            );
            continue;
        };
        let ratio = |ours: f64, theirs: Option<f64>| match theirs {
            Some(t) if *client != Client::Librdkafka => ratio_text(ours / t),
            Some(_) => "—".to_string(),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.1} | {:.1} | {:.3} | {} | {} | {} | {} | {ok} |",
            row.workload.label(),
            client.name(),
            thousands(m.records_per_sec),
            m.mb_per_sec,
            m.p99_ms,
            m.cpu_per_million,
            ratio(m.records_per_sec, base.map(|b| b.records_per_sec)),
            ratio(m.cpu_per_million, base.map(|b| b.cpu_per_million)),
            ratio(m.p99_ms, base.map(|b| b.p99_ms)),
            if m.max_connections.is_nan() {
                "?".to_string()
            } else {
                format!("{:.0}", m.max_connections)
            },
        );
    }
}

fn failure_lines(broker: &BrokerResults) -> Vec<String> {
    let mut lines = Vec::new();
    for row in &broker.rows {
        for (client, cell) in &row.cells {
            for why in &cell.failures {
                // One line each: the first line of the reason.
                let first = why.lines().next().unwrap_or_default();
                lines.push(format!(
                    "{} on {}: {first}",
                    client.name(),
                    row.workload.label()
                ));
            }
        }
    }
    lines
}

/// `1.27×`, or `n/a` when the ratio is not a number.
fn ratio_text(r: f64) -> String {
    if r.is_finite() {
        format!("{r:.2}×")
    } else {
        "n/a".to_string()
    }
}

/// `1234567.8` → `1,234,568`.
pub(crate) fn thousands(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".to_string();
    }
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 { format!("-{out}") } else { out }
}

fn client_versions(brokers: &[BrokerResults]) -> String {
    let mut seen: Vec<String> = Vec::new();
    for broker in brokers {
        for row in &broker.rows {
            for cell in row.cells.values() {
                for s in &cell.samples {
                    if !seen.contains(&s.client_version) {
                        seen.push(s.client_version.clone());
                    }
                }
            }
        }
    }
    if seen.is_empty() {
        "none ran successfully".to_string()
    } else {
        seen.join(", ")
    }
}

/// The project's targets, each with the measured ratio and met / missed.
pub(crate) fn targets(brokers: &[BrokerResults]) -> Vec<String> {
    let find = |kind| brokers.iter().find(|b| b.kind == kind);
    let mut lines = Vec::new();
    let mut check = |what: &str, measured: Option<f64>, goal: f64, at_least: bool| {
        lines.push(match measured {
            Some(r) if r.is_finite() => {
                let met = if at_least { r >= goal } else { r <= goal };
                let sign = if at_least { "≥" } else { "≤" };
                format!(
                    "{what}: {} (target {sign} {goal}×) — **{}**",
                    ratio_text(r),
                    if met { "met" } else { "missed" }
                )
            }
            _ => format!("{what}: not measured in this run"),
        });
    };
    let ratio = |broker: Option<&BrokerResults>,
                 pick: fn(&Workload) -> bool,
                 metric: fn(&Medians) -> f64| {
        let b = broker?;
        let ours = b.medians(Client::Kproducer, pick)?;
        let theirs = b.medians(Client::Librdkafka, pick)?;
        Some(metric(&ours) / metric(&theirs))
    };
    let tansu = find(BrokerKind::Tansu);
    let fake = find(BrokerKind::Fake);
    check(
        "tansu, 1M × 100 B idempotent: kproducer records/s ÷ librdkafka's",
        ratio(tansu, is_headline, |m| m.records_per_sec),
        1.25,
        true,
    );
    check(
        "tansu, 1M × 100 B idempotent: kproducer CPU per record ÷ librdkafka's",
        ratio(tansu, is_headline, |m| m.cpu_per_million),
        0.5,
        false,
    );
    check(
        "fake broker (1 ms + 10 µs/KiB per request), 1M × 100 B idempotent: kproducer \
         (adaptive connections) records/s ÷ librdkafka's",
        ratio(fake, is_headline, |m| m.records_per_sec),
        2.5,
        true,
    );
    check(
        "fake broker, the same sustained (5M × 100 B idempotent, so the scaler's ramp-up is a \
         small part of the run): kproducer records/s ÷ librdkafka's",
        ratio(fake, is_sustained, |m| m.records_per_sec),
        2.5,
        true,
    );
    for (name, broker) in [("tansu", tansu), ("fake broker", fake)] {
        check(
            &format!("{name}, offered half of librdkafka's maximum: kproducer p99 ÷ librdkafka's"),
            ratio(broker, is_latency, |m| m.p99_ms),
            1.0,
            false,
        );
    }
    lines
}

/// `doc` with the section under [`SECTION_HEADING`] (up to the next `## `
/// heading) replaced by `section`, or `section` appended when there is none.
pub(crate) fn replace_section(doc: &str, section: &str) -> String {
    let section = section.trim_end();
    let lines: Vec<&str> = doc.lines().collect();
    let start = lines.iter().position(|l| l.trim_end() == SECTION_HEADING);
    let Some(start) = start else {
        let mut out = doc.trim_end().to_string();
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(section);
        out.push('\n');
        return out;
    };
    let end = lines[start + 1..]
        .iter()
        .position(|l| l.starts_with("## "))
        .map_or(lines.len(), |i| start + 1 + i);
    let mut out = String::new();
    for line in &lines[..start] {
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(section);
    out.push('\n');
    if end < lines.len() {
        out.push('\n');
        for line in &lines[end..] {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
#[path = "bench_report_tests.rs"]
mod tests;
