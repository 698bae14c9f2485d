//! The caller side of a connection: state shared with its task, and the
//! path a request takes from a caller to the task's queue.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
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
    pub(crate) permits: Arc<Semaphore>,
    pub(crate) stats: ConnectionStats,
    pub(crate) closed: OnceLock<Closed>,
    /// Set by a graceful close: new requests are refused at once.
    pub(crate) closing: AtomicBool,
    /// Wakes the task for an immediate close.
    abort: Notify,
    /// Why the immediate close was asked for (first reason wins).
    abort_reason: OnceLock<CloseReason>,
}

impl Shared {
    pub(crate) fn new(broker: BrokerAddress, max_in_flight: usize, slot: Option<usize>) -> Self {
        Self {
            broker,
            slot,
            permits: Arc::new(Semaphore::new(max_in_flight.max(1))),
            stats: ConnectionStats::new(),
            closed: OnceLock::new(),
            closing: AtomicBool::new(false),
            abort: Notify::new(),
            abort_reason: OnceLock::new(),
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
    /// The encoded body (without header).
    pub body: Bytes,
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

    /// Queues `req` once an in-flight slot is free and waits for its outcome.
    pub(crate) async fn submit(&self, req: RawRequest) -> Result<Option<Bytes>, ConnectionError> {
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
        let len = header.len() + req.body.len();
        if i32::try_from(len).is_err() {
            return Err(encode_err(kproducer_protocol::EncodeError::TooLong {
                what: "request frame",
                length: len,
            }));
        }
        if self.shared.closing.load(Ordering::Acquire) {
            return Err(self.refused());
        }

        let started = Instant::now();
        let permit = match self.shared.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(TryAcquireError::Closed) => return Err(self.refused()),
            Err(TryAcquireError::NoPermits) => {
                let p = self.shared.permits.clone().acquire_owned().await;
                self.shared.stats.add_permit_wait(started.elapsed());
                p.map_err(|_| self.refused())?
            }
        };
        let slot = InFlightSlot::new(permit, self.shared.clone());

        let timeout = req.timeout.unwrap_or(self.request_timeout);
        let (reply, outcome) = oneshot::channel();
        let cmd = Command::Send(Outgoing {
            api_key: req.api_key,
            version: req.version,
            header,
            body: req.body,
            expects_response: req.expects_response,
            timeout,
            deadline: Instant::now() + timeout,
            reply,
            slot,
        });
        if self.commands.send(cmd).is_err() {
            return Err(self.refused());
        }
        match outcome.await {
            Ok(r) => r,
            // The task always answers before dropping a request; if it was
            // torn down without doing so (runtime shutdown), the request may
            // have been written.
            Err(_) => Err(self
                .shared
                .closed_error(self.shared.refusal_reason(), SendState::MaybeSent)),
        }
    }
}
