//! The caller side of a connection: state shared with its task, and the
//! path a request takes from a caller to the task's queue.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use kproducer_protocol::ApiKey;
use tokio::sync::{Notify, Semaphore, TryAcquireError, mpsc, oneshot};
use tokio::time::Instant;

use super::error::{CloseReason, ConnectionError, SendState};
use super::headers::EncodedHeaders;
use super::stats::ConnectionStats;
use super::task::{Command, InFlightSlot, Outgoing};
use crate::transport::BrokerAddress;

/// Why and when the connection closed.
#[derive(Debug, Clone)]
pub(crate) struct Closed {
    pub(crate) reason: CloseReason,
    pub(crate) at: Instant,
}

/// State the caller side and the task both see. Lock-free.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) broker: BrokerAddress,
    /// The group slot, for tracing.
    pub(crate) slot: Option<usize>,
    /// Process-unique id, so observers can tell a reconnect from the
    /// connection they saw before.
    pub(crate) id: u64,
    pub(crate) permits: Arc<Semaphore>,
    pub(crate) stats: ConnectionStats,
    pub(crate) closed: OnceLock<Closed>,
    /// Set by a graceful close: new requests are refused at once.
    pub(crate) closing: AtomicBool,
    /// Wakes the task for an immediate close.
    abort: Notify,
    /// Why the immediate close was asked for (first reason wins).
    abort_reason: OnceLock<CloseReason>,
    /// Set when the task has completed every request and dropped the socket.
    finished: AtomicBool,
    finished_notify: Notify,
}

impl Shared {
    pub(crate) fn new(broker: BrokerAddress, max_in_flight: usize, slot: Option<usize>) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        Self {
            broker,
            slot,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            permits: Arc::new(Semaphore::new(max_in_flight.max(1))),
            stats: ConnectionStats::new(),
            closed: OnceLock::new(),
            closing: AtomicBool::new(false),
            abort: Notify::new(),
            abort_reason: OnceLock::new(),
            finished: AtomicBool::new(false),
            finished_notify: Notify::new(),
        }
    }

    /// Called by the task once it has failed or completed every request.
    pub(crate) fn mark_finished(&self) {
        self.finished.store(true, Ordering::Release);
        self.finished_notify.notify_waiters();
    }

    /// Resolves once the task has finished (see [`Self::mark_finished`]).
    pub(crate) async fn wait_finished(&self) {
        loop {
            let notified = self.finished_notify.notified();
            tokio::pin!(notified);
            // Registered before the check, so a wake-up in between is kept.
            notified.as_mut().enable();
            if self.finished.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }

    /// Asks the task to close now, failing everything pending with `reason`.
    pub(crate) fn abort(&self, reason: CloseReason) {
        self.closing.store(true, Ordering::Release);
        let _ = self.abort_reason.set(reason);
        self.abort.notify_one();
    }

    /// Resolves when [`abort`](Self::abort) is called; yields its reason.
    pub(crate) async fn aborted(&self) -> CloseReason {
        self.abort.notified().await;
        self.abort_reason
            .get()
            .cloned()
            .unwrap_or(CloseReason::ClosedByClient)
    }

    pub(crate) fn mark_closed(&self, reason: CloseReason) {
        let _ = self.closed.set(Closed {
            reason,
            at: Instant::now(),
        });
    }

    /// The reason to report to a request refused because the connection is
    /// closed or closing.
    fn refusal_reason(&self) -> CloseReason {
        self.closed
            .get()
            .map_or(CloseReason::ClosedByClient, |c| c.reason.clone())
    }

    pub(crate) fn closed_error(&self, reason: CloseReason, state: SendState) -> ConnectionError {
        ConnectionError::Closed {
            broker: self.broker.clone(),
            reason,
            state,
        }
    }

    /// The error for a request that had reached the writer when the
    /// connection closed for `reason`.
    pub(crate) fn error_for(
        &self,
        reason: &CloseReason,
        correlation_id: i32,
        timeout: Duration,
    ) -> ConnectionError {
        match reason {
            CloseReason::RequestTimedOut {
                correlation_id: c, ..
            } if *c == correlation_id => ConnectionError::TimedOut {
                broker: self.broker.clone(),
                timeout,
                state: SendState::MaybeSent,
            },
            _ => self.closed_error(reason.clone(), SendState::MaybeSent),
        }
    }
}

/// A request before it is queued: body pre-encoded, version chosen.
#[derive(Debug, Clone)]
pub struct RawRequest {
    /// The API.
    pub api_key: ApiKey,
    /// The version the body was encoded at.
    pub version: i16,
    /// The encoded body (without header), or its first part when `tail`
    /// is not empty.
    pub body: Bytes,
    /// The rest of the body, in order: parts written from their own memory
    /// (vectored writes), never copied into a frame buffer — what a Produce
    /// request's record batches travel as. Empty for most requests.
    pub tail: Vec<Bytes>,
    /// False for fire-and-forget requests (Produce with `acks=0`): they
    /// complete once written and the broker sends nothing back.
    pub expects_response: bool,
    /// Overrides the connection's request timeout for this request.
    pub timeout: Option<Duration>,
}

impl RawRequest {
    /// A request that expects a response, with the connection's timeout.
    pub fn new(api_key: ApiKey, version: i16, body: Bytes) -> Self {
        Self {
            api_key,
            version,
            body,
            tail: Vec::new(),
            expects_response: true,
            timeout: None,
        }
    }
}

/// The caller side of one connection (cheap to share through an `Arc`).
#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) commands: mpsc::UnboundedSender<Command>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) headers: EncodedHeaders,
    pub(crate) request_timeout: Duration,
}

impl Link {
    fn refused(&self) -> ConnectionError {
        self.shared
            .closed_error(self.shared.refusal_reason(), SendState::NotSent)
    }

    /// The encoded header for `req`, after checking that it can be sent.
    fn validate(&self, req: &RawRequest) -> Result<Bytes, ConnectionError> {
        let encode_err = |source| ConnectionError::Encode {
            api: req.api_key,
            version: req.version,
            source,
        };
        req.api_key.check_encode(req.version).map_err(encode_err)?;
        let Some(header) = self.headers.get(req.api_key, req.version) else {
            // `check_encode` passed, so the cache holds this version; this
            // branch only guards against the two disagreeing.
            let r = req.api_key.versions();
            return Err(encode_err(
                kproducer_protocol::EncodeError::UnsupportedVersion {
                    api: req.api_key.name(),
                    version: req.version,
                    min: r.min,
                    max: r.max,
                },
            ));
        };
        let len = header.len() + req.body.len() + req.tail.iter().map(Bytes::len).sum::<usize>();
        if i32::try_from(len).is_err() {
            return Err(encode_err(kproducer_protocol::EncodeError::TooLong {
                what: "request frame",
                length: len,
            }));
        }
        Ok(header)
    }

    /// Waits for an in-flight slot, recording how long that took.
    pub(crate) async fn reserve(&self) -> Result<InFlightSlot, ConnectionError> {
        if self.shared.closing.load(Ordering::Acquire) {
            return Err(self.refused());
        }
        let started = Instant::now();
        let permit = match self.shared.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(TryAcquireError::Closed) => return Err(self.refused()),
            Err(TryAcquireError::NoPermits) => {
                // Counted on drop, so a caller that gives up waiting (a
                // timeout, a cancelled send) still reports its wait.
                let _clock = WaitClock {
                    shared: &self.shared,
                    started,
                };
                let p = self.shared.permits.clone().acquire_owned().await;
                p.map_err(|_| self.refused())?
            }
        };
        Ok(InFlightSlot::new(permit, self.shared.clone()))
    }

    /// Takes a free in-flight slot without waiting: `Ok(None)` when the
    /// window is full (the refusal starts the permit-wait clock).
    pub(crate) fn try_reserve(&self) -> Result<Option<InFlightSlot>, ConnectionError> {
        if self.shared.closing.load(Ordering::Acquire) {
            return Err(self.refused());
        }
        match self.shared.permits.clone().try_acquire_owned() {
            Ok(p) => Ok(Some(InFlightSlot::new(p, self.shared.clone()))),
            Err(TryAcquireError::Closed) => Err(self.refused()),
            Err(TryAcquireError::NoPermits) => {
                self.shared.stats.reservation_refused();
                Ok(None)
            }
        }
    }

    /// Queues `req` on a reserved slot. Synchronous, so requests queued
    /// from one task reach the wire in the order of these calls.
    pub(crate) fn enqueue(
        &self,
        slot: InFlightSlot,
        req: RawRequest,
    ) -> Result<PendingResponse, ConnectionError> {
        let header = self.validate(&req)?;
        if self.shared.closing.load(Ordering::Acquire) {
            return Err(self.refused());
        }
        let timeout = req.timeout.unwrap_or(self.request_timeout);
        let (reply, outcome) = oneshot::channel();
        let cmd = Command::Send(Outgoing {
            api_key: req.api_key,
            version: req.version,
            header,
            body: req.body,
            tail: req.tail,
            expects_response: req.expects_response,
            timeout,
            deadline: Instant::now() + timeout,
            reply,
            slot,
        });
        if self.commands.send(cmd).is_err() {
            return Err(self.refused());
        }
        Ok(PendingResponse {
            outcome,
            shared: self.shared.clone(),
        })
    }

    /// Queues `req` once an in-flight slot is free and waits for its outcome.
    pub(crate) async fn submit(&self, req: RawRequest) -> Result<Option<Bytes>, ConnectionError> {
        // Refuse an unsendable request before it waits for a slot.
        self.validate(&req)?;
        let slot = self.reserve().await?;
        self.enqueue(slot, req)?.await
    }
}

/// Adds the time since `started` to the permit-wait total when dropped.
struct WaitClock<'a> {
    shared: &'a Shared,
    started: Instant,
}

impl Drop for WaitClock<'_> {
    fn drop(&mut self) {
        self.shared.stats.add_permit_wait(self.started.elapsed());
    }
}

/// The outcome of a queued request: `Some(response body)`, or `None` for a
/// fire-and-forget request once written.
///
/// Dropping it does not cancel the request (it may already be on the wire);
/// its in-flight slot is released when the request completes.
#[derive(Debug)]
pub struct PendingResponse {
    outcome: oneshot::Receiver<Result<Option<Bytes>, ConnectionError>>,
    shared: Arc<Shared>,
}

impl Future for PendingResponse {
    type Output = Result<Option<Bytes>, ConnectionError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.outcome).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(r)) => Poll::Ready(r),
            // The task always answers before dropping a request; if it was
            // torn down without doing so (runtime shutdown), the request may
            // have been written.
            Poll::Ready(Err(_)) => Poll::Ready(Err(self
                .shared
                .closed_error(self.shared.refusal_reason(), SendState::MaybeSent))),
        }
    }
}
