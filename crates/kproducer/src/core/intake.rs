//! The core's intake: the one ordered queue from the producer handles
//! (`send`, `try_send`, `flush`, `close`, transactions) to the core task.
//!
//! Built for the per-record path. Senders append to a `VecDeque` behind a
//! [`Mutex`]; the core takes everything queued at once, by swapping that
//! deque with its own (empty) one, and then pops its messages without
//! touching anything the senders write. So per message a sender pays an
//! uncontended lock, a copy into memory that is already allocated and
//! mapped (the two deques are swapped back and forth and keep their
//! capacity: no allocation, no zeroing, no free on another thread), and
//! one load, under the lock, of a flag word the core writes only when it
//! goes to sleep; the sender wakes the core only when the core said it is
//! waiting.
//! The core pays one lock per bunch, not per message.
//!
//! (The previous intake, a lock-free `concurrent_queue::ConcurrentQueue`,
//! allocated and zeroed a 5 KiB block every 31 messages on the sending
//! thread and freed it on the core's, and paid two atomic read-modify-writes
//! per message on each side; see `docs/benchmarks.md`.)
//!
//! # Why no wakeup is lost
//!
//! `state` holds the flag `PARKED` ("the core found the queue empty and is
//! about to sleep"). The two sides run, in program order:
//!
//! - sender: (S1) lock the queue, push the message, (S2) load `state`,
//!   unlock; if `PARKED` was set, clear it and wake the registered waker;
//! - core, finding the queue empty: (C1) register its waker; (C2) set
//!   `PARKED`; (C3) lock the queue and look at it again, unlock; only if it
//!   was still empty return `Pending`.
//!
//! The lock orders the two critical sections. If the sender's comes first,
//! its unlock happens before the core's lock at C3, so C3 sees the message
//! and the core does not sleep. If the core's comes first, C2 (sequenced
//! before the core's unlock) happens before the sender's lock, so S2 sees
//! `PARKED` (or a later value: another sender cleared it and woke the core,
//! or the core cleared it because it is running) and the sender wakes the
//! waker registered at C1. Either way the message is taken without further
//! sends, and no fence is needed: the lock's acquire and release carry both
//! cases. Clearing `PARKED` while the core is running is always safe: the
//! core runs C1–C3 again before it next sleeps. The stress tests in
//! `intake/tests.rs` would hang if this failed (with the re-check C3
//! removed, `no_wakeup_is_lost_under_many_senders` hangs and fails at its
//! time limit).
//!
//! # Closing
//!
//! When the core stops it closes the queue and fails ("strands", through
//! the function given to [`channel`]) what is still in it. Closing and
//! pushing both happen under the queue's lock, so a push either comes
//! before the close — its message is in the queue, and the close strands
//! it — or after, and the sender gets its message back. Every message is
//! received, stranded or handed back, exactly once. Dropping the receiver
//! closes it the same way; dropping the sender sets `SENDER_GONE` and
//! wakes the core, which sees [`Input::SenderGone`] once the queue is
//! empty.

use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;

/// The core found the queue empty and sleeps until woken.
const PARKED: u8 = 1;
/// The sender was dropped: no more messages will come.
const SENDER_GONE: u8 = 2;

/// What a message the receiver will never take is handed to.
type Strand<T> = Box<dyn Fn(T) + Send + Sync>;

/// What the lock guards: the messages not yet taken by the core.
struct Queue<T> {
    messages: VecDeque<T>,
    /// Set by [`IntakeReceiver::close`]: pushes are refused from then on.
    closed: bool,
}

struct Channel<T> {
    queue: Mutex<Queue<T>>,
    state: AtomicU8,
    waker: AtomicWaker,
    strand: Strand<T>,
}

impl<T> Channel<T> {
    /// The queue, locked. No code panics while holding the lock (pushing
    /// and swapping deques do not, short of running out of memory, which
    /// aborts), but a poisoned lock would still guard a consistent queue,
    /// so it is taken as it is rather than turned into a panic.
    fn lock(&self) -> MutexGuard<'_, Queue<T>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A new intake: `strand` fails a message that was sent but will never be
/// received (the receiver closed or was dropped first).
pub(crate) fn channel<T>(
    strand: impl Fn(T) + Send + Sync + 'static,
) -> (IntakeSender<T>, IntakeReceiver<T>) {
    let channel = Arc::new(Channel {
        queue: Mutex::new(Queue {
            messages: VecDeque::new(),
            closed: false,
        }),
        state: AtomicU8::new(0),
        waker: AtomicWaker::new(),
        strand: Box::new(strand),
    });
    (
        IntakeSender {
            channel: channel.clone(),
        },
        IntakeReceiver {
            channel,
            taken: VecDeque::new(),
        },
    )
}

/// The sending half, shared by every clone of a producer handle.
pub(crate) struct IntakeSender<T> {
    channel: Arc<Channel<T>>,
}

impl<T> fmt::Debug for IntakeSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntakeSender").finish_non_exhaustive()
    }
}

impl<T> IntakeSender<T> {
    /// Queues `message` for the core, waking it only if it sleeps.
    ///
    /// # Errors
    /// Gives `message` back if the core has stopped.
    // Inlined, so that a record's command is built straight into the
    // queue's memory instead of being copied there from the caller's.
    #[inline(always)]
    pub(crate) fn send(&self, message: T) -> Result<(), T> {
        let c = &*self.channel;
        let state = {
            // S1
            let mut queue = c.lock();
            if queue.closed {
                return Err(message);
            }
            queue.messages.push_back(message);
            c.state.load(Ordering::Relaxed) // S2
        };
        if state & PARKED != 0 {
            // S2 found the core asleep.
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
    /// Messages taken from the shared queue, oldest first, not yet handed
    /// out by [`IntakeReceiver::try_recv`]. Its memory goes back to the
    /// senders at the next take (the two deques are swapped).
    taken: VecDeque<T>,
}

impl<T> fmt::Debug for IntakeReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntakeReceiver")
            .field("taken", &self.taken.len())
            .finish_non_exhaustive()
    }
}

impl<T> IntakeReceiver<T> {
    /// Waits until a message is queued or the sender is gone. Cancel-safe:
    /// what it takes from the shared queue stays for
    /// [`try_recv`](Self::try_recv).
    pub(crate) async fn ready(&mut self) -> Input {
        poll_fn(|cx| self.poll_ready(cx)).await
    }

    /// [`ready`](Self::ready) as a poll function.
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Input> {
        if !self.taken.is_empty() || self.take() {
            self.unpark();
            return Poll::Ready(Input::Queued);
        }
        // Tests widen the window in which a sender can push unseen.
        #[cfg(test)]
        tests::between_empty_and_parked();
        let c = &*self.channel;
        c.waker.register(cx.waker()); // C1
        let state = c.state.fetch_or(PARKED, Ordering::SeqCst); // C2
        if self.take() {
            // C3: a message came in meanwhile.
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
    #[inline]
    pub(crate) fn try_recv(&mut self) -> Option<T> {
        if let Some(message) = self.taken.pop_front() {
            return Some(message);
        }
        if self.take() {
            self.taken.pop_front()
        } else {
            None
        }
    }

    /// Moves every message of the shared queue to `taken` (empty when
    /// called) by swapping the two deques; says whether there were any.
    fn take(&mut self) -> bool {
        debug_assert!(self.taken.is_empty());
        let mut queue = self.channel.lock();
        if queue.messages.is_empty() {
            return false;
        }
        std::mem::swap(&mut queue.messages, &mut self.taken);
        true
    }

    /// Stops taking messages: later sends get theirs back, and what is
    /// queued now is stranded. Idempotent.
    pub(crate) fn close(&mut self) {
        let c = &*self.channel;
        let queued = {
            let mut queue = c.lock();
            queue.closed = true;
            std::mem::take(&mut queue.messages)
        };
        for message in self.taken.drain(..).chain(queued) {
            (c.strand)(message);
        }
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
