//! Transactions end to end against the fake broker, on paused tokio time:
//! what read-committed readers see after a commit and an abort, fencing by a
//! second producer with the same `transactional.id`, and the typed errors
//! of operations out of order.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{
    SEED, assert_every_partition_added, cluster, producer, transactional_producer, value, visible,
};
use kproducer::protocol::ErrorCode;
use kproducer::{
    DeliveryFuture, Error, Producer, ProducerConfig, Record, Settings, Topic, TransactionError,
};
use kproducer_fake_broker::FakeCluster;

const T: Duration = Duration::from_secs(30);

/// Validates properties for a transactional producer (`transactional.id`
/// `writer`, a bootstrap address) plus `extra`.
fn validate_transactional(extra: (&str, &str)) -> Result<Settings, Error> {
    ProducerConfig::from_properties([
        ("bootstrap.servers", "127.0.0.1:9092"),
        ("transactional.id", "writer"),
        extra,
    ])
    .and_then(|c| c.validate())
}

/// Sends `count` numbered records to each of `partitions`; returns their
/// futures and values by partition.
async fn send_each(
    producer: &Producer,
    partitions: &[i32],
    count: usize,
    offset: usize,
) -> (Vec<DeliveryFuture>, Vec<(i32, Vec<Bytes>)>) {
    let topic = Topic::new("orders");
    let mut futures = Vec::new();
    let mut values = Vec::new();
    for &p in partitions {
        let mut vs = Vec::new();
        for n in offset..offset + count {
            let v = value("orders", p, n);
            vs.push(v.clone());
            let record = Record::new(topic.clone(), v).with_partition(p);
            futures.push(producer.send(record).await.expect("send in a transaction"));
        }
        values.push((p, vs));
    }
    (futures, values)
}

/// A transactional producer (`writer`) whose hour-long linger keeps records
/// in the producer until the transaction ends.
fn lingering_txn_producer(cluster: &FakeCluster) -> Producer {
    producer(cluster, |b| {
        b.transactional_id("writer")
            .linger(Duration::from_secs(3600))
            .delivery_timeout(Duration::from_secs(7200))
    })
}

/// Every one of `futures` fails because its transaction was aborted.
async fn assert_all_aborted(futures: Vec<DeliveryFuture>) {
    for f in futures {
        let result = f.await;
        assert!(
            matches!(result, Err(Error::Transaction(TransactionError::Aborted))),
            "{result:?}"
        );
    }
}

/// Control batches (transaction markers) in a partition's log.
fn markers(cluster: &FakeCluster, partition: i32) -> usize {
    cluster
        .partition("orders", partition)
        .expect("partition")
        .batches
        .iter()
        .filter(|b| b.meta.is_control)
        .count()
}

#[tokio::test(start_paused = true)]
async fn commit_makes_records_visible_to_read_committed_readers() {
    let cluster = cluster();
    let producer = transactional_producer(&cluster, "writer");
    assert!(producer.is_transactional() && producer.is_idempotent());
    producer.init_transactions(T).await.expect("init");
    producer.begin_transaction().await.expect("begin");
    let partitions = [0, 1, 2, 3, 4, 5];
    let (futures, values) = send_each(&producer, &partitions, 50, 0).await;
    // Nothing is visible before the commit, even once written.
    producer.flush().await.expect("flush");
    for &p in &partitions {
        assert!(
            visible(&cluster, p).is_empty(),
            "partition {p} before commit"
        );
        assert!(!cluster.records("orders", p).unwrap().is_empty());
    }
    producer.commit_transaction(T).await.expect("commit");
    for f in futures {
        f.await.expect("acknowledged");
    }
    for (p, vs) in values {
        assert_eq!(
            visible(&cluster, p),
            vs,
            "partition {p} after commit (seed {SEED:#x})"
        );
        assert_eq!(
            markers(&cluster, p),
            1,
            "one commit marker on partition {p}"
        );
        for r in cluster.records("orders", p).unwrap() {
            assert!(r.transactional && !r.aborted);
        }
    }
    assert_every_partition_added(&cluster);
    let entry = cluster
        .transaction("writer")
        .expect("known to the coordinator");
    assert_eq!(entry.state, kproducer_fake_broker::TxnState::CompleteCommit);
}

#[tokio::test(start_paused = true)]
async fn abort_leaves_records_invisible_and_the_next_transaction_commits() {
    let cluster = cluster();
    let producer = transactional_producer(&cluster, "writer");
    producer.init_transactions(T).await.expect("init");
    producer.begin_transaction().await.expect("begin");
    let (futures, _) = send_each(&producer, &[0, 1], 20, 0).await;
    producer.flush().await.expect("flush");
    producer.abort_transaction(T).await.expect("abort");
    for f in futures {
        // Written before the abort: acknowledged, but never visible.
        f.await.expect("acknowledged before the abort");
    }
    for p in [0, 1] {
        assert!(visible(&cluster, p).is_empty(), "aborted records on {p}");
        let records = cluster.records("orders", p).unwrap();
        assert_eq!(records.len(), 20);
        assert!(
            records.iter().all(|r| r.aborted),
            "marked aborted in the log"
        );
        assert_eq!(markers(&cluster, p), 1, "an abort marker on partition {p}");
    }
    producer.begin_transaction().await.expect("begin again");
    let (_, values) = send_each(&producer, &[0, 1], 5, 100).await;
    producer.commit_transaction(T).await.expect("commit");
    for (p, vs) in values {
        assert_eq!(visible(&cluster, p), vs, "only the committed transaction");
        assert_eq!(markers(&cluster, p), 2);
    }
    assert_every_partition_added(&cluster);
}

#[tokio::test(start_paused = true)]
async fn abort_fails_unsent_records_with_a_typed_error() {
    let cluster = cluster();
    let producer = lingering_txn_producer(&cluster);
    producer.init_transactions(T).await.expect("init");
    producer.begin_transaction().await.expect("begin");
    let (futures, _) = send_each(&producer, &[0, 1, 2], 10, 0).await;
    producer.abort_transaction(T).await.expect("abort");
    assert_all_aborted(futures).await;
    for p in [0, 1, 2] {
        assert!(
            cluster.records("orders", p).unwrap().is_empty(),
            "nothing was sent"
        );
    }
    assert_eq!(producer.metrics().records_failed, 30);
}

#[tokio::test(start_paused = true)]
async fn a_second_producer_with_the_same_id_fences_the_first() {
    let cluster = cluster();
    let first = transactional_producer(&cluster, "writer");
    first.init_transactions(T).await.expect("init first");
    first.begin_transaction().await.expect("begin");
    let (early, _) = send_each(&first, &[0], 10, 0).await;
    first.flush().await.expect("flush");
    for f in early {
        f.await.expect("written before the fence");
    }
    let fenced_epoch = cluster.transaction("writer").unwrap().producer_epoch;

    let second = transactional_producer(&cluster, "writer");
    second.init_transactions(T).await.expect("init second");
    assert!(cluster.transaction("writer").unwrap().producer_epoch > fenced_epoch);

    // The first instance's next records fail fatally: a new partition is
    // refused by the coordinator, an added one by the partition leader.
    let topic = Topic::new("orders");
    let late_new = first
        .send(Record::new(topic.clone(), "late-new").with_partition(1))
        .await
        .expect("handed over");
    let late_added = first
        .send(Record::new(topic.clone(), "late-added").with_partition(0))
        .await
        .expect("handed over");
    fn is_fenced<T>(r: &Result<T, Error>) -> bool {
        matches!(
            r,
            Err(Error::Fatal {
                code: Some(ErrorCode::PRODUCER_FENCED | ErrorCode::INVALID_PRODUCER_EPOCH),
                ..
            })
        )
    }
    let (a, b) = (late_new.await, late_added.await);
    assert!(is_fenced(&a) || is_fenced(&b), "{a:?} / {b:?}");
    assert!(a.is_err() && b.is_err());
    let commit = first.commit_transaction(T).await;
    assert!(is_fenced(&commit), "commit after the fence: {commit:?}");
    assert!(
        first
            .send(Record::new(topic.clone(), "x").with_partition(2))
            .await
            .is_err(),
        "a fenced producer refuses new records"
    );

    // Nothing of the fenced instance is visible; the new one commits.
    second.begin_transaction().await.expect("begin second");
    let (_, values) = send_each(&second, &[0, 1], 3, 100).await;
    second.commit_transaction(T).await.expect("commit second");
    for (p, vs) in values {
        assert_eq!(
            visible(&cluster, p),
            vs,
            "partition {p}: only the new instance"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn operations_out_of_order_are_typed_errors() {
    let cluster = cluster();
    let producer = transactional_producer(&cluster, "writer");
    let no_txn = |r: Result<DeliveryFuture, Error>| {
        matches!(r, Err(Error::Transaction(TransactionError::NoTransaction)))
    };
    let invalid = |r: Result<(), Error>| {
        matches!(
            r,
            Err(Error::Transaction(TransactionError::InvalidState { .. }))
        )
    };
    assert!(
        no_txn(producer.send(Record::new("orders", "v")).await),
        "send before init"
    );
    assert!(
        invalid(producer.begin_transaction().await),
        "begin before init"
    );
    assert!(
        invalid(producer.commit_transaction(T).await),
        "commit before init"
    );
    producer.init_transactions(T).await.expect("init");
    assert!(invalid(producer.init_transactions(T).await), "init twice");
    assert!(
        no_txn(producer.send(Record::new("orders", "v")).await),
        "send before begin"
    );
    assert!(
        invalid(producer.commit_transaction(T).await),
        "commit without begin"
    );
    assert!(
        invalid(producer.abort_transaction(T).await),
        "abort without begin"
    );
    producer.begin_transaction().await.expect("begin");
    assert!(invalid(producer.begin_transaction().await), "begin twice");
    let _delivery = producer
        .send(Record::new("orders", "v"))
        .await
        .expect("send");
    producer.commit_transaction(T).await.expect("commit");
    assert!(
        invalid(producer.commit_transaction(T).await),
        "commit twice"
    );
    assert!(
        no_txn(producer.send(Record::new("orders", "v")).await),
        "send after commit"
    );

    let plain = producer_plain(&cluster);
    assert!(matches!(
        plain.begin_transaction().await,
        Err(Error::Transaction(
            TransactionError::NotTransactional { .. }
        ))
    ));
}

fn producer_plain(cluster: &FakeCluster) -> Producer {
    producer(cluster, |b| b)
}

#[tokio::test(start_paused = true)]
async fn a_transactional_producer_uses_one_connection_per_broker() {
    let cluster = cluster();
    let err = Producer::builder()
        .bootstrap_servers(cluster.bootstrap_servers().split(','))
        .transactional_id("writer")
        .connections(1, 8)
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config { key, message } if key == "kproducer.connections.max" && message.contains("one connection per broker")),
        "{err}"
    );
    let err = validate_transactional(("kproducer.connections.min", "2")).unwrap_err();
    assert!(
        matches!(&err, Error::Config { key, message } if key == "kproducer.connections.min" && message.contains("one connection per broker")),
        "{err}"
    );
    let err = validate_transactional(("enable.idempotence", "false")).unwrap_err();
    assert!(
        matches!(&err, Error::Config { key, .. } if key == "enable.idempotence"),
        "{err}"
    );

    // Defaults are forced to one connection, adaptive scaling off.
    let settings = validate_transactional(("transaction.timeout.ms", "15000")).expect("valid");
    assert!(settings.idempotent);
    assert!(!settings.config.adaptive_connections);
    assert_eq!(settings.config.scaler.max_width, 1);
    assert_eq!(settings.config.transaction_timeout, Duration::from_secs(15));

    // Under load, every broker still has exactly one connection; the
    // coordinator got transaction.timeout.ms with InitProducerId.
    let producer = producer(&cluster, |b| {
        b.transactional_id("writer")
            .transaction_timeout(Duration::from_secs(15))
    });
    producer.init_transactions(T).await.expect("init");
    assert_eq!(
        cluster
            .transaction("writer")
            .unwrap()
            .transaction_timeout_ms,
        15_000
    );
    producer.begin_transaction().await.expect("begin");
    send_each(&producer, &[0, 1, 2, 3, 4, 5], 200, 0).await;
    producer.commit_transaction(T).await.expect("commit");
    for (broker, width) in producer.metrics().connections_per_broker {
        assert_eq!(width, 1, "broker {broker}");
    }
}

#[tokio::test(start_paused = true)]
async fn close_aborts_an_open_transaction() {
    let cluster = cluster();
    let producer = lingering_txn_producer(&cluster);
    producer.init_transactions(T).await.expect("init");
    producer.begin_transaction().await.expect("begin");
    let (written, _) = send_each(&producer, &[0], 5, 0).await;
    producer.flush().await.expect("flush");
    let (unsent, _) = send_each(&producer, &[1], 5, 0).await;
    producer.close(T).await;
    for f in written {
        f.await.expect("written before the close");
    }
    assert_all_aborted(unsent).await;
    assert_eq!(
        cluster.transaction("writer").map(|t| t.state),
        Some(kproducer_fake_broker::TxnState::CompleteAbort),
        "the coordinator aborted the transaction at close"
    );
    assert_eq!(markers(&cluster, 0), 1, "an abort marker");
    assert!(visible(&cluster, 0).is_empty() && visible(&cluster, 1).is_empty());
}
