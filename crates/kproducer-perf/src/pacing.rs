//! `--throughput`: when the next record may be sent.

use std::num::NonZeroU64;
use std::time::{Duration, Instant};

/// Spaces sends so that record `n` goes no earlier than `n / rate` seconds
/// after the start — a schedule, not a per-record gap, so a slow moment is
/// made up afterwards and the average rate holds.
///
/// A plain struct: it is told the time and answers how long to wait; the
/// caller does the waiting (by polling its client with that timeout, or
/// sleeping), so pacing never busy-loops. Waits shorter than
/// [`Pacer::MIN_WAIT`] are skipped: a record may go up to that much early,
/// which keeps sleeps coarse at high rates (one every ~1000 records at
/// 1M records/s) instead of one per record.
///
/// ```
/// use std::num::NonZeroU64;
/// use std::time::{Duration, Instant};
/// use kproducer_perf::Pacer;
///
/// let start = Instant::now();
/// let pacer = Pacer::new(start, NonZeroU64::new(100)); // 100 records/s
/// assert_eq!(pacer.wait_before(0, start), None);
/// assert_eq!(pacer.wait_before(1, start), Some(Duration::from_millis(10)));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Pacer {
    start: Instant,
    records_per_sec: Option<NonZeroU64>,
}

impl Pacer {
    /// Waits shorter than this are not worth a sleep.
    pub const MIN_WAIT: Duration = Duration::from_millis(1);

    /// A pacer whose schedule starts at `start`; `None` means unlimited.
    #[must_use]
    pub fn new(start: Instant, records_per_sec: Option<NonZeroU64>) -> Self {
        Self {
            start,
            records_per_sec,
        }
    }

    /// Whether there is a cap at all. Callers check this first to skip
    /// reading the clock per record when sending flat out.
    #[must_use]
    pub fn is_limited(&self) -> bool {
        self.records_per_sec.is_some()
    }

    /// How long to wait at `now` before sending record number `sent`
    /// (0-based), or `None` to send it now.
    #[must_use]
    pub fn wait_before(&self, sent: u64, now: Instant) -> Option<Duration> {
        let rate = self.records_per_sec?;
        let due_nanos = u128::from(sent) * 1_000_000_000 / u128::from(rate.get());
        // Beyond u64 nanoseconds (584 years) there is nothing to schedule.
        let due = self
            .start
            .checked_add(Duration::from_nanos(u64::try_from(due_nanos).ok()?))?;
        let wait = due.checked_duration_since(now)?;
        (wait >= Self::MIN_WAIT).then_some(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn unlimited_never_waits() {
        let start = Instant::now();
        let pacer = Pacer::new(start, None);
        assert!(!pacer.is_limited());
        assert_eq!(pacer.wait_before(u64::MAX, start), None);
    }

    #[test]
    fn follows_the_schedule_not_the_gap() {
        let start = Instant::now();
        let pacer = Pacer::new(start, NonZeroU64::new(1000)); // 1 ms apart
        assert!(pacer.is_limited());
        assert_eq!(pacer.wait_before(0, start), None);
        assert_eq!(pacer.wait_before(10, start), Some(ms(10)));
        assert_eq!(pacer.wait_before(10, start + ms(4)), Some(ms(6)));
        // Behind schedule: send at once until caught up.
        assert_eq!(pacer.wait_before(10, start + ms(50)), None);
        assert_eq!(pacer.wait_before(49, start + ms(50)), None);
        assert_eq!(pacer.wait_before(60, start + ms(50)), Some(ms(10)));
    }

    #[test]
    fn short_waits_are_skipped() {
        let start = Instant::now();
        let pacer = Pacer::new(start, NonZeroU64::new(1_000_000)); // 1 µs apart
        assert_eq!(pacer.wait_before(999, start), None);
        assert_eq!(pacer.wait_before(1000, start), Some(ms(1)));
        assert_eq!(pacer.wait_before(5000, start + ms(2)), Some(ms(3)));
    }

    #[test]
    fn average_rate_holds_over_a_simulated_run() {
        // Simulate: sending is free, waiting advances a fake clock.
        let start = Instant::now();
        let pacer = Pacer::new(start, NonZeroU64::new(250_000));
        let mut now = start;
        for sent in 0..1_000_000 {
            if let Some(wait) = pacer.wait_before(sent, now) {
                now += wait;
            }
        }
        let elapsed = now - start;
        // 1M records at 250k/s: 4 s, less at most MIN_WAIT of early sending.
        assert!(elapsed <= Duration::from_secs(4), "{elapsed:?}");
        assert!(
            elapsed >= Duration::from_secs(4) - Pacer::MIN_WAIT,
            "{elapsed:?}"
        );
    }
}
