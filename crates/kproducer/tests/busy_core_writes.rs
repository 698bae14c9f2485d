//! A request the core hands to a connection is written while senders keep
//! the core busy: the core gives its worker thread back after every pass
//! that sent something (docs/producer-internals.md, "Yielding after a
//! send").
//!
//! The connection task that writes a request is woken from the core's
//! worker thread; tokio keeps such a task in that worker's LIFO slot, which
//! no other worker may steal. A sender on a thread of its own (as
//! `kproducer perf` sends from the thread that blocks on the runtime) can
//! keep the intake full, so the core's loop never waits; before the fix the
//! first Produce request was written only when the sender paused (measured:
//! ~60 ms into a `kproducer perf` run), and in this test not until every
//! record had been taken.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kproducer::{Producer, Record, Topic, TrySendError};
use kproducer_fake_broker::FakeCluster;
use kproducer_net::Transport;

/// Records the sender offers at most. Far more than the core can take
/// before the first batch (a few hundred records) is answered, so only a
/// core that keeps its connection waiting sees the sender run out.
const FLOOD: usize = 1_000_000;

#[test]
fn the_first_answer_arrives_while_a_sender_keeps_the_intake_full() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let cluster = FakeCluster::builder()
        .brokers(1)
        .topic("flood", 1)
        .build()
        .expect("cluster");
    let transport: Arc<dyn Transport> = Arc::new(cluster.transport());
    let producer = rt.block_on(async {
        let producer = Producer::builder()
            .bootstrap_servers(cluster.bootstrap_servers().split(','))
            .transport(transport)
            .seed(7)
            .linger(Duration::ZERO)
            .batch_size(16 * 1024)
            // Never full during the test: a sender waiting for buffer
            // space would empty the intake and hide the problem.
            .buffer_memory(1 << 30)
            .build()
            .expect("valid configuration");
        // Metadata known and the connection open before the flood.
        producer
            .send(Record::new("flood", "warm-up"))
            .await
            .expect("accepted")
            .await
            .expect("delivered");
        producer
    });

    // From this thread (not a runtime worker), like `kproducer perf`.
    // Whether the sender outruns the core is up to the OS's scheduling, so
    // a core that starves its connection shows in most floods, not in
    // every one: a few floods make missing it unlikely. A core that yields
    // passes every flood.
    for flood in 0..FLOODS {
        flood_once(&rt, &producer, flood);
    }
}

/// Floods in a row (each ends as soon as its first record is answered).
const FLOODS: usize = 3;

/// Offers records until the first of them is answered (at most [`FLOOD`]),
/// then waits for every one and checks the answer came during the flood.
fn flood_once(rt: &tokio::runtime::Runtime, producer: &Producer, flood: usize) {
    let topic = Topic::new("flood");
    let value = Bytes::from_static(b"0123456789");
    let first = producer
        .try_send(Record::new(topic.clone(), value.clone()))
        .expect("room in the buffer");
    let mut futures = Vec::new();
    let mut offered = 1;
    while !first.is_resolved() && offered < FLOOD {
        match producer.try_send(Record::new(topic.clone(), value.clone())) {
            Ok(f) => futures.push(f),
            Err(TrySendError::QueueFull(_)) => panic!("buffer.memory is sized never to fill"),
            Err(other) => panic!("unexpected: {other}"),
        }
        offered += 1;
    }
    let answered_while_sending = first.is_resolved();
    rt.block_on(async {
        first.await.expect("delivered");
        for f in futures {
            f.await.expect("delivered");
        }
    });
    assert!(
        answered_while_sending,
        "flood {flood}: the first record's answer came only after all {FLOOD} records \
         were offered: the core kept its connection from writing while the intake was full"
    );
}
