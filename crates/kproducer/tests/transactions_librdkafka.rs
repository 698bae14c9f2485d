//! librdkafka reads what kproducer's transactions wrote: a transactional
//! kproducer writes to the fake broker over loopback TCP (a committed
//! transaction, an aborted one, and one left open), and kcat on librdkafka
//! 2.16 reads the topic back with `isolation.level=read_committed` (only the
//! committed records, each partition in order) and `read_uncommitted`
//! (everything). The fake broker's Fetch answers with the last stable offset
//! and the aborted transactions; librdkafka does the filtering, so this
//! checks the markers and transactional batches kproducer makes a real
//! reader act on.
//!
//! Needs kcat with librdkafka 2.16: `KPRODUCER_KCAT_LIBDIR` names its
//! library directory (`tools/install-librdkafka-peer.sh` prints it on its
//! last line); `cargo xtask ci` runs it in its `librdkafka-peer` step.
//! Without it the test says why on stderr and skips (fails when `CI` is set
//! outside that step). Real clock (kcat is another process); kcat runs are
//! bounded.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use kproducer::{Producer, Record, Topic};
use kproducer_fake_broker::{FakeCluster, Kcat};

const COMMITTED: usize = 10_000;
const ABORTED: usize = 1_000;
const OPEN: usize = 500;
const PARTITIONS: i32 = 3;
const T: Duration = Duration::from_secs(60);
const KCAT_TIMEOUT: Duration = Duration::from_secs(120);

fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "transactions_librdkafka: {line}");
}

/// kcat's `%p %s` lines of `topic`, read from the beginning to the end,
/// off the runtime's worker threads.
async fn read(peer: &Kcat, bootstrap: &str, isolation: &'static str) -> String {
    let (peer, bootstrap) = (peer.clone(), bootstrap.to_owned());
    tokio::task::spawn_blocking(move || {
        let isolation = format!("isolation.level={isolation}");
        let args = [
            "-C",
            "-b",
            &bootstrap,
            "-t",
            "txn",
            "-o",
            "beginning",
            "-e",
            "-q",
            "-X",
            &isolation,
            "-f",
            "%p %s\n",
        ];
        peer.run(&args, None, KCAT_TIMEOUT)
    })
    .await
    .expect("the kcat task")
    .unwrap_or_else(|e| panic!("{e}"))
    .stdout
}

/// Values by partition, and how many of each prefix (`c`, `a`, `o`).
fn parse(lines: &str) -> (BTreeMap<i32, Vec<String>>, BTreeMap<String, usize>) {
    let mut by_partition: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    let mut prefixes: BTreeMap<String, usize> = BTreeMap::new();
    for line in lines.lines().filter(|l| !l.is_empty()) {
        let (p, v) = line.split_once(' ').expect("`%p %s` lines");
        let p: i32 = p.parse().expect("a partition number");
        *prefixes.entry(v[..1].to_owned()).or_default() += 1;
        by_partition.entry(p).or_default().push(v.to_owned());
    }
    (by_partition, prefixes)
}

async fn transaction(producer: &Producer, topic: &Topic, prefix: &str, count: usize) {
    producer.begin_transaction().await.expect("begin");
    for i in 0..count {
        let partition = (i % PARTITIONS as usize) as i32;
        let record =
            Record::new(topic.clone(), format!("{prefix}-{i:06}")).with_partition(partition);
        let _delivery = producer.send(record).await.expect("send");
    }
    producer.flush().await.expect("flush");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn librdkafka_reads_only_committed_transactions() {
    let Some(peer) = Kcat::from_env(
        "transactions_librdkafka",
        "cargo test -p kproducer --test transactions_librdkafka",
    )
    .expect("the librdkafka peer") else {
        return;
    };
    let cluster = FakeCluster::builder()
        .brokers(3)
        .topic("txn", PARTITIONS)
        .record_requests(false)
        .build()
        .expect("cluster");
    let listener = cluster.listen("127.0.0.1:0").await.expect("listening");
    let bootstrap = listener.bootstrap_servers();
    let producer = Producer::builder()
        .bootstrap_servers(bootstrap.split(','))
        .transactional_id("librdkafka-reader")
        .build()
        .expect("producer");
    producer.init_transactions(T).await.expect("init");
    let topic = Topic::new("txn");
    transaction(&producer, &topic, "c", COMMITTED).await;
    producer.commit_transaction(T).await.expect("commit");
    transaction(&producer, &topic, "a", ABORTED).await;
    producer.abort_transaction(T).await.expect("abort");
    // Left open: a read-committed reader stops at its first record.
    transaction(&producer, &topic, "o", OPEN).await;

    let (committed, seen) = parse(&read(&peer, &bootstrap, "read_committed").await);
    assert_eq!(
        seen,
        BTreeMap::from([("c".to_owned(), COMMITTED)]),
        "read_committed sees exactly the committed transaction"
    );
    for p in 0..PARTITIONS {
        let expected: Vec<String> = (0..COMMITTED)
            .filter(|i| (i % PARTITIONS as usize) as i32 == p)
            .map(|i| format!("c-{i:06}"))
            .collect();
        assert!(
            committed.get(&p) == Some(&expected),
            "partition {p}: the committed records, each once, in order"
        );
    }
    let (_, all) = parse(&read(&peer, &bootstrap, "read_uncommitted").await);
    assert_eq!(
        all,
        BTreeMap::from([
            ("a".to_owned(), ABORTED),
            ("c".to_owned(), COMMITTED),
            ("o".to_owned(), OPEN)
        ]),
        "read_uncommitted sees every record written"
    );
    say(&format!(
        "read_committed: {COMMITTED} committed records; read_uncommitted: {} in all",
        COMMITTED + ABORTED + OPEN
    ));
    producer.close(Duration::from_secs(5)).await;
    listener.shutdown().await;
}
