//! Transactions under faults, against the fake broker on paused tokio
//! time: the coordinator moves mid-transaction, coordinator errors are
//! retried, 45 and 59 inside a transaction are abortable and the next
//! transaction succeeds, a partition waiting for AddPartitionsToTxn does
//! not stall the others, and client-side timeouts leave the operation
//! running.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{SEED, assert_every_partition_added, transactional_producer, value, visible};
use kproducer::protocol::{ApiKey, ErrorCode};
use kproducer::{Error, Producer, Record, Topic, TransactionError};
use kproducer_fake_broker::{ErrorScope, FakeCluster, FaultAction, FaultRule, Hold};

const T: Duration = Duration::from_secs(30);

fn request_error(code: ErrorCode) -> FaultAction {
    FaultAction::Error {
        code,
        scope: ErrorScope::Request,
    }
}

/// Sends `count` numbered records (from `first`) to `partition` and waits
/// for none of them; returns their values.
async fn send_to(producer: &Producer, partition: i32, first: usize, count: usize) -> Vec<Bytes> {
    let topic = Topic::new("orders");
    let mut values = Vec::new();
    for n in first..first + count {
        let v = value("orders", partition, n);
        values.push(v.clone());
        let record = Record::new(topic.clone(), v).with_partition(partition);
        let _delivery = producer.send(record).await.expect("send in a transaction");
    }
    values
}

#[tokio::test(start_paused = true)]
async fn the_coordinator_moves_mid_transaction() {
    let cluster = common::cluster();
    assert_eq!(cluster.coordinator(), 0);
    let producer = transactional_producer(&cluster, "writer");
    producer.init_transactions(T).await.expect("init");
    producer.begin_transaction().await.expect("begin");
    let mut expected = vec![send_to(&producer, 0, 0, 10).await];
    producer.flush().await.expect("flush");
    cluster.set_coordinator(2).expect("broker 2");
    // The next partition's AddPartitionsToTxn meets NOT_COORDINATOR on the
    // old coordinator; the producer finds the new one and carries on.
    expected.push(send_to(&producer, 1, 0, 10).await);
    producer.commit_transaction(T).await.expect("commit");
    for (p, vs) in expected.into_iter().enumerate() {
        assert_eq!(
            visible(&cluster, p as i32),
            vs,
            "partition {p} (seed {SEED:#x})"
        );
    }
    let moved = cluster
        .requests()
        .iter()
        .filter(|r| r.api_key == ApiKey::FindCoordinator as i16)
        .count();
    assert!(
        moved >= 2,
        "the coordinator was looked up again ({moved} lookups)"
    );
    assert_every_partition_added(&cluster);
    // The next transaction goes to the new coordinator straight away.
    producer.begin_transaction().await.expect("begin");
    let again = send_to(&producer, 2, 0, 5).await;
    producer.commit_transaction(T).await.expect("commit");
    assert_eq!(visible(&cluster, 2), again);
}

#[tokio::test(start_paused = true)]
async fn coordinator_errors_are_retried() {
    let cluster = common::cluster();
    let rules = [
        FaultRule::new(request_error(ErrorCode::COORDINATOR_NOT_AVAILABLE))
            .api(ApiKey::FindCoordinator),
        FaultRule::new(request_error(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS))
            .api(ApiKey::InitProducerId),
        FaultRule::new(request_error(ErrorCode::NOT_COORDINATOR))
            .api(ApiKey::InitProducerId)
            .nth(2),
        FaultRule::new(request_error(ErrorCode::CONCURRENT_TRANSACTIONS))
            .api(ApiKey::AddPartitionsToTxn),
        FaultRule::new(request_error(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS))
            .api(ApiKey::AddPartitionsToTxn)
            .nth(2),
        FaultRule::new(request_error(ErrorCode::CONCURRENT_TRANSACTIONS)).api(ApiKey::EndTxn),
        FaultRule::new(request_error(ErrorCode::NOT_COORDINATOR))
            .api(ApiKey::EndTxn)
            .nth(2),
        FaultRule::new(request_error(ErrorCode::COORDINATOR_NOT_AVAILABLE))
            .api(ApiKey::EndTxn)
            .nth(3),
    ];
    let ids: Vec<_> = rules.into_iter().map(|r| cluster.add_fault(r)).collect();
    let producer = transactional_producer(&cluster, "writer");
    producer
        .init_transactions(T)
        .await
        .expect("init despite coordinator errors");
    producer.begin_transaction().await.expect("begin");
    let values = send_to(&producer, 0, 0, 20).await;
    producer
        .commit_transaction(T)
        .await
        .expect("commit despite coordinator errors");
    for id in ids {
        assert!(cluster.fault_fired(id), "every fault was met");
    }
    assert_eq!(visible(&cluster, 0), values);
}

#[tokio::test(start_paused = true)]
async fn a_lost_coordinator_connection_is_retried() {
    let cluster = common::cluster();
    let dropped =
        cluster.add_fault(FaultRule::new(FaultAction::CloseBeforeHandling).api(ApiKey::EndTxn));
    let producer = transactional_producer(&cluster, "writer");
    producer.init_transactions(T).await.expect("init");
    producer.begin_transaction().await.expect("begin");
    let values = send_to(&producer, 3, 0, 7).await;
    producer.commit_transaction(T).await.expect("commit");
    assert!(cluster.fault_fired(dropped));
    assert_eq!(visible(&cluster, 3), values);
}

/// A Produce error inside a transaction makes it abortable: the commit
/// fails, new records are refused, the abort succeeds (with an epoch bump)
/// and the next transaction commits.
async fn abortable_then_recovers(code: ErrorCode) {
    let cluster = common::cluster();
    let fault = cluster.add_fault(common::on_p0(common::error(code)));
    let producer = transactional_producer(&cluster, "writer");
    producer.init_transactions(T).await.expect("init");
    let epoch = cluster.transaction("writer").unwrap().producer_epoch;
    producer.begin_transaction().await.expect("begin");
    send_to(&producer, 0, 0, 10).await;
    send_to(&producer, 1, 0, 10).await;
    let commit = producer.commit_transaction(T).await;
    assert!(cluster.fault_fired(fault));
    assert!(
        matches!(
            &commit,
            Err(Error::Transaction(TransactionError::Abortable { .. }))
        ),
        "{code}: {commit:?}"
    );
    // Taken by the handle, refused by the producer: the delivery fails.
    let refused = match producer.send(Record::new("orders", "more")).await {
        Ok(delivery) => delivery.await.map(|_| ()),
        Err(e) => Err(e),
    };
    assert!(
        matches!(
            refused,
            Err(Error::Transaction(TransactionError::Abortable { .. }))
        ),
        "{code}: records are refused until the abort: {refused:?}"
    );
    producer.abort_transaction(T).await.expect("abort");
    assert!(
        cluster.transaction("writer").unwrap().producer_epoch > epoch,
        "{code}: the abort bumped the epoch"
    );
    assert_eq!(
        producer.metrics().epoch_bumps,
        1,
        "{code}: one bump, counted"
    );
    producer.begin_transaction().await.expect("begin again");
    let p0 = send_to(&producer, 0, 100, 10).await;
    let p1 = send_to(&producer, 1, 100, 10).await;
    producer
        .commit_transaction(T)
        .await
        .expect("the next transaction commits");
    assert_eq!(
        visible(&cluster, 0),
        p0,
        "{code}: only the second transaction on 0"
    );
    assert_eq!(
        visible(&cluster, 1),
        p1,
        "{code}: only the second transaction on 1"
    );
    let bumped = cluster.transaction("writer").unwrap().producer_epoch;
    let restarted: Vec<i32> = cluster
        .partition("orders", 0)
        .unwrap()
        .batches
        .iter()
        .filter(|b| !b.meta.is_control && b.meta.producer_epoch == bumped)
        .map(|b| b.meta.base_sequence)
        .collect();
    assert_eq!(
        restarted.first(),
        Some(&0),
        "{code}: sequences restart under the new epoch"
    );
    assert_every_partition_added(&cluster);
}

#[tokio::test(start_paused = true)]
async fn out_of_order_sequence_inside_a_transaction_is_abortable() {
    abortable_then_recovers(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER).await;
}

#[tokio::test(start_paused = true)]
async fn unknown_producer_id_inside_a_transaction_is_abortable() {
    abortable_then_recovers(ErrorCode::UNKNOWN_PRODUCER_ID).await;
}

#[tokio::test(start_paused = true)]
async fn a_partition_waiting_to_be_added_does_not_stall_the_others() {
    // orders-0 led by broker 1, orders-1 by broker 0 (the coordinator), so
    // the held AddPartitionsToTxn does not block orders-0's connection.
    let cluster = FakeCluster::builder()
        .brokers(2)
        .topic_with_leaders("orders", &[1, 0])
        .build()
        .expect("cluster");
    let hold = Hold::new();
    let held = cluster.add_fault(
        FaultRule::new(FaultAction::Hold(hold.clone()))
            .api(ApiKey::AddPartitionsToTxn)
            .nth(2),
    );
    let producer = transactional_producer(&cluster, "writer");
    producer.init_transactions(T).await.expect("init");
    producer.begin_transaction().await.expect("begin");
    let topic = Topic::new("orders");
    let first = producer
        .send(Record::new(topic.clone(), "p0-a").with_partition(0))
        .await
        .unwrap();
    first.await.expect("orders-0 added and written");
    let waiting = producer
        .send(Record::new(topic.clone(), "p1-a").with_partition(1))
        .await
        .unwrap();
    let mut flowing = Vec::new();
    for n in 0..20 {
        let record = Record::new(topic.clone(), format!("p0-{n}")).with_partition(0);
        flowing.push(producer.send(record).await.unwrap());
    }
    for f in flowing {
        f.await
            .expect("orders-0 keeps flowing while orders-1 waits");
    }
    assert!(cluster.fault_fired(held) && hold.held_now() == 1);
    assert!(
        cluster.records("orders", 1).unwrap().is_empty(),
        "orders-1 waits"
    );
    hold.release();
    waiting.await.expect("orders-1 is written once added");
    producer.commit_transaction(T).await.expect("commit");
    assert_eq!(visible(&cluster, 0).len(), 21);
    assert_eq!(visible(&cluster, 1).len(), 1);
    assert_every_partition_added(&cluster);
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_commit_goes_on_and_can_be_awaited_again() {
    let cluster = common::cluster();
    let hold = Hold::new();
    cluster.add_fault(FaultRule::new(FaultAction::Hold(hold.clone())).api(ApiKey::EndTxn));
    let producer = transactional_producer(&cluster, "writer");
    producer.init_transactions(T).await.expect("init");
    producer.begin_transaction().await.expect("begin");
    let values = send_to(&producer, 0, 0, 5).await;
    let timeout = Duration::from_millis(500);
    let first = producer.commit_transaction(timeout).await;
    assert!(
        matches!(first, Err(Error::Transaction(TransactionError::Timeout { timeout: t, .. })) if t == timeout),
        "{first:?}"
    );
    assert!(
        matches!(
            producer.begin_transaction().await,
            Err(Error::Transaction(TransactionError::InvalidState { .. }))
        ),
        "still committing"
    );
    hold.release();
    producer
        .commit_transaction(T)
        .await
        .expect("the same commit, awaited again");
    assert_eq!(visible(&cluster, 0), values);
    producer
        .begin_transaction()
        .await
        .expect("ready for the next");
}

#[tokio::test(start_paused = true)]
async fn init_with_an_unreachable_coordinator_times_out_then_completes() {
    let cluster = common::cluster();
    let hold = Hold::new();
    cluster.add_fault(FaultRule::new(FaultAction::Hold(hold.clone())).api(ApiKey::InitProducerId));
    let producer = transactional_producer(&cluster, "writer");
    let first = producer.init_transactions(Duration::from_secs(1)).await;
    assert!(
        matches!(
            first,
            Err(Error::Transaction(TransactionError::Timeout { .. }))
        ),
        "{first:?}"
    );
    hold.release();
    producer
        .init_transactions(T)
        .await
        .expect("init, awaited again");
    producer.begin_transaction().await.expect("begin");
}

#[tokio::test(start_paused = true)]
async fn fatal_coordinator_answers_end_the_producer() {
    let cluster = common::cluster();
    cluster.add_fault(
        FaultRule::new(request_error(
            ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        ))
        .api(ApiKey::EndTxn),
    );
    let producer = transactional_producer(&cluster, "writer");
    producer.init_transactions(T).await.expect("init");
    producer.begin_transaction().await.expect("begin");
    send_to(&producer, 0, 0, 3).await;
    let commit = producer.commit_transaction(T).await;
    assert!(
        matches!(
            commit,
            Err(Error::Fatal {
                code: Some(ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED),
                ..
            })
        ),
        "{commit:?}"
    );
    assert!(matches!(
        producer.begin_transaction().await,
        Err(Error::Fatal { .. })
    ));
    assert!(matches!(
        producer.abort_transaction(T).await,
        Err(Error::Fatal { .. })
    ));
    assert!(visible(&cluster, 0).is_empty());
}
