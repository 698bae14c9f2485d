//! Several brokers, one of them slow. `buffer.memory` is shared by all
//! brokers: a slow broker's partitions fill it, and the sender blocks for
//! everyone. Each broker's scaler must count the buffer as pressure only
//! in proportion to what *its* partitions hold, so the fast brokers keep
//! one connection while the slow one widens (it charges per KiB and serves
//! one request at a time per connection, so more connections help it).
//!
//! And over time: a broker that becomes slower for good (3× its service
//! time) while a paced load fits one connection before, but not after,
//! widens within a bounded time; a broker that stops answering for a while
//! (every Produce request held) does not widen while it is silent.

use super::paced::{paced, paced_producer};
use super::*;
use kproducer_fake_broker::{FaultAction, FaultRule};

/// The fast brokers: 1 ms + 10 µs per KiB (the bench's broker).
fn fast() -> ServiceTime {
    ServiceTime::new(Duration::from_millis(1), Duration::from_micros(10))
}

/// Ten times slower: 10 ms + 100 µs per KiB.
fn ten_times_slower() -> ServiceTime {
    ServiceTime::new(Duration::from_millis(10), Duration::from_micros(100))
}

const SLOW_BROKER: i32 = 2;

/// Three brokers; topics `a` and `b` of six partitions each, four
/// partitions led by each broker; broker [`SLOW_BROKER`] ten times slower.
fn three_brokers_one_slow() -> FakeCluster {
    let mut b = FakeCluster::builder()
        .brokers(3)
        .service_time(fast())
        .broker_service_time(SLOW_BROKER, ten_times_slower());
    for t in TOPICS {
        b = b.topic(t, PARTITIONS_PER_TOPIC);
    }
    b.build().expect("cluster")
}

/// Samples every broker's width every 10 ms until `stop`: per broker, the
/// changes (time since `start`, width).
async fn watch_widths(
    producer: Producer,
    start: Instant,
    stop: Arc<AtomicBool>,
) -> BTreeMap<i32, Vec<(f64, usize)>> {
    let mut seen: BTreeMap<i32, Vec<(f64, usize)>> = BTreeMap::new();
    while !stop.load(Ordering::Relaxed) {
        let t = (Instant::now() - start).as_secs_f64();
        for (broker, w) in producer.metrics().connections_per_broker {
            let history = seen.entry(broker).or_default();
            if history.last().is_none_or(|&(_, last)| last != w) {
                history.push((t, w));
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    seen
}

/// Per broker, how many connections carried Produce requests (from the
/// broker's own log).
fn produce_connections_per_broker(requests: &[RequestRecord]) -> BTreeMap<i32, usize> {
    let mut per: BTreeMap<i32, std::collections::BTreeSet<ConnectionId>> = BTreeMap::new();
    for r in requests {
        per.entry(r.connection.broker)
            .or_default()
            .insert(r.connection);
    }
    per.into_iter().map(|(b, c)| (b, c.len())).collect()
}

#[tokio::test(start_paused = true)]
async fn a_slow_broker_widens_while_the_fast_ones_keep_one_connection() {
    let (log, _tracing) = capture_scaling_logs();
    let cluster = three_brokers_one_slow();
    let producer = paced_producer(&cluster);
    let start = Instant::now();
    let watching = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn(watch_widths(producer.clone(), start, watching.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    let heavy = tokio::spawn(load(producer.clone(), 0, None, stop.clone()));
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let (sent, _) = heavy.await.expect("load");
    let records = sent.len();
    assert_all_delivered_in_order(sent).await;
    watching.store(true, Ordering::Relaxed);
    let widths = watcher.await.expect("watcher");
    let changes = width_changes(&log);
    println!("widths per broker {widths:?}; {records} records");
    for l in &changes {
        println!("{l}");
    }
    let requests = produce_requests(&cluster);
    assert_no_overlap_and_no_45(&requests);
    let connections = produce_connections_per_broker(&requests);
    println!("produce connections per broker {connections:?}");
    producer.close(Duration::from_secs(5)).await;

    // The fast brokers never widened: one connection each, all along.
    for broker in [0, 1] {
        let history = widths.get(&broker).cloned().unwrap_or_default();
        assert!(
            history.iter().all(|&(_, w)| w <= 1),
            "fast broker {broker} widened: {widths:?}\n{changes:#?}"
        );
        assert_eq!(connections.get(&broker), Some(&1), "{connections:?}");
    }
    // The slow one widened (its partitions hold the buffer, and more
    // connections carry more of its per-KiB work) and kept it.
    let slow = widths.get(&SLOW_BROKER).cloned().unwrap_or_default();
    let last = slow.last().map_or(0, |&(_, w)| w);
    assert!(
        last > 1,
        "the slow broker did not widen: {widths:?}\n{changes:#?}"
    );
    assert!(
        connections.get(&SLOW_BROKER).is_some_and(|&c| c > 1),
        "{connections:?}"
    );
}

/// The brokers of the slower-versus-silent test: 1 ms + 100 µs per KiB,
/// so one connection carries ~10 MB/s of 64 KiB batches and a paced load
/// at 70 % of it is a few records per millisecond.
fn per_kib() -> ServiceTime {
    ServiceTime::new(Duration::from_millis(1), Duration::from_micros(100))
}

/// Records (of 1 KiB) per millisecond for all three brokers together: 7
/// per broker, about 70 % of what one connection carries. One connection
/// carries it; three times slower, one connection carries less than half
/// of it, and three connections carry it again.
const SEVENTY_PERCENT_LOAD_PER_MS: usize = 21;

/// When broker 0 becomes three times slower.
const SLOWER_AT: f64 = 2.0;
/// How long after it a broker that got slower for good may take to widen:
/// the baseline of the new pressure (a few round trips of ~100 ms at the
/// slower rate) and a few windows of steady answers; far less than the
/// 30 s a width's shown rate is remembered ([`kproducer_net::CAPACITY_MEMORY`]).
const SLOWER_WIDENS_WITHIN: f64 = 1.0;
/// When broker 1 stops answering, and for how long.
const SILENT_AT: f64 = 3.5;
const SILENT_FOR: f64 = 1.2;
const RUN: f64 = 6.0;

#[tokio::test(start_paused = true)]
async fn a_broker_that_gets_slower_widens_soon_and_one_that_goes_silent_does_not() {
    let (log, _tracing) = capture_scaling_logs();
    let mut b = FakeCluster::builder().brokers(3).service_time(per_kib());
    for t in TOPICS {
        b = b.topic(t, PARTITIONS_PER_TOPIC);
    }
    let cluster = b.build().expect("cluster");
    let producer = paced_producer(&cluster);
    let start = Instant::now();
    let at = |secs: f64| start + Duration::from_secs_f64(secs);
    let watching = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn(watch_widths(producer.clone(), start, watching.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    let sender = tokio::spawn(paced(
        producer.clone(),
        SEVENTY_PERCENT_LOAD_PER_MS,
        stop.clone(),
    ));
    // Broker 0 gets three times slower for good (a replica fell out,
    // acks=all got slower, more load on the broker).
    tokio::time::sleep_until(at(SLOWER_AT)).await;
    let slower = ServiceTime::new(Duration::from_millis(3), Duration::from_micros(300));
    cluster
        .set_broker_service_time(0, slower)
        .expect("broker 0 exists");
    // Broker 1 answers nothing for a while (a long GC, a stuck disk): its
    // next Produce request is held, and its connection's others queue
    // behind it; then it answers at its old speed.
    tokio::time::sleep_until(at(SILENT_AT)).await;
    cluster.add_fault(
        FaultRule::new(FaultAction::Delay(Duration::from_secs_f64(SILENT_FOR)))
            .api(ApiKey::Produce)
            .broker(1),
    );
    tokio::time::sleep_until(at(RUN)).await;
    stop.store(true, Ordering::Relaxed);
    let sent = sender.await.expect("paced sender");
    let records = sent.len();
    assert_all_delivered_in_order(sent).await;
    watching.store(true, Ordering::Relaxed);
    let widths = watcher.await.expect("watcher");
    let requests = produce_requests(&cluster);
    assert_no_overlap_and_no_45(&requests);
    producer.close(Duration::from_secs(5)).await;
    let changes = width_changes(&log);
    println!("widths per broker {widths:?}; {records} records");
    for l in &changes {
        println!("{l}");
    }
    let history = |broker: i32| widths.get(&broker).cloned().unwrap_or_default();

    // Nobody widened before the changes: the load fits one connection.
    for broker in 0..3 {
        assert!(
            history(broker)
                .iter()
                .all(|&(t, w)| t >= SLOWER_AT || w <= 1),
            "broker {broker} widened before any change: {widths:?}\n{changes:#?}"
        );
    }
    // The slower broker widened within the bound, and kept it: more
    // connections carry more of its per-KiB work.
    let widened = history(0)
        .iter()
        .find(|&&(_, w)| w > 1)
        .map(|&(t, _)| t - SLOWER_AT);
    assert!(
        widened.is_some_and(|t| t <= SLOWER_WIDENS_WITHIN),
        "the slower broker widened {widened:?} s after it slowed: {widths:?}\n{changes:#?}"
    );
    assert!(
        history(0).last().is_some_and(|&(_, w)| w > 1),
        "{widths:?}\n{changes:#?}"
    );
    // The silent broker did not widen while it was silent (its catch-up
    // afterwards is genuine demand and may).
    assert!(
        history(1)
            .iter()
            .all(|&(t, w)| w <= 1 || !(SILENT_AT..SILENT_AT + SILENT_FOR).contains(&t)),
        "the silent broker widened while silent: {widths:?}\n{changes:#?}"
    );
    // The unchanged broker kept one connection while its neighbours
    // slowed and went silent (the silent one's records filled the shared
    // buffer). The catch-up after the silence (the paced sender sends the
    // 1.2 s it missed, a third of it here) is genuine demand and may
    // widen it.
    assert!(
        history(2)
            .iter()
            .all(|&(t, w)| w <= 1 || t >= SILENT_AT + SILENT_FOR),
        "the unchanged broker widened: {widths:?}\n{changes:#?}"
    );
}
