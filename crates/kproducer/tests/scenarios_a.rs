//! Fault scenarios 1–12 of `shared/design/fault-scenarios.md`, one named
//! test per scenario and variant, end to end against the fake broker on
//! paused tokio time with a fixed seed (printed by every failing check).
//! Each ends with the log checks: nothing lost, nothing duplicated, order
//! kept per partition, sequences contiguous, every future resolved once.

mod common;

use std::time::Duration;

use common::{Ledger, SEED, bursts, error, producer, run_for, sent_batches, settle};
use kproducer::{Error, Record, Topic};
use kproducer_fake_broker::{
    BehaviourMode, FakeCluster, FaultAction, FaultRule, Hold, ServiceTime,
};
use kproducer_protocol::{ApiKey, ErrorCode};

/// Three brokers, `orders` with 6 partitions, optionally slow.
fn cluster_with(
    service: Duration,
    tweak: impl FnOnce(
        kproducer_fake_broker::FakeClusterBuilder,
    ) -> kproducer_fake_broker::FakeClusterBuilder,
) -> FakeCluster {
    tweak(
        FakeCluster::builder()
            .brokers(3)
            .topic("orders", 6)
            .service_time(ServiceTime::new(service, Duration::ZERO)),
    )
    .build()
    .expect("cluster")
}

fn cluster() -> FakeCluster {
    cluster_with(Duration::ZERO, |b| b)
}

/// A rule on Produce requests for `orders`-0.
fn on_p0(action: FaultAction) -> FaultRule {
    FaultRule::new(action)
        .api(ApiKey::Produce)
        .partition("orders", 0)
}

// ---- S1 -------------------------------------------------------------------

async fn response_lost_then_duplicate(cluster: FakeCluster, legacy: bool) {
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
    let counters = cluster.counters();
    let duplicates = if legacy {
        counters
            .rejected_batches
            .get(&ErrorCode::DUPLICATE_SEQUENCE_NUMBER)
            .copied()
            .unwrap_or(0)
    } else {
        counters.duplicate_batches
    };
    assert!(
        duplicates >= 1,
        "seed {SEED:#x}: the retry of the appended batch was answered as a duplicate: {counters:?}"
    );
    assert_eq!(producer.metrics().epoch_bumps, 0);
}

/// S1: the broker appends, the response is lost; the retry carries the same
/// sequence and is answered as a duplicate with the original offset.
#[tokio::test(start_paused = true)]
async fn s01_response_lost_retry_answered_as_duplicate() {
    response_lost_then_duplicate(cluster(), false).await;
}

/// S1, legacy: a broker before 2.0 answers the duplicate with 46
/// `DUPLICATE_SEQUENCE_NUMBER`, which is success too.
#[tokio::test(start_paused = true)]
async fn s01b_legacy_duplicate_46() {
    response_lost_then_duplicate(
        cluster_with(Duration::ZERO, |b| b.legacy_duplicate_error(true)),
        true,
    )
    .await;
}

// ---- S2 -------------------------------------------------------------------

/// Five batches of one partition in flight, the first k appended with their
/// answers lost, then the connection resets (k = 5: nothing resets, the
/// request timeout closes it).
async fn reset_with_five_in_flight(k: u32) {
    let cluster = cluster();
    let producer = producer(&cluster, |b| b.request_timeout(Duration::from_secs(2)));
    let topic = Topic::new("orders");
    let mut ledger = Ledger::default();
    ledger.send(&producer, &topic, 0, 1).await;
    run_for(Duration::from_millis(50)).await;
    let drop = cluster.add_fault(on_p0(FaultAction::DropResponse).sticky());
    let close = cluster.add_fault(on_p0(FaultAction::CloseBeforeHandling).nth(k + 1));
    for _ in 0..5 {
        ledger.send(&producer, &topic, 0, 1).await;
        run_for(Duration::from_millis(6)).await;
    }
    run_for(Duration::from_millis(20)).await;
    let fired = cluster.fault_fired(close);
    cluster.remove_fault(drop);
    cluster.remove_fault(close);
    let outcomes = settle(&cluster, &mut ledger).await;
    assert_eq!(
        outcomes.ok(),
        6,
        "seed {SEED:#x} k={k}: {:?}",
        outcomes.errors().first()
    );
    assert_eq!(fired, k < 5, "k={k}");
    assert_eq!(
        cluster.counters().duplicate_batches,
        u64::from(k),
        "seed {SEED:#x} k={k}: each appended batch's retry is answered as a duplicate"
    );
}

/// S2, k = 0: none of the five was appended.
#[tokio::test(start_paused = true)]
async fn s02_connection_reset_k0() {
    reset_with_five_in_flight(0).await;
}

/// S2, k = 1.
#[tokio::test(start_paused = true)]
async fn s02_connection_reset_k1() {
    reset_with_five_in_flight(1).await;
}

/// S2, k = 2.
#[tokio::test(start_paused = true)]
async fn s02_connection_reset_k2() {
    reset_with_five_in_flight(2).await;
}

/// S2, k = 3.
#[tokio::test(start_paused = true)]
async fn s02_connection_reset_k3() {
    reset_with_five_in_flight(3).await;
}

/// S2, k = 4.
#[tokio::test(start_paused = true)]
async fn s02_connection_reset_k4() {
    reset_with_five_in_flight(4).await;
}

/// S2, k = 5: all five appended, all answers lost.
#[tokio::test(start_paused = true)]
async fn s02_connection_reset_k5() {
    reset_with_five_in_flight(5).await;
}

// ---- S3 -------------------------------------------------------------------

/// S3: the head batch gets 6, the batches pipelined behind it get 45 from
/// the broker (a gap): retried in order, no fatal error, no epoch bump.
#[tokio::test(start_paused = true)]
async fn s03_not_leader_on_head_then_45_behind_retries_in_order() {
    let cluster = cluster_with(Duration::from_millis(10), |b| b);
    cluster.add_fault(on_p0(error(ErrorCode::NOT_LEADER_OR_FOLLOWER)).nth(3));
    let producer = producer(&cluster, |b| b);
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, "orders", 0, 12, 5).await;
    let outcomes = settle(&cluster, &mut ledger).await;
    assert_eq!(
        outcomes.ok(),
        60,
        "seed {SEED:#x}: {:?}",
        outcomes.errors().first()
    );
    assert!(
        cluster
            .counters()
            .rejected_batches
            .contains_key(&ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER),
        "seed {SEED:#x}: batches behind the head were refused with 45: {:?}",
        cluster.counters().rejected_batches
    );
    let m = producer.metrics();
    assert_eq!(m.epoch_bumps, 0, "{m:?}");
    assert!(m.retries >= 2, "{m:?}");
}

// ---- S4 -------------------------------------------------------------------

/// S4: a new partition's first batch is refused with 6 while the broker has
/// no state (pre-4.5 accepts any first sequence): nothing behind it may go
/// until it is acknowledged.
#[tokio::test(start_paused = true)]
async fn s04_new_partition_one_in_flight_until_first_ack() {
    let cluster = cluster_with(Duration::from_millis(20), |b| b.mode(BehaviourMode::Pre4_5));
    cluster.add_fault(on_p0(error(ErrorCode::NOT_LEADER_OR_FOLLOWER)));
    let producer = producer(&cluster, |b| b);
    // Warm up on another partition: metadata and producer id are known.
    producer
        .send(Record::new("orders", "warm").with_partition(1))
        .await
        .unwrap()
        .await
        .unwrap();
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, "orders", 0, 4, 3).await;
    let outcomes = settle(&cluster, &mut ledger).await;
    assert_eq!(
        outcomes.ok(),
        12,
        "seed {SEED:#x}: {:?}",
        outcomes.errors().first()
    );
    // No batch with a later sequence reached the partition before sequence
    // 0 was appended.
    let mut first_ok = None;
    for b in sent_batches(&cluster, "orders", 0) {
        let (seq, base, code) = (b.seq, b.base, b.error);
        if base == 0 && code == ErrorCode::NONE {
            first_ok.get_or_insert(seq);
        }
        if base > 0 {
            assert!(
                first_ok.is_some_and(|s| s < seq),
                "seed {SEED:#x}: sequence {base} sent before the first ack"
            );
        }
    }
}

// ---- S5 -------------------------------------------------------------------

/// S5: the leader moves with 3 batches in flight on the old leader, which
/// answers 6. Nothing for the partition reaches the new leader until those
/// three are resolved.
#[tokio::test(start_paused = true)]
async fn s05_leader_move_waits_for_old_connection_in_flight() {
    let cluster = cluster();
    let producer = producer(&cluster, |b| b);
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, "orders", 0, 2, 5).await;
    run_for(Duration::from_millis(50)).await;
    let old = cluster.leader("orders", 0).unwrap();
    let new = (old + 1) % 3;
    let hold = Hold::new();
    let held = cluster.add_fault(on_p0(FaultAction::Hold(hold.clone())).broker(old).sticky());
    bursts(&producer, &mut ledger, "orders", 0, 3, 5).await;
    hold.reached(1).await;
    cluster.move_leader("orders", 0, new).unwrap();
    bursts(&producer, &mut ledger, "orders", 0, 3, 5).await;
    run_for(Duration::from_secs(2)).await;
    assert!(
        sent_batches(&cluster, "orders", 0)
            .iter()
            .all(|b| b.broker != new),
        "seed {SEED:#x}: a batch reached the new leader while three were in flight on the old one"
    );
    cluster.remove_fault(held);
    hold.release();
    let outcomes = settle(&cluster, &mut ledger).await;
    assert_eq!(
        outcomes.ok(),
        40,
        "seed {SEED:#x}: {:?}",
        outcomes.errors().first()
    );
    let refused_by_old = sent_batches(&cluster, "orders", 0)
        .iter()
        .filter(|b| b.broker == old && b.error == ErrorCode::NOT_LEADER_OR_FOLLOWER)
        .count();
    assert!(
        refused_by_old >= 1,
        "seed {SEED:#x}: the old leader answered 6"
    );
}

// ---- S6 -------------------------------------------------------------------

/// S6: the old leader appended a batch but its answer was lost; the leader
/// moves; the new leader (which took over the log and producer state)
/// answers the retry from its duplicate cache.
#[tokio::test(start_paused = true)]
async fn s06_leader_move_after_lost_append_answered_by_new_leader_duplicate() {
    let cluster = cluster();
    let producer = producer(&cluster, |b| b.request_timeout(Duration::from_secs(2)));
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, "orders", 0, 2, 5).await;
    run_for(Duration::from_millis(50)).await;
    let old = cluster.leader("orders", 0).unwrap();
    let drop = cluster.add_fault(on_p0(FaultAction::DropResponse).broker(old));
    bursts(&producer, &mut ledger, "orders", 0, 1, 5).await;
    run_for(Duration::from_millis(50)).await;
    assert!(cluster.fault_fired(drop), "the append's answer was dropped");
    let new = (old + 1) % 3;
    cluster.move_leader("orders", 0, new).unwrap();
    bursts(&producer, &mut ledger, "orders", 0, 3, 5).await;
    let outcomes = settle(&cluster, &mut ledger).await;
    assert_eq!(
        outcomes.ok(),
        30,
        "seed {SEED:#x}: {:?}",
        outcomes.errors().first()
    );
    assert_eq!(cluster.counters().duplicate_batches, 1, "seed {SEED:#x}");
    assert_eq!(producer.metrics().epoch_bumps, 0);
}

// ---- S7 -------------------------------------------------------------------

/// S7: 45 on the next expected batch is a real gap: the idempotent producer
/// bumps its epoch and the partition restarts at sequence 0, nothing lost.
/// (The transactional variant, an abortable error, is covered by the state
/// machine's table tests: the producer has no transactional API yet.)
#[tokio::test(start_paused = true)]
async fn s07_out_of_order_on_next_expected_bumps_epoch() {
    let cluster = cluster();
    cluster.add_fault(on_p0(error(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)).nth(2));
    let producer = producer(&cluster, |b| b);
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, "orders", 0, 6, 3).await;
    let outcomes = settle(&cluster, &mut ledger).await;
    assert_eq!(
        outcomes.ok(),
        18,
        "seed {SEED:#x}: {:?}",
        outcomes.errors().first()
    );
    assert_eq!(producer.metrics().epoch_bumps, 1);
    let log = cluster.partition("orders", 0).unwrap();
    let epochs: Vec<i16> = log.sequences().iter().map(|s| s.1).collect();
    assert!(
        epochs.contains(&1),
        "seed {SEED:#x}: batches after the bump carry epoch 1: {epochs:?}"
    );
}

// ---- S8 -------------------------------------------------------------------

/// S8: the head batch fails with a retriable code (19, not appended); the
/// batches behind it get 45 as collateral damage and are retried without a
/// bump.
#[tokio::test(start_paused = true)]
async fn s08_out_of_order_behind_failed_batch_retried_without_bump() {
    let cluster = cluster_with(Duration::from_millis(10), |b| b);
    cluster.add_fault(on_p0(error(ErrorCode::NOT_ENOUGH_REPLICAS)).nth(3));
    let producer = producer(&cluster, |b| b);
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, "orders", 0, 12, 5).await;
    let outcomes = settle(&cluster, &mut ledger).await;
    assert_eq!(
        outcomes.ok(),
        60,
        "seed {SEED:#x}: {:?}",
        outcomes.errors().first()
    );
    assert!(
        cluster
            .counters()
            .rejected_batches
            .contains_key(&ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER),
        "seed {SEED:#x}: collateral 45s happened"
    );
    assert_eq!(producer.metrics().epoch_bumps, 0);
}

/// S8, "the second response arrives first": the head request is lost on
/// the way (never handled, never answered), so the broker answers the
/// request behind it first (45: a gap). Kafka answers in order on a
/// connection, so the client treats that answer as a broken stream (as
/// Java's `NetworkClient` does): the connection is closed, both batches are
/// in doubt and retried in order, without a bump.
#[tokio::test(start_paused = true)]
async fn s08b_second_response_arrives_first() {
    let cluster = cluster();
    let producer = producer(&cluster, |b| b.request_timeout(Duration::from_secs(2)));
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, "orders", 0, 2, 5).await;
    run_for(Duration::from_millis(50)).await;
    let lost = cluster.add_fault(on_p0(FaultAction::Discard));
    bursts(&producer, &mut ledger, "orders", 0, 4, 5).await;
    let outcomes = settle(&cluster, &mut ledger).await;
    assert!(cluster.fault_fired(lost));
    assert_eq!(
        outcomes.ok(),
        30,
        "seed {SEED:#x}: {:?}",
        outcomes.errors().first()
    );
    assert!(
        cluster
            .counters()
            .rejected_batches
            .contains_key(&ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER),
        "seed {SEED:#x}: the batch behind the lost one was answered 45 first"
    );
    assert_eq!(producer.metrics().epoch_bumps, 0);
}

// ---- S9 -------------------------------------------------------------------

/// S9: a 2.0–2.4 broker dropped the producer's state with the log's head
/// (log start offset past the last acknowledged offset) and answers 59: a
/// silent epoch bump, nothing lost.
#[tokio::test(start_paused = true)]
async fn s09_unknown_producer_id_past_log_start_bumps_silently() {
    let cluster = cluster_with(Duration::ZERO, |b| b.mode(BehaviourMode::Pre2_5));
    let producer = producer(&cluster, |b| b);
    let mut first = Ledger::default();
    bursts(&producer, &mut first, "orders", 0, 3, 5).await;
    let before = settle(&cluster, &mut first).await;
    assert_eq!(before.ok(), 15);
    let end = cluster.partition("orders", 0).unwrap().high_watermark;
    cluster.advance_log_start_offset("orders", 0, end).unwrap();
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, "orders", 0, 3, 5).await;
    let outcomes = ledger.outcomes().await;
    assert_eq!(
        outcomes.ok(),
        15,
        "seed {SEED:#x}: {:?}",
        outcomes.errors().first()
    );
    assert!(
        cluster
            .counters()
            .rejected_batches
            .contains_key(&ErrorCode::UNKNOWN_PRODUCER_ID),
        "seed {SEED:#x}: the broker answered 59"
    );
    assert_eq!(producer.metrics().epoch_bumps, 1);
    common::assert_log_matches(&cluster, &outcomes).await;
    common::assert_sequences_contiguous(&cluster, "orders", 0);
}

/// S9, log start offset -1 in the answer (unknown): a plain retry.
#[tokio::test(start_paused = true)]
async fn s09b_unknown_producer_id_without_log_start_retries() {
    let cluster = cluster();
    cluster.add_fault(on_p0(error(ErrorCode::UNKNOWN_PRODUCER_ID)).nth(2));
    let producer = producer(&cluster, |b| b);
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, "orders", 0, 6, 5).await;
    let outcomes = settle(&cluster, &mut ledger).await;
    assert_eq!(
        outcomes.ok(),
        30,
        "seed {SEED:#x}: {:?}",
        outcomes.errors().first()
    );
    let m = producer.metrics();
    assert_eq!(m.epoch_bumps, 0, "{m:?}");
    assert!(m.retries >= 1, "{m:?}");
}

// ---- S10 ------------------------------------------------------------------

/// S10: 47 on produce is fatal for an idempotent producer: every outstanding
/// record and every later send fails with a typed, clear error.
#[tokio::test(start_paused = true)]
async fn s10_invalid_producer_epoch_is_fatal_and_clear() {
    let cluster = cluster();
    cluster.add_fault(on_p0(error(ErrorCode::INVALID_PRODUCER_EPOCH)));
    let producer = producer(&cluster, |b| b);
    let mut ledger = Ledger::default();
    ledger.send(&producer, &Topic::new("orders"), 0, 1).await;
    let outcomes = settle(&cluster, &mut ledger).await;
    let err = outcomes.errors()[0].clone();
    assert!(matches!(err, Error::Fatal { .. }), "{err}");
    assert!(err.to_string().contains("create a new producer"), "{err}");
    let later = producer.send(Record::new("orders", "x")).await.unwrap_err();
    assert!(matches!(later, Error::Fatal { .. }), "{later}");
}

// ---- S11 ------------------------------------------------------------------

/// S11: a batch answered 7 `REQUEST_TIMED_OUT` after the broker appended
/// it keeps getting that answer until the delivery timeout, while the batch
/// right behind it succeeded (which proves the first was written): the
/// first one's records fail (they are in the log once), and the later
/// success has already resolved its sequence: no epoch bump.
#[tokio::test(start_paused = true)]
async fn s11_delivery_timeout_in_flight_resolved_by_later_success() {
    let cluster = cluster_with(Duration::from_millis(20), |b| b);
    let producer = producer(&cluster, |b| {
        b.request_timeout(Duration::from_secs(1))
            .retry_backoff(Duration::from_secs(1))
            .delivery_timeout(Duration::from_secs(4))
    });
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, "orders", 0, 1, 5).await;
    run_for(Duration::from_millis(100)).await;
    let after_append = |rule: FaultRule| rule.api(ApiKey::Produce).partition("orders", 0);
    let timed_out = FaultAction::ErrorAfterAppend {
        code: ErrorCode::REQUEST_TIMED_OUT,
        scope: kproducer_fake_broker::ErrorScope::Partition,
    };
    cluster.add_fault(after_append(FaultRule::new(timed_out.clone())));
    // Two batches in flight: the first is appended and answered 7, the
    // second appended and answered.
    bursts(&producer, &mut ledger, "orders", 0, 2, 5).await;
    run_for(Duration::from_millis(200)).await;
    // Every retry of the first batch is answered 7 until it expires.
    let sticky = cluster.add_fault(after_append(FaultRule::new(timed_out).sticky()));
    run_for(Duration::from_secs(6)).await;
    cluster.remove_fault(sticky);
    let sent = sent_batches(&cluster, "orders", 0);
    bursts(&producer, &mut ledger, "orders", 0, 2, 5).await;
    let outcomes = settle(&cluster, &mut ledger).await;
    let errors = outcomes.errors();
    assert_eq!(
        errors.len(),
        5,
        "seed {SEED:#x}: the second batch timed out: {errors:?} {sent:?}"
    );
    assert!(
        errors
            .iter()
            .all(|e| matches!(e, Error::DeliveryTimeout { .. })),
        "{errors:?}"
    );
    assert_eq!(outcomes.ok(), 20);
    assert_eq!(
        producer.metrics().epoch_bumps,
        0,
        "seed {SEED:#x}: resolved by the later success: {sent:?}"
    );
}

/// S11: a batch that never got through (each attempt's connection closed
/// before handling) times out and nothing after it succeeds: the partition
/// goes idle with the sequence in doubt, so the epoch is bumped and later
/// batches start again at sequence 0.
#[tokio::test(start_paused = true)]
async fn s11b_delivery_timeout_nothing_got_through_bumps() {
    let cluster = cluster();
    let producer = producer(&cluster, |b| {
        b.request_timeout(Duration::from_secs(1))
            .delivery_timeout(Duration::from_secs(4))
    });
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, "orders", 0, 1, 5).await;
    run_for(Duration::from_millis(50)).await;
    let close = cluster.add_fault(on_p0(FaultAction::CloseBeforeHandling).sticky());
    bursts(&producer, &mut ledger, "orders", 0, 1, 5).await;
    run_for(Duration::from_secs(6)).await;
    cluster.remove_fault(close);
    bursts(&producer, &mut ledger, "orders", 0, 3, 5).await;
    let outcomes = settle(&cluster, &mut ledger).await;
    assert_eq!(
        outcomes.errors().len(),
        5,
        "seed {SEED:#x}: {:?}",
        outcomes.errors()
    );
    assert_eq!(outcomes.ok(), 20);
    assert_eq!(
        producer.metrics().epoch_bumps,
        1,
        "the sequence in doubt was repaired"
    );
}

/// S11: batches that expire without ever being sent (their leader is down)
/// mark nothing unresolved: no bump, and the partition's first batch later
/// still starts at sequence 0.
#[tokio::test(start_paused = true)]
async fn s11c_expiry_of_never_sent_batches_marks_nothing_unresolved() {
    let cluster = cluster();
    let producer = producer(&cluster, |b| {
        b.request_timeout(Duration::from_secs(1))
            .delivery_timeout(Duration::from_secs(4))
    });
    let leader = cluster.leader("orders", 0).unwrap();
    let other = (0..6)
        .find(|&p| cluster.leader("orders", p).unwrap() != leader)
        .unwrap();
    producer
        .send(Record::new("orders", "warm").with_partition(other))
        .await
        .unwrap()
        .await
        .unwrap();
    cluster.broker_down(leader).unwrap();
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, "orders", 0, 2, 5).await;
    run_for(Duration::from_secs(6)).await;
    cluster.broker_up(leader).unwrap();
    run_for(Duration::from_secs(1)).await;
    bursts(&producer, &mut ledger, "orders", 0, 2, 5).await;
    let outcomes = settle(&cluster, &mut ledger).await;
    let errors = outcomes.errors();
    assert_eq!(errors.len(), 10, "seed {SEED:#x}: {errors:?}");
    assert!(
        errors
            .iter()
            .all(|e| matches!(e, Error::DeliveryTimeout { .. })),
        "{errors:?}"
    );
    assert_eq!(outcomes.ok(), 10);
    assert_eq!(producer.metrics().epoch_bumps, 0);
    let first = cluster.partition("orders", 0).unwrap().sequences()[0];
    assert_eq!(
        (first.1, first.2),
        (0, 0),
        "seed {SEED:#x}: epoch 0, sequence 0"
    );
}

// ---- S12 ------------------------------------------------------------------

async fn possibly_persisted(code: ErrorCode) {
    let cluster = cluster();
    cluster.add_fault(
        on_p0(FaultAction::ErrorAfterAppend {
            code,
            scope: kproducer_fake_broker::ErrorScope::Partition,
        })
        .nth(2),
    );
    let producer = producer(&cluster, |b| b);
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, "orders", 0, 6, 5).await;
    let outcomes = settle(&cluster, &mut ledger).await;
    assert_eq!(
        outcomes.ok(),
        30,
        "seed {SEED:#x} {code}: {:?}",
        outcomes.errors().first()
    );
    assert_eq!(
        cluster.counters().duplicate_batches,
        1,
        "seed {SEED:#x} {code}"
    );
    assert_eq!(producer.metrics().epoch_bumps, 0);
}

/// S12: 7 `REQUEST_TIMED_OUT` after the broker appended: possibly persisted,
/// retried with the same sequence, settled as a duplicate.
#[tokio::test(start_paused = true)]
async fn s12_request_timed_out_possibly_persisted() {
    possibly_persisted(ErrorCode::REQUEST_TIMED_OUT).await;
}

/// S12: 20 `NOT_ENOUGH_REPLICAS_AFTER_APPEND`, the same.
#[tokio::test(start_paused = true)]
async fn s12b_not_enough_replicas_after_append_possibly_persisted() {
    possibly_persisted(ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND).await;
}
