//! Several brokers share one producer buffer: each broker's scaler is fed
//! its own part of it ([`broker_buffer_used`]), so a slow broker's full
//! buffer widens the slow broker, not its fast neighbours.

use std::time::{Duration, Instant};

use kproducer_net::{BufferHoldings, Reason, Scaler, ScalerConfig, broker_buffer_used};

const WINDOW: Duration = Duration::from_millis(100);
const BUFFER_MEMORY: u64 = 4 * 1024 * 1024;

/// One broker's scaler over `windows` windows: its one connection busy
/// 95 % of the time and never waiting for a permit (a fast broker answers
/// each request within a millisecond, but there is nearly always one in
/// flight), while the producer's buffer is full. `holds` is what this
/// broker's partitions hold; the other two brokers hold the rest, the
/// slow one nearly all of it. Returns the decisions' reasons.
fn run(level: impl Fn(u64) -> u64, holds: u64, windows: usize) -> (Scaler, Vec<Reason>) {
    let t0 = Instant::now();
    let mut scaler = Scaler::new(ScalerConfig::default(), t0).unwrap();
    let mut reasons = Vec::new();
    for i in 1..=windows {
        let now = t0 + WINDOW * i as u32;
        scaler.observe(0, Duration::ZERO, WINDOW.mul_f64(0.95));
        scaler.observe_buffer(now, level(holds), BUFFER_MEMORY);
        reasons.push(scaler.evaluate(now).reason);
    }
    (scaler, reasons)
}

/// The producer's buffer is full; the slow broker holds all of it but
/// what the two fast brokers hold (64 KiB each).
fn holdings(held_by_broker: u64) -> BufferHoldings {
    BufferHoldings {
        used: BUFFER_MEMORY,
        held_by_broker,
        held_by_all: BUFFER_MEMORY,
        brokers_holding: 3,
    }
}

const FAST_HOLDS: u64 = 64 * 1024;
const SLOW_HOLDS: u64 = BUFFER_MEMORY - 2 * FAST_HOLDS;

#[test]
fn a_fast_broker_fed_its_own_part_of_the_buffer_keeps_its_width() {
    let (scaler, reasons) = run(|h| broker_buffer_used(holdings(h)), FAST_HOLDS, 20);
    assert_eq!(scaler.width(), 1, "{reasons:?}");
    assert!(
        reasons.iter().all(|r| !matches!(r, Reason::ScaleUp(_))),
        "{reasons:?}"
    );
}

#[test]
fn the_slow_broker_holding_the_buffer_is_pressured_by_it() {
    let (scaler, reasons) = run(|h| broker_buffer_used(holdings(h)), SLOW_HOLDS, 3);
    assert!(scaler.width() > 1, "{reasons:?}");
}

#[test]
fn fed_the_whole_buffer_the_fast_broker_widened() {
    // The flaw: every broker's scaler saw the producer's whole buffer.
    let (scaler, reasons) = run(|_| BUFFER_MEMORY, FAST_HOLDS, 3);
    assert!(scaler.width() > 1, "{reasons:?}");
}
