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

use crate::scaler_config::{CAPACITY_MEMORY, MAX_INEFFECTIVE_BACKOFF_DOUBLINGS, ScalerConfig};

/// One closed window's throughput sample.
#[derive(Debug, Clone, Copy)]
struct Sample {
    opened: Instant,
    length: Duration,
    bytes: u64,
    /// The width the window was measured at.
    width: usize,
    /// The group's mean busy fraction over the window.
    busy: f64,
    /// The backlog (bytes waiting to be sent) when the window opened and
    /// when it closed, when the caller reports it.
    backlog: Option<(u64, u64)>,
    /// The buffer was full enough that the sender was (about to be)
    /// blocked: what it offered is unknown, at least what was moved.
    censored: bool,
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
    pub(crate) censored: bool,
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
    /// The caller reports its backlog: a backlog drained after the change
    /// is not counted as a gain.
    demand_aware: bool,
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
    /// The previous closed window (for two-window rates), whatever the
    /// changes since.
    previous: Option<Sample>,
    /// Per width, the best two-window rate of the last
    /// [`CAPACITY_MEMORY`] (only kept when the backlog is reported).
    shown: Vec<Shown>,
}

impl ScaleUpCheck {
    /// Adds bytes the group moved in the open window.
    pub(crate) fn observe(&mut self, bytes: u64) {
        self.open_bytes = self.open_bytes.saturating_add(bytes);
        self.fed = true;
    }

    /// Closes the open window `[opened, opened + length)`; returns its
    /// throughput in bytes per second. Keeps only samples within `keep`
    /// of `now` (a cooldown's worth is all a baseline needs).
    pub(crate) fn close_window(&mut self, m: WindowMeasure, keep: Duration) -> f64 {
        let WindowMeasure {
            opened,
            length,
            width,
            busy,
            backlog,
            censored,
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
            censored,
        };
        if backlog.is_some() {
            self.note_shown(sample, now);
        }
        self.previous = Some(sample);
        self.samples.push_back(sample);
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

    /// Remembers the rate of `sample` and the window before it, if both
    /// were at the same width and adjacent: what that width carried.
    fn note_shown(&mut self, sample: Sample, now: Instant) {
        let Some(prev) = self.previous else {
            return;
        };
        if prev.width != sample.width || prev.opened + prev.length != sample.opened {
            return;
        }
        let rate = rate(
            prev.bytes.saturating_add(sample.bytes),
            prev.length.saturating_add(sample.length),
        );
        self.shown
            .retain(|s| now.saturating_duration_since(s.at) < CAPACITY_MEMORY);
        match self.shown.iter_mut().find(|s| s.width == sample.width) {
            Some(s) if s.rate > rate => {}
            Some(s) => *s = Shown { rate, at: now, ..*s },
            None => self.shown.push(Shown {
                width: sample.width,
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
    /// When the backlog is reported, the baseline is what the old width
    /// can carry, as far as the windows show it: the pressure windows'
    /// bytes per second *while busy* (a window that opened before the
    /// load arrived, e.g. the first after start, is not diluted by its
    /// idle part), and at least the best rate the old width carried within
    /// [`CAPACITY_MEMORY`] (a stall that slowed the windows before the
    /// change does not lower the bar).
    pub(crate) fn on_scale_up(&mut self, from: usize, now: Instant, cooldown: Duration) {
        let from_instant = now.checked_sub(cooldown / 2).unwrap_or(now);
        let since = self
            .high_since
            .map_or(from_instant, |h| h.max(from_instant));
        let baseline = self.samples.iter().filter(|s| s.opened >= since);
        let demand_aware = self.samples.back().is_some_and(|s| s.backlog.is_some());
        let before = if demand_aware {
            busy_rate_of(baseline).max(self.shown_rate(from, now))
        } else {
            rate_of(baseline)
        };
        self.samples.clear();
        self.high_since = None;
        self.pending = (self.fed && before > 0.0).then_some(Pending {
            from,
            at: now,
            cooldown,
            before,
            demand_aware,
        });
    }

    /// Records any other change (scale-down or a revert): nothing pending,
    /// and the baseline restarts.
    pub(crate) fn on_other_change(&mut self) {
        self.samples.clear();
        self.pending = None;
        self.high_since = None;
    }

    /// Whether a scale-up waits for its verdict (no other change until
    /// then).
    pub(crate) fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Judges the pending scale-up once its cooldown has passed,
    /// from the samples in its second half (the first half holds the
    /// transition: connects, fences lifting). On failure, blocks scale-ups
    /// for `ineffective_backoff × 2^(failures − 1)`.
    ///
    /// When the backlog is reported, what counts is the load the new
    /// width carried *as offered*: the bytes moved minus the backlog
    /// drained meanwhile, and at most what the last window offered (a
    /// sender catching up after a stall offers more only until it has
    /// caught up). If the last window's sender was blocked on a full
    /// buffer, its offer is unknown and the verdict waits, up to a second
    /// cooldown, for a window that shows it.
    pub(crate) fn judge(&mut self, now: Instant, config: &ScalerConfig) -> Verdict {
        let Some(p) = self.pending else {
            return Verdict::Nothing;
        };
        let since = now.saturating_duration_since(p.at);
        if since < p.cooldown {
            return Verdict::Nothing;
        }
        if p.demand_aware
            && since < p.cooldown.saturating_mul(2)
            && self.samples.back().is_some_and(|s| s.censored)
        {
            return Verdict::Nothing;
        }
        self.pending = None;
        let settled = p.at + p.cooldown / 2;
        let late: Vec<Sample> = self
            .samples
            .iter()
            .filter(|s| s.opened >= settled)
            .copied()
            .collect();
        let judged: &[Sample] = if late.is_empty() {
            self.samples.make_contiguous()
        } else {
            &late
        };
        let mut after = rate_of(judged.iter());
        if p.demand_aware {
            // Bytes that were waiting before the judged windows and were
            // sent during them are backlog drained, not load carried: a
            // run that fell behind (a stall, a paced sender catching up)
            // drains faster after *any* change. Count only what the new
            // width carried of the load offered meanwhile.
            after = (after - drained_rate(judged)).max(0.0);
            if let Some(last) = judged.last().filter(|s| !s.censored) {
                after = after.min(offered_rate(last));
            }
        }
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

/// Bytes per second the backlog shrank by over `samples` (0 if it grew or
/// was not reported).
fn drained_rate(samples: &[Sample]) -> f64 {
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return 0.0;
    };
    let (Some((start, _)), Some((_, end))) = (first.backlog, last.backlog) else {
        return 0.0;
    };
    let length = samples
        .iter()
        .fold(Duration::ZERO, |l, s| l.saturating_add(s.length));
    rate(start.saturating_sub(end), length)
}

/// Bytes per second offered in one window: moved, plus the backlog's
/// growth (minus its shrinking); what was moved if the backlog is unknown.
fn offered_rate(s: &Sample) -> f64 {
    let moved = rate(s.bytes, s.length);
    match s.backlog {
        Some((start, end)) => {
            let secs = s.length.as_secs_f64();
            let grew = if secs > 0.0 {
                (end as f64 - start as f64) / secs
            } else {
                0.0
            };
            (moved + grew).max(0.0)
        }
        None => moved,
    }
}

/// Bytes per second over the time the group was busy in `samples` (each
/// window's length times its busy fraction; the whole length if nothing
/// was busy).
fn busy_rate_of<'a>(samples: impl Iterator<Item = &'a Sample>) -> f64 {
    let (bytes, busy) = samples.fold((0u64, 0.0f64), |(b, t), s| {
        let busy = s.busy.clamp(0.0, 1.0);
        let busy = if busy > 0.0 { busy } else { 1.0 };
        (
            b.saturating_add(s.bytes),
            t + s.length.as_secs_f64() * busy,
        )
    });
    if busy > 0.0 { bytes as f64 / busy } else { 0.0 }
}

fn rate_of<'a>(samples: impl Iterator<Item = &'a Sample>) -> f64 {
    let (bytes, length) = samples.fold((0u64, Duration::ZERO), |(b, l), s| {
        (b.saturating_add(s.bytes), l.saturating_add(s.length))
    });
    rate(bytes, length)
}
