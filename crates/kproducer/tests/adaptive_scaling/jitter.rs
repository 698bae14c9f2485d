//! A noisy broker does not make the width flap. Windows of a few round
//! trips (10–100 ms) and early steps on few answers make every window
//! lumpier than the old fixed 100 ms ones; on a broker whose service time
//! jitters (seeded: each Produce request is held an extra 0–4 ms, uniform,
//! on top of 1 ms + 10 µs/KiB), a saturating load widens once and stays,
//! and a paced load at half of one connection never widens.
//!
//! The seed comes from `KPRODUCER_JITTER_SEED` (default below) and is
//! printed with every failure.

use super::burst::fast_cluster;
use super::paced::{paced, paced_producer};
use super::*;
use kproducer_fake_broker::{FaultAction, FaultRule};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const DEFAULT_SEED: u64 = 0x6a17_7e12;

fn seed() -> u64 {
    std::env::var("KPRODUCER_JITTER_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED)
}

/// Holds each Produce request an extra 0–4 ms (uniform, one draw per
/// request from the seeded generator), until `stop`.
async fn jitter(cluster: FakeCluster, seed: u64, stop: Arc<AtomicBool>) {
    let mut rng = SmallRng::seed_from_u64(seed);
    while !stop.load(Ordering::Relaxed) {
        let extra = Duration::from_micros(rng.random_range(0..4_000));
        let id = cluster.add_fault(FaultRule::new(FaultAction::Delay(extra)).api(ApiKey::Produce));
        while !cluster.fault_fired(id) && !stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_micros(100)).await;
        }
    }
}

/// Records per millisecond at about half of what one connection carries
/// on the jittery broker: the extra 2 ms per request on average costs
/// about as much as the fixed 1 ms and the bytes of a 5 ms linger's
/// request together, so half of [`super::paced::HALF_LOAD_PER_MS`] (which
/// saturates a jittery connection).
const JITTERY_HALF_LOAD_PER_MS: usize = super::paced::HALF_LOAD_PER_MS / 2;

/// Runs `sender` against a jittery broker for `run`; returns the width
/// timeline (seconds from the start, width), the width-change log lines
/// and the records sent.
async fn run_jittery<F>(
    seed: u64,
    run: Duration,
    sender: impl FnOnce(Producer, Arc<AtomicBool>) -> F,
) -> (Vec<(f64, usize)>, Vec<String>, usize)
where
    F: std::future::Future<Output = Sent> + Send + 'static,
{
    let (log, _tracing) = capture_scaling_logs();
    let cluster = fast_cluster();
    let producer = paced_producer(&cluster);
    let start = Instant::now();
    let watching = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn(watch_width(producer.clone(), watching.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    let noise = tokio::spawn(jitter(cluster.clone(), seed, stop.clone()));
    let load = tokio::spawn(sender(producer.clone(), stop.clone()));
    tokio::time::sleep(run).await;
    stop.store(true, Ordering::Relaxed);
    let sent = load.await.expect("sender");
    noise.await.expect("jitter");
    let records = sent.len();
    assert_all_delivered_in_order(sent).await;
    watching.store(true, Ordering::Relaxed);
    let widths = watcher.await.expect("watcher");
    assert_no_overlap_and_no_45(&produce_requests(&cluster));
    producer.close(Duration::from_secs(5)).await;
    let timeline = widths
        .iter()
        .map(|(t, w)| ((*t - start).as_secs_f64(), *w))
        .collect();
    (timeline, width_changes(&log), records)
}

#[tokio::test(start_paused = true)]
async fn a_saturating_load_on_a_jittery_broker_widens_once_and_stays() {
    let seed = seed();
    let (timeline, changes, records) =
        run_jittery(seed, Duration::from_secs(3), |p, stop| async move {
            load(p, 0, None, stop).await.0
        })
        .await;
    println!("jittery saturating load (seed {seed}): {timeline:?}; {records} records");
    for l in &changes {
        println!("{l}");
    }
    let steps: Vec<usize> = timeline.iter().map(|w| w.1).filter(|&w| w > 0).collect();
    // Up to the maximum, possibly in two steps; never back down.
    assert!(
        steps.windows(2).all(|p| p[1] > p[0]),
        "seed {seed}: the width went down: {timeline:?}\n{changes:#?}"
    );
    assert_eq!(
        steps.last(),
        Some(&MAX_WIDTH),
        "seed {seed}: {timeline:?}\n{changes:#?}"
    );
    assert!(changes.len() <= 2, "seed {seed}: {changes:#?}");
}

#[tokio::test(start_paused = true)]
async fn a_paced_half_load_on_a_jittery_broker_stays_at_width_one() {
    let seed = seed();
    let (timeline, changes, records) = run_jittery(seed, Duration::from_secs(3), |p, stop| {
        paced(p, JITTERY_HALF_LOAD_PER_MS, stop)
    })
    .await;
    println!("jittery paced half load (seed {seed}): {timeline:?}; {records} records");
    assert!(
        timeline.iter().all(|&(_, w)| w <= 1),
        "seed {seed}: a half load widened on a jittery broker: {timeline:?}\n{changes:#?}"
    );
    assert!(changes.is_empty(), "seed {seed}: {changes:#?}");
}
