//! Properties of the scaler over random configurations and signal sequences.
//!
//! proptest prints the minimal failing input (and stores it under
//! `proptest-regressions/`), which replays the failure exactly: the scaler
//! has no clock and no randomness of its own.

use std::time::{Duration, Instant};

use kproducer_net::{Decision, Scaler, ScalerConfig};
use proptest::prelude::*;

/// A valid configuration with default thresholds and random bounds/timings.
fn config() -> impl Strategy<Value = ScalerConfig> {
    (
        1usize..4,
        0usize..6,
        1usize..4,
        0u64..5_000,
        0u64..60_000,
        1u64..500,
    )
        .prop_flat_map(|(min, span, step, cooldown, low, window)| {
            (min..=min + span).prop_map(move |initial| ScalerConfig {
                min_width: min,
                max_width: min + span,
                initial_width: initial,
                max_step: step,
                cooldown: Duration::from_millis(cooldown),
                sustained_low: Duration::from_millis(low),
                min_window: Duration::from_millis(window),
                ..ScalerConfig::default()
            })
        })
}

/// One step of input: time passing, per-slot observations (slot, waited ms,
/// busy ms), a buffer sample (permille), then an evaluation.
#[derive(Debug, Clone)]
struct Step {
    dt_ms: u64,
    slots: Vec<(usize, u64, u64)>,
    buffer_permille: Option<u64>,
}

fn step() -> impl Strategy<Value = Step> {
    (
        0u64..5_000,
        prop::collection::vec((0usize..10, 0u64..6_000, 0u64..6_000), 0..10),
        prop::option::of(0u64..=1000),
    )
        .prop_map(|(dt_ms, slots, buffer_permille)| Step {
            dt_ms,
            slots,
            buffer_permille,
        })
}

fn apply(s: &mut Scaler, now: &mut Instant, st: &Step) -> Decision {
    if let Some(p) = st.buffer_permille {
        s.observe_buffer(*now, p, 1000);
    }
    for &(slot, waited, busy) in &st.slots {
        s.observe(
            slot,
            Duration::from_millis(waited),
            Duration::from_millis(busy),
        );
    }
    *now += Duration::from_millis(st.dt_ms);
    s.evaluate(*now)
}

/// Whether any quantity the decision compares lies within `eps` of its
/// threshold (where floating-point rounding could tip a decision).
fn near_threshold(c: &ScalerConfig, width: usize, wait: f64, busy: f64, buffer: f64) -> bool {
    let eps = 1e-6;
    let near = |x: f64, t: f64| (x - t).abs() < eps;
    let mut checks = vec![
        near(wait, c.scale_up_wait),
        near(wait, c.scale_down_wait),
        near(buffer, c.scale_up_buffer),
        near(buffer, c.scale_down_buffer),
        near(busy, c.scale_up_busy),
        near((width as f64 * wait).fract(), 0.0),
    ];
    for k in 1..width {
        checks.push(near(
            busy * width as f64 / (width - k) as f64,
            c.scale_down_busy,
        ));
    }
    checks.into_iter().any(|b| b)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Width stays within [min, max], moves at most max_step per decision,
    /// and two changes are at least a cooldown apart.
    #[test]
    fn width_stays_in_bounds_and_changes_are_bounded(
        c in config(),
        steps in prop::collection::vec(step(), 1..80),
    ) {
        let mut now = Instant::now();
        let mut s = Scaler::new(c.clone(), now).unwrap();
        let mut last_change: Option<Instant> = None;
        for st in &steps {
            let d = apply(&mut s, &mut now, st);
            prop_assert!(d.target_width >= c.min_width && d.target_width <= c.max_width);
            prop_assert_eq!(s.width(), d.target_width);
            prop_assert!(d.target_width.abs_diff(d.previous_width) <= c.max_step);
            if d.is_change() {
                if let Some(at) = last_change {
                    prop_assert!(now - at >= c.cooldown, "changes {:?} apart", now - at);
                }
                last_change = Some(now);
            }
        }
    }

    /// From the same state, a window with at least as much of every signal
    /// never yields a smaller target.
    #[test]
    fn more_pressure_never_yields_fewer_connections(
        c in config(),
        prefix in prop::collection::vec(step(), 0..40),
        dt_ms in 1u64..10_000,
        base in prop::collection::vec((0u64..4_000, 0u64..4_000), 10),
        extra in prop::collection::vec((0u64..4_000, 0u64..4_000), 10),
        buffer in (0u64..=1000, 0u64..=1000),
    ) {
        let mut now = Instant::now();
        let mut s = Scaler::new(c, now).unwrap();
        for st in &prefix {
            apply(&mut s, &mut now, st);
        }
        let mut low = s.clone();
        let mut high = s;
        let (buf_low, buf_extra) = buffer;
        low.observe_buffer(now, buf_low, 1000);
        high.observe_buffer(now, (buf_low + buf_extra).min(1000), 1000);
        for (slot, (&(w, b), &(dw, db))) in base.iter().zip(&extra).enumerate() {
            low.observe(slot, Duration::from_millis(w), Duration::from_millis(b));
            high.observe(slot, Duration::from_millis(w + dw), Duration::from_millis(b + db));
        }
        now += Duration::from_millis(dt_ms);
        let dl = low.evaluate(now);
        let dh = high.evaluate(now);
        prop_assert!(dh.target_width >= dl.target_width, "low {:?}\nhigh {:?}", dl, dh);
    }

    /// The same fractions over a short or a long window give the same
    /// decision: signals are rates, not counts.
    #[test]
    fn same_fractions_over_any_window_give_the_same_decision(
        c in config(),
        wait in 0.0f64..1.0,
        busy in 0.0f64..1.0,
        fill_permille in 0u64..=1000,
        windows in (0u64..36_000, 0u64..36_000),
    ) {
        let buffer = fill_permille as f64 / 1000.0;
        prop_assume!(!near_threshold(&c, c.initial_width, wait, busy, buffer));
        let floor = c.sustained_low.max(c.min_window);
        let decide = |extra_s: u64| {
            let t0 = Instant::now();
            let mut s = Scaler::new(c.clone(), t0).unwrap();
            let window = floor + Duration::from_secs(extra_s);
            s.observe_buffer(t0, fill_permille, 1000);
            for slot in 0..s.width() {
                s.observe(slot, window.mul_f64(wait), window.mul_f64(busy));
            }
            s.evaluate(t0 + window)
        };
        let short = decide(windows.0);
        let long = decide(windows.1);
        prop_assert_eq!(short.target_width, long.target_width, "{:?}\n{:?}", short, long);
        prop_assert_eq!(
            std::mem::discriminant(&short.reason),
            std::mem::discriminant(&long.reason)
        );
        let (a, b) = (short.signals.unwrap(), long.signals.unwrap());
        prop_assert!((a.wait_fraction - b.wait_fraction).abs() < 1e-6);
        prop_assert!((a.busy_fraction - b.busy_fraction).abs() < 1e-6);
        prop_assert!((a.buffer_fill - b.buffer_fill).abs() < 1e-6);
    }

    /// Under constant demand (with up to ±10% noise per window) the width
    /// moves in one direction only, then stays; it ends neither starved
    /// (waiting above the threshold below max) nor idle (a shrink that would
    /// stay half-busy, above min).
    ///
    /// Fluid model: demand `d` connection-equivalents spread over `w`
    /// connections gives each utilisation `u = d/w`: busy `min(u, 1)`,
    /// waiting `max(u - 1, 0)`, buffer fill `clamp(u - 1, 0, 1)`.
    #[test]
    fn constant_load_settles_without_oscillating(
        initial in 1usize..=8,
        demand in 0.0f64..10.0,
        amplitude in 0.0f64..0.1,
        noise in prop::collection::vec(-1.0f64..1.0, 600),
    ) {
        let c = ScalerConfig { min_width: 1, max_width: 8, initial_width: initial, ..Default::default() };
        let mut now = Instant::now();
        let mut s = Scaler::new(c.clone(), now).unwrap();
        let tick = Duration::from_secs(1);
        let mut widths = vec![s.width()];
        for n in &noise {
            let w = s.width();
            let u = demand * (1.0 + amplitude * n) / w as f64;
            s.observe_buffer(now, ((u - 1.0).clamp(0.0, 1.0) * 1e6) as u64, 1_000_000);
            for slot in 0..w {
                s.observe(slot, tick.mul_f64((u - 1.0).max(0.0)), tick.mul_f64(u.min(1.0)));
            }
            now += tick;
            let d = s.evaluate(now);
            if d.is_change() {
                widths.push(d.target_width);
            }
        }
        let up = widths.windows(2).all(|p| p[1] > p[0]);
        let down = widths.windows(2).all(|p| p[1] < p[0]);
        prop_assert!(up || down, "width oscillated: {:?}", widths);
        let w = s.width() as f64;
        let worst = demand * (1.0 + amplitude) / w;
        let best = demand * (1.0 - amplitude) / w;
        prop_assert!(
            s.width() == c.max_width || best - 1.0 < c.scale_up_wait,
            "starved at {} for demand {}: {:?}", w, demand, widths
        );
        prop_assert!(
            s.width() == c.min_width || worst * w / (w - 1.0) > c.scale_down_busy,
            "idle at {} for demand {}: {:?}", w, demand, widths
        );
    }
}
