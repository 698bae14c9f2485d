//! The one step that resolves records: a record's [`Reply`] is either its
//! future's sending half or the caller's token for the delivery-report
//! sink, and every path that settles records (acknowledgement, failure of
//! a batch, a record refused outside any batch) goes through
//! [`Shared::resolve`], so the two kinds cannot diverge.

use std::any::Any;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::Shared;
use super::accumulator::Pending;
use crate::delivery::DeliverySender;
use crate::delivery_report::{BatchWritten, DeliveryReport, DeliveryReports};
use crate::error::Error;
use crate::metrics;
use crate::record::Topic;

/// How a record's outcome reaches its sender: 16 bytes either way (a unit
/// test checks it), so a batch's per-record entry does not grow.
#[derive(Debug)]
pub(crate) enum Reply {
    /// Sent with `send`/`try_send`: resolve its [`DeliveryFuture`](crate::DeliveryFuture).
    Future(DeliverySender),
    /// Sent with `send_reported`/`try_send_reported`: report this token to
    /// the sink.
    Token(u64),
}

impl Reply {
    /// The caller's token, for a record sent with one.
    #[inline]
    pub(crate) fn token(&self) -> Option<u64> {
        match self {
            Reply::Token(t) => Some(*t),
            Reply::Future(_) => None,
        }
    }
}

/// A batch's outcome, for [`Shared::resolve`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum BatchOutcome<'a> {
    /// Acknowledged.
    Written(BatchWritten),
    /// Failed, every record with this error.
    Failed(&'a Error),
}

/// The user's [`DeliveryReports`] sink, if the producer has one.
#[derive(Clone)]
pub(crate) struct ReportSink(pub(crate) Arc<dyn DeliveryReports>);

impl fmt::Debug for ReportSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReportSink(..)")
    }
}

impl Shared {
    /// Resolves every record of `records` (of `topic`'s `partition`, -1
    /// when none was chosen) with `outcome`: each future's sender in
    /// place, then one report with every token, if there is one. After
    /// this the entries hold nothing to resolve: dropping them is silent.
    pub(crate) fn resolve(
        &self,
        topic: &Topic,
        partition: i32,
        records: &mut [Pending],
        outcome: BatchOutcome<'_>,
    ) {
        let mut tokens = false;
        for (i, pending) in records.iter_mut().enumerate() {
            match &mut pending.reply {
                Reply::Future(sender) => match outcome {
                    BatchOutcome::Written(w) => {
                        let offset = if w.base_offset >= 0 {
                            w.base_offset + i as i64
                        } else {
                            -1
                        };
                        let timestamp = if w.log_append_time >= 0 {
                            w.log_append_time
                        } else {
                            pending.timestamp
                        };
                        sender.resolve_success(partition, offset, timestamp);
                    }
                    BatchOutcome::Failed(e) => sender.resolve_failure(e.clone()),
                },
                Reply::Token(_) => tokens = true,
            }
        }
        if !tokens {
            return;
        }
        let outcome = match outcome {
            BatchOutcome::Written(w) => Ok(w),
            BatchOutcome::Failed(e) => Err(e),
        };
        self.report(&DeliveryReport::new(topic, partition, outcome, records));
    }

    /// Fails a record that never entered the accumulator (refused by the
    /// core, or left in the intake when the core stopped): its
    /// `buffer.memory` back, counted as failed, its future resolved or its
    /// token reported.
    pub(crate) fn reject(&self, reply: Reply, reserved: usize, topic: &Topic, error: Error) {
        self.release(reserved);
        metrics::add(&self.metrics.records_failed, 1);
        let mut one = [Pending {
            reply,
            timestamp: -1,
        }];
        self.resolve(topic, -1, &mut one, BatchOutcome::Failed(&error));
    }

    /// Hands `report` to the sink. A panicking sink makes the producer
    /// fatal (the core notices at its next pass): see [`DeliveryReports`].
    fn report(&self, report: &DeliveryReport<'_>) {
        let Some(sink) = &self.reports else {
            // Unreachable in practice: sends with a token are refused
            // without a sink. Nothing to tell.
            return;
        };
        let called = catch_unwind(AssertUnwindSafe(|| sink.0.on_delivery(report)));
        if let Err(panic) = called {
            let error = Error::Fatal {
                reason: format!(
                    "the delivery-report sink panicked ({}); a sink must not panic: \
                     fix it and build a new producer",
                    panic_message(panic.as_ref())
                ),
                code: None,
            };
            tracing::error!(%error, "delivery-report sink panicked");
            let _ = self.fatal.set(error);
            self.closed.store(true, Ordering::Release);
        }
    }
}

/// The text of a panic's payload, when it is one.
fn panic_message(panic: &(dyn Any + Send)) -> &str {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s
    } else {
        "a non-text panic"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_is_as_small_as_a_future_sender() {
        assert!(std::mem::size_of::<Reply>() <= 16);
        assert!(std::mem::size_of::<Pending>() <= 24);
    }
}
