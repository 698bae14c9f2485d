//! [`DeliveryFuture`]: the outcome of one record, resolved exactly once.
//!
//! Outcomes live in *slots* handed out from shared blocks of
//! [`SLOTS_PER_BLOCK`]: each thread that sends records takes the next free
//! slot of its current block, so creating a delivery future allocates only
//! once per block, not once per record (a `tokio::sync::oneshot` per record
//! was the one allocation left on the send path). A slot is written once
//! (a success as atomics published by a state byte, a failure in a
//! `OnceLock`) and wakes only a task that actually waits on it
//! (`AtomicWaker`); when the last future and sender of a block's slots are
//! gone the block is parked for reuse (up to 256 of them) or freed. No
//! lock is shared between records: a thread's current block sits in a
//! thread-local.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;

use crate::error::Error;
use crate::record::{RecordMetadata, Topic};

/// The result of delivering one record.
///
/// ```
/// use kproducer::{DeliveryResult, RecordMetadata, Topic};
///
/// fn describe(result: &DeliveryResult) -> String {
///     match result {
///         Ok(written) => format!("written at {written}"),
///         Err(e) => format!("failed: {e}"),
///     }
/// }
/// let written = RecordMetadata { topic: Topic::new("t"), partition: 0, offset: 7, timestamp: 0 };
/// let ok: DeliveryResult = Ok(written);
/// assert_eq!(describe(&ok), "written at t-0@7");
/// let closed = kproducer::Error::Closed;
/// assert_eq!(describe(&Err(closed.clone())), format!("failed: {closed}"));
/// ```
pub type DeliveryResult = Result<RecordMetadata, Error>;

/// Delivery slots per shared allocation: one allocation serves this many
/// records sent from one thread.
pub(crate) const SLOTS_PER_BLOCK: usize = 64;

/// One record's outcome: written once by its sender, read by its future.
///
/// A success is three numbers in atomics, published by `state` (release
/// store, acquire load): no lock and no `Once` on the common path. An error
/// (rare) goes in a `OnceLock` first, then `state` says so; it is boxed so
/// that a slot stays about one cache line (the core writes slots its
/// callers created on other threads).
#[derive(Debug, Default)]
struct Slot {
    state: AtomicU8,
    partition: AtomicI32,
    offset: AtomicI64,
    timestamp: AtomicI64,
    error: OnceLock<Box<Error>>,
    waker: AtomicWaker,
}

/// `Slot::state` values after 0, "pending" (the default).
const DELIVERED: u8 = 1;
const FAILED: u8 = 2;

impl Slot {
    /// The outcome, if written; `topic` is the record's (kept by the
    /// future, so the slot holds no reference-counted name).
    fn result(&self, topic: &Topic) -> Option<DeliveryResult> {
        match self.state.load(Ordering::Acquire) {
            DELIVERED => Some(Ok(RecordMetadata {
                topic: topic.clone(),
                partition: self.partition.load(Ordering::Relaxed),
                offset: self.offset.load(Ordering::Relaxed),
                timestamp: self.timestamp.load(Ordering::Relaxed),
            })),
            FAILED => Some(Err(self
                .error
                .get()
                .map(|e| Error::clone(e))
                // `error` is set before `state` turns FAILED (release /
                // acquire), so it is always there.
                .unwrap_or(Error::Dropped))),
            _pending => None,
        }
    }

    /// Writes the outcome (once: only the slot's one sender calls this)
    /// and wakes the waiting task, if any.
    fn write(&self, result: DeliveryResult) {
        match result {
            Ok(m) => self.write_success(m.partition, m.offset, m.timestamp),
            Err(e) => {
                let _ = self.error.set(Box::new(e));
                self.state.store(FAILED, Ordering::Release);
                self.waker.wake();
            }
        }
    }

    /// Writes a success: three numbers, no topic (the future has it).
    fn write_success(&self, partition: i32, offset: i64, timestamp: i64) {
        self.partition.store(partition, Ordering::Relaxed);
        self.offset.store(offset, Ordering::Relaxed);
        self.timestamp.store(timestamp, Ordering::Relaxed);
        self.state.store(DELIVERED, Ordering::Release);
        self.waker.wake();
    }
}

/// Released blocks kept for the next ones (at most [`SPARE_LIMIT`]): the
/// last reference to a block parks it here instead of freeing it, and the
/// next block is taken from here instead of allocated — which also spares
/// the kernel zeroing fresh pages for it. Each parked block is referenced
/// by this list alone.
static SPARE: Mutex<Vec<Arc<Block>>> = Mutex::new(Vec::new());

/// Blocks [`SPARE`] keeps at most (1 MiB): enough for the blocks one burst
/// of acknowledgements releases at a time, little when nothing is sent.
const SPARE_LIMIT: usize = 256;

/// Slots for [`SLOTS_PER_BLOCK`] records, shared by their senders and
/// futures.
#[derive(Debug)]
struct Block {
    slots: [Slot; SLOTS_PER_BLOCK],
}

impl Block {
    /// A block with every slot pending: a parked one if there is one.
    fn new() -> Arc<Self> {
        let parked = SPARE.lock().unwrap_or_else(PoisonError::into_inner).pop();
        if let Some(mut block) = parked
            && let Some(b) = Arc::get_mut(&mut block)
        {
            // Every slot back to pending (dropping a stale waker or error
            // of its previous record).
            for slot in &mut b.slots {
                *slot = Slot::default();
            }
            return block;
        }
        Arc::new(Block {
            slots: std::array::from_fn(|_| Slot::default()),
        })
    }

    /// Parks `block` for reuse if this is its last reference (else it is
    /// simply released: another reference still uses it).
    fn release(mut block: Arc<Self>) {
        // A plain load first: `get_mut` is a compare-and-swap on the
        // block's counts, too dear to pay on every record's two drops.
        if Arc::strong_count(&block) == 1 && Arc::get_mut(&mut block).is_some() {
            let mut spare = SPARE.lock().unwrap_or_else(PoisonError::into_inner);
            if spare.len() < SPARE_LIMIT {
                spare.push(block);
            }
        }
    }
}

/// Where a record's outcome lives: a block and an index into it (always
/// below [`SLOTS_PER_BLOCK`], as [`channel`] hands them out).
#[derive(Debug)]
struct SlotRef {
    /// `Some` until `drop` hands it to [`Block::release`].
    block: Option<Arc<Block>>,
    index: usize,
}

impl SlotRef {
    fn new(block: Arc<Block>, index: usize) -> Self {
        SlotRef {
            block: Some(block),
            index,
        }
    }

    fn slot(&self) -> &Slot {
        // `block` is taken only by `drop`; `index < SLOTS_PER_BLOCK` by
        // construction in `channel`.
        &self
            .block
            .as_ref()
            .expect("a slot's block is taken only when the slot is dropped")
            .slots[self.index]
    }
}

impl Drop for SlotRef {
    fn drop(&mut self) {
        if let Some(block) = self.block.take() {
            Block::release(block);
        }
    }
}

/// Resolves exactly once, when the record is acknowledged
/// ([`RecordMetadata`]) or has definitively failed ([`Error`]).
///
/// Dropping the future does not cancel the record: it is still delivered.
/// If the producer goes away first, the future resolves to
/// [`Error::Dropped`] rather than staying pending. Creating one costs no
/// allocation of its own: it takes a slot of a block shared by 64 records
/// (`docs/producer-internals.md`, "Delivery slots").
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), kproducer::Error> {
/// # use std::sync::Arc;
/// # use kproducer_fake_broker::FakeCluster;
/// # let cluster = FakeCluster::builder().brokers(1).topic("orders", 1).build().unwrap();
/// # let producer = kproducer::Producer::builder()
/// #     .bootstrap_servers(cluster.bootstrap_servers().split(','))
/// #     .transport(Arc::new(cluster.transport()))
/// #     .build()?;
/// use kproducer::Record;
/// let delivery = producer.send(Record::new("orders", "hello")).await?;
/// let metadata = delivery.await?;
/// println!("written at {metadata}");
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a DeliveryFuture tells whether the record was written; await it or drop it knowingly"]
pub struct DeliveryFuture {
    slot: SlotRef,
    topic: Topic,
}

impl DeliveryFuture {
    /// The result if it is already known, without waiting.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), kproducer::Error> {
    /// # use std::sync::Arc;
    /// # use kproducer_fake_broker::FakeCluster;
    /// use kproducer::{Producer, Record};
    /// # let cluster = FakeCluster::builder().brokers(1).topic("orders", 1).build().unwrap();
    /// # let producer = Producer::builder()
    /// #     .bootstrap_servers(cluster.bootstrap_servers().split(','))
    /// #     .transport(Arc::new(cluster.transport()))
    /// #     .build()?;
    ///
    /// let mut delivery = producer.send(Record::new("orders", "hello")).await?;
    /// assert!(delivery.try_result().is_none(), "not sent yet: linger.ms has not passed");
    /// producer.flush().await?;
    /// let written = delivery.try_result().expect("flush resolved it")?;
    /// assert_eq!(written.offset, 0);
    /// # Ok(()) }
    /// ```
    pub fn try_result(&mut self) -> Option<DeliveryResult> {
        self.slot.slot().result(&self.topic)
    }
}

impl Future for DeliveryFuture {
    type Output = DeliveryResult;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let slot = self.slot.slot();
        if let Some(r) = slot.result(&self.topic) {
            return Poll::Ready(r);
        }
        slot.waker.register(cx.waker());
        // Written between the first look and the registration: the sender
        // woke nobody (or an older waker), so look again.
        match slot.result(&self.topic) {
            Some(r) => Poll::Ready(r),
            None => Poll::Pending,
        }
    }
}

/// The sending half the core completes: one per record. Dropping it
/// without [`send`](Self::send) resolves the future to [`Error::Dropped`].
#[derive(Debug)]
pub(crate) struct DeliverySender {
    slot: SlotRef,
    sent: bool,
}

impl DeliverySender {
    /// Resolves the record's future with `result` and wakes its task if
    /// one is waiting. Never fails (a future dropped by the user simply
    /// never reads it); the `Result` mirrors a channel's `send`.
    pub(crate) fn send(mut self, result: DeliveryResult) -> Result<(), DeliveryResult> {
        self.complete(result);
        Ok(())
    }

    /// Resolves the record's future as written at `offset` of `partition`
    /// with `timestamp`: [`send`](Self::send) of a success without building
    /// a [`RecordMetadata`] (whose topic handle is shared with every other
    /// record of the topic, so cloning and dropping it per record costs two
    /// atomic operations on a contended cache line).
    pub(crate) fn succeed(mut self, partition: i32, offset: i64, timestamp: i64) {
        self.sent = true;
        self.slot.slot().write_success(partition, offset, timestamp);
    }

    fn complete(&mut self, result: DeliveryResult) {
        self.sent = true;
        self.slot.slot().write(result);
    }
}

impl Drop for DeliverySender {
    fn drop(&mut self) {
        if !self.sent {
            self.complete(Err(Error::Dropped));
        }
    }
}

thread_local! {
    /// This thread's current block and its next free slot.
    static CURRENT: RefCell<Option<(Arc<Block>, usize)>> = const { RefCell::new(None) };
}

/// A new delivery channel for a record of `topic`: the next free slot of
/// this thread's block (a new block when it is used up).
pub(crate) fn channel(topic: &Topic) -> (DeliverySender, DeliveryFuture) {
    let (block, index) = CURRENT
        .try_with(|current| {
            let mut current = current.borrow_mut();
            match current.as_mut() {
                Some((block, next)) if *next < SLOTS_PER_BLOCK => {
                    let index = *next;
                    *next += 1;
                    (block.clone(), index)
                }
                _ => {
                    let block = Block::new();
                    *current = Some((block.clone(), 1));
                    (block, 0)
                }
            }
        })
        // The thread is being torn down: a block of its own.
        .unwrap_or_else(|_| (Block::new(), 0));
    (
        DeliverySender {
            slot: SlotRef::new(block.clone(), index),
            sent: false,
        },
        DeliveryFuture {
            slot: SlotRef::new(block, index),
            topic: topic.clone(),
        },
    )
}

#[cfg(test)]
mod tests {
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
        assert_eq!(w.0.load(Ordering::SeqCst), 0, "nobody waited");
    }

    #[test]
    fn a_waiting_task_is_woken_once_when_the_result_arrives() {
        let (tx, mut rx) = channel(&Topic::new("t"));
        let w = Arc::new(CountingWaker::default());
        assert!(poll(&mut rx, &w).is_pending());
        assert!(rx.try_result().is_none());
        tx.send(Ok(metadata(9))).unwrap();
        assert_eq!(w.0.load(Ordering::SeqCst), 1);
        assert!(matches!(poll(&mut rx, &w), Poll::Ready(Ok(m)) if m.offset == 9));
        assert!(matches!(rx.try_result(), Some(Ok(m)) if m.offset == 9));
    }

    #[test]
    fn a_sender_dropped_without_an_answer_resolves_to_dropped() {
        let (tx, mut rx) = channel(&Topic::new("t"));
        let w = Arc::new(CountingWaker::default());
        assert!(poll(&mut rx, &w).is_pending());
        drop(tx);
        assert_eq!(w.0.load(Ordering::SeqCst), 1);
        assert!(matches!(
            poll(&mut rx, &w),
            Poll::Ready(Err(Error::Dropped))
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
        // Resolve (and fail, and leave a waker in) whole blocks, release
        // them, then take new slots: whatever memory they reuse, every new
        // future is pending until its own sender writes it.
        for _ in 0..3 {
            let w = Arc::new(CountingWaker::default());
            let pairs: Vec<_> = (0..SLOTS_PER_BLOCK * 2)
                .map(|_| channel(&Topic::new("t")))
                .collect();
            for (i, (tx, mut rx)) in pairs.into_iter().enumerate() {
                assert!(poll(&mut rx, &w).is_pending());
                if i % 2 == 0 {
                    tx.send(Ok(metadata(i as i64))).unwrap();
                } else {
                    drop(tx);
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
        assert_eq!(w.0.load(Ordering::SeqCst), 0, "no stale waker fired");
        for (i, (tx, mut rx)) in fresh.into_iter().enumerate() {
            tx.send(Ok(metadata(i as i64))).unwrap();
            assert!(matches!(rx.try_result(), Some(Ok(m)) if m.offset == i as i64));
        }
    }

    #[test]
    fn succeed_resolves_with_the_futures_topic() {
        let (tx, mut rx) = channel(&Topic::new("t"));
        let w = Arc::new(CountingWaker::default());
        assert!(poll(&mut rx, &w).is_pending());
        tx.succeed(1, 9, 7);
        assert_eq!(w.0.load(Ordering::SeqCst), 1);
        assert!(matches!(poll(&mut rx, &w), Poll::Ready(Ok(m)) if m == metadata(9)));
    }

    #[test]
    fn a_future_dropped_first_does_not_stop_the_sender() {
        let (tx, rx) = channel(&Topic::new("t"));
        drop(rx);
        assert!(tx.send(Ok(metadata(1))).is_ok());
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
}
