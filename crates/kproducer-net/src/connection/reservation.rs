//! An in-flight slot reserved ahead of building a request.
//!
//! The producer's sender reserves a slot first (waiting, and recording the
//! wait, when the connection's window is full), then assigns sequence
//! numbers and builds the Produce request, then queues it. Queueing is
//! synchronous, so requests a task queues reach the wire in the order it
//! queued them: sequence numbers assigned in that order stay in order.

use std::sync::Arc;

use super::error::ConnectionError;
use super::link::{Link, PendingResponse, RawRequest};
use super::task::InFlightSlot;

/// One reserved in-flight slot on a [`Connection`](super::Connection).
/// Dropping it unused frees the slot.
#[derive(Debug)]
pub struct Reservation {
    pub(crate) link: Arc<Link>,
    pub(crate) slot: InFlightSlot,
}

impl Reservation {
    /// Queues `request` on this slot and returns its outcome. The request
    /// is written after every request queued on the connection before it.
    pub fn send(self, request: RawRequest) -> Result<PendingResponse, ConnectionError> {
        self.link.enqueue(self.slot, request)
    }
}
