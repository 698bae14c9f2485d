//! The "maybe added" rule end to end, against the fake broker on paused
//! tokio time: when the answer to AddPartitionsToTxn or AddOffsetsToTxn
//! is lost and the application aborts before a retry got through, the
//! producer does not know whether the coordinator added the partition or
//! group, so the abort still sends EndTxn(abort). The coordinator's
//! transaction ends at once (it is not left open until
//! `transaction.timeout.ms`, after which the coordinator would abort it
//! and bump the epoch, fencing this producer), and when the add never
//! happened the coordinator's 48 `INVALID_TXN_STATE` is a successful
//! abort. The next transaction commits.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{SEED, assert_every_partition_added, transactional_producer, value, visible};
use kproducer::protocol::ApiKey;
use kproducer::{
    ConsumerGroupMetadata, Error, OffsetAndMetadata, Producer, Record, TopicPartition,
    TransactionError,
};
use kproducer_fake_broker::{FakeCluster, FaultAction, FaultId, FaultRule, TxnState};

/// Longer than `request.timeout.ms` (30 s): the abort waits for the lost
/// request to time out first.
const T: Duration = Duration::from_secs(120);
const ID: &str = "writer";
const GROUP: &str = "enrichers";

/// Sends `count` numbered records to `orders`-`partition` and waits for
/// none of them; returns their values.
async fn send_to(producer: &Producer, partition: i32, count: usize) -> Vec<Bytes> {
    let mut values = Vec::new();
    for n in 0..count {
        let v = value("orders", partition, n);
        values.push(v.clone());
        let record = Record::new("orders", v).with_partition(partition);
        let _delivery = producer.send(record).await.expect("send in a transaction");
    }
    values
}

/// Waits (on paused time) until the fault has met its request.
async fn until_fired(cluster: &FakeCluster, fault: FaultId) {
    while !cluster.fault_fired(fault) {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Transaction markers (control batches) in `orders`-`partition`.
fn markers(cluster: &FakeCluster, partition: i32) -> usize {
    let snapshot = cluster.partition("orders", partition).expect("partition");
    snapshot
        .batches
        .iter()
        .filter(|b| b.meta.is_control)
        .count()
}

/// A read-committed reader of `orders`-`partition` is not held back: the
/// last stable offset is the high watermark.
fn assert_not_stuck(cluster: &FakeCluster, partition: i32) {
    let snapshot = cluster.partition("orders", partition).expect("partition");
    assert_eq!(
        snapshot.last_stable_offset, snapshot.high_watermark,
        "orders-{partition}: no open transaction holds read-committed readers back (seed {SEED:#x})"
    );
}

/// The coordinator holds no open transaction for [`ID`]; its last one
/// ended in `state`.
fn assert_ended(cluster: &FakeCluster, state: TxnState) {
    let entry = cluster
        .transaction(ID)
        .expect("the transactional id is known");
    assert_eq!(entry.state, state, "{entry:?}");
    assert!(
        entry.partitions.is_empty() && entry.groups.is_empty(),
        "{entry:?}"
    );
}

fn end_txn_requests(cluster: &FakeCluster) -> usize {
    cluster
        .requests()
        .iter()
        .filter(|r| r.api_key == ApiKey::EndTxn as i16)
        .count()
}

#[tokio::test(start_paused = true)]
async fn an_abort_after_a_lost_add_partitions_answer_ends_the_transaction() {
    let cluster = common::cluster();
    // The coordinator adds orders-0 to the transaction; the answer never
    // comes.
    let lost = cluster
        .add_fault(FaultRule::new(FaultAction::DropResponse).api(ApiKey::AddPartitionsToTxn));
    let producer = transactional_producer(&cluster, ID);
    producer.init_transactions(T).await.expect("init");
    producer.begin_transaction().await.expect("begin");
    let waiting = producer
        .send(Record::new("orders", "never visible").with_partition(0))
        .await
        .expect("send");
    until_fired(&cluster, lost).await;
    producer
        .abort_transaction(T)
        .await
        .expect("the abort ends what the lost add opened");
    let r = waiting.await;
    assert!(
        matches!(r, Err(Error::Transaction(TransactionError::Aborted))),
        "{r:?}"
    );
    assert_ended(&cluster, TxnState::CompleteAbort);
    assert_eq!(markers(&cluster, 0), 1, "the abort marker");
    assert_not_stuck(&cluster, 0);
    // The next transaction is its own: it commits, and orders-0 is not in
    // it.
    producer.begin_transaction().await.expect("begin");
    let values = send_to(&producer, 1, 5).await;
    producer.commit_transaction(T).await.expect("commit");
    assert_eq!(visible(&cluster, 1), values);
    assert!(visible(&cluster, 0).is_empty());
    assert_eq!(markers(&cluster, 0), 1, "orders-0 was not in the commit");
    assert_ended(&cluster, TxnState::CompleteCommit);
    assert_not_stuck(&cluster, 1);
    assert_every_partition_added(&cluster);
}

#[tokio::test(start_paused = true)]
async fn an_abort_after_an_add_that_never_happened_is_answered_nothing_open() {
    let cluster = common::cluster();
    let producer = transactional_producer(&cluster, ID);
    producer.init_transactions(T).await.expect("init");
    producer.begin_transaction().await.expect("begin");
    let first = send_to(&producer, 1, 3).await;
    producer.commit_transaction(T).await.expect("commit");
    // The second transaction's AddPartitionsToTxn is lost on the way: the
    // coordinator never sees it and stays at CompleteCommit.
    let lost =
        cluster.add_fault(FaultRule::new(FaultAction::Discard).api(ApiKey::AddPartitionsToTxn));
    producer.begin_transaction().await.expect("begin");
    let waiting = producer
        .send(Record::new("orders", "never visible").with_partition(0))
        .await
        .expect("send");
    until_fired(&cluster, lost).await;
    let before = end_txn_requests(&cluster);
    producer
        .abort_transaction(T)
        .await
        .expect("48 (nothing open) after a lost add is a successful abort");
    assert!(waiting.await.is_err());
    assert_eq!(
        end_txn_requests(&cluster),
        before + 1,
        "the abort asked the coordinator"
    );
    assert_ended(&cluster, TxnState::CompleteCommit);
    assert_eq!(markers(&cluster, 0), 0, "nothing was open in orders-0");
    // Not fatal: the next transaction commits.
    producer.begin_transaction().await.expect("begin");
    let second = send_to(&producer, 2, 4).await;
    producer.commit_transaction(T).await.expect("commit");
    assert_eq!(visible(&cluster, 1), first);
    assert_eq!(visible(&cluster, 2), second);
    assert!(visible(&cluster, 0).is_empty());
    assert_every_partition_added(&cluster);
}

#[tokio::test(start_paused = true)]
async fn an_abort_after_a_lost_add_offsets_answer_ends_the_transaction() {
    let cluster = common::cluster_with(Duration::ZERO, |b| b.topic("in", 3));
    // The coordinator adds the group to the transaction; the answer never
    // comes.
    let lost =
        cluster.add_fault(FaultRule::new(FaultAction::DropResponse).api(ApiKey::AddOffsetsToTxn));
    let producer = transactional_producer(&cluster, ID);
    producer.init_transactions(T).await.expect("init");
    producer.begin_transaction().await.expect("begin");
    let offsets = |next: i64| [(TopicPartition::new("in", 0), OffsetAndMetadata::new(next))];
    let pending = tokio::spawn({
        let producer = producer.clone();
        async move {
            producer
                .send_offsets_to_transaction(offsets(7), ConsumerGroupMetadata::new(GROUP))
                .await
        }
    });
    until_fired(&cluster, lost).await;
    producer
        .abort_transaction(T)
        .await
        .expect("the abort ends what the lost add opened");
    let r = pending.await.expect("task");
    assert!(
        matches!(r, Err(Error::Transaction(TransactionError::Aborted))),
        "{r:?}"
    );
    assert_ended(&cluster, TxnState::CompleteAbort);
    assert!(cluster.committed_offsets(GROUP).is_empty());
    assert!(cluster.pending_offsets(GROUP).is_empty());
    // The next transaction commits its records and offsets.
    producer.begin_transaction().await.expect("begin");
    let values = send_to(&producer, 3, 2).await;
    producer
        .send_offsets_to_transaction(offsets(9), ConsumerGroupMetadata::new(GROUP))
        .await
        .expect("offsets");
    producer.commit_transaction(T).await.expect("commit");
    assert_eq!(visible(&cluster, 3), values);
    let committed: Vec<(i32, i64)> = cluster
        .committed_offsets(GROUP)
        .into_iter()
        .map(|(tp, o)| (tp.partition, o.offset))
        .collect();
    assert_eq!(committed, vec![(0, 9)]);
    assert_ended(&cluster, TxnState::CompleteCommit);
}

#[tokio::test(start_paused = true)]
async fn a_commit_after_a_lost_add_partitions_answer_adds_the_partition_again() {
    let cluster = common::cluster();
    let lost = cluster
        .add_fault(FaultRule::new(FaultAction::DropResponse).api(ApiKey::AddPartitionsToTxn));
    let producer = transactional_producer(&cluster, ID);
    producer.init_transactions(T).await.expect("init");
    producer.begin_transaction().await.expect("begin");
    let values = send_to(&producer, 0, 3).await;
    until_fired(&cluster, lost).await;
    // The commit succeeds only once the coordinator confirmed orders-0 (a
    // second AddPartitionsToTxn) and ended the transaction.
    producer.commit_transaction(T).await.expect("commit");
    let adds = cluster
        .requests()
        .iter()
        .filter(|r| r.api_key == ApiKey::AddPartitionsToTxn as i16)
        .count();
    assert_eq!(adds, 2, "the lost add was sent again");
    assert_eq!(visible(&cluster, 0), values);
    assert_ended(&cluster, TxnState::CompleteCommit);
    assert_every_partition_added(&cluster);
}
