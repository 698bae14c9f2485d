//! End-to-end basics against the fake broker, on paused tokio time: send
//! and acknowledge, ordering, keyed placement, batching, backpressure,
//! flush, close, drop, an idempotent retry answered as a duplicate, and
//! metrics.

mod common;

use std::time::Duration;

use common::{Ledger, assert_log_matches, producer, value};
use kproducer::partitioner::murmur2_partition;
use kproducer::{Error, Record, Topic, TrySendError};
use kproducer_fake_broker::{FakeCluster, FaultAction, FaultRule};
use kproducer_protocol::ApiKey;

fn cluster() -> FakeCluster {
    FakeCluster::builder()
        .brokers(3)
        .topic("orders", 6)
        .build()
        .expect("cluster")
}

/// The first few errors, for assertion messages.
fn first_errors(o: &common::Outcomes) -> Vec<String> {
    o.errors().iter().take(3).map(ToString::to_string).collect()
}

#[tokio::test(start_paused = true)]
async fn send_and_acknowledge_with_offsets() {
    let cluster = cluster();
    let producer = producer(&cluster, |b| b);
    assert!(producer.is_idempotent());
    let topic = Topic::new("orders");
    let mut ledger = Ledger::default();
    for p in 0..6 {
        ledger.send(&producer, &topic, p, 20).await;
    }
    let outcomes = ledger.outcomes().await;
    assert_eq!(outcomes.ok(), 120, "errors: {:?}", first_errors(&outcomes));
    for results in outcomes.results.values() {
        let offsets: Vec<i64> = results
            .iter()
            .map(|(_, r)| r.as_ref().map_or(-2, |m| m.offset))
            .collect();
        assert_eq!(offsets, (0..20).collect::<Vec<i64>>());
    }
    assert_log_matches(&cluster, &outcomes).await;
    producer.close(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn keyed_records_land_where_murmur2_says_in_send_order() {
    let cluster = cluster();
    let producer = producer(&cluster, |b| b);
    let topic = Topic::new("orders");
    let mut futures = Vec::new();
    for i in 0..200 {
        let key = format!("customer-{}", i % 17);
        let f = producer
            .send(Record::new(topic.clone(), value("orders", -1, i)).with_key(key.clone()))
            .await
            .unwrap();
        futures.push((key, f));
    }
    let mut last_offset = std::collections::HashMap::new();
    for (key, f) in futures {
        let m = f.await.expect("delivered");
        assert_eq!(
            m.partition,
            murmur2_partition(key.as_bytes(), 6),
            "key {key}"
        );
        // Per partition, offsets follow send order.
        if let Some(prev) = last_offset.insert(m.partition, m.offset) {
            assert!(m.offset > prev);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn linger_holds_a_batch_until_it_expires() {
    let cluster = cluster();
    let producer = producer(&cluster, |b| b.linger(Duration::from_millis(50)));
    let topic = Topic::new("orders");
    // Warm up: metadata and producer id.
    producer
        .send(Record::new(topic.clone(), "warm").with_partition(1))
        .await
        .unwrap()
        .await
        .unwrap();
    let start = tokio::time::Instant::now();
    let mut fs = Vec::new();
    for i in 0..3 {
        fs.push(
            producer
                .send(Record::new(topic.clone(), value("orders", 0, i)).with_partition(0))
                .await
                .unwrap(),
        );
    }
    tokio::time::sleep(Duration::from_millis(40)).await;
    for f in &mut fs {
        assert!(f.try_result().is_none(), "sent before linger.ms");
    }
    for f in fs {
        f.await.expect("delivered");
    }
    assert!(start.elapsed() >= Duration::from_millis(50));
    let log = cluster.partition("orders", 0).unwrap();
    assert_eq!(
        log.batches.len(),
        1,
        "the three records travel in one batch"
    );
    assert_eq!(log.batches[0].meta.record_count, 3);
}

#[tokio::test(start_paused = true)]
async fn batch_size_seals_before_linger() {
    let cluster = cluster();
    let producer = producer(&cluster, |b| {
        b.linger(Duration::from_secs(10)).batch_size(400)
    });
    let topic = Topic::new("orders");
    let mut fs = Vec::new();
    for i in 0..20 {
        fs.push(
            producer
                .send(Record::new(topic.clone(), vec![b'x'; 50]).with_partition(2))
                .await
                .unwrap(),
        );
        let _ = i;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let done = fs.iter_mut().filter_map(|f| f.try_result()).count();
    assert!(
        done >= 10,
        "full batches go without waiting for linger.ms ({done} done)"
    );
    let log = cluster.partition("orders", 2).unwrap();
    assert!(log.batches.len() >= 2);
    for b in &log.batches {
        assert!(b.size_bytes <= 400 + 100, "batch of {} bytes", b.size_bytes);
    }
}

#[tokio::test(start_paused = true)]
async fn buffer_memory_backpressure_times_out_and_try_send_hands_back() {
    // Auto-create off and an unknown topic: records wait for metadata and
    // hold their buffer.memory.
    let cluster = cluster();
    let producer = producer(&cluster, |b| {
        b.buffer_memory(1_000)
            .max_block(Duration::from_millis(200))
            .allow_auto_create_topics(false)
    });
    let topic = Topic::new("nowhere");
    let mut held = Vec::new();
    loop {
        match producer.try_send(Record::new(topic.clone(), vec![0u8; 100])) {
            Ok(f) => held.push(f),
            Err(TrySendError::QueueFull(record)) => {
                assert_eq!(record.topic, topic, "the record comes back");
                break;
            }
            Err(e) => panic!("unexpected {e}"),
        }
        assert!(held.len() < 20, "buffer.memory never filled");
    }
    let start = tokio::time::Instant::now();
    let err = producer
        .send(Record::new(topic.clone(), vec![0u8; 100]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::BufferTimeout { .. }), "{err}");
    assert_eq!(start.elapsed(), Duration::from_millis(200));
    assert!(producer.metrics().buffer_used > 800);
}

#[tokio::test(start_paused = true)]
async fn flush_sends_now_and_waits_for_every_earlier_record() {
    let cluster = cluster();
    let producer = producer(&cluster, |b| {
        b.linger(Duration::from_secs(3600))
            .delivery_timeout(Duration::from_secs(7200))
    });
    let topic = Topic::new("orders");
    let mut fs = Vec::new();
    for i in 0..10 {
        fs.push(
            producer
                .send(Record::new(topic.clone(), value("orders", 3, i)).with_partition(3))
                .await
                .unwrap(),
        );
    }
    let start = tokio::time::Instant::now();
    producer.flush().await.unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "flush does not wait for linger.ms"
    );
    for f in &mut fs {
        assert!(
            matches!(f.try_result(), Some(Ok(_))),
            "resolved by the time flush returns"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn close_delivers_then_refuses() {
    let cluster = cluster();
    let producer = producer(&cluster, |b| b.linger(Duration::from_secs(1)));
    let topic = Topic::new("orders");
    let f = producer
        .send(Record::new(topic.clone(), "last words").with_partition(4))
        .await
        .unwrap();
    producer.close(Duration::from_secs(30)).await;
    assert!(f.await.is_ok());
    let err = producer
        .send(Record::new(topic.clone(), "too late"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Closed));
    assert!(matches!(
        producer.try_send(Record::new(topic, "too late")),
        Err(TrySendError::Closed(..))
    ));
}

#[tokio::test(start_paused = true)]
async fn dropping_the_producer_fails_outstanding_records() {
    let cluster = cluster();
    let producer = producer(&cluster, |b| b.allow_auto_create_topics(false));
    let f = producer
        .send(Record::new("nowhere", "lost?"))
        .await
        .unwrap();
    drop(producer);
    let err = f.await.unwrap_err();
    assert!(matches!(err, Error::Dropped), "{err}");
}

#[tokio::test(start_paused = true)]
async fn idempotent_retry_after_a_lost_response_is_answered_as_duplicate() {
    let cluster = cluster();
    // Broker appends the first Produce for orders-0, then never answers.
    cluster.add_fault(
        FaultRule::new(FaultAction::DropResponse)
            .api(ApiKey::Produce)
            .partition("orders", 0),
    );
    let producer = producer(&cluster, |b| {
        b.request_timeout(Duration::from_secs(2))
            .delivery_timeout(Duration::from_secs(30))
    });
    let topic = Topic::new("orders");
    let mut ledger = Ledger::default();
    ledger.send(&producer, &topic, 0, 5).await;
    let outcomes = ledger.outcomes().await;
    assert_eq!(outcomes.ok(), 5, "errors: {:?}", first_errors(&outcomes));
    assert_log_matches(&cluster, &outcomes).await;
    assert!(producer.metrics().retries >= 1);
    assert_eq!(
        cluster.counters().duplicate_batches,
        1,
        "the retry was recognised as a duplicate"
    );
}

#[tokio::test(start_paused = true)]
async fn metrics_count_what_happened() {
    let cluster = cluster();
    let producer = producer(&cluster, |b| b);
    let topic = Topic::new("orders");
    let mut ledger = Ledger::default();
    ledger.send(&producer, &topic, 5, 30).await;
    let outcomes = ledger.outcomes().await;
    assert_eq!(outcomes.ok(), 30);
    let m = producer.metrics();
    assert_eq!(m.records_sent, 30);
    assert_eq!(m.records_failed, 0);
    assert!(m.batches_sent >= 1 && m.requests_sent >= m.batches_sent.min(1));
    assert!(m.bytes_sent > 30 * 10);
    assert_eq!(m.in_flight_batches, 0);
    assert_eq!(m.buffer_used, 0);
    assert_eq!(m.buffer_memory, 32 * 1024 * 1024);
    assert!(!m.connections_per_broker.is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_oversized_record_fails_alone() {
    let cluster = cluster();
    let producer = producer(&cluster, |b| b.max_request_size(1_000));
    let topic = Topic::new("orders");
    let err = producer
        .send(Record::new(topic.clone(), vec![0u8; 2_000]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::RecordTooLarge {
                setting: "max.request.size",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        producer
            .send(Record::new(topic, "small"))
            .await
            .unwrap()
            .await
            .is_ok()
    );
}

#[tokio::test(start_paused = true)]
async fn unknown_topic_fails_after_the_delivery_timeout() {
    let cluster = cluster();
    let producer = producer(&cluster, |b| {
        b.allow_auto_create_topics(false)
            .delivery_timeout(Duration::from_secs(40))
    });
    let start = tokio::time::Instant::now();
    let err = producer
        .send(Record::new("missing", "v"))
        .await
        .unwrap()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DeliveryTimeout { .. }), "{err}");
    assert!(
        err.to_string().contains("UNKNOWN_TOPIC_OR_PARTITION"),
        "{err}"
    );
    assert_eq!(start.elapsed().as_secs(), 40);
}

#[tokio::test(start_paused = true)]
async fn unreachable_bootstrap_fails_within_the_delivery_timeout() {
    let cluster = cluster();
    let producer = common::producer_with_bootstrap(&cluster, "nobody-home:9092", |b| {
        b.delivery_timeout(Duration::from_secs(35))
    });
    let err = producer
        .send(Record::new("orders", "v"))
        .await
        .unwrap()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DeliveryTimeout { .. }), "{err}");
    assert!(err.to_string().contains("nobody-home"), "{err}");
}

#[test]
fn invalid_configurations_fail_at_build() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let e = kproducer::Producer::builder().build().unwrap_err();
        assert!(e.to_string().contains("bootstrap.servers"));
        let e = kproducer::Producer::builder()
            .bootstrap_servers(["b:1"])
            .enable_idempotence(true)
            .acks(kproducer::Acks::Leader)
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("`acks`"));
        let e = kproducer::Producer::builder()
            .bootstrap_servers(["b:1"])
            .first_sequence(-1)
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("first_sequence"), "{e}");
    });
}

#[test]
fn handles_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<kproducer::Producer>();
    send_sync::<kproducer::Error>();
    send_sync::<kproducer::ProducerMetrics>();
    send::<kproducer::DeliveryFuture>();
    send::<kproducer::Record>();
}

#[tokio::test(start_paused = true)]
async fn close_accepts_any_timeout() {
    let cluster = cluster();
    let producer = producer(&cluster, |b| b);
    let f = producer
        .send(Record::new("orders", "v").with_partition(0))
        .await
        .unwrap();
    producer.close(Duration::MAX).await;
    assert!(f.await.is_ok());
}

/// Records of two topics interleaved, through one handle each and through a
/// fresh name per record: every record is checked against its own topic's
/// partition count (the core remembers the last topic's; a stale answer
/// would accept `two`-4 or refuse `five`-4).
#[tokio::test(start_paused = true)]
async fn interleaved_topics_are_each_checked_against_their_own_partitions() {
    let cluster = FakeCluster::builder()
        .brokers(1)
        .topic("two", 2)
        .topic("five", 5)
        .build()
        .expect("cluster");
    let producer = producer(&cluster, |b| b);
    let two = Topic::new("two");
    let five = Topic::new("five");
    let mut fine = Vec::new();
    let mut refused = Vec::new();
    for round in 0..3 {
        let (a, b) = if round == 1 {
            // Same names, other handles.
            (Topic::new("two"), Topic::new("five"))
        } else {
            (two.clone(), five.clone())
        };
        for (topic, partition, ok) in [(&b, 4, true), (&a, 1, true), (&a, 4, false), (&b, 4, true)]
        {
            let delivery = producer
                .send(Record::new(topic.clone(), "v").with_partition(partition))
                .await
                .expect("handed over");
            if ok {
                fine.push((topic.as_str().to_owned(), partition, delivery));
            } else {
                refused.push(delivery);
            }
        }
    }
    for (topic, partition, delivery) in fine {
        let written = delivery.await.expect("delivered");
        assert_eq!(
            (written.topic.as_str(), written.partition),
            (topic.as_str(), partition)
        );
    }
    for delivery in refused {
        assert!(
            matches!(delivery.await, Err(Error::InvalidRecord { .. })),
            "two has no partition 4"
        );
    }
    producer.close(Duration::from_secs(1)).await;
}
