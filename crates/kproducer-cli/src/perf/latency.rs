//! [`Latency`]: send→acknowledgement latency of every record, in an HDR
//! histogram at microsecond resolution.

use std::time::Duration;

use hdrhistogram::Histogram;

/// Latencies above an hour are recorded as an hour.
const MAX_MICROS: u64 = 3_600_000_000;

/// Three significant digits: 0.1 % relative error.
const SIGNIFICANT_DIGITS: u8 = 3;

/// Percentiles in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct LatencySummary {
    /// Median.
    pub(crate) p50: f64,
    /// 95th percentile.
    pub(crate) p95: f64,
    /// 99th percentile.
    pub(crate) p99: f64,
    /// Largest.
    pub(crate) max: f64,
}

/// The histogram of a run.
#[derive(Debug, Clone)]
pub(crate) struct Latency {
    histogram: Histogram<u64>,
}

impl Latency {
    /// An empty histogram.
    pub(crate) fn new() -> Self {
        // Cannot fail: the bounds are constants hdrhistogram accepts (low 1,
        // high ≥ 2 × low, at most 5 significant digits).
        let histogram = Histogram::new_with_bounds(1, MAX_MICROS, SIGNIFICANT_DIGITS)
            .expect("constant histogram bounds are valid");
        Self { histogram }
    }

    /// Records one latency (clamped to 1 µs ..= 1 h).
    pub(crate) fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.histogram
            .saturating_record(micros.clamp(1, MAX_MICROS));
    }

    /// Samples recorded.
    #[cfg(test)]
    pub(crate) fn len(&self) -> u64 {
        self.histogram.len()
    }

    /// p50 / p95 / p99 / max in milliseconds; zeros when empty.
    pub(crate) fn summary(&self) -> LatencySummary {
        if self.histogram.is_empty() {
            return LatencySummary::default();
        }
        let ms = |micros: u64| micros as f64 / 1000.0;
        LatencySummary {
            p50: ms(self.histogram.value_at_quantile(0.50)),
            p95: ms(self.histogram.value_at_quantile(0.95)),
            p99: ms(self.histogram.value_at_quantile(0.99)),
            max: ms(self.histogram.max()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_zero() {
        assert_eq!(Latency::new().summary(), LatencySummary::default());
    }

    #[test]
    fn percentiles_of_a_known_distribution() {
        let mut l = Latency::new();
        for micros in 1..=1000 {
            l.record(Duration::from_micros(micros));
        }
        assert_eq!(l.len(), 1000);
        let s = l.summary();
        for (got, want) in [(s.p50, 0.5), (s.p95, 0.95), (s.p99, 0.99), (s.max, 1.0)] {
            assert!((got - want).abs() <= want * 0.001, "got {got}, want {want}");
        }
    }

    #[test]
    fn extremes_are_clamped() {
        let mut l = Latency::new();
        l.record(Duration::ZERO);
        l.record(Duration::from_secs(100 * 3600));
        assert_eq!(l.len(), 2);
        assert!((l.summary().max - 3_600_000.0).abs() < 3_600.0);
    }
}
