//! Charging service time on tokio's clock at sub-millisecond rates.
//!
//! Tokio's timers fire on millisecond boundaries, so sleeping 50 µs per
//! request would really cost a millisecond and make the broker twenty times
//! slower than configured. A [`Pacer`] (one per connection) accumulates what
//! is owed and sleeps it off once it reaches [`PACING_STEP`], crediting any
//! oversleep against later charges: throughput matches the configured
//! service time on average, while a single request's answer may leave before
//! its own share is slept. Charges of a millisecond or more are slept at
//! once, so tests with such service times see exact latencies.

use std::time::Duration;

use tokio::time::Instant;

/// The smallest sleep worth asking tokio for.
pub(crate) const PACING_STEP: Duration = Duration::from_millis(1);

/// Service time owed by one connection.
#[derive(Debug, Default)]
pub(crate) struct Pacer {
    owed: Duration,
    credit: Duration,
}

impl Pacer {
    /// Charges `d`, sleeping when at least [`PACING_STEP`] is owed.
    pub(crate) async fn charge(&mut self, d: Duration) {
        if d <= self.credit {
            self.credit -= d;
            return;
        }
        self.owed = self.owed.saturating_add(d - self.credit);
        self.credit = Duration::ZERO;
        if self.owed < PACING_STEP {
            return;
        }
        let start = Instant::now();
        tokio::time::sleep(self.owed).await;
        let slept = start.elapsed();
        self.credit = slept.saturating_sub(self.owed);
        self.owed = self.owed.saturating_sub(slept);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn small_charges_are_slept_off_together_at_the_right_rate() {
        let mut pacer = Pacer::default();
        let start = Instant::now();
        let mut charged = Duration::ZERO;
        for i in 1..=100u64 {
            let d = Duration::from_micros(50 + 7 * (i % 5));
            pacer.charge(d).await;
            charged += d;
            let elapsed = start.elapsed();
            // Never more than one step ahead of or behind what was charged.
            assert!(
                elapsed + PACING_STEP > charged && elapsed < charged + PACING_STEP,
                "after {i} charges: slept {elapsed:?} for {charged:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn large_charges_are_slept_at_once() {
        let mut pacer = Pacer::default();
        let start = Instant::now();
        pacer.charge(Duration::from_millis(10)).await;
        assert_eq!(start.elapsed(), Duration::from_millis(10));
        pacer.charge(Duration::ZERO).await;
        assert_eq!(start.elapsed(), Duration::from_millis(10));
    }
}
