//! Faults beyond the numbered scenarios (those are in `scenarios_a.rs` to
//! `scenarios_d.rs`, one test per scenario and variant), end to end against
//! the fake broker on paused time. Each ends with the log checks: nothing
//! lost, nothing duplicated, order kept, every future resolved.

mod common;

use std::time::Duration;

use common::{Ledger, assert_log_matches, assert_sequences_contiguous, producer};
use kproducer::Topic;
use kproducer_fake_broker::{ErrorScope, FakeCluster, FaultAction, FaultRule};
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

/// Records that waited for their topic's metadata are routed a portion per
/// pass of the core's loop (so a full buffer of them does not keep the core
/// from sending for a long time): every one of them is delivered once, in
/// send order, and so are the records sent after the metadata came. (That a
/// record sent while earlier ones still wait queues behind them is checked
/// pass by pass in the core's routing tests.)
#[tokio::test(start_paused = true)]
async fn a_buffer_of_records_parked_for_metadata_is_delivered_in_send_order() {
    let cluster = cluster();
    let hold = kproducer_fake_broker::Hold::new();
    cluster.add_fault(
        FaultRule::new(FaultAction::Hold(hold.clone()))
            .api(ApiKey::Metadata)
            .sticky(),
    );
    let producer = producer(&cluster, |b| b);
    let topic = Topic::new("orders");
    let mut ledger = Ledger::default();
    // Many passes' worth, all parked.
    ledger.send(&producer, &topic, 0, 30_000).await;
    ledger.send(&producer, &topic, 1, 3_000).await;
    hold.reached(1).await;
    hold.release();
    for _ in 0..1_000 {
        ledger.send(&producer, &topic, 0, 1).await;
        ledger.send(&producer, &topic, 1, 1).await;
        tokio::task::yield_now().await;
    }
    let outcomes = ledger.outcomes().await;
    assert_eq!(outcomes.ok(), 35_000, "{:?}", outcomes.errors().first());
    assert_log_matches(&cluster, &outcomes).await;
    assert_sequences_contiguous(&cluster, "orders", 0);
    assert_sequences_contiguous(&cluster, "orders", 1);
}
