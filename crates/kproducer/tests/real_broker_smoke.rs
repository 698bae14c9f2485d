//! A smoke test against a real broker: 10,000 idempotent records to a
//! 6-partition topic named `real`, every future resolved `Ok`, offsets per
//! partition contiguous and in send order. Skips (with the reason printed)
//! unless `KPRODUCER_BOOTSTRAP` names a broker:
//!
//! ```text
//! export KPRODUCER_BOOTSTRAP=$(cargo xtask broker start --topic real:6 | tail -n1)
//! cargo test -p kproducer --test real_broker_smoke -- --nocapture
//! cargo xtask broker stop
//! ```

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kproducer::{Producer, Record, Topic};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_idempotent_records_to_a_real_broker() {
    let Ok(bootstrap) = std::env::var("KPRODUCER_BOOTSTRAP") else {
        println!(
            "skipped: KPRODUCER_BOOTSTRAP is not set (start a broker with `cargo xtask broker start --topic real:6`)"
        );
        return;
    };
    let producer = Producer::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .delivery_timeout(Duration::from_secs(60))
        .build()
        .expect("producer");
    let topic = Topic::new("real");
    let start = Instant::now();
    let mut futures = Vec::new();
    for i in 0..10_000 {
        let record = Record::new(topic.clone(), format!("record-{i:05}")).with_partition(i % 6);
        futures.push((i % 6, producer.send(record).await.expect("send")));
    }
    let mut last: BTreeMap<i32, i64> = BTreeMap::new();
    for (partition, f) in futures {
        let m = f.await.expect("delivered");
        assert_eq!(m.partition, partition);
        if let Some(prev) = last.insert(partition, m.offset) {
            assert_eq!(m.offset, prev + 1, "offsets contiguous and in send order");
        }
    }
    let m = producer.metrics();
    println!(
        "10,000 records in {:?}; metrics: {} batches, {} requests, {} retries, errors {:?}, connections {:?}",
        start.elapsed(),
        m.batches_sent,
        m.requests_sent,
        m.retries,
        m.errors_by_code,
        m.connections_per_broker
    );
    producer.close(Duration::from_secs(5)).await;
}
