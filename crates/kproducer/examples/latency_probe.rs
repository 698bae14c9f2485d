//! Where a record's latency goes, measured from outside the producer.
//!
//! Runs the fake broker in this process (its own runtime and threads, over
//! loopback TCP, with its request log on), sends paced records from a plain
//! thread that stamps every record with its own clock read (as the
//! librdkafka peer does), and observes every delivery in a task that
//! awaits each future on its own, so each outcome is timed when it
//! resolves. Then it joins records to batches (partition and offset) and
//! batches to the broker's requests, and splits each record's latency into:
//!
//! - `send → broker starts`: linger, drain, the write, and any wait behind
//!   the connection's previous request (the broker serves one at a time;
//!   the share of records whose request started the moment the previous
//!   one finished, so waited, is printed last);
//! - `broker service`: the broker's own time on the request;
//! - `broker done → seen`: from the broker's answer to the delivery being
//!   seen;
//! - `batch open → broker − linger`: how late after its linger the
//!   broker started on a batch's request (timer, drain, write, queueing).
//!
//! ```text
//! cargo run --release -p kproducer --example latency_probe -- \
//!     [records] [records/s] [service µs] [µs per KiB] [linger ms] [property=value …]
//! ```

use std::collections::BTreeMap;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use kproducer::{DeliveryFuture, Producer, Record, Topic, TrySendError};

mod latency_common;
use latency_common::{arg, paced_cluster, pct, producer_config, properties, warm_up};

fn summary(name: &str, mut v: Vec<f64>) {
    v.sort_by(f64::total_cmp);
    println!(
        "{name:>28}: p50 {:7.3}  p90 {:7.3}  p99 {:7.3}  max {:7.3} ms",
        pct(&v, 0.5),
        pct(&v, 0.9),
        pct(&v, 0.99),
        pct(&v, 1.0)
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let records: u64 = arg(&args, 1, 1_000_000);
    let rate: u64 = arg(&args, 2, 379_000);
    let service_us: u64 = arg(&args, 3, 1000);
    let per_kib_us: u64 = arg(&args, 4, 10);
    let linger_ms: u64 = arg(&args, 5, 5);
    let extra = properties(&args, 6);

    let cluster = paced_cluster(service_us, per_kib_us)
        .record_requests(true)
        .build()
        .expect("cluster");
    let broker_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .thread_name("probe-broker")
        .build()
        .expect("runtime");
    let listener = broker_rt
        .block_on(cluster.listen("127.0.0.1:0"))
        .expect("listen");
    let bootstrap = listener.bootstrap_servers();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let config = producer_config(bootstrap, linger_ms, extra);
    let producer = rt.block_on(async {
        let producer = Producer::builder()
            .config(config)
            .build()
            .expect("producer");
        warm_up(&producer).await;
        producer
    });
    let warm_requests = cluster.requests().len();

    // Observer: every delivery awaited on its own.
    let (tx, rx) = std_mpsc::channel::<(u64, DeliveryFuture)>();
    let (otx, mut orx) = tokio::sync::mpsc::unbounded_channel::<(u64, DeliveryFuture)>();
    std::thread::spawn(move || {
        while let Ok(x) = rx.recv() {
            if otx.send(x).is_err() {
                break;
            }
        }
    });
    let observer = rt.spawn(async move {
        let mut set = FuturesUnordered::new();
        let mut seen: Vec<(u64, Instant, i32, i64)> = Vec::with_capacity(records as usize);
        let mut open = true;
        loop {
            tokio::select! {
                m = orx.recv(), if open => match m {
                    Some((i, f)) => set.push(async move {
                        let r = f.await;
                        let t = Instant::now();
                        (i, t, r)
                    }),
                    None => open = false,
                },
                Some((i, t, r)) = set.next(), if !set.is_empty() => {
                    let md = r.expect("delivered");
                    seen.push((i, t, md.partition, md.offset));
                }
                else => break,
            }
        }
        seen
    });

    let payload = Bytes::from(vec![b'x'; 100]);
    let topic = Topic::new("perf");
    let mut sent_at: Vec<Instant> = Vec::with_capacity(records as usize);
    let start = Instant::now();
    for i in 0..records {
        let due = start + Duration::from_nanos(i * 1_000_000_000 / rate);
        let now = Instant::now();
        if due > now + Duration::from_millis(1) {
            std::thread::sleep(due - now);
        }
        let mut r = Record::new(topic.clone(), payload.clone());
        let t = Instant::now();
        loop {
            match producer.try_send(r) {
                Ok(f) => {
                    tx.send((i, f)).expect("observer");
                    break;
                }
                Err(TrySendError::QueueFull(back)) => {
                    r = back;
                    std::thread::sleep(Duration::from_micros(100));
                }
                Err(e) => panic!("{e}"),
            }
        }
        sent_at.push(t);
    }
    drop(tx);
    let seen = rt.block_on(observer).expect("observer");
    let elapsed = start.elapsed();
    println!(
        "{records} records at {rate}/s offered, {:.0}/s achieved, service {service_us} µs + {per_kib_us} µs/KiB, linger {linger_ms} ms",
        records as f64 / elapsed.as_secs_f64()
    );
    let metrics = producer.metrics();
    println!("metrics: {metrics:?}");

    // Batches by (partition, base offset) → (request index, batch index).
    let requests = cluster.requests();
    let mut by_offset: BTreeMap<(i32, i64), (usize, i32)> = BTreeMap::new();
    let mut prev_fin_on_conn: BTreeMap<u64, Instant> = BTreeMap::new();
    let mut queued: Vec<Duration> = Vec::new();
    let mut req_batches = Vec::new();
    let mut req_sizes = Vec::new();
    let mut conns = std::collections::BTreeSet::new();
    for (ri, r) in requests.iter().enumerate() {
        let recv = r.received_at.into_std();
        let fin = r.finished_at.into_std();
        let q = prev_fin_on_conn
            .get(&r.connection.ordinal)
            .map_or(Duration::ZERO, |&p| {
                if recv.saturating_duration_since(p) < Duration::from_micros(30) {
                    // Started right when the previous one finished: it was
                    // waiting (an upper bound on the wait is unknown; count
                    // it as queued).
                    Duration::from_micros(1)
                } else {
                    Duration::ZERO
                }
            });
        queued.push(q);
        prev_fin_on_conn.insert(r.connection.ordinal, fin);
        if ri >= warm_requests && !r.batches.is_empty() {
            conns.insert(r.connection.ordinal);
            req_batches.push(r.batches.len() as f64);
            req_sizes.push(
                r.batches
                    .iter()
                    .map(|b| b.meta.record_count as f64)
                    .sum::<f64>(),
            );
        }
        for b in &r.batches {
            by_offset.insert(
                (b.topic_partition.partition, b.base_offset),
                (ri, b.meta.record_count),
            );
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (mut total, mut before, mut service, mut after, mut linger_excess) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut queued_records = 0u64;
    // First send time of every batch.
    let mut batch_open: BTreeMap<(usize, i32), Instant> = BTreeMap::new();
    let mut rec_req = Vec::with_capacity(seen.len());
    for &(i, t, p, off) in &seen {
        let Some((&(bp, base), &(ri, _n))) = by_offset.range(..=(p, off)).next_back() else {
            continue;
        };
        debug_assert_eq!(bp, p);
        let s = sent_at[i as usize];
        let e = batch_open.entry((ri, p)).or_insert(s);
        if s < *e {
            *e = s;
        }
        rec_req.push((i, t, ri, p, base));
    }
    for &(i, t, ri, p, _) in &rec_req {
        let r = &requests[ri];
        let s = sent_at[i as usize];
        let recv = r.received_at.into_std();
        let fin = r.finished_at.into_std();
        total.push(ms(t.saturating_duration_since(s)));
        before.push(ms(recv.saturating_duration_since(s)));
        service.push(ms(fin.saturating_duration_since(recv)));
        after.push(ms(t.saturating_duration_since(fin)));
        if queued[ri] > Duration::ZERO {
            queued_records += 1;
        }
        let open = batch_open[&(ri, p)];
        linger_excess.push(ms(recv.saturating_duration_since(open)) - linger_ms as f64);
    }
    summary("total (send → seen)", total);
    summary("send → broker starts", before);
    summary("broker service", service);
    summary("broker done → seen", after);
    summary("batch open → broker − linger", linger_excess);
    summary("batches per request", req_batches);
    summary("records per request", req_sizes);
    println!(
        "requests {} on {} connection(s); records in requests that started right as the previous finished: {:.1} %",
        requests.len() - warm_requests,
        conns.len(),
        100.0 * queued_records as f64 / seen.len().max(1) as f64
    );
    rt.block_on(producer.close(Duration::from_secs(10)));
    drop(listener);
}
