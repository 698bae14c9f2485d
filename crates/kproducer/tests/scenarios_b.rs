//! Fault scenarios 9–16 of `shared/design/fault-scenarios.md`, one
//! named test per scenario and variant, end to end against the fake broker
//! on paused tokio time with a fixed seed (printed by every failing check).
//! Each ends with the log checks: nothing lost, nothing duplicated, order
//! kept per partition, sequences contiguous, every future resolved once.

mod common;

use std::time::Duration;

use common::{
    Ledger, SEED, assert_never_rebatched, bursts, cluster, cluster_with, error, on_p0, producer,
    run_for, sent_batches, settle,
};
use kproducer::{Error, Record, Topic};
use kproducer_fake_broker::{BehaviourMode, FakeCluster, FaultAction, FaultRule};
use kproducer_protocol::{ApiKey, ErrorCode};

// ---- S9 -------------------------------------------------------------------

/// S9: a 2.0–2.4 broker dropped the producer's state with the log's head
/// (log start offset past the last acknowledged offset) and answers 59: a
/// silent epoch bump, nothing lost.
#[tokio::test(start_paused = true)]
async fn s09_unknown_producer_id_past_log_start_bumps_silently() {
    let cluster = cluster_with(Duration::from_millis(10), |b| b.mode(BehaviourMode::Pre2_5));
    let producer = producer(&cluster, |b| b);
    let mut first = Ledger::default();
    bursts(&producer, &mut first, "orders", 0, 3, 5).await;
    let before = settle(&cluster, &mut first).await;
    assert_eq!(before.ok(), 15);
    let end = cluster.partition("orders", 0).unwrap().high_watermark;
    cluster.advance_log_start_offset("orders", 0, end).unwrap();
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, "orders", 0, 8, 5).await;
    let outcomes = ledger.outcomes().await;
    outcomes.assert_ok_count(40);
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
    outcomes.assert_ok_count(30);
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
    let cluster = cluster_with(Duration::from_millis(10), |b| b);
    cluster.add_fault(
        on_p0(FaultAction::ErrorAfterAppend {
            code,
            scope: kproducer_fake_broker::ErrorScope::Partition,
        })
        .nth(2),
    );
    let producer = producer(&cluster, |b| b);
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, "orders", 0, 12, 5).await;
    let outcomes = settle(&cluster, &mut ledger).await;
    assert_eq!(
        outcomes.ok(),
        60,
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
// ---- S13 ------------------------------------------------------------------

async fn permanent_error(code: ErrorCode) {
    let cluster = cluster_with(Duration::from_millis(10), |b| b);
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
    outcomes.assert_ok_count(20);
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
    outcomes.assert_ok_count(8);
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
    outcomes.assert_ok_count(20);
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
    let cluster = cluster_with(Duration::from_millis(5), |b| b);
    cluster.add_fault(on_p0(error(ErrorCode::NOT_LEADER_OR_FOLLOWER)).nth(2));
    cluster.add_fault(on_p0(FaultAction::DropResponse).nth(5));
    cluster.add_fault(on_p0(FaultAction::CloseBeforeHandling).nth(9));
    let producer = producer(&cluster, |b| b.request_timeout(Duration::from_secs(2)));
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, "orders", 0, 20, 3).await;
    let outcomes = settle(&cluster, &mut ledger).await;
    outcomes.assert_ok_count(60);
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
    outcomes.assert_ok_count(6);
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
