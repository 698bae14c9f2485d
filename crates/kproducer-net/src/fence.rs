//! One partition's route and fence: the per-partition half of the
//! [`Router`](crate::Router).
//!
//! A partition is *assigned* a slot (where its new batches go) and has its
//! in-flight batches *on* a slot. Normally the two are the same. When the
//! assignment changes while batches are in flight, the two differ: the
//! partition is **fenced**. New batches are refused until the last in-flight
//! batch on the old slot completes; then the partition switches. So a
//! partition never has batches in flight on two slots at once, and no later
//! batch can overtake an earlier one on another connection.
//!
//! ```text
//!            reassign, nothing in flight: switch at once
//!          ┌─────────────┐
//!          ▼             │
//!     ┌─────────┐  reassign, k > 0 in flight   ┌──────────────────────┐
//!     │ Routed  │ ───────────────────────────► │ Fenced(old, k)       │
//!     │ (slot)  │ ◄─────────────────────────── │ sends refused        │
//!     └─────────┘  last old batch completes,   └──────────────────────┘
//!                  or reassigned back to old      │ reassign elsewhere:
//!                                                 └─► Fenced(old, k), new target
//! ```

use crate::topic_partition::SlotId;

/// Where [`Router::on_send`](crate::Router::on_send) says a new batch goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Send the batch on this slot. The router now counts it in flight there
    /// until [`Router::on_complete`](crate::Router::on_complete).
    Send(SlotId),
    /// The partition is moving and still has batches in flight on its old
    /// slot: hold the batch (keep it first in the partition's queue) and ask
    /// again after one of those completes. Nothing was counted.
    Fenced {
        /// Where the partition's in-flight batches are.
        in_flight_on: SlotId,
        /// How many are in flight there.
        in_flight: u32,
        /// Where the partition's batches will go once they complete.
        next: SlotId,
    },
}

/// What a reassignment did to a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reassigned {
    /// The new slot is the one it already had.
    Unchanged,
    /// Nothing was in flight: the partition switched at once.
    Moved { from: SlotId },
    /// Batches are in flight on `from`: the partition is fenced.
    FenceRaised { from: SlotId, in_flight: u32 },
    /// Already fenced; the fence stays, with a new destination.
    FenceRetargeted { in_flight_on: SlotId },
    /// Fenced, and reassigned back to the slot its batches are on: the fence
    /// is gone and sends continue there.
    FenceCancelled,
}

/// What completing a batch did to a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Completed {
    /// Nothing else changed.
    Counted,
    /// That was the last batch on the old slot: the partition now sends on
    /// its assigned slot.
    FenceLifted { from: SlotId },
}

/// A partition's route: assigned slot, in-flight slot and count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartitionRoute {
    assigned: SlotId,
    in_flight_on: SlotId,
    in_flight: u32,
}

impl PartitionRoute {
    /// A partition assigned to `slot`, nothing in flight.
    pub(crate) fn new(slot: SlotId) -> Self {
        Self {
            assigned: slot,
            in_flight_on: slot,
            in_flight: 0,
        }
    }

    /// Where new batches go once unfenced.
    pub(crate) fn assigned(&self) -> SlotId {
        self.assigned
    }

    /// Where the in-flight batches are, and how many; `None` when none.
    pub(crate) fn in_flight(&self) -> Option<(SlotId, u32)> {
        (self.in_flight > 0).then_some((self.in_flight_on, self.in_flight))
    }

    /// Whether new batches are refused.
    pub(crate) fn is_fenced(&self) -> bool {
        self.in_flight > 0 && self.in_flight_on != self.assigned
    }

    /// A new batch wants to go: route it (and count it) or refuse it.
    pub(crate) fn send(&mut self) -> Route {
        if self.is_fenced() {
            return Route::Fenced {
                in_flight_on: self.in_flight_on,
                in_flight: self.in_flight,
                next: self.assigned,
            };
        }
        self.in_flight_on = self.assigned;
        self.in_flight = self.in_flight.saturating_add(1);
        Route::Send(self.assigned)
    }

    /// A batch sent on `at` completed (acknowledged, failed, or its
    /// connection died). `None` if no batch of this partition is in flight
    /// there: the caller's bookkeeping is wrong and nothing was changed.
    pub(crate) fn complete(&mut self, at: SlotId) -> Option<Completed> {
        if self.in_flight == 0 || self.in_flight_on != at {
            return None;
        }
        self.in_flight -= 1;
        if self.in_flight == 0 && self.in_flight_on != self.assigned {
            let from = self.in_flight_on;
            self.in_flight_on = self.assigned;
            return Some(Completed::FenceLifted { from });
        }
        Some(Completed::Counted)
    }

    /// The partition's batches should go to `to` from now on.
    pub(crate) fn reassign(&mut self, to: SlotId) -> Reassigned {
        if to == self.assigned {
            return Reassigned::Unchanged;
        }
        let was_fenced = self.is_fenced();
        let from = self.assigned;
        self.assigned = to;
        if self.in_flight == 0 {
            self.in_flight_on = to;
            return Reassigned::Moved { from };
        }
        if self.in_flight_on == to {
            return Reassigned::FenceCancelled;
        }
        if was_fenced {
            return Reassigned::FenceRetargeted {
                in_flight_on: self.in_flight_on,
            };
        }
        Reassigned::FenceRaised {
            from,
            in_flight: self.in_flight,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: SlotId = SlotId { broker: 1, slot: 0 };
    const B: SlotId = SlotId { broker: 1, slot: 1 };
    const C: SlotId = SlotId { broker: 2, slot: 0 };

    #[test]
    fn idle_partition_moves_at_once() {
        let mut r = PartitionRoute::new(A);
        assert_eq!(r.reassign(B), Reassigned::Moved { from: A });
        assert_eq!(r.send(), Route::Send(B));
    }

    #[test]
    fn busy_partition_is_fenced_until_its_old_batches_complete() {
        let mut r = PartitionRoute::new(A);
        assert_eq!(r.send(), Route::Send(A));
        assert_eq!(r.send(), Route::Send(A));
        assert_eq!(
            r.reassign(B),
            Reassigned::FenceRaised {
                from: A,
                in_flight: 2
            }
        );
        let fenced = Route::Fenced {
            in_flight_on: A,
            in_flight: 2,
            next: B,
        };
        assert_eq!(r.send(), fenced);
        assert_eq!(r.complete(B), None, "nothing is in flight on the new slot");
        assert_eq!(r.complete(A), Some(Completed::Counted));
        assert!(r.is_fenced());
        assert_eq!(r.complete(A), Some(Completed::FenceLifted { from: A }));
        assert_eq!(r.send(), Route::Send(B));
        assert_eq!(r.in_flight(), Some((B, 1)));
    }

    #[test]
    fn fence_retargets_and_cancels() {
        let mut r = PartitionRoute::new(A);
        r.send();
        assert_eq!(
            r.reassign(B),
            Reassigned::FenceRaised {
                from: A,
                in_flight: 1
            }
        );
        assert_eq!(
            r.reassign(C),
            Reassigned::FenceRetargeted { in_flight_on: A }
        );
        assert!(matches!(r.send(), Route::Fenced { next: C, .. }));
        assert_eq!(r.reassign(A), Reassigned::FenceCancelled);
        assert_eq!(r.send(), Route::Send(A));
        assert_eq!(r.in_flight(), Some((A, 2)));
    }
}
