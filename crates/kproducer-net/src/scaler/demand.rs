//! How wide the demand asks the group to be: the scale-up's size from the
//! backlog, the offered load and what the width carries, and the early
//! scale-up that a few decisive answers allow (see
//! [`Scaler::observe_backlog`] and [`EARLY_MIN_ANSWERS`](crate::EARLY_MIN_ANSWERS)).

use std::time::{Duration, Instant};

use super::{Scaler, Signals};

impl Scaler {
    /// The demand over the window, in bytes per second, given that the
    /// group moves `moved` bytes per second (see
    /// [`observe_backlog`](Self::observe_backlog)); `None` without a
    /// backlog report or when nothing was moved.
    ///
    /// The demand is the offered load plus the backlog beyond one round
    /// trip's worth of `moved` (that much is the pipeline, always waiting
    /// for the next slot), cleared over half a cooldown (the settling
    /// half: by the judged half the new width should carry the load
    /// alone).
    pub(super) fn demand(&self, s: &Signals, moved: f64) -> Option<f64> {
        let backlog = s.backlog_bytes? as f64;
        if moved.is_nan() || moved <= 0.0 {
            return None;
        }
        let rtt = self.round_trip().unwrap_or(Duration::ZERO).as_secs_f64();
        let clear_within = (self.cooldown() / 2)
            .as_secs_f64()
            .max(s.window.as_secs_f64());
        let excess = (backlog - moved * rtt).max(0.0);
        Some(s.offered.unwrap_or(moved) + excess / clear_within)
    }

    /// The width that carries `demand` when the current width moves
    /// `moved`: `⌈width × demand / moved⌉`, at least width + 1, at most
    /// the maximum; the maximum when the buffer is at least
    /// [`ScalerConfig::scale_up_buffer`] full (the sender is, or is about
    /// to be, blocked: its demand is censored at what was moved).
    pub(super) fn width_for(&self, s: &Signals, demand: f64, moved: f64) -> usize {
        let c = &self.config;
        let w = s.width;
        if s.buffer_fill >= c.scale_up_buffer {
            return c.max_width;
        }
        let needed = (w as f64 * demand / moved).ceil();
        let needed = if needed.is_finite() && needed < c.max_width as f64 {
            needed as usize
        } else {
            c.max_width
        };
        needed.clamp(w + 1, c.max_width)
    }

    /// The width the demand asks for, from the window's backlog, offered
    /// load and throughput (see [`observe_backlog`](Self::observe_backlog));
    /// `None` when nothing was moved (no per-connection rate to divide by).
    ///
    /// One connection carried `throughput / width`. A demand
    /// ([`demand`](Self::demand)) less than
    /// [`ScalerConfig::scale_up_min_gain`] above the throughput keeps the
    /// width: one more connection could not gain enough to be kept, unless
    /// the buffer is at least [`ScalerConfig::scale_up_buffer`] full: then
    /// the maximum is tried ([`width_for`](Self::width_for)).
    pub(super) fn demand_width(&self, s: &Signals) -> Option<usize> {
        let c = &self.config;
        let moved = s.throughput;
        let demand = self.demand(s, moved)?;
        if s.buffer_fill < c.scale_up_buffer && demand < moved * (1.0 + c.scale_up_min_gain) {
            return Some(s.width);
        }
        Some(self.width_for(s, demand, moved))
    }

    /// A scale-up before the full baseline
    /// ([`BASELINE_ROUND_TRIPS`](crate::BASELINE_ROUND_TRIPS)) has been
    /// measured, when the evidence so far already decides it; `None`
    /// otherwise (keep measuring).
    ///
    /// With at least [`EARLY_MIN_ANSWERS`](crate::EARLY_MIN_ANSWERS)
    /// answers under pressure, what the width can carry is bounded from
    /// above: by the requests being served
    /// ([`observe_unanswered`](Self::observe_unanswered)) whatever their
    /// sizes, or else by its busy-time rate × (k + 1) / k (one more answer
    /// of the mean size). If the demand exceeds even that bound by
    /// [`ScalerConfig::scale_up_min_gain`], more answers cannot reverse
    /// the decision: the step is taken now, sized by the rate measured,
    /// and judged later against the bound (so a step that only looked
    /// worth it because of the few answers is undone like any other).
    /// The measured rate stands for the width's capacity only if the
    /// width has not shown more within
    /// [`CAPACITY_MEMORY`](crate::CAPACITY_MEMORY): a lower rate is a lull
    /// or a stall (the catch-up after one has its busy but silent time in
    /// the evidence), and waits for the full baseline. So does a step too
    /// small to be kept against the bound: the target width, at the
    /// measured rate per connection, must itself clear it by
    /// [`ScalerConfig::scale_up_min_gain`].
    pub(super) fn early_step(&mut self, now: Instant, s: &Signals) -> Option<usize> {
        let evidence = self.scale_up_check.pressure_evidence();
        let moved = evidence.rate();
        let bound = evidence.capacity_bound(self.unanswered_heads())?;
        if self.scale_up_check.is_below_shown(s.width, now, moved) {
            return None;
        }
        let demand = self.demand(s, moved)?;
        if demand < bound * (1.0 + self.config.scale_up_min_gain) {
            return None;
        }
        let target = self.width_for(s, demand, moved);
        // The step is judged against the bound: a width that cannot
        // carry `(1 + min_gain) × bound` even with every connection as
        // fast as the measured ones would be undone whatever happened, so
        // it waits for more answers instead (one answer: at least 3×).
        let ideal = moved * target as f64 / s.width as f64;
        if ideal < bound * (1.0 + self.config.scale_up_min_gain) {
            return None;
        }
        self.scale_up_check.set_early_baseline(bound);
        Some(target)
    }
}
