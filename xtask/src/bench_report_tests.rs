use super::*;
use crate::bench_plan::{latency_workload, workloads};

fn line(client: &str, records: u64, rps: f64, p99: f64, cpu: f64) -> String {
    format!(
        "{{\"client\":\"{client}\",\"records\":{records},\"record_size\":100,\"elapsed_s\":1.0,\
         \"records_per_sec\":{rps:.1},\"mb_per_sec\":{:.3},\"latency_ms\":{{\"p50\":1.0,\
         \"p95\":2.0,\"p99\":{p99:.1},\"max\":9.0}},\"cpu_s\":{cpu:.2},\"errors\":0,\
         \"max_connections_per_broker\":2,\"scale_events\":1}}",
        rps * 100.0 / 1_048_576.0
    )
}

fn cell(samples: &[(f64, f64, f64)], client: &str) -> Cell {
    Cell {
        samples: samples
            .iter()
            .map(|&(rps, p99, cpu)| parse_sample(&line(client, 1_000_000, rps, p99, cpu)).unwrap())
            .collect(),
        failures: Vec::new(),
    }
}

fn row(workload: Workload, ours: Cell, theirs: Cell) -> Row {
    Row {
        workload,
        cells: BTreeMap::from([(Client::Kproducer, ours), (Client::Librdkafka, theirs)]),
    }
}

fn context() -> Context {
    Context {
        command: "cargo xtask bench".into(),
        date: "2026-11-26 16:00 UTC".into(),
        nproc: 2,
        cpu_model: "AMD EPYC".into(),
        load: ("1.0 1.0 1.0".into(), "2.0 2.0 2.0".into()),
        rustc: "rustc 1.95.0".into(),
        rounds: 3,
        quick: false,
    }
}

#[test]
fn a_report_line_becomes_a_sample() {
    let s = parse_sample(&line("kproducer-0.1.0", 2_000_000, 1.5e6, 7.5, 0.9)).unwrap();
    assert_eq!(s.client_version, "kproducer-0.1.0");
    assert_eq!(s.records_per_sec, 1.5e6);
    assert_eq!(s.p99_ms, 7.5);
    assert_eq!(s.connections, 2.0);
    assert!((s.cpu_per_million() - 0.45).abs() < 1e-9);
}

#[test]
fn failed_records_or_missing_fields_make_a_failed_run() {
    let failed = line("x", 10, 1.0, 1.0, 1.0).replace("\"errors\":0", "\"errors\":3");
    assert!(
        parse_sample(&failed)
            .unwrap_err()
            .contains("3 records failed")
    );
    let no_p99 = line("x", 10, 1.0, 1.0, 1.0).replace("\"p99\"", "\"p98\"");
    assert!(
        parse_sample(&no_p99)
            .unwrap_err()
            .contains("latency_ms.p99")
    );
    assert!(
        parse_sample("records: 10")
            .unwrap_err()
            .contains("invalid JSON")
    );
}

#[test]
fn medians_take_the_middle_of_each_column() {
    assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
    assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
    assert!(median(Vec::new()).is_nan());
    let c = cell(
        &[(1.0e6, 9.0, 1.0), (3.0e6, 1.0, 3.0), (2.0e6, 5.0, 2.0)],
        "k",
    );
    let m = c.medians().unwrap();
    assert_eq!(m.records_per_sec, 2.0e6);
    assert_eq!(m.p99_ms, 5.0);
    assert!((m.cpu_per_million - 2.0).abs() < 1e-9);
    assert_eq!(m.max_connections, 2.0);
    assert_eq!(Cell::default().medians(), None);
}

#[test]
fn targets_say_met_or_missed_with_the_ratio() {
    let w = workloads(false);
    let tansu = BrokerResults {
        kind: BrokerKind::Tansu,
        rows: vec![
            row(
                w[0].clone(),
                cell(&[(3.0e6, 4.0, 0.2)], "k"),
                cell(&[(2.0e6, 8.0, 0.8)], "r"),
            ),
            row(
                latency_workload(false, 1_000_000),
                cell(&[(1.0e6, 6.0, 0.1)], "k"),
                cell(&[(1.0e6, 5.0, 0.1)], "r"),
            ),
        ],
        notes: Vec::new(),
    };
    let lines = targets(&[tansu]);
    assert!(
        lines[0].contains("1.50×") && lines[0].contains("**met**"),
        "{lines:?}"
    );
    assert!(
        lines[1].contains("0.25×") && lines[1].contains("**met**"),
        "{lines:?}"
    );
    assert!(lines[2].contains("not measured"), "{lines:?}");
    assert!(
        lines[3].contains("sustained") && lines[3].contains("not measured"),
        "{lines:?}"
    );
    assert!(
        lines[4].contains("1.20×") && lines[4].contains("**missed**"),
        "{lines:?}"
    );
    assert!(lines[5].contains("not measured"), "{lines:?}");
}

#[test]
fn the_section_has_the_table_ratios_and_failures() {
    let w = workloads(false);
    let mut theirs = cell(&[(2.0e6, 8.0, 0.8)], "librdkafka-2.16.0");
    theirs.failures.push("exited with status 1\nmore".into());
    let fake = BrokerResults {
        kind: BrokerKind::Fake,
        rows: vec![row(
            w[0].clone(),
            cell(&[(5.0e6, 4.0, 0.2)], "kproducer-0.1.0"),
            theirs,
        )],
        notes: vec!["latency run skipped: no librdkafka maximum".into()],
    };
    let text = render(&context(), &[fake]);
    assert!(text.starts_with(SECTION_HEADING), "{text}");
    assert!(text.contains("```text\ncargo xtask bench\n```"), "{text}");
    assert!(
        text.contains("kproducer-0.1.0, librdkafka-2.16.0"),
        "{text}"
    );
    assert!(
        text.contains(
            "| 1M × 100 B, idempotent | kproducer | 5,000,000 | 476.8 | 4.0 | 0.200 | 2.50× | 0.25× | 0.50× | 2 | 1/1 |"
        ),
        "{text}"
    );
    assert!(text.contains("| librdkafka | 2,000,000 |"), "{text}");
    assert!(text.contains("| 1/2 |"), "{text}");
    assert!(
        text.contains("- librdkafka on 1M × 100 B, idempotent: exited with status 1\n"),
        "{text}"
    );
    assert!(text.contains("latency run skipped"), "{text}");
    assert!(text.contains("2.50× (target ≥ 2.5×) — **met**"), "{text}");
}

#[test]
fn thousands_groups_digits() {
    assert_eq!(thousands(1_234_567.6), "1,234,568");
    assert_eq!(thousands(999.0), "999");
    assert_eq!(thousands(0.0), "0");
    assert_eq!(thousands(f64::NAN), "n/a");
}

#[test]
fn only_the_owned_section_is_replaced() {
    let doc = "# Benchmarks\n\n## A\n\nkeep a\n\n## Clients side by side\n\nold\n### sub\nold\n\n## B\n\nkeep b\n";
    let new = replace_section(doc, "## Clients side by side\n\nnew\n");
    assert_eq!(
        new,
        "# Benchmarks\n\n## A\n\nkeep a\n\n## Clients side by side\n\nnew\n\n## B\n\nkeep b\n"
    );
    // At the end of the document.
    let doc = "# B\n\n## Clients side by side\n\nold\n";
    assert_eq!(
        replace_section(doc, "## Clients side by side\n\nnew"),
        "# B\n\n## Clients side by side\n\nnew\n"
    );
    // Absent: appended.
    assert_eq!(
        replace_section("# B\n\n## A\n\na\n", "## Clients side by side\n\nnew\n"),
        "# B\n\n## A\n\na\n\n## Clients side by side\n\nnew\n"
    );
    // Running twice changes nothing more.
    let once = replace_section("# B\n", "## Clients side by side\n\nx\n");
    assert_eq!(
        replace_section(&once, "## Clients side by side\n\nx\n"),
        once
    );
}
