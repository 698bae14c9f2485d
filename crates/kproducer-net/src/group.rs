//! `ConnectionGroup`: the connections to one broker, as slots `0..width`.
//!
//! Each slot connects lazily on first use, reconnects after a failure with
//! exponential backoff and jitter, and lets its connection close when idle
//! (the next use reconnects). [`ConnectionGroup::set_width`] adds slots or
//! retires the highest ones; a retired slot's connection refuses new
//! requests and closes only after everything in flight on it has completed;
//! if the width grows back over that index before then, the new slot
//! connects only once the old connection has closed (one connection per slot
//! index at a time, the router's model).
//!
//! Locking: the slot list sits behind a `std` mutex held only to look a slot
//! up or resize the list (never across an `await`); connecting waits on a
//! per-slot async mutex, so a slow connect blocks only that slot's callers.
//! Each broker has its own group: brokers never wait on each other.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::backoff::{Backoff, DEFAULT_RECONNECT_BACKOFF, DEFAULT_RECONNECT_BACKOFF_MAX};
use crate::connection::{
    CloseReason, Connection, ConnectionConfig, ConnectionError, ConnectionMetrics,
};
use crate::transport::{BrokerAddress, Transport};

/// How a [`ConnectionGroup`] behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfig {
    /// Settings for every connection (in-flight limit, timeouts, idle close
    /// `connections.max.idle.ms`, …).
    pub connection: ConnectionConfig,
    /// `reconnect.backoff.ms`: the first delay after a failure.
    pub reconnect_backoff: Duration,
    /// `reconnect.backoff.max.ms`: the longest delay.
    pub reconnect_backoff_max: Duration,
    /// Seed for the backoff jitter; `None` draws one at random. Tests fix it.
    pub jitter_seed: Option<u64>,
}

impl Default for GroupConfig {
    fn default() -> Self {
        Self {
            connection: ConnectionConfig::default(),
            reconnect_backoff: DEFAULT_RECONNECT_BACKOFF,
            reconnect_backoff_max: DEFAULT_RECONNECT_BACKOFF_MAX,
            jitter_seed: None,
        }
    }
}

/// Why a group could not hand out a connection.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum GroupError {
    /// The slot is not in `0..width`.
    #[error("slot {slot} does not exist for broker {broker} (width {width})")]
    NoSuchSlot {
        /// The broker.
        broker: BrokerAddress,
        /// The slot asked for.
        slot: usize,
        /// The current width.
        width: usize,
    },
    /// The slot was retired (scale-down) while connecting; route to a
    /// current slot instead.
    #[error("slot {slot} of broker {broker} was retired")]
    SlotRetired {
        /// The broker.
        broker: BrokerAddress,
        /// The retired slot.
        slot: usize,
    },
    /// Connecting (or the handshake) failed; the slot backs off before its
    /// next attempt.
    #[error("slot {slot}: {source}")]
    Connect {
        /// The slot.
        slot: usize,
        /// What failed.
        #[source]
        source: ConnectionError,
    },
}

impl GroupError {
    /// The SASL failure, when connecting failed because authentication
    /// did.
    pub fn sasl_error(&self) -> Option<&crate::SaslError> {
        match self {
            GroupError::Connect { source, .. } => source.sasl_error(),
            _ => None,
        }
    }
}

/// Connect-attempt state of one slot, guarded by the slot's async mutex.
#[derive(Debug)]
struct Dialer {
    backoff: Backoff,
    last_failure: Option<Instant>,
}

/// What one slot's connection did since the previous
/// [`ConnectionGroup::take_observations`]: the inputs of
/// `Scaler::observe(slot, waited, busy)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotObservation {
    /// The slot.
    pub slot: usize,
    /// Time callers spent waiting for an in-flight permit.
    pub waited: Duration,
    /// Time the connection had a request in flight.
    pub busy: Duration,
}

#[derive(Debug)]
struct Slot {
    index: usize,
    current: Mutex<Option<Connection>>,
    /// A retired connection of the same index still draining when this
    /// slot was created: this slot connects only once it has closed, so a
    /// slot index never has two connections at once (the router treats a
    /// slot index as one ordered pipe).
    predecessor: Option<Connection>,
    /// The counters at the previous observation, and whose they were.
    observed: Mutex<Option<(u64, ConnectionMetrics)>>,
    dialer: tokio::sync::Mutex<Dialer>,
    retired: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The data behind these mutexes stays consistent even if a holder
    // panicked (each critical section is a single assignment or clone).
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Slot {
    fn live(&self) -> Option<Connection> {
        lock(&self.current)
            .as_ref()
            .filter(|c| !c.is_closed())
            .cloned()
    }

    fn retire(&self) -> Option<Connection> {
        self.retired.store(true, Ordering::Release);
        let conn = lock(&self.current).take();
        if let Some(c) = &conn {
            c.close_when_idle();
        }
        conn
    }
}

/// The connections to one broker: slots `0..width`.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use kproducer_net::{BrokerAddress, ConnectionGroup, GroupConfig, TcpTransport};
///
/// let group = ConnectionGroup::new(
///     BrokerAddress::new("127.0.0.1", 9092),
///     Arc::new(TcpTransport::default()),
///     GroupConfig::default(),
/// );
/// group.set_width(3);
/// assert_eq!(group.width(), 3);
/// assert!(group.metrics()[0].is_none()); // nothing connects until first use
/// # });
/// ```
#[derive(Debug)]
pub struct ConnectionGroup {
    broker: BrokerAddress,
    transport: Arc<dyn Transport>,
    config: GroupConfig,
    seed: u64,
    slots: Mutex<Vec<Arc<Slot>>>,
    /// Retired slots' connections still draining, by slot index.
    retiring: Mutex<Vec<(usize, Connection)>>,
}

impl ConnectionGroup {
    /// A group of width 1 for `broker`; nothing connects until first use.
    pub fn new(broker: BrokerAddress, transport: Arc<dyn Transport>, config: GroupConfig) -> Self {
        let seed = config
            .jitter_seed
            .unwrap_or_else(|| RandomState::new().hash_one(&broker));
        let group = Self {
            broker,
            transport,
            config,
            seed,
            slots: Mutex::new(Vec::new()),
            retiring: Mutex::new(Vec::new()),
        };
        group.set_width(1);
        group
    }

    /// The broker this group connects to.
    pub fn broker(&self) -> &BrokerAddress {
        &self.broker
    }

    /// The number of active slots.
    pub fn width(&self) -> usize {
        lock(&self.slots).len()
    }

    /// Sets the number of slots (at least 1). Growing adds slots that
    /// connect on first use; shrinking retires the highest slots: their
    /// connections refuse new requests and close once everything in flight
    /// on them has completed.
    pub fn set_width(&self, width: usize) {
        let width = width.max(1);
        let mut retiring = lock(&self.retiring);
        retiring.retain(|(_, c)| !c.is_closed());
        let retired: Vec<(usize, Connection)> = {
            let mut slots = lock(&self.slots);
            while slots.len() < width {
                let index = slots.len();
                let predecessor = retiring
                    .iter()
                    .find(|(i, _)| *i == index)
                    .map(|(_, c)| c.clone());
                let seed = self.seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                slots.push(Arc::new(Slot {
                    index,
                    current: Mutex::new(None),
                    predecessor,
                    observed: Mutex::new(None),
                    dialer: tokio::sync::Mutex::new(Dialer {
                        backoff: Backoff::new(
                            self.config.reconnect_backoff,
                            self.config.reconnect_backoff_max,
                            seed,
                        ),
                        last_failure: None,
                    }),
                    retired: AtomicBool::new(false),
                }));
            }
            let keep = width.min(slots.len());
            let gone: Vec<Arc<Slot>> = slots.drain(keep..).collect();
            gone.iter()
                .filter_map(|s| {
                    tracing::debug!(broker = %self.broker, slot = s.index,
                        "slot retired; its connection closes once drained");
                    s.retire().map(|c| (s.index, c))
                })
                .collect()
        };
        retiring.extend(retired);
    }

    /// Connections of retired slots that still have requests to finish.
    pub fn retiring(&self) -> usize {
        let mut retiring = lock(&self.retiring);
        retiring.retain(|(_, c)| !c.is_closed());
        retiring.len()
    }

    /// Per active slot, its connection's counters (`None` when not
    /// connected).
    pub fn metrics(&self) -> Vec<Option<ConnectionMetrics>> {
        let slots: Vec<Arc<Slot>> = lock(&self.slots).clone();
        slots
            .iter()
            .map(|s| lock(&s.current).as_ref().map(Connection::metrics))
            .collect()
    }

    /// Per active slot with a connection, what it did since the previous
    /// call: feed each to the scaler's `observe`. After a reconnect the new
    /// connection is counted from zero.
    pub fn take_observations(&self) -> Vec<SlotObservation> {
        let slots: Vec<Arc<Slot>> = lock(&self.slots).clone();
        slots
            .iter()
            .filter_map(|s| {
                let conn = lock(&s.current).clone()?;
                let now = conn.metrics();
                let mut observed = lock(&s.observed);
                let delta = match *observed {
                    Some((id, before)) if id == conn.id() => now.delta_since(&before),
                    _ => now,
                };
                *observed = Some((conn.id(), now));
                Some(SlotObservation {
                    slot: s.index,
                    waited: delta.permit_wait,
                    busy: delta.busy,
                })
            })
            .collect()
    }

    /// The live connection of `slot`, without connecting or waiting: the
    /// hot path's check before it falls back to [`connection`](Self::connection).
    pub fn try_connection(&self, slot: usize) -> Option<Connection> {
        let s = lock(&self.slots).get(slot).cloned()?;
        s.live()
    }

    /// The connection of `slot`, connecting first if it has none (or lost
    /// it). After a failure or an unexpected disconnect, waits out the
    /// slot's reconnect backoff before trying again.
    ///
    /// This can take as long as the backoff plus the connect and handshake:
    /// a caller that must never wait spawns it (concurrent callers for one
    /// slot share one attempt) and uses [`try_connection`](Self::try_connection)
    /// meanwhile.
    pub async fn connection(&self, slot: usize) -> Result<Connection, GroupError> {
        let s = {
            let slots = lock(&self.slots);
            slots.get(slot).cloned().ok_or(GroupError::NoSuchSlot {
                broker: self.broker.clone(),
                slot,
                width: slots.len(),
            })?
        };
        if let Some(c) = s.live() {
            return Ok(c);
        }
        let mut dialer = s.dialer.lock().await;
        if let Some(c) = s.live() {
            return Ok(c);
        }
        if s.retired.load(Ordering::Acquire) {
            return Err(self.retired(slot));
        }
        let dead = lock(&s.current).take();
        if let Some(dead) = dead {
            let reason = dead.close_reason();
            match reason {
                // Closes we asked for are not failures.
                Some(CloseReason::Idle(_) | CloseReason::ClosedByClient) => {
                    tracing::debug!(broker = %self.broker, slot, reason = ?reason, "connection closed");
                }
                _ => {
                    tracing::info!(broker = %self.broker, slot,
                        reason = %reason.map(|r| r.to_string()).unwrap_or_default(),
                        "connection lost");
                    dialer.backoff.record_failure();
                    dialer.last_failure = Some(dead.closed_at().unwrap_or_else(Instant::now));
                }
            }
        }
        if let Some(previous) = &s.predecessor {
            // Same index, retired and re-added before it drained: its
            // requests must finish before this slot carries any.
            previous.closed().await;
        }
        if let (Some(at), true) = (dialer.last_failure, dialer.backoff.failures() > 0) {
            tokio::time::sleep_until(at + dialer.backoff.delay()).await;
        }
        tracing::debug!(broker = %self.broker, slot, "connecting");
        match Connection::open(
            self.transport.as_ref(),
            &self.broker,
            self.config.connection.clone(),
            Some(s.index),
        )
        .await
        {
            Ok(c) => {
                dialer.backoff.reset();
                dialer.last_failure = None;
                if s.retired.load(Ordering::Acquire) {
                    c.close_when_idle();
                    return Err(self.retired(slot));
                }
                tracing::info!(broker = %self.broker, slot, "connected");
                *lock(&s.current) = Some(c.clone());
                Ok(c)
            }
            Err(source) => {
                dialer.backoff.record_failure();
                dialer.last_failure = Some(Instant::now());
                tracing::warn!(broker = %self.broker, slot, error = %source,
                    retry_in = ?dialer.backoff.delay(), "connect failed");
                Err(GroupError::Connect { slot, source })
            }
        }
    }

    fn retired(&self, slot: usize) -> GroupError {
        GroupError::SlotRetired {
            broker: self.broker.clone(),
            slot,
        }
    }
}
