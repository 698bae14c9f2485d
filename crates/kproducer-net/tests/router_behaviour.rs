//! The router on hand-made scenarios: fault scenarios 5, 23 and 24 of
//! `fault-scenarios.md`, and its errors.

use std::num::NonZeroUsize;

use kproducer_net::{Route, Router, RouterError, RouterEvent, SlotId, TopicPartition};

fn width(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap()
}

fn slot(broker: i32, slot: usize) -> SlotId {
    SlotId { broker, slot }
}

fn sent(router: &mut Router, tp: &TopicPartition) -> SlotId {
    match router.on_send(tp).unwrap() {
        Route::Send(s) => s,
        other => panic!("{tp} was refused: {other:?}"),
    }
}

fn fenced(router: &mut Router, tp: &TopicPartition) -> bool {
    matches!(router.on_send(tp).unwrap(), Route::Fenced { .. })
}

/// Scenario 23, scale-up: only the partitions that move wait, and only for
/// their own batches on the old connection.
#[test]
fn scale_up_fences_only_moving_partitions() {
    let mut r = Router::new(width(1));
    let tps: Vec<_> = (0..4).map(|p| TopicPartition::new("t", p)).collect();
    for tp in &tps {
        r.set_leader(tp.clone(), 1);
        sent(&mut r, tp);
        sent(&mut r, tp);
    }
    let events = r.set_width(1, width(2));
    let movers: Vec<_> = events
        .iter()
        .map(|e| match e {
            RouterEvent::FenceRaised {
                partition,
                from,
                to,
                in_flight,
            } => {
                assert_eq!((*from, *to, *in_flight), (slot(1, 0), slot(1, 1), 2));
                partition.clone()
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        movers.len(),
        2,
        "half of the partitions move to the new slot"
    );
    assert_eq!(r.slot_loads(1), vec![2, 2]);
    for tp in &tps {
        if movers.contains(tp) {
            assert!(fenced(&mut r, tp));
        } else {
            assert_eq!(sent(&mut r, tp), slot(1, 0), "{tp} stays and keeps flowing");
        }
    }
    // One batch of a mover completes: still fenced. The second: lifted.
    let m = &movers[0];
    assert!(r.on_complete(m, slot(1, 0)).unwrap().is_empty());
    assert!(fenced(&mut r, m));
    let events = r.on_complete(m, slot(1, 0)).unwrap();
    assert_eq!(
        events,
        vec![RouterEvent::FenceLifted {
            partition: m.clone(),
            to: slot(1, 1)
        }]
    );
    assert_eq!(sent(&mut r, m), slot(1, 1));
    // The other mover is unaffected by that and still waits for its own.
    assert!(fenced(&mut r, &movers[1]));
    assert_eq!(r.counters().fences_raised, 2);
    assert_eq!(r.counters().fences_lifted, 1);
}

/// Scenario 23, scale-down: the retiring connection gets nothing new and is
/// reported ready to close only after its last batch completes.
#[test]
fn scale_down_drains_the_retiring_slot_before_closing_it() {
    let mut r = Router::new(width(2));
    let a = TopicPartition::new("t", 0);
    let b = TopicPartition::new("t", 1);
    r.set_leader(a.clone(), 7);
    r.set_leader(b.clone(), 7);
    assert_eq!(sent(&mut r, &a), slot(7, 0));
    assert_eq!(sent(&mut r, &b), slot(7, 1));
    let events = r.set_width(7, width(1));
    assert_eq!(
        events,
        vec![RouterEvent::FenceRaised {
            partition: b.clone(),
            from: slot(7, 1),
            to: slot(7, 0),
            in_flight: 1
        }]
    );
    assert_eq!(r.retiring_slots(7), vec![1]);
    assert!(fenced(&mut r, &b));
    assert_eq!(sent(&mut r, &a), slot(7, 0));
    let events = r.on_complete(&b, slot(7, 1)).unwrap();
    assert_eq!(
        events,
        vec![
            RouterEvent::FenceLifted {
                partition: b.clone(),
                to: slot(7, 0)
            },
            RouterEvent::SlotReadyToClose(slot(7, 1)),
        ]
    );
    assert!(r.retiring_slots(7).is_empty());
    assert_eq!(sent(&mut r, &b), slot(7, 0));
    assert_eq!(r.slot_loads(7), vec![2]);
}

#[test]
fn idle_retiring_slot_is_ready_at_once_and_regrowing_cancels_retirement() {
    let mut r = Router::new(width(3));
    let tps: Vec<_> = (0..3).map(|p| TopicPartition::new("t", p)).collect();
    for tp in &tps {
        r.set_leader(tp.clone(), 1);
    }
    let s2 = sent(&mut r, &tps[2]);
    assert_eq!(s2, slot(1, 2));
    let events = r.set_width(1, width(1));
    assert!(
        events.contains(&RouterEvent::SlotReadyToClose(slot(1, 1))),
        "{events:?}"
    );
    assert!(!events.contains(&RouterEvent::SlotReadyToClose(slot(1, 2))));
    assert_eq!(r.retiring_slots(1), vec![2]);
    // Growing back before slot 2 drained: it is active again, not closed.
    let events = r.set_width(1, width(3));
    assert!(r.retiring_slots(1).is_empty());
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, RouterEvent::SlotReadyToClose(_)))
    );
    // tps[2] went back to slot 2, where its batch still is: fence gone.
    assert!(!r.is_fenced(&tps[2]));
    assert_eq!(r.slot_loads(1), vec![1, 1, 1]);
}

/// Scenario 5: nothing for a partition goes to its new leader until its
/// batches on the old leader's connection are resolved.
#[test]
fn leader_move_waits_for_the_old_leaders_batches() {
    let mut r = Router::new(width(1));
    let tp = TopicPartition::new("orders", 3);
    r.set_leader(tp.clone(), 1);
    for _ in 0..3 {
        sent(&mut r, &tp);
    }
    let events = r.set_leader(tp.clone(), 2);
    assert!(
        matches!(&events[..], [RouterEvent::FenceRaised { in_flight: 3, .. }]),
        "{events:?}"
    );
    for _ in 0..2 {
        r.on_complete(&tp, slot(1, 0)).unwrap();
        assert!(fenced(&mut r, &tp));
    }
    r.on_complete(&tp, slot(1, 0)).unwrap();
    assert_eq!(sent(&mut r, &tp), slot(2, 0));
    assert_eq!(r.slot_loads(1), vec![0]);
    assert_eq!(r.slot_loads(2), vec![1]);
}

/// Scenario 24: the same partition number in several topics and on several
/// brokers shares neither a slot by accident nor a fence.
#[test]
fn same_partition_number_in_other_topics_and_brokers_never_collides() {
    let mut r = Router::new(width(2));
    let topics = ["a", "b", "c", "d"];
    for t in topics {
        r.set_leader(TopicPartition::new(t, 0), 1);
    }
    // `partition % width` would put all four on slot 0.
    assert_eq!(r.slot_loads(1), vec![2, 2]);

    let a0 = TopicPartition::new("a", 0);
    let x0 = TopicPartition::new("x", 0);
    r.set_leader(x0.clone(), 2);
    let from = sent(&mut r, &a0);
    sent(&mut r, &x0);
    // a-0 moves to broker 2 and is fenced; x-0 (same number, on broker 2) and
    // b-0 (same number, same broker) are untouched.
    r.set_leader(a0.clone(), 2);
    assert!(r.is_fenced(&a0));
    assert!(!r.is_fenced(&x0));
    assert_eq!(sent(&mut r, &x0).broker, 2);
    assert_eq!(sent(&mut r, &TopicPartition::new("b", 0)).broker, 1);
    r.on_complete(&a0, from).unwrap();
    assert!(!r.is_fenced(&a0));
    assert_eq!(r.in_flight(&x0).map(|(_, n)| n), Some(2));
}

#[test]
fn bookkeeping_mistakes_are_typed_errors_that_change_nothing() {
    let mut r = Router::new(width(1));
    let tp = TopicPartition::new("t", 0);
    let err = r.on_send(&tp).unwrap_err();
    assert_eq!(
        err,
        RouterError::UnknownPartition {
            partition: tp.clone()
        }
    );
    assert!(err.to_string().contains("set_leader"), "{err}");
    r.set_leader(tp.clone(), 1);
    let err = r.on_complete(&tp, slot(1, 0)).unwrap_err();
    assert!(matches!(err, RouterError::NotInFlight { .. }));
    assert!(err.to_string().contains("t-0"), "{err}");
    let s = sent(&mut r, &tp);
    assert!(r.on_complete(&tp, slot(9, 0)).is_err());
    assert_eq!(r.in_flight(&tp), Some((s, 1)));
    assert!(r.on_complete(&tp, s).unwrap().is_empty());
    assert_eq!(r.in_flight(&tp), None);
}

#[test]
fn forgetting_a_partition_waits_for_its_batches_and_keeps_the_spread_even() {
    let mut r = Router::new(width(2));
    let tps: Vec<_> = (0..3).map(|p| TopicPartition::new("t", p)).collect();
    for tp in &tps {
        r.set_leader(tp.clone(), 1);
    }
    assert_eq!(r.slot_loads(1), vec![2, 1]);
    let s = sent(&mut r, &tps[1]);
    let err = r.forget(&tps[1]).unwrap_err();
    assert!(
        matches!(err, RouterError::StillInFlight { in_flight: 1, .. }),
        "{err}"
    );
    r.on_complete(&tps[1], s).unwrap();
    r.forget(&tps[1]).unwrap();
    assert_eq!(r.slot_loads(1), vec![1, 1]);
    assert!(matches!(
        r.on_send(&tps[1]),
        Err(RouterError::UnknownPartition { .. })
    ));
}
