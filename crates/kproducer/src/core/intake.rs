//! The core's intake: the one ordered queue from the producer handles
//! (`send`, `try_send`, `flush`, `close`, transactions) to the core task.
//!
//! Built for the per-record path, where tokio's unbounded mpsc cost a
//! semaphore update and a waker wake per message, the wake being a
//! read-modify-write on a cache line the core thread writes too. Here a
//! message costs a lock-free push onto an unbounded [`ConcurrentQueue`]
//! (one allocation per 31 messages, for its blocks), one fence and one
//! load of a flag word the core writes only when it goes to sleep: the
//! sender wakes the core only when the core said it is waiting.
//!
//! # Why no wakeup is lost
//!
//! `state` holds the flag `PARKED` ("the core found the queue empty and is
//! about to sleep"). The two sides run, in program order:
//!
//! - sender: (S1) push the message; (S2) `fence(SeqCst)`; (S3) load `state`;
//!   if `PARKED` is set, clear it and wake the registered waker;
//! - core, finding the queue empty: (C1) register its waker; (C2) set
//!   `PARKED`; (C3) `fence(SeqCst)`; (C4) look at the queue again; only if it
//!   is still empty return `Pending`.
//!
//! All `SeqCst` fences are totally ordered. If the sender's fence S2 comes
//! before the core's C3, then C4 (after C3) observes the push S1 (before
//! S2) — a store sequenced before a `SeqCst` fence is seen by every load
//! sequenced after a later `SeqCst` fence — so the core does not sleep.
//! Otherwise C3 comes before S2, and by the same rule S3 observes C2: the
//! sender sees `PARKED` and wakes the waker registered at C1. Either way the
//! message is taken without further sends. (The push's observable effect is
//! the queue's tail index, which `ConcurrentQueue::is_empty`/`pop` load; a
//! popper that sees the index advanced waits for the slot's write to
//! finish.)
//! Clearing `PARKED` while the core is running is always safe: the core
//! runs C1–C4 again before it next sleeps. The stress tests below would
//! hang if this failed.
//!
//! # Closing
//!
//! When the core stops it closes the queue and fails ("strands", through
//! the function given to [`channel`]) what is still in it. Closing and
//! pushing both update the queue's tail index atomically, so a push either
//! comes before the close — its message is in the queue, and the drain
//! after the close takes it (waiting for the slot's write if needed) — or
//! fails and the sender gets its message back. Every message is received,
//! stranded or handed back, exactly once. Dropping the receiver closes it
//! the same way; dropping the sender sets `SENDER_GONE` and wakes the
//! core, which sees [`Input::SenderGone`] once the queue is empty.

use std::fmt;
use std::future::poll_fn;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering, fence};
use std::task::{Context, Poll};

use concurrent_queue::{ConcurrentQueue, PushError};
use futures_util::task::AtomicWaker;

/// The core found the queue empty and sleeps until woken.
const PARKED: u8 = 1;
/// The sender was dropped: no more messages will come.
const SENDER_GONE: u8 = 2;

/// What a message the receiver will never take is handed to.
type Strand<T> = Box<dyn Fn(T) + Send + Sync>;

struct Channel<T> {
    queue: ConcurrentQueue<T>,
    state: AtomicU8,
    waker: AtomicWaker,
    strand: Strand<T>,
}

impl<T> Channel<T> {
    /// Hands every queued message to `strand`.
    fn strand_all(&self) {
        while let Ok(message) = self.queue.pop() {
            (self.strand)(message);
        }
    }
}

/// A new intake: `strand` fails a message that was sent but will never be
/// received (the receiver closed or was dropped first).
pub(crate) fn channel<T>(
    strand: impl Fn(T) + Send + Sync + 'static,
) -> (IntakeSender<T>, IntakeReceiver<T>) {
    let channel = Arc::new(Channel {
        queue: ConcurrentQueue::unbounded(),
        state: AtomicU8::new(0),
        waker: AtomicWaker::new(),
        strand: Box::new(strand),
    });
    (
        IntakeSender {
            channel: channel.clone(),
        },
        IntakeReceiver { channel },
    )
}

/// The sending half, shared by every clone of a producer handle.
pub(crate) struct IntakeSender<T> {
    channel: Arc<Channel<T>>,
}

impl<T> fmt::Debug for IntakeSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntakeSender")
            .field("queued", &self.channel.queue.len())
            .finish_non_exhaustive()
    }
}

impl<T> IntakeSender<T> {
    /// Queues `message` for the core, waking it only if it sleeps.
    ///
    /// # Errors
    /// Gives `message` back if the core has stopped.
    pub(crate) fn send(&self, message: T) -> Result<(), T> {
        let c = &*self.channel;
        // S1. An unbounded queue is never full; only closing refuses.
        if let Err(PushError::Closed(message) | PushError::Full(message)) = c.queue.push(message) {
            return Err(message);
        }
        fence(Ordering::SeqCst); // S2
        if c.state.load(Ordering::Relaxed) & PARKED != 0 {
            // S3 found the core asleep.
            self.wake();
        }
        Ok(())
    }

    /// Wakes the sleeping core; only the sender that clears `PARKED` does.
    #[cold]
    fn wake(&self) {
        let c = &*self.channel;
        if c.state.fetch_and(!PARKED, Ordering::AcqRel) & PARKED != 0 {
            c.waker.wake();
        }
    }
}

impl<T> Drop for IntakeSender<T> {
    fn drop(&mut self) {
        // SeqCst, so a release: every push of this sender happens before the
        // flag, and a core that sees the flag and then an empty queue has
        // taken them all.
        self.channel.state.fetch_or(SENDER_GONE, Ordering::SeqCst);
        self.channel.waker.wake();
    }
}

/// What [`IntakeReceiver::ready`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Input {
    /// Messages are queued: take them with [`IntakeReceiver::try_recv`].
    Queued,
    /// The queue is empty and the sender is gone: nothing more will come.
    SenderGone,
}

/// The core's half.
pub(crate) struct IntakeReceiver<T> {
    channel: Arc<Channel<T>>,
}

impl<T> fmt::Debug for IntakeReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntakeReceiver")
            .field("queued", &self.channel.queue.len())
            .finish_non_exhaustive()
    }
}

impl<T> IntakeReceiver<T> {
    /// Waits until a message is queued or the sender is gone. Cancel-safe:
    /// it takes nothing from the queue.
    pub(crate) async fn ready(&self) -> Input {
        poll_fn(|cx| self.poll_ready(cx)).await
    }

    /// [`ready`](Self::ready) as a poll function.
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<Input> {
        let c = &*self.channel;
        if !c.queue.is_empty() {
            self.unpark();
            return Poll::Ready(Input::Queued);
        }
        // Tests widen the window in which a sender can push unseen.
        #[cfg(test)]
        tests::between_empty_and_parked();
        c.waker.register(cx.waker()); // C1
        let state = c.state.fetch_or(PARKED, Ordering::SeqCst); // C2
        fence(Ordering::SeqCst); // C3
        if !c.queue.is_empty() {
            // C4: a message came in meanwhile.
            self.unpark();
            return Poll::Ready(Input::Queued);
        }
        if state & SENDER_GONE != 0 {
            // The flag was read (acquire) before the queue was found empty:
            // every message the sender pushed has been taken.
            return Poll::Ready(Input::SenderGone);
        }
        Poll::Pending
    }

    /// Takes the oldest queued message, if any.
    pub(crate) fn try_recv(&self) -> Option<T> {
        self.channel.queue.pop().ok()
    }

    /// Stops taking messages: later sends get theirs back, and what is
    /// queued now is stranded. Idempotent.
    pub(crate) fn close(&self) {
        let c = &*self.channel;
        c.queue.close();
        c.strand_all();
    }

    /// Clears `PARKED` (the core is running), so that senders skip the
    /// wake; a plain load first keeps the common case free of writes.
    fn unpark(&self) {
        let state = &self.channel.state;
        if state.load(Ordering::Relaxed) & PARKED != 0 {
            state.fetch_and(!PARKED, Ordering::Relaxed);
        }
    }
}

impl<T> Drop for IntakeReceiver<T> {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests;
