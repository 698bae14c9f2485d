//! A short burst gets its width: with the default scaler (fixed cooldown
//! 2 s, but counted in round trips when they are short), a broker that
//! answers in milliseconds and one connection as the bottleneck, a 1.5 s
//! burst reaches the maximum width within a few round trips, in one step
//! sized by the backlog, judged effective, without a partition on two
//! connections or a 45.
//! Before the cooldown was counted in round trips the same burst ended at
//! width 2 (1 → 2 at 0.3 s, the next step no earlier than 2.3 s); before
//! the step was sized by the backlog it went 1 → 2 → 3 → 4 at 0.31, 0.71
//! and 1.11 s.

use super::*;

/// 1 ms + 10 µs per KiB per request, as in `cargo xtask bench`: one
/// connection carries about 100 MB/s here when its requests are large.
pub(super) fn fast_cluster() -> FakeCluster {
    let mut b = FakeCluster::builder()
        .brokers(1)
        .service_time(ServiceTime::new(
            Duration::from_millis(1),
            Duration::from_micros(10),
        ));
    for t in TOPICS {
        b = b.topic(t, PARTITIONS_PER_TOPIC);
    }
    b.build().expect("cluster")
}

const BURST: Duration = Duration::from_millis(1500);

#[tokio::test(start_paused = true)]
async fn a_short_burst_reaches_the_maximum_width_within_a_few_round_trips() {
    let (log, _tracing) = capture_scaling_logs();
    let cluster = fast_cluster();
    let producer = common::producer(&cluster, |b| {
        b.batch_size(64 * 1024)
            .buffer_memory(4 * 1024 * 1024)
            .adaptive_connections(true)
            .scaler(ScalerConfig {
                max_width: MAX_WIDTH,
                ..ScalerConfig::default()
            })
    });
    let start = Instant::now();
    let watching = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn(watch_width(producer.clone(), watching.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    let heavy = tokio::spawn(load(producer.clone(), 0, None, stop.clone()));
    tokio::time::sleep(BURST).await;
    stop.store(true, Ordering::Relaxed);
    let (sent, _) = heavy.await.expect("burst");
    let records = sent.len();
    assert_all_delivered_in_order(sent).await;
    watching.store(true, Ordering::Relaxed);
    let widths = watcher.await.expect("watcher");
    let timeline: Vec<String> = widths
        .iter()
        .map(|(t, w)| format!("{:.2}s:{w}", (*t - start).as_secs_f64()))
        .collect();
    println!("burst width timeline: {timeline:?}; {records} records");

    // One step, 1 → 4, sized by the backlog (the sender is blocked on a
    // full buffer: its demand is unknown, so the maximum is tried), within
    // a few round trips of the first record, and kept to the end.
    for l in log.lines().iter().filter(|l| l.contains("width changes")) {
        println!("{l}");
    }
    let steps: Vec<usize> = widths.iter().map(|w| w.1).filter(|&w| w > 0).collect();
    assert_eq!(steps, vec![1, MAX_WIDTH], "{timeline:?}");
    let first = widths
        .iter()
        .find(|(_, w)| *w > 0)
        .map(|(t, _)| *t)
        .unwrap_or_else(|| panic!("never connected: {timeline:?}"));
    let reached_max = widths
        .iter()
        .find(|(_, w)| *w == MAX_WIDTH)
        .map(|(t, _)| *t)
        .unwrap_or_else(|| panic!("never reached {MAX_WIDTH}: {timeline:?}"));
    let changes = width_changes(&log);
    let round_trip_us: u64 = changes
        .first()
        .and_then(|l| l.split("round_trip_us=").nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no round_trip_us: {changes:#?}"));
    let round_trip = Duration::from_micros(round_trip_us);
    // One window to open (the scaler's first closes on the second tick
    // after the broker is first used) and one of baseline
    // (`BASELINE_ROUND_TRIPS` round trips, at least a window): within
    // 0.25 s, or 8 round trips of 33 ms.
    let took = reached_max - first;
    assert!(
        took <= Duration::from_millis(250) && took <= round_trip * 8,
        "reached {MAX_WIDTH} {took:?} after the first record (round trip {round_trip:?}): {timeline:?}"
    );

    let requests = produce_requests(&cluster);
    let moved = assert_no_overlap_and_no_45(&requests);
    assert!(moved > 0, "no partition changed connection: {timeline:?}");
    producer.close(Duration::from_secs(5)).await;

    // Every change was a scale-up whose cooldown came from the round trip
    // (below the fixed 2 s), and none was undone.
    for l in &changes {
        assert!(l.contains("reason=ScaleUp"), "{l}");
        let cooldown_ms: u64 = l
            .split("cooldown_ms=")
            .nth(1)
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no cooldown_ms: {l}"));
        assert!(cooldown_ms < 2000, "{l}");
    }
    assert_eq!(changes.len(), 1, "{changes:#?}");
}
