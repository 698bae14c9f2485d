//! The scale-up effectiveness check: a scale-up that does not raise the
//! group's throughput (the producer, not the broker, is the bottleneck) is
//! undone and further scale-ups back off; one that does is kept.

use std::time::{Duration, Instant};

use kproducer_net::{
    DEFAULT_COOLDOWN, DEFAULT_INEFFECTIVE_BACKOFF, Decision, Reason, Scaler, ScalerConfig,
};

const TICK: Duration = Duration::from_millis(100);

/// One 100 ms window: every slot waited `wait` and was fully busy; the
/// group moved `bytes_per_sec(width)`.
fn tick(
    s: &mut Scaler,
    now: &mut Instant,
    wait: f64,
    bytes_per_sec: impl Fn(usize) -> f64,
) -> Decision {
    for slot in 0..s.width() {
        s.observe(slot, TICK.mul_f64(wait), TICK);
    }
    s.observe_throughput((bytes_per_sec(s.width()) * TICK.as_secs_f64()) as u64);
    *now += TICK;
    s.evaluate(*now)
}

/// Runs `ticks` windows; returns every change with its instant.
fn run(
    s: &mut Scaler,
    now: &mut Instant,
    ticks: usize,
    wait: f64,
    bytes_per_sec: impl Fn(usize) -> f64 + Copy,
) -> Vec<(Duration, Decision)> {
    let t0 = *now;
    let mut changes = Vec::new();
    for _ in 0..ticks {
        let d = tick(s, now, wait, bytes_per_sec);
        if d.is_change() {
            changes.push((*now - t0, d));
        }
    }
    changes
}

/// CPU-bound: the windows wait, but throughput is the same at every width.
const CPU_BOUND: fn(usize) -> f64 = |_| 10e6;
/// Broker-bound: each connection moves 10 MB/s.
const BROKER_BOUND: fn(usize) -> f64 = |w| 10e6 * w as f64;

#[test]
fn a_scale_up_that_does_not_raise_throughput_is_undone_and_backs_off() {
    let t0 = Instant::now();
    let mut now = t0;
    let mut s = Scaler::new(ScalerConfig::default(), now).unwrap();
    // Ten minutes of waiting 50% of the time at a constant 10 MB/s.
    let changes = run(&mut s, &mut now, 6_000, 0.5, CPU_BOUND);
    let widths: Vec<_> = changes
        .iter()
        .map(|(t, d)| (t.as_secs_f64(), d.previous_width, d.target_width))
        .collect();
    // First trial at the first window, undone a cooldown later.
    assert!(
        matches!(changes[0].1.reason, Reason::ScaleUp(_)),
        "{widths:?}"
    );
    assert_eq!(
        (changes[0].1.previous_width, changes[0].1.target_width),
        (1, 2)
    );
    let (undone_at, undo) = &changes[1];
    assert_eq!(*undone_at, changes[0].0 + DEFAULT_COOLDOWN, "{widths:?}");
    assert_eq!((undo.previous_width, undo.target_width), (2, 1));
    assert!(
        matches!(
            undo.reason,
            Reason::IneffectiveScaleUp { before_bytes_per_sec, after_bytes_per_sec }
                if before_bytes_per_sec == after_bytes_per_sec
        ),
        "{:?}",
        undo.reason
    );
    // Never beyond 2, always undone, and the gaps between trials double:
    // 30 s, 60 s, 120 s, 240 s (+ the cooldown that measures each).
    assert!(
        changes.iter().all(|(_, d)| d.target_width <= 2),
        "{widths:?}"
    );
    let trials: Vec<Duration> = changes
        .iter()
        .filter(|(_, d)| d.target_width > d.previous_width)
        .map(|(t, _)| *t)
        .collect();
    let gaps: Vec<Duration> = trials.windows(2).map(|w| w[1] - w[0]).collect();
    let expected: Vec<Duration> = [1, 2, 4, 8]
        .iter()
        .map(|&k| DEFAULT_INEFFECTIVE_BACKOFF * k + DEFAULT_COOLDOWN)
        .collect();
    assert_eq!(gaps[..4], expected[..], "{widths:?}");
    // Two connections for 2 s per trial: 5 trials in 10 minutes instead of
    // four connections all along.
    assert_eq!(trials.len(), 5, "{widths:?}");
    // While backed off, the decision says so.
    let d = tick(&mut s, &mut now, 0.5, CPU_BOUND);
    assert!(
        matches!(
            d.reason,
            Reason::ScaleUpBackedOff { .. } | Reason::CoolingDown
        ),
        "{:?}",
        d.reason
    );
}

#[test]
fn a_scale_up_that_raises_throughput_is_kept_up_to_the_maximum() {
    let mut now = Instant::now();
    let mut s = Scaler::new(ScalerConfig::default(), now).unwrap();
    let changes = run(&mut s, &mut now, 200, 0.5, BROKER_BOUND);
    assert!(
        changes
            .iter()
            .all(|(_, d)| matches!(d.reason, Reason::ScaleUp(_))),
        "{changes:?}"
    );
    assert_eq!(s.width(), s.config().max_width);
}

#[test]
fn a_small_gain_below_the_threshold_is_undone_and_a_large_one_kept() {
    // +5% from the second connection: not worth it at the default 10%.
    let mut now = Instant::now();
    let mut s = Scaler::new(ScalerConfig::default(), now).unwrap();
    let changes = run(
        &mut s,
        &mut now,
        35,
        0.5,
        |w| if w > 1 { 10.5e6 } else { 10e6 },
    );
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert_eq!(s.width(), 1);
    // With the threshold at 0 anything that does not lose is kept.
    let mut now = Instant::now();
    let config = ScalerConfig {
        scale_up_min_gain: 0.0,
        ..ScalerConfig::default()
    };
    let mut s = Scaler::new(config, now).unwrap();
    let changes = run(
        &mut s,
        &mut now,
        35,
        0.5,
        |w| if w > 1 { 10.5e6 } else { 10e6 },
    );
    assert!(
        changes
            .iter()
            .all(|(_, d)| d.target_width > d.previous_width),
        "{changes:?}"
    );
    assert!(s.width() >= 2);
}

#[test]
fn without_throughput_reports_scale_ups_are_never_undone() {
    let mut now = Instant::now();
    let mut s = Scaler::new(ScalerConfig::default(), now).unwrap();
    for _ in 0..200 {
        for slot in 0..s.width() {
            s.observe(slot, TICK / 2, TICK);
        }
        now += TICK;
        let d = s.evaluate(now);
        assert!(!matches!(d.reason, Reason::IneffectiveScaleUp { .. }));
    }
    assert_eq!(s.width(), s.config().max_width);
}

#[test]
fn a_broker_bound_load_after_a_failed_trial_scales_once_the_back_off_ends() {
    let mut now = Instant::now();
    let mut s = Scaler::new(ScalerConfig::default(), now).unwrap();
    run(&mut s, &mut now, 35, 0.5, CPU_BOUND);
    assert_eq!(s.width(), 1);
    // The load changes: now the broker is the bottleneck.
    let changes = run(&mut s, &mut now, 400, 0.5, BROKER_BOUND);
    let first_up = changes
        .iter()
        .find(|(_, d)| d.target_width > d.previous_width)
        .map(|(t, _)| *t)
        .expect("scaled up again");
    assert!(first_up <= DEFAULT_INEFFECTIVE_BACKOFF, "{first_up:?}");
    assert_eq!(s.width(), s.config().max_width);
}

#[test]
fn the_gain_threshold_is_validated() {
    for bad in [-0.1, 1.5, f64::NAN] {
        let c = ScalerConfig {
            scale_up_min_gain: bad,
            ..ScalerConfig::default()
        };
        assert!(c.validate().is_err(), "{bad}");
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Over random pressure and throughput (each window: a wait
        /// fraction, a busy fraction, and bytes moved), with random bounds:
        /// the width stays in bounds; an undo returns exactly to the width
        /// before the scale-up it undoes, one cooldown after it; and no
        /// scale-up happens within the back-off after an undo.
        #[test]
        fn undo_is_exact_and_the_back_off_holds(
            max in 1usize..6,
            step in 1usize..4,
            windows in prop::collection::vec((0u64..=1000, 0u64..=1000, 0u64..5_000_000, 1u64..400), 1..300),
        ) {
            let config = ScalerConfig { max_width: max, max_step: step, ..ScalerConfig::default() };
            let mut now = Instant::now();
            let mut s = Scaler::new(config.clone(), now).unwrap();
            let mut last_up: Option<(Instant, usize)> = None;
            let mut blocked_until: Option<Instant> = None;
            let mut undos = 0u32;
            for (wait, busy, bytes, dt) in windows {
                let dt = Duration::from_millis(dt);
                for slot in 0..s.width() {
                    s.observe(slot, dt.mul_f64(wait as f64 / 1000.0), dt.mul_f64(busy as f64 / 1000.0));
                }
                s.observe_throughput(bytes);
                now += dt;
                let d = s.evaluate(now);
                prop_assert!((config.min_width..=config.max_width).contains(&d.target_width));
                if let Reason::IneffectiveScaleUp { .. } = d.reason {
                    let (at, from) = last_up.take().expect("an undo follows a scale-up");
                    prop_assert_eq!(d.target_width, from);
                    prop_assert!(now - at >= config.cooldown);
                    blocked_until = Some(now + config.ineffective_backoff);
                    undos += 1;
                } else if d.target_width > d.previous_width {
                    if let Some(until) = blocked_until {
                        prop_assert!(now >= until, "scaled up while backed off");
                    }
                    last_up = Some((now, d.previous_width));
                } else if d.is_change() {
                    last_up = None;
                }
            }
            let _ = undos;
        }
    }
}
