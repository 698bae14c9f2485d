//! What the two latency examples (`latency_model`, `latency_probe`) share:
//! their positional arguments, the paced-run fake broker, the producer's
//! settings and the warm-up, and percentiles of a sorted sample.

use std::time::Duration;

use bytes::Bytes;
use kproducer::{Producer, ProducerConfig, Record};
use kproducer_fake_broker::{FakeCluster, FakeClusterBuilder, ServiceTime};

/// Partitions of the `perf` topic.
pub(crate) const PARTITIONS: i32 = 6;

/// Positional argument `i`, or `default` when absent or unparsable.
pub(crate) fn arg<T: std::str::FromStr>(args: &[String], i: usize, default: T) -> T {
    args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default)
}

/// The `property=value` arguments from position `from` on.
pub(crate) fn properties(args: &[String], from: usize) -> Vec<(String, String)> {
    args.iter()
        .skip(from)
        .filter_map(|a| a.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The `q` quantile of an ascending sample (0 when empty).
pub(crate) fn pct(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
}

/// One broker with the `perf` topic, charging `service_us` per request plus
/// `per_kib_us` per KiB, records not validated; the caller adds the rest.
pub(crate) fn paced_cluster(service_us: u64, per_kib_us: u64) -> FakeClusterBuilder {
    FakeCluster::builder()
        .brokers(1)
        .topic("perf", PARTITIONS)
        .service_time(ServiceTime::new(
            Duration::from_micros(service_us),
            Duration::from_micros(per_kib_us),
        ))
        .validate_records(false)
}

/// The benchmark's producer settings (acks=all, idempotent, `linger_ms`,
/// 1 MiB batches), then `extra` over them.
pub(crate) fn producer_config(
    bootstrap: String,
    linger_ms: u64,
    extra: Vec<(String, String)>,
) -> ProducerConfig {
    let mut props = vec![
        ("bootstrap.servers".to_owned(), bootstrap),
        ("acks".to_owned(), "all".to_owned()),
        ("enable.idempotence".to_owned(), "true".to_owned()),
        ("linger.ms".to_owned(), linger_ms.to_string()),
        ("batch.size".to_owned(), "1048576".to_owned()),
    ];
    props.extend(extra);
    ProducerConfig::from_properties(props).expect("config")
}

/// One empty record to every partition, awaited: connections, metadata
/// and the producer id are in place before the timed run.
pub(crate) async fn warm_up(producer: &Producer) {
    let mut warm = Vec::new();
    for p in 0..PARTITIONS {
        let r = Record::new("perf", Bytes::new()).with_partition(p);
        warm.push(producer.send(r).await.expect("warm-up send"));
    }
    for w in warm {
        w.await.expect("warm-up");
    }
}
