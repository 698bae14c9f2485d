//! How long the [`Scaler`](crate::Scaler)'s evaluation windows last: a
//! few Produce round trips once they are known, the configured
//! [`ScalerConfig::min_window`] otherwise.
//!
//! The scaler decides at most once per window, and every decision it makes
//! needs evidence counted in round trips (a baseline of
//! [`BASELINE_ROUND_TRIPS`](crate::BASELINE_ROUND_TRIPS), a cooldown of
//! [`cooldown_round_trips`](ScalerConfig::cooldown_round_trips)). A fixed
//! 100 ms window made the first decision of a burst wait for two of them
//! (0.2–0.3 s) even where a round trip takes a few milliseconds; windows
//! of [`WINDOW_ROUND_TRIPS`] round trips let the decision follow the
//! evidence instead of the clock. Where round trips are long or unknown
//! the window stays at `min_window`, which is also its longest.

use std::time::Duration;

use crate::scaler_config::ScalerConfig;

/// How many mean Produce round trips an evaluation window lasts, once
/// round trips are reported
/// ([`Scaler::observe_round_trips`](crate::Scaler::observe_round_trips)),
/// between [`MIN_WINDOW_FLOOR`] and [`ScalerConfig::min_window`].
///
/// Why 2. A window's wait and busy fractions are integrals of time, so a
/// short window does not lose any of them, but they are only meaningful
/// over whole request cycles: a saturated connection answers at least once
/// per round trip, so two round trips hold at least two answers per busy
/// connection (up to `2 × max.in.flight` when pipelined), and a window
/// boundary cuts at most one cycle on each side. One round trip would let
/// a single late answer decide whether a window looks saturated or idle.
/// More than two would only delay decisions: no decision rests on one
/// window (a scale-up needs [`BASELINE_ROUND_TRIPS`](crate::BASELINE_ROUND_TRIPS)
/// of pressure, at least two such windows, or the wider margin of an
/// early step; a scale-down needs 30 s of low windows).
pub const WINDOW_ROUND_TRIPS: u32 = 2;

/// The shortest evaluation window when round trips are short (unless
/// [`ScalerConfig::min_window`] is shorter still): 10 ms.
///
/// Why. Every window costs the caller a tick (the producer sums its
/// partitions' backlog and reads each connection's counters), so 10 ms
/// bounds that to 100 ticks a second while round trips are under 5 ms;
/// and timers fire with millisecond resolution, so a 10 ms window's
/// fractions are within 10 % of their value, as coarse as the scale-up
/// threshold itself ([`SCALE_UP_WAIT_FRACTION`](crate::SCALE_UP_WAIT_FRACTION))
/// and no coarser.
pub const MIN_WINDOW_FLOOR: Duration = Duration::from_millis(10);

/// Produce round trips reported to the scaler: the open window's sums, and
/// the smoothed mean over closed windows.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RoundTrips {
    /// Reported in the open window: total and count.
    open_total: Duration,
    open_count: u64,
    /// Smoothed mean round trip (each closed window with answers weighs one
    /// half); `None` until a window with answers has closed.
    smoothed: Option<Duration>,
    /// Whether the last closed window had answers.
    last_window_answered: bool,
    /// The mean round trip of the last closed window that had answers.
    last_window_mean: Option<Duration>,
}

impl RoundTrips {
    /// Adds `count` round trips that took `total` together.
    pub(crate) fn observe(&mut self, total: Duration, count: u64) {
        self.open_total = self.open_total.saturating_add(total);
        self.open_count = self.open_count.saturating_add(count);
    }

    /// The smoothed mean round trip.
    pub(crate) fn smoothed(&self) -> Option<Duration> {
        self.smoothed
    }

    /// The round trip as it is now: the larger of the smoothed mean and
    /// the last answered window's mean. The smoothed mean lags a change of
    /// load by a window or two (a burst after a trickle of tiny requests
    /// has round trips many times longer), and evidence counted in round
    /// trips must not be cut short by the lag.
    pub(crate) fn recent(&self) -> Option<Duration> {
        match (self.smoothed, self.last_window_mean) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// The mean round trip of the open window, if it had answers.
    fn open_mean(&self) -> Option<Duration> {
        (self.open_count > 0)
            .then(|| self.open_total / u32::try_from(self.open_count).unwrap_or(u32::MAX))
    }

    /// Whether round trips pace the window now (see [`Self::window_length`]).
    pub(crate) fn paces(&self) -> bool {
        self.pacing().is_some()
    }

    /// The round trip the window's length follows, while the group is
    /// answering: the smoothed mean (the open window's mean before the
    /// first window with answers closes). `None` when neither the open
    /// window nor the last closed one had answers: an idle group's old
    /// round trips say nothing about when the next evidence comes.
    fn pacing(&self) -> Option<Duration> {
        if self.open_count == 0 && !self.last_window_answered {
            return None;
        }
        self.smoothed.or_else(|| self.open_mean())
    }

    /// How long the open window must last before it is evaluated:
    /// [`WINDOW_ROUND_TRIPS`] round trips, at least [`MIN_WINDOW_FLOOR`]
    /// and at most `min_window`; `min_window` while no round trips pace it.
    pub(crate) fn window_length(&self, config: &ScalerConfig) -> Duration {
        let longest = config.min_window;
        match self.pacing() {
            Some(rtt) => rtt
                .saturating_mul(WINDOW_ROUND_TRIPS)
                .max(MIN_WINDOW_FLOOR.min(longest))
                .min(longest),
            None => longest,
        }
    }

    /// Closes the open window: folds its mean into the smoothed one and
    /// returns how many answers it held.
    pub(crate) fn close_window(&mut self) -> u64 {
        let answers = self.open_count;
        if let Some(mean) = self.open_mean() {
            self.last_window_mean = Some(mean);
            self.smoothed = Some(match self.smoothed {
                Some(previous) => (previous + mean) / 2,
                None => mean,
            });
        }
        self.last_window_answered = answers > 0;
        self.open_total = Duration::ZERO;
        self.open_count = 0;
        answers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn unknown_round_trips_keep_the_configured_window() {
        let c = ScalerConfig::default();
        assert_eq!(RoundTrips::default().window_length(&c), c.min_window);
    }

    #[test]
    fn the_window_follows_round_trips_between_its_bounds() {
        let c = ScalerConfig::default();
        for (rtt, window) in [(1, 10), (5, 10), (20, 40), (50, 100), (300, 100)] {
            let mut r = RoundTrips::default();
            r.observe(ms(rtt * 3), 3);
            assert_eq!(r.window_length(&c), ms(window), "open window, rtt {rtt} ms");
            r.close_window();
            assert_eq!(
                r.window_length(&c),
                ms(window),
                "closed window, rtt {rtt} ms"
            );
        }
    }

    #[test]
    fn an_idle_window_goes_back_to_the_configured_length() {
        let c = ScalerConfig::default();
        let mut r = RoundTrips::default();
        r.observe(ms(4), 1);
        r.close_window();
        assert_eq!(r.window_length(&c), ms(10));
        assert_eq!(r.close_window(), 0);
        assert_eq!(r.window_length(&c), c.min_window);
        assert_eq!(r.smoothed(), Some(ms(4)));
    }

    #[test]
    fn a_min_window_below_the_floor_is_respected() {
        let c = ScalerConfig {
            min_window: ms(5),
            ..ScalerConfig::default()
        };
        let mut r = RoundTrips::default();
        r.observe(ms(1), 1);
        assert_eq!(r.window_length(&c), ms(5));
    }
}
