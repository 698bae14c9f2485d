//! Why fences are per partition: a small discrete-time model of sustained
//! load (fault scenario 25) comparing "apply a width change only when nothing
//! at all is in flight" with the router's per-partition fences.
//!
//! Model: 8 partitions on one broker; every tick each partition sends one
//! batch if it has fewer than 5 in flight and the router lets it; a batch
//! completes `RTT` ticks after it was sent. Partitions start one tick apart,
//! so the total in flight never returns to zero once load is on.

use std::collections::VecDeque;
use std::num::NonZeroUsize;

use kproducer_net::{Route, Router, RouterEvent, SlotId, TopicPartition};

const PARTITIONS: i32 = 8;
const RTT: u64 = 3;
const MAX_IN_FLIGHT: usize = 5;
const BROKER: i32 = 1;

struct Sim {
    router: Router,
    tps: Vec<TopicPartition>,
    in_flight: VecDeque<(u64, TopicPartition, SlotId)>,
    refused: Vec<u64>,
    sent: u64,
}

impl Sim {
    fn new() -> Self {
        let mut router = Router::new(NonZeroUsize::MIN);
        let tps: Vec<_> = (0..PARTITIONS)
            .map(|p| TopicPartition::new("load", p))
            .collect();
        for tp in &tps {
            router.set_leader(tp.clone(), BROKER);
        }
        Self {
            router,
            tps,
            in_flight: VecDeque::new(),
            refused: vec![0; PARTITIONS as usize],
            sent: 0,
        }
    }

    /// One tick: due completions, then sends. Returns the router's events.
    fn tick(&mut self, t: u64) -> Vec<RouterEvent> {
        let mut events = Vec::new();
        while self
            .in_flight
            .front()
            .is_some_and(|(at, _, _)| at + RTT <= t)
        {
            let (_, tp, slot) = self.in_flight.pop_front().unwrap();
            events.extend(self.router.on_complete(&tp, slot).unwrap());
        }
        for (i, tp) in self.tps.iter().enumerate() {
            if t < i as u64 {
                continue; // staggered start
            }
            let own = self.in_flight.iter().filter(|(_, p, _)| p == tp).count();
            if own >= MAX_IN_FLIGHT {
                continue;
            }
            match self.router.on_send(tp).unwrap() {
                Route::Send(slot) => {
                    self.in_flight.push_back((t, tp.clone(), slot));
                    self.sent += 1;
                }
                Route::Fenced { .. } => self.refused[i] += 1,
            }
        }
        events
    }
}

#[test]
fn global_quiescence_never_comes_under_sustained_load() {
    let mut sim = Sim::new();
    let mut pending_width = None;
    let mut applied_at = None;
    for t in 0..10_000 {
        if t == 20 {
            pending_width = Some(2);
        }
        sim.tick(t);
        if t >= PARTITIONS as u64 {
            assert!(!sim.in_flight.is_empty(), "tick {t}: load is sustained");
        }
        // The Dekaf policy: change only when the total in flight is zero.
        if sim.in_flight.is_empty()
            && let Some(w) = pending_width.take()
        {
            sim.router.set_width(BROKER, NonZeroUsize::new(w).unwrap());
            applied_at = Some(t);
        }
    }
    assert_eq!(
        applied_at, None,
        "the change waited 10 000 ticks and never happened"
    );
    assert_eq!(sim.router.width(BROKER), Some(1));
}

#[test]
fn per_partition_fences_change_width_within_one_round_trip() {
    let mut sim = Sim::new();
    for t in 0..20 {
        sim.tick(t);
    }
    let events = sim.router.set_width(BROKER, NonZeroUsize::new(2).unwrap());
    let movers: Vec<usize> = events
        .iter()
        .filter_map(|e| match e {
            RouterEvent::FenceRaised { partition, .. } => Some(partition.partition as usize),
            _ => None,
        })
        .collect();
    assert_eq!(movers.len(), 4, "half the partitions move: {events:?}");
    let sent_before = sim.sent;
    for t in 20..=20 + RTT {
        sim.tick(t);
    }
    for (i, &refused) in sim.refused.iter().enumerate() {
        if movers.contains(&i) {
            assert!(
                (1..=RTT).contains(&refused),
                "partition {i} waited {refused} ticks"
            );
        } else {
            assert_eq!(refused, 0, "partition {i} does not move and never waits");
        }
    }
    assert!(
        sim.tps.iter().all(|tp| !sim.router.is_fenced(tp)),
        "all fences lifted within RTT"
    );
    assert_eq!(sim.router.slot_loads(BROKER), vec![4, 4]);
    assert!(
        sim.router.slot_in_flight(BROKER).iter().all(|&n| n > 0),
        "both connections carry load"
    );
    // Only movers paused: at most 4 partitions × RTT sends were deferred.
    let ideal = (RTT + 1) * PARTITIONS as u64;
    assert!(sim.sent - sent_before >= ideal - 4 * RTT);

    // Scale back down under the same load: the retiring slot drains and is
    // reported closable within one round trip.
    for t in 24..100 {
        sim.tick(t);
    }
    sim.router.set_width(BROKER, NonZeroUsize::MIN);
    let mut ready_at = None;
    for t in 100..=100 + RTT {
        let events = sim.tick(t);
        if events.contains(&RouterEvent::SlotReadyToClose(SlotId {
            broker: BROKER,
            slot: 1,
        })) {
            ready_at = Some(t);
        }
    }
    assert!(ready_at.is_some(), "retiring slot not drained within RTT");
    assert!(!sim.in_flight.is_empty(), "and the load never stopped");
    assert_eq!(sim.router.slot_loads(BROKER), vec![8]);
}
