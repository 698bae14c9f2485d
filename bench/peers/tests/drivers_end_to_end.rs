//! Runs both drivers as the benchmark will: as processes, against a real
//! broker (tansu, fresh per test) and against nothing at all.
//!
//! The tansu tests skip, saying why, when no tansu binary is found (set
//! `TANSU`, or install it as docs/real-broker.md says). Build in release mode
//! (`cargo test --release`) to reuse the benchmark's build, with the
//! `PKG_CONFIG_PATH` of README.md.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// What `rdkafka-perf` names itself: librdkafka 2.16.x by default (the shared
/// library it links), the bundled 2.12.1 when built without that feature.
#[cfg(feature = "librdkafka-2-16")]
const LIBRDKAFKA: &str = "librdkafka-2.16.";
#[cfg(not(feature = "librdkafka-2-16"))]
const LIBRDKAFKA: &str = "librdkafka-2.12.1";

/// Each driver, its binary, and how its report's `client` starts.
const DRIVERS: [(&str, &str, &str); 2] = [
    (
        "rdkafka-perf",
        env!("CARGO_BIN_EXE_rdkafka-perf"),
        LIBRDKAFKA,
    ),
    (
        "krafka-perf",
        env!("CARGO_BIN_EXE_krafka-perf"),
        "krafka-0.28.1",
    ),
];

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

fn tansu_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("TANSU") {
        return Some(PathBuf::from(path));
    }
    let cached =
        PathBuf::from(std::env::var_os("HOME")?).join(".cache/kproducer/tansu-0.6.0/bin/tansu");
    cached.exists().then_some(cached)
}

/// A tansu broker on 127.0.0.1, stopped when dropped.
struct Tansu {
    child: Child,
    port: u16,
}

impl Tansu {
    fn start(binary: &PathBuf, topic: &str) -> Self {
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(binary)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tansu");
        let broker = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu did not listen on {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let created = Command::new(binary)
            .args([
                "topic",
                "create",
                "--broker",
                &url,
                "--partitions",
                "6",
                topic,
            ])
            .output()
            .expect("run tansu topic create");
        assert!(created.status.success(), "topic create failed: {created:?}");
        broker
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(binary: &str, args: &[&str]) -> Output {
    Command::new(binary)
        .args(args)
        .output()
        .expect("run driver")
}

fn json_report(output: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last)
        .unwrap_or_else(|error| panic!("last stdout line {last:?} is not JSON: {error}"))
}

#[test]
fn both_drivers_report_every_record_acknowledged_by_tansu() {
    let Some(tansu) = tansu_binary() else {
        eprintln!(
            "skipped: no tansu binary (set TANSU or install tansu 0.6.0 into ~/.cache/kproducer)"
        );
        return;
    };
    for (name, binary, client) in DRIVERS {
        for idempotence in ["true", "false"] {
            let broker = Tansu::start(&tansu, "perf");
            let bootstrap = format!("127.0.0.1:{}", broker.port);
            let output = run(
                binary,
                &[
                    "--bootstrap",
                    &bootstrap,
                    "--topic",
                    "perf",
                    "--num-records",
                    "3000",
                    "--record-size",
                    "200",
                    "--idempotence",
                    idempotence,
                    "--json",
                ],
            );
            assert!(
                output.status.success(),
                "{name} --idempotence {idempotence}: {output:?}"
            );
            let report = json_report(&output);
            assert!(
                report["client"]
                    .as_str()
                    .is_some_and(|name| name.starts_with(client)),
                "{name}: client {} is not {client}…",
                report["client"]
            );
            assert_eq!(report["records"], 3000, "{name}: {report}");
            assert_eq!(report["record_size"], 200);
            assert_eq!(report["errors"], 0);
            assert_eq!(report["max_connections_per_broker"], 1);
            assert_eq!(report["scale_events"], 0);
            assert!(
                report["records_per_sec"]
                    .as_f64()
                    .is_some_and(|rate| rate > 0.0),
                "{report}"
            );
            let latency = &report["latency_ms"];
            let p50 = latency["p50"].as_f64().expect("p50");
            let max = latency["max"].as_f64().expect("max");
            assert!(p50 > 0.0 && p50 <= max, "{name}: {latency}");
            // The human summary goes to stderr when --json is given.
            assert!(String::from_utf8_lossy(&output.stderr).contains("3000 records acknowledged"));
        }
    }
}

#[test]
fn both_drivers_pace_to_the_throughput_cap() {
    let Some(tansu) = tansu_binary() else {
        eprintln!(
            "skipped: no tansu binary (set TANSU or install tansu 0.6.0 into ~/.cache/kproducer)"
        );
        return;
    };
    for (name, binary, _) in DRIVERS {
        let broker = Tansu::start(&tansu, "paced");
        let bootstrap = format!("127.0.0.1:{}", broker.port);
        // 2000 records at 5000/s cannot take less than 0.4 s, however fast
        // the machine; only the lower bound is checked.
        let output = run(
            binary,
            &[
                "--bootstrap",
                &bootstrap,
                "--topic",
                "paced",
                "--num-records",
                "2000",
                "--throughput",
                "5000",
                "--json",
            ],
        );
        assert!(output.status.success(), "{name}: {output:?}");
        let elapsed = json_report(&output)["elapsed_s"]
            .as_f64()
            .expect("elapsed_s");
        assert!(
            elapsed >= 0.399,
            "{name} sent 2000 records at 5000/s in {elapsed} s"
        );
    }
}

#[test]
fn without_a_broker_the_drivers_fail_and_say_why() {
    let bootstrap = format!("127.0.0.1:{}", free_port());
    for (name, binary, _) in DRIVERS {
        let output = run(
            binary,
            &["--bootstrap", &bootstrap, "--num-records", "10", "--json"],
        );
        assert!(
            !output.status.success(),
            "{name} succeeded without a broker"
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("is the broker up"), "{name}: {stderr}");
    }
}

#[test]
fn bad_flags_exit_with_status_2() {
    for (name, binary, _) in DRIVERS {
        let output = run(binary, &["--bootstrap", "127.0.0.1:1", "--acks", "2"]);
        assert_eq!(output.status.code(), Some(2), "{name}: {output:?}");
    }
}
