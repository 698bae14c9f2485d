//! [`Producer`], the handle users hold, and [`ProducerBuilder`].

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use kproducer_net::{
    BuiltinMechanism, DEFAULT_CONNECT_TIMEOUT, Mechanism, ScalerConfig, Secret, TcpTransport,
    Transport,
};
use kproducer_protocol::records::Compression;
use tokio::sync::{TryAcquireError, oneshot};

use crate::config::{Acks, PartitionerKind, ProducerConfig, Settings};
use crate::core::auth_watch::AuthWatch;
use crate::core::intake::{self, IntakeSender};
use crate::core::{Command, Core, Envelope, Reply, ReportSink, Shared};
use crate::delivery::{self, DeliveryFuture};
use crate::error::{Error, TrySendError};
use crate::metrics::ProducerMetrics;
use crate::partitioner::{DefaultPartitioner, Partitioner, RoundRobin};
use crate::record::Record;
use crate::security::{SecurityProtocol, SslConfig};

/// A Kafka producer. Cheap to clone; every clone feeds the same producer.
///
/// Build one with [`Producer::builder`]. It connects lazily: the first
/// record triggers metadata, the producer id (with idempotence) and
/// connections. Records resolve through their [`DeliveryFuture`].
///
/// ```no_run
/// # async fn demo() -> Result<(), kproducer::Error> {
/// use std::time::Duration;
/// use kproducer::{Producer, Record, Topic};
///
/// let producer = Producer::builder()
///     .bootstrap_servers(["127.0.0.1:9092"])
///     .linger(Duration::from_millis(10))
///     .build()?;
/// let orders = Topic::new("orders");
/// let delivery = producer.send(Record::new(orders.clone(), "hello").with_key("k1")).await?;
/// let written = delivery.await?;
/// println!("{written}");
/// producer.close(Duration::from_secs(5)).await;
/// # Ok(()) }
/// ```
///
/// Dropping every clone without [`close`](Self::close) fails the records
/// still outstanding with [`Error::Dropped`]: nothing stays pending and
/// nothing is lost silently.
#[derive(Debug, Clone)]
pub struct Producer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The ordered queue to the core (`core/intake.rs`).
    commands: IntakeSender<Command>,
    shared: Arc<Shared>,
    settings: Settings,
}

impl Producer {
    /// A builder with Kafka 4.x defaults.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kproducer::Error> {
    /// use kproducer::Producer;
    ///
    /// let producer = Producer::builder().bootstrap_servers(["127.0.0.1:9092"]).build()?;
    /// assert!(producer.is_idempotent()); // connects on the first record
    /// # Ok(()) }
    /// ```
    pub fn builder() -> ProducerBuilder {
        ProducerBuilder::default()
    }

    /// Whether idempotence is on (asked for, or the default and nothing
    /// conflicts with it).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kproducer::Error> {
    /// use kproducer::{Acks, Producer};
    ///
    /// let servers = ["127.0.0.1:9092"];
    /// assert!(Producer::builder().bootstrap_servers(servers).build()?.is_idempotent());
    /// // acks=1 conflicts with idempotence, which is then quietly off (KIP-679).
    /// let leader_only =
    ///     Producer::builder().bootstrap_servers(servers).acks(Acks::Leader).build()?;
    /// assert!(!leader_only.is_idempotent());
    /// # Ok(()) }
    /// ```
    pub fn is_idempotent(&self) -> bool {
        self.inner.settings.idempotent
    }

    /// Hands `record` to the producer, waiting up to `max.block.ms` for
    /// room in `buffer.memory`. The returned future resolves when the
    /// record is acknowledged or has failed.
    ///
    /// # Errors
    /// [`Error::BufferTimeout`] after `max.block.ms` without room;
    /// [`Error::RecordTooLarge`] for a record above `max.request.size` or
    /// `buffer.memory`; [`Error::Closed`] / [`Error::Fatal`] once the
    /// producer is closed or failed.
    ///
    /// # Examples
    /// Awaiting `send` only hands the record over; awaiting the returned
    /// [`DeliveryFuture`] waits for the broker:
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), kproducer::Error> {
    /// # use std::sync::Arc;
    /// # use kproducer::Producer;
    /// # use kproducer_fake_broker::FakeCluster;
    /// # let cluster = FakeCluster::builder().brokers(1).topic("orders", 3).build().unwrap();
    /// # let producer = Producer::builder()
    /// #     .bootstrap_servers(cluster.bootstrap_servers().split(','))
    /// #     .transport(Arc::new(cluster.transport()))
    /// #     .build()?;
    /// use kproducer::{Record, Topic};
    ///
    /// let orders = Topic::new("orders");
    /// let delivery = producer.send(Record::new(orders.clone(), "hello").with_partition(2)).await?;
    /// let written = delivery.await?;
    /// assert_eq!((written.partition, written.offset), (2, 0));
    /// # Ok(()) }
    /// ```
    pub async fn send(&self, record: Record) -> Result<DeliveryFuture, Error> {
        let size = self.reserve(&record).await?;
        self.enqueue(record, size).map_err(|_| Error::Closed)
    }

    /// Checks `record` and takes its `buffer.memory`, waiting up to
    /// `max.block.ms`: what [`send`](Self::send) and
    /// [`send_reported`](Self::send_reported) share.
    async fn reserve(&self, record: &Record) -> Result<usize, Error> {
        self.check_open()?;
        let size = self.check_size(record)?;
        let shared = &self.inner.shared;
        let permits = u32::try_from(size).unwrap_or(u32::MAX);
        match shared.buffer.try_acquire_many(permits) {
            Ok(p) => p.forget(),
            Err(TryAcquireError::Closed) => return Err(Error::Closed),
            Err(TryAcquireError::NoPermits) => {
                let max_block = self.inner.settings.config.max_block;
                match tokio::time::timeout(max_block, shared.buffer.acquire_many(permits)).await {
                    Ok(Ok(p)) => p.forget(),
                    Ok(Err(_)) => return Err(Error::Closed),
                    Err(_) => {
                        return Err(Error::BufferTimeout {
                            waited: max_block,
                            buffer_memory: shared.buffer_memory,
                        });
                    }
                }
            }
        }
        Ok(size)
    }

    /// Hands `record` to the producer only if `buffer.memory` has room now;
    /// otherwise gives it back at once.
    ///
    /// # Errors
    /// [`TrySendError::QueueFull`] when the buffer is full,
    /// [`TrySendError::Invalid`] for a record that can never be sent,
    /// [`TrySendError::Closed`] once the producer is closed; each returns
    /// the record.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), kproducer::Error> {
    /// # use std::sync::Arc;
    /// # use kproducer::Producer;
    /// # use kproducer_fake_broker::FakeCluster;
    /// # let cluster = FakeCluster::builder().brokers(1).topic("orders", 3).build().unwrap();
    /// # let producer = Producer::builder()
    /// #     .bootstrap_servers(cluster.bootstrap_servers().split(','))
    /// #     .transport(Arc::new(cluster.transport()))
    /// #     .buffer_memory(100)
    /// #     .build()?;
    /// use kproducer::{Record, TrySendError};
    ///
    /// // 100 bytes of buffer.memory hold one 50-byte record, not two.
    /// let Ok(first) = producer.try_send(Record::new("orders", vec![0u8; 50])) else {
    ///     panic!("an empty buffer has room");
    /// };
    /// match producer.try_send(Record::new("orders", vec![1u8; 50])) {
    ///     Err(TrySendError::QueueFull(record)) => {
    ///         // Full right now: the record came back. Hand it to `send`,
    ///         // which waits for room (up to max.block.ms).
    ///         first.await?;
    ///         producer.send(record).await?.await?;
    ///     }
    ///     Err(TrySendError::Closed(_, e) | TrySendError::Invalid(_, e)) => return Err(e),
    ///     Err(other) => panic!("{other}"),
    ///     Ok(_) => panic!("two records do not fit in 100 bytes"),
    /// }
    /// # Ok(()) }
    /// ```
    // The record comes back by value in the error, as tokio's channels do:
    // boxing it would allocate on the path taken under backpressure.
    #[allow(clippy::result_large_err)]
    pub fn try_send(&self, record: Record) -> Result<DeliveryFuture, TrySendError> {
        match self.try_reserve(&record) {
            Ok(size) => self
                .enqueue(record, size)
                .map_err(|record| TrySendError::Closed(*record, Error::Closed)),
            Err(refusal) => Err(refusal.with(record)),
        }
    }

    /// Checks `record` and takes its `buffer.memory` if there is room now:
    /// what [`try_send`](Self::try_send) and
    /// [`try_send_reported`](Self::try_send_reported) share. The record
    /// stays with the caller (it is not moved in and out).
    #[inline]
    fn try_reserve(&self, record: &Record) -> Result<usize, Refusal> {
        self.check_open().map_err(Refusal::Closed)?;
        let size = self.check_size(record).map_err(Refusal::Invalid)?;
        let permits = u32::try_from(size).unwrap_or(u32::MAX);
        match self.inner.shared.buffer.try_acquire_many(permits) {
            Ok(p) => p.forget(),
            Err(TryAcquireError::NoPermits) => return Err(Refusal::Full),
            Err(TryAcquireError::Closed) => return Err(Refusal::Closed(Error::Closed)),
        }
        Ok(size)
    }

    /// Resolves once every record sent before the call is resolved
    /// (acknowledged or failed). Open batches are sent without waiting for
    /// `linger.ms`.
    ///
    /// # Errors
    /// [`Error::Closed`] if the producer has stopped.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), kproducer::Error> {
    /// # use std::sync::Arc;
    /// # use kproducer::Producer;
    /// # use kproducer_fake_broker::FakeCluster;
    /// # let cluster = FakeCluster::builder().brokers(1).topic("orders", 3).build().unwrap();
    /// # let producer = Producer::builder()
    /// #     .bootstrap_servers(cluster.bootstrap_servers().split(','))
    /// #     .transport(Arc::new(cluster.transport()))
    /// #     .build()?;
    /// use kproducer::Record;
    ///
    /// let mut deliveries = Vec::new();
    /// for n in 0..10 {
    ///     deliveries.push(producer.send(Record::new("orders", format!("order {n}"))).await?);
    /// }
    /// producer.flush().await?;
    /// for mut delivery in deliveries {
    ///     assert!(delivery.try_result().is_some(), "flush waited for every record");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn flush(&self) -> Result<(), Error> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .commands
            .send(Command::Flush(tx))
            .map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)
    }

    /// Refuses new records, delivers what is outstanding for up to
    /// `timeout`, fails what is left with [`Error::Closed`], and stops the
    /// producer (connections close). Idempotent: later calls return at once.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), kproducer::Error> {
    /// # use std::sync::Arc;
    /// # use kproducer::Producer;
    /// # use kproducer_fake_broker::FakeCluster;
    /// # let cluster = FakeCluster::builder().brokers(1).topic("orders", 3).build().unwrap();
    /// # let producer = Producer::builder()
    /// #     .bootstrap_servers(cluster.bootstrap_servers().split(','))
    /// #     .transport(Arc::new(cluster.transport()))
    /// #     .build()?;
    /// use std::time::Duration;
    /// use kproducer::{Error, Record};
    ///
    /// let delivery = producer.send(Record::new("orders", "last one")).await?;
    /// producer.close(Duration::from_secs(5)).await;
    /// assert!(delivery.await.is_ok(), "outstanding records are delivered first");
    /// assert!(matches!(producer.send(Record::new("orders", "late")).await, Err(Error::Closed)));
    /// # Ok(()) }
    /// ```
    pub async fn close(&self, timeout: Duration) {
        self.inner.shared.closed.store(true, Ordering::Release);
        let (done, rx) = oneshot::channel();
        if self
            .inner
            .commands
            .send(Command::Close { timeout, done })
            .is_ok()
        {
            let _ = rx.await;
        }
    }

    /// A snapshot of the producer's counters.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), kproducer::Error> {
    /// # use std::sync::Arc;
    /// # use kproducer::Producer;
    /// # use kproducer_fake_broker::FakeCluster;
    /// # let cluster = FakeCluster::builder().brokers(1).topic("orders", 3).build().unwrap();
    /// # let producer = Producer::builder()
    /// #     .bootstrap_servers(cluster.bootstrap_servers().split(','))
    /// #     .transport(Arc::new(cluster.transport()))
    /// #     .build()?;
    /// use kproducer::Record;
    ///
    /// producer.send(Record::new("orders", "hello")).await?.await?;
    /// let metrics = producer.metrics();
    /// assert_eq!(metrics.records_sent, 1);
    /// assert_eq!(metrics.records_failed, 0);
    /// # Ok(()) }
    /// ```
    pub fn metrics(&self) -> ProducerMetrics {
        let shared = &self.inner.shared;
        shared
            .metrics
            .snapshot(shared.buffer_used(), shared.buffer_memory)
    }

    fn check_open(&self) -> Result<(), Error> {
        let shared = &self.inner.shared;
        if let Some(e) = shared.fatal.get() {
            return Err(e.clone());
        }
        if shared.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        if self.inner.settings.config.transactional_id.is_some()
            && !shared.in_transaction.load(Ordering::Acquire)
        {
            return Err(crate::TransactionError::NoTransaction.into());
        }
        Ok(())
    }

    /// Sends a command to the core (transactions use it).
    pub(crate) fn command(&self, command: Command) -> Result<(), Error> {
        self.inner.commands.send(command).map_err(|_| Error::Closed)
    }

    /// The settings the producer runs with.
    pub(crate) fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    fn check_size(&self, record: &Record) -> Result<usize, Error> {
        let size = record.size_bound();
        let c = &self.inner.settings.config;
        if size > c.max_request_size {
            return Err(Error::RecordTooLarge {
                size,
                limit: c.max_request_size,
                setting: "max.request.size",
            });
        }
        if size > c.buffer_memory {
            return Err(Error::RecordTooLarge {
                size,
                limit: c.buffer_memory,
                setting: "buffer.memory",
            });
        }
        Ok(size)
    }

    /// Hands the record to the core; gives it back if the core is gone.
    #[inline(always)]
    fn enqueue(&self, record: Record, size: usize) -> Result<DeliveryFuture, Box<Record>> {
        let (reply, future) = delivery::channel(&record.topic);
        self.hand_over(record, Reply::Future(reply), size)?;
        Ok(future)
    }

    /// Hands the record and how to tell its outcome to the core; gives the
    /// record back (its `buffer.memory` released, `reply` dropped unread)
    /// if the core is gone.
    // Always inlined: it takes the record by value, and a call would copy
    // it once more on the way to the intake (measured: +64 instructions
    // per record of memcpy when the compiler chose not to inline it).
    #[inline(always)]
    fn hand_over(&self, record: Record, reply: Reply, size: usize) -> Result<(), Box<Record>> {
        let command = Command::Record(Envelope {
            record,
            reply,
            reserved: size,
        });
        match self.inner.commands.send(command) {
            Ok(()) => Ok(()),
            Err(command) => {
                self.inner.shared.release(size);
                match command {
                    // The caller gets the record back instead of an
                    // outcome.
                    Command::Record(envelope) => Err(Box::new(envelope.record)),
                    // `send` hands back exactly the command it was given,
                    // built just above as `Command::Record`.
                    _ => unreachable!("the intake returned a different command"),
                }
            }
        }
    }
}

/// Why [`Producer::try_reserve`] refused a record (the record itself stays
/// with the caller until it is put in a [`TrySendError`]).
#[derive(Debug)]
pub(crate) enum Refusal {
    /// `buffer.memory` is full right now.
    Full,
    /// The producer is closed or failed.
    Closed(Error),
    /// The record can never be sent.
    Invalid(Error),
}

impl Refusal {
    /// The [`TrySendError`] that hands `record` back.
    pub(crate) fn with(self, record: Record) -> TrySendError {
        match self {
            Refusal::Full => TrySendError::QueueFull(record),
            Refusal::Closed(e) => TrySendError::Closed(record, e),
            Refusal::Invalid(e) => TrySendError::Invalid(record, e),
        }
    }
}

#[path = "producer_builder.rs"]
mod builder;
pub use builder::ProducerBuilder;

#[path = "reported_send.rs"]
mod reported_send;
