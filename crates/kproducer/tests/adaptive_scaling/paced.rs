//! Paced loads (`kproducer perf --throughput`): extra connections cost
//! latency (more, smaller requests) and buy nothing when the sender, not
//! the connection, sets the rate. A paced load at about half of one
//! connection's capacity stays at width 1; a paced load that falls behind
//! because the broker stalled, and then catches up, may try more
//! connections, but the check sees that the new width carried no more of
//! the *offered* load than one connection had shown (the backlog drained
//! after the stall is not a gain) and undoes it a cooldown later.

use super::burst::fast_cluster;
use super::*;
use kproducer_fake_broker::{FaultAction, FaultRule};

/// Records per millisecond at about half of what one connection carries
/// on [`fast_cluster`] (~85 MB/s of 1 KiB records, measured by the burst
/// test): 40 KiB per ms, ~41 MB/s.
pub(super) const HALF_LOAD_PER_MS: usize = 40;

/// An adaptive producer with 64 KiB batches, a 4 MiB buffer and a 5 ms
/// linger, up to `MAX_WIDTH` connections (the paced, jittery and
/// several-brokers tests).
pub(super) fn paced_producer(cluster: &FakeCluster) -> Producer {
    common::producer(cluster, |b| {
        b.batch_size(64 * 1024)
            .buffer_memory(4 * 1024 * 1024)
            .linger(Duration::from_millis(5))
            .adaptive_connections(true)
            .scaler(ScalerConfig {
                max_width: MAX_WIDTH,
                ..ScalerConfig::default()
            })
    })
}

/// Sends `per_ms` records every millisecond until `stop`, catching up
/// after any delay (as a paced sender behind its schedule does).
pub(super) async fn paced(producer: Producer, per_ms: usize, stop: Arc<AtomicBool>) -> Sent {
    let mut sent = Vec::new();
    let mut i = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        for _ in 0..per_ms {
            let f = producer.send(record(i)).await.expect("send admitted");
            sent.push((i, f));
            i += 1;
        }
    }
    sent
}

#[tokio::test(start_paused = true)]
async fn a_paced_load_at_half_of_one_connection_stays_at_width_one() {
    let (log, _tracing) = capture_scaling_logs();
    let cluster = fast_cluster();
    let producer = paced_producer(&cluster);
    let watching = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn(watch_width(producer.clone(), watching.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    let sender = tokio::spawn(paced(producer.clone(), HALF_LOAD_PER_MS, stop.clone()));
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let sent = sender.await.expect("paced sender");
    let records = sent.len();
    assert_all_delivered_in_order(sent).await;
    watching.store(true, Ordering::Relaxed);
    let widths = watcher.await.expect("watcher");
    producer.close(Duration::from_secs(5)).await;
    println!("paced widths {widths:?}; {records} records");
    assert!(
        widths.iter().all(|&(_, w)| w <= 1),
        "a half load widened: {widths:?}\n{:#?}",
        width_changes(&log)
    );
    assert!(width_changes(&log).is_empty(), "{:#?}", width_changes(&log));
}

#[tokio::test(start_paused = true)]
async fn a_paced_load_catching_up_after_a_stall_does_not_stay_wide() {
    let (log, _tracing) = capture_scaling_logs();
    let cluster = fast_cluster();
    let producer = paced_producer(&cluster);
    let start = Instant::now();
    let watching = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn(watch_width(producer.clone(), watching.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    let sender = tokio::spawn(paced(producer.clone(), HALF_LOAD_PER_MS, stop.clone()));
    // One second at width 1, then the broker stalls the connection for
    // 400 ms (a slow disk, a GC pause): the paced load piles up, the
    // windows fill and requests wait, then the backlog drains.
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster.add_fault(
        FaultRule::new(FaultAction::Delay(Duration::from_millis(400))).api(ApiKey::Produce),
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let sent = sender.await.expect("paced sender");
    let records = sent.len();
    assert_all_delivered_in_order(sent).await;
    watching.store(true, Ordering::Relaxed);
    let widths = watcher.await.expect("watcher");
    let timeline: Vec<String> = widths
        .iter()
        .map(|(t, w)| format!("{:.2}s:{w}", (*t - start).as_secs_f64()))
        .collect();
    let changes = width_changes(&log);
    println!("stall timeline {timeline:?}; {records} records");
    for l in &changes {
        println!("{l}");
    }
    let requests = produce_requests(&cluster);
    assert_no_overlap_and_no_45(&requests);
    producer.close(Duration::from_secs(5)).await;

    // Whatever it tried, it is back at one connection well before the end
    // (a cooldown after the stall, not a back-off or 30 s later), and
    // every widening it made was undone as ineffective.
    let last = widths.last().map_or(0, |&(_, w)| w);
    assert_eq!(last, 1, "{timeline:?}\n{changes:#?}");
    let back_at_one = widths
        .iter()
        .rev()
        .take_while(|&&(_, w)| w == 1)
        .last()
        .map(|(t, _)| *t - start)
        .unwrap_or_default();
    assert!(
        back_at_one < Duration::from_millis(2500),
        "back at 1 only at {back_at_one:?}: {timeline:?}"
    );
    let ups = changes
        .iter()
        .filter(|l| l.contains("reason=ScaleUp"))
        .count();
    let undone = changes
        .iter()
        .filter(|l| l.contains("reason=IneffectiveScaleUp"))
        .count();
    assert_eq!(ups, undone, "{changes:#?}");
}
