//! librdkafka against the fake broker over loopback TCP: the proof that the
//! fake cluster speaks Kafka well enough for a real client.
//!
//! With kcat running on librdkafka 2.16 (`tools/install-librdkafka-peer.sh`
//! installs it and prints the library directory on its last line; pass that
//! directory in `KPRODUCER_KCAT_LIBDIR`), this produces 100,000 numbered
//! records to a 6-partition topic on a 3-broker fake cluster: idempotently
//! once per compression codec (none, gzip, snappy, lz4, zstd), and once with
//! `acks=1`. Then it consumes every topic back with `kcat -C -e` from the
//! same cluster and checks that every number is there exactly once and that
//! each partition holds its numbers in increasing order (kcat's partitioner
//! sends a key to one partition, and a producer keeps per-partition order).
//! A second test authenticates kcat with SASL PLAIN, SCRAM-SHA-256 and
//! SCRAM-SHA-512 against a fake cluster with SASL users.
//!
//! Without `KPRODUCER_KCAT_LIBDIR` the test fails when `CI` is set and
//! otherwise says on stderr why it skips (`cargo xtask ci` sets
//! `KPRODUCER_PEER_TEST_IN_OWN_STEP` for its workspace test run, and runs
//! this test in its own `librdkafka-peer` step with the peer installed). It runs on tokio's real clock
//! (kcat is another process); every child process has a timeout and is
//! killed if the test ends first.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kproducer_fake_broker::{FakeCluster, Kcat};

const RECORDS: u32 = 100_000;
const PARTITIONS: i32 = 6;
const BROKERS: u16 = 3;
/// Bound on any single kcat run (a hang guard; runs take a few seconds).
const CHILD_TIMEOUT: Duration = Duration::from_secs(180);

/// One produce run: its topic, and the kcat `-X` settings that matter.
struct Run {
    topic: &'static str,
    settings: &'static [(&'static str, &'static str)],
    idempotent: bool,
}

const RUNS: &[Run] = &[
    Run {
        topic: "idempotent-none",
        settings: &[
            ("enable.idempotence", "true"),
            ("compression.codec", "none"),
        ],
        idempotent: true,
    },
    Run {
        topic: "idempotent-gzip",
        settings: &[
            ("enable.idempotence", "true"),
            ("compression.codec", "gzip"),
        ],
        idempotent: true,
    },
    Run {
        topic: "idempotent-snappy",
        settings: &[
            ("enable.idempotence", "true"),
            ("compression.codec", "snappy"),
        ],
        idempotent: true,
    },
    Run {
        topic: "idempotent-lz4",
        settings: &[("enable.idempotence", "true"), ("compression.codec", "lz4")],
        idempotent: true,
    },
    Run {
        topic: "idempotent-zstd",
        settings: &[
            ("enable.idempotence", "true"),
            ("compression.codec", "zstd"),
        ],
        idempotent: true,
    },
    Run {
        topic: "acks-1",
        settings: &[("enable.idempotence", "false"), ("acks", "1")],
        idempotent: false,
    },
];

/// Writes to the real stderr, which the test harness does not capture, so
/// that a skip or a measurement is never silent.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "librdkafka_peer: {line}");
}

/// A file removed when dropped.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The input kcat produces: one `N:N` line per record (key and value both
/// carry the number).
fn write_input() -> TempFile {
    let path = std::env::temp_dir().join(format!(
        "kproducer-librdkafka-peer-{}.txt",
        std::process::id()
    ));
    let mut text = String::with_capacity(RECORDS as usize * 12);
    for n in 0..RECORDS {
        text.push_str(&format!("{n}:{n}\n"));
    }
    std::fs::write(&path, text).expect("temp dir is writable");
    TempFile(path)
}

/// Runs kcat with `args`, stdin from `stdin` (or none), bounded by
/// [`CHILD_TIMEOUT`], off the runtime's worker threads; returns its stdout.
/// Panics with kcat's stderr when it fails.
async fn kcat(peer: &Kcat, args: &[String], stdin: Option<&Path>) -> String {
    let (peer, owned_args, stdin) = (peer.clone(), args.to_vec(), stdin.map(Path::to_path_buf));
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = owned_args.iter().map(String::as_str).collect();
        peer.run(&args, stdin.as_deref(), CHILD_TIMEOUT)
    })
    .await
    .expect("the kcat task")
    .unwrap_or_else(|e| panic!("{e}"));
    // kcat reports delivery failures on stderr.
    assert!(
        !out.stderr.contains("ERROR") && !out.stderr.contains("Delivery failed"),
        "kcat {args:?} reported errors:\n{}",
        out.stderr
    );
    out.stdout
}

/// Checks kcat's `-f '%p %k %s\n'` output: every number once, keys equal to
/// values, increasing within each partition. Returns records per partition.
fn check_consumed(topic: &str, out: &str) -> BTreeMap<i32, usize> {
    let mut seen = vec![false; RECORDS as usize];
    let mut last: BTreeMap<i32, u32> = BTreeMap::new();
    let mut per_partition = BTreeMap::new();
    let mut count = 0usize;
    for line in out.lines() {
        let mut fields = line.split(' ');
        let (Some(p), Some(k), Some(v), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            panic!("{topic}: unexpected kcat line {line:?}");
        };
        let p: i32 = p.parse().expect("partition number");
        let n: u32 = v.parse().unwrap_or_else(|_| panic!("{topic}: value {v:?}"));
        assert_eq!(k, v, "{topic}: key and value carry the same number");
        assert!(n < RECORDS, "{topic}: {n} was never produced");
        assert!(!seen[n as usize], "{topic}: {n} consumed twice");
        seen[n as usize] = true;
        if let Some(&prev) = last.get(&p) {
            assert!(
                prev < n,
                "{topic}: partition {p} holds {prev} before {n}: order broken"
            );
        }
        last.insert(p, n);
        *per_partition.entry(p).or_insert(0usize) += 1;
        count += 1;
    }
    let missing: Vec<usize> = (0..seen.len()).filter(|&i| !seen[i]).take(10).collect();
    assert!(
        missing.is_empty(),
        "{topic}: {} of {RECORDS} records consumed; first missing: {missing:?}",
        count
    );
    per_partition
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kcat_produces_idempotently_with_every_codec_and_reads_everything_back() {
    let Some(peer) = Kcat::from_env(
        "librdkafka_peer",
        "cargo test -p kproducer-fake-broker --test librdkafka_peer",
    )
    .expect("the librdkafka peer") else {
        return;
    };
    // The peer really is librdkafka 2.16 (kcat -V names the library it
    // loaded).
    let version = kcat(&peer, &["-V".to_owned()], None).await;
    assert!(
        version.contains("librdkafka 2.16."),
        "KPRODUCER_KCAT_LIBDIR={} does not give kcat librdkafka 2.16:\n{version}",
        peer.libdir().display()
    );
    let mut builder = FakeCluster::builder()
        .brokers(BROKERS)
        .record_requests(false);
    for run in RUNS {
        builder = builder.topic(run.topic, PARTITIONS);
    }
    let cluster = builder.build().expect("valid cluster");
    let listener = cluster.listen("127.0.0.1:0").await.expect("listening");
    let bootstrap = listener.bootstrap_servers();
    let input = write_input();

    let mut stored_bytes = BTreeMap::new();
    for run in RUNS {
        let mut args = vec![
            "-P".to_owned(),
            "-b".to_owned(),
            bootstrap.clone(),
            "-t".to_owned(),
            run.topic.to_owned(),
            "-K:".to_owned(),
        ];
        for (k, v) in run.settings {
            args.push("-X".to_owned());
            args.push(format!("{k}={v}"));
        }
        let start = Instant::now();
        kcat(&peer, &args, Some(&input.0)).await;
        say(&format!(
            "{}: produced {RECORDS} records in {:.2} s",
            run.topic,
            start.elapsed().as_secs_f64()
        ));
        // What the brokers stored: every record, from one idempotent
        // producer per run (or none), without duplicates.
        let mut total = 0i64;
        let mut bytes = 0usize;
        for p in 0..PARTITIONS {
            let snap = cluster.partition(run.topic, p).expect("partition");
            total += snap.high_watermark;
            bytes += snap.batches.iter().map(|b| b.size_bytes).sum::<usize>();
            for b in &snap.batches {
                assert_eq!(
                    b.meta.producer_id >= 0,
                    run.idempotent,
                    "{}-{p}: batch at {} has producer id {}",
                    run.topic,
                    b.base_offset,
                    b.meta.producer_id
                );
            }
        }
        assert_eq!(total, i64::from(RECORDS), "{}: records stored", run.topic);
        stored_bytes.insert(run.topic, bytes);
    }
    cluster.assert_no_duplicates();
    // The codec was really applied: compressed logs are smaller than the
    // uncompressed one.
    let plain = stored_bytes["idempotent-none"];
    for run in RUNS.iter().filter(|r| r.topic.starts_with("idempotent-")) {
        let bytes = stored_bytes[run.topic];
        if run.topic != "idempotent-none" {
            assert!(
                bytes < plain,
                "{}: {bytes} bytes stored, not less than {plain} uncompressed",
                run.topic
            );
        }
    }
    say(&format!("bytes stored per topic: {stored_bytes:?}"));

    for run in RUNS {
        let args = [
            "-C",
            "-q",
            "-b",
            &bootstrap,
            "-t",
            run.topic,
            "-o",
            "beginning",
            "-e",
            "-f",
            "%p %k %s\n",
        ]
        .map(str::to_owned);
        let start = Instant::now();
        let out = kcat(&peer, &args, None).await;
        let per_partition = check_consumed(run.topic, &out);
        say(&format!(
            "{}: consumed {RECORDS} records back in {:.2} s, per partition {per_partition:?}",
            run.topic,
            start.elapsed().as_secs_f64()
        ));
        assert_eq!(
            per_partition.len(),
            PARTITIONS as usize,
            "{}: records spread over every partition",
            run.topic
        );
    }
    listener.shutdown().await;
}

#[test]
#[should_panic(expected = "order broken")]
fn the_order_check_catches_a_reordered_partition() {
    check_consumed("t", "0 1 1\n0 0 0\n");
}

#[test]
#[should_panic(expected = "consumed twice")]
fn the_exactly_once_check_catches_a_duplicate() {
    check_consumed("t", "0 1 1\n1 1 1\n");
}

#[test]
#[should_panic(expected = "first missing: [2, 3")]
fn the_exactly_once_check_catches_a_missing_record() {
    check_consumed("t", "0 0 0\n0 1 1\n");
}

/// librdkafka's SASL clients against the fake broker's SASL server: each
/// mechanism produces and reads back; a wrong password gets the broker's
/// message. This checks the server side of SCRAM (stored keys, proof,
/// signature) against an independent implementation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kcat_authenticates_with_every_sasl_mechanism() {
    use kproducer_fake_broker::SaslServerConfig;

    let Some(peer) = Kcat::from_env(
        "librdkafka_peer",
        "cargo test -p kproducer-fake-broker --test librdkafka_peer",
    )
    .expect("the librdkafka peer") else {
        return;
    };
    let cluster = FakeCluster::builder()
        .brokers(1)
        .topic("secure", 1)
        .record_requests(false)
        .sasl(SaslServerConfig::new().user("alice", "alice-secret"))
        .build()
        .expect("valid cluster");
    let listener = cluster.listen("127.0.0.1:0").await.expect("listening");
    let bootstrap = listener.bootstrap_servers();
    let sasl = |mechanism: &str, password: &str| -> Vec<String> {
        [
            "security.protocol=SASL_PLAINTEXT".to_owned(),
            format!("sasl.mechanisms={mechanism}"),
            "sasl.username=alice".to_owned(),
            format!("sasl.password={password}"),
        ]
        .into_iter()
        .flat_map(|x| ["-X".to_owned(), x])
        .collect()
    };
    let input = std::env::temp_dir().join(format!(
        "kproducer-librdkafka-sasl-{}.txt",
        std::process::id()
    ));
    std::fs::write(&input, "one\n").expect("temp dir is writable");
    let input = TempFile(input);
    let mechanisms = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];
    for mechanism in mechanisms {
        let mut args: Vec<String> = ["-P", "-b", &bootstrap, "-t", "secure"]
            .map(str::to_owned)
            .to_vec();
        args.extend(sasl(mechanism, "alice-secret"));
        kcat(&peer, &args, Some(&input.0)).await;
    }
    let mut args: Vec<String> = ["-C", "-b", &bootstrap, "-t", "secure", "-e", "-q"]
        .map(str::to_owned)
        .to_vec();
    args.extend(sasl("SCRAM-SHA-512", "alice-secret"));
    let consumed = kcat(&peer, &args, None).await;
    assert_eq!(consumed.lines().count(), mechanisms.len(), "{consumed}");

    let mut args: Vec<String> = ["-P", "-b", &bootstrap, "-t", "secure"]
        .map(str::to_owned)
        .to_vec();
    args.extend(sasl("SCRAM-SHA-256", "wrong"));
    args.extend(["-X".to_owned(), "message.timeout.ms=5000".to_owned()]);
    let (refused_by, stdin) = (peer.clone(), input.0.clone());
    let refused = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused_by.run(&args, Some(&stdin), CHILD_TIMEOUT)
    })
    .await
    .expect("the kcat task");
    let Err(failure) = refused else {
        panic!("kcat with a wrong password succeeded: {refused:?}");
    };
    assert!(failure.contains("invalid credentials"), "{failure}");
    assert_eq!(
        cluster.records("secure", 0).unwrap().len(),
        mechanisms.len()
    );
    listener.shutdown().await;
}
