//! Reconnect backoff: exponential, capped, with jitter.
//!
//! Follows Kafka's Java client: the delay before attempt `n + 1` after `n`
//! consecutive failures is `initial * 2^(n-1)`, multiplied by a random factor
//! in `[1 - jitter, 1 + jitter]`, then capped at `max` and rounded to whole milliseconds
//! (`reconnect.backoff.ms`, `reconnect.backoff.max.ms`). A successful
//! connection resets the count.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Default `reconnect.backoff.ms`.
pub const DEFAULT_RECONNECT_BACKOFF: Duration = Duration::from_millis(50);
/// Default `reconnect.backoff.max.ms`.
pub const DEFAULT_RECONNECT_BACKOFF_MAX: Duration = Duration::from_millis(1000);
/// Jitter as a fraction of the delay: ±20%, as in Kafka's clients, so
/// producers that lost a broker together do not reconnect in lockstep.
pub const RECONNECT_JITTER: f64 = 0.2;

/// Consecutive-failure counter that yields the next reconnect delay.
///
/// ```
/// use std::time::Duration;
/// use kproducer_net::Backoff;
///
/// let mut b = Backoff::new(Duration::from_millis(50), Duration::from_millis(1000), 7);
/// assert_eq!(b.delay(), Duration::ZERO); // no failure yet
/// b.record_failure();
/// let d = b.delay();
/// assert!(d >= Duration::from_millis(40) && d <= Duration::from_millis(60));
/// b.reset();
/// assert_eq!(b.delay(), Duration::ZERO);
/// ```
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    failures: u32,
    rng: SmallRng,
    /// The jittered delay for the current failure count, fixed when the
    /// failure is recorded so repeated reads agree.
    current: Duration,
}

impl Backoff {
    /// A backoff from `initial` doubling up to `max`, with jitter drawn from
    /// a generator seeded with `seed` (tests pass a fixed seed).
    pub fn new(initial: Duration, max: Duration, seed: u64) -> Self {
        Self {
            initial,
            max: max.max(initial),
            failures: 0,
            rng: SmallRng::seed_from_u64(seed),
            current: Duration::ZERO,
        }
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Counts a failed attempt (or a lost connection) and draws the delay
    /// before the next attempt.
    pub fn record_failure(&mut self) {
        let exp = self.failures.min(31);
        self.failures = self.failures.saturating_add(1);
        let base = self.initial.as_secs_f64() * 2f64.powi(exp as i32);
        let factor = self
            .rng
            .random_range((1.0 - RECONNECT_JITTER)..=(1.0 + RECONNECT_JITTER));
        // Whole milliseconds, like the Kafka settings (and tokio's timer).
        let ms = (base * factor * 1000.0)
            .round()
            .min(self.max.as_millis() as f64);
        self.current = Duration::from_millis(ms as u64);
    }

    /// Clears the failure count after a successful connection.
    pub fn reset(&mut self) {
        self.failures = 0;
        self.current = Duration::ZERO;
    }

    /// How long to wait after the last failure before the next attempt.
    pub fn delay(&self) -> Duration {
        self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_with_jitter_and_caps() {
        for seed in 0..50u64 {
            let mut b = Backoff::new(Duration::from_millis(50), Duration::from_millis(1000), seed);
            let mut expected = 50.0f64;
            for _ in 0..10 {
                b.record_failure();
                let ms = b.delay().as_secs_f64() * 1000.0;
                let lo = (expected * 0.8).min(1000.0);
                let hi = (expected * 1.2).min(1000.0);
                assert!(
                    ms >= lo - 1e-6 && ms <= hi + 1e-6,
                    "seed {seed}: {ms} not in {lo}..={hi}"
                );
                expected *= 2.0;
            }
            assert_eq!(b.failures(), 10);
        }
    }

    #[test]
    fn same_seed_same_delays() {
        let draw = |seed| {
            let mut b = Backoff::new(Duration::from_millis(50), Duration::from_secs(1), seed);
            (0..5)
                .map(|_| {
                    b.record_failure();
                    b.delay()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(42), draw(42));
        assert_ne!(draw(42), draw(43));
    }
}
