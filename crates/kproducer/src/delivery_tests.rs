//! Tests of `delivery.rs`: resolution exactly once, wake-ups, slot reuse,
//! and futures and senders on different threads.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::task::{Wake, Waker};

use super::*;

#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl CountingWaker {
    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

fn metadata(offset: i64) -> RecordMetadata {
    RecordMetadata {
        topic: Topic::new("t"),
        partition: 1,
        offset,
        timestamp: 7,
    }
}

fn poll(f: &mut DeliveryFuture, waker: &Arc<CountingWaker>) -> Poll<DeliveryResult> {
    let waker = Waker::from(waker.clone());
    Pin::new(f).poll(&mut Context::from_waker(&waker))
}

#[test]
fn a_result_sent_before_the_first_poll_is_ready_at_once() {
    let (tx, mut rx) = channel(&Topic::new("t"));
    tx.send(Ok(metadata(5))).unwrap();
    let w = Arc::new(CountingWaker::default());
    match poll(&mut rx, &w) {
        Poll::Ready(Ok(m)) => assert_eq!(m, metadata(5), "topic, partition, offset, timestamp"),
        other => panic!("expected the metadata, got {other:?}"),
    }
    assert_eq!(w.count(), 0, "nobody waited");
    assert_eq!(
        rx.slot.state.load(Ordering::SeqCst) & WAITING,
        0,
        "no waker registered"
    );
}

#[test]
fn a_waiting_task_is_woken_once_when_the_result_arrives() {
    let (tx, mut rx) = channel(&Topic::new("t"));
    let w = Arc::new(CountingWaker::default());
    assert!(poll(&mut rx, &w).is_pending());
    assert!(poll(&mut rx, &w).is_pending(), "a second poll waits too");
    assert!(rx.try_result().is_none());
    tx.send(Ok(metadata(9))).unwrap();
    assert_eq!(w.count(), 1);
    assert!(matches!(rx.try_result(), Some(Ok(m)) if m.offset == 9));
    assert!(matches!(poll(&mut rx, &w), Poll::Ready(Ok(m)) if m.offset == 9));
}

#[test]
fn the_result_is_handed_out_once() {
    let (tx, mut rx) = channel(&Topic::new("t"));
    tx.succeed(1, 3, 7);
    let w = Arc::new(CountingWaker::default());
    assert!(matches!(poll(&mut rx, &w), Poll::Ready(Ok(m)) if m == metadata(3)));
    assert!(
        poll(&mut rx, &w).is_pending(),
        "polled after Ready: no second result"
    );
    assert!(rx.try_result().is_none());
}

#[test]
fn the_latest_waker_is_the_one_woken() {
    let (tx, mut rx) = channel(&Topic::new("t"));
    let first = Arc::new(CountingWaker::default());
    let second = Arc::new(CountingWaker::default());
    assert!(poll(&mut rx, &first).is_pending());
    assert!(poll(&mut rx, &second).is_pending());
    tx.succeed(1, 1, 7);
    assert_eq!((first.count(), second.count()), (0, 1));
}

#[test]
fn a_sender_dropped_without_an_answer_resolves_to_dropped() {
    let (tx, mut rx) = channel(&Topic::new("t"));
    let w = Arc::new(CountingWaker::default());
    assert!(poll(&mut rx, &w).is_pending());
    drop(tx);
    assert_eq!(w.count(), 1);
    assert!(matches!(
        poll(&mut rx, &w),
        Poll::Ready(Err(Error::Dropped))
    ));
}

#[test]
fn a_failure_reaches_a_waiting_and_a_late_future() {
    let (tx1, mut waiting) = channel(&Topic::new("t"));
    let (tx2, mut late) = channel(&Topic::new("t"));
    let w = Arc::new(CountingWaker::default());
    assert!(poll(&mut waiting, &w).is_pending());
    tx1.send(Err(Error::Closed)).unwrap();
    tx2.send(Err(Error::Closed)).unwrap();
    assert_eq!(w.count(), 1);
    assert!(matches!(late.try_result(), Some(Err(Error::Closed))));
    assert!(matches!(
        poll(&mut waiting, &w),
        Poll::Ready(Err(Error::Closed))
    ));
    assert!(matches!(
        poll(&mut late, &w),
        Poll::Ready(Err(Error::Closed))
    ));
}

#[test]
fn every_slot_of_several_blocks_holds_its_own_result() {
    let n = SLOTS_PER_BLOCK * 3 + 5;
    let pairs: Vec<_> = (0..n).map(|_| channel(&Topic::new("t"))).collect();
    let mut futures = Vec::new();
    for (i, (tx, rx)) in pairs.into_iter().enumerate() {
        // Complete in a different order than handed out.
        if i % 2 == 0 {
            tx.send(Ok(metadata(i as i64))).unwrap();
        } else {
            drop(tx);
        }
        futures.push(rx);
    }
    for (i, f) in futures.iter_mut().enumerate() {
        match f.try_result() {
            Some(Ok(m)) => assert_eq!((i % 2, m.offset), (0, i as i64)),
            Some(Err(Error::Dropped)) => assert_eq!(i % 2, 1),
            other => panic!("record {i}: {other:?}"),
        }
    }
}

#[test]
fn slots_of_released_blocks_start_pending_again() {
    // Resolve (and fail, and leave a waker in) whole blocks, release them,
    // then take new slots: whatever memory they reuse, every new future is
    // pending until its own sender writes it.
    for _ in 0..3 {
        let w = Arc::new(CountingWaker::default());
        let pairs: Vec<_> = (0..SLOTS_PER_BLOCK * 2)
            .map(|_| channel(&Topic::new("t")))
            .collect();
        for (i, (tx, mut rx)) in pairs.into_iter().enumerate() {
            assert!(poll(&mut rx, &w).is_pending());
            match i % 3 {
                0 => tx.send(Ok(metadata(i as i64))).unwrap(),
                1 => tx.send(Err(Error::Closed)).unwrap(),
                _ => drop(tx),
            }
            assert!(rx.try_result().is_some());
        }
    }
    let w = Arc::new(CountingWaker::default());
    let mut fresh: Vec<_> = (0..SLOTS_PER_BLOCK * 4)
        .map(|_| channel(&Topic::new("t")))
        .collect();
    for (_, rx) in &mut fresh {
        assert!(rx.try_result().is_none());
        assert!(poll(rx, &w).is_pending());
    }
    assert_eq!(w.count(), 0, "no stale waker fired");
    for (i, (tx, mut rx)) in fresh.into_iter().enumerate() {
        tx.send(Ok(metadata(i as i64))).unwrap();
        assert!(matches!(rx.try_result(), Some(Ok(m)) if m.offset == i as i64));
    }
}

#[test]
fn a_held_future_keeps_its_slot_from_reuse() {
    let pairs: Vec<_> = (0..SLOTS_PER_BLOCK * 2)
        .map(|_| channel(&Topic::new("t")))
        .collect();
    let mut held = Vec::new();
    for (i, (tx, rx)) in pairs.into_iter().enumerate() {
        tx.succeed(1, i as i64, 7);
        if i % 37 == 0 {
            held.push((i, rx));
        }
    }
    // Many new blocks: none may hand out a slot a held future still reads.
    let fresh: Vec<_> = (0..SLOTS_PER_BLOCK * 16)
        .map(|_| channel(&Topic::new("t")))
        .collect();
    for (_, rx) in &fresh {
        for (_, kept) in &held {
            assert!(!std::ptr::eq(rx.slot, kept.slot), "a held slot was reused");
        }
    }
    drop(fresh);
    for (i, mut rx) in held {
        assert!(matches!(rx.try_result(), Some(Ok(m)) if m.offset == i as i64));
    }
}

#[test]
fn succeed_resolves_with_the_futures_topic() {
    let (tx, mut rx) = channel(&Topic::new("t"));
    let w = Arc::new(CountingWaker::default());
    assert!(poll(&mut rx, &w).is_pending());
    tx.succeed(1, 9, 7);
    assert_eq!(w.count(), 1);
    assert!(matches!(poll(&mut rx, &w), Poll::Ready(Ok(m)) if m == metadata(9)));
}

#[test]
fn a_future_dropped_first_does_not_stop_the_sender() {
    let (tx, rx) = channel(&Topic::new("t"));
    drop(rx);
    assert!(tx.send(Ok(metadata(1))).is_ok());
    let (tx, mut rx) = channel(&Topic::new("t"));
    let w = Arc::new(CountingWaker::default());
    assert!(poll(&mut rx, &w).is_pending());
    drop(rx);
    tx.succeed(1, 2, 7);
}

#[test]
fn futures_and_senders_cross_threads_and_tasks() {
    fn send_sync_unpin<T: Send + Sync + Unpin>() {}
    send_sync_unpin::<DeliveryFuture>();
    send_sync_unpin::<DeliverySender>();
}

#[test]
fn a_slot_fits_a_cache_line() {
    assert!(
        std::mem::size_of::<Slot>() <= 64,
        "{}",
        std::mem::size_of::<Slot>()
    );
}

#[test]
fn results_cross_threads() {
    let (tx, rx) = channel(&Topic::new("t"));
    let handle = std::thread::spawn(move || tx.send(Ok(metadata(3))));
    handle.join().unwrap().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let m = rt.block_on(rx).unwrap();
    assert_eq!(m.offset, 3);
}

#[test]
fn a_thread_that_ends_mid_block_leaves_usable_slots() {
    let pairs = std::thread::spawn(|| {
        (0..3)
            .map(|_| channel(&Topic::new("t")))
            .collect::<Vec<_>>()
    })
    .join()
    .unwrap();
    for (i, (tx, mut rx)) in pairs.into_iter().enumerate() {
        assert!(rx.try_result().is_none());
        tx.succeed(1, i as i64, 7);
        assert!(matches!(rx.try_result(), Some(Ok(m)) if m.offset == i as i64));
    }
}

/// xorshift64*: deterministic, seeded, good enough to shuffle.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Senders made on several threads, completed on another in a shuffled
/// order while their futures are awaited, polled or dropped on the
/// runtime: each awaited future gets its own record's outcome, exactly
/// once, and slots are reused across rounds without mixing outcomes.
#[test]
fn completion_on_another_thread_while_futures_wait_or_drop() {
    for seed in [1_u64, 0x5eed, 0xdead_beef] {
        let result = std::panic::catch_unwind(|| cross_thread_round(seed));
        if let Err(panic) = result {
            eprintln!("failed with seed {seed:#x}");
            std::panic::resume_unwind(panic);
        }
    }
}

fn cross_thread_round(seed: u64) {
    const THREADS: usize = 3;
    const PER_THREAD: usize = 500;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    for round in 0..3_u64 {
        // Channels made on several threads (as several senders would).
        let made: Vec<Vec<(DeliverySender, DeliveryFuture)>> = (0..THREADS)
            .map(|_| {
                std::thread::spawn(|| (0..PER_THREAD).map(|_| channel(&Topic::new("t"))).collect())
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect();
        let mut rng = Rng(seed ^ (round + 1));
        let mut senders = Vec::new();
        let mut waits = Vec::new();
        for (index, (tx, rx)) in made.into_iter().flatten().enumerate() {
            senders.push((index, tx));
            match rng.next() % 4 {
                0 => drop(rx),
                _ => waits.push(rt.spawn(async move { (index, rx.await) })),
            }
        }
        // Shuffle, then complete on a thread of its own.
        for i in (1..senders.len()).rev() {
            senders.swap(i, (rng.next() % (i as u64 + 1)) as usize);
        }
        let core = std::thread::spawn(move || {
            for (index, tx) in senders {
                match index % 5 {
                    4 => drop(tx),
                    _ => tx.succeed(1, index as i64, 7),
                }
            }
        });
        core.join().unwrap();
        for wait in waits {
            let (index, result) = rt.block_on(wait).unwrap();
            match result {
                Ok(m) => assert_eq!(m.offset, index as i64, "round {round}"),
                Err(Error::Dropped) => assert_eq!(index % 5, 4, "round {round}"),
                Err(e) => panic!("record {index}: {e}"),
            }
        }
    }
}

/// A future polled once while its sender completes it on another thread:
/// if that poll said `Pending`, the waker it registered is woken exactly
/// once (no lost wake-up in the register / publish race), and the outcome
/// is there afterwards either way.
#[test]
fn a_poll_racing_the_sender_is_never_left_unwoken() {
    const N: usize = 20_000;
    for round in 0..3 {
        let (senders, mut futures): (Vec<_>, Vec<_>) =
            (0..N).map(|_| channel(&Topic::new("t"))).unzip();
        let wakers: Vec<_> = (0..N).map(|_| Arc::new(CountingWaker::default())).collect();
        let core = std::thread::spawn(move || {
            for (i, tx) in senders.into_iter().enumerate() {
                tx.succeed(1, i as i64, 7);
            }
        });
        let mut pending = Vec::new();
        for (i, f) in futures.iter_mut().enumerate() {
            if poll(f, &wakers[i]).is_pending() {
                pending.push(i);
            }
        }
        core.join().unwrap();
        for &i in &pending {
            assert_eq!(
                wakers[i].count(),
                1,
                "round {round}, record {i}: woken once"
            );
            assert!(
                futures[i].is_resolved(),
                "round {round}, record {i}: resolved"
            );
            assert!(
                matches!(poll(&mut futures[i], &wakers[i]), Poll::Ready(Ok(m)) if m.offset == i as i64)
            );
        }
    }
}

/// Resolving in place (how a batch's entries are settled without moving
/// them) spends the sender: a second resolution and its drop change
/// nothing, so the future sees the first outcome, not `Dropped`.
#[test]
fn a_sender_resolved_in_place_is_spent() {
    let (mut tx, mut rx) = channel(&Topic::new("t"));
    let w = Arc::new(CountingWaker::default());
    assert!(poll(&mut rx, &w).is_pending());
    tx.resolve_success(1, 4, 7);
    tx.resolve_failure(Error::Closed);
    drop(tx);
    assert_eq!(w.count(), 1, "woken once");
    assert!(matches!(poll(&mut rx, &w), Poll::Ready(Ok(m)) if m == metadata(4)));

    let (mut tx, mut rx) = channel(&Topic::new("t"));
    tx.resolve_failure(Error::Closed);
    tx.resolve_success(1, 4, 7);
    drop(tx);
    assert!(matches!(rx.try_result(), Some(Err(Error::Closed))));
}
