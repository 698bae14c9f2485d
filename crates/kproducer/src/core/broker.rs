//! One broker as the core sees it: its connection group, the connection of
//! each slot once established, what each slot has in flight, and its scaler.

use std::sync::Arc;

use kproducer_net::{Connection, ConnectionGroup, ConnectionMetrics, Scaler};

/// One slot of a broker's group.
#[derive(Debug, Default)]
pub(crate) struct SlotState {
    /// The live connection, once connected.
    pub(crate) connection: Option<Connection>,
    /// A connect attempt is under way.
    pub(crate) connecting: bool,
    /// Produce requests submitted on this slot and not yet answered.
    pub(crate) in_flight: usize,
    /// The connection's counters at the scaler's last look.
    pub(crate) last_metrics: Option<ConnectionMetrics>,
    /// Since when ready batches routed here are held back by a full
    /// in-flight window (the connection's or their partition's).
    pub(crate) blocked_since: Option<tokio::time::Instant>,
    /// Blocked time accumulated since the scaler's last look.
    pub(crate) blocked: std::time::Duration,
    /// Bytes of batches in requests answered on this slot since the
    /// scaler's last look: the group's throughput, which tells the scaler
    /// whether a scale-up helped.
    pub(crate) answered_bytes: u64,
    /// Round trips of requests answered on this slot since the scaler's
    /// last look: the scaler's cooldown is counted in them.
    pub(crate) round_trips: RoundTrips,
    /// The scaler tick at or after this slot's last answer (no later
    /// answer came before it): bounds when the oldest unanswered request
    /// reached the head of the connection's queue.
    pub(crate) answered_by: Option<tokio::time::Instant>,
}

/// Answered requests' round trips (handed to the connection → answer):
/// their total and count.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RoundTrips {
    pub(crate) total: std::time::Duration,
    pub(crate) count: u64,
}

impl RoundTrips {
    /// Adds one round trip.
    pub(crate) fn note(&mut self, round_trip: std::time::Duration) {
        self.total = self.total.saturating_add(round_trip);
        self.count = self.count.saturating_add(1);
    }
}

impl SlotState {
    /// Records whether, at `now`, a ready batch was held back by a full
    /// window on this slot.
    pub(crate) fn note_blocked(&mut self, blocked: bool, now: tokio::time::Instant) {
        match (blocked, self.blocked_since) {
            (true, None) => self.blocked_since = Some(now),
            (false, Some(since)) => {
                self.blocked += now.saturating_duration_since(since);
                self.blocked_since = None;
            }
            _ => {}
        }
    }

    /// Blocked time since the last call (an ongoing block counts up to
    /// `now`).
    pub(crate) fn take_blocked(&mut self, now: tokio::time::Instant) -> std::time::Duration {
        if let Some(since) = self.blocked_since {
            self.blocked += now.saturating_duration_since(since);
            self.blocked_since = Some(now);
        }
        std::mem::take(&mut self.blocked)
    }
}

/// A broker's connections.
#[derive(Debug)]
pub(crate) struct BrokerLink {
    pub(crate) group: Arc<ConnectionGroup>,
    pub(crate) slots: Vec<SlotState>,
    /// `None` when connections are not adaptive.
    pub(crate) scaler: Option<Scaler>,
}

impl BrokerLink {
    pub(crate) fn new(group: Arc<ConnectionGroup>, width: usize, scaler: Option<Scaler>) -> Self {
        group.set_width(width);
        let mut slots = Vec::with_capacity(width);
        slots.resize_with(width, SlotState::default);
        BrokerLink {
            group,
            slots,
            scaler,
        }
    }

    /// The slot's state, growing the list if the slot is new.
    pub(crate) fn slot(&mut self, slot: usize) -> &mut SlotState {
        if self.slots.len() <= slot {
            self.slots.resize_with(slot + 1, SlotState::default);
        }
        &mut self.slots[slot]
    }

    /// The usable connection of `slot`, dropping a closed one.
    pub(crate) fn live(&mut self, slot: usize) -> Option<Connection> {
        let s = self.slot(slot);
        if s.connection.as_ref().is_some_and(Connection::is_closed) {
            s.connection = None;
        }
        s.connection.clone()
    }
}
