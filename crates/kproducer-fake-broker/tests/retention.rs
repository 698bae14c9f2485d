//! Per-partition retention (`retention.bytes`) through the wire: the log
//! stays bounded, reads see the moved log start offset, and an idempotent
//! producer's sequence checks survive its batches being dropped.

mod common;

use common::{WireClient, batch, outcome};
use kproducer_fake_broker::{BehaviourMode, FakeCluster};
use kproducer_protocol::ErrorCode;
use kproducer_protocol::messages::{
    FetchPartition, FetchRequest, FetchTopic, ListOffsetsPartition, ListOffsetsRequest,
    ListOffsetsTopic,
};
use kproducer_protocol::records::{BatchParams, Compression, NO_HEADERS, RecordBatchBuilder};

const T: &str = "perf";

fn cluster(partitions: i32, retention: usize, mode: BehaviourMode) -> FakeCluster {
    FakeCluster::builder()
        .brokers(1)
        .topic(T, partitions)
        .mode(mode)
        .retention_bytes(Some(retention))
        .record_requests(false)
        .validate_records(false)
        .build()
        .expect("valid cluster")
}

/// A batch of `count` records of `value`, as `kproducer perf` sends them.
fn perf_batch(pid: i64, seq: i32, count: i32, value: &[u8]) -> bytes::Bytes {
    let mut b = RecordBatchBuilder::new(Compression::None);
    for i in 0..count {
        b.append(1_000 + i64::from(i), None, Some(value), NO_HEADERS);
    }
    b.seal(&BatchParams {
        producer_id: pid,
        producer_epoch: 0,
        base_sequence: seq,
        transactional: false,
    })
    .expect("a valid batch")
}

fn fetch(partition: i32, offset: i64) -> FetchRequest {
    FetchRequest {
        max_wait_ms: 0,
        max_bytes: 1 << 20,
        topics: vec![FetchTopic {
            topic: T.into(),
            partitions: vec![FetchPartition {
                partition,
                fetch_offset: offset,
                partition_max_bytes: 1 << 20,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn earliest(partition: i32) -> ListOffsetsRequest {
    ListOffsetsRequest {
        replica_id: -1,
        topics: vec![ListOffsetsTopic {
            name: T.into(),
            partitions: vec![ListOffsetsPartition {
                partition_index: partition,
                current_leader_epoch: -1,
                timestamp: -2,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// A `kproducer perf`-shaped run: 2,000,000 records of 100 bytes from one
/// idempotent producer, 160 to a batch (about Kafka's 16 KiB batch.size),
/// round-robin over 6 partitions. Unbounded, the partitions would hold
/// about 220 MB; with a 1 MiB bound each stays under it, every batch is
/// accepted at the offset that follows the last, and the record count is
/// all there.
#[tokio::test(start_paused = true)]
async fn a_two_million_record_run_stays_under_the_bound_without_errors() {
    const RECORDS: i32 = 2_000_000;
    const PER_BATCH: i32 = 160;
    const PARTITIONS: i32 = 6;
    const BOUND: usize = 1 << 20;
    let cluster = cluster(PARTITIONS, BOUND, BehaviourMode::Pre4_5);
    let mut c = WireClient::connect(&cluster, 0).await;
    let value = [b'x'; 100];
    let mut next_seq = [0i32; PARTITIONS as usize];
    let mut next_offset = [0i64; PARTITIONS as usize];
    let mut max_retained = 0usize;
    for n in 0..RECORDS / PER_BATCH {
        let p = n % PARTITIONS;
        let i = p as usize;
        let answer = c
            .produce(T, p, perf_batch(7, next_seq[i], PER_BATCH, &value))
            .await;
        assert_eq!(outcome(&answer), (0, next_offset[i]), "batch {n}");
        next_seq[i] += PER_BATCH;
        next_offset[i] += i64::from(PER_BATCH);
        if n % 500 == 0 {
            let snapshot = cluster.partition(T, p).expect("exists");
            max_retained = max_retained.max(snapshot.retained_bytes());
        }
    }
    let mut total = 0i64;
    for snapshot in cluster.partitions() {
        assert!(
            snapshot.retained_bytes() <= BOUND,
            "{:?} holds {} bytes",
            snapshot.topic_partition,
            snapshot.retained_bytes()
        );
        assert!(snapshot.log_start_offset > 0, "retention never ran");
        assert_eq!(
            snapshot.log_start_offset, snapshot.batches[0].base_offset,
            "the log starts at its first batch"
        );
        total += snapshot.high_watermark;
    }
    assert!(max_retained <= BOUND && max_retained > BOUND / 2);
    assert_eq!(total, i64::from(RECORDS));
    let counters = cluster.counters();
    assert!(counters.rejected_batches.is_empty());
    assert_eq!(counters.records_appended, RECORDS as u64);
}

/// Producer A writes once, then producer B's traffic pushes A's batch out
/// of the log. Since Kafka 2.5 A's state outlives its batch: A goes on
/// with the next sequence, a retry of its last batch is still recognised
/// as a duplicate, and a gap is still refused.
#[tokio::test(start_paused = true)]
async fn a_producer_keeps_its_sequence_state_after_retention_drops_its_batches() {
    let cluster = cluster(1, 2_000, BehaviourMode::Pre4_5);
    let mut c = WireClient::connect(&cluster, 0).await;
    let a_first = batch(1, 0, 0, &["a0", "a1"]);
    assert_eq!(outcome(&c.produce(T, 0, a_first.clone()).await), (0, 0));
    for seq in 0..200 {
        let answer = c.produce(T, 0, batch(2, 0, seq, &["b"])).await;
        assert_eq!(outcome(&answer), (0, 2 + i64::from(seq)));
    }
    let snapshot = cluster.partition(T, 0).expect("exists");
    assert!(snapshot.log_start_offset > 2, "A's batch was retained away");
    assert!(snapshot.retained_bytes() <= 2_000);
    // A retry of A's batch: answered with its original offset, not appended.
    assert_eq!(outcome(&c.produce(T, 0, a_first).await), (0, 0));
    // A gap is refused: the state knows A's last sequence.
    assert_eq!(
        c.produce(T, 0, batch(1, 0, 5, &["gap"])).await.error_code,
        ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER.as_i16()
    );
    // The next sequence is accepted at the log end.
    assert_eq!(
        outcome(&c.produce(T, 0, batch(1, 0, 2, &["a2"])).await),
        (0, 202)
    );
}

/// Brokers 2.0–2.4 dropped a producer's state with its batches: with the
/// `Pre2_5` mode the same story ends in 59 `UNKNOWN_PRODUCER_ID`, carrying
/// the new log start offset.
#[tokio::test(start_paused = true)]
async fn before_kafka_2_5_retention_forgets_the_producer() {
    let cluster = cluster(1, 2_000, BehaviourMode::Pre2_5);
    let mut c = WireClient::connect(&cluster, 0).await;
    assert_eq!(
        outcome(&c.produce(T, 0, batch(1, 0, 0, &["a0", "a1"])).await),
        (0, 0)
    );
    for seq in 0..200 {
        c.produce(T, 0, batch(2, 0, seq, &["b"])).await;
    }
    let start = cluster.partition(T, 0).expect("exists").log_start_offset;
    let answer = c.produce(T, 0, batch(1, 0, 2, &["a2"])).await;
    assert_eq!(
        (answer.error_code, answer.log_start_offset),
        (ErrorCode::UNKNOWN_PRODUCER_ID.as_i16(), start)
    );
}

/// Fetch and ListOffsets see the moved log start: a fetch below it is
/// 1 `OFFSET_OUT_OF_RANGE`, one at it returns the oldest batch left, and
/// "earliest" names it.
#[tokio::test(start_paused = true)]
async fn reads_report_the_new_log_start_offset() {
    let cluster = cluster(1, 1_000, BehaviourMode::Pre4_5);
    let mut c = WireClient::connect(&cluster, 0).await;
    for seq in 0..100 {
        c.produce(T, 0, batch(3, 0, seq, &["value"])).await;
    }
    let start = cluster.partition(T, 0).expect("exists").log_start_offset;
    assert!(start > 0);
    let below = c.call(12, &fetch(0, start - 1)).await;
    assert_eq!(
        below.responses[0].partitions[0].error_code,
        ErrorCode::OFFSET_OUT_OF_RANGE.as_i16()
    );
    let at = c.call(12, &fetch(0, start)).await;
    let p = &at.responses[0].partitions[0];
    assert_eq!((p.error_code, p.log_start_offset), (0, start));
    let records = p.records.as_ref().expect("records");
    assert_eq!(&records[..8], &start.to_be_bytes(), "first batch fetched");
    let listed = c.call(7, &earliest(0)).await;
    let e = &listed.topics[0].partitions[0];
    assert_eq!((e.error_code, e.offset), (0, start));
    // The in-process readers agree.
    let read = cluster.records(T, 0).expect("readable");
    assert_eq!(read.first().map(|r| r.offset), Some(start));
    assert_eq!(read.len(), usize::try_from(100 - start).expect("small"));
}

/// Without a bound (the default) nothing is ever dropped.
#[tokio::test(start_paused = true)]
async fn the_default_keeps_everything() {
    let cluster = FakeCluster::builder()
        .brokers(1)
        .topic(T, 1)
        .build()
        .expect("valid cluster");
    assert_eq!(cluster.config().retention_bytes, None);
    let mut c = WireClient::connect(&cluster, 0).await;
    for seq in 0..300 {
        c.produce(T, 0, batch(3, 0, seq, &["value"])).await;
    }
    let snapshot = cluster.partition(T, 0).expect("exists");
    assert_eq!(snapshot.log_start_offset, 0);
    assert_eq!(snapshot.batches.len(), 300);
}
