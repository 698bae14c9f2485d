//! Sending with a token instead of a future: [`Producer::try_send_reported`],
//! [`Producer::send_reported`] and the sink they report to,
//! [`ProducerBuilder::delivery_reports`]. Same checks and `buffer.memory`
//! backpressure as `try_send`/`send`; see [`DeliveryReports`].

use std::sync::Arc;

use super::{Producer, ProducerBuilder};
use crate::core::{Reply, ReportSink};
use crate::delivery_report::DeliveryReports;
use crate::error::{Error, TrySendError};
use crate::record::Record;

/// The builder method a producer needs before it takes tokens.
const BUILDER_METHOD: &str = "ProducerBuilder::delivery_reports";

impl ProducerBuilder {
    /// Where the outcomes of records sent with a token
    /// ([`Producer::send_reported`], [`Producer::try_send_reported`]) go:
    /// one call per batch, with every token of it. Records sent with
    /// [`send`](Producer::send) still resolve their futures; both may be
    /// mixed. The sink runs on the producer's core task and must not block
    /// (see [`DeliveryReports`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), kproducer::Error> {
    /// use std::sync::{Arc, Mutex};
    /// use kproducer::{DeliveryReport, Producer, Record};
    /// # use kproducer_fake_broker::FakeCluster;
    /// # let cluster = FakeCluster::builder().brokers(1).topic("orders", 1).build().unwrap();
    ///
    /// let written = Arc::new(Mutex::new(Vec::new()));
    /// let log = written.clone();
    /// let producer = Producer::builder()
    /// #   .bootstrap_servers(cluster.bootstrap_servers().split(','))
    /// #   .transport(Arc::new(cluster.transport()))
    ///     .delivery_reports(move |report: &DeliveryReport<'_>| {
    ///         let mut log = log.lock().unwrap();
    ///         log.extend(report.records().map(|r| (r.token, r.offset)));
    ///     })
    ///     .build()?;
    /// producer.send_reported(Record::new("orders", "a"), 100).await?;
    /// producer.send_reported(Record::new("orders", "b"), 200).await?;
    /// producer.flush().await?;
    /// assert_eq!(*written.lock().unwrap(), vec![(100, 0), (200, 1)]);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn delivery_reports(mut self, sink: impl DeliveryReports) -> Self {
        self.reports = Some(ReportSink(Arc::new(sink)));
        self
    }
}

impl Producer {
    /// [`try_send`](Self::try_send) without a future: the record's outcome
    /// goes to the producer's [`DeliveryReports`] sink with `token` (yours:
    /// an index, a send time…; the producer only carries it). Exactly one
    /// report per record accepted here; a record refused here (`Err`) gets
    /// none. No allocation, lock or wake-up per record.
    ///
    /// # Errors
    /// As [`try_send`](Self::try_send), each returning the record; and
    /// [`TrySendError::Invalid`] with [`Error::Config`] when the producer
    /// was built without [`ProducerBuilder::delivery_reports`].
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), kproducer::Error> {
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use kproducer::{DeliveryReport, Error, Producer, Record, TrySendError};
    /// # use kproducer_fake_broker::FakeCluster;
    /// # let cluster = FakeCluster::builder().brokers(1).topic("orders", 3).build().unwrap();
    ///
    /// let reported = Arc::new(AtomicU64::new(0));
    /// let count = reported.clone();
    /// let producer = Producer::builder()
    /// #   .bootstrap_servers(cluster.bootstrap_servers().split(','))
    /// #   .transport(Arc::new(cluster.transport()))
    ///     .delivery_reports(move |report: &DeliveryReport<'_>| {
    ///         count.fetch_add(report.records().count() as u64, Ordering::Relaxed);
    ///     })
    ///     .build()?;
    /// for token in 0..100 {
    ///     match producer.try_send_reported(Record::new("orders", "v"), token) {
    ///         Ok(()) => {}
    ///         Err(TrySendError::QueueFull(record)) => {
    ///             producer.send_reported(record, token).await?; // waits for room
    ///         }
    ///         Err(e) => return Err(Error::InvalidRecord { topic: "orders".into(), reason: e.to_string() }),
    ///     }
    /// }
    /// producer.flush().await?;
    /// assert_eq!(reported.load(Ordering::Relaxed), 100);
    /// # Ok(()) }
    /// ```
    // The record comes back by value in the error, as with `try_send`.
    #[allow(clippy::result_large_err)]
    pub fn try_send_reported(&self, record: Record, token: u64) -> Result<(), TrySendError> {
        if let Err(e) = self.check_reports() {
            return Err(TrySendError::Invalid(record, e));
        }
        match self.try_reserve(&record) {
            Ok(size) => self
                .hand_over(record, Reply::Token(token), size)
                .map_err(|record| TrySendError::Closed(*record, Error::Closed)),
            Err(refusal) => Err(refusal.with(record)),
        }
    }

    /// [`send`](Self::send) without a future: waits up to `max.block.ms`
    /// for room in `buffer.memory`, then hands the record over; its outcome
    /// goes to the [`DeliveryReports`] sink with `token`. Exactly one
    /// report per record accepted here; a record refused here (`Err`) gets
    /// none.
    ///
    /// # Errors
    /// As [`send`](Self::send); and [`Error::Config`] (key
    /// `delivery_reports`) when the producer was built without
    /// [`ProducerBuilder::delivery_reports`].
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// # use std::sync::Arc;
    /// use kproducer::{Error, Producer, Record};
    /// # use kproducer_fake_broker::FakeCluster;
    /// # let cluster = FakeCluster::builder().brokers(1).topic("orders", 1).build().unwrap();
    ///
    /// // Without a sink a token has nowhere to go: a typed error, not a panic.
    /// let producer = Producer::builder()
    /// #   .bootstrap_servers(cluster.bootstrap_servers().split(','))
    /// #   .transport(Arc::new(cluster.transport()))
    ///     .build()
    ///     .unwrap();
    /// let err = producer.send_reported(Record::new("orders", "v"), 1).await.unwrap_err();
    /// assert!(matches!(&err, Error::Config { key, .. } if key == "delivery_reports"));
    /// assert!(err.to_string().contains("ProducerBuilder::delivery_reports"));
    /// # }
    /// ```
    pub async fn send_reported(&self, record: Record, token: u64) -> Result<(), Error> {
        self.check_reports()?;
        let size = self.reserve(&record).await?;
        self.hand_over(record, Reply::Token(token), size)
            .map_err(|_| Error::Closed)
    }

    /// Whether the producer has a sink for tokens.
    #[inline]
    fn check_reports(&self) -> Result<(), Error> {
        if self.inner.shared.reports.is_some() {
            return Ok(());
        }
        Err(Error::config(
            "delivery_reports",
            format!(
                "this producer has no delivery-report sink, so a record sent with a token \
                 could never be reported: build it with {BUILDER_METHOD}(sink), or use \
                 send/try_send and their futures"
            ),
        ))
    }
}
