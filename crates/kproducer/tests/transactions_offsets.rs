//! `send_offsets_to_transaction` end to end against the fake broker's
//! transaction and group coordinators, on paused tokio time: a commit makes
//! the records and the consumer group's offsets visible together, an abort
//! neither; offsets outside a transaction are a typed error; coordinator
//! trouble is retried; a rebalanced group makes the transaction abortable
//! and the next one commits; a fenced producer's offsets never become the
//! group's.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{SEED, assert_every_partition_added, transactional_producer, value, visible};
use kproducer::protocol::{ApiKey, ErrorCode};
use kproducer::{
    ConsumerGroupMetadata, Error, OffsetAndMetadata, Producer, Record, TopicPartition,
    TransactionError,
};
use kproducer_fake_broker::{ErrorScope, FakeCluster, FaultAction, FaultRule};

const T: Duration = Duration::from_secs(30);
const GROUP: &str = "enrichers";

/// Three brokers, `orders` (6 partitions, the output) and `in` (3
/// partitions, the consumed input).
fn cluster() -> FakeCluster {
    common::cluster_with(Duration::ZERO, |b| b.topic("in", 3))
}

fn input(partition: i32) -> TopicPartition {
    TopicPartition::new("in", partition)
}

/// Offsets for `in` partitions: `(partition, next offset)`.
fn offsets(parts: &[(i32, i64)]) -> Vec<(TopicPartition, OffsetAndMetadata)> {
    parts
        .iter()
        .map(|&(p, o)| (input(p), OffsetAndMetadata::new(o)))
        .collect()
}

/// The group's committed offsets as `(partition, offset)`.
fn committed(cluster: &FakeCluster) -> Vec<(i32, i64)> {
    cluster
        .committed_offsets(GROUP)
        .into_iter()
        .map(|(tp, o)| (tp.partition, o.offset))
        .collect()
}

/// Sends `count` records to `orders`-`partition` (from `first`) and waits
/// until they are written (not committed).
async fn write(producer: &Producer, partition: i32, first: usize, count: usize) -> Vec<Bytes> {
    let mut values = Vec::new();
    for n in first..first + count {
        let v = value("orders", partition, n);
        values.push(v.clone());
        let record = Record::new("orders", v).with_partition(partition);
        let _delivery = producer.send(record).await.expect("send in a transaction");
    }
    producer.flush().await.expect("flush");
    values
}

fn is_abortable<T: std::fmt::Debug>(r: &Result<T, Error>) -> bool {
    matches!(
        r,
        Err(Error::Transaction(TransactionError::Abortable { .. }))
    )
}

fn is_invalid_state<T: std::fmt::Debug>(r: &Result<T, Error>) -> bool {
    matches!(
        r,
        Err(Error::Transaction(TransactionError::InvalidState { .. }))
    )
}

fn is_fatal<T: std::fmt::Debug>(r: &Result<T, Error>) -> bool {
    matches!(r, Err(Error::Fatal { .. }))
}

/// API keys of the requests the cluster served, in order.
fn api_keys(cluster: &FakeCluster) -> Vec<i16> {
    cluster.requests().iter().map(|r| r.api_key).collect()
}

#[tokio::test(start_paused = true)]
async fn a_commit_makes_the_records_and_the_offsets_visible_together() {
    let cluster = cluster();
    let producer = transactional_producer(&cluster, "enricher");
    producer.init_transactions(T).await.expect("init");
    producer.begin_transaction().await.expect("begin");
    let values = write(&producer, 0, 0, 10).await;
    let mut with_metadata = offsets(&[(0, 10), (1, 20)]);
    with_metadata[1].1 = OffsetAndMetadata::new(20).with_metadata("host-3");
    producer
        .send_offsets_to_transaction(with_metadata, ConsumerGroupMetadata::new(GROUP))
        .await
        .expect("offsets accepted");

    // Before the commit: records written but invisible, offsets pending.
    assert!(visible(&cluster, 0).is_empty());
    assert!(
        committed(&cluster).is_empty(),
        "offsets wait for the commit"
    );
    assert_eq!(cluster.pending_offsets(GROUP).len(), 2);

    producer.commit_transaction(T).await.expect("commit");
    assert_eq!(visible(&cluster, 0), values, "seed {SEED:#x}");
    assert_eq!(committed(&cluster), vec![(0, 10), (1, 20)]);
    let kept = cluster.committed_offsets(GROUP);
    assert_eq!(kept[&input(1)].metadata.as_deref(), Some("host-3"));
    assert_eq!(kept[&input(0)].metadata, None);
    assert!(cluster.pending_offsets(GROUP).is_empty());
    assert_eq!(
        cluster.counters().unadded_offset_commits,
        0,
        "the group was added to the transaction before its offsets were sent"
    );
    assert_every_partition_added(&cluster);

    // AddOffsetsToTxn, then the group's coordinator, then TxnOffsetCommit,
    // then EndTxn.
    let keys = api_keys(&cluster);
    let at = |key: ApiKey| {
        keys.iter()
            .position(|&k| k == key as i16)
            .unwrap_or_else(|| panic!("{key} was sent"))
    };
    assert!(at(ApiKey::AddOffsetsToTxn) < at(ApiKey::TxnOffsetCommit));
    assert!(at(ApiKey::TxnOffsetCommit) < at(ApiKey::EndTxn));

    // A transaction with offsets only (nothing produced) commits them too.
    producer.begin_transaction().await.expect("begin");
    producer
        .send_offsets_to_transaction(offsets(&[(0, 15)]), ConsumerGroupMetadata::new(GROUP))
        .await
        .expect("offsets accepted");
    producer.commit_transaction(T).await.expect("commit");
    assert_eq!(committed(&cluster), vec![(0, 15), (1, 20)]);
}

#[tokio::test(start_paused = true)]
async fn an_abort_makes_neither_visible_and_the_next_transaction_commits() {
    let cluster = cluster();
    let producer = transactional_producer(&cluster, "enricher");
    producer.init_transactions(T).await.expect("init");
    producer.begin_transaction().await.expect("begin");
    write(&producer, 1, 0, 10).await;
    producer
        .send_offsets_to_transaction(offsets(&[(2, 99)]), ConsumerGroupMetadata::new(GROUP))
        .await
        .expect("offsets accepted");
    producer.abort_transaction(T).await.expect("abort");
    assert!(visible(&cluster, 1).is_empty());
    assert!(
        committed(&cluster).is_empty(),
        "the abort discards the offsets"
    );
    assert!(cluster.pending_offsets(GROUP).is_empty());

    producer.begin_transaction().await.expect("begin");
    let values = write(&producer, 1, 10, 5).await;
    producer
        .send_offsets_to_transaction(offsets(&[(2, 40)]), ConsumerGroupMetadata::new(GROUP))
        .await
        .expect("offsets accepted");
    producer.commit_transaction(T).await.expect("commit");
    assert_eq!(visible(&cluster, 1), values);
    assert_eq!(committed(&cluster), vec![(2, 40)]);
}

#[tokio::test(start_paused = true)]
async fn offsets_outside_an_open_transaction_are_a_typed_error() {
    let cluster = cluster();
    let group = || ConsumerGroupMetadata::new(GROUP);
    let plain = common::producer(&cluster, |b| b);
    let r = plain
        .send_offsets_to_transaction(offsets(&[(0, 1)]), group())
        .await;
    assert!(
        matches!(
            r,
            Err(Error::Transaction(TransactionError::NotTransactional {
                operation: "send_offsets_to_transaction"
            }))
        ),
        "{r:?}"
    );

    let producer = transactional_producer(&cluster, "enricher");
    let r = producer
        .send_offsets_to_transaction(offsets(&[(0, 1)]), group())
        .await;
    assert!(is_invalid_state(&r), "before init: {r:?}");
    producer.init_transactions(T).await.expect("init");
    let r = producer
        .send_offsets_to_transaction(offsets(&[(0, 1)]), group())
        .await;
    assert!(is_invalid_state(&r), "before begin: {r:?}");
    assert!(r.unwrap_err().to_string().contains("begin_transaction"));
    producer.begin_transaction().await.expect("begin");
    producer.commit_transaction(T).await.expect("commit");
    let r = producer
        .send_offsets_to_transaction(offsets(&[(0, 1)]), group())
        .await;
    assert!(is_invalid_state(&r), "after commit: {r:?}");
    assert!(
        !api_keys(&cluster).contains(&(ApiKey::AddOffsetsToTxn as i16)),
        "nothing was sent for refused calls"
    );
    assert!(committed(&cluster).is_empty());
}

fn request_error(code: ErrorCode) -> FaultAction {
    FaultAction::Error {
        code,
        scope: ErrorScope::Request,
    }
}

#[tokio::test(start_paused = true)]
async fn coordinator_errors_are_retried() {
    let cluster = cluster();
    let producer = transactional_producer(&cluster, "enricher");
    producer.init_transactions(T).await.expect("init");
    let rules = [
        FaultRule::new(request_error(ErrorCode::NOT_COORDINATOR)).api(ApiKey::AddOffsetsToTxn),
        FaultRule::new(request_error(ErrorCode::CONCURRENT_TRANSACTIONS))
            .api(ApiKey::AddOffsetsToTxn)
            .nth(2),
        FaultRule::new(request_error(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS))
            .api(ApiKey::AddOffsetsToTxn)
            .nth(3),
        FaultRule::new(request_error(ErrorCode::COORDINATOR_NOT_AVAILABLE))
            .api(ApiKey::TxnOffsetCommit),
        FaultRule::new(request_error(ErrorCode::NOT_COORDINATOR))
            .api(ApiKey::TxnOffsetCommit)
            .nth(2),
        // Only in-1 is refused the third time: in-0 is not sent again.
        FaultRule::new(FaultAction::Error {
            code: ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
            scope: ErrorScope::Partition,
        })
        .api(ApiKey::TxnOffsetCommit)
        .partition("in", 1)
        .nth(3),
        FaultRule::new(FaultAction::CloseBeforeHandling)
            .api(ApiKey::TxnOffsetCommit)
            .nth(4),
    ];
    let ids: Vec<_> = rules.into_iter().map(|r| cluster.add_fault(r)).collect();
    producer.begin_transaction().await.expect("begin");
    let values = write(&producer, 0, 0, 5).await;
    producer
        .send_offsets_to_transaction(
            offsets(&[(0, 7), (1, 8)]),
            ConsumerGroupMetadata::new(GROUP),
        )
        .await
        .expect("offsets accepted despite coordinator errors");
    producer.commit_transaction(T).await.expect("commit");
    for id in ids {
        assert!(cluster.fault_fired(id), "every fault was met");
    }
    assert_eq!(visible(&cluster, 0), values);
    assert_eq!(committed(&cluster), vec![(0, 7), (1, 8)]);
    let group_lookups = api_keys(&cluster)
        .iter()
        .filter(|&&k| k == ApiKey::FindCoordinator as i16)
        .count();
    assert!(
        group_lookups >= 4,
        "the coordinators were looked up again ({group_lookups} lookups)"
    );
}

#[tokio::test(start_paused = true)]
async fn the_coordinator_moves_mid_transaction() {
    let cluster = cluster();
    assert_eq!(cluster.coordinator(), 0);
    let producer = transactional_producer(&cluster, "enricher");
    producer.init_transactions(T).await.expect("init");
    producer.begin_transaction().await.expect("begin");
    let values = write(&producer, 2, 0, 5).await;
    cluster.set_coordinator(1).expect("broker 1");
    producer
        .send_offsets_to_transaction(offsets(&[(0, 3)]), ConsumerGroupMetadata::new(GROUP))
        .await
        .expect("offsets accepted by the new coordinator");
    producer.commit_transaction(T).await.expect("commit");
    assert_eq!(visible(&cluster, 2), values);
    assert_eq!(committed(&cluster), vec![(0, 3)]);
}

/// The group rebalanced: the coordinator refuses the offsets; the call
/// fails with an abortable error saying so; the abort discards everything;
/// the next transaction (with the consumer's new generation) commits.
async fn rebalanced_then_recovers(cluster: FakeCluster, stale: ConsumerGroupMetadata) {
    let producer = transactional_producer(&cluster, "enricher");
    producer.init_transactions(T).await.expect("init");
    producer.begin_transaction().await.expect("begin");
    write(&producer, 3, 0, 5).await;
    let r = producer
        .send_offsets_to_transaction(offsets(&[(0, 10)]), stale)
        .await;
    let Err(Error::Transaction(e)) = &r else {
        panic!("the offsets are refused: {r:?}");
    };
    assert!(e.is_group_rebalance(), "{e}");
    assert!(e.to_string().contains("rebalanced"), "{e}");
    assert!(is_abortable(&r));
    let commit = producer.commit_transaction(T).await;
    assert!(is_abortable(&commit), "{commit:?}");
    // Taken by the handle, refused by the producer: the delivery fails.
    let late = match producer
        .send(Record::new("orders", "late").with_partition(3))
        .await
    {
        Ok(delivery) => delivery.await.map(|_| ()),
        Err(e) => Err(e),
    };
    assert!(is_abortable(&late), "new records are refused: {late:?}");
    producer.abort_transaction(T).await.expect("abort");
    assert!(visible(&cluster, 3).is_empty());
    assert!(committed(&cluster).is_empty());

    producer.begin_transaction().await.expect("begin");
    let values = write(&producer, 3, 5, 5).await;
    let current = ConsumerGroupMetadata {
        generation_id: 5,
        member_id: "member-1".into(),
        ..ConsumerGroupMetadata::new(GROUP)
    };
    producer
        .send_offsets_to_transaction(offsets(&[(0, 10)]), current)
        .await
        .expect("the rejoined consumer's offsets");
    producer.commit_transaction(T).await.expect("commit");
    assert_eq!(visible(&cluster, 3), values);
    assert_eq!(committed(&cluster), vec![(0, 10)]);
}

#[tokio::test(start_paused = true)]
async fn an_old_generation_is_abortable() {
    let cluster = cluster();
    cluster.set_group_members(GROUP, 5, &[("member-1", None)]);
    let stale = ConsumerGroupMetadata {
        generation_id: 4,
        member_id: "member-1".into(),
        ..ConsumerGroupMetadata::new(GROUP)
    };
    rebalanced_then_recovers(cluster, stale).await;
}

#[tokio::test(start_paused = true)]
async fn an_unknown_member_is_abortable() {
    let cluster = cluster();
    cluster.set_group_members(GROUP, 5, &[("member-1", None)]);
    let gone = ConsumerGroupMetadata {
        generation_id: 4,
        member_id: "member-0".into(),
        ..ConsumerGroupMetadata::new(GROUP)
    };
    rebalanced_then_recovers(cluster, gone).await;
}

#[tokio::test(start_paused = true)]
async fn a_fenced_static_member_is_abortable() {
    let cluster = cluster();
    cluster.set_group_members(
        GROUP,
        5,
        &[("member-1", None), ("member-2", Some("host-2"))],
    );
    let zombie = ConsumerGroupMetadata {
        generation_id: 5,
        member_id: "member-1".into(),
        group_instance_id: Some("host-2".into()),
        ..ConsumerGroupMetadata::new(GROUP)
    };
    rebalanced_then_recovers(cluster, zombie).await;
}

#[tokio::test(start_paused = true)]
async fn an_injected_rebalance_error_is_abortable() {
    let cluster = cluster();
    cluster.set_group_members(GROUP, 5, &[("member-1", None)]);
    cluster.add_fault(
        FaultRule::new(request_error(ErrorCode::UNKNOWN_MEMBER_ID)).api(ApiKey::TxnOffsetCommit),
    );
    let current = ConsumerGroupMetadata {
        generation_id: 5,
        member_id: "member-1".into(),
        ..ConsumerGroupMetadata::new(GROUP)
    };
    rebalanced_then_recovers(cluster, current).await;
}

#[tokio::test(start_paused = true)]
async fn a_fenced_producers_offsets_never_become_visible() {
    let cluster = cluster();
    let old = transactional_producer(&cluster, "enricher");
    old.init_transactions(T).await.expect("init");
    old.begin_transaction().await.expect("begin");
    write(&old, 4, 0, 5).await;
    old.send_offsets_to_transaction(offsets(&[(0, 100)]), ConsumerGroupMetadata::new(GROUP))
        .await
        .expect("offsets pending");

    // A new instance fences the old one and aborts its transaction.
    let new = transactional_producer(&cluster, "enricher");
    new.init_transactions(T).await.expect("init");
    assert!(cluster.pending_offsets(GROUP).is_empty(), "aborted");

    // The old instance's later offsets and commit are refused.
    let again = old
        .send_offsets_to_transaction(offsets(&[(1, 200)]), ConsumerGroupMetadata::new(GROUP))
        .await;
    assert!(is_fatal(&again), "{again:?}");
    let commit = old.commit_transaction(T).await;
    assert!(is_fatal(&commit), "{commit:?}");
    assert!(committed(&cluster).is_empty());
    assert!(visible(&cluster, 4).is_empty());

    new.begin_transaction().await.expect("begin");
    let values = write(&new, 4, 5, 3).await;
    new.send_offsets_to_transaction(offsets(&[(0, 50)]), ConsumerGroupMetadata::new(GROUP))
        .await
        .expect("offsets");
    new.commit_transaction(T).await.expect("commit");
    assert_eq!(
        committed(&cluster),
        vec![(0, 50)],
        "only the new instance's"
    );
    assert_eq!(visible(&cluster, 4), values);
}

#[tokio::test(start_paused = true)]
async fn a_fenced_producers_offset_commit_is_refused_by_the_group_coordinator() {
    let cluster = cluster();
    let old = transactional_producer(&cluster, "enricher");
    old.init_transactions(T).await.expect("init");
    old.begin_transaction().await.expect("begin");
    // The fence lands between AddOffsetsToTxn and TxnOffsetCommit.
    let hold = kproducer_fake_broker::Hold::new();
    cluster.add_fault(FaultRule::new(FaultAction::Hold(hold.clone())).api(ApiKey::TxnOffsetCommit));
    let pending = tokio::spawn({
        let old = old.clone();
        async move {
            old.send_offsets_to_transaction(offsets(&[(0, 100)]), ConsumerGroupMetadata::new(GROUP))
                .await
        }
    });
    hold.reached(1).await;
    let new = transactional_producer(&cluster, "enricher");
    new.init_transactions(T).await.expect("init");
    hold.release();
    let r = pending.await.expect("task");
    assert!(is_fatal(&r), "{r:?}");
    assert!(committed(&cluster).is_empty());
    assert!(cluster.pending_offsets(GROUP).is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_call_goes_on_and_the_same_call_waits_for_it() {
    let cluster = cluster();
    let producer = common::producer(&cluster, |b| {
        b.transactional_id("enricher")
            .max_block(Duration::from_secs(2))
    });
    producer.init_transactions(T).await.expect("init");
    producer.begin_transaction().await.expect("begin");
    let busy = cluster.add_fault(
        FaultRule::new(request_error(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS))
            .api(ApiKey::TxnOffsetCommit)
            .sticky(),
    );
    let group = || ConsumerGroupMetadata::new(GROUP);
    let r = producer
        .send_offsets_to_transaction(offsets(&[(0, 9)]), group())
        .await;
    assert!(
        matches!(
            r,
            Err(Error::Transaction(TransactionError::Timeout {
                operation: "send_offsets_to_transaction",
                ..
            }))
        ),
        "{r:?}"
    );
    let other = producer
        .send_offsets_to_transaction(offsets(&[(0, 10)]), group())
        .await;
    assert!(
        is_invalid_state(&other),
        "other offsets meanwhile: {other:?}"
    );
    assert!(cluster.remove_fault(busy));
    producer
        .send_offsets_to_transaction(offsets(&[(0, 9)]), group())
        .await
        .expect("the same call waits for the one under way");
    producer.commit_transaction(T).await.expect("commit");
    assert_eq!(committed(&cluster), vec![(0, 9)]);
}
