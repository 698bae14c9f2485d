//! Throughput and allocations per record: 1M records of 100 bytes,
//! idempotent, 6 partitions, against the in-process fake broker, with
//! adaptive connections on and off. Ignored by default; run in release:
//!
//! ```text
//! cargo test --release -p kproducer --test throughput -- --ignored --nocapture --test-threads 1
//! ```
//!
//! Allocations are counted two ways: on the sending thread around `send`
//! only (the per-record cost a user pays), and for the whole process (the
//! producer's task *and* the fake broker, which decodes every request).

use std::time::{Duration, Instant};

use bytes::Bytes;
use kproducer::{Record, Topic};
use kproducer_fake_broker::ServiceTime;

mod counting;

#[global_allocator]
static GLOBAL: counting::CountingAllocator = counting::CountingAllocator;

/// Records per run: 1M, or `KPRODUCER_BENCH_RECORDS` (longer runs show
/// what the scaler does after its first cooldowns).
fn records() -> usize {
    std::env::var("KPRODUCER_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// Delivery futures kept at most; older ones are awaited (long resolved)
/// to bound memory on long runs.
const MAX_PENDING_FUTURES: usize = 1_000_000;
const PARTITIONS: i32 = 6;

/// CPU time the whole process has used (user + system): the sum over its
/// threads of `/proc/self/task/*/schedstat` (nanoseconds on a CPU), else
/// `/proc/self/stat` (10 ms ticks); `None` off Linux. Threads that ended
/// are not counted by the first; the runtime's threads live through a run.
fn process_cpu() -> Option<Duration> {
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        let mut ns: u64 = 0;
        for task in tasks.flatten() {
            let stat = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
            ns += stat.split_whitespace().next()?.parse::<u64>().ok()?;
        }
        return Some(Duration::from_nanos(ns));
    }
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the full line, 12 and 13 here,
    // in clock ticks (100 per second on Linux).
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

struct Run {
    cpu: Option<Duration>,
    elapsed: Duration,
    send_allocs: u64,
    total_allocs: u64,
    connections: usize,
}

fn run(adaptive: bool, service: ServiceTime) -> Run {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let (_cluster, producer) = counting::measured_setup(PARTITIONS, service, adaptive);
        let topic = Topic::new("bench");
        let payload = Bytes::from(vec![b'x'; 100]);
        // Warm-up: metadata, producer id, connections.
        for p in 0..PARTITIONS {
            producer
                .send(Record::new(topic.clone(), payload.clone()).with_partition(p))
                .await
                .expect("send")
                .await
                .expect("warm-up delivery");
        }
        let total = records();
        let mut futures = std::collections::VecDeque::with_capacity(total.min(MAX_PENDING_FUTURES));
        let start = Instant::now();
        let cpu_before = process_cpu();
        let total_before = counting::allocations_total();
        let mut send_allocs = 0;
        for i in 0..total {
            let record =
                Record::new(topic.clone(), payload.clone()).with_partition(i as i32 % PARTITIONS);
            let before = counting::allocations_here();
            let f = producer.send(record).await.expect("send");
            send_allocs += counting::allocations_here() - before;
            futures.push_back(f);
            if futures.len() > MAX_PENDING_FUTURES
                && let Some(oldest) = futures.pop_front()
            {
                oldest.await.expect("delivered");
            }
        }
        for f in futures {
            f.await.expect("delivered");
        }
        let elapsed = start.elapsed();
        let cpu = process_cpu()
            .zip(cpu_before)
            .map(|(a, b)| a.saturating_sub(b));
        let total_allocs = counting::allocations_total() - total_before;
        let connections = producer.metrics().connections_per_broker.values().sum();
        producer.close(Duration::from_secs(5)).await;
        Run {
            cpu,
            elapsed,
            send_allocs,
            total_allocs,
            connections,
        }
    })
}

fn report(name: &str, r: &Run) {
    let records = records();
    println!(
        "{name}: {records} records in {:.3} s = {:.0} records/s (process CPU {:.3} s = {:.0} records per CPU-second); allocations per record: send path {:.2}, whole process (producer + fake broker) {:.2}; connections at end {}",
        r.elapsed.as_secs_f64(),
        records as f64 / r.elapsed.as_secs_f64(),
        r.cpu.map_or(f64::NAN, |c| c.as_secs_f64()),
        r.cpu.map_or(f64::NAN, |c| records as f64 / c.as_secs_f64()),
        r.send_allocs as f64 / records as f64,
        r.total_allocs as f64 / records as f64,
        r.connections,
    );
}

#[test]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
fn throughput_idempotent_6_partitions() {
    // KPRODUCER_BENCH_ZERO_ONLY=1 skips the runs with a broker service
    // time (for profiling the client alone).
    let zero_only = std::env::var_os("KPRODUCER_BENCH_ZERO_ONLY").is_some();
    for service in [
        ServiceTime::zero(),
        ServiceTime::new(Duration::from_micros(50), Duration::from_micros(200)),
    ] {
        if zero_only && service.fixed > Duration::ZERO {
            continue;
        }
        for adaptive in [true, false] {
            let r = run(adaptive, service);
            report(
                &format!(
                    "adaptive {} / broker service time {:?} + {:?} per KiB",
                    if adaptive { "on " } else { "off" },
                    service.fixed,
                    service.per_kib
                ),
                &r,
            );
        }
    }
}
