//! Send-to-acknowledgement latency, one sample per record.

use std::time::Duration;

use hdrhistogram::Histogram;

/// The largest latency recorded as itself (one hour, in microseconds);
/// longer ones are recorded as this.
const MAX_MICROS: u64 = 3_600_000_000;

/// Three significant digits: 0.1 % relative error at any latency.
const SIGNIFICANT_DIGITS: u8 = 3;

/// Collects per-record latencies in an HDR histogram at microsecond
/// resolution.
///
/// ```
/// use std::time::Duration;
/// use kproducer_perf::LatencyRecorder;
///
/// let mut latency = LatencyRecorder::new();
/// for ms in 1..=100 {
///     latency.record(Duration::from_millis(ms));
/// }
/// let summary = latency.summary();
/// assert!((summary.p50 - 50.0).abs() < 0.1);
/// assert!((summary.max - 100.0).abs() < 0.1);
/// ```
#[derive(Debug, Clone)]
pub struct LatencyRecorder {
    histogram: Histogram<u64>,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LatencySummary {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest sample.
    pub max: f64,
}

impl LatencyRecorder {
    /// An empty recorder.
    #[must_use]
    pub fn new() -> Self {
        // Cannot fail: hdrhistogram needs low ≥ 1, high ≥ 2 × low and at most
        // 5 significant digits, and these constants (1, one hour in µs, 3)
        // satisfy all three.
        let histogram = Histogram::new_with_bounds(1, MAX_MICROS, SIGNIFICANT_DIGITS)
            .expect("constant histogram bounds are valid");
        Self { histogram }
    }

    /// Records one latency; beyond an hour it counts as an hour.
    pub fn record(&mut self, latency: Duration) {
        self.record_micros(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
    }

    /// Records one latency given in whole microseconds (what
    /// [`record`](Self::record) stores a `Duration` as), for a driver that
    /// keeps its clock as integers.
    ///
    /// ```
    /// use std::time::Duration;
    /// use kproducer_perf::LatencyRecorder;
    ///
    /// let mut a = LatencyRecorder::new();
    /// let mut b = LatencyRecorder::new();
    /// a.record(Duration::from_nanos(2_345_678));
    /// b.record_micros(2_345_678 / 1000);
    /// assert_eq!(a.summary(), b.summary());
    /// ```
    pub fn record_micros(&mut self, micros: u64) {
        self.histogram
            .saturating_record(micros.clamp(1, MAX_MICROS));
    }

    /// How many latencies were recorded.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.histogram.len()
    }

    /// Whether nothing was recorded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.histogram.is_empty()
    }

    /// Adds another recorder's samples to this one.
    pub fn merge(&mut self, other: &Self) {
        // Both histograms share the same constant bounds, and saturating
        // recording keeps every count in range, so adding cannot fail; if it
        // ever did, `other`'s samples would be missing, which the `records`
        // count in the report would show.
        let _ = self.histogram.add(&other.histogram);
    }

    /// p50, p95, p99 and max in milliseconds; all zero when empty.
    #[must_use]
    pub fn summary(&self) -> LatencySummary {
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

impl Default for LatencyRecorder {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_summary_is_zero() {
        let latency = LatencyRecorder::new();
        assert!(latency.is_empty());
        assert_eq!(latency.summary(), LatencySummary::default());
    }

    #[test]
    fn percentiles_of_a_known_distribution() {
        let mut latency = LatencyRecorder::new();
        // 1..=1000 µs: p50 = 500 µs, p95 = 950 µs, p99 = 990 µs, max 1000 µs.
        for micros in 1..=1000 {
            latency.record(Duration::from_micros(micros));
        }
        let summary = latency.summary();
        assert_eq!(latency.len(), 1000);
        for (got, want) in [
            (summary.p50, 0.5),
            (summary.p95, 0.95),
            (summary.p99, 0.99),
            (summary.max, 1.0),
        ] {
            assert!((got - want).abs() <= want * 0.001, "got {got} want {want}");
        }
    }

    #[test]
    fn extremes_are_clamped_not_lost() {
        let mut latency = LatencyRecorder::new();
        latency.record(Duration::ZERO);
        latency.record(Duration::from_secs(10 * 3600));
        assert_eq!(latency.len(), 2);
        assert!((latency.summary().max - 3_600_000.0).abs() < 3_600.0);
    }

    #[test]
    fn merge_adds_samples() {
        let mut a = LatencyRecorder::new();
        let mut b = LatencyRecorder::new();
        a.record(Duration::from_millis(1));
        b.record(Duration::from_millis(9));
        a.merge(&b);
        assert_eq!(a.len(), 2);
        assert!((a.summary().max - 9.0).abs() < 0.01);
    }
}
