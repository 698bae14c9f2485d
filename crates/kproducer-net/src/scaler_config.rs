//! The [`Scaler`](crate::Scaler)'s bounds, thresholds and timings, their
//! defaults and the reasoning behind each, and validation.

use std::time::Duration;

/// Default fewest connections per broker: one connection is what every Kafka
/// client uses, and it is enough for any load that fits one in-flight window.
pub const DEFAULT_MIN_WIDTH: usize = 1;

/// Default most connections per broker. Dekaf's measurement (an idempotent
/// producer capped at `5 in flight / RTT` per connection) got 1.7× from 3
/// connections; a broker serves a connection's requests one at a time but
/// spreads connections over its network and I/O threads (3 and 8 by default),
/// so returns fall quickly beyond a handful. 4 leaves headroom without letting
/// one producer hog a broker's threads.
pub const DEFAULT_MAX_WIDTH: usize = 4;

/// Default largest change per decision. A bounded step keeps one noisy window
/// from jumping straight to the maximum; 2 still reaches 4 from 1 in two
/// decisions.
pub const DEFAULT_MAX_STEP: usize = 2;

/// Default shortest window worth deciding on. A produce round trip takes
/// milliseconds; below ~100 ms a window holds so few requests that the
/// fractions are dominated by where request boundaries happen to fall.
pub const DEFAULT_MIN_WINDOW: Duration = Duration::from_millis(100);

/// Default quiet time after a change, and the longest one when round trips
/// are reported (see [`DEFAULT_COOLDOWN_ROUND_TRIPS`]). A new connection
/// must connect, negotiate versions (and authenticate), and its partitions'
/// fences must lift (one round trip) before the change shows in the
/// signals; 2 s covers that with a wide margin on a healthy network.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(2);

/// Default length of a cooldown in Produce round trips, when the caller
/// reports them ([`Scaler::observe_round_trips`](crate::Scaler::observe_round_trips)).
///
/// What a change has to wait for is counted in round trips, not seconds:
/// the new connection's handshake (TCP, ApiVersions, and TLS/SASL: a few
/// network round trips, each shorter than a Produce round trip, which also
/// includes the broker's work and queueing), the fences of the moving
/// partitions (one round trip of the old connection: their in-flight
/// requests), and the new connection's pipeline filling (one more). Under
/// load a Produce round trip is a full in-flight window of the broker's
/// service times, so that is 2–3 round trips; the first half of a cooldown
/// (5 round trips) gives it twice that, and the second half measures the
/// effect. With 30 ms round trips a step takes 400 ms (also the floor,
/// [`ScalerConfig::min_cooldown`]) instead of 2 s, so a burst of a second
/// gets its width; at 200 ms round trips and above it stays at the
/// [`DEFAULT_COOLDOWN`] cap.
pub const DEFAULT_COOLDOWN_ROUND_TRIPS: u32 = 10;

/// Default time load must stay low before a connection is closed. Closing is
/// cheap, re-opening costs a TCP (+TLS, +SASL) handshake and a fence per
/// moving partition; bursty load must not make the group flap. 30 s is 15
/// cooldowns: scale up fast, scale down slowly.
pub const DEFAULT_SUSTAINED_LOW: Duration = Duration::from_secs(30);

/// Default wait fraction at or above which the group grows: requests spent at
/// least 10% of each connection's time waiting for an in-flight permit. Any
/// waiting means the window is the bottleneck; 10% is well clear of the
/// occasional wait that a burst causes.
pub const SCALE_UP_WAIT_FRACTION: f64 = 0.10;

/// Default wait fraction at or below which the group may shrink: 1%, a tenth
/// of the scale-up threshold (the hysteresis band is between them).
pub const SCALE_DOWN_WAIT_FRACTION: f64 = 0.01;

/// Default buffer fill at or above which, together with
/// [`SCALE_UP_BUSY_FRACTION`], the group grows: records pile up in the
/// accumulator while the connections are saturated.
pub const SCALE_UP_BUFFER_FILL: f64 = 0.5;

/// Default busy fraction the connections must reach for a full buffer to count
/// as connection pressure. A full buffer with idle connections means something
/// else is slow (linger, metadata, a stalled partition); more connections
/// would not help.
pub const SCALE_UP_BUSY_FRACTION: f64 = 0.9;

/// Default buffer fill at or below which the group may shrink.
pub const SCALE_DOWN_BUFFER_FILL: f64 = 0.1;

/// Default busy fraction the remaining connections may have after a shrink:
/// the group shrinks only if the current work would keep `width - k`
/// connections at most half busy. Half leaves room for bursts and keeps the
/// shrunk group far from the scale-up side, so shrink-then-grow does not
/// oscillate.
pub const SCALE_DOWN_PROJECTED_BUSY: f64 = 0.5;

/// Default least throughput gain a scale-up must show to be kept: the
/// group's bytes per second over the second half of the cooldown after a
/// scale-up must be at least 10% above those of the cooldown before it.
/// Waiting for an in-flight permit also happens when the producer's own CPU
/// is the bottleneck (responses are read late, windows stay full); there
/// more connections only cost CPU, and only their effect tells the cases
/// apart. 10% is above the run-to-run noise of a 1 s measurement and well
/// below what a broker-bound group gains from one more connection
/// (`1/width`, at least 25% up to the default maximum of 4).
pub const SCALE_UP_MIN_GAIN: f64 = 0.10;

/// How many minimum windows the pressure must have lasted before a scale-up
/// when throughput is reported: the windows under pressure are the baseline
/// the scale-up is judged against (at most half a cooldown of them), and a
/// single window is too lumpy (a 100 ms window may see one large response,
/// or none). Two delays a scale-up by one window only, so short bursts still
/// widen the group.
pub const BASELINE_WINDOWS: u32 = 2;

/// How many Produce round trips of pressure make a baseline when the
/// caller reports its backlog ([`Scaler::observe_backlog`](crate::Scaler::observe_backlog))
/// and round trips: at least one minimum window and at least this many
/// round trips (at most half a cooldown). The baseline is then measured
/// over the time the group was busy, so the idle start of the first
/// window does not dilute it, and a window that holds several round trips
/// of answers is not lumpy: the first scale-up of a burst comes one
/// window after the pressure, not two.
pub const BASELINE_ROUND_TRIPS: u32 = 4;

/// How long the best rate a width carried is remembered (when the
/// backlog is reported): pressure under which the group moves less than
/// half of it is a stall, not the width's limit, and does not widen the
/// group ([`Reason::SlowerThanShown`](crate::Reason::SlowerThanShown)). A
/// width that carried 40 MB/s a few seconds ago can carry it now, unless
/// the broker itself became slower: pressure that moves less while every
/// window is still answered, for [`SLOWER_WINDOWS`] windows, replaces the
/// remembered rate at once (a stall answers nothing). As long as
/// [`DEFAULT_INEFFECTIVE_BACKOFF`]: long enough to span a stall.
pub const CAPACITY_MEMORY: std::time::Duration = std::time::Duration::from_secs(30);

/// How many consecutive windows under pressure, each with answers, moving
/// less than half of what the width showed within [`CAPACITY_MEMORY`],
/// tell a broker that became slower from a stalled one: 3.
///
/// A stall (a GC pause, a stuck disk, a producer starved of CPU long
/// enough) answers nothing while requests are in flight: a window with no
/// bytes answered under pressure is a stall, and holds the width
/// ([`Reason::SlowerThanShown`](crate::Reason::SlowerThanShown)). A broker
/// that became slower for good (a replica fell out of the ISR, more load on
/// it) keeps answering, each round trip longer: its windows keep answering
/// at the lower rate. Three such windows (at least six round trips, since
/// a window lasts [`WINDOW_ROUND_TRIPS`](crate::WINDOW_ROUND_TRIPS)) make
/// the lower rate the width's capacity now: the remembered rate is
/// replaced, and the scale-up goes ahead, sized and judged as any other
/// (so a slower producer, rather than broker, is undone by the check).
/// One or two windows could be the edges of a stall (the answers before
/// it, the catch-up after it); three answered windows below half the
/// shown rate are not.
pub const SLOWER_WINDOWS: usize = 3;

/// Default time scale-ups are blocked after one that did not pay off
/// (doubling with each consecutive failure, see
/// [`MAX_INEFFECTIVE_BACKOFF_DOUBLINGS`]). Long next to the cooldown:
/// each trial costs connects, fences and CPU, and a CPU-bound producer
/// stays CPU-bound for a while. As long as the sustained-low window, so a
/// changed load gets a fresh trial about as soon as it could shrink.
pub const DEFAULT_INEFFECTIVE_BACKOFF: Duration = Duration::from_secs(30);

/// How often the back-off after ineffective scale-ups doubles at most:
/// 4 doublings, so with the default the longest block is 8 minutes.
pub const MAX_INEFFECTIVE_BACKOFF_DOUBLINGS: u32 = 4;

/// How many minimum windows the shortest cooldown lasts
/// ([`ScalerConfig::min_cooldown`]): a judged scale-up is measured over
/// the second half of its cooldown, which must hold as many windows as
/// the baseline before it ([`BASELINE_WINDOWS`]); the first half (settling)
/// gets as long.
pub const MIN_COOLDOWN_WINDOWS: u32 = 2 * BASELINE_WINDOWS;

/// How far apart the scale-up and scale-down thresholds of one signal must be
/// at least: `up >= down * MIN_HYSTERESIS_RATIO`. Without a band between them
/// a load sitting at the threshold would flip the width every cooldown.
pub const MIN_HYSTERESIS_RATIO: f64 = 2.0;

/// Bounds, thresholds and timings of a [`Scaler`](crate::Scaler).
///
/// ```
/// use std::time::Duration;
/// use kproducer_net::ScalerConfig;
///
/// let config = ScalerConfig { max_width: 8, cooldown: Duration::from_secs(5), ..Default::default() };
/// assert!(config.validate().is_ok());
///
/// let bad = ScalerConfig { min_width: 3, max_width: 2, ..Default::default() };
/// assert!(bad.validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ScalerConfig {
    /// Fewest connections (≥ 1). Default [`DEFAULT_MIN_WIDTH`].
    pub min_width: usize,
    /// Most connections (≥ `min_width`). Default [`DEFAULT_MAX_WIDTH`].
    pub max_width: usize,
    /// Width at start (within the bounds). Default [`DEFAULT_MIN_WIDTH`].
    pub initial_width: usize,
    /// Largest change per decision (≥ 1). Default [`DEFAULT_MAX_STEP`].
    /// Bounds every scale-down, and every scale-up that is not sized by
    /// the backlog; a scale-up sized by the backlog
    /// ([`Scaler::observe_backlog`](crate::Scaler::observe_backlog)) goes
    /// as far as the demand asks, up to `max_width`, because the
    /// effectiveness check undoes it whole if it does not pay off.
    pub max_step: usize,
    /// Shortest window evaluated (> 0). Default [`DEFAULT_MIN_WINDOW`].
    pub min_window: Duration,
    /// No change within this long after a change. Default
    /// [`DEFAULT_COOLDOWN`]. When Produce round trips are reported
    /// ([`Scaler::observe_round_trips`](crate::Scaler::observe_round_trips)),
    /// this is the longest cooldown: see [`ScalerConfig::cooldown_for`].
    pub cooldown: Duration,
    /// A cooldown's length in Produce round trips, when they are reported.
    /// Default [`DEFAULT_COOLDOWN_ROUND_TRIPS`].
    pub cooldown_round_trips: u32,
    /// Low load must last this long before a shrink. Default
    /// [`DEFAULT_SUSTAINED_LOW`].
    pub sustained_low: Duration,
    /// Grow at or above this wait fraction. Default [`SCALE_UP_WAIT_FRACTION`].
    pub scale_up_wait: f64,
    /// Shrink only at or below this wait fraction. Default
    /// [`SCALE_DOWN_WAIT_FRACTION`].
    pub scale_down_wait: f64,
    /// Grow at or above this buffer fill (with `scale_up_busy`). Default
    /// [`SCALE_UP_BUFFER_FILL`].
    pub scale_up_buffer: f64,
    /// Shrink only at or below this buffer fill. Default
    /// [`SCALE_DOWN_BUFFER_FILL`].
    pub scale_down_buffer: f64,
    /// Busy fraction that makes a full buffer count. Default
    /// [`SCALE_UP_BUSY_FRACTION`].
    pub scale_up_busy: f64,
    /// Busy fraction the remaining connections may have after a shrink.
    /// Default [`SCALE_DOWN_PROJECTED_BUSY`].
    pub scale_down_busy: f64,
    /// Least relative throughput gain a scale-up must show, one cooldown
    /// after it, to be kept; otherwise it is undone. Only applies when the
    /// group reports throughput ([`Scaler::observe_throughput`](crate::Scaler::observe_throughput)).
    /// Default [`SCALE_UP_MIN_GAIN`].
    pub scale_up_min_gain: f64,
    /// How long scale-ups are blocked after an undone one (doubling per
    /// consecutive failure). Default [`DEFAULT_INEFFECTIVE_BACKOFF`].
    pub ineffective_backoff: Duration,
}

impl Default for ScalerConfig {
    fn default() -> Self {
        Self {
            min_width: DEFAULT_MIN_WIDTH,
            max_width: DEFAULT_MAX_WIDTH,
            initial_width: DEFAULT_MIN_WIDTH,
            max_step: DEFAULT_MAX_STEP,
            min_window: DEFAULT_MIN_WINDOW,
            cooldown: DEFAULT_COOLDOWN,
            cooldown_round_trips: DEFAULT_COOLDOWN_ROUND_TRIPS,
            sustained_low: DEFAULT_SUSTAINED_LOW,
            scale_up_wait: SCALE_UP_WAIT_FRACTION,
            scale_down_wait: SCALE_DOWN_WAIT_FRACTION,
            scale_up_buffer: SCALE_UP_BUFFER_FILL,
            scale_down_buffer: SCALE_DOWN_BUFFER_FILL,
            scale_up_busy: SCALE_UP_BUSY_FRACTION,
            scale_down_busy: SCALE_DOWN_PROJECTED_BUSY,
            scale_up_min_gain: SCALE_UP_MIN_GAIN,
            ineffective_backoff: DEFAULT_INEFFECTIVE_BACKOFF,
        }
    }
}

/// Why a [`ScalerConfig`] was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ScalerConfigError {
    /// `min_width` was 0.
    #[error("scaler min_width is 0: a broker needs at least one connection; set it to 1 or more")]
    MinWidthZero,
    /// `min_width > max_width`.
    #[error("scaler min_width {min} is above max_width {max}: raise max_width or lower min_width")]
    MinAboveMax {
        /// The configured minimum.
        min: usize,
        /// The configured maximum.
        max: usize,
    },
    /// `initial_width` outside `[min_width, max_width]`.
    #[error(
        "scaler initial_width {initial} is outside [{min}, {max}]: pick a width within the bounds"
    )]
    InitialOutOfBounds {
        /// The configured initial width.
        initial: usize,
        /// The configured minimum.
        min: usize,
        /// The configured maximum.
        max: usize,
    },
    /// `max_step` was 0.
    #[error("scaler max_step is 0: the width could never change; set it to 1 or more")]
    MaxStepZero,
    /// `min_window` was zero.
    #[error(
        "scaler min_window is zero: signals are fractions of the window, which must be positive"
    )]
    MinWindowZero,
    /// A threshold was not a number in `[0, 1]`.
    #[error("scaler threshold {name} is {value}: thresholds are fractions, use a value in [0, 1]")]
    ThresholdOutOfRange {
        /// The field name.
        name: &'static str,
        /// The rejected value.
        value: f64,
    },
    /// A scale-up threshold was not far enough above its scale-down
    /// counterpart.
    #[error(
        "scaler thresholds for {signal} leave no hysteresis band: scale-up {up} must be at least \
         {ratio} × scale-down {down} (and above it); widen the gap or the width will flap"
    )]
    NoHysteresis {
        /// Which signal.
        signal: &'static str,
        /// The scale-up threshold.
        up: f64,
        /// The scale-down threshold.
        down: f64,
        /// The ratio required.
        ratio: f64,
    },
}

impl ScalerConfig {
    /// The shortest cooldown: [`MIN_COOLDOWN_WINDOWS`] minimum windows (or
    /// [`cooldown`](Self::cooldown), if that is shorter), so that a judged
    /// scale-up is measured over as many windows as its baseline.
    pub fn min_cooldown(&self) -> Duration {
        self.min_window
            .saturating_mul(MIN_COOLDOWN_WINDOWS)
            .min(self.cooldown)
    }

    /// The cooldown after a change made when the mean Produce round trip
    /// was `round_trip`: [`cooldown_round_trips`](Self::cooldown_round_trips)
    /// of them, at least [`min_cooldown`](Self::min_cooldown) and at most
    /// [`cooldown`](Self::cooldown). Without a measured round trip, the
    /// fixed [`cooldown`](Self::cooldown).
    ///
    /// ```
    /// use std::time::Duration;
    /// use kproducer_net::ScalerConfig;
    ///
    /// let c = ScalerConfig::default();
    /// assert_eq!(c.cooldown_for(None), Duration::from_secs(2));
    /// assert_eq!(c.cooldown_for(Some(Duration::from_millis(60))), Duration::from_millis(600));
    /// assert_eq!(c.cooldown_for(Some(Duration::from_millis(1))), c.min_cooldown());
    /// assert_eq!(c.cooldown_for(Some(Duration::from_secs(1))), Duration::from_secs(2));
    /// ```
    pub fn cooldown_for(&self, round_trip: Option<Duration>) -> Duration {
        match round_trip {
            None => self.cooldown,
            Some(rtt) => rtt
                .saturating_mul(self.cooldown_round_trips)
                .max(self.min_cooldown())
                .min(self.cooldown),
        }
    }

    /// Checks bounds (`1 ≤ min ≤ initial ≤ max`), `max_step ≥ 1`,
    /// `min_window > 0`, every threshold in `[0, 1]`, and a hysteresis band:
    /// each scale-up threshold above, and at least [`MIN_HYSTERESIS_RATIO`]
    /// times, its scale-down counterpart (for busy, simply above it).
    ///
    /// # Errors
    /// The first violation found, as a [`ScalerConfigError`] naming the field.
    pub fn validate(&self) -> Result<(), ScalerConfigError> {
        if self.min_width == 0 {
            return Err(ScalerConfigError::MinWidthZero);
        }
        if self.min_width > self.max_width {
            return Err(ScalerConfigError::MinAboveMax {
                min: self.min_width,
                max: self.max_width,
            });
        }
        if !(self.min_width..=self.max_width).contains(&self.initial_width) {
            return Err(ScalerConfigError::InitialOutOfBounds {
                initial: self.initial_width,
                min: self.min_width,
                max: self.max_width,
            });
        }
        if self.max_step == 0 {
            return Err(ScalerConfigError::MaxStepZero);
        }
        if self.min_window.is_zero() {
            return Err(ScalerConfigError::MinWindowZero);
        }
        let thresholds = [
            ("scale_up_wait", self.scale_up_wait),
            ("scale_down_wait", self.scale_down_wait),
            ("scale_up_buffer", self.scale_up_buffer),
            ("scale_down_buffer", self.scale_down_buffer),
            ("scale_up_busy", self.scale_up_busy),
            ("scale_down_busy", self.scale_down_busy),
            ("scale_up_min_gain", self.scale_up_min_gain),
        ];
        for (name, value) in thresholds {
            if !(0.0..=1.0).contains(&value) {
                return Err(ScalerConfigError::ThresholdOutOfRange { name, value });
            }
        }
        let bands = [
            (
                "wait",
                self.scale_up_wait,
                self.scale_down_wait,
                MIN_HYSTERESIS_RATIO,
            ),
            (
                "buffer",
                self.scale_up_buffer,
                self.scale_down_buffer,
                MIN_HYSTERESIS_RATIO,
            ),
            ("busy", self.scale_up_busy, self.scale_down_busy, 1.0),
        ];
        for (signal, up, down, ratio) in bands {
            if up <= down || up < down * ratio {
                return Err(ScalerConfigError::NoHysteresis {
                    signal,
                    up,
                    down,
                    ratio,
                });
            }
        }
        Ok(())
    }
}
