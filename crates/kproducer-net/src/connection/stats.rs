//! Counters one connection keeps, read lock-free by the scaler and metrics.
//!
//! Writers: callers add permit-wait time; the connection's task adds
//! everything else. Busy time is only ever updated by the task (its reader
//! half), so its start/stop transitions never race.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// Sentinel for "not busy" in `busy_since_ns`.
const NOT_BUSY: u64 = u64::MAX;

/// A point-in-time copy of a connection's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConnectionMetrics {
    /// Requests written to the socket (including fire-and-forget ones).
    pub requests_sent: u64,
    /// Responses matched to their requests.
    pub responses_received: u64,
    /// Bytes written, including the 4-byte length prefixes.
    pub bytes_sent: u64,
    /// Bytes of response frames read, including the length prefixes.
    pub bytes_received: u64,
    /// Requests holding an in-flight slot now (queued for the socket or
    /// awaiting their response).
    pub in_flight: usize,
    /// Total time callers spent waiting for an in-flight slot (in
    /// `reserve` or `send*`, plus, for callers that never wait, the time
    /// from a refused `try_reserve` until a slot was freed): the scaler's
    /// signal that this connection's window is the bottleneck.
    pub permit_wait: Duration,
    /// Total time with at least one request written and awaiting its
    /// response: how busy the connection kept the broker.
    pub busy: Duration,
}

impl ConnectionMetrics {
    /// What happened between `earlier` and `self` (two snapshots of the same
    /// connection): what the scaler is fed each evaluation. `in_flight` is
    /// the current value, not a difference.
    ///
    /// ```
    /// use std::time::Duration;
    /// use kproducer_net::ConnectionMetrics;
    /// let a = ConnectionMetrics { requests_sent: 3, busy: Duration::from_millis(10), ..Default::default() };
    /// let b = ConnectionMetrics { requests_sent: 5, busy: Duration::from_millis(25), ..Default::default() };
    /// let d = b.delta_since(&a);
    /// assert_eq!((d.requests_sent, d.busy), (2, Duration::from_millis(15)));
    /// ```
    pub fn delta_since(&self, earlier: &ConnectionMetrics) -> ConnectionMetrics {
        ConnectionMetrics {
            requests_sent: self.requests_sent.saturating_sub(earlier.requests_sent),
            responses_received: self
                .responses_received
                .saturating_sub(earlier.responses_received),
            bytes_sent: self.bytes_sent.saturating_sub(earlier.bytes_sent),
            bytes_received: self.bytes_received.saturating_sub(earlier.bytes_received),
            in_flight: self.in_flight,
            permit_wait: self.permit_wait.saturating_sub(earlier.permit_wait),
            busy: self.busy.saturating_sub(earlier.busy),
        }
    }
}

/// The live counters behind [`ConnectionMetrics`].
#[derive(Debug)]
pub(crate) struct ConnectionStats {
    epoch: Instant,
    requests_sent: AtomicU64,
    responses_received: AtomicU64,
    bytes_sent: AtomicU64,
    bytes_received: AtomicU64,
    in_flight: AtomicUsize,
    permit_wait_ns: AtomicU64,
    busy_total_ns: AtomicU64,
    busy_since_ns: AtomicU64,
    /// When a `try_reserve` was refused because the window was full
    /// (`NOT_BUSY` when no refusal is pending).
    blocked_since_ns: AtomicU64,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl ConnectionStats {
    pub(crate) fn new() -> Self {
        Self {
            epoch: Instant::now(),
            requests_sent: AtomicU64::new(0),
            responses_received: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            bytes_received: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            permit_wait_ns: AtomicU64::new(0),
            busy_total_ns: AtomicU64::new(0),
            busy_since_ns: AtomicU64::new(NOT_BUSY),
            blocked_since_ns: AtomicU64::new(NOT_BUSY),
        }
    }

    fn since_epoch(&self, now: Instant) -> u64 {
        nanos(now.saturating_duration_since(self.epoch))
    }

    pub(crate) fn add_permit_wait(&self, waited: Duration) {
        self.permit_wait_ns
            .fetch_add(nanos(waited), Ordering::Relaxed);
    }

    pub(crate) fn slot_taken(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn slot_released(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        let since = self.blocked_since_ns.swap(NOT_BUSY, Ordering::Relaxed);
        if since != NOT_BUSY {
            let waited = self.since_epoch(Instant::now()).saturating_sub(since);
            self.permit_wait_ns.fetch_add(waited, Ordering::Relaxed);
        }
    }

    /// A `try_reserve` found the window full: the wait runs from now until
    /// a slot is released (the first refusal starts the clock).
    pub(crate) fn reservation_refused(&self) {
        let now = self.since_epoch(Instant::now());
        let _ = self.blocked_since_ns.compare_exchange(
            NOT_BUSY,
            now,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    pub(crate) fn sent(&self, bytes: usize) {
        self.requests_sent.fetch_add(1, Ordering::Relaxed);
        self.bytes_sent.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn received(&self, bytes: usize) {
        self.bytes_received
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn response_matched(&self) {
        self.responses_received.fetch_add(1, Ordering::Relaxed);
    }

    /// The task's outstanding queue went from empty to non-empty.
    pub(crate) fn busy_start(&self, now: Instant) {
        self.busy_since_ns
            .store(self.since_epoch(now), Ordering::Relaxed);
    }

    /// The task's outstanding queue became empty.
    pub(crate) fn busy_stop(&self, now: Instant) {
        let since = self.busy_since_ns.swap(NOT_BUSY, Ordering::Relaxed);
        if since != NOT_BUSY {
            let d = self.since_epoch(now).saturating_sub(since);
            self.busy_total_ns.fetch_add(d, Ordering::Relaxed);
        }
    }

    pub(crate) fn snapshot(&self) -> ConnectionMetrics {
        let mut busy = self.busy_total_ns.load(Ordering::Relaxed);
        let since = self.busy_since_ns.load(Ordering::Relaxed);
        if since != NOT_BUSY {
            busy = busy.saturating_add(self.since_epoch(Instant::now()).saturating_sub(since));
        }
        ConnectionMetrics {
            requests_sent: self.requests_sent.load(Ordering::Relaxed),
            responses_received: self.responses_received.load(Ordering::Relaxed),
            bytes_sent: self.bytes_sent.load(Ordering::Relaxed),
            bytes_received: self.bytes_received.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            permit_wait: Duration::from_nanos(self.permit_wait_ns.load(Ordering::Relaxed)),
            busy: Duration::from_nanos(busy),
        }
    }
}
