//! Whether a scale-up paid off: the group's throughput before the change
//! against its throughput once the change has settled.
//!
//! Waiting for an in-flight permit means "the window is full", not "the
//! broker is the bottleneck": when the producer's own CPU is saturated it
//! reads responses late, windows stay full, and the wait signal looks exactly
//! like a slow broker. More connections then cost CPU and buy nothing. The
//! one signal that tells the two apart is the effect: a broker-bound group
//! moves more bytes per second with another connection, a CPU-bound one does
//! not. [`ScaleUpCheck`] measures that effect; the [`Scaler`](crate::Scaler)
//! undoes a scale-up that did not raise throughput by at least
//! [`ScalerConfig::scale_up_min_gain`] and stops growing for a back-off that
//! doubles with every consecutive failure.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::scaler_config::{
    CAPACITY_MEMORY, MAX_INEFFECTIVE_BACKOFF_DOUBLINGS, SLOWER_WINDOWS, ScalerConfig,
};

/// The least busy fraction a baseline window is credited with: a window
/// under pressure is busy nearly all the time, and one that opened before
/// the load (the first after start) at least half of it; the floor keeps a
/// window with hardly any busy time from inflating the baseline more than
/// twofold.
const MIN_BASELINE_BUSY: f64 = 0.5;

/// Pressure under which the group moves less than this fraction of what
/// its width carried recently (when the backlog is reported) is a stall,
/// not the width's limit: see [`ScaleUpCheck::stalled_below_shown`]. Half:
/// a stall moves far less (next to nothing), while the lumpiness of
/// answers in short windows (the best rate over two minimum windows is a maximum over
/// many) stays well above it.
pub(crate) const STALL_FRACTION: f64 = 0.5;

/// Below this mean busy fraction the windows that judge a scale-up had no
/// load to judge it by (when the backlog is reported): the verdict is
/// skipped and the width kept; the slow scale-down takes it back.
const IDLE_BUSY_FRACTION: f64 = 0.1;

/// The fewest answered Produce requests under pressure on which a
/// scale-up may be decided before its full baseline
/// ([`BASELINE_ROUND_TRIPS`](crate::BASELINE_ROUND_TRIPS)) is measured:
/// 1.
///
/// The bytes of `k` answers over the busy time give the width's rate to
/// within one answer (the next one may have come just after the window
/// closed), so its capacity is at most the measured rate × (k + 1) / k:
/// 2× for one answer, 1.5× for two, unless the bytes of the requests
/// still in flight give a tighter bound. One answer
/// is enough evidence when the demand clears twice its rate: where a
/// Produce request carries megabytes (a round trip of 60 ms on the bench's
/// broker), waiting for a second answer costs a whole round trip, and
/// the bound already allows for it.
pub const EARLY_MIN_ANSWERS: u64 = 1;

/// What the windows under the current pressure showed: answers, their
/// bytes, and the group's busy time (each window's length × its busy
/// fraction, at least [`MIN_BASELINE_BUSY`], as a baseline is measured).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Evidence {
    pub(crate) answers: u64,
    pub(crate) bytes: u64,
    pub(crate) busy_secs: f64,
}

impl Evidence {
    /// Bytes moved per busy second.
    pub(crate) fn rate(&self) -> f64 {
        if self.busy_secs > 0.0 {
            self.bytes as f64 / self.busy_secs
        } else {
            0.0
        }
    }

    /// The most the width can carry, as far as this evidence shows;
    /// `None` below [`EARLY_MIN_ANSWERS`] answers or when nothing was
    /// moved.
    ///
    /// With `unanswered`, the oldest request in flight on each connection
    /// (each at the head of its connection's queue, so being served):
    /// their total bytes `h`, and the sum over connections of their bytes
    /// over how long each has been served (when every connection has
    /// one): the tighter of `(bytes + h) / busy time` (while busy the
    /// connections served no more than what they answered plus what they
    /// have not finished) and that sum (a connection that has served a
    /// request for `t` without finishing it carries less than its bytes
    /// over `t`). Both hold whatever the sizes of the requests. Without
    /// it: `rate × (k + 1) / k`, one more answer of the mean size, which
    /// assumes the next answer is no larger than those seen (the first
    /// answers of a burst are often smaller).
    pub(crate) fn capacity_bound(&self, unanswered: Option<(u64, Option<f64>)>) -> Option<f64> {
        let rate = self.rate();
        if self.answers < EARLY_MIN_ANSWERS || rate.is_nan() || rate <= 0.0 {
            return None;
        }
        Some(match unanswered {
            Some((head, by_age)) => {
                let by_bytes = self.bytes.saturating_add(head) as f64 / self.busy_secs;
                by_age.map_or(by_bytes, |a| a.min(by_bytes))
            }
            None => rate * (self.answers as f64 + 1.0) / self.answers as f64,
        })
    }
}

/// One closed window's throughput sample.
#[derive(Debug, Clone, Copy)]
struct Sample {
    opened: Instant,
    length: Duration,
    bytes: u64,
    /// When the window closed, how long the requests at the heads of the
    /// connections' queues had been served, in the mean over the width
    /// (seconds; 0 where nothing was reported).
    head_served: f64,
    /// The width the window was measured at.
    width: usize,
    /// The group's mean busy fraction over the window.
    busy: f64,
    /// The backlog (bytes waiting to be sent) when the window opened and
    /// when it closed, when the caller reports it.
    backlog: Option<(u64, u64)>,
    /// Produce requests answered in the window.
    answers: u64,
}

/// What one closed window measured, as [`ScaleUpCheck::close_window`]
/// takes it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WindowMeasure {
    pub(crate) opened: Instant,
    pub(crate) length: Duration,
    pub(crate) width: usize,
    pub(crate) busy: f64,
    pub(crate) backlog: Option<(u64, u64)>,
    pub(crate) answers: u64,
    /// See [`Sample::head_served`].
    pub(crate) head_served: f64,
}

/// The best rate a width has shown recently: over two adjacent windows at
/// that width, any load, so a lower bound of what the width can carry.
#[derive(Debug, Clone, Copy)]
struct Shown {
    width: usize,
    rate: f64,
    at: Instant,
}

/// A scale-up whose effect has not been judged yet.
#[derive(Debug, Clone, Copy)]
struct Pending {
    from: usize,
    at: Instant,
    /// The cooldown the scale-up got: judged at its end, over its second
    /// half.
    cooldown: Duration,
    before: f64,
}

/// What [`ScaleUpCheck::judge`] concluded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Verdict {
    /// Nothing to judge (no scale-up pending, not settled yet, or no
    /// throughput was ever reported).
    Nothing,
    /// Throughput rose enough; the scale-up stays.
    Effective,
    /// Throughput did not rise enough: go back to `from`.
    Ineffective {
        /// The width before the scale-up.
        from: usize,
        /// Bytes per second before.
        before: f64,
        /// Bytes per second after.
        after: f64,
    },
}

/// Throughput bookkeeping around scale-ups.
#[derive(Debug, Clone, Default)]
pub(crate) struct ScaleUpCheck {
    /// Bytes reported since the open window started.
    open_bytes: u64,
    /// The baseline of a scale-up decided early (before the full
    /// baseline): the upper bound of what the width could carry.
    early_before: Option<f64>,
    /// Whether any throughput was ever reported (without it there is
    /// nothing to judge and scale-ups are never undone).
    fed: bool,
    /// Closed windows since the last change, at most one cooldown's worth
    /// before a change matters.
    samples: VecDeque<Sample>,
    pending: Option<Pending>,
    failures: u32,
    blocked_until: Option<Instant>,
    /// Since when (the opening of the first of an unbroken run of windows)
    /// the pressure has been high enough to scale up.
    high_since: Option<Instant>,
    /// Per width, the best rate over two minimum windows of the last
    /// [`CAPACITY_MEMORY`] (only kept when the backlog is reported).
    shown: Vec<Shown>,
}

impl ScaleUpCheck {
    /// Adds bytes the group moved in the open window.
    pub(crate) fn observe(&mut self, bytes: u64) {
        self.open_bytes = self.open_bytes.saturating_add(bytes);
        self.fed = true;
    }

    /// The evidence gathered under the current pressure (the windows
    /// since it started, plus the service the requests being served when
    /// it started had already had): how many requests were answered, and the bytes
    /// they moved per busy second (as a baseline is measured). `(0, 0.0)`
    /// without pressure.
    pub(crate) fn pressure_evidence(&self) -> Evidence {
        let Some(since) = self.high_since else {
            return Evidence::default();
        };
        let under = || self.samples.iter().filter(move |s| s.opened >= since);
        let (bytes, busy_secs) = busy_totals(under());
        // The requests being served when the pressure began had been
        // served for a while already: that service time is part of what
        // their answers (the first ones counted) cost.
        let served_before = self
            .samples
            .iter()
            .rev()
            .find(|s| s.opened < since)
            .filter(|s| s.opened + s.length >= since)
            .map_or(0.0, |s| s.head_served);
        Evidence {
            answers: under().map(|s| s.answers).sum(),
            bytes,
            busy_secs: busy_secs + served_before,
        }
    }

    /// Whether `rate` is less than what `width` has shown within
    /// [`CAPACITY_MEMORY`]: then it is not the width's capacity (a lull, or
    /// a stall's busy but silent time in it).
    pub(crate) fn is_below_shown(&self, width: usize, now: Instant, rate: f64) -> bool {
        rate < self.shown_rate(width, now)
    }

    /// The next scale-up is decided early: judge it against `bound`
    /// (see [`capacity_bound`]) instead of the measured baseline.
    pub(crate) fn set_early_baseline(&mut self, bound: f64) {
        self.early_before = Some(bound);
    }

    /// Closes the open window `[opened, opened + length)`; returns its
    /// throughput in bytes per second. Keeps only samples within `keep`
    /// of `now` (a cooldown's worth is all a baseline needs). A width's
    /// shown rate is measured over the trailing windows at that width
    /// spanning at least `shown_span`.
    pub(crate) fn close_window(
        &mut self,
        m: WindowMeasure,
        keep: Duration,
        shown_span: Duration,
    ) -> f64 {
        let WindowMeasure {
            opened,
            length,
            width,
            busy,
            backlog,
            answers,
            head_served,
        } = m;
        let bytes = std::mem::take(&mut self.open_bytes);
        let now = opened + length;
        let sample = Sample {
            opened,
            length,
            bytes,
            width,
            busy,
            backlog,
            answers,
            head_served,
        };
        self.samples.push_back(sample);
        if backlog.is_some() {
            self.note_shown(now, shown_span);
        }
        // The pending check needs every sample since its change; otherwise
        // a cooldown's worth is enough for the next baseline.
        let horizon = self
            .pending
            .map_or_else(|| now.checked_sub(keep), |p| Some(p.at));
        if let Some(h) = horizon {
            while self.samples.front().is_some_and(|s| s.opened < h) {
                self.samples.pop_front();
            }
        }
        rate(bytes, length)
    }

    /// Remembers the rate of the trailing windows at the last window's
    /// width, adjacent and together at least `span` long (two minimum
    /// windows: with windows of a few round trips, two of them can be
    /// 10 ms each, and one large answer in them would show a rate the
    /// width never sustained): what that width carried.
    fn note_shown(&mut self, now: Instant, span: Duration) {
        let Some(last) = self.samples.back() else {
            return;
        };
        let width = last.width;
        let mut end = last.opened + last.length;
        let (mut bytes, mut length) = (0u64, Duration::ZERO);
        for s in self.samples.iter().rev() {
            if s.width != width || s.opened + s.length != end {
                return;
            }
            bytes = bytes.saturating_add(s.bytes);
            length = length.saturating_add(s.length);
            end = s.opened;
            if length >= span {
                break;
            }
        }
        if length < span {
            return;
        }
        let rate = rate(bytes, length);
        self.shown
            .retain(|s| now.saturating_duration_since(s.at) < CAPACITY_MEMORY);
        match self.shown.iter_mut().find(|s| s.width == width) {
            Some(s) if s.rate > rate => {}
            Some(s) => {
                *s = Shown {
                    rate,
                    at: now,
                    ..*s
                }
            }
            None => self.shown.push(Shown {
                width,
                rate,
                at: now,
            }),
        }
    }

    /// The best rate `width` has shown within [`CAPACITY_MEMORY`] of `now`.
    fn shown_rate(&self, width: usize, now: Instant) -> f64 {
        self.shown
            .iter()
            .filter(|s| s.width == width && now.saturating_duration_since(s.at) < CAPACITY_MEMORY)
            .map(|s| s.rate)
            .fold(0.0, f64::max)
    }

    /// When the backlog is reported: the rate the group moves under the
    /// current pressure (over busy time, as a baseline) and the best rate
    /// `width` showed within [`CAPACITY_MEMORY`], if the first is less
    /// than [`STALL_FRACTION`] of the second and the broker is not simply
    /// slower now. Then the width is not what limits the group: something
    /// stalled it (the broker, or the producer's own CPU), and a wider
    /// group would only drain, faster, a backlog this width has shown it
    /// can carry.
    ///
    /// Stalled or slower, from the windows under the current pressure: a
    /// window that answered nothing (no bytes) is a stall; those windows
    /// stop counting as pressure, and the baseline of a later scale-up
    /// starts after them. [`SLOWER_WINDOWS`] windows under pressure, every
    /// one answered, are a broker that became slower: the lower rate is
    /// what `width` carries now (the remembered one is replaced) and
    /// `None` is returned, so the scale-up goes ahead. Fewer answered
    /// windows hold, and keep counting.
    pub(crate) fn stalled_below_shown(
        &mut self,
        width: usize,
        now: Instant,
        baseline: Duration,
    ) -> Option<(f64, f64)> {
        if self.samples.back().is_none_or(|s| s.backlog.is_none()) {
            return None;
        }
        let from_instant = now.checked_sub(baseline).unwrap_or(now);
        let since = self
            .high_since
            .map_or(from_instant, |h| h.max(from_instant));
        let moving = busy_rate_of(self.samples.iter().filter(|s| s.opened >= since));
        let shown = self.shown_rate(width, now);
        if moving >= shown * STALL_FRACTION {
            return None;
        }
        let pressure_since = self.high_since.unwrap_or(from_instant);
        let pressure = || {
            self.samples
                .iter()
                .filter(move |s| s.opened >= pressure_since)
        };
        let all_answered = pressure().all(|s| s.bytes > 0);
        if !all_answered {
            // A stall: start the pressure afresh after it.
            self.high_since = None;
        } else if pressure().count() >= SLOWER_WINDOWS {
            // Slower, not stalled: this is what the width carries now.
            self.rebase_shown(width, moving, now);
            return None;
        }
        Some((moving, shown))
    }

    /// Replaces what `width` has shown by `rate`, measured at `now`: the
    /// broker became slower, and the old rate no longer says what the
    /// width carries.
    fn rebase_shown(&mut self, width: usize, rate: f64, now: Instant) {
        self.shown.retain(|s| s.width != width);
        self.shown.push(Shown {
            width,
            rate,
            at: now,
        });
    }

    /// Records whether the window opened at `opened` had scale-up pressure.
    pub(crate) fn note_pressure(&mut self, high: bool, opened: Instant) {
        if !high {
            self.high_since = None;
        } else if self.high_since.is_none() {
            self.high_since = Some(opened);
        }
    }

    /// Whether a scale-up at `now` must wait for its baseline: throughput
    /// is reported, but the pressure has lasted less than `needed`. The
    /// baseline only counts windows under pressure (idle time before the
    /// load would make any scale-up look effective), and one window is too
    /// lumpy to judge by.
    pub(crate) fn baseline_pending(&self, now: Instant, needed: Duration) -> bool {
        self.fed
            && self
                .high_since
                .is_none_or(|since| now.saturating_duration_since(since) < needed)
    }

    /// Whether scale-ups are judged (throughput was reported).
    pub(crate) fn judges(&self) -> bool {
        self.fed
    }

    /// Records a scale-up from `from` at `now` with its `cooldown`: the
    /// samples of the last half cooldown under pressure become the
    /// baseline (if they moved anything).
    ///
    /// When the backlog is reported, the baseline is the pressure windows'
    /// bytes per second *while busy*: a window that opened before the load
    /// arrived (the first after start) is not diluted by its idle part.
    /// Stalled windows never count: see
    /// [`stalled_below_shown`](Self::stalled_below_shown).
    pub(crate) fn on_scale_up(&mut self, from: usize, now: Instant, cooldown: Duration) {
        let from_instant = now.checked_sub(cooldown / 2).unwrap_or(now);
        let since = self
            .high_since
            .map_or(from_instant, |h| h.max(from_instant));
        let baseline = self.samples.iter().filter(|s| s.opened >= since);
        let demand_aware = self.samples.back().is_some_and(|s| s.backlog.is_some());
        let before = match self.early_before.take() {
            Some(bound) => bound,
            None if demand_aware => busy_rate_of(baseline),
            None => rate_of(baseline),
        };
        self.samples.clear();
        self.high_since = None;
        self.pending = (self.fed && before > 0.0).then_some(Pending {
            from,
            at: now,
            cooldown,
            before,
        });
    }

    /// Records any other change (scale-down or a revert): nothing pending,
    /// and the baseline restarts.
    pub(crate) fn on_other_change(&mut self) {
        self.samples.clear();
        self.pending = None;
        self.high_since = None;
        self.early_before = None;
    }

    /// Judges the pending scale-up once its cooldown has passed,
    /// from the samples in its second half (the first half holds the
    /// transition: connects, fences lifting). On failure, blocks scale-ups
    /// for `ineffective_backoff × 2^(failures − 1)`. When the backlog is
    /// reported and the judged windows were nearly idle
    /// (`IDLE_BUSY_FRACTION`), the load went away before the verdict: none
    /// is given and the width stays.
    pub(crate) fn judge(&mut self, now: Instant, config: &ScalerConfig) -> Verdict {
        let Some(p) = self.pending else {
            return Verdict::Nothing;
        };
        if now.saturating_duration_since(p.at) < p.cooldown {
            return Verdict::Nothing;
        }
        self.pending = None;
        let settled = p.at + p.cooldown / 2;
        let late = self.samples.iter().filter(|s| s.opened >= settled);
        let judged: Vec<Sample> = if late.clone().next().is_some() {
            late.copied().collect()
        } else {
            self.samples.iter().copied().collect()
        };
        if judged.last().is_some_and(|s| s.backlog.is_some())
            && busy_fraction_of(&judged) < IDLE_BUSY_FRACTION
        {
            // The load went away (a burst shorter than the cooldown, now
            // carried): nothing to judge the width by. It stays, and
            // narrows like any idle width, after `sustained_low`.
            return Verdict::Nothing;
        }
        let after = rate_of(judged.iter());
        if after >= p.before * (1.0 + config.scale_up_min_gain) {
            self.failures = 0;
            self.blocked_until = None;
            return Verdict::Effective;
        }
        let doublings = self.failures.min(MAX_INEFFECTIVE_BACKOFF_DOUBLINGS);
        self.failures = self.failures.saturating_add(1);
        let backoff = config.ineffective_backoff.saturating_mul(1u32 << doublings);
        self.blocked_until = now.checked_add(backoff);
        Verdict::Ineffective {
            from: p.from,
            before: p.before,
            after,
        }
    }

    /// How much longer scale-ups are blocked after an ineffective one.
    pub(crate) fn blocked_for(&self, now: Instant) -> Option<Duration> {
        self.blocked_until
            .map(|until| until.saturating_duration_since(now))
            .filter(|d| !d.is_zero())
    }
}

fn rate(bytes: u64, length: Duration) -> f64 {
    let secs = length.as_secs_f64();
    if secs > 0.0 { bytes as f64 / secs } else { 0.0 }
}

/// The mean busy fraction of `samples`, weighted by their lengths.
fn busy_fraction_of(samples: &[Sample]) -> f64 {
    let (busy, length) = samples.iter().fold((0.0, 0.0), |(b, l), s| {
        let secs = s.length.as_secs_f64();
        (b + s.busy.clamp(0.0, 1.0) * secs, l + secs)
    });
    if length > 0.0 { busy / length } else { 0.0 }
}

/// Bytes per second over the time the group was busy in `samples` (each
/// window's length times its busy fraction, taken as at least
/// [`MIN_BASELINE_BUSY`]).
fn busy_rate_of<'a>(samples: impl Iterator<Item = &'a Sample>) -> f64 {
    let (bytes, busy) = busy_totals(samples);
    if busy > 0.0 { bytes as f64 / busy } else { 0.0 }
}

/// Bytes and busy seconds of `samples` (see [`busy_rate_of`]).
fn busy_totals<'a>(samples: impl Iterator<Item = &'a Sample>) -> (u64, f64) {
    samples.fold((0u64, 0.0f64), |(b, t), s| {
        let busy = s.busy.clamp(MIN_BASELINE_BUSY, 1.0);
        (b.saturating_add(s.bytes), t + s.length.as_secs_f64() * busy)
    })
}

fn rate_of<'a>(samples: impl Iterator<Item = &'a Sample>) -> f64 {
    let (bytes, length) = samples.fold((0u64, Duration::ZERO), |(b, l), s| {
        (b.saturating_add(s.bytes), l.saturating_add(s.length))
    });
    rate(bytes, length)
}
