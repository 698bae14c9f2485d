//! Fault scenarios 13–25 of `shared/design/fault-scenarios.md`, one named
//! test per scenario and variant, end to end against the fake broker on
//! paused tokio time with a fixed seed (printed by every failing check).
//! Each ends with the log checks: nothing lost, nothing duplicated, order
//! kept per partition, sequences contiguous, every future resolved once.

mod common;

use std::time::Duration;

use common::{Ledger, SEED, assert_never_rebatched, bursts, error, producer, run_for, settle};
use kproducer::{Error, Record, Topic};
use kproducer_fake_broker::{
    ErrorScope, FakeCluster, FaultAction, FaultRule, ResponseCorruption, ServiceTime,
};
use kproducer_protocol::{ApiKey, ErrorCode};

/// Three brokers, `orders` with 6 partitions, each request taking `service`.
fn cluster_with(service: Duration) -> FakeCluster {
    FakeCluster::builder()
        .brokers(3)
        .topic("orders", 6)
        .service_time(ServiceTime::new(service, Duration::ZERO))
        .build()
        .expect("cluster")
}

fn cluster() -> FakeCluster {
    cluster_with(Duration::ZERO)
}

/// A rule on Produce requests for `orders`-0.
fn on_p0(action: FaultAction) -> FaultRule {
    FaultRule::new(action)
        .api(ApiKey::Produce)
        .partition("orders", 0)
}

// ---- S13 ------------------------------------------------------------------

async fn permanent_error(code: ErrorCode) {
    let cluster = cluster_with(Duration::from_millis(10));
    cluster.add_fault(on_p0(error(code)).nth(3));
    let producer = producer(&cluster, |b| b);
    let mut ledger = Ledger::default();
    let topic = Topic::new("orders");
    for _ in 0..10 {
        ledger.send(&producer, &topic, 0, 5).await;
        ledger.send(&producer, &topic, 1, 5).await;
        run_for(Duration::from_millis(6)).await;
    }
    let outcomes = settle(&cluster, &mut ledger).await;
    let errors = outcomes.errors();
    assert_eq!(
        errors.len(),
        5,
        "seed {SEED:#x} {code}: one batch fails: {errors:?}"
    );
    assert!(errors.iter().all(|e| e.code() == Some(code)), "{errors:?}");
    assert!(errors[0].to_string().contains("orders-0"), "{}", errors[0]);
    assert_eq!(outcomes.ok(), 95);
    let collateral = common::sent_batches(&cluster, "orders", 0)
        .iter()
        .filter(|b| b.error == ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
        .count();
    assert!(
        collateral >= 1,
        "seed {SEED:#x} {code}: the batches in flight behind it got 45"
    );
    let p1 = &outcomes.results[&("orders".to_owned(), 1)];
    assert!(
        p1.iter().all(|(_, r)| r.is_ok()),
        "other partitions untouched"
    );
}

/// S13: 87 `INVALID_RECORD` fails that batch's records only; the in-flight
/// batches behind it recover; other partitions are untouched.
#[tokio::test(start_paused = true)]
async fn s13_invalid_record_fails_one_batch() {
    permanent_error(ErrorCode::INVALID_RECORD).await;
}

/// S13: 2 `CORRUPT_MESSAGE`, the same.
#[tokio::test(start_paused = true)]
async fn s13b_corrupt_message_fails_one_batch() {
    permanent_error(ErrorCode::CORRUPT_MESSAGE).await;
}

// ---- S14 ------------------------------------------------------------------

/// A one-broker cluster taking batches of at most 400 bytes.
fn small_batches_cluster() -> FakeCluster {
    FakeCluster::builder()
        .brokers(1)
        .topic("orders", 1)
        .max_message_bytes(400)
        .build()
        .unwrap()
}

/// S14: 10 on a multi-record batch never sent before: split, all delivered.
#[tokio::test(start_paused = true)]
async fn s14_message_too_large_splits_an_unsent_batch() {
    let cluster = small_batches_cluster();
    let producer = producer(&cluster, |b| b.linger(Duration::from_millis(20)));
    let mut ledger = Ledger::default();
    ledger.send(&producer, &Topic::new("orders"), 0, 20).await;
    let outcomes = settle(&cluster, &mut ledger).await;
    assert_eq!(
        outcomes.ok(),
        20,
        "seed {SEED:#x}: {:?}",
        outcomes.errors().first()
    );
    let sent = common::sent_batches(&cluster, "orders", 0);
    assert!(
        sent.iter().any(|b| b.error == ErrorCode::MESSAGE_TOO_LARGE),
        "seed {SEED:#x}: the first attempt was refused whole: {sent:?}"
    );
    assert!(
        cluster.partition("orders", 0).unwrap().batches.len() > 1,
        "split"
    );
}

/// S14: a single record too large for the broker fails with a clear error;
/// the records around it are delivered.
#[tokio::test(start_paused = true)]
async fn s14b_single_oversized_record_fails_clearly() {
    let cluster = small_batches_cluster();
    let producer = producer(&cluster, |b| b.linger(Duration::from_millis(20)));
    let topic = Topic::new("orders");
    let mut ledger = Ledger::default();
    ledger.send(&producer, &topic, 0, 4).await;
    let big = producer
        .send(Record::new(topic.clone(), vec![b'x'; 1_000]).with_partition(0))
        .await
        .unwrap();
    ledger.send(&producer, &topic, 0, 4).await;
    let outcomes = settle(&cluster, &mut ledger).await;
    assert_eq!(
        outcomes.ok(),
        8,
        "seed {SEED:#x}: {:?}",
        outcomes.errors().first()
    );
    let err = big.await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::MESSAGE_TOO_LARGE), "{err}");
    assert!(err.to_string().contains("orders-0"), "{err}");
}

/// S14: a batch that already carries a sequence (it was sent and refused
/// with a retriable code) is resent unchanged; when the broker then refuses
/// it as too large, its records are split into new batches under a bumped
/// epoch: no `(epoch, sequence)` ever carries a different record set.
#[tokio::test(start_paused = true)]
async fn s14c_a_sequenced_batch_is_never_rebatched() {
    let cluster = small_batches_cluster();
    cluster.add_fault(on_p0(error(ErrorCode::NOT_ENOUGH_REPLICAS)).nth(1));
    let producer = producer(&cluster, |b| b.linger(Duration::from_millis(20)));
    let topic = Topic::new("orders");
    let mut ledger = Ledger::default();
    ledger.send(&producer, &topic, 0, 20).await;
    let outcomes = settle(&cluster, &mut ledger).await;
    assert_eq!(
        outcomes.ok(),
        20,
        "seed {SEED:#x}: {:?}",
        outcomes.errors().first()
    );
    let resent = assert_never_rebatched(&cluster);
    let sent = common::sent_batches(&cluster, "orders", 0);
    assert!(resent >= 1, "the refused batch was sent again: {sent:?}");
    let codes: Vec<ErrorCode> = sent.iter().take(2).map(|b| b.error).collect();
    assert_eq!(
        codes,
        [ErrorCode::NOT_ENOUGH_REPLICAS, ErrorCode::MESSAGE_TOO_LARGE],
        "seed {SEED:#x}: {sent:?}"
    );
    assert!(
        sent.iter().skip(2).all(|b| b.epoch == 1),
        "seed {SEED:#x}: the split batches are new, under a bumped epoch: {sent:?}"
    );
}

// ---- S15 ------------------------------------------------------------------

/// S15: a retried batch keeps its `(base_seq, last_seq)` and record set on
/// every attempt (checked on the broker's request log), through leader
/// errors, lost answers and a lost connection.
#[tokio::test(start_paused = true)]
async fn s15_a_retried_batch_is_identical_on_every_attempt() {
    let cluster = cluster_with(Duration::from_millis(5));
    cluster.add_fault(on_p0(error(ErrorCode::NOT_LEADER_OR_FOLLOWER)).nth(2));
    cluster.add_fault(on_p0(FaultAction::DropResponse).nth(5));
    cluster.add_fault(on_p0(FaultAction::CloseBeforeHandling).nth(9));
    let producer = producer(&cluster, |b| b.request_timeout(Duration::from_secs(2)));
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, "orders", 0, 20, 3).await;
    let outcomes = settle(&cluster, &mut ledger).await;
    assert_eq!(
        outcomes.ok(),
        60,
        "seed {SEED:#x}: {:?}",
        outcomes.errors().first()
    );
    assert!(
        assert_never_rebatched(&cluster) >= 3,
        "seed {SEED:#x}: batches were retried"
    );
}

// ---- S16 ------------------------------------------------------------------

/// S16: with auto-create off, records for a topic that does not exist yet
/// wait (Metadata answers 3), then deliver once it is created.
#[tokio::test(start_paused = true)]
async fn s16_unknown_topic_records_wait_then_deliver() {
    let cluster = cluster();
    let producer = producer(&cluster, |b| b.allow_auto_create_topics(false));
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, "late", 0, 3, 2).await;
    run_for(Duration::from_secs(5)).await;
    cluster.create_topic("late", 2).unwrap();
    let outcomes = settle(&cluster, &mut ledger).await;
    assert_eq!(
        outcomes.ok(),
        6,
        "seed {SEED:#x}: {:?}",
        outcomes.errors().first()
    );
}

/// S16: a topic that never appears: past the delivery timeout the records
/// fail with a clear error naming the topic.
#[tokio::test(start_paused = true)]
async fn s16b_unknown_topic_fails_after_delivery_timeout() {
    let cluster = cluster();
    let producer = producer(&cluster, |b| {
        b.allow_auto_create_topics(false)
            .request_timeout(Duration::from_secs(2))
            .delivery_timeout(Duration::from_secs(10))
    });
    let mut ledger = Ledger::default();
    let topic = Topic::new("missing");
    for _ in 0..3 {
        let f = producer
            .send(Record::new(topic.clone(), "x"))
            .await
            .unwrap();
        let err = f.await.unwrap_err();
        assert!(matches!(err, Error::DeliveryTimeout { .. }), "{err}");
        assert!(err.to_string().contains("missing"), "{err}");
    }
    bursts(&producer, &mut ledger, "orders", 0, 2, 2).await;
    let outcomes = settle(&cluster, &mut ledger).await;
    assert_eq!(outcomes.ok(), 4, "other topics are unaffected");
}

// ---- S17 ------------------------------------------------------------------

fn init_error(code: ErrorCode) -> FaultRule {
    FaultRule::new(FaultAction::Error {
        code,
        scope: ErrorScope::Request,
    })
    .api(ApiKey::InitProducerId)
}

/// S17: 31 on InitProducerId is fatal and clear.
#[tokio::test(start_paused = true)]
async fn s17_init_cluster_authorization_failed_is_fatal() {
    let cluster = cluster();
    cluster.add_fault(init_error(ErrorCode::CLUSTER_AUTHORIZATION_FAILED).sticky());
    let producer = producer(&cluster, |b| b);
    let mut ledger = Ledger::default();
    ledger.send(&producer, &Topic::new("orders"), 0, 3).await;
    let outcomes = settle(&cluster, &mut ledger).await;
    let errors = outcomes.errors();
    assert_eq!(errors.len(), 3);
    for e in errors {
        assert!(matches!(e, Error::Fatal { .. }), "{e}");
        assert!(
            e.to_string().contains("CLUSTER_AUTHORIZATION_FAILED"),
            "{e}"
        );
    }
    assert!(cluster.partition("orders", 0).unwrap().batches.is_empty());
}

async fn init_retried(code: ErrorCode) {
    let cluster = cluster();
    cluster.add_fault(init_error(code).nth(1));
    cluster.add_fault(init_error(code).nth(2));
    let producer = producer(&cluster, |b| b);
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, "orders", 0, 3, 3).await;
    let outcomes = settle(&cluster, &mut ledger).await;
    assert_eq!(
        outcomes.ok(),
        9,
        "seed {SEED:#x} {code}: {:?}",
        outcomes.errors().first()
    );
    assert!(
        cluster.counters().requests[&ApiKey::InitProducerId.as_i16()] >= 3,
        "{code} was retried"
    );
}

/// S17: 15 `COORDINATOR_NOT_AVAILABLE` is retried.
#[tokio::test(start_paused = true)]
async fn s17b_init_coordinator_not_available_retried() {
    init_retried(ErrorCode::COORDINATOR_NOT_AVAILABLE).await;
}

/// S17: 16 `NOT_COORDINATOR` is retried.
#[tokio::test(start_paused = true)]
async fn s17c_init_not_coordinator_retried() {
    init_retried(ErrorCode::NOT_COORDINATOR).await;
}

/// S17: 14 `COORDINATOR_LOAD_IN_PROGRESS` is retried.
#[tokio::test(start_paused = true)]
async fn s17d_init_coordinator_load_in_progress_retried() {
    init_retried(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS).await;
}

// ---- S18 ------------------------------------------------------------------

/// S18: at epoch `i16::MAX` a bump cannot happen: the producer asks for a
/// new producer id, and the partition continues under it from sequence 0.
#[tokio::test(start_paused = true)]
async fn s18_epoch_exhausted_requests_a_new_producer_id() {
    let cluster = FakeCluster::builder()
        .brokers(3)
        .topic("orders", 6)
        .idempotent_producer_epoch(i16::MAX)
        .build()
        .unwrap();
    cluster.add_fault(on_p0(error(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)).nth(2));
    let producer = producer(&cluster, |b| b);
    let mut ledger = Ledger::default();
    // Partition 1 carries on beside it and must switch to the new id too.
    let topic = Topic::new("orders");
    for _ in 0..6 {
        ledger.send(&producer, &topic, 0, 3).await;
        ledger.send(&producer, &topic, 1, 3).await;
        run_for(Duration::from_millis(6)).await;
    }
    let outcomes = settle(&cluster, &mut ledger).await;
    assert_eq!(
        outcomes.ok(),
        36,
        "seed {SEED:#x}: {:?}",
        outcomes.errors().first()
    );
    let seqs = cluster.partition("orders", 0).unwrap().sequences();
    let ids: std::collections::BTreeSet<i64> = seqs.iter().map(|s| s.0).collect();
    assert_eq!(
        ids.len(),
        2,
        "seed {SEED:#x}: a second producer id: {seqs:?}"
    );
    assert!(seqs.iter().all(|s| s.1 == i16::MAX), "{seqs:?}");
    let after = seqs.iter().find(|s| s.0 != seqs[0].0).unwrap();
    assert_eq!(after.2, 0, "the new producer id starts at sequence 0");
    assert_eq!(
        cluster.counters().requests[&ApiKey::InitProducerId.as_i16()],
        2
    );
}

// ---- S19 ------------------------------------------------------------------

/// S19: a partition's sequence near `i32::MAX` wraps to 0 and keeps going
/// (the producer's first sequence is seeded near the top; a 2.5+ broker
/// accepts any first sequence from a producer it has no state for).
#[tokio::test(start_paused = true)]
async fn s19_sequence_wraps_past_i32_max() {
    let cluster = cluster_with(Duration::from_millis(10));
    // The batch that crosses the wrap is refused once (6): the batches
    // behind it get 45 and everything is retried in order across the wrap.
    cluster.add_fault(on_p0(error(ErrorCode::NOT_LEADER_OR_FOLLOWER)).nth(3));
    let producer = producer(&cluster, |b| b.first_sequence(i32::MAX - 9));
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, "orders", 0, 8, 4).await;
    let outcomes = settle(&cluster, &mut ledger).await;
    assert_eq!(
        outcomes.ok(),
        32,
        "seed {SEED:#x}: {:?}",
        outcomes.errors().first()
    );
    let seqs = cluster.partition("orders", 0).unwrap().sequences();
    assert_eq!(seqs[0].2, i32::MAX - 9, "{seqs:?}");
    assert!(
        seqs.iter().any(|s| s.2 < 100),
        "seed {SEED:#x}: the sequence wrapped to 0: {seqs:?}"
    );
    let sent = common::sent_batches(&cluster, "orders", 0);
    assert!(
        sent.iter()
            .any(|b| b.error == ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER),
        "seed {SEED:#x}: batches behind the refused one got 45: {sent:?}"
    );
    assert_eq!(producer.metrics().epoch_bumps, 0);
}

// ---- S20 ------------------------------------------------------------------

/// S20: the broker forgets the producer while it is idle (producer state
/// expiry); the next batches are handled without loss.
#[tokio::test(start_paused = true)]
async fn s20_broker_forgets_idle_producer() {
    let cluster = cluster();
    let producer = producer(&cluster, |b| b);
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, "orders", 0, 3, 5).await;
    run_for(Duration::from_secs(60)).await;
    let pid = cluster.partition("orders", 0).unwrap().sequences()[0].0;
    assert!(cluster.expire_producer_everywhere(pid) >= 1);
    bursts(&producer, &mut ledger, "orders", 0, 3, 5).await;
    let outcomes = settle(&cluster, &mut ledger).await;
    assert_eq!(
        outcomes.ok(),
        30,
        "seed {SEED:#x}: {:?}",
        outcomes.errors().first()
    );
}

/// S20 on a Kafka 4.5 broker (KAFKA-15591): the partition held records, so
/// a producer it has forgotten may still continue its sequence.
#[tokio::test(start_paused = true)]
async fn s20b_broker_forgets_idle_producer_kafka_4_5() {
    let cluster = FakeCluster::builder()
        .brokers(3)
        .topic("orders", 6)
        .mode(kproducer_fake_broker::BehaviourMode::Kafka4_5)
        .build()
        .unwrap();
    let producer = producer(&cluster, |b| b);
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, "orders", 0, 3, 5).await;
    run_for(Duration::from_secs(60)).await;
    let pid = cluster.partition("orders", 0).unwrap().sequences()[0].0;
    assert!(cluster.expire_producer_everywhere(pid) >= 1);
    bursts(&producer, &mut ledger, "orders", 0, 3, 5).await;
    let outcomes = settle(&cluster, &mut ledger).await;
    assert_eq!(
        outcomes.ok(),
        30,
        "seed {SEED:#x}: {:?}",
        outcomes.errors().first()
    );
}

// ---- S21 ------------------------------------------------------------------

async fn broken_response(how: ResponseCorruption) {
    let cluster = cluster();
    cluster.add_fault(on_p0(FaultAction::CorruptResponse(how)).nth(2));
    let producer = producer(&cluster, |b| b.request_timeout(Duration::from_secs(2)));
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, "orders", 0, 6, 5).await;
    let outcomes = settle(&cluster, &mut ledger).await;
    assert_eq!(
        outcomes.ok(),
        30,
        "seed {SEED:#x} {how:?}: {:?}",
        outcomes.errors().first()
    );
    assert_eq!(
        cluster.counters().duplicate_batches,
        1,
        "seed {SEED:#x} {how:?}: the batch answered with a broken frame was possibly persisted"
    );
}

/// S21: a response frame of garbage closes the connection; the batches on
/// it are possibly persisted; nothing panics, nothing is lost.
#[tokio::test(start_paused = true)]
async fn s21_garbage_response_frame() {
    broken_response(ResponseCorruption::Garbage).await;
}

/// S21: a truncated response frame, the same.
#[tokio::test(start_paused = true)]
async fn s21b_truncated_response_frame() {
    broken_response(ResponseCorruption::Truncate).await;
}

/// S21: a response with a correlation id of no request in flight, the same.
#[tokio::test(start_paused = true)]
async fn s21c_wrong_correlation_id() {
    broken_response(ResponseCorruption::WrongCorrelationId).await;
}

// ---- S22 ------------------------------------------------------------------

/// S22: no response at all: the request timeout ends the wait, the batch
/// (appended) is retried and answered as a duplicate.
#[tokio::test(start_paused = true)]
async fn s22_request_timeout_without_response() {
    let cluster = cluster();
    cluster.add_fault(on_p0(FaultAction::DropResponse).nth(2));
    let producer = producer(&cluster, |b| b.request_timeout(Duration::from_secs(2)));
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, "orders", 0, 6, 5).await;
    let outcomes = settle(&cluster, &mut ledger).await;
    assert_eq!(
        outcomes.ok(),
        30,
        "seed {SEED:#x}: {:?}",
        outcomes.errors().first()
    );
    assert!(cluster.counters().duplicate_batches >= 1);
}

/// S22: an explicit close (before the broker handled the request): the
/// batch is retried at once, appended for the first time, no duplicate.
#[tokio::test(start_paused = true)]
async fn s22b_explicit_connection_close() {
    let cluster = cluster();
    cluster.add_fault(on_p0(FaultAction::CloseBeforeHandling).nth(2));
    let producer = producer(&cluster, |b| b.request_timeout(Duration::from_secs(30)));
    let mut ledger = Ledger::default();
    let start = tokio::time::Instant::now();
    bursts(&producer, &mut ledger, "orders", 0, 6, 5).await;
    let outcomes = settle(&cluster, &mut ledger).await;
    assert_eq!(
        outcomes.ok(),
        30,
        "seed {SEED:#x}: {:?}",
        outcomes.errors().first()
    );
    assert_eq!(cluster.counters().duplicate_batches, 0);
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "a close is noticed without waiting for the request timeout"
    );
}
