//! Sending a [`Workload`] with kproducer, configured the way users
//! configure it: Kafka property names plus `kproducer.*` keys.

use std::time::{Duration, Instant};

use kproducer::{Producer, ProducerConfig, ProducerMetrics, Record, Topic};

use crate::consumed::Reported;
use crate::workload::Workload;

/// How long closing may take once every record is resolved.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(30);

/// What sending a workload produced.
#[derive(Debug, Clone)]
pub struct Produced {
    /// `reported[i]`: the partition and offset record `i` was acknowledged
    /// at (offset -1 with `acks=0`).
    pub reported: Vec<Reported>,
    /// From the first `send` until the last record resolved.
    pub elapsed: Duration,
    /// The producer's counters at the end.
    pub metrics: ProducerMetrics,
    /// Records whose delivery failed (reported as partition -1), when
    /// failures were tolerated.
    pub failed: usize,
}

/// Sends every record of `workload` to `topic` in record order from one
/// task, then waits for every delivery.
///
/// `properties` are Kafka producer properties (`bootstrap.servers` is
/// added from `bootstrap`), checked by [`ProducerConfig::from_properties`].
///
/// With `tolerate_failures` (a broker known to lose records, see
/// `Expectations::loss_tolerated`), failed deliveries are counted in
/// [`Produced::failed`] instead of failing the run: with `acks=0` a batch
/// whose connection died after it was written fails rather than being sent
/// twice.
///
/// # Errors
/// The configuration is refused, a `send` fails, or (unless tolerated) any
/// record's delivery fails: the first few failures, with the record numbers.
pub async fn produce(
    bootstrap: &str,
    topic: &str,
    workload: &Workload,
    properties: &[(&str, &str)],
    tolerate_failures: bool,
) -> Result<Produced, String> {
    let config = ProducerConfig::from_properties(
        properties
            .iter()
            .copied()
            .chain([("bootstrap.servers", bootstrap)]),
    )
    .map_err(|e| format!("properties {properties:?}: {e}"))?;
    let producer = Producer::builder()
        .config(config)
        .build()
        .map_err(|e| format!("building the producer: {e}"))?;
    let topic = Topic::new(topic);
    let started = Instant::now();
    let mut deliveries = Vec::with_capacity(usize::try_from(workload.records).unwrap_or(0));
    for i in 0..workload.records {
        let mut record = Record::new(topic.clone(), workload.value(i));
        if let Some(key) = workload.key(i) {
            record = record.with_key(key);
        }
        let delivery = producer
            .send(record)
            .await
            .map_err(|e| format!("send of record {i} failed: {e}"))?;
        deliveries.push(delivery);
    }
    let mut reported = Vec::with_capacity(deliveries.len());
    let mut failures = Vec::new();
    let mut failed = 0usize;
    for (i, delivery) in deliveries.into_iter().enumerate() {
        match delivery.await {
            Ok(meta) => reported.push((meta.partition, meta.offset)),
            Err(e) => {
                failed += 1;
                if failures.len() < 10 {
                    failures.push(format!("record {i}: {e}"));
                }
                reported.push((-1, -1));
            }
        }
    }
    let elapsed = started.elapsed();
    let metrics = producer.metrics();
    producer.close(CLOSE_TIMEOUT).await;
    if failed > 0 && !tolerate_failures {
        return Err(format!(
            "{failed} of {} records failed delivery (metrics: {metrics:?}); first:\n{}",
            workload.records,
            failures.join("\n")
        ));
    }
    Ok(Produced {
        reported,
        elapsed,
        metrics,
        failed,
    })
}
