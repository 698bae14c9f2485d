//! Seeded random faults: retriable errors, lost responses, connections
//! closed before or after the broker appended, leader moves, all at once,
//! on paused time. Every seed must end with the log checks: nothing lost,
//! nothing duplicated, order kept, every future resolved.

mod common;

use std::time::Duration;

use common::{Ledger, assert_log_matches, assert_sequences_contiguous, producer};
use kproducer::{ProducerMetrics, Topic};
use kproducer_fake_broker::{ErrorScope, FakeCluster, FaultAction, FaultRule, ServiceTime};
use kproducer_protocol::{ApiKey, ErrorCode};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

fn random_fault(rng: &mut SmallRng) -> FaultAction {
    // Only faults a real broker can produce for any batch: an injected 45
    // or 59 on a batch the broker actually holds would contradict its own
    // duplicate cache (those have their own scripted scenarios).
    match rng.random_range(0..6) {
        0 => FaultAction::Error {
            code: ErrorCode::NOT_LEADER_OR_FOLLOWER,
            scope: ErrorScope::Partition,
        },
        1 => FaultAction::Error {
            code: ErrorCode::REQUEST_TIMED_OUT,
            scope: ErrorScope::Partition,
        },
        2 => FaultAction::Error {
            code: ErrorCode::NOT_ENOUGH_REPLICAS,
            scope: ErrorScope::Request,
        },
        3 => FaultAction::DropResponse,
        4 => FaultAction::CloseAfterHandling,
        _ => FaultAction::CloseBeforeHandling,
    }
}

/// One seeded run; `load` scales the records per round, `service` is each
/// broker's per-request service time (enough load and service time makes
/// the producer widen its connection groups while faults fire).
async fn run(seed: u64, load: usize, service: ServiceTime) -> ProducerMetrics {
    let mut rng = SmallRng::seed_from_u64(seed);
    let cluster = FakeCluster::builder()
        .brokers(3)
        .topic("orders", 4)
        .service_time(service)
        .build()
        .unwrap();
    for _ in 0..8 {
        let partition = rng.random_range(0..4);
        let nth = rng.random_range(1..12);
        cluster.add_fault(
            FaultRule::new(random_fault(&mut rng))
                .api(ApiKey::Produce)
                .partition("orders", partition)
                .nth(nth),
        );
    }
    let producer = producer(&cluster, |b| {
        b.request_timeout(Duration::from_secs(3))
            .delivery_timeout(Duration::from_secs(600))
            .batch_size(rng.random_range(200..2_000))
    });
    let topic = Topic::new("orders");
    let mut ledger = Ledger::default();
    for round in 0..40 {
        for p in 0..4 {
            let n = rng.random_range(0..4) * load;
            ledger.send(&producer, &topic, p, n).await;
        }
        if round % 10 == 5 {
            let p = rng.random_range(0..4);
            let leader = cluster.leader("orders", p).unwrap();
            cluster.move_leader("orders", p, (leader + 1) % 3).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..8))).await;
    }
    let outcomes = ledger.outcomes().await;
    if std::env::var("KPRODUCER_DEBUG_SEED").is_ok() {
        for r in cluster.requests() {
            for b in r
                .batches
                .iter()
                .filter(|b| b.topic_partition.partition == 0)
            {
                println!(
                    "req {} conn {:?} {:?}: pid {} epoch {} seq {}..={} -> {} @{}",
                    r.seq,
                    r.connection,
                    r.disposition,
                    b.meta.producer_id,
                    b.meta.producer_epoch,
                    b.meta.base_sequence,
                    b.last_sequence,
                    b.error_code,
                    b.base_offset
                );
            }
        }
    }
    let errors = outcomes.errors();
    assert!(
        errors.is_empty(),
        "seed {seed}: {} records failed, first: {}",
        errors.len(),
        errors[0]
    );
    assert_log_matches(&cluster, &outcomes).await;
    for p in 0..4 {
        assert_sequences_contiguous(&cluster, "orders", p);
    }
    let metrics = producer.metrics();
    producer.close(Duration::from_secs(1)).await;
    metrics
}

/// The seeds to run: `KPRODUCER_DEBUG_SEED=n` runs seed n alone (and
/// prints the broker's request log for partition 0); `KPRODUCER_SEEDS=n`
/// runs seeds `0..n`.
fn seeds(default: u64) -> std::ops::Range<u64> {
    if let Some(s) = std::env::var("KPRODUCER_DEBUG_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return s..s + 1;
    }
    let n = std::env::var("KPRODUCER_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    0..n
}

#[tokio::test(start_paused = true)]
async fn random_faults_lose_duplicate_or_reorder_nothing() {
    for seed in seeds(60) {
        println!("seed {seed}");
        run(seed, 1, ServiceTime::zero()).await;
    }
}

#[tokio::test(start_paused = true)]
async fn random_faults_while_connections_scale() {
    let mut scaled = 0;
    for seed in seeds(10) {
        println!("seed {seed}");
        let m = run(
            seed,
            30,
            ServiceTime::new(Duration::from_millis(4), Duration::ZERO),
        )
        .await;
        scaled += m.scale_events;
    }
    assert!(scaled > 0, "the load was meant to make the groups widen");
}
