//! Which connection each partition's batches go to, across all brokers, and
//! the per-partition fences that make changing it safe.
//!
//! The [`Router`] is a pure state machine: the producer tells it what
//! happened (a batch is about to be sent, a batch completed, a group's width
//! changed, a partition's leader moved) and it answers with routes and
//! [`RouterEvent`]s. It never blocks, never does I/O, and never waits for the
//! whole producer to go quiet: only a partition that moves waits, and only
//! for its own in-flight batches.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::num::NonZeroUsize;

use crate::balance::{self, InFlight, Move};
use crate::fence::{Completed, PartitionRoute, Reassigned, Route};
use crate::topic_partition::{SlotId, TopicPartition};

/// Something the router did that the connection group or tracing cares about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouterEvent {
    /// A partition with nothing in flight switched slots at once.
    Moved {
        /// The partition.
        partition: TopicPartition,
        /// Its old slot.
        from: SlotId,
        /// Its new slot.
        to: SlotId,
    },
    /// A partition's slot changed while it had batches in flight: its new
    /// batches are refused until those complete.
    FenceRaised {
        /// The partition.
        partition: TopicPartition,
        /// Where its in-flight batches are.
        from: SlotId,
        /// Where it will go.
        to: SlotId,
        /// How many batches it waits for.
        in_flight: u32,
    },
    /// A fenced partition's batches may flow again, on `to`: its last batch on
    /// the old slot completed, or it was reassigned back to that slot.
    FenceLifted {
        /// The partition.
        partition: TopicPartition,
        /// Where its batches go now.
        to: SlotId,
    },
    /// A retiring slot (at or beyond its broker's width) has nothing in flight
    /// and no partition assigned: its connection can be closed.
    SlotReadyToClose(SlotId),
}

/// Running totals of routing changes, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RouterCounters {
    /// Assignment changes (immediate or fenced).
    pub moves: u64,
    /// Fences raised.
    pub fences_raised: u64,
    /// Fences lifted (last old batch completed, or reassigned back).
    pub fences_lifted: u64,
    /// Retiring slots reported ready to close.
    pub slots_retired: u64,
}

/// A caller's bookkeeping did not match the router's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouterError {
    /// The partition still has batches in flight.
    #[error(
        "{partition} still has {in_flight} batch(es) in flight on {slot}: complete them \
         (on_complete) before forgetting the partition"
    )]
    StillInFlight {
        /// The partition.
        partition: TopicPartition,
        /// Where its batches are.
        slot: SlotId,
        /// How many.
        in_flight: u32,
    },
    /// The partition has no leader yet.
    #[error(
        "no leader is known for {partition}: call Router::set_leader once metadata names one, \
         then route its batches"
    )]
    UnknownPartition {
        /// The partition.
        partition: TopicPartition,
    },
    /// A completion for a batch the router does not count.
    #[error(
        "{partition} has no batch in flight on {slot}: every Route::Send must be matched by \
         exactly one on_complete with the slot it returned"
    )]
    NotInFlight {
        /// The partition.
        partition: TopicPartition,
        /// The slot given.
        slot: SlotId,
    },
}

/// One broker's slots: what each is assigned and carries.
#[derive(Debug, Clone)]
struct BrokerSlots {
    width: usize,
    /// Partitions assigned to each slot; slots at or beyond `width` are
    /// retiring and assigned nothing.
    assigned: Vec<BTreeSet<TopicPartition>>,
    /// Batches in flight on each slot (any partition).
    in_flight: Vec<u64>,
    /// Retiring slots not yet reported ready to close.
    retiring: BTreeSet<usize>,
}

impl BrokerSlots {
    fn new(width: usize) -> Self {
        Self {
            width,
            assigned: vec![BTreeSet::new(); width],
            in_flight: vec![0; width],
            retiring: BTreeSet::new(),
        }
    }
}

/// Routes every partition's batches to one connection slot of its leader's
/// group, and fences partitions whose slot changes.
///
/// Guarantees (property-tested in `tests/router_props.rs`):
/// - a partition never has batches in flight on two slots, nor on two
///   brokers, at once;
/// - a fence lifts as soon as the partition's batches on the old slot have
///   completed; only moving partitions are ever refused;
/// - on every broker, active slots' partition counts differ by at most one,
///   and retiring slots hold none;
/// - brokers and topics never affect each other's routes (everything is keyed
///   by topic + partition and by broker id).
///
/// What to call when is in `docs/scaling.md`; in short:
///
/// ```
/// use std::num::NonZeroUsize;
/// use kproducer_net::{Route, Router, RouterEvent, SlotId, TopicPartition};
///
/// let mut router = Router::new(NonZeroUsize::MIN);
/// let tp = TopicPartition::new("orders", 0);
/// router.set_leader(tp.clone(), 1);
///
/// // A batch goes out on broker 1, slot 0.
/// let Route::Send(slot) = router.on_send(&tp)? else { panic!("a new partition is never fenced") };
/// assert_eq!(slot, SlotId { broker: 1, slot: 0 });
///
/// // The group grows while it is in flight. If the partition moves, it is
/// // fenced until its batch completes.
/// let events = router.set_width(1, NonZeroUsize::new(2).unwrap());
/// assert!(events.is_empty(), "one partition stays on slot 0: nothing moves");
///
/// // The leader moves to broker 2 with the batch still in flight: fenced.
/// let events = router.set_leader(tp.clone(), 2);
/// assert!(matches!(events[0], RouterEvent::FenceRaised { .. }));
/// assert!(matches!(router.on_send(&tp)?, Route::Fenced { .. }));
///
/// // The old batch completes: the fence lifts, the next batch goes to broker 2.
/// let events = router.on_complete(&tp, slot)?;
/// assert!(matches!(events[0], RouterEvent::FenceLifted { .. }));
/// assert_eq!(router.on_send(&tp)?, Route::Send(SlotId { broker: 2, slot: 0 }));
/// # Ok::<(), kproducer_net::RouterError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Router {
    default_width: NonZeroUsize,
    brokers: BTreeMap<i32, BrokerSlots>,
    partitions: HashMap<TopicPartition, PartitionRoute>,
    counters: RouterCounters,
}

impl Router {
    /// An empty router. A broker seen for the first time (in
    /// [`set_leader`](Self::set_leader)) starts with `default_width` slots
    /// until [`set_width`](Self::set_width) says otherwise: pass the
    /// scaler's [`initial_width`](crate::ScalerConfig::initial_width).
    pub fn new(default_width: NonZeroUsize) -> Self {
        Self {
            default_width,
            brokers: BTreeMap::new(),
            partitions: HashMap::new(),
            counters: RouterCounters::default(),
        }
    }

    /// Running totals of moves, fences and retirements.
    pub fn counters(&self) -> RouterCounters {
        self.counters
    }

    /// The width of `broker`'s group, if the router knows the broker.
    pub fn width(&self, broker: i32) -> Option<usize> {
        self.brokers.get(&broker).map(|b| b.width)
    }

    /// Where `partition`'s new batches go (once any fence lifts); `None` if it
    /// has no leader.
    pub fn assigned_slot(&self, partition: &TopicPartition) -> Option<SlotId> {
        self.partitions.get(partition).map(PartitionRoute::assigned)
    }

    /// Where `partition`'s in-flight batches are and how many; `None` when it
    /// has none (or is unknown).
    pub fn in_flight(&self, partition: &TopicPartition) -> Option<(SlotId, u32)> {
        self.partitions.get(partition)?.in_flight()
    }

    /// Whether `partition` is fenced (its new batches are refused).
    pub fn is_fenced(&self, partition: &TopicPartition) -> bool {
        self.partitions
            .get(partition)
            .is_some_and(PartitionRoute::is_fenced)
    }

    /// How many partitions are assigned to each slot of `broker`, retiring
    /// slots included (they hold 0). Empty if the broker is unknown.
    pub fn slot_loads(&self, broker: i32) -> Vec<usize> {
        self.brokers
            .get(&broker)
            .map(|b| b.assigned.iter().map(BTreeSet::len).collect())
            .unwrap_or_default()
    }

    /// How many batches are in flight on each slot of `broker`, retiring
    /// slots included.
    pub fn slot_in_flight(&self, broker: i32) -> Vec<u64> {
        self.brokers
            .get(&broker)
            .map(|b| b.in_flight.clone())
            .unwrap_or_default()
    }

    /// Retiring slots of `broker` still draining (not yet reported by
    /// [`RouterEvent::SlotReadyToClose`]).
    pub fn retiring_slots(&self, broker: i32) -> Vec<usize> {
        self.brokers
            .get(&broker)
            .map(|b| b.retiring.iter().copied().collect())
            .unwrap_or_default()
    }

    /// A batch of `partition` is ready to go: where to send it, or
    /// [`Route::Fenced`] if the partition is moving and must wait.
    ///
    /// Each [`Route::Send`] must later be matched by exactly one
    /// [`on_complete`](Self::on_complete) with the slot it named.
    ///
    /// # Errors
    /// [`RouterError::UnknownPartition`] if no leader was set for it.
    pub fn on_send(&mut self, partition: &TopicPartition) -> Result<Route, RouterError> {
        let route = self
            .partitions
            .get_mut(partition)
            .ok_or_else(|| RouterError::UnknownPartition {
                partition: partition.clone(),
            })?
            .send();
        if let Route::Send(slot) = route
            && let Some(count) = self.slot_in_flight_mut(slot)
        {
            *count = count.saturating_add(1);
        }
        Ok(route)
    }

    /// A batch of `partition` sent on `slot` is no longer in flight: it was
    /// acknowledged, failed with an error response, or its connection died.
    /// (A batch that will be retried is sent again through
    /// [`on_send`](Self::on_send).)
    ///
    /// Returns the fence lifted and the slot freed by this completion, if any.
    ///
    /// # Errors
    /// [`RouterError::UnknownPartition`] or [`RouterError::NotInFlight`] if the
    /// router counts no such batch; nothing is changed then.
    pub fn on_complete(
        &mut self,
        partition: &TopicPartition,
        slot: SlotId,
    ) -> Result<Vec<RouterEvent>, RouterError> {
        let route =
            self.partitions
                .get_mut(partition)
                .ok_or_else(|| RouterError::UnknownPartition {
                    partition: partition.clone(),
                })?;
        let completed = route
            .complete(slot)
            .ok_or_else(|| RouterError::NotInFlight {
                partition: partition.clone(),
                slot,
            })?;
        let to = route.assigned();
        if let Some(count) = self.slot_in_flight_mut(slot) {
            *count = count.saturating_sub(1);
        }
        let mut events = Vec::new();
        if let Completed::FenceLifted { from } = completed {
            self.counters.fences_lifted += 1;
            tracing::debug!(%partition, %from, %to, "fence lifted: old batches completed");
            events.push(RouterEvent::FenceLifted {
                partition: partition.clone(),
                to,
            });
        }
        self.release_retired(slot.broker, &mut events);
        Ok(events)
    }

    /// `partition`'s leader is `broker` (first time, or after a leadership
    /// change). A new partition goes to the broker's least-loaded slot. A
    /// partition moving between brokers is fenced if it has batches in flight
    /// on the old one, and the old broker is rebalanced.
    pub fn set_leader(&mut self, partition: TopicPartition, broker: i32) -> Vec<RouterEvent> {
        let mut events = Vec::new();
        let old = self
            .partitions
            .get(&partition)
            .map(PartitionRoute::assigned);
        if old.is_some_and(|s| s.broker == broker) {
            return events;
        }
        let default_width = self.default_width.get();
        let target = self
            .brokers
            .entry(broker)
            .or_insert_with(|| BrokerSlots::new(default_width));
        let slot = SlotId {
            broker,
            slot: balance::least_loaded(&target.assigned, target.width),
        };
        match old {
            None => {
                // In bounds: `least_loaded` returns an index below `width`
                // (0 at worst), and `assigned` always has at least `width`
                // (≥ 1) slots: `set_width` grows it, `release_retired` never
                // truncates below the width.
                target.assigned[slot.slot].insert(partition.clone());
                self.partitions.insert(partition, PartitionRoute::new(slot));
            }
            Some(from) => {
                self.reassign(&partition, slot, &mut events);
                self.rebalance(from.broker, &mut events);
            }
        }
        events
    }

    /// `broker`'s group now has `width` slots. Partitions are respread
    /// evenly; every partition whose slot changes while it has batches in
    /// flight is fenced. Slots at or beyond `width` retire: they get no new
    /// batches, and [`RouterEvent::SlotReadyToClose`] reports each once its
    /// last batch completes (possibly in the returned events). An unknown
    /// broker is added with this width.
    pub fn set_width(&mut self, broker: i32, width: NonZeroUsize) -> Vec<RouterEvent> {
        let width = width.get();
        let mut events = Vec::new();
        let slots = self
            .brokers
            .entry(broker)
            .or_insert_with(|| BrokerSlots::new(width));
        let old_width = slots.width;
        if slots.assigned.len() < width {
            slots.assigned.resize(width, BTreeSet::new());
            slots.in_flight.resize(width, 0);
        }
        slots.width = width;
        slots.retiring.retain(|&s| s >= width);
        slots.retiring.extend(width..old_width);
        if width != old_width {
            tracing::debug!(broker, from = old_width, to = width, "router width changes");
        }
        self.rebalance(broker, &mut events);
        self.release_retired(broker, &mut events);
        events
    }

    /// Stops routing `partition` (its topic was deleted, or the producer no
    /// longer writes to it) and respreads its broker's remaining partitions.
    ///
    /// # Errors
    /// [`RouterError::UnknownPartition`], or [`RouterError::StillInFlight`]
    /// while it has batches in flight (nothing is changed then).
    pub fn forget(&mut self, partition: &TopicPartition) -> Result<Vec<RouterEvent>, RouterError> {
        let route =
            self.partitions
                .get(partition)
                .ok_or_else(|| RouterError::UnknownPartition {
                    partition: partition.clone(),
                })?;
        if let Some((slot, in_flight)) = route.in_flight() {
            return Err(RouterError::StillInFlight {
                partition: partition.clone(),
                slot,
                in_flight,
            });
        }
        let at = route.assigned();
        self.partitions.remove(partition);
        if let Some(set) = self
            .brokers
            .get_mut(&at.broker)
            .and_then(|b| b.assigned.get_mut(at.slot))
        {
            set.remove(partition);
        }
        let mut events = Vec::new();
        self.rebalance(at.broker, &mut events);
        Ok(events)
    }

    fn slot_in_flight_mut(&mut self, slot: SlotId) -> Option<&mut u64> {
        self.brokers
            .get_mut(&slot.broker)?
            .in_flight
            .get_mut(slot.slot)
    }

    /// Respreads `broker`'s partitions over its active slots.
    fn rebalance(&mut self, broker: i32, events: &mut Vec<RouterEvent>) {
        let Some(slots) = self.brokers.get(&broker) else {
            return;
        };
        let partitions = &self.partitions;
        let moves = balance::rebalance(&slots.assigned, slots.width, |tp| {
            match partitions.get(tp).and_then(PartitionRoute::in_flight) {
                None => InFlight::Idle,
                Some((at, _)) if at.broker == broker => InFlight::OnSlot(at.slot),
                Some(_) => InFlight::Elsewhere,
            }
        });
        for Move { partition, to_slot } in moves {
            let to = SlotId {
                broker,
                slot: to_slot,
            };
            self.reassign(&partition, to, events);
        }
    }

    /// Moves `partition`'s assignment to `to`, keeping the brokers' slot sets
    /// in step, counting and reporting what the fence did.
    fn reassign(&mut self, partition: &TopicPartition, to: SlotId, events: &mut Vec<RouterEvent>) {
        let Some(route) = self.partitions.get_mut(partition) else {
            return;
        };
        let from = route.assigned();
        let outcome = route.reassign(to);
        if outcome == Reassigned::Unchanged {
            return;
        }
        if let Some(set) = self
            .brokers
            .get_mut(&from.broker)
            .and_then(|b| b.assigned.get_mut(from.slot))
        {
            set.remove(partition);
        }
        if let Some(set) = self
            .brokers
            .get_mut(&to.broker)
            .and_then(|b| b.assigned.get_mut(to.slot))
        {
            set.insert(partition.clone());
        }
        self.counters.moves += 1;
        let partition = partition.clone();
        match outcome {
            Reassigned::Unchanged => {}
            Reassigned::Moved { from } => {
                tracing::debug!(%partition, %from, %to, "partition moved (nothing in flight)");
                events.push(RouterEvent::Moved {
                    partition,
                    from,
                    to,
                });
            }
            Reassigned::FenceRaised { from, in_flight } => {
                self.counters.fences_raised += 1;
                tracing::debug!(%partition, %from, %to, in_flight, "fence raised");
                events.push(RouterEvent::FenceRaised {
                    partition,
                    from,
                    to,
                    in_flight,
                });
            }
            Reassigned::FenceRetargeted { in_flight_on } => {
                tracing::debug!(%partition, %in_flight_on, %to, "fence retargeted");
            }
            Reassigned::FenceCancelled => {
                self.counters.fences_lifted += 1;
                tracing::debug!(%partition, %to, "fence lifted: moved back to its in-flight slot");
                events.push(RouterEvent::FenceLifted { partition, to });
            }
        }
    }

    /// Reports `broker`'s retiring slots that have drained, and forgets
    /// trailing slots that are no longer needed.
    fn release_retired(&mut self, broker: i32, events: &mut Vec<RouterEvent>) {
        let Some(slots) = self.brokers.get_mut(&broker) else {
            return;
        };
        let drained: Vec<usize> = slots
            .retiring
            .iter()
            .copied()
            .filter(|&s| {
                slots.in_flight.get(s).is_none_or(|&n| n == 0)
                    && slots.assigned.get(s).is_none_or(BTreeSet::is_empty)
            })
            .collect();
        for slot in drained {
            slots.retiring.remove(&slot);
            self.counters.slots_retired += 1;
            let id = SlotId { broker, slot };
            tracing::debug!(slot = %id, "retiring slot drained: ready to close");
            events.push(RouterEvent::SlotReadyToClose(id));
        }
        let keep = slots
            .retiring
            .last()
            .map_or(slots.width, |&last| (last + 1).max(slots.width));
        slots.assigned.truncate(keep);
        slots.in_flight.truncate(keep);
    }
}
