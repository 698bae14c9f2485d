//! [`ProducerMetrics`]: a snapshot of what the producer has done, and the
//! counters the core task updates (atomics for the hot ones, a mutex for the
//! rare ones, never touched on the per-record path by user tasks).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use kproducer_protocol::ErrorCode;

/// A point-in-time snapshot of the producer's counters.
///
/// ```
/// let m = kproducer::ProducerMetrics::default();
/// assert_eq!(m.records_sent, 0);
/// assert!(m.errors_by_code.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProducerMetrics {
    /// Records acknowledged by the brokers.
    pub records_sent: u64,
    /// Records whose delivery failed.
    pub records_failed: u64,
    /// Bytes of acknowledged record batches (as sent, compressed if so).
    pub bytes_sent: u64,
    /// Record batches acknowledged.
    pub batches_sent: u64,
    /// Produce requests sent.
    pub requests_sent: u64,
    /// Batch retries (each resend of a batch counts once). Sending again a
    /// batch whose connection closed before writing it is not a retry.
    pub retries: u64,
    /// Error codes the brokers answered partitions with, and how often.
    pub errors_by_code: BTreeMap<ErrorCode, u64>,
    /// Batches in flight right now.
    pub in_flight_batches: u64,
    /// Connections per broker id (the group's width), as of the last change.
    pub connections_per_broker: BTreeMap<i32, usize>,
    /// Times a broker's connection count changed (scale up or down).
    pub scale_events: u64,
    /// Producer epoch bumps (KIP-360) and new producer ids.
    pub epoch_bumps: u64,
    /// Bytes of `buffer.memory` held by records not yet resolved.
    pub buffer_used: usize,
    /// The configured `buffer.memory`.
    pub buffer_memory: usize,
}

/// Live counters shared by the producer handle and the core task.
#[derive(Debug, Default)]
pub(crate) struct MetricsRecorder {
    pub(crate) records_sent: AtomicU64,
    pub(crate) records_failed: AtomicU64,
    pub(crate) bytes_sent: AtomicU64,
    pub(crate) batches_sent: AtomicU64,
    pub(crate) requests_sent: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) in_flight_batches: AtomicU64,
    pub(crate) scale_events: AtomicU64,
    pub(crate) epoch_bumps: AtomicU64,
    rare: Mutex<Rare>,
}

#[derive(Debug, Default)]
struct Rare {
    errors_by_code: BTreeMap<ErrorCode, u64>,
    connections_per_broker: BTreeMap<i32, usize>,
}

/// Adds `n` to a counter.
pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// Subtracts `n` from a gauge.
pub(crate) fn sub(counter: &AtomicU64, n: u64) {
    counter.fetch_sub(n, Ordering::Relaxed);
}

impl MetricsRecorder {
    fn rare(&self) -> std::sync::MutexGuard<'_, Rare> {
        // The map updates below cannot leave it inconsistent mid-way.
        self.rare.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A broker answered a partition with `code` (not NONE).
    pub(crate) fn error_code(&self, code: ErrorCode) {
        *self.rare().errors_by_code.entry(code).or_default() += 1;
    }

    /// `broker` now has `width` connections.
    pub(crate) fn connections(&self, broker: i32, width: usize) {
        self.rare().connections_per_broker.insert(broker, width);
    }

    /// The snapshot, with the buffer figures filled in by the caller.
    pub(crate) fn snapshot(&self, buffer_used: usize, buffer_memory: usize) -> ProducerMetrics {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let rare = self.rare();
        ProducerMetrics {
            records_sent: get(&self.records_sent),
            records_failed: get(&self.records_failed),
            bytes_sent: get(&self.bytes_sent),
            batches_sent: get(&self.batches_sent),
            requests_sent: get(&self.requests_sent),
            retries: get(&self.retries),
            errors_by_code: rare.errors_by_code.clone(),
            in_flight_batches: get(&self.in_flight_batches),
            connections_per_broker: rare.connections_per_broker.clone(),
            scale_events: get(&self.scale_events),
            epoch_bumps: get(&self.epoch_bumps),
            buffer_used,
            buffer_memory,
        }
    }
}
