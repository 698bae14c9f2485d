//! What the tests of both perf drivers (`load`: a future per record,
//! `reported`: delivery reports) run against: outcomes that reach the
//! driver at different times (six partitions, each request charged its own
//! service time) and a buffer small enough that the driver also waits for
//! space, so a lost wake-up shows as a run that never ends.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kproducer::{Producer, ProducerBuilder, ProducerConfig, Topic};
use kproducer_fake_broker::{FakeCluster, ServiceTime};

use super::load::LoadSpec;

/// Records each driver test sends.
pub(super) const RECORDS: u64 = 20_000;

/// A one-broker cluster with topic `perf` (6 partitions) charging 2 ms +
/// 50 µs per KiB per request.
pub(super) fn cluster() -> FakeCluster {
    FakeCluster::builder()
        .brokers(1)
        .topic("perf", 6)
        .service_time(ServiceTime::new(
            Duration::from_millis(2),
            Duration::from_micros(50),
        ))
        .validate_records(false)
        .build()
        .expect("a fake cluster")
}

/// A producer on `cluster` with 1 ms linger, 16 KiB batches and a 256 KiB
/// buffer; `tweak` adds what the driver needs (a delivery-report sink).
pub(super) fn producer(
    cluster: &FakeCluster,
    tweak: impl FnOnce(ProducerBuilder) -> ProducerBuilder,
) -> Producer {
    let config = ProducerConfig {
        linger: Duration::from_millis(1),
        batch_size: 16 * 1024,
        buffer_memory: 256 * 1024,
        ..ProducerConfig::default()
    };
    let builder = Producer::builder()
        .config(config)
        .bootstrap_servers(cluster.bootstrap_servers().split(','))
        .transport(Arc::new(cluster.transport()));
    tweak(builder).build().expect("a producer")
}

/// [`RECORDS`] records of 100 bytes to `perf`, unpaced.
pub(super) fn spec() -> LoadSpec {
    LoadSpec {
        topic: Topic::new("perf"),
        payload: Bytes::from_static(&[7; 100]),
        num_records: RECORDS,
        throughput: None,
    }
}
