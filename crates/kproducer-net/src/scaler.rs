//! How many connections a broker's group should have: signals in, a target
//! width out.
//!
//! [`Scaler`] is a pure state machine. It owns no clock and does no I/O: the
//! connection group feeds it what it measured ([`Scaler::observe`],
//! [`Scaler::observe_buffer`]) and asks for a decision at an instant it
//! passes in ([`Scaler::evaluate`]). Every signal is divided by the time it
//! was gathered over, so an hour of mild pressure weighs exactly as much as a
//! second of it, and replaying the same inputs gives the same decisions.
//!
//! See `docs/scaling.md` for the reasoning behind every threshold.

use std::time::{Duration, Instant};

use crate::scale_up_check::{ScaleUpCheck, Verdict, WindowMeasure};
use crate::scaler_config::{ScalerConfig, ScalerConfigError};
use crate::scaler_window::RoundTrips;

mod decide;
mod demand;
mod heads;

/// What one evaluation window measured, each signal normalised by the
/// window's length.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Signals {
    /// How long the window lasted (time since the previous evaluation that
    /// consumed a window).
    pub window: Duration,
    /// The width the signals were measured at.
    pub width: usize,
    /// Mean over the group's slots of `time requests waited for an in-flight
    /// permit / window`, each slot's share capped at 1. A request that waits
    /// for a permit is direct evidence that the in-flight window, not the
    /// broker or the network, is the bottleneck.
    pub wait_fraction: f64,
    /// Mean over the group's slots of `time the connection had a request
    /// in flight / window`, each slot capped at 1.
    pub busy_fraction: f64,
    /// Time-weighted mean of `buffered bytes / buffer memory` over the window.
    pub buffer_fill: f64,
    /// Bytes per second the group reported moving over the window
    /// ([`Scaler::observe_throughput`]); 0 when nothing was reported.
    pub throughput: f64,
    /// Bytes waiting to be sent when the window closed
    /// ([`Scaler::observe_backlog`]); `None` when not reported.
    pub backlog_bytes: Option<u64>,
    /// Bytes per second offered to the group over the window: what it
    /// moved plus how fast its backlog grew (minus how fast it shrank).
    /// `None` unless the backlog was reported at both ends of the window.
    pub offered: Option<f64>,
}

impl Signals {
    /// The busy fraction the remaining connections would have if the same
    /// work were carried by `width - removed` connections.
    ///
    /// Returns `f64::INFINITY` when nothing would remain.
    pub fn projected_busy(&self, removed: usize) -> f64 {
        let remaining = self.width.saturating_sub(removed);
        if remaining == 0 {
            return f64::INFINITY;
        }
        self.busy_fraction * self.width as f64 / remaining as f64
    }
}

/// Why the pressure was high enough to add connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleUpTrigger {
    /// Requests waited for an in-flight permit at least
    /// [`ScalerConfig::scale_up_wait`] of the time.
    WaitingForInFlightPermit,
    /// The buffer was at least [`ScalerConfig::scale_up_buffer`] full while
    /// the connections were at least [`ScalerConfig::scale_up_busy`] busy.
    BufferBackedUp,
}

/// Why [`Scaler::evaluate`] decided what it decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Less than [`ScalerConfig::min_window`] passed since the last window
    /// closed; observations keep accumulating and nothing was decided.
    WindowTooShort,
    /// Pressure is high: the width grows.
    ScaleUp(ScaleUpTrigger),
    /// Pressure is high but the width is already at the maximum.
    AtMaximum,
    /// Load has been low for at least [`ScalerConfig::sustained_low`]: the
    /// width shrinks.
    SustainedLow,
    /// Load is low, but not yet for long enough.
    LowNotYetSustained {
        /// How long it has been low so far.
        low_for: Duration,
    },
    /// Load is low but the width is already at the minimum.
    AtMinimum,
    /// A change is wanted, but the last change was less than
    /// [`ScalerConfig::cooldown`] ago: its effect is not measurable yet.
    CoolingDown,
    /// Pressure is between the scale-down and scale-up thresholds
    /// (the hysteresis band): nothing to do.
    Steady,
    /// The last scale-up did not raise throughput by
    /// [`ScalerConfig::scale_up_min_gain`] within a cooldown: the
    /// bottleneck is not the connections (typically the producer's own
    /// CPU). The width goes back, and scale-ups are blocked for a while.
    IneffectiveScaleUp {
        /// Bytes per second before the scale-up.
        before_bytes_per_sec: u64,
        /// Bytes per second after it.
        after_bytes_per_sec: u64,
    },
    /// Pressure is high, but has lasted less than
    /// [`BASELINE_WINDOWS`](crate::BASELINE_WINDOWS) minimum windows: the
    /// throughput it brings is measured first, as the baseline that the
    /// scale-up will be judged against. Only when throughput is reported
    /// ([`Scaler::observe_throughput`]); in practice it delays the first
    /// scale-up after start or after a change of load by one window.
    /// Also when the backlog is reported and the window answered nothing:
    /// there is no rate to size a step by yet.
    MeasuringBaseline,
    /// Pressure is high (requests waited), but the backlog says the
    /// current width carries what is offered: the load plus the backlog
    /// beyond one round trip's worth, spread over half a cooldown, is less
    /// than [`ScalerConfig::scale_up_min_gain`] above what the group moved.
    /// Another connection could not gain enough to be kept. Only when the
    /// backlog is reported ([`Scaler::observe_backlog`]).
    WithinCapacity,
    /// Pressure is high, but the group moves less than half (over its
    /// busy time) of what this width carried within
    /// [`CAPACITY_MEMORY`](crate::CAPACITY_MEMORY): the width is not what
    /// limits it now (the broker or the producer stalled), and a wider
    /// group would only drain faster a backlog this width has shown it can
    /// carry (the stall's windows would also make any later step look
    /// effective against them, so they are not a baseline). Only when the
    /// backlog is reported ([`Scaler::observe_backlog`]).
    ///
    /// A window under the pressure that answered nothing makes it a
    /// stall. When every window answered, the broker may simply be slower
    /// now: after [`SLOWER_WINDOWS`](crate::SLOWER_WINDOWS) such windows
    /// the lower rate becomes the width's shown rate and the scale-up goes
    /// ahead (sized and judged as any other); before, this holds.
    SlowerThanShown {
        /// Bytes per second moved under the current pressure.
        moving_bytes_per_sec: u64,
        /// The best bytes per second this width carried recently.
        shown_bytes_per_sec: u64,
    },
    /// Pressure is high, but a recent scale-up did not pay off: no new
    /// trial until the back-off ends.
    ScaleUpBackedOff {
        /// How long the back-off still lasts.
        remaining: Duration,
    },
}

/// The result of one [`Scaler::evaluate`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    /// The width before this decision.
    pub previous_width: usize,
    /// The width the group should have now. Equal to `previous_width` unless
    /// the reason is [`Reason::ScaleUp`], [`Reason::SustainedLow`] or
    /// [`Reason::IneffectiveScaleUp`].
    pub target_width: usize,
    /// Why.
    pub reason: Reason,
    /// What the window measured; `None` when the window was too short.
    pub signals: Option<Signals>,
}

impl Decision {
    /// Whether the width changes.
    pub fn is_change(&self) -> bool {
        self.target_width != self.previous_width
    }
}

/// Per-slot sums since the window opened.
#[derive(Debug, Clone, Copy, Default)]
struct SlotTotals {
    waited: Duration,
    busy: Duration,
}

/// Decides the connection count of one broker's group.
///
/// Feed it, per slot, how long requests waited for an in-flight permit and how
/// long the connection was busy ([`observe`](Self::observe)); feed it the
/// buffer level whenever it changes or periodically
/// ([`observe_buffer`](Self::observe_buffer)); call
/// [`evaluate`](Self::evaluate) periodically (every few hundred milliseconds is
/// plenty) and apply the target width it returns. Optionally feed it the
/// bytes the group moved ([`observe_throughput`](Self::observe_throughput)):
/// then a scale-up that does not raise throughput is undone.
///
/// ```
/// use std::time::{Duration, Instant};
/// use kproducer_net::{Reason, Scaler, ScalerConfig};
///
/// let t0 = Instant::now();
/// let mut scaler = Scaler::new(ScalerConfig::default(), t0)?;
/// assert_eq!(scaler.width(), 1);
///
/// // Over one second, requests on slot 0 waited 400 ms for a permit.
/// scaler.observe(0, Duration::from_millis(400), Duration::from_secs(1));
/// let decision = scaler.evaluate(t0 + Duration::from_secs(1));
/// assert!(decision.is_change());
/// assert!(matches!(decision.reason, Reason::ScaleUp(_)));
/// assert_eq!(scaler.width(), decision.target_width);
/// # Ok::<(), kproducer_net::ScalerConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Scaler {
    config: ScalerConfig,
    width: usize,
    window_start: Instant,
    slots: Vec<SlotTotals>,
    /// Integral of the buffer fill over the open window, in fill·seconds.
    buffer_integral: f64,
    /// The last buffer sample: when, and how full.
    buffer_level: Option<(Instant, f64)>,
    last_change: Option<Instant>,
    /// The cooldown that started at `last_change` (fixed at the change).
    change_cooldown: Duration,
    low_since: Option<Instant>,
    scale_up_check: ScaleUpCheck,
    /// Produce round trips: the open window's, and their smoothed mean.
    round_trips: RoundTrips,
    /// The last backlog reported ([`Scaler::observe_backlog`]).
    backlog: Option<u64>,
    /// The backlog when the open window opened (0 for the first window).
    backlog_at_open: Option<u64>,
    /// The last outstanding bytes reported ([`Scaler::observe_outstanding`]).
    outstanding: Option<u64>,
    /// The outstanding bytes when the open window opened (0 for the first
    /// window).
    outstanding_at_open: Option<u64>,
    /// Per slot, the oldest unanswered request reported since the last
    /// evaluation: its bytes and how long it has been served at least
    /// ([`Scaler::observe_unanswered`]).
    unanswered: Vec<Option<(u64, Duration)>>,
}

impl Scaler {
    /// A scaler at `config.initial_width`, its first window opening at `now`.
    ///
    /// # Errors
    /// The configuration's validation error, see [`ScalerConfig::validate`].
    pub fn new(config: ScalerConfig, now: Instant) -> Result<Self, ScalerConfigError> {
        config.validate()?;
        Ok(Self {
            width: config.initial_width,
            change_cooldown: config.cooldown,
            slots: vec![SlotTotals::default(); config.initial_width],
            config,
            window_start: now,
            buffer_integral: 0.0,
            buffer_level: None,
            last_change: None,
            low_since: None,
            scale_up_check: ScaleUpCheck::default(),
            round_trips: RoundTrips::default(),
            backlog: None,
            // A group starts with nothing waiting (the producer creates a
            // broker's scaler when it first uses the broker).
            backlog_at_open: Some(0),
            outstanding: None,
            outstanding_at_open: Some(0),
            unanswered: Vec::new(),
        })
    }

    /// The current width (what the last change decided).
    pub fn width(&self) -> usize {
        self.width
    }

    /// The configuration in force.
    pub fn config(&self) -> &ScalerConfig {
        &self.config
    }

    /// Adds what slot `slot` measured since its previous report: `waited`,
    /// the total time requests spent waiting for one of its in-flight permits
    /// (summed over requests, so it can exceed wall time when several wait
    /// at once), and `busy`, the time it had at least one request in flight.
    ///
    /// Reports for slots at or beyond the current width are ignored: those
    /// connections are retiring and take no new work.
    pub fn observe(&mut self, slot: usize, waited: Duration, busy: Duration) {
        if let Some(totals) = self.slots.get_mut(slot) {
            totals.waited = totals.waited.saturating_add(waited);
            totals.busy = totals.busy.saturating_add(busy);
        }
    }

    /// Adds `bytes` the group moved since its previous report (the producer
    /// reports bytes of batches in answered requests; any measure of work
    /// done works, as long as it is the same one throughout).
    ///
    /// Optional. When the group reports it, every scale-up is checked a
    /// cooldown later: unless throughput rose by at least
    /// [`ScalerConfig::scale_up_min_gain`], the scale-up is undone
    /// ([`Reason::IneffectiveScaleUp`]) and further scale-ups back off
    /// ([`Reason::ScaleUpBackedOff`]). Without it, scale-ups are never
    /// undone.
    pub fn observe_throughput(&mut self, bytes: u64) {
        self.scale_up_check.observe(bytes);
    }

    /// Adds `count` Produce round trips (request handed to the connection →
    /// its answer) that took `total` together, since the previous report.
    ///
    /// Optional. When the group reports them, the cooldown after a change is
    /// [`ScalerConfig::cooldown_round_trips`] of the smoothed mean round
    /// trip ([`ScalerConfig::cooldown_for`]) instead of the fixed
    /// [`ScalerConfig::cooldown`]: a change is visible once its
    /// connections are up and its fences have lifted, which takes round
    /// trips, not seconds. The mean is smoothed over windows (each closed
    /// window's mean weighs one half).
    ///
    /// They also pace the windows: while the group is answering, a window
    /// lasts [`WINDOW_ROUND_TRIPS`](crate::WINDOW_ROUND_TRIPS) round trips
    /// (between [`MIN_WINDOW_FLOOR`](crate::MIN_WINDOW_FLOOR) and
    /// [`ScalerConfig::min_window`]; see [`window_length`](Self::window_length)),
    /// and `count` is how many answers back the throughput measured (see
    /// [`EARLY_MIN_ANSWERS`](crate::EARLY_MIN_ANSWERS)).
    pub fn observe_round_trips(&mut self, total: Duration, count: u64) {
        self.round_trips.observe(total, count);
    }

    /// Sets the group's backlog: `bytes` of batches ready to send and
    /// waiting (for an in-flight slot, a connection, a fence), as of now.
    /// The level at each window's close counts.
    ///
    /// Optional. With it, and throughput reports, the scaler sizes a
    /// scale-up by demand instead of adding one connection: the load
    /// offered over the window (what was moved plus how fast the backlog
    /// grew) and the backlog beyond one round trip's worth, to be cleared
    /// within half a cooldown, divided by what one connection carried. A
    /// backlog many round trips deep opens several connections at once
    /// (up to the maximum); no backlog and no growth holds the width
    /// ([`Reason::WithinCapacity`]) even if requests waited. When the
    /// buffer is at least [`ScalerConfig::scale_up_buffer`] full, the
    /// sender is blocked and its demand unknown, so the step goes to the
    /// maximum. Every such step is judged like any other, and undone whole
    /// if it did not pay off. While the group moves less than half of what
    /// the width has shown it carries (a stall, not the width, limits
    /// it), nothing grows ([`Reason::SlowerThanShown`]), unless every
    /// window keeps answering for [`SLOWER_WINDOWS`](crate::SLOWER_WINDOWS)
    /// windows: then the broker is slower, not stalled, and the group may
    /// grow.
    pub fn observe_backlog(&mut self, bytes: u64) {
        self.backlog = Some(bytes);
    }

    /// Sets the bytes the group has been given and not yet answered, as
    /// of now: the backlog ([`observe_backlog`](Self::observe_backlog))
    /// plus the batches still being filled and the requests in flight, in
    /// the unit of [`observe_throughput`](Self::observe_throughput).
    ///
    /// Optional, with the backlog. With it the load offered over a window
    /// is what was answered plus how much this grew, which also sees what
    /// the backlog cannot: at the start of a burst, batches go in flight
    /// as fast as they are sealed (the window is not full yet) and the
    /// backlog stays empty while the offered load is many times what the
    /// group moves. Without it, the backlog's growth stands for it.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use kproducer_net::{Scaler, ScalerConfig};
    ///
    /// let mut scaler = Scaler::new(ScalerConfig::default(), Instant::now()).unwrap();
    /// scaler.observe_backlog(0);
    /// scaler.observe_outstanding(3_000_000); // three 1 MB requests in flight
    /// ```
    pub fn observe_outstanding(&mut self, bytes: u64) {
        self.outstanding = Some(bytes);
    }

    /// The smoothed mean Produce round trip, once one was reported.
    pub fn round_trip(&self) -> Option<Duration> {
        self.round_trips.smoothed()
    }

    /// How long the open window must last before [`evaluate`](Self::evaluate)
    /// closes it: [`WINDOW_ROUND_TRIPS`](crate::WINDOW_ROUND_TRIPS) mean
    /// round trips while the group is answering (the open window's mean
    /// before the first window with answers closes), at least
    /// [`MIN_WINDOW_FLOOR`](crate::MIN_WINDOW_FLOOR) and at most
    /// [`ScalerConfig::min_window`]; `min_window` when round trips are not
    /// reported or the group is idle.
    pub fn window_length(&self) -> Duration {
        self.round_trips.window_length(&self.config)
    }

    /// Whether round trips pace the windows now: the open window or the
    /// last closed one had answers (see [`window_length`](Self::window_length)).
    /// While they do not, the first answers reported can shorten the open
    /// window, so a caller that evaluates on a timer should report them
    /// (and evaluate) as soon as they come, not at its next tick.
    pub fn paced_by_round_trips(&self) -> bool {
        self.round_trips.paces()
    }

    /// The earliest instant at which [`evaluate`](Self::evaluate) can
    /// close the open window, as of the observations so far: when a caller
    /// that evaluates on a timer should tick next (more observations can
    /// only make the window shorter, never longer).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use kproducer_net::{Scaler, ScalerConfig};
    ///
    /// let t0 = Instant::now();
    /// let mut scaler = Scaler::new(ScalerConfig::default(), t0)?;
    /// assert_eq!(scaler.next_evaluation(), t0 + Duration::from_millis(100));
    /// // Two answers of 6 ms each: the window is two round trips.
    /// scaler.observe_round_trips(Duration::from_millis(12), 2);
    /// assert_eq!(scaler.next_evaluation(), t0 + Duration::from_millis(12));
    /// # Ok::<(), kproducer_net::ScalerConfigError>(())
    /// ```
    pub fn next_evaluation(&self) -> Instant {
        self.window_start + self.window_length()
    }

    /// The cooldown a change made now would get
    /// ([`ScalerConfig::cooldown_for`] of [`round_trip`](Self::round_trip)).
    pub fn cooldown(&self) -> Duration {
        self.config.cooldown_for(self.round_trip())
    }

    /// Records that, from `now` on, `buffered_bytes` of the producer's
    /// `buffer_memory` bytes hold records waiting to be sent. The level is
    /// held until the next sample, and averaged over time.
    ///
    /// With several brokers sharing one buffer, pass this broker's part of
    /// it ([`broker_buffer_used`](crate::broker_buffer_used)): a full
    /// buffer held by a slow broker's partitions is no pressure on a fast
    /// one.
    ///
    /// A `buffer_memory` of 0 is ignored (there is no fraction to take).
    pub fn observe_buffer(&mut self, now: Instant, buffered_bytes: u64, buffer_memory: u64) {
        if buffer_memory == 0 {
            return;
        }
        let fill = (buffered_bytes as f64 / buffer_memory as f64).clamp(0.0, 1.0);
        self.integrate_buffer(now);
        self.buffer_level = Some((now, fill));
    }

    /// Adds the held buffer level from the last sample (or the window start,
    /// whichever is later) up to `now`.
    fn integrate_buffer(&mut self, now: Instant) {
        if let Some((at, fill)) = self.buffer_level {
            let from = at.max(self.window_start);
            let held = now.saturating_duration_since(from).as_secs_f64();
            self.buffer_integral += fill * held;
            self.buffer_level = Some((now.max(at), fill));
        }
    }

    /// Closes the window at `now` (if it is at least
    /// [`ScalerConfig::min_window`] long) and decides the width.
    ///
    /// Instants earlier than the window start count as no time passing; they
    /// never panic.
    pub fn evaluate(&mut self, now: Instant) -> Decision {
        let decision = self.decide_window(now);
        // Heads of queues are reported afresh before each evaluation.
        self.unanswered.clear();
        decision
    }

    /// [`evaluate`](Self::evaluate) without its clean-up.
    fn decide_window(&mut self, now: Instant) -> Decision {
        let elapsed = now.saturating_duration_since(self.window_start);
        let previous_width = self.width;
        if elapsed < self.window_length() {
            return Decision {
                previous_width,
                target_width: previous_width,
                reason: Reason::WindowTooShort,
                signals: None,
            };
        }
        let signals = self.close_window(now, elapsed);
        let (target_width, reason) = match self.scale_up_check.judge(now, &self.config) {
            Verdict::Ineffective {
                from,
                before,
                after,
            } => (
                from,
                Reason::IneffectiveScaleUp {
                    before_bytes_per_sec: before as u64,
                    after_bytes_per_sec: after as u64,
                },
            ),
            Verdict::Nothing | Verdict::Effective => self.decide(now, &signals),
        };
        if target_width != previous_width {
            let cooldown = self.cooldown();
            if target_width > previous_width {
                self.scale_up_check
                    .on_scale_up(previous_width, now, cooldown);
            } else {
                self.scale_up_check.on_other_change();
            }
            self.width = target_width;
            self.slots.resize(target_width, SlotTotals::default());
            self.last_change = Some(now);
            self.change_cooldown = cooldown;
            self.low_since = None;
            tracing::info!(
                from = previous_width,
                to = target_width,
                ?reason,
                wait_fraction = signals.wait_fraction,
                busy_fraction = signals.busy_fraction,
                buffer_fill = signals.buffer_fill,
                throughput_bytes_per_sec = signals.throughput as u64,
                window_ms = signals.window.as_millis() as u64,
                round_trip_us = self.round_trip().map_or(0, |d| d.as_micros() as u64),
                cooldown_ms = self.change_cooldown.as_millis() as u64,
                backlog_bytes = signals.backlog_bytes.unwrap_or(0),
                offered_bytes_per_sec = signals.offered.unwrap_or(0.0) as u64,
                "connection group width changes"
            );
        } else {
            tracing::debug!(
                width = previous_width,
                ?reason,
                wait_fraction = signals.wait_fraction,
                busy_fraction = signals.busy_fraction,
                buffer_fill = signals.buffer_fill,
                throughput_bytes_per_sec = signals.throughput as u64,
                backlog_bytes = signals.backlog_bytes.unwrap_or(0),
                offered_bytes_per_sec = signals.offered.unwrap_or(0.0) as u64,
                "connection group width holds"
            );
        }
        Decision {
            previous_width,
            target_width,
            reason,
            signals: Some(signals),
        }
    }

    /// Turns the window's sums into fractions and opens the next window.
    fn close_window(&mut self, now: Instant, elapsed: Duration) -> Signals {
        let window = elapsed.as_secs_f64();
        let width = self.width;
        let share = |d: Duration| (d.as_secs_f64() / window).clamp(0.0, 1.0);
        let (mut wait, mut busy) = (0.0, 0.0);
        for totals in &self.slots {
            wait += share(totals.waited);
            busy += share(totals.busy);
        }
        self.integrate_buffer(now);
        let buffer_fill = (self.buffer_integral / window).clamp(0.0, 1.0);
        let busy_fraction = busy / width as f64;
        let backlog = self
            .backlog
            .map(|end| (self.backlog_at_open.unwrap_or(end), end));
        let answers = self.round_trips.close_window();
        let throughput = self.scale_up_check.close_window(
            WindowMeasure {
                opened: self.window_start,
                length: elapsed,
                width,
                busy: busy_fraction,
                backlog,
                answers,
                head_served: self.head_served(),
            },
            self.config.cooldown,
            self.config.min_window.saturating_mul(2),
        );
        let grown = |start: Option<u64>, end: Option<u64>| match (start, end) {
            (Some(start), Some(end)) => Some(end as f64 - start as f64),
            _ => None,
        };
        // The offered load needs the backlog (demand sizing is on); the
        // outstanding bytes, when reported, measure its growth better.
        let offered = grown(self.backlog_at_open, self.backlog).map(|backlog_growth| {
            let growth = match self.backlog {
                Some(_) => grown(self.outstanding_at_open, self.outstanding),
                None => None,
            }
            .unwrap_or(backlog_growth);
            (throughput + growth / window).max(0.0)
        });
        self.backlog_at_open = self.backlog;
        self.outstanding_at_open = self.outstanding;
        let signals = Signals {
            window: elapsed,
            width,
            wait_fraction: wait / width as f64,
            busy_fraction,
            buffer_fill,
            throughput,
            backlog_bytes: self.backlog,
            offered,
        };
        self.slots.fill(SlotTotals::default());
        self.buffer_integral = 0.0;
        self.window_start = now;
        signals
    }
}
