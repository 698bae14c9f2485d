//! The router's invariants over random interleavings of sends, completions,
//! failures with retries, width changes and leader moves, on three topics that
//! share partition numbers, led by three brokers.
//!
//! proptest prints (and stores under `proptest-regressions/`) the minimal
//! failing operation list; the router is deterministic, so it replays exactly.

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroUsize;

use kproducer_net::{Route, Router, RouterEvent, SlotId, TopicPartition};
use proptest::prelude::*;

const BROKERS: [i32; 3] = [1, 2, 3];
const TOPICS: [&str; 3] = ["a", "b", "c"];
const PARTITIONS: i32 = 3;

fn all_partitions() -> Vec<TopicPartition> {
    TOPICS
        .iter()
        .flat_map(|t| (0..PARTITIONS).map(move |p| TopicPartition::new(*t, p)))
        .collect()
}

#[derive(Debug, Clone)]
enum Op {
    Send(usize),
    Complete(usize),
    /// The batch fails; the producer retries it at once (if not fenced).
    FailAndRetry(usize),
    Width(usize, usize),
    Leader(usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    let n = TOPICS.len() * PARTITIONS as usize;
    prop_oneof![
        6 => (0..n).prop_map(Op::Send),
        4 => any::<usize>().prop_map(Op::Complete),
        1 => any::<usize>().prop_map(Op::FailAndRetry),
        1 => (0..BROKERS.len(), 1usize..=5).prop_map(|(b, w)| Op::Width(b, w)),
        1 => (0..n, 0..BROKERS.len()).prop_map(|(p, b)| Op::Leader(p, b)),
    ]
}

/// What the test believes is in flight, independently of the router.
#[derive(Debug, Default)]
struct Model {
    in_flight: Vec<(TopicPartition, SlotId)>,
    leader: BTreeMap<TopicPartition, i32>,
}

impl Model {
    fn slots_of(&self, tp: &TopicPartition) -> BTreeSet<SlotId> {
        self.in_flight
            .iter()
            .filter(|(t, _)| t == tp)
            .map(|(_, s)| *s)
            .collect()
    }
}

fn send(router: &mut Router, model: &mut Model, tp: &TopicPartition) -> Result<(), TestCaseError> {
    let own = model.slots_of(tp);
    let assigned = router.assigned_slot(tp).unwrap();
    match router.on_send(tp).unwrap() {
        Route::Send(slot) => {
            prop_assert_eq!(slot, assigned);
            prop_assert_eq!(slot.broker, model.leader[tp], "sent to a non-leader");
            prop_assert!(
                slot.slot < router.width(slot.broker).unwrap(),
                "sent on a retiring slot"
            );
            prop_assert!(
                own.iter().all(|s| *s == slot),
                "{} would be in flight on {:?} and {}",
                tp,
                own,
                slot
            );
            model.in_flight.push((tp.clone(), slot));
        }
        Route::Fenced {
            in_flight_on,
            in_flight,
            next,
        } => {
            // Refused only because of its own batches elsewhere.
            prop_assert_eq!(next, assigned);
            prop_assert!(in_flight_on != next);
            prop_assert_eq!(
                own,
                BTreeSet::from([in_flight_on]),
                "fenced by someone else's batches"
            );
            prop_assert_eq!(
                model.in_flight.iter().filter(|(t, _)| t == tp).count() as u32,
                in_flight
            );
        }
    }
    Ok(())
}

fn check_events(
    router: &Router,
    model: &Model,
    events: &[RouterEvent],
) -> Result<(), TestCaseError> {
    for e in events {
        match e {
            RouterEvent::SlotReadyToClose(slot) => {
                prop_assert!(slot.slot >= router.width(slot.broker).unwrap());
                prop_assert!(
                    !model.in_flight.iter().any(|(_, s)| s == slot),
                    "closing {} with batches in flight",
                    slot
                );
            }
            RouterEvent::FenceLifted { partition, to } => {
                prop_assert!(model.slots_of(partition).iter().all(|s| s == to));
            }
            RouterEvent::FenceRaised {
                partition,
                from,
                to,
                in_flight,
            } => {
                prop_assert_ne!(from, to);
                prop_assert_eq!(model.slots_of(partition), BTreeSet::from([*from]));
                prop_assert!(*in_flight > 0);
            }
            RouterEvent::Moved { partition, .. } => {
                prop_assert!(model.slots_of(partition).is_empty());
            }
        }
    }
    Ok(())
}

fn check_invariants(router: &Router, model: &Model) -> Result<(), TestCaseError> {
    for tp in all_partitions() {
        let slots = model.slots_of(&tp);
        prop_assert!(slots.len() <= 1, "{} in flight on {:?}", tp, slots);
        let count = model.in_flight.iter().filter(|(t, _)| *t == tp).count() as u32;
        let expected = slots.first().map(|s| (*s, count));
        prop_assert_eq!(router.in_flight(&tp), expected, "{}", tp);
        let fenced = slots
            .first()
            .is_some_and(|s| Some(*s) != router.assigned_slot(&tp));
        prop_assert_eq!(router.is_fenced(&tp), fenced, "{}", tp);
        prop_assert_eq!(router.assigned_slot(&tp).unwrap().broker, model.leader[&tp]);
    }
    for b in BROKERS {
        let width = router.width(b).unwrap();
        let loads = router.slot_loads(b);
        let active = &loads[..width];
        let (min, max) = (active.iter().min().unwrap(), active.iter().max().unwrap());
        prop_assert!(max - min <= 1, "broker {} unbalanced: {:?}", b, loads);
        prop_assert!(
            loads[width..].iter().all(|&n| n == 0),
            "retiring slots assigned: {:?}",
            loads
        );
        let in_flight = router.slot_in_flight(b);
        for (slot, &n) in in_flight.iter().enumerate() {
            let id = SlotId { broker: b, slot };
            let m = model.in_flight.iter().filter(|(_, s)| *s == id).count() as u64;
            prop_assert_eq!(n, m, "{}", id);
        }
        prop_assert!(
            model
                .in_flight
                .iter()
                .all(|(_, s)| s.broker != b || s.slot < in_flight.len())
        );
    }
    Ok(())
}

/// Assigned slots of partitions led by brokers outside `touched`.
fn routes_outside(router: &Router, touched: &[i32]) -> BTreeMap<TopicPartition, SlotId> {
    all_partitions()
        .into_iter()
        .filter_map(|tp| {
            let s = router.assigned_slot(&tp)?;
            (!touched.contains(&s.broker)).then_some((tp, s))
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn fences_keep_every_partition_on_one_connection(
        leaders in prop::collection::vec(0..BROKERS.len(), TOPICS.len() * PARTITIONS as usize),
        ops in prop::collection::vec(op(), 1..200),
    ) {
        let tps = all_partitions();
        let mut router = Router::new(NonZeroUsize::MIN);
        let mut model = Model::default();
        for b in BROKERS {
            router.set_width(b, NonZeroUsize::MIN);
        }
        for (tp, &b) in tps.iter().zip(&leaders) {
            prop_assert!(router.set_leader(tp.clone(), BROKERS[b]).is_empty());
            model.leader.insert(tp.clone(), BROKERS[b]);
        }
        check_invariants(&router, &model)?;
        for op in &ops {
            match op {
                Op::Send(i) => send(&mut router, &mut model, &tps[*i])?,
                Op::Complete(k) | Op::FailAndRetry(k) => {
                    if model.in_flight.is_empty() {
                        continue;
                    }
                    let (tp, slot) = model.in_flight.remove(k % model.in_flight.len());
                    let events = router.on_complete(&tp, slot).unwrap();
                    check_events(&router, &model, &events)?;
                    if matches!(op, Op::FailAndRetry(_)) {
                        send(&mut router, &mut model, &tp)?;
                    }
                }
                Op::Width(b, w) => {
                    let broker = BROKERS[*b];
                    let others = routes_outside(&router, &[broker]);
                    let events = router.set_width(broker, NonZeroUsize::new(*w).unwrap());
                    check_events(&router, &model, &events)?;
                    prop_assert_eq!(routes_outside(&router, &[broker]), others, "another broker was disturbed");
                }
                Op::Leader(i, b) => {
                    let tp = &tps[*i];
                    let (from, to) = (model.leader[tp], BROKERS[*b]);
                    let others = routes_outside(&router, &[from, to]);
                    model.leader.insert(tp.clone(), to);
                    let events = router.set_leader(tp.clone(), to);
                    check_events(&router, &model, &events)?;
                    prop_assert_eq!(routes_outside(&router, &[from, to]), others, "a third broker was disturbed");
                }
            }
            check_invariants(&router, &model)?;
        }
        // Everything completes: every fence lifts, every retiring slot closes.
        while let Some((tp, slot)) = model.in_flight.pop() {
            let events = router.on_complete(&tp, slot).unwrap();
            check_events(&router, &model, &events)?;
            check_invariants(&router, &model)?;
        }
        for tp in &tps {
            prop_assert!(!router.is_fenced(tp), "{} still fenced", tp);
        }
        let counters = router.counters();
        prop_assert_eq!(counters.fences_raised, counters.fences_lifted);
        for b in BROKERS {
            prop_assert!(router.retiring_slots(b).is_empty());
            prop_assert_eq!(router.slot_loads(b).len(), router.width(b).unwrap());
        }
        // And the next batch of every partition goes straight out.
        for tp in &tps {
            prop_assert!(matches!(router.on_send(tp).unwrap(), Route::Send(_)));
        }
    }
}
