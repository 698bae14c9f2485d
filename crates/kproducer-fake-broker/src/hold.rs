//! A gate a test closes on matching requests and opens when it chooses.

use std::sync::Arc;

use tokio::sync::watch;

/// Holds matching requests until the test calls [`Hold::release`].
///
/// A held request blocks its connection (requests on one connection are
/// served in order), but other connections keep being served: that is how a
/// test arranges for a later request on another connection to overtake it.
///
/// ```
/// use kproducer_fake_broker::Hold;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let hold = Hold::new();
/// assert_eq!(hold.held_now(), 0);
/// hold.release();
/// assert!(hold.is_released());
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Hold {
    inner: Arc<HoldInner>,
}

#[derive(Debug)]
struct HoldInner {
    released: watch::Sender<bool>,
    /// Requests waiting right now.
    waiting: watch::Sender<usize>,
    /// Requests that ever entered.
    entered: watch::Sender<usize>,
}

impl Default for Hold {
    fn default() -> Self {
        Self::new()
    }
}

impl Hold {
    /// A closed gate.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(HoldInner {
                released: watch::Sender::new(false),
                waiting: watch::Sender::new(0),
                entered: watch::Sender::new(0),
            }),
        }
    }

    /// Opens the gate: every held request proceeds, and later ones pass
    /// straight through.
    pub fn release(&self) {
        self.inner.released.send_replace(true);
    }

    /// Whether [`Hold::release`] was called.
    pub fn is_released(&self) -> bool {
        *self.inner.released.borrow()
    }

    /// How many requests are waiting at the gate now.
    pub fn held_now(&self) -> usize {
        *self.inner.waiting.borrow()
    }

    /// Waits until `n` requests in total have reached the gate (whether
    /// or not they were released since).
    pub async fn reached(&self, n: usize) {
        let mut rx = self.inner.entered.subscribe();
        // The sender lives in `self.inner`, so the channel cannot close while
        // we wait; an error would only mean it did, and then nothing more can
        // arrive anyway.
        let _ = rx.wait_for(|&count| count >= n).await;
    }

    /// Called by the broker: waits for the gate to open.
    pub(crate) async fn pass(&self) {
        self.inner.entered.send_modify(|c| *c += 1);
        self.inner.waiting.send_modify(|c| *c += 1);
        let _waiting = WaitingGuard(self);
        let mut rx = self.inner.released.subscribe();
        let _ = rx.wait_for(|&open| open).await;
    }
}

/// Decrements the waiting count however the wait ends (released, or the
/// connection dropped while held).
struct WaitingGuard<'a>(&'a Hold);

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        self.0
            .inner
            .waiting
            .send_modify(|c| *c = c.saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_held_request_waits_until_released() {
        let hold = Hold::new();
        let h = hold.clone();
        let task = tokio::spawn(async move { h.pass().await });
        hold.reached(1).await;
        assert_eq!(hold.held_now(), 1);
        assert!(!task.is_finished());
        hold.release();
        task.await.expect("the held task completes");
        assert_eq!(hold.held_now(), 0);
        // Once open, requests pass straight through.
        hold.pass().await;
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_a_held_request_clears_the_waiting_count() {
        let hold = Hold::new();
        let h = hold.clone();
        let task = tokio::spawn(async move { h.pass().await });
        hold.reached(1).await;
        task.abort();
        let _ = task.await;
        assert_eq!(hold.held_now(), 0);
    }
}
