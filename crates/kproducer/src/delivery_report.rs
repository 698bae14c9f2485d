//! Delivery reports: the outcome of records sent with a caller's token
//! ([`Producer::try_send_reported`](crate::Producer::try_send_reported),
//! [`Producer::send_reported`](crate::Producer::send_reported)), handed to
//! a [`DeliveryReports`] sink once per batch instead of through a future
//! per record.
//!
//! A record sent this way costs no delivery slot, no waker and no wake-up:
//! its entry in the batch holds the caller's `u64` token, and when the
//! batch's outcome is known the producer's core task calls the sink once
//! with every token of the batch (librdkafka's `dr_cb`, Java's `Callback`,
//! batched). See `docs/producer-internals.md`, "Delivery reports".

use std::fmt;

use crate::core::accumulator::Pending;
use crate::error::Error;
use crate::record::Topic;

/// Where the outcomes of records sent with a token go: one call per batch
/// outcome (or per group of records failed together), every token exactly
/// once.
///
/// **The sink runs on the producer's core task**, the one task that batches,
/// sends and completes every record. Like librdkafka's delivery-report
/// callback it must be quick and must not block: no locks held for long,
/// no blocking I/O, no `block_on`. Record what you need (count, time, wake
/// a task of yours) and return. While it runs, no other record of the
/// producer makes progress. (Only when the tokio runtime is shut down
/// under a running producer is the sink called from the thread that drops
/// the runtime, for the records the producer still held.)
///
/// When the sink is called, the reported records' `buffer.memory` is
/// already free and the producer's metrics count them, so a sink may wake
/// a sender waiting for room.
///
/// A sink that **panics** stops the producer: the panic is caught, the
/// producer fails with [`Error::Fatal`] (every outstanding record is
/// reported failed, every later send refused), and the panic message is in
/// the error. Build a new producer after fixing the sink. (With
/// `panic = "abort"` the process aborts instead, as with any panic.)
///
/// Any `Fn(&DeliveryReport<'_>) + Send + Sync + 'static` is a sink:
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), kproducer::Error> {
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use kproducer::{DeliveryReport, Producer, Record};
/// # use kproducer_fake_broker::FakeCluster;
/// # let cluster = FakeCluster::builder().brokers(1).topic("orders", 1).build().unwrap();
///
/// let acked = Arc::new(AtomicU64::new(0));
/// let counter = acked.clone();
/// let producer = Producer::builder()
/// #   .bootstrap_servers(cluster.bootstrap_servers().split(','))
/// #   .transport(Arc::new(cluster.transport()))
///     .delivery_reports(move |report: &DeliveryReport<'_>| {
///         if report.result().is_ok() {
///             counter.fetch_add(report.records().count() as u64, Ordering::Relaxed);
///         }
///     })
///     .build()?;
/// for n in 0..10 {
///     producer.send_reported(Record::new("orders", format!("order {n}")), n).await?;
/// }
/// producer.flush().await?;
/// assert_eq!(acked.load(Ordering::Relaxed), 10);
/// # Ok(()) }
/// ```
pub trait DeliveryReports: Send + Sync + 'static {
    /// Called once per batch outcome with the tokens of the records it
    /// resolves, in send order. Runs on the producer's core task: must not
    /// block (see the trait's docs).
    fn on_delivery(&self, report: &DeliveryReport<'_>);
}

impl<F> DeliveryReports for F
where
    F: Fn(&DeliveryReport<'_>) + Send + Sync + 'static,
{
    fn on_delivery(&self, report: &DeliveryReport<'_>) {
        self(report);
    }
}

/// Where a batch was written: the first record's offset and the broker's
/// log-append time.
///
/// ```
/// use kproducer::BatchWritten;
/// let written = BatchWritten { base_offset: 40, log_append_time: -1 };
/// assert_eq!(written.base_offset + 2, 42, "the third record of the batch");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchWritten {
    /// Offset of the batch's first record; -1 when unknown (`acks=0`).
    pub base_offset: i64,
    /// The broker's timestamp for the batch when the topic uses
    /// `LogAppendTime`, else -1 (the records keep their CreateTime).
    pub log_append_time: i64,
}

/// One batch's outcome (or that of records failed together outside a
/// batch), as the [`DeliveryReports`] sink sees it. Borrowed for the call:
/// copy out what you keep.
///
/// ```
/// use kproducer::DeliveryReport;
///
/// fn log(report: &DeliveryReport<'_>) {
///     match report.result() {
///         Ok(_) => {
///             for record in report.records() {
///                 println!("token {} written at offset {}", record.token, record.offset);
///             }
///         }
///         Err(e) => println!("{} records of {} failed: {e}", report.records().count(), report.topic()),
///     }
/// }
/// # let _ = log;
/// ```
pub struct DeliveryReport<'a> {
    topic: &'a Topic,
    partition: i32,
    outcome: Result<BatchWritten, &'a Error>,
    /// The batch's records; entries sent with a future are skipped.
    records: &'a [Pending],
}

impl<'a> DeliveryReport<'a> {
    /// A report of `records` (only their token entries are shown).
    pub(crate) fn new(
        topic: &'a Topic,
        partition: i32,
        outcome: Result<BatchWritten, &'a Error>,
        records: &'a [Pending],
    ) -> Self {
        DeliveryReport {
            topic,
            partition,
            outcome,
            records,
        }
    }

    /// The records' topic.
    #[must_use]
    pub fn topic(&self) -> &'a Topic {
        self.topic
    }

    /// The records' partition; -1 for records that failed before one was
    /// chosen (metadata never arrived, the producer closed first, …).
    #[must_use]
    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// Written (where), or why every record of the report failed. The
    /// error is borrowed: one error for the whole batch, not a clone per
    /// record.
    ///
    /// # Errors
    /// The records' failure, exactly what a [`DeliveryFuture`](crate::DeliveryFuture)
    /// of one of them would have resolved to.
    pub fn result(&self) -> Result<BatchWritten, &'a Error> {
        self.outcome
    }

    /// The records sent with a token, in send order, each with its offset
    /// (and timestamp). Records of the same batch sent with
    /// [`send`](crate::Producer::send) are not listed (their futures
    /// resolve instead).
    #[must_use]
    pub fn records(&self) -> ReportedRecords<'a> {
        ReportedRecords {
            base_offset: self.outcome.ok().map_or(-1, |w| w.base_offset),
            log_append_time: self.outcome.ok().map_or(-1, |w| w.log_append_time),
            records: self.records.iter().enumerate(),
        }
    }
}

impl fmt::Debug for DeliveryReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeliveryReport")
            .field("topic", &self.topic)
            .field("partition", &self.partition)
            .field("outcome", &self.outcome)
            .field("records", &self.records().count())
            .finish()
    }
}

/// One record of a [`DeliveryReport`].
///
/// ```
/// use kproducer::ReportedRecord;
/// let record = ReportedRecord { token: 7, offset: 41, timestamp: 1_700_000_000_000 };
/// assert_eq!(record.token, 7);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportedRecord {
    /// The token the record was sent with.
    pub token: u64,
    /// Its offset; -1 when it failed or the offset is unknown (`acks=0`).
    pub offset: i64,
    /// Its timestamp: the broker's log-append time, or the record's
    /// CreateTime (milliseconds since the Unix epoch); -1 for a record
    /// that failed before it was stamped.
    pub timestamp: i64,
}

/// The [`ReportedRecord`]s of a [`DeliveryReport`], in send order.
///
/// ```
/// use kproducer::DeliveryReport;
/// fn tokens(report: &DeliveryReport<'_>) -> Vec<u64> {
///     report.records().map(|r| r.token).collect()
/// }
/// # let _ = tokens;
/// ```
#[derive(Debug, Clone)]
pub struct ReportedRecords<'a> {
    base_offset: i64,
    log_append_time: i64,
    records: std::iter::Enumerate<std::slice::Iter<'a, Pending>>,
}

impl Iterator for ReportedRecords<'_> {
    type Item = ReportedRecord;

    #[inline]
    fn next(&mut self) -> Option<ReportedRecord> {
        for (i, pending) in self.records.by_ref() {
            if let Some(token) = pending.reply.token() {
                return Some(ReportedRecord {
                    token,
                    offset: if self.base_offset >= 0 {
                        self.base_offset + i as i64
                    } else {
                        -1
                    },
                    timestamp: if self.log_append_time >= 0 {
                        self.log_append_time
                    } else {
                        pending.timestamp
                    },
                });
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, self.records.size_hint().1)
    }
}
