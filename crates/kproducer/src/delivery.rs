//! [`DeliveryFuture`]: the outcome of one record, resolved exactly once.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::oneshot;

use crate::error::Error;
use crate::record::RecordMetadata;

/// The result of delivering one record.
pub type DeliveryResult = Result<RecordMetadata, Error>;

/// Resolves exactly once, when the record is acknowledged
/// ([`RecordMetadata`]) or has definitively failed ([`Error`]).
///
/// Dropping the future does not cancel the record: it is still delivered.
/// If the producer goes away first, the future resolves to
/// [`Error::Dropped`] rather than staying pending.
///
/// ```no_run
/// # async fn demo(producer: kproducer::Producer) -> Result<(), kproducer::Error> {
/// use kproducer::Record;
/// let delivery = producer.send(Record::new("orders", "hello")).await?;
/// let metadata = delivery.await?;
/// println!("written at {metadata}");
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a DeliveryFuture tells whether the record was written; await it or drop it knowingly"]
pub struct DeliveryFuture {
    receiver: oneshot::Receiver<DeliveryResult>,
}

impl DeliveryFuture {
    pub(crate) fn new(receiver: oneshot::Receiver<DeliveryResult>) -> Self {
        DeliveryFuture { receiver }
    }

    /// The result if it is already known, without waiting.
    pub fn try_result(&mut self) -> Option<DeliveryResult> {
        match self.receiver.try_recv() {
            Ok(r) => Some(r),
            Err(oneshot::error::TryRecvError::Empty) => None,
            Err(oneshot::error::TryRecvError::Closed) => Some(Err(Error::Dropped)),
        }
    }
}

impl Future for DeliveryFuture {
    type Output = DeliveryResult;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.receiver)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(Error::Dropped)))
    }
}

/// The sending half the core completes: one per record.
pub(crate) type DeliverySender = oneshot::Sender<DeliveryResult>;

/// A new delivery channel.
pub(crate) fn channel() -> (DeliverySender, DeliveryFuture) {
    let (tx, rx) = oneshot::channel();
    (tx, DeliveryFuture::new(rx))
}
