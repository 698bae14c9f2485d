//! A first handful of faults the core must survive, end to end against the
//! fake broker on paused time (the full list of scenarios lives in its own
//! suite). Each ends with the log checks: nothing lost, nothing duplicated,
//! order kept, every future resolved.

mod common;

use std::time::Duration;

use common::{
    Ledger, assert_log_matches, assert_never_rejected_with, assert_sequences_contiguous, producer,
};
use kproducer::Topic;
use kproducer_fake_broker::{ErrorScope, FakeCluster, FaultAction, FaultRule, ServiceTime};
use kproducer_protocol::{ApiKey, ErrorCode};

fn cluster() -> FakeCluster {
    FakeCluster::builder()
        .brokers(3)
        .topic("orders", 6)
        .build()
        .expect("cluster")
}

fn error(code: ErrorCode) -> FaultAction {
    FaultAction::Error {
        code,
        scope: ErrorScope::Partition,
    }
}

/// Sends `rounds` bursts of `per_round` records to partition 0, with a
/// little time between bursts so several batches are in flight at once.
async fn bursts(
    producer: &kproducer::Producer,
    ledger: &mut Ledger,
    rounds: usize,
    per_round: usize,
) {
    let topic = Topic::new("orders");
    for _ in 0..rounds {
        ledger.send(producer, &topic, 0, per_round).await;
        tokio::time::sleep(Duration::from_millis(6)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn not_leader_on_the_head_batch_retries_in_order_without_a_bump() {
    let cluster = cluster();
    cluster.add_fault(
        FaultRule::new(error(ErrorCode::NOT_LEADER_OR_FOLLOWER))
            .api(ApiKey::Produce)
            .partition("orders", 0)
            .nth(3),
    );
    let producer = producer(&cluster, |b| b);
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, 10, 5).await;
    let outcomes = ledger.outcomes().await;
    assert_eq!(outcomes.ok(), 50, "{:?}", outcomes.errors().first());
    assert_log_matches(&cluster, &outcomes).await;
    assert_eq!(producer.metrics().epoch_bumps, 0);
    assert!(producer.metrics().retries >= 1);
}

#[tokio::test(start_paused = true)]
async fn connection_closed_after_appending_is_answered_by_duplicates() {
    let cluster = cluster();
    cluster.add_fault(
        FaultRule::new(FaultAction::CloseAfterHandling)
            .api(ApiKey::Produce)
            .partition("orders", 0)
            .nth(4),
    );
    let producer = producer(&cluster, |b| b);
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, 10, 5).await;
    let outcomes = ledger.outcomes().await;
    assert_eq!(outcomes.ok(), 50, "{:?}", outcomes.errors().first());
    assert_log_matches(&cluster, &outcomes).await;
    assert!(
        cluster.counters().duplicate_batches >= 1,
        "the appended batch came back as a duplicate"
    );
}

#[tokio::test(start_paused = true)]
async fn leader_move_with_batches_in_flight() {
    let cluster = cluster();
    let producer = producer(&cluster, |b| b);
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, 5, 5).await;
    let old = cluster.leader("orders", 0).unwrap();
    cluster.move_leader("orders", 0, (old + 1) % 3).unwrap();
    bursts(&producer, &mut ledger, 5, 5).await;
    let outcomes = ledger.outcomes().await;
    assert_eq!(outcomes.ok(), 50, "{:?}", outcomes.errors().first());
    assert_log_matches(&cluster, &outcomes).await;
}

#[tokio::test(start_paused = true)]
async fn out_of_order_on_the_next_expected_batch_bumps_the_epoch() {
    let cluster = cluster();
    cluster.add_fault(
        FaultRule::new(error(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER))
            .api(ApiKey::Produce)
            .partition("orders", 0)
            .nth(2),
    );
    let producer = producer(&cluster, |b| b);
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, 6, 3).await;
    let outcomes = ledger.outcomes().await;
    assert_eq!(outcomes.ok(), 18, "{:?}", outcomes.errors().first());
    assert_log_matches(&cluster, &outcomes).await;
    assert_eq!(producer.metrics().epoch_bumps, 1);
    assert_sequences_contiguous(&cluster, "orders", 0);
    let log = cluster.partition("orders", 0).unwrap();
    let epochs: Vec<i16> = log.sequences().iter().map(|s| s.1).collect();
    assert!(
        epochs.contains(&1),
        "batches after the bump carry epoch 1: {epochs:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn invalid_producer_epoch_is_fatal_and_clear() {
    let cluster = cluster();
    cluster.add_fault(
        FaultRule::new(error(ErrorCode::INVALID_PRODUCER_EPOCH))
            .api(ApiKey::Produce)
            .partition("orders", 0),
    );
    let producer = producer(&cluster, |b| b);
    let mut ledger = Ledger::default();
    ledger.send(&producer, &Topic::new("orders"), 0, 1).await;
    let outcomes = ledger.outcomes().await;
    let err = outcomes.errors()[0].clone();
    assert!(matches!(err, kproducer::Error::Fatal { .. }), "{err}");
    let later = producer
        .send(kproducer::Record::new("orders", "x"))
        .await
        .unwrap_err();
    assert!(matches!(later, kproducer::Error::Fatal { .. }));
}

#[tokio::test(start_paused = true)]
async fn adaptive_connections_scale_up_under_load_without_reordering() {
    let cluster = FakeCluster::builder()
        .brokers(1)
        .topic("orders", 6)
        .service_time(ServiceTime::new(Duration::from_millis(10), Duration::ZERO))
        .build()
        .unwrap();
    let producer = producer(&cluster, |b| b.batch_size(1_000));
    let topic = Topic::new("orders");
    let mut ledger = Ledger::default();
    for _ in 0..200 {
        for p in 0..6 {
            ledger.send(&producer, &topic, p, 10).await;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let outcomes = ledger.outcomes().await;
    assert_eq!(outcomes.ok(), 12_000, "{:?}", outcomes.errors().first());
    assert_log_matches(&cluster, &outcomes).await;
    let m = producer.metrics();
    assert!(
        m.scale_events >= 1,
        "the saturated connection was widened: {m:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn non_idempotent_with_one_in_flight_keeps_order_across_retries() {
    let cluster = cluster();
    cluster.add_fault(
        FaultRule::new(error(ErrorCode::NOT_LEADER_OR_FOLLOWER))
            .api(ApiKey::Produce)
            .partition("orders", 0)
            .nth(2),
    );
    let producer = producer(&cluster, |b| {
        b.acks(kproducer::Acks::Leader).max_in_flight(1)
    });
    assert!(
        !producer.is_idempotent(),
        "KIP-679: acks=1 turns implicit idempotence off"
    );
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, 6, 4).await;
    let outcomes = ledger.outcomes().await;
    assert_eq!(outcomes.ok(), 24, "{:?}", outcomes.errors().first());
    assert_log_matches(&cluster, &outcomes).await;
    let log = cluster.partition("orders", 0).unwrap();
    assert!(
        log.sequences().iter().all(|s| s.0 == -1),
        "no producer id without idempotence"
    );
}

#[tokio::test(start_paused = true)]
async fn acks_zero_resolves_without_offsets() {
    let cluster = cluster();
    let producer = producer(&cluster, |b| b.acks(kproducer::Acks::None));
    let m = producer
        .send(kproducer::Record::new("orders", "fire and forget").with_partition(1))
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(m.offset, -1);
    assert_eq!(m.partition, 1);
}

#[tokio::test(start_paused = true)]
async fn a_permanent_error_fails_one_batch_and_the_rest_recover() {
    let cluster = cluster();
    cluster.add_fault(
        FaultRule::new(error(ErrorCode::INVALID_RECORD))
            .api(ApiKey::Produce)
            .partition("orders", 0)
            .nth(3),
    );
    let producer = producer(&cluster, |b| b);
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, 10, 5).await;
    ledger.send(&producer, &Topic::new("orders"), 1, 5).await;
    let outcomes = ledger.outcomes().await;
    let errors = outcomes.errors();
    assert!(
        !errors.is_empty() && errors.len() <= 5,
        "one batch fails: {} errors",
        errors.len()
    );
    assert!(
        errors
            .iter()
            .all(|e| e.code() == Some(ErrorCode::INVALID_RECORD)),
        "{:?}",
        errors.first()
    );
    assert_eq!(outcomes.ok(), 55 - errors.len());
    assert_log_matches(&cluster, &outcomes).await;
}

#[tokio::test(start_paused = true)]
async fn message_too_large_splits_a_batch_and_fails_only_the_record_too_large() {
    // The broker takes batches up to 400 bytes; the producer builds 16 KiB.
    let cluster = FakeCluster::builder()
        .brokers(1)
        .topic("orders", 1)
        .max_message_bytes(400)
        .build()
        .unwrap();
    let producer = producer(&cluster, |b| b.linger(Duration::from_millis(20)));
    let topic = Topic::new("orders");
    let mut ledger = Ledger::default();
    ledger.send(&producer, &topic, 0, 8).await;
    let big = producer
        .send(kproducer::Record::new(topic.clone(), vec![b'x'; 1_000]).with_partition(0))
        .await
        .unwrap();
    let outcomes = ledger.outcomes().await;
    assert_eq!(outcomes.ok(), 8, "{:?}", outcomes.errors().first());
    assert_log_matches(&cluster, &outcomes).await;
    let err = big.await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::MESSAGE_TOO_LARGE), "{err}");
}

#[tokio::test(start_paused = true)]
async fn request_timed_out_is_possibly_persisted_and_resolved_by_the_retry() {
    let cluster = cluster();
    cluster.add_fault(
        FaultRule::new(error(ErrorCode::REQUEST_TIMED_OUT))
            .api(ApiKey::Produce)
            .partition("orders", 0)
            .nth(2),
    );
    let producer = producer(&cluster, |b| b);
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, 6, 5).await;
    let outcomes = ledger.outcomes().await;
    assert_eq!(outcomes.ok(), 30, "{:?}", outcomes.errors().first());
    assert_log_matches(&cluster, &outcomes).await;
}

#[tokio::test(start_paused = true)]
async fn records_for_a_topic_created_later_wait_then_deliver() {
    let cluster = cluster();
    let producer = producer(&cluster, |b| b.allow_auto_create_topics(false));
    let topic = Topic::new("late");
    let f = producer
        .send(kproducer::Record::new(topic.clone(), "early"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    cluster.create_topic("late", 2).unwrap();
    let m = f.await.expect("delivered once the topic exists");
    assert_eq!(m.offset, 0);
}

#[tokio::test(start_paused = true)]
async fn close_fails_what_is_still_in_flight_at_its_deadline() {
    let cluster = cluster();
    let hold = kproducer_fake_broker::Hold::new();
    cluster.add_fault(
        FaultRule::new(FaultAction::Hold(hold.clone()))
            .api(ApiKey::Produce)
            .partition("orders", 2),
    );
    let producer = producer(&cluster, |b| b);
    let stuck = producer
        .send(kproducer::Record::new("orders", "held").with_partition(2))
        .await
        .unwrap();
    let fine = producer
        .send(kproducer::Record::new("orders", "free").with_partition(3))
        .await
        .unwrap();
    hold.reached(1).await;
    producer.close(Duration::from_secs(2)).await;
    assert!(fine.await.is_ok());
    let err = stuck.await.unwrap_err();
    assert!(matches!(err, kproducer::Error::Closed), "{err}");
    hold.release();
}

#[tokio::test(start_paused = true)]
async fn connections_scale_down_again_when_load_falls_without_out_of_order() {
    let cluster = FakeCluster::builder()
        .brokers(1)
        .topic("orders", 6)
        .topic("calm", 6)
        .service_time(ServiceTime::new(Duration::from_millis(10), Duration::ZERO))
        .build()
        .unwrap();
    let producer = producer(&cluster, |b| b.batch_size(1_000));
    let topic = Topic::new("orders");
    let mut ledger = Ledger::default();
    for _ in 0..200 {
        for p in 0..6 {
            ledger.send(&producer, &topic, p, 10).await;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let busy = ledger.outcomes().await;
    assert_eq!(busy.ok(), 12_000);
    let widened = producer.metrics();
    assert!(widened.connections_per_broker[&0] > 1, "{widened:?}");
    // A trickle for a while: the scaler narrows the group; partitions move
    // back with batches possibly in flight.
    let calm_topic = Topic::new("calm");
    let mut trickle = Ledger::default();
    for _ in 0..120 {
        for p in 0..6 {
            trickle.send(&producer, &calm_topic, p, 1).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let calm = trickle.outcomes().await;
    assert_eq!(calm.ok(), 720, "{:?}", calm.errors().first());
    let m = producer.metrics();
    assert_eq!(m.connections_per_broker[&0], 1, "{m:?}");
    assert!(m.scale_events >= 2);
    assert!(
        !m.errors_by_code
            .contains_key(&ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER),
        "{m:?}"
    );
    assert_log_matches(&cluster, &busy).await;
    assert_log_matches(&cluster, &calm).await;
    assert_never_rejected_with(&cluster, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
    for p in 0..6 {
        assert_sequences_contiguous(&cluster, "orders", p);
        assert_sequences_contiguous(&cluster, "calm", p);
    }
}

#[tokio::test(start_paused = true)]
async fn a_broker_down_for_a_while_delays_but_loses_nothing() {
    let cluster = cluster();
    let producer = producer(&cluster, |b| b);
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, 3, 5).await;
    let leader = cluster.leader("orders", 0).unwrap();
    cluster.broker_down(leader).unwrap();
    bursts(&producer, &mut ledger, 3, 5).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    cluster.broker_up(leader).unwrap();
    bursts(&producer, &mut ledger, 3, 5).await;
    let outcomes = ledger.outcomes().await;
    assert_eq!(outcomes.ok(), 45, "{:?}", outcomes.errors().first());
    assert_log_matches(&cluster, &outcomes).await;
    assert_sequences_contiguous(&cluster, "orders", 0);
}

#[tokio::test(start_paused = true)]
async fn produce_leader_hints_reroute_without_waiting_for_metadata() {
    let cluster = cluster();
    let producer = producer(&cluster, |b| b);
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, 2, 5).await;
    // From now on Metadata answers take a minute: only KIP-951's leader hint
    // in the NOT_LEADER_OR_FOLLOWER answer can re-route quickly.
    cluster.add_fault(
        FaultRule::new(FaultAction::Delay(Duration::from_secs(60)))
            .api(ApiKey::Metadata)
            .sticky(),
    );
    let old = cluster.leader("orders", 0).unwrap();
    cluster.move_leader("orders", 0, (old + 1) % 3).unwrap();
    let start = tokio::time::Instant::now();
    bursts(&producer, &mut ledger, 2, 5).await;
    let outcomes = ledger.outcomes().await;
    assert_eq!(outcomes.ok(), 20, "{:?}", outcomes.errors().first());
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
    assert_log_matches(&cluster, &outcomes).await;
}

/// Scenario 2's shape: five batches of one partition in flight, the first
/// k appended with their answers lost, then the connection resets (k = 5:
/// the request timeout closes it).
#[tokio::test(start_paused = true)]
async fn a_reset_with_five_in_flight_after_k_appended() {
    for k in 0..=5u32 {
        let cluster = cluster();
        let producer = producer(&cluster, |b| b.request_timeout(Duration::from_secs(2)));
        let topic = Topic::new("orders");
        let mut ledger = Ledger::default();
        ledger.send(&producer, &topic, 0, 1).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let drop = cluster.add_fault(
            FaultRule::new(FaultAction::DropResponse)
                .api(ApiKey::Produce)
                .partition("orders", 0)
                .sticky(),
        );
        let close = cluster.add_fault(
            FaultRule::new(FaultAction::CloseBeforeHandling)
                .api(ApiKey::Produce)
                .partition("orders", 0)
                .nth(k + 1),
        );
        for _ in 0..5 {
            ledger.send(&producer, &topic, 0, 1).await;
            tokio::time::sleep(Duration::from_millis(6)).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        let fired = cluster.fault_fired(close);
        cluster.remove_fault(drop);
        cluster.remove_fault(close);
        let outcomes = ledger.outcomes().await;
        assert_eq!(outcomes.ok(), 6, "k={k}: {:?}", outcomes.errors().first());
        assert_log_matches(&cluster, &outcomes).await;
        assert_sequences_contiguous(&cluster, "orders", 0);
        assert_eq!(fired, k < 5, "k={k}");
        assert_eq!(
            cluster.counters().duplicate_batches,
            u64::from(k),
            "k={k}: each appended batch's retry is answered as a duplicate"
        );
    }
}

/// Scenario 4's shape: a new partition's first batch is refused with
/// NOT_LEADER_OR_FOLLOWER; nothing after it may go until it is
/// acknowledged (the broker has no state yet and would accept a later
/// sequence).
#[tokio::test(start_paused = true)]
async fn a_new_partition_sends_one_batch_until_its_first_acknowledgement() {
    // 20 ms per request: the first batch is still in flight when the
    // second is sealed.
    let cluster = FakeCluster::builder()
        .brokers(3)
        .topic("orders", 6)
        .service_time(ServiceTime::new(Duration::from_millis(20), Duration::ZERO))
        .build()
        .unwrap();
    cluster.add_fault(
        FaultRule::new(error(ErrorCode::NOT_LEADER_OR_FOLLOWER))
            .api(ApiKey::Produce)
            .partition("orders", 0),
    );
    let producer = producer(&cluster, |b| b);
    // Warm up on another partition: metadata and producer id are known.
    producer
        .send(kproducer::Record::new("orders", "warm").with_partition(1))
        .await
        .unwrap()
        .await
        .unwrap();
    let mut ledger = Ledger::default();
    bursts(&producer, &mut ledger, 4, 3).await;
    let outcomes = ledger.outcomes().await;
    assert_eq!(outcomes.ok(), 12, "{:?}", outcomes.errors().first());
    assert_log_matches(&cluster, &outcomes).await;
    // In the broker's request log, no batch with a later sequence reached
    // the partition before sequence 0 was appended.
    let mut first_ok = None;
    for r in cluster.requests() {
        for b in r
            .batches
            .iter()
            .filter(|b| b.topic_partition.partition == 0)
        {
            if b.meta.base_sequence == 0 && b.error_code == ErrorCode::NONE {
                first_ok.get_or_insert(r.seq);
            }
            if b.meta.base_sequence > 0 {
                assert!(
                    first_ok.is_some_and(|s| s < r.seq),
                    "sequence {} sent before the first ack",
                    b.meta.base_sequence
                );
            }
        }
    }
}
