//! [`ScalingStory`]: how many connections the producer held to each broker
//! over the run, from periodic samples of `Producer::metrics()`.
//!
//! A pure accumulator: samples in (time since start, connections per
//! broker, the producer's scale-event count), a description out. Widths
//! that rise and fall back between two samples are not seen; the
//! `scale_events` count (the producer's own) still counts them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// One observed change of a broker's connection count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WidthChange {
    /// When it was seen, from the start of the measured run.
    pub(crate) at: Duration,
    /// The broker.
    pub(crate) broker: i32,
    /// Connections before (0: not connected yet).
    pub(crate) from: usize,
    /// Connections after.
    pub(crate) to: usize,
}

/// Connections per broker over a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ScalingStory {
    /// The widths of the first sample: where the run started.
    start: Option<BTreeMap<i32, usize>>,
    current: BTreeMap<i32, usize>,
    max: BTreeMap<i32, usize>,
    changes: Vec<WidthChange>,
    /// The producer's count of connection-count changes (all brokers).
    pub(crate) scale_events: u64,
}

/// Changes listed in full in the summary; beyond this only the count.
const CHANGES_SHOWN: usize = 20;

impl ScalingStory {
    /// Takes one sample. The first is the starting point, not a change.
    pub(crate) fn sample(
        &mut self,
        at: Duration,
        widths: &BTreeMap<i32, usize>,
        scale_events: u64,
    ) {
        if self.start.is_none() {
            self.start = Some(widths.clone());
            self.current = widths.clone();
        }
        for (&broker, &to) in widths {
            let from = self.current.insert(broker, to).unwrap_or(0);
            if from != to {
                self.changes.push(WidthChange {
                    at,
                    broker,
                    from,
                    to,
                });
            }
            let max = self.max.entry(broker).or_default();
            *max = (*max).max(to);
        }
        self.scale_events = self.scale_events.max(scale_events);
    }

    /// The most connections seen to any one broker.
    pub(crate) fn max_connections_per_broker(&self) -> usize {
        self.max.values().copied().max().unwrap_or(0)
    }

    /// The changes seen, in order.
    #[cfg(test)]
    pub(crate) fn changes(&self) -> &[WidthChange] {
        &self.changes
    }

    /// A few lines for people.
    pub(crate) fn describe(&self) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            "connections: at most {} per broker, {} scale event{}",
            self.max_connections_per_broker(),
            self.scale_events,
            if self.scale_events == 1 { "" } else { "s" },
        );
        let finals: Vec<String> = self
            .current
            .iter()
            .map(|(b, w)| format!("broker {b}: {w} (max {})", self.max.get(b).unwrap_or(w)))
            .collect();
        let starts: Vec<String> = self
            .start
            .iter()
            .flatten()
            .map(|(b, w)| format!("broker {b}: {w}"))
            .collect();
        if !starts.is_empty() {
            let _ = write!(s, "; at the start {}", starts.join(", "));
        }
        if !finals.is_empty() {
            let _ = write!(s, "; at the end {}", finals.join(", "));
        }
        s.push('\n');
        for c in self.changes.iter().take(CHANGES_SHOWN) {
            let _ = writeln!(
                s,
                "  {:>8.3} s  broker {}: {} → {}",
                c.at.as_secs_f64(),
                c.broker,
                c.from,
                c.to
            );
        }
        if self.changes.len() > CHANGES_SHOWN {
            let _ = writeln!(
                s,
                "  … and {} more changes",
                self.changes.len() - CHANGES_SHOWN
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn widths(pairs: &[(i32, usize)]) -> BTreeMap<i32, usize> {
        pairs.iter().copied().collect()
    }

    #[test]
    fn records_changes_and_maxima() {
        let mut s = ScalingStory::default();
        let ms = Duration::from_millis;
        s.sample(ms(0), &widths(&[(0, 1)]), 0);
        s.sample(ms(100), &widths(&[(0, 1), (1, 1)]), 0);
        s.sample(ms(200), &widths(&[(0, 3), (1, 1)]), 1);
        s.sample(ms(300), &widths(&[(0, 2), (1, 1)]), 2);
        assert_eq!(s.max_connections_per_broker(), 3);
        assert_eq!(s.scale_events, 2);
        let seen: Vec<(i32, usize, usize)> = s
            .changes()
            .iter()
            .map(|c| (c.broker, c.from, c.to))
            .collect();
        // The first sample is the start; broker 1 appearing later is a change.
        assert_eq!(seen, vec![(1, 0, 1), (0, 1, 3), (0, 3, 2)]);
        let text = s.describe();
        assert!(
            text.contains("at most 3 per broker, 2 scale events"),
            "{text}"
        );
        assert!(text.contains("broker 0: 2 (max 3)"), "{text}");
        assert!(text.contains("at the start broker 0: 1;"), "{text}");
        assert!(text.contains("broker 0: 1 → 3"), "{text}");
    }

    #[test]
    fn empty_story_says_zero() {
        let s = ScalingStory::default();
        assert_eq!(s.max_connections_per_broker(), 0);
        assert!(
            s.describe()
                .starts_with("connections: at most 0 per broker, 0 scale events")
        );
    }
}
