//! The deterministic proof of adaptive scaling against the fake broker
//! (issue 4, "Deterministic proof"), on paused tokio time.
//!
//! Setup: one broker, topics `a` and `b` with partitions 0..6 each (twelve
//! partitions sharing partition numbers), a broker that serves each
//! connection strictly serially and charges 1 ms per request plus 2 ms per
//! KiB, and 1 KiB records. One connection then carries at most ~500 KiB of
//! records per virtual second, so under sustained load it is the bottleneck;
//! the broker serves connections in parallel, so more connections help.
//!
//! Everything asserted about ordering and in-flight requests is read from
//! the fake broker's request log (`received_at` / `finished_at` per
//! request), not from the producer's own bookkeeping. `received_at` is when
//! the broker began serving a request (a connection is served serially), so
//! a request pipelined early onto a *busy* connection B would only show as
//! an overlap if B reached it before A finished; a move onto an idle
//! connection (the usual case) shows at once, and the broker's
//! sequence check (no 45) covers the rest.

mod common;

/// A short burst gets its width quickly (the round-trip cooldown).
#[path = "adaptive_scaling/burst.rs"]
mod burst;

/// A paced load below one connection's capacity keeps one connection, and
/// a stall it catches up from does not leave it wide.
#[path = "adaptive_scaling/paced.rs"]
mod paced;

/// A jittery broker does not make the width flap.
#[path = "adaptive_scaling/jitter.rs"]
mod jitter;

/// Several brokers: a slow one widens, the fast ones do not; a broker that
/// gets slower widens, one that stops answering does not.
#[path = "adaptive_scaling/several_brokers.rs"]
mod several_brokers;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use kproducer::{DeliveryFuture, Producer, Record, Topic};
use kproducer_fake_broker::{
    ConnectionId, FakeCluster, RequestRecord, ServiceTime, TopicPartition,
};
use kproducer_net::ScalerConfig;
use kproducer_protocol::{ApiKey, ErrorCode};
use tokio::time::Instant;

const TOPICS: [&str; 2] = ["a", "b"];
const PARTITIONS_PER_TOPIC: i32 = 6;
const MAX_WIDTH: usize = 4;
const RECORD_BYTES: usize = 1024;

/// The broker serves a connection one request at a time: 1 ms + 2 ms/KiB.
fn service() -> ServiceTime {
    ServiceTime::new(Duration::from_millis(1), Duration::from_millis(2))
}

fn cluster() -> FakeCluster {
    let mut b = FakeCluster::builder().brokers(1).service_time(service());
    for t in TOPICS {
        b = b.topic(t, PARTITIONS_PER_TOPIC);
    }
    b.build().expect("cluster")
}

/// Short cooldown and sustained-low window so the whole story fits in a
/// few virtual seconds; every other threshold is the default.
fn scaler() -> ScalerConfig {
    ScalerConfig {
        min_width: 1,
        max_width: MAX_WIDTH,
        initial_width: 1,
        cooldown: Duration::from_secs(1),
        sustained_low: Duration::from_secs(3),
        ..ScalerConfig::default()
    }
}

/// `adaptive`: the scaler decides within `[1, MAX_WIDTH]`; otherwise the
/// width is fixed at `fixed_width`.
fn producer(cluster: &FakeCluster, adaptive: bool, fixed_width: usize) -> Producer {
    common::producer(cluster, |b| {
        let b = b
            .batch_size(8 * 1024)
            .buffer_memory(256 * 1024)
            .adaptive_connections(adaptive);
        if adaptive {
            b.scaler(scaler())
        } else {
            b.scaler(ScalerConfig {
                min_width: fixed_width,
                max_width: fixed_width,
                initial_width: fixed_width,
                ..ScalerConfig::default()
            })
        }
    })
}

/// The `i`-th record of the round-robin over all twelve partitions.
fn record(i: usize) -> Record {
    let topic = TOPICS[i % 2];
    let partition = (i / 2) as i32 % PARTITIONS_PER_TOPIC;
    let mut value = format!("{topic}/{partition}/{i:08}").into_bytes();
    value.resize(RECORD_BYTES, b'.');
    Record::new(Topic::new(topic), Bytes::from(value)).with_partition(partition)
}

/// What the load generator sent: per record index, its future.
type Sent = Vec<(usize, DeliveryFuture)>;

/// Sends records round-robin until `stop`: as fast as the buffer admits
/// (`pace = None`, so `send` waits for buffer memory: sustained load), or
/// one every `pace`.
async fn load(
    producer: Producer,
    from: usize,
    pace: Option<Duration>,
    stop: Arc<AtomicBool>,
) -> (Sent, usize) {
    let mut sent = Vec::new();
    let mut i = from;
    while !stop.load(Ordering::Relaxed) {
        let f = producer.send(record(i)).await.expect("send admitted");
        sent.push((i, f));
        i += 1;
        if let Some(p) = pace {
            tokio::time::sleep(p).await;
        } else if i.is_multiple_of(64) {
            // Let the core run; `send` alone only yields when the buffer
            // is full.
            tokio::task::yield_now().await;
        }
    }
    (sent, i)
}

/// Samples the broker's width every 10 ms until `stop`.
async fn watch_width(producer: Producer, stop: Arc<AtomicBool>) -> Vec<(Instant, usize)> {
    let mut samples = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let w = producer
            .metrics()
            .connections_per_broker
            .values()
            .copied()
            .sum();
        if samples.last().is_none_or(|&(_, last)| last != w) {
            samples.push((Instant::now(), w));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    samples
}

/// Awaits every future: all succeed, and per partition the offsets
/// increase in send order (nothing lost, duplicated or reordered).
async fn assert_all_delivered_in_order(sent: Sent) {
    let mut last: BTreeMap<(String, i32), (usize, i64)> = BTreeMap::new();
    for (i, f) in sent {
        let m = f
            .await
            .unwrap_or_else(|e| panic!("record {i} failed (seed {:#x}): {e}", common::SEED));
        let key = (m.topic.to_string(), m.partition);
        if let Some(&(prev, offset)) = last.get(&key) {
            assert!(
                m.offset > offset,
                "{key:?}: record {i} at offset {} not after record {prev} at {offset}",
                m.offset
            );
        }
        last.insert(key, (i, m.offset));
    }
}

fn produce_requests(cluster: &FakeCluster) -> Vec<RequestRecord> {
    let mut r: Vec<_> = cluster
        .requests()
        .into_iter()
        .filter(|r| r.api_key == ApiKey::Produce as i16)
        .collect();
    r.sort_by_key(|r| (r.received_at, r.seq));
    r
}

/// No batch answered 45, and no partition was ever served on two
/// connections at once: a partition's request on connection B began only
/// after every earlier request of that partition on any other connection
/// had finished. Returns how many partitions moved between connections
/// (so the check is known not to be vacuous).
fn assert_no_overlap_and_no_45(requests: &[RequestRecord]) -> usize {
    let mut finished: BTreeMap<TopicPartition, BTreeMap<ConnectionId, Instant>> = BTreeMap::new();
    for r in requests {
        for b in &r.batches {
            assert_ne!(
                b.error_code,
                ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
                "request #{} on {}: {} answered 45",
                r.seq,
                r.connection,
                b.topic_partition
            );
            let per_conn = finished.entry(b.topic_partition.clone()).or_default();
            for (&other, &done) in per_conn.iter() {
                assert!(
                    other == r.connection || done <= r.received_at,
                    "{} served on {} at {:?} while a request of it on {other} \
                     ran until {:?}",
                    b.topic_partition,
                    r.connection,
                    r.received_at,
                    done
                );
            }
            let done = per_conn.entry(r.connection).or_insert(r.finished_at);
            *done = (*done).max(r.finished_at);
        }
    }
    finished.values().filter(|c| c.len() > 1).count()
}

/// The broker was serving at least one Produce request at every instant of
/// `[from, to]`; a request being served is in flight at the producer, so
/// the producer's total in-flight count never reached zero. Returns the
/// first gap, if any.
fn first_idle_gap(
    requests: &[RequestRecord],
    from: Instant,
    to: Instant,
) -> Option<(Instant, Instant)> {
    let mut covered_until = from;
    for r in requests {
        if r.received_at > to {
            break;
        }
        if r.received_at > covered_until {
            return Some((covered_until, r.received_at));
        }
        covered_until = covered_until.max(r.finished_at);
    }
    (covered_until < to).then_some((covered_until, to))
}

/// Records the broker acknowledged in requests that finished in
/// `[from, to)`, per virtual second.
fn throughput(requests: &[RequestRecord], from: Instant, to: Instant) -> f64 {
    let records: i64 = requests
        .iter()
        .filter(|r| r.finished_at >= from && r.finished_at < to)
        .flat_map(|r| &r.batches)
        .filter(|b| b.error_code == ErrorCode::NONE)
        .map(|b| i64::from(b.meta.record_count))
        .sum();
    records as f64 / (to - from).as_secs_f64()
}

fn width_at(samples: &[(Instant, usize)], t: Instant) -> usize {
    samples
        .iter()
        .take_while(|&&(at, _)| at <= t)
        .last()
        .map_or(0, |&(_, w)| w)
}

/// Captures the scaler's and router's events, debug and up, for the
/// observability assertions; active on this thread (the paused-time
/// runtime's only one) while the guard lives.
fn capture_scaling_logs() -> (common::CapturedLogs, tracing::subscriber::DefaultGuard) {
    common::capture_logs("kproducer_net::scaler=debug,kproducer_net::router=debug")
}

/// The captured log lines that report a connection group's width change.
fn width_changes(log: &common::CapturedLogs) -> Vec<String> {
    log.lines()
        .into_iter()
        .filter(|l| l.contains("connection group width changes"))
        .collect()
}

/// Sustained saturating load for `RAMP`, then a trickle for `TRICKLE`.
const RAMP: Duration = Duration::from_secs(6);
const TRICKLE: Duration = Duration::from_secs(12);
/// Bounds the test asserts (derived in `docs/scaling.md`).
/// Scale-up: one step per cooldown at worst, plus a window and a tick.
const SCALE_UP_BOUND: Duration = Duration::from_secs(MAX_WIDTH as u64 - 1 + 1);
/// Scale-down: 4 → 2 → 1, each after sustained-low (3 s) and a cooldown.
const SCALE_DOWN_BOUND: Duration = Duration::from_secs(10);

#[tokio::test(start_paused = true)]
async fn sustained_load_widens_to_max_and_narrows_when_it_drops() {
    let (log, _tracing) = capture_scaling_logs();
    let cluster = cluster();
    let producer = producer(&cluster, true, 1);
    let start = Instant::now();

    let watching = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn(watch_width(producer.clone(), watching.clone()));

    let stop = Arc::new(AtomicBool::new(false));
    let heavy = tokio::spawn(load(producer.clone(), 0, None, stop.clone()));
    tokio::time::sleep(RAMP).await;
    stop.store(true, Ordering::Relaxed);
    let (mut sent, next) = heavy.await.expect("heavy load");
    let ramp_end = Instant::now();

    let stop = Arc::new(AtomicBool::new(false));
    let light = tokio::spawn(load(
        producer.clone(),
        next,
        Some(Duration::from_millis(50)),
        stop.clone(),
    ));
    tokio::time::sleep(TRICKLE).await;
    stop.store(true, Ordering::Relaxed);
    let (trickle, _) = light.await.expect("light load");
    sent.extend(trickle);
    let records = sent.len();
    assert_all_delivered_in_order(sent).await;
    watching.store(true, Ordering::Relaxed);
    let widths = watcher.await.expect("watcher");

    let requests = produce_requests(&cluster);
    let timeline: Vec<String> = widths
        .iter()
        .map(|(t, w)| format!("{:.2}s:{w}", (*t - start).as_secs_f64()))
        .collect();
    println!("width timeline: {timeline:?}; {records} records");

    // Grows from 1 to the maximum within the bound.
    // (0 until the producer has looked the broker up.)
    assert_eq!(
        widths.iter().map(|w| w.1).find(|&w| w > 0),
        Some(1),
        "starts at one connection"
    );
    let reached_max = widths
        .iter()
        .find(|(_, w)| *w == MAX_WIDTH)
        .map(|(t, _)| *t)
        .unwrap_or_else(|| panic!("never reached {MAX_WIDTH}: {timeline:?}"));
    assert!(
        reached_max - start <= SCALE_UP_BOUND,
        "reached {MAX_WIDTH} only after {:?}: {timeline:?}",
        reached_max - start
    );
    assert_eq!(
        width_at(&widths, ramp_end),
        MAX_WIDTH,
        "held the maximum under load: {timeline:?}"
    );

    // The hard scenario: the broker was never idle from the first Produce
    // until the maximum was reached, so total in flight never hit zero.
    let first = requests.first().expect("some produce requests").received_at;
    assert_eq!(
        first_idle_gap(&requests, first, reached_max),
        None,
        "in flight reached zero during the ramp"
    );
    // In fact it never did during the whole sustained-load phase.
    assert_eq!(first_idle_gap(&requests, first, ramp_end), None);

    // Narrows back to one connection once the load drops.
    let back_to_one = widths
        .iter()
        .find(|(t, w)| *t > ramp_end && *w == 1)
        .map(|(t, _)| *t)
        .unwrap_or_else(|| panic!("never narrowed back to 1: {timeline:?}"));
    assert!(
        back_to_one - ramp_end <= SCALE_DOWN_BOUND,
        "narrowed only {:?} after the load dropped: {timeline:?}",
        back_to_one - ramp_end
    );

    // Ordering, from the broker's log.
    let moved = assert_no_overlap_and_no_45(&requests);
    assert!(
        moved > 0,
        "no partition ever changed connection: the check proved nothing"
    );
    let connections: std::collections::BTreeSet<_> =
        requests.iter().map(|r| r.connection).collect();
    assert!(connections.len() >= MAX_WIDTH, "{connections:?}");
    println!(
        "{moved} of 12 partitions changed connection; {} connections used; throughput at width {MAX_WIDTH}: {:.0} records/s",
        connections.len(),
        throughput(&requests, reached_max + Duration::from_secs(1), ramp_end)
    );
    producer.close(Duration::from_secs(5)).await;

    // Observability: every width change at info with its reason and
    // signals; fences raised and lifted at debug.
    let lines = log.lines();
    let changes = width_changes(&log);
    for l in &changes {
        println!("{l}");
        assert!(l.trim_start().starts_with("INFO"), "{l}");
        for field in [
            "from=",
            "to=",
            "reason=",
            "wait_fraction=",
            "busy_fraction=",
            "buffer_fill=",
            "throughput_bytes_per_sec=",
        ] {
            assert!(l.contains(field), "{field} missing: {l}");
        }
    }
    // 1→2→3→4 and 4→2→1, as the width timeline shows.
    assert_eq!(
        changes.len(),
        widths.windows(2).filter(|w| w[0].1 > 0).count(),
        "{changes:#?}"
    );
    let count = |what: &str| {
        lines
            .iter()
            .filter(|l| l.trim_start().starts_with("DEBUG") && l.contains(what))
            .count()
    };
    let raised = count("fence raised");
    let lifted = count("fence lifted");
    println!("fences raised {raised}, lifted {lifted}");
    assert!(raised > 0, "no fence was ever raised");
    assert_eq!(raised, lifted, "every fence raised was lifted");
}

/// Saturating load at a fixed width for `FIXED_RUN`; throughput measured
/// over its second half, in records per virtual second.
async fn fixed_width_throughput(width: usize) -> f64 {
    const FIXED_RUN: Duration = Duration::from_secs(4);
    let cluster = cluster();
    let producer = producer(&cluster, false, width);
    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let heavy = tokio::spawn(load(producer.clone(), 0, None, stop.clone()));
    tokio::time::sleep(FIXED_RUN).await;
    stop.store(true, Ordering::Relaxed);
    let (sent, _) = heavy.await.expect("load");
    let end = Instant::now();
    assert_all_delivered_in_order(sent).await;
    let requests = produce_requests(&cluster);
    assert_eq!(
        assert_no_overlap_and_no_45(&requests),
        0,
        "fixed width: nothing moves"
    );
    producer.close(Duration::from_secs(5)).await;
    throughput(&requests, start + FIXED_RUN / 2, end)
}

#[tokio::test(start_paused = true)]
async fn max_width_multiplies_throughput_when_one_connection_is_the_bottleneck() {
    let one = fixed_width_throughput(1).await;
    let max = fixed_width_throughput(MAX_WIDTH).await;
    let gain = max / one;
    println!(
        "throughput (records of {RECORD_BYTES} B per virtual second): width 1 {one:.0}, width {MAX_WIDTH} {max:.0}, gain {gain:.2}x"
    );
    // Paused time: these are exact, repeatable numbers, not timings.
    assert!(
        gain > 3.0,
        "gain {gain:.2} (width 1 {one:.0}/s, width {MAX_WIDTH} {max:.0}/s)"
    );
}

/// A Produce request for partition `a-0` on connection `ordinal`, served
/// over `[from_ms, to_ms]` after `t0`.
fn synthetic(t0: Instant, ordinal: u64, from_ms: u64, to_ms: u64) -> RequestRecord {
    use kproducer_fake_broker::{BatchMeta, Disposition, ProducedBatch};
    RequestRecord {
        seq: ordinal,
        connection: ConnectionId { broker: 1, ordinal },
        api_key: ApiKey::Produce as i16,
        api_version: 9,
        correlation_id: 1,
        batches: vec![ProducedBatch {
            topic_partition: TopicPartition::new("a", 0),
            meta: BatchMeta {
                producer_id: 1,
                producer_epoch: 0,
                base_sequence: 0,
                record_count: 1,
                is_transactional: false,
                is_control: false,
                max_timestamp: 0,
            },
            last_sequence: 0,
            error_code: ErrorCode::NONE,
            base_offset: 0,
        }],
        disposition: Disposition::Answered,
        received_at: t0 + Duration::from_millis(from_ms),
        finished_at: t0 + Duration::from_millis(to_ms),
    }
}

/// The log checks above can fail: a partition served on connection 1 while
/// its request on connection 0 is still being served is caught.
#[test]
#[should_panic(expected = "served on broker 1 connection #1")]
fn the_overlap_check_catches_a_partition_on_two_connections() {
    let t0 = Instant::now();
    assert_no_overlap_and_no_45(&[synthetic(t0, 0, 0, 10), synthetic(t0, 1, 5, 15)]);
}

#[test]
fn the_overlap_check_accepts_a_clean_hand_over_and_the_gap_check_finds_gaps() {
    let t0 = Instant::now();
    let clean = [synthetic(t0, 0, 0, 10), synthetic(t0, 1, 10, 15)];
    assert_eq!(assert_no_overlap_and_no_45(&clean), 1);
    let end = t0 + Duration::from_millis(15);
    assert_eq!(first_idle_gap(&clean, t0, end), None);
    let gappy = [synthetic(t0, 0, 0, 10), synthetic(t0, 1, 12, 15)];
    assert_eq!(
        first_idle_gap(&gappy, t0, end),
        Some((
            t0 + Duration::from_millis(10),
            t0 + Duration::from_millis(12)
        ))
    );
}
