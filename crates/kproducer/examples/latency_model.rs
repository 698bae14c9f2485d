//! The producer's latency by design, without CPU: a paced run against the
//! in-memory fake broker on paused tokio time, so every microsecond in the
//! result is a decision (linger, drain, the broker's service time, timer
//! ticks), never a thread waiting for a core.
//!
//! The sender offers `rate` records per second in steps of `step` µs
//! (default 100: the clock is moved exactly, so records arrive between
//! timer ticks as they do in real time, while tokio's timers still fire on
//! whole milliseconds); each record is timed from its step to the moment
//! its delivery resolves.
//!
//! ```text
//! cargo run --release -p kproducer --example latency_model -- \
//!     [records] [records/s] [service µs] [µs per KiB] [linger ms] [step µs] [property=value …]
//! ```

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use kproducer::{Producer, Record, Topic, TrySendError};
use kproducer_net::Transport;
use kproducer_protocol::ApiKey;
use tokio::time::Instant;

/// Yields per step that let the producer, its connections and the broker
/// run what a step started (a handful of task hops each).
const IDLE_POLLS: usize = 16;

mod latency_common;
use latency_common::{arg, paced_cluster, pct, producer_config, properties, warm_up};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let records: u64 = arg(&args, 1, 400_000);
    let rate: u64 = arg(&args, 2, 379_000);
    let service_us: u64 = arg(&args, 3, 1000);
    let per_kib_us: u64 = arg(&args, 4, 10);
    let linger_ms: u64 = arg(&args, 5, 5);
    let step_us: u64 = arg(&args, 6, 100);
    let extra = properties(&args, 7);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let cluster = paced_cluster(service_us, per_kib_us)
            .build()
            .expect("cluster");
        let config = producer_config(cluster.bootstrap_servers(), linger_ms, extra);
        let transport: Arc<dyn Transport> = Arc::new(cluster.transport());
        let producer = Producer::builder()
            .config(config)
            .transport(transport)
            .build()
            .expect("producer");
        warm_up(&producer).await;
        let warm_requests = cluster.requests().len();
        let payload = Bytes::from(vec![b'x'; 100]);
        let topic = Topic::new("perf");
        let mut pending = FuturesUnordered::new();
        let mut latencies: Vec<f64> = Vec::with_capacity(records as usize);
        let start = Instant::now();
        let mut sent = 0u64;
        let mut step = 0u64;
        while sent < records || !pending.is_empty() {
            // This step's share of the schedule.
            step += 1;
            let due = (step * step_us * rate / 1_000_000).min(records);
            let now = Instant::now();
            while sent < due {
                let mut r = Record::new(topic.clone(), payload.clone());
                loop {
                    match producer.try_send(r) {
                        Ok(f) => {
                            pending.push(async move {
                                f.await.expect("delivered");
                                Instant::now() - now
                            });
                            break;
                        }
                        Err(TrySendError::QueueFull(back)) => {
                            r = back;
                            if let Some(l) = pending.next().await {
                                latencies.push(l.as_secs_f64() * 1000.0);
                            }
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
                sent += 1;
            }
            // Let every task run to a standstill, collecting outcomes, then
            // move the clock exactly to the next step (firing the timers
            // whose tick has come).
            for _ in 0..IDLE_POLLS {
                while let Some(Some(l)) = pending.next().now_or_never() {
                    latencies.push(l.as_secs_f64() * 1000.0);
                }
                tokio::task::yield_now().await;
            }
            let next = start + Duration::from_micros(step * step_us);
            tokio::time::advance(next.saturating_duration_since(Instant::now())).await;
        }
        latencies.sort_by(f64::total_cmp);
        let requests: Vec<_> = cluster
            .requests()
            .into_iter()
            .skip(warm_requests)
            .filter(|r| r.api_key == ApiKey::Produce as i16)
            .collect();
        let batches: usize = requests.iter().map(|r| r.batches.len()).sum();
        let m = producer.metrics();
        println!(
            "{records} records at {rate}/s, service {service_us} µs + {per_kib_us} µs/KiB, linger {linger_ms} ms: \
             p50 {:.3} p90 {:.3} p99 {:.3} p99.9 {:.3} max {:.3} ms; {} requests, {:.2} batches each; connections {:?}",
            pct(&latencies, 0.5),
            pct(&latencies, 0.9),
            pct(&latencies, 0.99),
            pct(&latencies, 0.999),
            pct(&latencies, 1.0),
            requests.len(),
            batches as f64 / requests.len().max(1) as f64,
            m.connections_per_broker,
        );
        producer.close(Duration::from_secs(10)).await;
    });
}
