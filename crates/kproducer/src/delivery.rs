//! [`DeliveryFuture`]: the outcome of one record, resolved exactly once.
//!
//! Outcomes live in *slots* handed out from blocks of [`SLOTS_PER_BLOCK`]:
//! each thread that sends records takes the next free slot of its current
//! block (a thread-local), so no lock is shared between records and there is
//! no allocation per record. Blocks are never freed: a block whose 64 slots
//! have all been released goes back into a process-wide pool and is reused,
//! so the memory kept is the high-water mark of slots in use at once (64
//! bytes per record in flight or held as a future).
//!
//! Because a block lives forever, a sender and a future refer to their slot
//! as `&'static Slot` and own no reference count: who may reuse a slot is
//! decided by its one state byte alone (`docs/producer-internals.md`,
//! "Delivery slots"). Per record, that is one compare-and-swap by the core
//! (writing the outcome) and none by the user's thread when it finds the
//! outcome already there: a waker is registered only by a poll that finds
//! the record pending, and only then does the core wake anyone.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU8, Ordering};
use std::sync::{Mutex, PoisonError};
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

/// Delivery slots per block: one allocation serves this many records sent
/// from one thread (and only until the pool of released blocks is warm).
pub(crate) const SLOTS_PER_BLOCK: usize = 64;

/// `Slot::state` bits. 0 is "pending, both halves alive".
///
/// The outcome is written: a success, or a failure when [`FAILED`] is set
/// too.
const DONE: u8 = 1;
/// With [`DONE`]: the outcome is a failure (in `Slot::error`; none there
/// means the sender was dropped unanswered: [`Error::Dropped`]).
const FAILED: u8 = 2;
/// The future registered a waker: the sender must wake it.
const WAITING: u8 = 4;
/// The future is gone: it reads the slot no more.
const FUTURE_GONE: u8 = 8;
/// The sender is gone: it touches the slot no more.
const SENDER_GONE: u8 = 16;
/// Both halves are gone: the slot may be reused.
const RELEASED: u8 = FUTURE_GONE | SENDER_GONE;

/// One record's outcome: written once by its sender, read by its future.
///
/// A success is three numbers in relaxed atomics, published by `state`
/// (release / acquire): no lock on the common path. A failure (rare) goes
/// in `error` first. The slot is one cache line: the core writes slots
/// that senders created on other threads.
#[derive(Debug, Default)]
struct Slot {
    state: AtomicU8,
    partition: AtomicI32,
    offset: AtomicI64,
    timestamp: AtomicI64,
    error: Mutex<Option<Box<Error>>>,
    waker: AtomicWaker,
}

impl Slot {
    /// The outcome written, given the `state` that says one is
    /// ([`DONE`]); `topic` is the record's (kept by the future, so the slot
    /// holds no reference-counted name).
    fn outcome(&self, state: u8, topic: Topic) -> DeliveryResult {
        if state & FAILED == 0 {
            return Ok(RecordMetadata {
                topic,
                partition: self.partition.load(Ordering::Relaxed),
                offset: self.offset.load(Ordering::Relaxed),
                timestamp: self.timestamp.load(Ordering::Relaxed),
            });
        }
        let error = self.error.lock().unwrap_or_else(PoisonError::into_inner);
        Err(error.as_deref().cloned().unwrap_or(Error::Dropped))
    }

    /// Publishes the outcome written so far (`outcome` is [`DONE`], maybe
    /// with [`FAILED`]), wakes the future's task if it waits, and lets the
    /// slot go. Called once, by the slot's one sender, as its last access.
    fn publish(&self, outcome: u8) {
        // The common case — nobody waits yet, the future is alive — is one
        // compare-and-swap.
        let Err(current) = self.state.compare_exchange(
            0,
            outcome | SENDER_GONE,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) else {
            return;
        };
        if current & WAITING == 0 {
            // The future is gone (nothing else sets a bit before DONE), so
            // nobody can start waiting now.
            self.state.fetch_or(outcome | SENDER_GONE, Ordering::AcqRel);
            return;
        }
        // A task waits: publish, wake it, and only then let go of the slot
        // (so that it is not reused while the waker is being taken).
        self.state.fetch_or(outcome, Ordering::AcqRel);
        self.waker.wake();
        self.state.fetch_or(SENDER_GONE, Ordering::Release);
    }

    /// Whether both halves let go of the slot (acquire: everything they did
    /// to it happened before).
    fn is_released(&self) -> bool {
        self.state.load(Ordering::Acquire) & RELEASED == RELEASED
    }

    /// Marks a slot that was never handed out as released.
    fn release_unused(&self) {
        self.state.store(RELEASED, Ordering::Release);
    }

    /// Back to pending, for the next record. Only for a released slot of a
    /// block no one else holds (see [`Block::take`]).
    fn reset(&self) {
        let state = self.state.load(Ordering::Relaxed);
        if state & WAITING != 0 {
            // A waker registered by a future that found its outcome right
            // after registering is still here: drop it.
            drop(self.waker.take());
        }
        if state & FAILED != 0 {
            self.error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
        }
        self.state.store(0, Ordering::Relaxed);
    }
}

/// Released or in-use blocks whose every slot was handed out, oldest first:
/// where new blocks come from before any is allocated.
static RETIRED: Mutex<VecDeque<&'static Block>> = Mutex::new(VecDeque::new());

/// Retired blocks [`Block::take`] looks at before allocating: the oldest
/// usually are released; one still held (a future kept by its user, a
/// record still in flight) goes to the back.
const REUSE_TRIES: usize = 4;

/// Slots for [`SLOTS_PER_BLOCK`] records. Never freed: see the module docs.
#[derive(Debug)]
struct Block {
    slots: [Slot; SLOTS_PER_BLOCK],
}

impl Block {
    /// A block with every slot pending, owned by the caller until it
    /// [`retire`](Self::retire)s it: a released one if there is one, else a
    /// new one.
    fn take() -> &'static Block {
        {
            let mut retired = RETIRED.lock().unwrap_or_else(PoisonError::into_inner);
            for _ in 0..REUSE_TRIES.min(retired.len()) {
                let Some(block) = retired.pop_front() else {
                    break;
                };
                if block.slots.iter().all(Slot::is_released) {
                    drop(retired);
                    // Every slot released: nobody else refers to the block
                    // (it left the retired list above).
                    for slot in &block.slots {
                        slot.reset();
                    }
                    return block;
                }
                retired.push_back(block);
            }
        }
        Box::leak(Box::new(Block {
            slots: std::array::from_fn(|_| Slot::default()),
        }))
    }

    /// Hands the block, every slot of it given out (or released unused), to
    /// the pool: it is reused once all of them are released.
    fn retire(&'static self) {
        RETIRED
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(self);
    }
}

/// Resolves exactly once, when the record is acknowledged
/// ([`RecordMetadata`]) or has definitively failed ([`Error`]).
///
/// Dropping the future does not cancel the record: it is still delivered.
/// If the producer goes away first, the future resolves to
/// [`Error::Dropped`] rather than staying pending. Creating one costs no
/// allocation of its own: it takes a slot of a block of 64 that is reused
/// once all its records are resolved and their futures dropped
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
    slot: &'static Slot,
    /// The record's topic, for its [`RecordMetadata`]; `None` once `poll`
    /// has handed the result out (moving the name out spares two reference
    /// count operations per record).
    topic: Option<Topic>,
}

impl DeliveryFuture {
    /// The result if it is already known, without waiting. `None` while
    /// the record is pending, and also after the future has resolved by
    /// `.await` or `poll` (which hand the result out once).
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
        let topic = self.topic.as_ref()?;
        let state = self.slot.state.load(Ordering::Acquire);
        (state & DONE != 0).then(|| self.slot.outcome(state, topic.clone()))
    }

    /// Whether the outcome is known, so that polling would be `Ready`:
    /// one load, no waker registered, nothing cloned. A collection of
    /// futures that polled each one once (registering its waker) can use
    /// this to find the resolved ones without registering again.
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
    /// let delivery = producer.send(Record::new("orders", "hello")).await?;
    /// assert!(!delivery.is_resolved());
    /// producer.flush().await?;
    /// assert!(delivery.is_resolved());
    /// assert_eq!(delivery.await?.offset, 0);
    /// # Ok(()) }
    /// ```
    #[must_use]
    #[inline]
    pub fn is_resolved(&self) -> bool {
        self.slot.state.load(Ordering::Acquire) & DONE != 0
    }

    /// Hands the outcome out (the topic moves into it), given the `state`
    /// that says it is written. Pending only if it was handed out before.
    fn take_outcome(&mut self, state: u8) -> Poll<DeliveryResult> {
        match self.topic.take() {
            Some(topic) => Poll::Ready(self.slot.outcome(state, topic)),
            None => Poll::Pending,
        }
    }
}

impl Future for DeliveryFuture {
    type Output = DeliveryResult;

    /// Ready at once (no waker registered, no atomic write) when the
    /// outcome is already there. Polling again after `Ready` stays pending.
    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.topic.is_none() {
            // Already resolved: the result was handed out.
            return Poll::Pending;
        }
        let slot = self.slot;
        let state = slot.state.load(Ordering::Acquire);
        if state & DONE != 0 {
            return self.take_outcome(state);
        }
        slot.waker.register(cx.waker());
        // Tell the sender to wake us, and look again: the outcome may have
        // been written before it could see the flag.
        let state = if state & WAITING == 0 {
            slot.state.fetch_or(WAITING, Ordering::AcqRel)
        } else {
            // Flagged by an earlier poll; the registration above is ordered
            // with the sender's wake by the `AtomicWaker` itself.
            slot.state.load(Ordering::Acquire)
        };
        if state & DONE != 0 {
            self.take_outcome(state)
        } else {
            Poll::Pending
        }
    }
}

impl Drop for DeliveryFuture {
    #[inline]
    fn drop(&mut self) {
        let state = self.slot.state.load(Ordering::Acquire);
        if state & SENDER_GONE != 0 {
            // The sender is done with the slot and it is not reused before
            // this store: nobody else writes the state now, so no
            // read-modify-write is needed.
            self.slot
                .state
                .store(state | FUTURE_GONE, Ordering::Release);
        } else {
            self.slot.state.fetch_or(FUTURE_GONE, Ordering::AcqRel);
        }
    }
}

/// The sending half the core completes: one per record. Dropping it
/// without [`send`](Self::send) resolves the future to [`Error::Dropped`].
#[derive(Debug)]
pub(crate) struct DeliverySender {
    slot: &'static Slot,
    sent: bool,
}

impl DeliverySender {
    /// Resolves the record's future with `result` and wakes its task if
    /// one is waiting. Never fails (a future dropped by the user simply
    /// never reads it); the `Result` mirrors a channel's `send`.
    #[cfg(test)]
    pub(crate) fn send(mut self, result: DeliveryResult) -> Result<(), DeliveryResult> {
        match result {
            Ok(m) => self.resolve_success(m.partition, m.offset, m.timestamp),
            Err(e) => self.resolve_failure(e),
        }
        Ok(())
    }

    /// [`resolve_success`](Self::resolve_success), consuming the sender.
    #[cfg(test)]
    pub(crate) fn succeed(mut self, partition: i32, offset: i64, timestamp: i64) {
        self.resolve_success(partition, offset, timestamp);
    }

    /// Resolves the record's future as written at `offset` of `partition`
    /// with `timestamp`, without building a [`RecordMetadata`] (whose topic
    /// handle is shared with every other record of the topic, so cloning
    /// and dropping it per record costs two atomic operations on a
    /// contended cache line). In place, so a batch's entries need not move:
    /// the sender is spent afterwards (a second call, or its drop, does
    /// nothing).
    pub(crate) fn resolve_success(&mut self, partition: i32, offset: i64, timestamp: i64) {
        if std::mem::replace(&mut self.sent, true) {
            return;
        }
        self.write_success(partition, offset, timestamp);
    }

    /// Resolves the record's future with `error`; in place, like
    /// [`resolve_success`](Self::resolve_success).
    pub(crate) fn resolve_failure(&mut self, error: Error) {
        if std::mem::replace(&mut self.sent, true) {
            return;
        }
        self.write_failure(Some(error));
    }

    fn write_success(&self, partition: i32, offset: i64, timestamp: i64) {
        let slot = self.slot;
        slot.partition.store(partition, Ordering::Relaxed);
        slot.offset.store(offset, Ordering::Relaxed);
        slot.timestamp.store(timestamp, Ordering::Relaxed);
        slot.publish(DONE);
    }

    /// `None`: dropped unanswered ([`Error::Dropped`], nothing stored).
    fn write_failure(&self, error: Option<Error>) {
        if let Some(e) = error {
            *self
                .slot
                .error
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(Box::new(e));
        }
        self.slot.publish(DONE | FAILED);
    }
}

impl Drop for DeliverySender {
    fn drop(&mut self) {
        if !self.sent {
            self.write_failure(None);
        }
    }
}

/// This thread's current block and its next free slot.
#[derive(Debug, Default)]
struct CurrentBlock {
    block: Option<&'static Block>,
    next: usize,
}

impl CurrentBlock {
    /// The next free slot, from a new block when there is none.
    fn next_slot(&mut self) -> &'static Slot {
        let block = match self.block {
            Some(block) if self.next < SLOTS_PER_BLOCK => block,
            _ => {
                self.next = 0;
                *self.block.insert(Block::take())
            }
        };
        let slot = &block.slots[self.next];
        self.next += 1;
        if self.next == SLOTS_PER_BLOCK {
            self.block = None;
            block.retire();
        }
        slot
    }
}

impl Drop for CurrentBlock {
    /// The thread is ending: its block's remaining slots will never be
    /// handed out, so they count as released.
    fn drop(&mut self) {
        if let Some(block) = self.block.take() {
            for slot in &block.slots[self.next..] {
                slot.release_unused();
            }
            block.retire();
        }
    }
}

thread_local! {
    static CURRENT: RefCell<CurrentBlock> = RefCell::new(CurrentBlock::default());
}

/// A new delivery channel for a record of `topic`: the next free slot of
/// this thread's block (a new block when it is used up).
pub(crate) fn channel(topic: &Topic) -> (DeliverySender, DeliveryFuture) {
    let slot = CURRENT
        .try_with(|current| current.borrow_mut().next_slot())
        .unwrap_or_else(|_| {
            // The thread is being torn down: a block for this one record.
            let mut lone = CurrentBlock::default();
            lone.next_slot()
            // `lone` drops here, releasing the other slots.
        });
    (
        DeliverySender { slot, sent: false },
        DeliveryFuture {
            slot,
            topic: Some(topic.clone()),
        },
    )
}

#[cfg(test)]
#[path = "delivery_tests.rs"]
mod tests;
