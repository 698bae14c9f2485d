//! Fault scenarios 1–8 of `shared/design/fault-scenarios.md`, one
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
use kproducer::{Record, Topic};
use kproducer_fake_broker::{BehaviourMode, FakeCluster, FaultAction, Hold};
use kproducer_protocol::ErrorCode;

// ---- S1 -------------------------------------------------------------------

async fn response_lost_then_duplicate(cluster: FakeCluster, legacy: bool) {
    cluster.add_fault(on_p0(FaultAction::DropResponse).nth(2));
    let producer = producer(&cluster, |b| b.request_timeout(Duration::from_secs(2)));
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, "orders", 0, 6, 5).await;
    let outcomes = settle(&cluster, &mut ledger).await;
    outcomes.assert_ok_count(30);
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
    assert_eq!(producer.metrics().epoch_bumps, 0, "seed {SEED:#x}");
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
    outcomes.assert_ok_count(60);
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
    outcomes.assert_ok_count(12);
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
    outcomes.assert_ok_count(40);
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
    outcomes.assert_ok_count(30);
    assert_eq!(cluster.counters().duplicate_batches, 1, "seed {SEED:#x}");
    assert_eq!(producer.metrics().epoch_bumps, 0, "seed {SEED:#x}");
}

// ---- S7 -------------------------------------------------------------------

/// S7: 45 on the next expected batch is a real gap: the idempotent producer
/// bumps its epoch and the partition restarts at sequence 0, nothing lost.
/// (The transactional variant, an abortable error, is covered by the state
/// machine's table tests: the producer has no transactional API yet.)
#[tokio::test(start_paused = true)]
async fn s07_out_of_order_on_next_expected_bumps_epoch() {
    let cluster = cluster_with(Duration::from_millis(10), |b| b);
    cluster.add_fault(on_p0(error(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)).nth(2));
    let producer = producer(&cluster, |b| b);
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, "orders", 0, 12, 3).await;
    let outcomes = settle(&cluster, &mut ledger).await;
    outcomes.assert_ok_count(36);
    // Batches pipelined behind the refused one got 45 too (a gap): they are
    // not the next expected, so they ask for no second bump.
    let sent = sent_batches(&cluster, "orders", 0);
    let refused = sent
        .iter()
        .filter(|b| b.error == ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
        .count();
    assert!(refused >= 2, "seed {SEED:#x}: {sent:?}");
    assert_eq!(
        producer.metrics().epoch_bumps,
        1,
        "seed {SEED:#x}: {sent:?}"
    );
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
    outcomes.assert_ok_count(60);
    assert!(
        cluster
            .counters()
            .rejected_batches
            .contains_key(&ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER),
        "seed {SEED:#x}: collateral 45s happened"
    );
    assert_eq!(producer.metrics().epoch_bumps, 0, "seed {SEED:#x}");
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
    outcomes.assert_ok_count(30);
    assert!(
        cluster
            .counters()
            .rejected_batches
            .contains_key(&ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER),
        "seed {SEED:#x}: the batch behind the lost one was answered 45 first"
    );
    assert_eq!(producer.metrics().epoch_bumps, 0, "seed {SEED:#x}");
}
