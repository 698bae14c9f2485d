//! The decision for one closed window: scale up (and by how much), hold
//! (and why), or scale down; the rules are in the module docs of
//! [`Scaler`](super::Scaler) and in `docs/scaling.md`.

use std::time::Instant;

use super::{Reason, ScaleUpTrigger, Scaler, Signals};

impl Scaler {
    /// The decision for one closed window. Updates the low-load timer.
    pub(super) fn decide(&mut self, now: Instant, s: &Signals) -> (usize, Reason) {
        let c = &self.config;
        let w = self.width;
        let window_opened = now.checked_sub(s.window).unwrap_or(now);
        let cooling = self
            .last_change
            .is_some_and(|at| now.saturating_duration_since(at) < self.change_cooldown);

        let by_wait = s.wait_fraction >= c.scale_up_wait;
        let by_buffer = s.buffer_fill >= c.scale_up_buffer && s.busy_fraction >= c.scale_up_busy;
        self.scale_up_check
            .note_pressure(by_wait || by_buffer, window_opened);
        if by_wait || by_buffer {
            self.low_since = None;
            if w >= c.max_width {
                return (w, Reason::AtMaximum);
            }
            if cooling {
                return (w, Reason::CoolingDown);
            }
            if let Some(remaining) = self.scale_up_check.blocked_for(now) {
                return (w, Reason::ScaleUpBackedOff { remaining });
            }
            let demand_sized = self.scale_up_check.judges() && s.backlog_bytes.is_some();
            let baseline = match self.round_trips.recent() {
                // Sized by demand, with round trips: one window holding
                // enough round trips (its rate is taken over busy time),
                // counted in round trips as long as they are now (the
                // smoothed mean lags behind a burst).
                Some(rtt) if demand_sized => self
                    .window_length()
                    .max(rtt.saturating_mul(crate::scaler_config::BASELINE_ROUND_TRIPS)),
                _ => c
                    .min_window
                    .saturating_mul(crate::scaler_config::BASELINE_WINDOWS),
            }
            .min(c.cooldown_for(self.round_trip()) / 2);
            let trigger = if by_wait {
                ScaleUpTrigger::WaitingForInFlightPermit
            } else {
                ScaleUpTrigger::BufferBackedUp
            };
            if self.scale_up_check.baseline_pending(now, baseline) {
                if demand_sized && let Some(target) = self.early_step(now, s) {
                    return (target, Reason::ScaleUp(trigger));
                }
                return (w, Reason::MeasuringBaseline);
            }
            if demand_sized
                && let Some((moving, shown)) = self.scale_up_check.stalled_below_shown(
                    w,
                    now,
                    c.cooldown_for(self.round_trip()) / 2,
                )
            {
                return (
                    w,
                    Reason::SlowerThanShown {
                        moving_bytes_per_sec: moving as u64,
                        shown_bytes_per_sec: shown as u64,
                    },
                );
            }
            if demand_sized {
                return match self.demand_width(s) {
                    Some(target) if target <= w => (w, Reason::WithinCapacity),
                    Some(target) => (target, Reason::ScaleUp(trigger)),
                    // Nothing answered in the window: no rate to size a
                    // step by, nor a baseline to judge one against (with
                    // windows of a few round trips, a window can close
                    // before the first answer of a burst).
                    None => (w, Reason::MeasuringBaseline),
                };
            }
            // Waiting for a fraction f of the time on each of w connections
            // suggests roughly w·f more connections' worth of demand. A
            // judged scale-up adds one connection: its gain is attributed
            // to that one connection, so a width past the best one is
            // undone without undoing the step that helped (two at once
            // jumped 2 → 4 past a best width of 3, and undoing it lost 3).
            let wanted = if !by_wait || self.scale_up_check.judges() {
                1
            } else {
                (w as f64 * s.wait_fraction).ceil() as usize
            };
            let step = wanted.clamp(1, c.max_step);
            let target = w.saturating_add(step).min(c.max_width);
            return (target, Reason::ScaleUp(trigger));
        }

        let quiet = s.wait_fraction <= c.scale_down_wait && s.buffer_fill <= c.scale_down_buffer;
        if quiet && w <= c.min_width {
            self.low_since = None;
            return (w, Reason::AtMinimum);
        }
        if !quiet || s.projected_busy(1) > c.scale_down_busy {
            self.low_since = None;
            return (w, Reason::Steady);
        }
        let since = *self.low_since.get_or_insert(window_opened);
        let low_for = now.saturating_duration_since(since);
        if low_for < c.sustained_low {
            return (w, Reason::LowNotYetSustained { low_for });
        }
        if cooling {
            return (w, Reason::CoolingDown);
        }
        // The largest bounded step after which the remaining connections
        // would still be at most `scale_down_busy` busy. At least 1: the
        // check above proved one removal fits.
        let room = (w - c.min_width).min(c.max_step);
        let step = (1..=room)
            .rev()
            .find(|&k| s.projected_busy(k) <= c.scale_down_busy)
            .unwrap_or(1);
        (w - step, Reason::SustainedLow)
    }
}
