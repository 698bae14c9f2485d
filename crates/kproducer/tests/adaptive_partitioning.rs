//! KIP-794's adaptive partitioning, end to end on paused time: keyless
//! records go preferably to partitions with few batches waiting, so a
//! broker that drains its partitions slowly gets fewer of them
//! (`partitioner.adaptive.partitioning.enable`, on by default); switched
//! off, every partition gets about as many. With
//! `partitioner.availability.timeout.ms`, a broker that stops taking
//! batches gets none once its oldest batch has waited that long.

mod common;

use std::time::Duration;

use common::producer;
use kproducer::{Producer, Record};
use kproducer_fake_broker::{FakeCluster, FaultAction, FaultRule};
use kproducer_protocol::ApiKey;

const TOPIC: &str = "events";
const RECORDS: usize = 20_000;

/// Partitions 0 and 1 on broker 0, 2 and 3 on broker 1, whose Produce
/// requests wait `delay` before they are served (a connection's later
/// requests wait behind): every one of them if `every`, else the first.
fn two_brokers_one_delayed(delay: Duration, every: bool) -> FakeCluster {
    let cluster = FakeCluster::builder()
        .brokers(2)
        .topic_with_leaders(TOPIC, &[0, 0, 1, 1])
        .build()
        .expect("cluster");
    let rule = FaultRule::new(FaultAction::Delay(delay))
        .api(ApiKey::Produce)
        .broker(1);
    cluster.add_fault(if every { rule.sticky() } else { rule });
    cluster
}

/// Sends `per_ms` keyless 100-byte records every millisecond for `ms`
/// milliseconds, waits for all of them, and returns the partition each
/// landed on.
async fn send_paced(producer: &Producer, per_ms: usize, ms: usize) -> Vec<i32> {
    let mut futures = Vec::with_capacity(per_ms * ms);
    for _ in 0..ms {
        for _ in 0..per_ms {
            let record = Record::new(TOPIC, vec![b'x'; 100]);
            futures.push(producer.send(record).await.expect("send"));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let mut partitions = Vec::with_capacity(futures.len());
    for (n, f) in futures.into_iter().enumerate() {
        let meta = f.await.unwrap_or_else(|e| panic!("record {n} failed: {e}"));
        partitions.push(meta.partition);
    }
    partitions
}

/// Sends `RECORDS` keyless 100-byte records, 200 every millisecond, waits
/// for all of them, and returns how many landed on each partition (read
/// from the broker's log).
async fn records_per_partition(cluster: &FakeCluster, producer: Producer) -> [i64; 4] {
    send_paced(&producer, 200, RECORDS / 200).await;
    let mut counts = [0; 4];
    for (p, count) in counts.iter_mut().enumerate() {
        *count = cluster
            .partition(TOPIC, p as i32)
            .expect("partition")
            .high_watermark;
    }
    assert_eq!(counts.iter().sum::<i64>(), RECORDS as i64, "{counts:?}");
    counts
}

async fn run(adaptive: bool) -> [i64; 4] {
    // Broker 1 takes 20 ms over every Produce request.
    let cluster = two_brokers_one_delayed(Duration::from_millis(20), true);
    let producer = producer(&cluster, |b| {
        b.linger(Duration::from_millis(5))
            .batch_size(16 * 1024)
            .connections(1, 1)
            .partitioner_adaptive(adaptive)
    });
    records_per_partition(&cluster, producer).await
}

/// The slow broker's share of the records.
fn slow_share(counts: [i64; 4]) -> f64 {
    (counts[2] + counts[3]) as f64 / counts.iter().sum::<i64>() as f64
}

#[tokio::test(start_paused = true)]
async fn a_slow_broker_gets_fewer_keyless_records() {
    let counts = run(true).await;
    let share = slow_share(counts);
    assert!(
        share < 0.35,
        "slow broker got {share:.2} of the records: {counts:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn switched_off_every_partition_gets_about_as_many() {
    let counts = run(false).await;
    let share = slow_share(counts);
    assert!(
        (0.4..0.6).contains(&share),
        "slow broker got {share:.2} of the records: {counts:?}"
    );
}

/// Broker 1 answers no Produce request for 2 s from the start (the
/// requests wait, then are served). Sends 20 keyless records every
/// millisecond for 1 s; returns how many went to broker 1's partitions.
async fn stalled_broker_share(availability_timeout: Duration) -> f64 {
    let cluster = two_brokers_one_delayed(Duration::from_secs(2), false);
    let producer = producer(&cluster, |b| {
        b.linger(Duration::from_millis(5))
            .batch_size(16 * 1024)
            .connections(1, 1)
            .partitioner_availability_timeout(availability_timeout)
    });
    let partitions = send_paced(&producer, 20, 1_000).await;
    let on_stalled = partitions.iter().filter(|&&p| p >= 2).count();
    on_stalled as f64 / partitions.len() as f64
}

#[tokio::test(start_paused = true)]
async fn a_broker_that_stops_taking_batches_is_left_out_after_the_availability_timeout() {
    let with = stalled_broker_share(Duration::from_millis(100)).await;
    let without = stalled_broker_share(Duration::ZERO).await;
    // Measured: 0.036 with the timeout (the records of its first 100 ms
    // and a linger), 0.139 without (the weights send the stalled broker
    // little, not nothing).
    assert!(
        with < 0.05,
        "with the timeout: {with:.3} of the records went to the stalled broker"
    );
    assert!(
        without > with * 2.0,
        "without: {without:.3}, with: {with:.3}"
    );
}
