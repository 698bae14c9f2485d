//! A short burst gets its width: with the default scaler (fixed cooldown
//! 2 s, but counted in round trips when they are short), a broker that
//! answers in milliseconds and one connection as the bottleneck, a 1.5 s
//! burst reaches the maximum width one connection at a time, each step
//! judged effective, without a partition on two connections or a 45.
//! Before the cooldown was counted in round trips the same burst ended at
//! width 2 (1 → 2 at 0.3 s, the next step no earlier than 2.3 s).

use super::*;

/// 1 ms + 10 µs per KiB per request, as in `cargo xtask bench`: one
/// connection carries about 100 MB/s here when its requests are large.
fn fast_cluster() -> FakeCluster {
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
async fn a_short_burst_reaches_the_maximum_width_within_a_second_or_so() {
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

    // One connection at a time: 1, 2, 3, 4, and the maximum well within
    // the burst (the fixed 2 s cooldown would allow 2 at most).
    for l in log.lines().iter().filter(|l| l.contains("width changes")) {
        println!("{l}");
    }
    let steps: Vec<usize> = widths.iter().map(|w| w.1).filter(|&w| w > 0).collect();
    assert_eq!(steps, vec![1, 2, 3, 4], "{timeline:?}");
    let reached_max = widths
        .iter()
        .find(|(_, w)| *w == MAX_WIDTH)
        .map(|(t, _)| *t - start)
        .unwrap_or_else(|| panic!("never reached {MAX_WIDTH}: {timeline:?}"));
    assert!(
        reached_max < BURST - Duration::from_millis(200),
        "reached {MAX_WIDTH} only after {reached_max:?}: {timeline:?}"
    );

    let requests = produce_requests(&cluster);
    let moved = assert_no_overlap_and_no_45(&requests);
    assert!(moved > 0, "no partition changed connection: {timeline:?}");
    producer.close(Duration::from_secs(5)).await;

    // Every change was a scale-up whose cooldown came from the round trip
    // (below the fixed 2 s), and none was undone.
    let changes = width_changes(&log);
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
    assert_eq!(changes.len(), 3, "{changes:#?}");
}
