//! Fault scenarios 23–25 of `shared/design/fault-scenarios.md` (adaptive
//! connections and routing), one named test per scenario and variant, end
//! to end against the fake broker on paused tokio time with a fixed seed.
//! Each ends with the log checks: nothing lost, nothing duplicated, order
//! kept per partition, sequences contiguous, every future resolved once.

mod common;

use std::time::Duration;

use common::{Ledger, SEED, assert_never_rejected_with, error, producer, run_for, settle};
use kproducer::Topic;
use kproducer_fake_broker::{FakeCluster, FaultRule, ServiceTime};
use kproducer_net::ScalerConfig;
use kproducer_protocol::{ApiKey, ErrorCode};

/// One broker, 10 ms per request, `orders` and `calm` with 6 partitions.
fn slow_broker() -> FakeCluster {
    FakeCluster::builder()
        .brokers(1)
        .topic("orders", 6)
        .topic("calm", 6)
        .service_time(ServiceTime::new(Duration::from_millis(10), Duration::ZERO))
        .build()
        .unwrap()
}

/// One broker charging 1 ms + 20 ms per KiB per request, `orders` and
/// `calm` with 6 partitions: a request's cost grows with its bytes, so
/// partitions spread over more connections are served in parallel and
/// widening pays off (on [`slow_broker`], a flat 10 ms per request, each
/// partition gets at most one batch per request of its connection at any
/// width, and the scaler's check rightly undoes a widening).
fn slow_per_kib_broker() -> FakeCluster {
    FakeCluster::builder()
        .brokers(1)
        .topic("orders", 6)
        .topic("calm", 6)
        .service_time(ServiceTime::new(
            Duration::from_millis(1),
            Duration::from_millis(20),
        ))
        .build()
        .unwrap()
}

/// One broker charging 10 ms + 20 ms per KiB per request: flat enough
/// that a one-record request every 8 ms always has one in flight (as on
/// [`slow_broker`]), and growing with the bytes, so a widened group is
/// served in parallel and the scaler's check keeps the widening (on
/// [`slow_broker`] it is rightly undone, and since the scaler decides on
/// its first answers the verdict comes while the load still runs).
fn slow_flat_per_kib_broker() -> FakeCluster {
    FakeCluster::builder()
        .brokers(1)
        .topic("orders", 6)
        .topic("calm", 6)
        .service_time(ServiceTime::new(
            Duration::from_millis(10),
            Duration::from_millis(20),
        ))
        .build()
        .unwrap()
}

/// 200 rounds of 10 records to each of `orders`' 6 partitions, 1 ms apart:
/// enough to saturate one connection's in-flight window.
async fn heavy_load(producer: &kproducer::Producer, ledger: &mut Ledger) {
    let topic = Topic::new("orders");
    for _ in 0..200 {
        for p in 0..6 {
            ledger.send(producer, &topic, p, 10).await;
        }
        run_for(Duration::from_millis(1)).await;
    }
}

// ---- S23 ------------------------------------------------------------------

/// S23: the saturated connection is widened while batches are in flight;
/// partitions move to new connections without a 45 from the broker.
#[tokio::test(start_paused = true)]
async fn s23_scale_up_with_batches_in_flight() {
    let cluster = slow_broker();
    let producer = producer(&cluster, |b| b.batch_size(1_000));
    let mut ledger = Ledger::default();
    heavy_load(&producer, &mut ledger).await;
    let outcomes = settle(&cluster, &mut ledger).await;
    outcomes.assert_ok_count(12_000);
    let m = producer.metrics();
    assert!(
        m.scale_events >= 1,
        "the saturated connection was widened: {m:?}"
    );
    assert_never_rejected_with(&cluster, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
}

/// S23: load falls and the group narrows again; partitions leave retiring
/// connections with batches possibly in flight; no 45, nothing lost.
#[tokio::test(start_paused = true)]
async fn s23b_scale_down_with_batches_in_flight() {
    let cluster = slow_per_kib_broker();
    let producer = producer(&cluster, |b| b.batch_size(1_000));
    let mut ledger = Ledger::default();
    heavy_load(&producer, &mut ledger).await;
    let busy = settle(&cluster, &mut ledger).await;
    assert_eq!(busy.ok(), 12_000);
    let widened = producer.metrics();
    assert!(widened.connections_per_broker[&0] > 1, "{widened:?}");
    let calm_topic = Topic::new("calm");
    let mut trickle = Ledger::default();
    for _ in 0..120 {
        for p in 0..6 {
            trickle.send(&producer, &calm_topic, p, 1).await;
        }
        run_for(Duration::from_millis(500)).await;
    }
    let calm = settle(&cluster, &mut trickle).await;
    calm.assert_ok_count(720);
    let m = producer.metrics();
    assert_eq!(m.connections_per_broker[&0], 1, "{m:?}");
    assert!(m.scale_events >= 2);
    assert!(
        !m.errors_by_code
            .contains_key(&ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER),
        "{m:?}"
    );
    assert_never_rejected_with(&cluster, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
}

// ---- S24 ------------------------------------------------------------------

/// Interleaved bursts to partition 0 of topics `a` and `b`, with an epoch
/// bump forced on `a`-0 only; `b`-0 must never see a 45.
async fn collide(cluster: FakeCluster) {
    cluster.add_fault(
        FaultRule::new(error(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER))
            .api(ApiKey::Produce)
            .partition("a", 0)
            .nth(3),
    );
    let producer = producer(&cluster, |b| b);
    let (a, b) = (Topic::new("a"), Topic::new("b"));
    let mut ledger = Ledger::default();
    for _ in 0..10 {
        ledger.send(&producer, &a, 0, 3).await;
        ledger.send(&producer, &b, 0, 2).await;
        run_for(Duration::from_millis(6)).await;
    }
    let outcomes = settle(&cluster, &mut ledger).await;
    outcomes.assert_ok_count(50);
    let on = |topic: &str| -> usize {
        common::sent_batches(&cluster, topic, 0)
            .iter()
            .filter(|b| b.error == ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
            .count()
    };
    assert_eq!(on("a"), 1, "seed {SEED:#x}: the injected 45 on a-0");
    assert_eq!(on("b"), 0, "seed {SEED:#x}: b-0 never refused out of order");
    assert_eq!(producer.metrics().epoch_bumps, 1);
    let b_log = cluster.partition("b", 0).unwrap().sequences();
    assert_eq!(b_log.len(), 10, "b-0 got its own ten batches: {b_log:?}");
}

/// S24: the same partition number in two topics on one broker never shares
/// a fence or a sequence.
#[tokio::test(start_paused = true)]
async fn s24_same_partition_number_in_two_topics() {
    let cluster = FakeCluster::builder()
        .brokers(1)
        .topic("a", 2)
        .topic("b", 2)
        .build()
        .unwrap();
    collide(cluster).await;
}

/// S24: the same partition number on two brokers (partition 0 of `a` led by
/// broker 0, of `b` by broker 1) never shares a fence or a sequence.
#[tokio::test(start_paused = true)]
async fn s24b_same_partition_number_on_two_brokers() {
    let cluster = FakeCluster::builder()
        .brokers(2)
        .topic_with_leaders("a", &[0, 1])
        .topic_with_leaders("b", &[1, 0])
        .build()
        .unwrap();
    collide(cluster).await;
}

// ---- S25 ------------------------------------------------------------------

/// S25: load that never lets the in-flight count reach zero: a wanted
/// scale-up still happens within a bounded time (checked while the load is
/// still running), and so does the scale-down when the load falls to a
/// trickle that still always has a request in flight.
#[tokio::test(start_paused = true)]
async fn s25_sustained_load_still_scales_up_and_down() {
    let cluster = slow_flat_per_kib_broker();
    // Shorter cooldown and low-load period than the defaults (2 s, 30 s) so
    // that the test sees several decisions in a few seconds of load.
    let scaler = ScalerConfig {
        cooldown: Duration::from_millis(200),
        sustained_low: Duration::from_secs(3),
        ..ScalerConfig::default()
    };
    let producer = producer(&cluster, |b| b.batch_size(1_000).scaler(scaler));
    let topic = Topic::new("orders");
    let mut ledger = Ledger::default();
    let mut widened_at = None;
    for round in 0..400 {
        for p in 0..6 {
            ledger.send(&producer, &topic, p, 10).await;
        }
        run_for(Duration::from_millis(1)).await;
        if widened_at.is_none() && width(&producer) > 1 {
            widened_at = Some(round);
        }
    }
    let up = widened_at.expect("scaled up while the load never paused");
    assert!(up < 300, "seed {SEED:#x}: scale-up took {up} ms of load");
    let calm_topic = Topic::new("calm");
    let mut peak = width(&producer);
    let mut narrowed_at = None;
    let mut idle_samples = 0;
    // One record every 8 ms against 10 ms of service per request: a
    // request is always in flight somewhere, yet the load fits in fewer
    // connections than the peak.
    let rounds = 1_250;
    for round in 0..rounds {
        ledger.send(&producer, &calm_topic, round % 6, 1).await;
        run_for(Duration::from_millis(8)).await;
        if round > 100 && producer.metrics().in_flight_batches == 0 {
            idle_samples += 1;
        }
        let now = width(&producer);
        if narrowed_at.is_none() {
            if now < peak {
                narrowed_at = Some(round);
            }
            peak = peak.max(now);
        }
    }
    assert_eq!(
        idle_samples, 0,
        "seed {SEED:#x}: the trickle kept requests in flight"
    );
    let down = narrowed_at.unwrap_or_else(|| {
        panic!(
            "seed {SEED:#x}: no scale-down from {peak} while requests stayed in flight: {:?}",
            producer.metrics()
        )
    });
    assert!(
        down < 1_000,
        "seed {SEED:#x}: scale-down took {} ms",
        down * 8
    );
    let outcomes = settle(&cluster, &mut ledger).await;
    assert_eq!(
        outcomes.ok(),
        24_000 + 1_250,
        "{:?}",
        outcomes.errors().first()
    );
    assert_never_rejected_with(&cluster, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
}

fn width(producer: &kproducer::Producer) -> usize {
    producer
        .metrics()
        .connections_per_broker
        .get(&0)
        .copied()
        .unwrap_or(0)
}
