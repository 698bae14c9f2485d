//! The scaler's decisions on hand-made, deterministic signal sequences.

use std::time::{Duration, Instant};

use kproducer_net::{
    DEFAULT_COOLDOWN, DEFAULT_SUSTAINED_LOW, Reason, ScaleUpTrigger, Scaler, ScalerConfig,
    ScalerConfigError,
};

const SEC: Duration = Duration::from_secs(1);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Feeds every active slot the same fractions of `window`, then evaluates at
/// `*now + window`.
fn window(
    s: &mut Scaler,
    now: &mut Instant,
    window: Duration,
    wait: f64,
    busy: f64,
) -> kproducer_net::Decision {
    for slot in 0..s.width() {
        s.observe(slot, window.mul_f64(wait), window.mul_f64(busy));
    }
    *now += window;
    s.evaluate(*now)
}

#[test]
fn config_validation_names_the_problem() {
    let d = ScalerConfig::default;
    let cases = [
        (
            ScalerConfig {
                min_width: 0,
                ..d()
            },
            ScalerConfigError::MinWidthZero,
        ),
        (
            ScalerConfig {
                min_width: 3,
                max_width: 2,
                initial_width: 3,
                ..d()
            },
            ScalerConfigError::MinAboveMax { min: 3, max: 2 },
        ),
        (
            ScalerConfig {
                initial_width: 9,
                ..d()
            },
            ScalerConfigError::InitialOutOfBounds {
                initial: 9,
                min: 1,
                max: 4,
            },
        ),
        (
            ScalerConfig { max_step: 0, ..d() },
            ScalerConfigError::MaxStepZero,
        ),
        (
            ScalerConfig {
                min_window: Duration::ZERO,
                ..d()
            },
            ScalerConfigError::MinWindowZero,
        ),
        (
            ScalerConfig {
                scale_up_wait: f64::NAN,
                ..d()
            },
            ScalerConfigError::ThresholdOutOfRange {
                name: "scale_up_wait",
                value: f64::NAN,
            },
        ),
    ];
    for (config, want) in cases {
        let got = config.validate().expect_err("must be rejected");
        // NaN != NaN, so compare the messages.
        assert_eq!(got.to_string(), want.to_string());
        assert!(Scaler::new(config, Instant::now()).is_err());
    }
    let narrow = ScalerConfig {
        scale_up_wait: 0.05,
        scale_down_wait: 0.04,
        ..d()
    };
    let err = narrow.validate().expect_err("band too narrow");
    assert!(
        matches!(err, ScalerConfigError::NoHysteresis { signal: "wait", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("hysteresis"));
    let inverted = ScalerConfig {
        scale_up_busy: 0.4,
        scale_down_busy: 0.5,
        ..d()
    };
    assert!(matches!(
        inverted.validate(),
        Err(ScalerConfigError::NoHysteresis { signal: "busy", .. })
    ));
}

#[test]
fn waiting_for_permits_scales_up_by_a_bounded_step() {
    let mut now = Instant::now();
    let config = ScalerConfig {
        max_width: 8,
        max_step: 2,
        ..Default::default()
    };
    let mut s = Scaler::new(config, now).unwrap();
    let d = window(&mut s, &mut now, SEC, 0.3, 1.0);
    assert_eq!(
        d.reason,
        Reason::ScaleUp(ScaleUpTrigger::WaitingForInFlightPermit)
    );
    assert_eq!((d.previous_width, d.target_width), (1, 2));
    let signals = d.signals.unwrap();
    assert!((signals.wait_fraction - 0.3).abs() < 1e-9);

    // Within the cooldown: no change, whatever the pressure.
    let d = window(&mut s, &mut now, SEC, 1.0, 1.0);
    assert_eq!(d.reason, Reason::CoolingDown);
    assert_eq!(s.width(), 2);

    // After it, saturated waiting asks for 2 more, capped by max_step.
    let d = window(&mut s, &mut now, DEFAULT_COOLDOWN, 1.0, 1.0);
    assert_eq!((d.previous_width, d.target_width), (2, 4));
}

#[test]
fn full_buffer_counts_only_when_connections_are_busy() {
    let mut now = Instant::now();
    let mut s = Scaler::new(ScalerConfig::default(), now).unwrap();
    s.observe_buffer(now, 800, 1000);
    let d = window(&mut s, &mut now, SEC, 0.0, 0.3);
    assert_eq!(
        d.reason,
        Reason::Steady,
        "idle connections: something else is slow"
    );
    let d = window(&mut s, &mut now, SEC, 0.0, 0.95);
    assert_eq!(d.reason, Reason::ScaleUp(ScaleUpTrigger::BufferBackedUp));
    assert_eq!(d.target_width, 2);
}

#[test]
fn buffer_fill_is_averaged_over_time() {
    let mut now = Instant::now();
    let mut s = Scaler::new(ScalerConfig::default(), now).unwrap();
    // Full for 100 ms of a 10 s window: 1% fill on average.
    s.observe_buffer(now, 1000, 1000);
    s.observe_buffer(now + ms(100), 0, 1000);
    let d = window(&mut s, &mut now, 10 * SEC, 0.0, 0.95);
    let fill = d.signals.unwrap().buffer_fill;
    assert!((fill - 0.01).abs() < 1e-9, "fill {fill}");
    assert_eq!(d.reason, Reason::AtMinimum, "1% fill is low, not pressure");
    // The last level (empty) carries into the next window.
    let d = window(&mut s, &mut now, SEC, 0.0, 0.95);
    assert_eq!(d.signals.unwrap().buffer_fill, 0.0);
}

#[test]
fn hours_of_mild_pressure_never_add_up_to_a_scale_up() {
    let mut now = Instant::now();
    let mut s = Scaler::new(ScalerConfig::default(), now).unwrap();
    // 5% waiting (half the threshold) every second for 6 hours.
    for _ in 0..6 * 3600 {
        let d = window(&mut s, &mut now, SEC, 0.05, 1.0);
        assert_eq!(d.reason, Reason::Steady);
    }
    assert_eq!(s.width(), 1);
}

#[test]
fn short_windows_accumulate_instead_of_deciding() {
    let mut now = Instant::now();
    let mut s = Scaler::new(ScalerConfig::default(), now).unwrap();
    // 40 ms windows are too short; their observations are kept.
    for _ in 0..25 {
        s.observe(0, ms(8), ms(40));
        now += ms(40);
        let d = s.evaluate(now);
        if d.reason != Reason::WindowTooShort {
            // Every third 40 ms step closes a 120 ms window at 20% waiting.
            assert!(matches!(d.reason, Reason::ScaleUp(_)));
            assert!((d.signals.unwrap().wait_fraction - 0.2).abs() < 1e-9);
            return;
        }
        assert!(d.signals.is_none());
    }
    panic!("a window of at least min_window never closed");
}

#[test]
fn scale_down_needs_sustained_low_load_and_any_blip_restarts_the_clock() {
    let mut now = Instant::now();
    let config = ScalerConfig {
        initial_width: 4,
        ..Default::default()
    };
    let mut s = Scaler::new(config, now).unwrap();
    // 10% busy on 4 connections would keep 1 connection 40% busy.
    for _ in 0..29 {
        let d = window(&mut s, &mut now, SEC, 0.0, 0.1);
        assert!(
            matches!(d.reason, Reason::LowNotYetSustained { .. }),
            "{:?}",
            d.reason
        );
    }
    // A blip in the hysteresis band resets the low timer.
    let d = window(&mut s, &mut now, SEC, 0.05, 0.1);
    assert_eq!(d.reason, Reason::Steady);
    for _ in 0..29 {
        let d = window(&mut s, &mut now, SEC, 0.0, 0.1);
        assert!(!d.is_change());
    }
    let d = window(&mut s, &mut now, SEC, 0.0, 0.1);
    assert_eq!(d.reason, Reason::SustainedLow);
    // Bounded step: 4 → 2 (max_step 2), not straight to 1.
    assert_eq!(d.target_width, 2);
}

#[test]
fn scale_down_keeps_enough_connections_for_the_load() {
    let mut now = Instant::now();
    let config = ScalerConfig {
        initial_width: 4,
        max_step: 3,
        ..Default::default()
    };
    let mut s = Scaler::new(config, now).unwrap();
    // 25% busy on 4 = 1 connection's worth: 2 connections would be 50% busy.
    let d = window(&mut s, &mut now, DEFAULT_SUSTAINED_LOW, 0.0, 0.25);
    assert_eq!(d.reason, Reason::SustainedLow);
    assert_eq!(d.target_width, 2);
    // 2 connections at 50%: one would be fully busy; stay.
    for _ in 0..120 {
        let d = window(&mut s, &mut now, SEC, 0.0, 0.5);
        assert!(!d.is_change(), "{d:?}");
    }
}

/// Scenario 25: under sustained load (the total in flight never reaches zero)
/// a wanted scale-up and a wanted scale-down both happen within a bounded
/// time, because the scaler never waits for quiescence.
#[test]
fn sustained_load_scales_both_ways_within_bounded_time() {
    let mut now = Instant::now();
    let start = now;
    let mut s = Scaler::new(ScalerConfig::default(), now).unwrap();
    let tick = ms(250);
    // Heavy load: connections always busy, waiting 50%.
    while s.width() < 4 {
        window(&mut s, &mut now, tick, 0.5, 1.0);
        assert!(
            now - start <= 3 * DEFAULT_COOLDOWN,
            "scale-up took {:?}",
            now - start
        );
    }
    // Load drops to 10% of the group, but nothing ever goes idle (busy > 0).
    let dropped = now;
    while s.width() > 1 {
        window(&mut s, &mut now, tick, 0.0, 0.1);
        assert!(
            now - dropped <= 2 * (DEFAULT_SUSTAINED_LOW + DEFAULT_COOLDOWN),
            "scale-down took {:?}",
            now - dropped
        );
    }
}

#[test]
fn retiring_slots_and_backwards_instants_are_harmless() {
    let mut now = Instant::now();
    let mut s = Scaler::new(ScalerConfig::default(), now).unwrap();
    // Slot 7 does not exist at width 1: ignored, not a panic.
    s.observe(7, 100 * SEC, 100 * SEC);
    s.observe_buffer(now, 1, 0);
    let d = s.evaluate(now - SEC);
    assert_eq!(d.reason, Reason::WindowTooShort);
    let d = window(&mut s, &mut now, SEC, 0.0, 0.0);
    assert_eq!(d.signals.unwrap().wait_fraction, 0.0);
    assert_eq!(d.reason, Reason::AtMinimum);
}
