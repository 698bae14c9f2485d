//! A cooldown counted in Produce round trips: with round trips reported,
//! the scaler steps one connection per cooldown of
//! `DEFAULT_COOLDOWN_ROUND_TRIPS` round trips (at least `min_cooldown`, at
//! most the fixed `cooldown`), judges each step on its own, stops at the
//! best width, and still shrinks only after the sustained-low window.

use std::time::{Duration, Instant};

use kproducer_net::{
    DEFAULT_COOLDOWN, DEFAULT_COOLDOWN_ROUND_TRIPS, DEFAULT_SUSTAINED_LOW, Decision, Reason,
    Scaler, ScalerConfig,
};

const TICK: Duration = Duration::from_millis(100);

/// One 100 ms window: every slot waited `wait` and was `busy` of it; the
/// group moved `bytes_per_sec(width)`; if `rtt` is given, ten round trips
/// of that length were answered.
fn tick(
    s: &mut Scaler,
    now: &mut Instant,
    wait: f64,
    busy: f64,
    rtt: Option<Duration>,
    bytes_per_sec: impl Fn(usize) -> f64,
) -> Decision {
    for slot in 0..s.width() {
        s.observe(slot, TICK.mul_f64(wait), TICK.mul_f64(busy));
    }
    s.observe_throughput((bytes_per_sec(s.width()) * TICK.as_secs_f64()) as u64);
    if let Some(rtt) = rtt {
        s.observe_round_trips(rtt * 10, 10);
    }
    *now += TICK;
    s.evaluate(*now)
}

/// Widths after each change, with the change's offset from `t0` in ms.
fn changes_over(
    s: &mut Scaler,
    now: &mut Instant,
    for_: Duration,
    load: (f64, f64),
    rtt: Option<Duration>,
    bytes_per_sec: impl Fn(usize) -> f64 + Copy,
) -> Vec<(u128, usize, Reason)> {
    let t0 = *now;
    let mut out = Vec::new();
    while *now - t0 < for_ {
        let d = tick(s, now, load.0, load.1, rtt, bytes_per_sec);
        if d.is_change() {
            out.push(((*now - t0).as_millis(), d.target_width, d.reason));
        }
    }
    out
}

/// Broker-bound: each connection moves 10 MB/s.
fn broker_bound(w: usize) -> f64 {
    10e6 * w as f64
}

/// Broker-bound up to three connections; a fourth adds nothing.
fn best_at_three(w: usize) -> f64 {
    10e6 * w.min(3) as f64
}

/// Every request waits the whole window: at width 2 the multi-step rule
/// would add 2 (`⌈2 × 1.0⌉`), so one-at-a-time steps show the judged rule.
const SATURATED: (f64, f64) = (1.0, 1.0);

#[test]
fn with_short_round_trips_the_group_reaches_the_maximum_one_step_per_short_cooldown() {
    let config = ScalerConfig::default();
    let rtt = Duration::from_millis(10);
    // 10 × 10 ms = 100 ms, below the floor of four 100 ms windows.
    let cooldown = config.cooldown_for(Some(rtt));
    assert_eq!(cooldown, config.min_cooldown());
    assert_eq!(cooldown, Duration::from_millis(400));

    let mut now = Instant::now();
    let mut s = Scaler::new(config, now).unwrap();
    let changes = changes_over(
        &mut s,
        &mut now,
        Duration::from_secs(3),
        SATURATED,
        Some(rtt),
        broker_bound,
    );
    let steps: Vec<(u128, usize)> = changes.iter().map(|c| (c.0, c.1)).collect();
    // First step after two windows of baseline, then one connection per
    // 400 ms cooldown, each judged effective before the next.
    assert_eq!(steps, vec![(200, 2), (600, 3), (1000, 4)], "{changes:?}");
    assert!(
        changes.iter().all(|c| matches!(c.2, Reason::ScaleUp(_))),
        "{changes:?}"
    );
}

#[test]
fn without_round_trips_the_fixed_cooldown_applies() {
    let mut now = Instant::now();
    let mut s = Scaler::new(ScalerConfig::default(), now).unwrap();
    let changes = changes_over(
        &mut s,
        &mut now,
        Duration::from_secs(6),
        SATURATED,
        None,
        broker_bound,
    );
    let steps: Vec<(u128, usize)> = changes.iter().map(|c| (c.0, c.1)).collect();
    let cooldown = DEFAULT_COOLDOWN.as_millis();
    assert_eq!(
        steps,
        vec![(200, 2), (200 + cooldown, 3), (200 + 2 * cooldown, 4)],
        "{changes:?}"
    );
}

#[test]
fn the_cooldown_follows_the_round_trip_between_its_bounds() {
    let config = ScalerConfig::default();
    for (rtt_ms, expected_ms) in [
        (1, 400),
        (40, 400),
        (60, 600),
        (150, 1500),
        (200, 2000),
        (500, 2000),
    ] {
        let rtt = Duration::from_millis(rtt_ms);
        assert_eq!(
            config.cooldown_for(Some(rtt)),
            Duration::from_millis(expected_ms),
            "round trip {rtt_ms} ms"
        );
        let mut now = Instant::now();
        let mut s = Scaler::new(config.clone(), now).unwrap();
        let changes = changes_over(
            &mut s,
            &mut now,
            Duration::from_secs(8),
            SATURATED,
            Some(rtt),
            broker_bound,
        );
        let at: Vec<u128> = changes.iter().map(|c| c.0).collect();
        assert_eq!(at.len(), 3, "round trip {rtt_ms} ms: {changes:?}");
        // Consecutive steps are one cooldown apart, rounded up to a window.
        for pair in at.windows(2) {
            let gap = pair[1] - pair[0];
            let want = u128::from(expected_ms).div_ceil(100) * 100;
            assert_eq!(gap, want, "round trip {rtt_ms} ms: {changes:?}");
        }
    }
    assert_eq!(DEFAULT_COOLDOWN_ROUND_TRIPS, 10);
}

#[test]
fn a_step_past_the_best_width_is_undone_and_the_best_width_kept() {
    let mut now = Instant::now();
    let mut s = Scaler::new(ScalerConfig::default(), now).unwrap();
    let rtt = Some(Duration::from_millis(10));
    let changes = changes_over(
        &mut s,
        &mut now,
        Duration::from_secs(20),
        SATURATED,
        rtt,
        best_at_three,
    );
    let steps: Vec<(u128, usize)> = changes.iter().map(|c| (c.0, c.1)).collect();
    // 1 → 2 → 3 kept, 3 → 4 undone one (short) cooldown later; then the
    // back-off (30 s) holds it at 3 for the rest of the run.
    assert_eq!(
        steps,
        vec![(200, 2), (600, 3), (1000, 4), (1400, 3)],
        "{changes:?}"
    );
    assert!(
        matches!(changes[3].2, Reason::IneffectiveScaleUp { .. }),
        "{changes:?}"
    );
    assert_eq!(s.width(), 3);
}

#[test]
fn a_short_cooldown_does_not_make_scale_down_faster() {
    let mut now = Instant::now();
    let config = ScalerConfig {
        initial_width: 4,
        ..ScalerConfig::default()
    };
    let mut s = Scaler::new(config, now).unwrap();
    let rtt = Some(Duration::from_millis(10));
    // Idle from the start: nothing waits, 5 % busy.
    let changes = changes_over(
        &mut s,
        &mut now,
        DEFAULT_SUSTAINED_LOW * 3,
        (0.0, 0.05),
        rtt,
        broker_bound,
    );
    let first = changes.first().expect("shrinks eventually");
    assert!(
        first.0 >= DEFAULT_SUSTAINED_LOW.as_millis(),
        "shrank after {} ms: {changes:?}",
        first.0
    );
    assert!(matches!(first.2, Reason::SustainedLow), "{changes:?}");
    // Each later shrink needs its own sustained-low window too.
    for pair in changes.windows(2) {
        assert!(
            pair[1].0 - pair[0].0 >= DEFAULT_SUSTAINED_LOW.as_millis(),
            "{changes:?}"
        );
    }
}
