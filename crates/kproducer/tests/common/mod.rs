//! Shared harness for end-to-end tests against the in-memory fake broker:
//! a cluster plus a producer on paused tokio time, numbered records, and the
//! checks every fault scenario ends with (nothing lost, nothing duplicated,
//! order kept, every future resolved exactly once).

#![allow(dead_code, unreachable_pub)]

mod captured_logs;
mod interposed;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kproducer::{DeliveryFuture, Error, Producer, ProducerBuilder, Record, RecordMetadata, Topic};
use kproducer_fake_broker::FakeCluster;
use kproducer_net::{Connection, ConnectionConfig, Transport};
use kproducer_protocol::messages::{FetchPartition, FetchRequest, FetchTopic};
use kproducer_protocol::records::RecordBatch;

// Not every test binary names both.
#[allow(unused_imports)]
pub use captured_logs::{CapturedLogs, capture_logs};
#[allow(unused_imports)]
pub use interposed::{Frames, interpose};

/// The seed every test producer uses (printed by failing checks).
pub const SEED: u64 = 0x5eed_0001;

/// Makes every failing assertion in this test binary print [`SEED`] too
/// (installed once, before the first producer is built).
fn print_seed_on_panic() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            eprintln!("test producer seed: {SEED:#x}");
            previous(info);
        }));
    });
}

/// A producer wired to `cluster`'s in-memory transport, with a fixed seed;
/// `tweak` adjusts the builder.
pub fn producer(
    cluster: &FakeCluster,
    tweak: impl FnOnce(ProducerBuilder) -> ProducerBuilder,
) -> Producer {
    print_seed_on_panic();
    let transport: Arc<dyn Transport> = Arc::new(cluster.transport());
    let builder = Producer::builder()
        .bootstrap_servers(cluster.bootstrap_servers().split(','))
        .transport(transport)
        .seed(SEED);
    tweak(builder).build().expect("valid test configuration")
}

/// One record's value: `"<topic>/<partition>/<n>"`, so the log can be
/// checked for loss, duplication and order.
pub fn value(topic: &str, partition: i32, n: usize) -> Bytes {
    Bytes::from(format!("{topic}/{partition}/{n:08}"))
}

/// A partition, by topic name and index.
pub type PartitionKey = (String, i32);

/// One record's value and, until awaited, its future.
pub type SentRecord = (Bytes, Option<DeliveryFuture>);

/// One record's value and what became of it.
pub type RecordOutcome = (Bytes, Result<RecordMetadata, Error>);

/// Records sent by a test and their futures, to check against the log.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Per (topic, partition): values in send order, with their futures.
    sent: BTreeMap<PartitionKey, Vec<SentRecord>>,
}

/// What became of the ledger's records.
#[derive(Debug, Default)]
pub struct Outcomes {
    /// Per (topic, partition): (value, result) in send order.
    pub results: BTreeMap<PartitionKey, Vec<RecordOutcome>>,
}

impl Outcomes {
    /// How many records resolved `Ok`.
    pub fn ok(&self) -> usize {
        self.results
            .values()
            .flatten()
            .filter(|(_, r)| r.is_ok())
            .count()
    }

    /// Asserts that exactly `expected` records resolved `Ok`, naming the
    /// seed and the first error otherwise.
    #[track_caller]
    pub fn assert_ok_count(&self, expected: usize) {
        assert_eq!(
            self.ok(),
            expected,
            "seed {SEED:#x}: {:?}",
            self.errors().first()
        );
    }

    /// Every error, for assertions.
    pub fn errors(&self) -> Vec<&Error> {
        self.results
            .values()
            .flatten()
            .filter_map(|(_, r)| r.as_ref().err())
            .collect()
    }
}

impl Ledger {
    /// Sends `count` numbered records to `topic`-`partition` (explicit
    /// partition), continuing the numbering of earlier calls.
    pub async fn send(&mut self, producer: &Producer, topic: &Topic, partition: i32, count: usize) {
        for _ in 0..count {
            let entry = self
                .sent
                .entry((topic.as_str().to_owned(), partition))
                .or_default();
            let v = value(topic.as_str(), partition, entry.len());
            let fut = producer
                .send(Record::new(topic.clone(), v.clone()).with_partition(partition))
                .await
                .expect("send accepted");
            entry.push((v, Some(fut)));
        }
    }

    /// Awaits every future (each must resolve; a future can only resolve
    /// once) and returns the outcomes.
    pub async fn outcomes(&mut self) -> Outcomes {
        let mut out = Outcomes::default();
        for (key, records) in &mut self.sent {
            let list = out.results.entry(key.clone()).or_default();
            for (v, fut) in records.iter_mut() {
                let fut = fut.take().expect("each future is awaited once");
                list.push((v.clone(), fut.await));
            }
        }
        out
    }
}

/// Every record value in the log of `topic`-`partition`, with its offset,
/// read with Fetch from the partition's leader.
pub async fn log_values(cluster: &FakeCluster, topic: &str, partition: i32) -> Vec<(i64, Bytes)> {
    let leader = cluster.leader(topic, partition).expect("partition exists");
    let address = cluster.address(leader).expect("leader exists");
    let transport = cluster.transport();
    let conn = Connection::connect(&transport, &address, ConnectionConfig::default())
        .await
        .expect("fetch connection");
    let mut values = Vec::new();
    let mut offset = cluster
        .partition(topic, partition)
        .expect("partition exists")
        .log_start_offset;
    loop {
        let request = FetchRequest {
            topics: vec![FetchTopic {
                topic: topic.to_owned(),
                partitions: vec![FetchPartition {
                    partition,
                    current_leader_epoch: -1,
                    fetch_offset: offset,
                    last_fetched_epoch: -1,
                    log_start_offset: -1,
                    partition_max_bytes: i32::MAX,
                    tagged_fields: Default::default(),
                }],
                tagged_fields: Default::default(),
            }],
            ..FetchRequest::default()
        };
        let response = conn
            .send_version(&request, 12)
            .await
            .expect("fetch answered");
        let p = &response.responses[0].partitions[0];
        assert_eq!(p.error_code, 0, "fetch {topic}-{partition}");
        let Some(blob) = p.records.clone().filter(|b| !b.is_empty()) else {
            break;
        };
        let before = values.len();
        for batch in RecordBatch::decode_all(blob) {
            let batch = batch.expect("well-formed batch in the log");
            let header = *batch.header();
            for r in batch.records().expect("records") {
                let r = r.expect("record");
                let o = r.offset(&header);
                if o >= offset {
                    values.push((o, r.value.clone().unwrap_or_default()));
                }
            }
            offset = offset.max(header.last_offset() + 1);
        }
        if values.len() == before {
            break;
        }
    }
    values
}

/// The checks every scenario ends with, per partition: every record whose
/// future resolved `Ok` is in the log exactly once at the offset it was
/// told; no value is in the log twice; log order equals send order; a
/// record that failed is absent or present once.
pub async fn assert_log_matches(cluster: &FakeCluster, outcomes: &Outcomes) {
    for ((topic, partition), results) in &outcomes.results {
        let log = log_values(cluster, topic, *partition).await;
        let mut seen: BTreeMap<&Bytes, i64> = BTreeMap::new();
        for (offset, v) in &log {
            if let Some(first) = seen.insert(v, *offset) {
                panic!(
                    "seed {SEED:#x}: {topic}-{partition}: {v:?} duplicated at offsets {first} and {offset}"
                );
            }
        }
        let position: BTreeMap<&Bytes, usize> = results
            .iter()
            .enumerate()
            .map(|(i, (v, _))| (v, i))
            .collect();
        let mut last = None;
        for (offset, v) in &log {
            let Some(&i) = position.get(v) else {
                panic!("seed {SEED:#x}: {topic}-{partition}: unexpected value {v:?} at {offset}");
            };
            if let Some(prev) = last {
                assert!(
                    i > prev,
                    "seed {SEED:#x}: {topic}-{partition}: {v:?} at {offset} is out of send order"
                );
            }
            last = Some(i);
        }
        for (v, r) in results {
            if let Ok(m) = r {
                let at = seen.get(v).unwrap_or_else(|| {
                    panic!("seed {SEED:#x}: {topic}-{partition}: {v:?} acknowledged at {} but not in the log", m.offset)
                });
                // -1: acknowledged without an offset (a legacy 46 duplicate
                // answer carries none, as with Kafka before 2.0).
                if m.offset != -1 {
                    assert_eq!(
                        *at, m.offset,
                        "seed {SEED:#x}: {topic}-{partition}: {v:?} offset"
                    );
                }
                assert_eq!(m.partition, *partition);
                assert_eq!(m.topic.as_str(), topic);
            }
        }
    }
}

/// Lets the producer's task and the fake broker run for `d` of paused time.
pub async fn run_for(d: Duration) {
    tokio::time::sleep(d).await;
}

/// Like [`producer`], with an explicit bootstrap list (for unreachable
/// addresses).
pub fn producer_with_bootstrap(
    cluster: &FakeCluster,
    bootstrap: &str,
    tweak: impl FnOnce(ProducerBuilder) -> ProducerBuilder,
) -> Producer {
    print_seed_on_panic();
    let transport: Arc<dyn Transport> = Arc::new(cluster.transport());
    let builder = Producer::builder()
        .bootstrap_servers([bootstrap])
        .transport(transport)
        .seed(SEED);
    tweak(builder).build().expect("valid test configuration")
}

/// Asserts the broker never refused a batch with `code` (for example 45
/// `OUT_OF_ORDER_SEQUENCE_NUMBER` during a scale-up or scale-down).
pub fn assert_never_rejected_with(cluster: &FakeCluster, code: kproducer_protocol::ErrorCode) {
    let counters = cluster.counters();
    assert!(
        !counters.rejected_batches.contains_key(&code),
        "seed {SEED:#x}: the broker refused batches with {code}: {:?}",
        counters.rejected_batches
    );
}

/// Asserts that, in `topic`-`partition`'s log, each producer epoch's
/// batches carry contiguous sequences (each base is the previous last + 1,
/// mod 2^31) and start at 0 after an epoch change.
pub fn assert_sequences_contiguous(cluster: &FakeCluster, topic: &str, partition: i32) {
    let log = cluster
        .partition(topic, partition)
        .expect("partition exists");
    let mut previous: Option<(i64, i16, i32)> = None;
    for (pid, epoch, base, count) in log.sequences() {
        if pid < 0 {
            continue;
        }
        match previous {
            Some((p, e, last)) if p == pid && e == epoch => {
                let expected = ((i64::from(last) + 1) % (1 << 31)) as i32;
                assert_eq!(
                    base, expected,
                    "seed {SEED:#x}: {topic}-{partition}: gap or overlap in sequences"
                );
            }
            Some((p, _, _)) if p == pid => {
                assert_eq!(
                    base, 0,
                    "seed {SEED:#x}: {topic}-{partition}: a new epoch starts at sequence 0"
                );
            }
            _ => {}
        }
        let last = ((i64::from(base) + i64::from(count) - 1) % (1 << 31)) as i32;
        previous = Some((pid, epoch, last));
    }
}

/// A partition-scoped injected error code.
pub fn error(code: kproducer_protocol::ErrorCode) -> kproducer_fake_broker::FaultAction {
    kproducer_fake_broker::FaultAction::Error {
        code,
        scope: kproducer_fake_broker::ErrorScope::Partition,
    }
}

/// Sends `rounds` bursts of `per_round` records to `topic`-`partition`,
/// 6 ms apart (just past the default linger), so that several batches are
/// in flight at once when the broker is slow.
pub async fn bursts(
    producer: &Producer,
    ledger: &mut Ledger,
    topic: &str,
    partition: i32,
    rounds: usize,
    per_round: usize,
) {
    let topic = Topic::new(topic);
    for _ in 0..rounds {
        ledger.send(producer, &topic, partition, per_round).await;
        tokio::time::sleep(Duration::from_millis(6)).await;
    }
}

/// Awaits every future of `ledger`, then runs the log checks (nothing lost,
/// nothing duplicated, order kept) and, per partition, the sequence checks.
pub async fn settle(cluster: &FakeCluster, ledger: &mut Ledger) -> Outcomes {
    let outcomes = ledger.outcomes().await;
    assert_log_matches(cluster, &outcomes).await;
    for (topic, partition) in outcomes.results.keys() {
        assert_sequences_contiguous(cluster, topic, *partition);
    }
    outcomes
}

/// Asserts, from the broker's request log, that every batch sent more than
/// once (same producer id, epoch and base sequence) carried the same records
/// every time: same record count, same last sequence, same max timestamp.
/// Returns how many batches were sent more than once.
pub fn assert_never_rebatched(cluster: &FakeCluster) -> usize {
    // (topic, partition, producer id, epoch, base sequence) ->
    // ((record count, last sequence, max timestamp), attempts).
    type Attempt = (String, i32, i64, i16, i32);
    type Shape = (i32, i32, i64);
    let mut seen: BTreeMap<Attempt, (Shape, usize)> = BTreeMap::new();
    for r in cluster.requests() {
        for b in &r.batches {
            if b.meta.producer_id < 0 {
                continue;
            }
            let key = (
                b.topic_partition.topic.to_string(),
                b.topic_partition.partition,
                b.meta.producer_id,
                b.meta.producer_epoch,
                b.meta.base_sequence,
            );
            let shape = (b.meta.record_count, b.last_sequence, b.meta.max_timestamp);
            let entry = seen.entry(key.clone()).or_insert((shape, 0));
            assert_eq!(
                entry.0, shape,
                "seed {SEED:#x}: batch {key:?} was re-batched between attempts"
            );
            entry.1 += 1;
        }
    }
    seen.values().filter(|e| e.1 > 1).count()
}

/// One batch of a partition as the broker saw it in a Produce request.
#[derive(Debug, Clone, Copy)]
pub struct SentBatch {
    /// The request's position in the broker's request log.
    pub seq: u64,
    /// The broker that received it.
    pub broker: i32,
    /// Its producer id.
    pub producer_id: i64,
    /// Its producer epoch.
    pub epoch: i16,
    /// Its base sequence.
    pub base: i32,
    /// What the broker answered for it.
    pub error: kproducer_protocol::ErrorCode,
}

/// Every batch sent for `topic`-`partition`, in the order the broker saw
/// them.
pub fn sent_batches(cluster: &FakeCluster, topic: &str, partition: i32) -> Vec<SentBatch> {
    let mut out = Vec::new();
    for r in cluster.requests() {
        for b in &r.batches {
            if &*b.topic_partition.topic == topic && b.topic_partition.partition == partition {
                out.push(SentBatch {
                    seq: r.seq,
                    broker: r.connection.broker,
                    producer_id: b.meta.producer_id,
                    epoch: b.meta.producer_epoch,
                    base: b.meta.base_sequence,
                    error: b.error_code,
                });
            }
        }
    }
    out
}

/// Three brokers, `orders` with 6 partitions, each request taking
/// `service`; `tweak` adjusts the cluster.
pub fn cluster_with(
    service: Duration,
    tweak: impl FnOnce(
        kproducer_fake_broker::FakeClusterBuilder,
    ) -> kproducer_fake_broker::FakeClusterBuilder,
) -> FakeCluster {
    tweak(
        FakeCluster::builder()
            .brokers(3)
            .topic("orders", 6)
            .service_time(kproducer_fake_broker::ServiceTime::new(
                service,
                Duration::ZERO,
            )),
    )
    .build()
    .expect("cluster")
}

/// [`cluster_with`] answering at once.
pub fn cluster() -> FakeCluster {
    cluster_with(Duration::ZERO, |b| b)
}

/// A rule on Produce requests for `orders`-0.
pub fn on_p0(action: kproducer_fake_broker::FaultAction) -> kproducer_fake_broker::FaultRule {
    kproducer_fake_broker::FaultRule::new(action)
        .api(kproducer_protocol::ApiKey::Produce)
        .partition("orders", 0)
}

/// A transactional producer on `cluster` with `transactional.id` = `id`.
pub fn transactional_producer(cluster: &FakeCluster, id: &str) -> Producer {
    producer(cluster, |b| b.transactional_id(id))
}

/// The committed values of `orders`-`partition`: what a read-committed
/// reader sees.
pub fn visible(cluster: &FakeCluster, partition: i32) -> Vec<Bytes> {
    cluster
        .committed_values("orders", partition)
        .expect("partition")
        .into_iter()
        .flatten()
        .collect()
}

/// No transactional batch reached a partition before the partition was
/// added to its transaction (AddPartitionsToTxn).
pub fn assert_every_partition_added(cluster: &FakeCluster) {
    assert_eq!(
        cluster.counters().unadded_transactional_batches,
        0,
        "every partition was added to the transaction before its first batch"
    );
}
