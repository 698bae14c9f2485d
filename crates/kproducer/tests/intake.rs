//! The path from `send`/`try_send` to the core (`core/intake.rs`) seen from
//! the public API, on a multi-threaded runtime with OS threads sending:
//! flush waits for every record sent before it, and a close racing with
//! senders accounts for every record once — delivered, failed, or handed
//! back to its sender — and gives all of `buffer.memory` back.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use kproducer::{DeliveryFuture, Error, Producer, Record, Topic, TrySendError};
use kproducer_fake_broker::FakeCluster;
use kproducer_net::Transport;

mod common;

const SENDERS: usize = 4;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn producer(cluster: &FakeCluster) -> Producer {
    let transport: Arc<dyn Transport> = Arc::new(cluster.transport());
    Producer::builder()
        .bootstrap_servers(cluster.bootstrap_servers().split(','))
        .transport(transport)
        .seed(common::SEED)
        .linger(Duration::from_millis(1))
        .build()
        .expect("valid configuration")
}

/// `per_sender` records from each of [`SENDERS`] OS threads; returns the
/// futures of the records taken and how many came back as closed.
fn send_from_threads(
    producer: &Producer,
    per_sender: usize,
    started: &Arc<AtomicUsize>,
) -> (Vec<DeliveryFuture>, usize) {
    let threads: Vec<_> = (0..SENDERS)
        .map(|sender| {
            let (producer, started) = (producer.clone(), started.clone());
            std::thread::spawn(move || {
                let topic = Topic::new("orders");
                let mut futures = Vec::with_capacity(per_sender);
                let mut closed = 0;
                for n in 0..per_sender {
                    let value = Bytes::from(format!("{sender}/{n}"));
                    let mut record = Record::new(topic.clone(), value);
                    loop {
                        match producer.try_send(record) {
                            Ok(f) => {
                                futures.push(f);
                                break;
                            }
                            Err(TrySendError::QueueFull(back)) => {
                                record = back;
                                std::thread::yield_now();
                            }
                            Err(TrySendError::Closed(..)) => {
                                closed += 1;
                                break;
                            }
                            Err(other) => panic!("unexpected: {other}"),
                        }
                    }
                    started.fetch_add(1, Ordering::Relaxed);
                }
                (futures, closed)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut closed = 0;
    for t in threads {
        let (futures, c) = t.join().expect("sender thread");
        all.extend(futures);
        closed += c;
    }
    (all, closed)
}

#[test]
fn flush_sees_every_record_sent_before_it_from_other_threads() {
    let rt = runtime();
    let cluster = FakeCluster::builder()
        .brokers(1)
        .topic("orders", 3)
        .build()
        .expect("cluster");
    let producer = rt.block_on(async { producer(&cluster) });
    let started = Arc::new(AtomicUsize::new(0));
    let (futures, closed) = send_from_threads(&producer, 5_000, &started);
    assert_eq!(closed, 0);
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(60), producer.flush())
            .await
            .expect("flush finished")
            .expect("flush");
        for mut f in futures {
            let result = f.try_result().expect("flush waited for every record");
            result.expect("delivered");
        }
        producer.close(Duration::from_secs(5)).await;
    });
}

#[test]
fn closing_while_threads_send_accounts_for_every_record_once() {
    let rt = runtime();
    for round in 0..5usize {
        let cluster = FakeCluster::builder()
            .brokers(1)
            .topic("orders", 3)
            .build()
            .expect("cluster");
        let producer = rt.block_on(async { producer(&cluster) });
        let started = Arc::new(AtomicUsize::new(0));
        let per_sender = 20_000;
        // Close after a different share of the records each round.
        let close_after = (round + 1) * per_sender * SENDERS / 7;
        let closer = {
            let (producer, started) = (producer.clone(), started.clone());
            rt.spawn(async move {
                while started.load(Ordering::Relaxed) < close_after {
                    tokio::task::yield_now().await;
                }
                producer.close(Duration::from_secs(5)).await;
            })
        };
        let (futures, closed) = send_from_threads(&producer, per_sender, &started);
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(60), closer)
                .await
                .expect("close finished")
                .expect("closer task");
            let taken = futures.len();
            let mut delivered = 0u64;
            let mut failed = 0u64;
            for f in futures {
                match tokio::time::timeout(Duration::from_secs(60), f)
                    .await
                    .expect("every record resolves")
                {
                    Ok(_) => delivered += 1,
                    Err(Error::Closed) => failed += 1,
                    Err(e) => panic!("round {round}: unexpected failure: {e}"),
                }
            }
            assert_eq!(taken + closed, per_sender * SENDERS, "round {round}");
            let m = producer.metrics();
            assert_eq!(
                (m.records_sent, m.records_failed),
                (delivered, failed),
                "round {round}: the counters match the futures"
            );
            assert_eq!(m.buffer_used, 0, "round {round}: buffer.memory given back");
            println!("round {round}: {delivered} delivered, {failed} failed, {closed} handed back");
        });
    }
}

/// Records still queued when the core goes away without running again
/// (its runtime is dropped) fail with `Closed` — once each, their
/// `buffer.memory` given back — and a later send gets its record back.
#[test]
fn records_queued_when_the_core_is_dropped_fail_once_and_free_their_memory() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let cluster = FakeCluster::builder()
        .brokers(1)
        .topic("orders", 3)
        .build()
        .expect("cluster");
    let producer = rt.block_on(async { producer(&cluster) });
    // The runtime is not driven here: the core does not run, the records
    // stay queued.
    let topic = Topic::new("orders");
    let mut futures: Vec<DeliveryFuture> = (0..100)
        .map(|n| {
            producer
                .try_send(Record::new(topic.clone(), format!("queued {n}")))
                .expect("room in the buffer")
        })
        .collect();
    assert!(producer.metrics().buffer_used > 0);
    drop(rt);
    for f in &mut futures {
        let result = f.try_result().expect("resolved when the core went away");
        assert!(matches!(result, Err(Error::Closed)), "{result:?}");
    }
    let m = producer.metrics();
    assert_eq!((m.records_failed, m.buffer_used), (100, 0));
    match producer.try_send(Record::new(topic, "late")) {
        Err(TrySendError::Closed(record, Error::Closed)) => {
            assert_eq!(record.value.as_deref(), Some(&b"late"[..]));
        }
        other => panic!("expected the record back, got {other:?}"),
    }
}
