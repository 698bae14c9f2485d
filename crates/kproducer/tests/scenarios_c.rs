//! Fault scenarios 17–22 of `shared/design/fault-scenarios.md`, one
//! named test per scenario and variant, end to end against the fake broker
//! on paused tokio time with a fixed seed (printed by every failing check).
//! Each ends with the log checks: nothing lost, nothing duplicated, order
//! kept per partition, sequences contiguous, every future resolved once.

mod common;

use std::time::Duration;

use common::{
    Ledger, SEED, bursts, cluster, cluster_with, error, on_p0, producer, run_for, sent_batches,
    settle,
};
use kproducer::{Error, Topic};
use kproducer_fake_broker::{
    BehaviourMode, ErrorScope, FakeCluster, FaultAction, FaultRule, ResponseCorruption,
};
use kproducer_protocol::{ApiKey, ErrorCode};

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
    outcomes.assert_ok_count(36);
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
    let cluster = cluster_with(Duration::from_millis(10), |b| b);
    // The batch that crosses the wrap is refused once (6): the batches
    // behind it get 45 and everything is retried in order across the wrap.
    cluster.add_fault(on_p0(error(ErrorCode::NOT_LEADER_OR_FOLLOWER)).nth(3));
    let producer = producer(&cluster, |b| b.first_sequence(i32::MAX - 9));
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, "orders", 0, 8, 4).await;
    let outcomes = settle(&cluster, &mut ledger).await;
    outcomes.assert_ok_count(32);
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
    outcomes.assert_ok_count(30);
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
    outcomes.assert_ok_count(30);
}

/// S20 on a Kafka 2.0–2.4 broker: it answers 59 `UNKNOWN_PRODUCER_ID` to
/// the forgotten producer's next batch (its log start offset is not past
/// the last acknowledged offset, so retention is not the cause). The
/// idempotent producer bumps its epoch and retries from sequence 0, as
/// Java's does (KIP-360): nothing fails, nothing is lost.
#[tokio::test(start_paused = true)]
async fn s20c_broker_forgets_idle_producer_pre_2_5() {
    let cluster = cluster_with(Duration::from_millis(10), |b| b.mode(BehaviourMode::Pre2_5));
    let producer = producer(&cluster, |b| b);
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, "orders", 0, 3, 5).await;
    run_for(Duration::from_secs(60)).await;
    let pid = cluster.partition("orders", 0).unwrap().sequences()[0].0;
    assert!(cluster.expire_producer_everywhere(pid) >= 1);
    bursts(&producer, &mut ledger, "orders", 0, 6, 5).await;
    let outcomes = settle(&cluster, &mut ledger).await;
    outcomes.assert_ok_count(45);
    let sent = sent_batches(&cluster, "orders", 0);
    assert!(
        sent.iter()
            .any(|b| b.error == ErrorCode::UNKNOWN_PRODUCER_ID),
        "seed {SEED:#x}: the broker answered 59: {sent:?}"
    );
    assert_eq!(
        producer.metrics().epoch_bumps,
        1,
        "seed {SEED:#x}: {sent:?}"
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
    outcomes.assert_ok_count(30);
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
    outcomes.assert_ok_count(30);
    assert_eq!(cluster.counters().duplicate_batches, 0);
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "a close is noticed without waiting for the request timeout"
    );
}
