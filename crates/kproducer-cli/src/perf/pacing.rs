//! [`Pacer`]: spaces sends to `--throughput` records per second by a fixed
//! schedule (record `n` is due at `start + n / rate`), so a late start is
//! caught up and the average rate holds; the caller sleeps, never spins.

use std::num::NonZeroU64;
use std::time::{Duration, Instant};

/// Waits shorter than this are skipped: timers have millisecond granularity,
/// and the schedule catches the difference up on the next wait.
const MIN_WAIT: Duration = Duration::from_millis(1);

/// The send schedule of a run; see the module docs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pacer {
    start: Instant,
    rate: Option<NonZeroU64>,
}

impl Pacer {
    /// A schedule from `start` at `rate` records per second (`None`: as fast
    /// as possible).
    pub(crate) fn new(start: Instant, rate: Option<NonZeroU64>) -> Self {
        Self { start, rate }
    }

    /// Whether there is a cap (the hot loop checks this before reading the
    /// clock).
    pub(crate) fn is_limited(&self) -> bool {
        self.rate.is_some()
    }

    /// How long to wait at `now` before sending record `index` (0-based);
    /// `None` means send now.
    pub(crate) fn wait_before(&self, index: u64, now: Instant) -> Option<Duration> {
        let rate = self.rate?;
        let due_nanos = u128::from(index) * 1_000_000_000 / u128::from(rate.get());
        let due = self
            .start
            .checked_add(Duration::from_nanos(u64::try_from(due_nanos).ok()?))?;
        let wait = due.checked_duration_since(now)?;
        (wait >= MIN_WAIT).then_some(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn unlimited_never_waits() {
        let start = Instant::now();
        let p = Pacer::new(start, None);
        assert!(!p.is_limited());
        assert_eq!(p.wait_before(u64::MAX, start), None);
    }

    #[test]
    fn follows_the_schedule() {
        let start = Instant::now();
        let p = Pacer::new(start, NonZeroU64::new(1000));
        assert_eq!(p.wait_before(0, start), None);
        assert_eq!(p.wait_before(10, start), Some(ms(10)));
        assert_eq!(p.wait_before(10, start + ms(4)), Some(ms(6)));
        // Behind schedule: no wait until caught up.
        assert_eq!(p.wait_before(49, start + ms(50)), None);
        assert_eq!(p.wait_before(60, start + ms(50)), Some(ms(10)));
    }

    #[test]
    fn average_rate_holds_with_sub_millisecond_spacing() {
        let start = Instant::now();
        let p = Pacer::new(start, NonZeroU64::new(250_000));
        let mut now = start;
        for i in 0..1_000_000 {
            if let Some(w) = p.wait_before(i, now) {
                now += w;
            }
        }
        let elapsed = now - start;
        assert!(elapsed <= Duration::from_secs(4), "{elapsed:?}");
        assert!(elapsed >= Duration::from_secs(4) - MIN_WAIT, "{elapsed:?}");
    }
}
