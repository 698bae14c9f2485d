//! The intake's ordering, closing and wakeup guarantees. The stress tests
//! use OS threads as senders against a receiver on a multi-threaded
//! runtime, seeded; a lost wakeup makes them hang, which the bound turns
//! into a failure naming the seed.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::*;

/// How long a stress test may take before it counts as hung (a lost
/// wakeup); it normally takes well under a second.
const HANG: Duration = Duration::from_secs(120);

/// Called by the receiver between finding the queue empty and announcing
/// that it parks: the window a lost wakeup would need. Yielding the thread
/// there every other time makes the stress tests hit it thousands of times
/// (a sender pushes inside it, and the re-check C4 must see the message)
/// while the other half still parks (and the sender's wake is needed).
pub(super) fn between_empty_and_parked() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    if CALLS.fetch_add(1, Ordering::Relaxed).is_multiple_of(2) {
        std::thread::yield_now();
    }
}

fn seed() -> u64 {
    std::env::var("KPRODUCER_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x1A7E_5EED)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

#[tokio::test]
async fn messages_arrive_in_order_and_the_end_is_seen() {
    let (tx, rx) = channel::<u32>(|_| panic!("nothing is stranded"));
    for n in 0..1000 {
        tx.send(n).expect("open");
    }
    assert_eq!(rx.ready().await, Input::Queued);
    let got: Vec<u32> = std::iter::from_fn(|| rx.try_recv()).collect();
    assert_eq!(got, (0..1000).collect::<Vec<_>>());
    tx.send(1000).expect("open");
    drop(tx);
    // Queued before the sender went: still delivered, then the end.
    assert_eq!(rx.ready().await, Input::Queued);
    assert_eq!(rx.try_recv(), Some(1000));
    assert_eq!(rx.ready().await, Input::SenderGone);
}

#[tokio::test]
async fn a_send_wakes_a_parked_receiver_and_only_then() {
    let (tx, rx) = channel::<u32>(|_| {});
    let parked = poll_fn(|cx| Poll::Ready(rx.poll_ready(cx))).await;
    assert!(parked.is_pending(), "empty queue: the receiver parks");
    let receiver = tokio::spawn(async move {
        let input = rx.ready().await;
        (input, rx.try_recv())
    });
    tokio::task::yield_now().await;
    tx.send(7).expect("open");
    let (input, message) = receiver.await.expect("receiver");
    assert_eq!((input, message), (Input::Queued, Some(7)));
}

#[test]
fn a_send_after_close_gets_its_message_back() {
    let stranded = Arc::new(Mutex::new(Vec::new()));
    let s = stranded.clone();
    let (tx, rx) = channel::<u32>(move |m| s.lock().expect("lock").push(m));
    tx.send(1).expect("open");
    tx.send(2).expect("open");
    rx.close();
    assert_eq!(*stranded.lock().expect("lock"), vec![1, 2]);
    assert_eq!(tx.send(3), Err(3));
    drop(rx);
    assert_eq!(tx.send(4), Err(4));
    assert_eq!(*stranded.lock().expect("lock"), vec![1, 2]);
}

#[test]
fn dropping_the_receiver_strands_what_is_queued() {
    let stranded = Arc::new(AtomicUsize::new(0));
    let s = stranded.clone();
    let (tx, rx) = channel::<Box<u32>>(move |_| {
        s.fetch_add(1, Ordering::Relaxed);
    });
    for n in 0..100 {
        tx.send(Box::new(n)).expect("open");
    }
    drop(rx);
    assert_eq!(stranded.load(Ordering::Relaxed), 100);
}

#[test]
fn a_message_is_small_on_the_queue() {
    // The queue moves every message; a rare variant must not make records
    // bigger.
    use crate::core::{Command, Envelope};
    assert_eq!(size_of::<Command>(), size_of::<Envelope>());
}

/// Receives until the sender is gone, checking each sender's order, and
/// counts how often the receiver parked (returned `Pending`).
async fn receive_all(
    rx: IntakeReceiver<(usize, u64)>,
    senders: usize,
    acks: Arc<Vec<AtomicU64>>,
) -> (u64, u64) {
    let mut next = vec![0u64; senders];
    let mut received = 0u64;
    let mut parks = 0u64;
    loop {
        let input = poll_fn(|cx| {
            let poll = rx.poll_ready(cx);
            if poll.is_pending() {
                parks += 1;
            }
            poll
        })
        .await;
        if input == Input::SenderGone {
            return (received, parks);
        }
        for _ in 0..512 {
            let Some((sender, n)) = rx.try_recv() else {
                break;
            };
            assert_eq!(n, next[sender], "sender {sender}'s messages out of order");
            next[sender] += 1;
            received += 1;
            acks[sender].store(n + 1, Ordering::Release);
        }
    }
}

/// Senders that often wait for the receiver to take their last message
/// before sending the next (so the receiver finds the queue empty and parks
/// between nearly every message: a lost wakeup leaves that sender waiting
/// for ever), and otherwise send bursts.
#[test]
fn no_wakeup_is_lost_under_many_senders() {
    const SENDERS: usize = 4;
    const PER_SENDER: u64 = 3_000;
    let seed = seed();
    let rt = runtime();
    let (tx, rx) = channel::<(usize, u64)>(|_| panic!("nothing is stranded"));
    let tx = Arc::new(tx);
    let acks: Arc<Vec<AtomicU64>> = Arc::new((0..SENDERS).map(|_| AtomicU64::new(0)).collect());
    let give_up = Arc::new(AtomicBool::new(false));
    let receiver = rt.spawn(receive_all(rx, SENDERS, acks.clone()));
    let threads: Vec<_> = (0..SENDERS)
        .map(|sender| {
            let (tx, acks, give_up) = (tx.clone(), acks.clone(), give_up.clone());
            std::thread::spawn(move || {
                let mut rng = SmallRng::seed_from_u64(seed ^ sender as u64);
                let mut n = 0;
                while n < PER_SENDER {
                    let burst = if rng.random_bool(0.7) {
                        1
                    } else {
                        rng.random_range(2..64)
                    };
                    for _ in 0..burst.min(PER_SENDER - n) {
                        tx.send((sender, n)).expect("open");
                        n += 1;
                    }
                    // Wait for the receiver to catch up: it parks next.
                    while acks[sender].load(Ordering::Acquire) < n {
                        if give_up.load(Ordering::Relaxed) {
                            return;
                        }
                        std::thread::yield_now();
                    }
                }
            })
        })
        .collect();
    let outcome = rt.block_on(async {
        let finished = async {
            while !threads.iter().all(|t| t.is_finished()) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        tokio::time::timeout(HANG, finished).await
    });
    give_up.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("sender thread");
    }
    assert!(outcome.is_ok(), "a wakeup was lost (seed {seed})");
    drop(tx);
    let (received, parks) = rt
        .block_on(async { tokio::time::timeout(HANG, receiver).await })
        .unwrap_or_else(|_| panic!("the end was not seen (seed {seed})"))
        .expect("receiver");
    assert_eq!(received, SENDERS as u64 * PER_SENDER, "seed {seed}");
    assert!(
        parks > 0,
        "the receiver never parked: the test tested nothing"
    );
    println!("seed {seed}: {received} messages, receiver parked {parks} times");
}

/// Senders racing with a receiver that closes after a random number of
/// messages: every message is received, stranded or handed back to its
/// sender — exactly one of the three.
#[test]
fn closing_under_load_accounts_for_every_message_once() {
    const SENDERS: usize = 4;
    const PER_SENDER: usize = 20_000;
    let seed = seed();
    let rt = runtime();
    for round in 0..20u64 {
        let mut rng = SmallRng::seed_from_u64(seed ^ round.rotate_left(32));
        let close_after = rng.random_range(0..(SENDERS * PER_SENDER) as u64);
        let seen: Arc<Vec<AtomicBool>> = Arc::new(
            (0..SENDERS * PER_SENDER)
                .map(|_| AtomicBool::new(false))
                .collect(),
        );
        let mark = {
            let seen = seen.clone();
            move |id: usize, how: &str| {
                assert!(
                    !seen[id].swap(true, Ordering::Relaxed),
                    "message {id} accounted twice ({how}; seed {seed}, round {round})"
                );
            }
        };
        let strand_mark = mark.clone();
        let (tx, rx) = channel::<usize>(move |id| strand_mark(id, "stranded"));
        let tx = Arc::new(tx);
        let receiver = {
            let mark = mark.clone();
            rt.spawn(async move {
                let mut received = 0u64;
                while received < close_after {
                    if rx.ready().await == Input::SenderGone {
                        break;
                    }
                    while let Some(id) = rx.try_recv() {
                        mark(id, "received");
                        received += 1;
                    }
                }
                rx.close();
            })
        };
        let threads: Vec<_> = (0..SENDERS)
            .map(|sender| {
                let (tx, mark) = (tx.clone(), mark.clone());
                std::thread::spawn(move || {
                    for i in 0..PER_SENDER {
                        let id = sender * PER_SENDER + i;
                        if let Err(back) = tx.send(id) {
                            mark(back, "handed back");
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("sender thread");
        }
        drop(tx);
        rt.block_on(async { tokio::time::timeout(HANG, receiver).await })
            .unwrap_or_else(|_| panic!("receiver hung (seed {seed}, round {round})"))
            .expect("receiver");
        let missing = seen.iter().filter(|s| !s.load(Ordering::Relaxed)).count();
        assert_eq!(missing, 0, "messages lost (seed {seed}, round {round})");
    }
}

#[test]
fn poll_ready_is_pending_only_with_an_empty_queue() {
    let (tx, rx) = channel::<u8>(|_| {});
    let waker = futures_util::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    assert!(rx.poll_ready(&mut cx).is_pending());
    tx.send(1).expect("open");
    assert_eq!(rx.poll_ready(&mut cx), Poll::Ready(Input::Queued));
}
