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

use crate::scaler_config::{MAX_INEFFECTIVE_BACKOFF_DOUBLINGS, ScalerConfig};

/// One closed window's throughput sample.
#[derive(Debug, Clone, Copy)]
struct Sample {
    opened: Instant,
    length: Duration,
    bytes: u64,
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
    pub(crate) fn close_window(
        &mut self,
        opened: Instant,
        length: Duration,
        keep: Duration,
    ) -> f64 {
        let bytes = std::mem::take(&mut self.open_bytes);
        let now = opened + length;
        self.samples.push_back(Sample {
            opened,
            length,
            bytes,
        });
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
    pub(crate) fn on_scale_up(&mut self, from: usize, now: Instant, cooldown: Duration) {
        let from_instant = now.checked_sub(cooldown / 2).unwrap_or(now);
        let since = self
            .high_since
            .map_or(from_instant, |h| h.max(from_instant));
        let before = rate_of(self.samples.iter().filter(|s| s.opened >= since));
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
    }

    /// Judges the pending scale-up once its cooldown has passed,
    /// from the samples in its second half (the first half holds the
    /// transition: connects, fences lifting). On failure, blocks scale-ups
    /// for `ineffective_backoff × 2^(failures − 1)`.
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
        let after = if late.clone().next().is_some() {
            rate_of(late)
        } else {
            rate_of(self.samples.iter())
        };
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

fn rate_of<'a>(samples: impl Iterator<Item = &'a Sample>) -> f64 {
    let (bytes, length) = samples.fold((0u64, Duration::ZERO), |(b, l), s| {
        (b.saturating_add(s.bytes), l.saturating_add(s.length))
    });
    rate(bytes, length)
}
