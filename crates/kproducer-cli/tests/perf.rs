//! `kproducer perf` as a user runs it: against the embedded broker, and
//! with the mistakes a user makes.

mod common;

use common::{assert_one_line_error, kproducer, kproducer_with_env, stderr};

#[test]
fn json_run_against_the_embedded_broker_reports_every_key() {
    let out = kproducer(&["perf", "--num-records", "20000", "--json"], b"");
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let last = stdout.lines().last().expect("a JSON line");
    let json: serde_json::Value = serde_json::from_str(last).expect("valid JSON");
    let obj = json.as_object().unwrap();
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "client",
            "cpu_s",
            "elapsed_s",
            "errors",
            "latency_ms",
            "max_connections_per_broker",
            "mb_per_sec",
            "record_size",
            "records",
            "records_per_sec",
            "scale_events",
        ]
    );
    assert!(obj["client"].as_str().unwrap().starts_with("kproducer-"));
    assert_eq!(obj["records"], 20000);
    assert_eq!(obj["record_size"], 100);
    assert_eq!(obj["errors"], 0);
    assert!(obj["records_per_sec"].as_f64().unwrap() > 0.0);
    assert!(obj["elapsed_s"].as_f64().unwrap() > 0.0);
    assert!(obj["max_connections_per_broker"].as_u64().unwrap() >= 1);
    let latency = obj["latency_ms"].as_object().unwrap();
    let mut lk: Vec<&str> = latency.keys().map(String::as_str).collect();
    lk.sort_unstable();
    assert_eq!(lk, ["max", "p50", "p95", "p99"]);
    let p50 = latency["p50"].as_f64().unwrap();
    let max = latency["max"].as_f64().unwrap();
    assert!(p50 > 0.0 && p50 <= max, "{latency:?}");
    // The summary for people went to stderr.
    assert!(stderr(&out).contains("records/s"));
}

#[test]
fn flags_and_properties_reach_the_producer() {
    // Non-idempotent acks=1, lz4, two brokers, a capped width, a broker
    // service time and a throughput cap: all accepted, all records through.
    let out = kproducer(
        &[
            "perf",
            "--num-records",
            "3000",
            "--record-size",
            "1024",
            "--acks",
            "1",
            "--idempotence",
            "false",
            "--compression",
            "lz4",
            "--brokers",
            "2",
            "--partitions",
            "4",
            "--max-connections-per-broker",
            "2",
            "--broker-service-time-us",
            "100",
            "--broker-service-us-per-kib",
            "1",
            "--broker-retention-mb",
            "1",
            "--throughput",
            "20000",
            "--property",
            "client.id=perf-test",
            "--json",
        ],
        b"",
    );
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let json: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(json["records"], 3000);
    assert_eq!(json["record_size"], 1024);
    assert!(json["max_connections_per_broker"].as_u64().unwrap() <= 2);
}

#[test]
fn a_bad_property_is_one_line_naming_it() {
    let out = kproducer(
        &["perf", "--num-records", "10", "--property", "linger.sm=5"],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    assert_one_line_error(&out, &["linger.sm", "linger.ms"]);

    let out = kproducer(
        &["perf", "--num-records", "10", "--property", "linger.ms"],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    assert_one_line_error(&out, &["key=value"]);

    let out = kproducer(
        &["perf", "--num-records", "10", "--property", "acks=2"],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    assert_one_line_error(&out, &["acks"]);
}

#[test]
fn an_unreachable_broker_is_one_line_soon() {
    // A port that was free a moment ago: connections are refused.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let bootstrap = format!("127.0.0.1:{port}");
    let out = kproducer(
        &["perf", "--bootstrap", &bootstrap, "--num-records", "10"],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    assert_one_line_error(&out, &["cannot reach", &bootstrap]);
}

#[test]
fn embedded_only_flags_are_refused_against_a_real_broker() {
    let out = kproducer(
        &["perf", "--bootstrap", "127.0.0.1:9", "--partitions", "3"],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    assert_one_line_error(&out, &["--partitions", "embedded"]);

    let out = kproducer(
        &[
            "perf",
            "--bootstrap",
            "127.0.0.1:9",
            "--broker-retention-mb",
            "8",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    assert_one_line_error(&out, &["--broker-retention-mb", "embedded"]);
}

#[test]
fn piped_output_gets_the_summary_and_no_progress_bar() {
    let out = kproducer(&["perf", "--num-records", "5000"], b"");
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(stdout.contains("5000 records of 100 bytes"), "{stdout}");
    assert!(stdout.contains("latency send→ack: p50"), "{stdout}");
    assert!(stdout.contains("connections: at most"), "{stdout}");
    assert!(
        !stdout.trim_start().starts_with('{'),
        "no JSON without --json"
    );
    // Stdout is not a terminal: no progress bar on stderr.
    assert_eq!(stderr(&out), "");
}

#[test]
fn failed_records_are_counted_by_kind_and_fail_the_exit_status() {
    // The (empty) warm-up records fit; every measured record is too large.
    let out = kproducer(
        &[
            "perf",
            "--num-records",
            "50",
            "--record-size",
            "2000",
            "--property",
            "max.request.size=1500",
            "--json",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let json: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(json["records"], 0);
    assert_eq!(json["errors"], 50);
    let err = stderr(&out);
    assert!(
        err.contains("50 records failed: record too large × 50"),
        "{err}"
    );
    assert!(err.contains("max.request.size"), "{err}");
}

#[test]
fn embedded_tls_runs_the_same_perf_over_tls() {
    let out = kproducer(
        &["perf", "--num-records", "5000", "--embedded-tls", "--json"],
        b"",
    );
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(stdout.lines().last().expect("a JSON line")).expect("valid JSON");
    assert_eq!(json["records"], 5000);
    assert_eq!(json["errors"], 0);
}

#[test]
fn embedded_tls_is_refused_against_a_real_broker() {
    let out = kproducer(
        &["perf", "--bootstrap", "127.0.0.1:1", "--embedded-tls"],
        b"",
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--embedded-tls"), "{}", stderr(&out));
}

#[test]
fn rust_log_traces_to_stderr_and_leaves_stdout_alone() {
    let args = ["perf", "--num-records", "2000", "--json"];
    let traced = kproducer_with_env(&args, b"", &[("RUST_LOG", "kproducer=info")]);
    assert!(traced.status.success(), "stderr: {}", stderr(&traced));
    assert!(
        stderr(&traced).contains("producer id assigned"),
        "{}",
        stderr(&traced)
    );
    let quiet = kproducer(&args, b"");
    assert!(!stderr(&quiet).contains("producer id assigned"));
    // The JSON report is still stdout's last line, and stdout holds nothing
    // else than without RUST_LOG.
    let lines = |out: &std::process::Output| String::from_utf8_lossy(&out.stdout).lines().count();
    assert_eq!(lines(&traced), lines(&quiet));
    let last = String::from_utf8(traced.stdout.clone()).unwrap();
    let json: serde_json::Value = serde_json::from_str(last.lines().last().unwrap()).unwrap();
    assert_eq!(json["errors"], 0);

    let bad = kproducer_with_env(
        &["perf", "--num-records", "10"],
        b"",
        &[("RUST_LOG", "kproducer=[")],
    );
    assert!(bad.status.success(), "a bad filter is not fatal");
    assert!(
        stderr(&bad).contains("RUST_LOG ignored"),
        "{}",
        stderr(&bad)
    );
}
