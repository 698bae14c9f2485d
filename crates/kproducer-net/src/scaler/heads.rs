//! The requests being served: per connection, the oldest Produce request
//! in flight, which bounds what the connection can carry whatever the
//! sizes of the requests (see [`Scaler::observe_unanswered`]).

use std::time::Duration;

use super::Scaler;

impl Scaler {
    /// Reports, before an evaluation, the oldest Produce request in flight
    /// on slot `slot`: `bytes`, and `serving_for`, how long it has been at
    /// the head of its connection's queue at least (since it was handed
    /// over, or since the slot's previous answer if that came later; an
    /// earlier instant than the true one is not allowed, a later one only
    /// loosens the bound). Slots with nothing in flight are not reported.
    /// Reports count for the next [`evaluate`](Self::evaluate) only.
    ///
    /// Optional. A request at the head of its connection's queue is being
    /// served, so the connection carries less than `bytes / serving_for`,
    /// and while busy it served no more than what it answered plus
    /// `bytes`. Both bound what the width can carry whatever the sizes of
    /// the requests; an early scale-up
    /// ([`EARLY_MIN_ANSWERS`](crate::EARLY_MIN_ANSWERS)) is decided and
    /// judged against the tighter. Without them the bound assumes the next
    /// answer is no larger than the mean one seen.
    pub fn observe_unanswered(&mut self, slot: usize, bytes: u64, serving_for: Duration) {
        if slot >= self.width {
            return;
        }
        if self.unanswered.len() < self.width {
            self.unanswered.resize(self.width, None);
        }
        self.unanswered[slot] = Some((bytes, serving_for));
    }

    /// The reported heads (see [`observe_unanswered`](Self::observe_unanswered)):
    /// their total bytes, and the sum over the width's slots of
    /// `bytes / serving_for` (`None` unless every slot reported one that
    /// has been served for some time). `None` when nothing was reported.
    pub(super) fn unanswered_heads(&self) -> Option<(u64, Option<f64>)> {
        if self.unanswered.iter().all(Option::is_none) {
            return None;
        }
        let total = self.unanswered.iter().flatten().map(|h| h.0).sum();
        let by_age = (0..self.width)
            .map(|i| {
                self.unanswered
                    .get(i)
                    .copied()
                    .flatten()
                    .filter(|h| !h.1.is_zero())
                    .map(|(bytes, age)| bytes as f64 / age.as_secs_f64())
            })
            .sum::<Option<f64>>();
        Some((total, by_age))
    }

    /// How long the reported heads had been served, in the mean over the
    /// width's slots (seconds; a slot without a report counts 0): at a
    /// window's close, the service the requests answered first in the
    /// next window already had. The evidence of a pressure that begins
    /// with the next window counts it as busy time, or the first answers
    /// (large requests mostly served before) would show a rate up to
    /// twice what a connection carries.
    pub(super) fn head_served(&self) -> f64 {
        if self.width == 0 {
            return 0.0;
        }
        let total: f64 = self
            .unanswered
            .iter()
            .flatten()
            .map(|h| h.1.as_secs_f64())
            .sum();
        total / self.width as f64
    }
}
