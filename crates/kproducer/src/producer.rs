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

/// Builds a [`Producer`]: typed setters over [`ProducerConfig`] (Kafka 4.x
/// defaults), plus what a config cannot hold (a custom partitioner or
/// transport).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), kproducer::Error> {
/// use std::time::Duration;
/// use kproducer::{Acks, Producer};
///
/// let producer = Producer::builder()
///     .bootstrap_servers(["127.0.0.1:9092"])
///     .client_id("billing")
///     .acks(Acks::All)
///     .linger(Duration::from_millis(20))
///     .batch_size(64 * 1024)
///     .build()?; // connects lazily, on the first record
/// assert!(producer.is_idempotent());
///
/// let err = Producer::builder().build().unwrap_err();
/// assert!(err.to_string().contains("bootstrap.servers"));
/// # Ok(()) }
/// ```
#[derive(Default)]
pub struct ProducerBuilder {
    pub(crate) config: ProducerConfig,
    transport: Option<Arc<dyn Transport>>,
    partitioner: Option<Box<dyn Partitioner>>,
    sasl_mechanism: Option<Arc<dyn Mechanism>>,
    reports: Option<ReportSink>,
}

impl std::fmt::Debug for ProducerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProducerBuilder")
            .field("config", &self.config)
            .field("transport", &self.transport)
            .field("partitioner", &self.partitioner)
            .field("sasl_mechanism", &self.sasl_mechanism)
            .field("delivery_reports", &self.reports.is_some())
            .finish()
    }
}

macro_rules! setter {
    ($(#[$doc:meta])* $name:ident: $ty:ty) => {
        $(#[$doc])*
        #[must_use]
        pub fn $name(mut self, value: $ty) -> Self {
            self.config.$name = value;
            self
        }
    };
}

impl ProducerBuilder {
    /// Replaces every setting with `config` (for example one filled from
    /// properties).
    ///
    /// ```
    /// use kproducer::{Producer, ProducerConfig};
    ///
    /// let config = ProducerConfig::from_properties([
    ///     ("bootstrap.servers", "127.0.0.1:9092"),
    ///     ("linger.ms", "20"),
    /// ])?;
    /// let builder = Producer::builder().config(config);
    /// # drop(builder);
    /// # Ok::<(), kproducer::Error>(())
    /// ```
    #[must_use]
    pub fn config(mut self, config: ProducerConfig) -> Self {
        self.config = config;
        self
    }

    /// `bootstrap.servers`: `host:port` addresses.
    ///
    /// ```
    /// use kproducer::Producer;
    ///
    /// let builder = Producer::builder().bootstrap_servers(["10.0.0.1:9092", "10.0.0.2:9092"]);
    /// // A comma-separated list, as in a properties file, works too:
    /// let builder = builder.bootstrap_servers("10.0.0.1:9092,10.0.0.2:9092".split(','));
    /// # drop(builder);
    /// ```
    #[must_use]
    pub fn bootstrap_servers<I, S>(mut self, servers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.bootstrap_servers = servers.into_iter().map(Into::into).collect();
        self
    }

    /// `client.id`.
    ///
    /// ```
    /// let builder = kproducer::Producer::builder().client_id("billing-service");
    /// # drop(builder);
    /// ```
    #[must_use]
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.config.client_id = id.into();
        self
    }

    /// `enable.idempotence`, explicitly (conflicting settings then fail the
    /// build instead of turning it off).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use kproducer::{Acks, Producer};
    ///
    /// let servers = ["127.0.0.1:9092"];
    /// let err = Producer::builder()
    ///     .bootstrap_servers(servers)
    ///     .enable_idempotence(true)
    ///     .acks(Acks::Leader)
    ///     .build()
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("`acks`"));
    ///
    /// let plain = Producer::builder()
    ///     .bootstrap_servers(servers)
    ///     .enable_idempotence(false)
    ///     .build();
    /// assert!(!plain.unwrap().is_idempotent());
    /// # }
    /// ```
    #[must_use]
    pub fn enable_idempotence(mut self, on: bool) -> Self {
        self.config.enable_idempotence = Some(on);
        self
    }

    setter!(
        /// `acks`.
        ///
        /// ```
        /// let _builder = kproducer::Producer::builder().acks(kproducer::Acks::All);
        /// ```
        acks: Acks
    );
    setter!(
        /// `linger.ms`.
        ///
        /// ```
        /// use std::time::Duration;
        /// let _builder = kproducer::Producer::builder().linger(Duration::from_millis(20));
        /// ```
        linger: Duration
    );
    setter!(
        /// `batch.size`, in bytes.
        ///
        /// ```
        /// let _builder = kproducer::Producer::builder().batch_size(64 * 1024);
        /// ```
        batch_size: usize
    );
    setter!(
        /// `buffer.memory`, in bytes.
        ///
        /// ```
        /// let _builder = kproducer::Producer::builder().buffer_memory(64 * 1024 * 1024);
        /// ```
        buffer_memory: usize
    );
    setter!(
        /// `max.block.ms`.
        ///
        /// ```
        /// use std::time::Duration;
        /// let _builder = kproducer::Producer::builder().max_block(Duration::from_secs(5));
        /// ```
        max_block: Duration
    );
    setter!(
        /// `delivery.timeout.ms`.
        ///
        /// ```
        /// use std::time::Duration;
        /// let _builder = kproducer::Producer::builder().delivery_timeout(Duration::from_secs(60));
        /// ```
        delivery_timeout: Duration
    );
    setter!(
        /// `request.timeout.ms`.
        ///
        /// ```
        /// use std::time::Duration;
        /// let _builder = kproducer::Producer::builder().request_timeout(Duration::from_secs(10));
        /// ```
        request_timeout: Duration
    );
    setter!(
        /// `retry.backoff.ms`.
        ///
        /// ```
        /// use std::time::Duration;
        /// let _builder = kproducer::Producer::builder().retry_backoff(Duration::from_millis(50));
        /// ```
        retry_backoff: Duration
    );
    setter!(
        /// `retry.backoff.max.ms`.
        ///
        /// ```
        /// use std::time::Duration;
        /// let _builder = kproducer::Producer::builder().retry_backoff_max(Duration::from_secs(2));
        /// ```
        retry_backoff_max: Duration
    );
    setter!(
        /// `max.in.flight.requests.per.connection`.
        ///
        /// ```
        /// // With enable_idempotence(false), 1 keeps order across retries.
        /// let _builder = kproducer::Producer::builder().max_in_flight(1);
        /// ```
        max_in_flight: usize
    );
    setter!(
        /// `compression.type`.
        ///
        /// ```
        /// use kproducer::protocol::records::Compression;
        /// let _builder = kproducer::Producer::builder().compression(Compression::Zstd);
        /// ```
        compression: Compression
    );
    setter!(
        /// `max.request.size`, in bytes.
        ///
        /// ```
        /// let _builder = kproducer::Producer::builder().max_request_size(4 * 1024 * 1024);
        /// ```
        max_request_size: usize
    );
    setter!(
        /// `metadata.max.age.ms`.
        ///
        /// ```
        /// use std::time::Duration;
        /// let _builder = kproducer::Producer::builder().metadata_max_age(Duration::from_secs(60));
        /// ```
        metadata_max_age: Duration
    );
    setter!(
        /// `allow.auto.create.topics`.
        ///
        /// ```
        /// let _builder = kproducer::Producer::builder().allow_auto_create_topics(false);
        /// ```
        allow_auto_create_topics: bool
    );
    setter!(
        /// Built-in partitioner choice (`partitioner.class`).
        ///
        /// ```
        /// use kproducer::{PartitionerKind, Producer};
        /// let _builder = Producer::builder().partitioner_kind(PartitionerKind::RoundRobin);
        /// ```
        partitioner_kind: PartitionerKind
    );
    setter!(
        /// `partitioner.ignore.keys`.
        ///
        /// ```
        /// let _builder = kproducer::Producer::builder().partitioner_ignore_keys(true);
        /// ```
        partitioner_ignore_keys: bool
    );
    setter!(
        /// Adaptive connections per broker (on by default).
        ///
        /// ```
        /// // Each broker keeps scaler.min_width connections.
        /// let _builder = kproducer::Producer::builder().adaptive_connections(false);
        /// ```
        adaptive_connections: bool
    );
    setter!(
        /// The adaptive scaler's bounds and thresholds.
        ///
        /// ```
        /// use kproducer::Producer;
        /// use kproducer_net::ScalerConfig;
        ///
        /// let scaler = ScalerConfig { min_width: 2, max_width: 6, ..ScalerConfig::default() };
        /// let builder = Producer::builder().scaler(scaler);
        /// # drop(builder);
        /// ```
        scaler: ScalerConfig
    );
    setter!(
        /// How often the scaler looks at each broker.
        ///
        /// ```
        /// use std::time::Duration;
        /// use kproducer::Producer;
        /// let _builder = Producer::builder().scale_interval(Duration::from_millis(250));
        /// ```
        scale_interval: Duration
    );

    setter!(
        /// `security.protocol`. SSL wraps every connection in TLS with the
        /// [`ssl`](Self::ssl) settings.
        ///
        /// ```
        /// use kproducer::{Producer, SecurityProtocol};
        /// let _builder = Producer::builder().security_protocol(SecurityProtocol::Ssl);
        /// ```
        security_protocol: SecurityProtocol
    );
    setter!(
        /// The `ssl.*` settings: CA, client certificate and key, server-name
        /// check.
        ///
        /// ```
        /// use kproducer::{Producer, SecurityProtocol, SslConfig};
        /// use kproducer_net::{PemSource, PrivateKeySource};
        ///
        /// let _builder = Producer::builder()
        ///     .security_protocol(SecurityProtocol::Ssl)
        ///     .ssl(SslConfig {
        ///         ca: Some(PemSource::File("/etc/kafka/ca.pem".into())),
        ///         certificate: Some(PemSource::File("/etc/kafka/client.pem".into())),
        ///         key: Some(PrivateKeySource::File("/etc/kafka/client.key".into())),
        ///         ..SslConfig::default()
        ///     });
        /// ```
        ssl: SslConfig
    );

    /// Connections per broker: at least `min`, at most `max` (adaptive).
    ///
    /// ```
    /// let builder = kproducer::Producer::builder().connections(1, 8);
    /// # drop(builder);
    /// ```
    #[must_use]
    pub fn connections(mut self, min: usize, max: usize) -> Self {
        self.config.scaler.min_width = min;
        self.config.scaler.max_width = max;
        self
    }

    /// Fixes the seed of the sticky partitioner and backoff jitter.
    ///
    /// ```
    /// // Same seed, same keyless placement: reproducible tests.
    /// let builder = kproducer::Producer::builder().seed(42);
    /// # drop(builder);
    /// ```
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = Some(seed);
        self
    }

    /// The sequence each partition's first batch gets (default 0): a test
    /// seam for sequence wrap-around, see
    /// [`ProducerConfig::first_sequence`](crate::ProducerConfig::first_sequence).
    ///
    /// ```
    /// // Start close to i32::MAX to exercise wrap-around in a test.
    /// let builder = kproducer::Producer::builder().first_sequence(i32::MAX - 10);
    /// # drop(builder);
    /// ```
    #[must_use]
    pub fn first_sequence(mut self, sequence: i32) -> Self {
        self.config.first_sequence = sequence;
        self
    }

    /// A custom partitioner for records that name no partition.
    ///
    /// ```
    /// use kproducer::Producer;
    /// use kproducer::partitioner::{PartitionRequest, Partitioner};
    ///
    /// /// Puts records with a key starting with `vip-` on partition 0, the rest
    /// /// on the others in turn.
    /// #[derive(Debug, Default)]
    /// struct VipFirst {
    ///     next: u32,
    /// }
    ///
    /// impl Partitioner for VipFirst {
    ///     fn partition(&mut self, req: &PartitionRequest<'_>) -> i32 {
    ///         match req.key {
    ///             Some(key) if key.starts_with(b"vip-") || req.partitions == 1 => 0,
    ///             _ => {
    ///                 self.next = self.next.wrapping_add(1);
    ///                 (1 + self.next % (req.partitions - 1)) as i32
    ///             }
    ///         }
    ///     }
    /// }
    ///
    /// let builder = Producer::builder().partitioner(VipFirst::default());
    /// # drop(builder);
    /// ```
    #[must_use]
    pub fn partitioner(mut self, partitioner: impl Partitioner + 'static) -> Self {
        self.partitioner = Some(Box::new(partitioner));
        self
    }

    /// How connections are opened (default: TCP). Tests pass the fake
    /// broker's in-memory transport. `security.protocol` layers on top of
    /// it (SSL wraps it in TLS), so pass the plain transport here.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), kproducer::Error> {
    /// use std::sync::Arc;
    /// use kproducer::{Producer, Record};
    /// use kproducer_fake_broker::FakeCluster;
    ///
    /// let cluster = FakeCluster::builder().brokers(2).topic("orders", 4).build().unwrap();
    /// let producer = Producer::builder()
    ///     .bootstrap_servers(cluster.bootstrap_servers().split(','))
    ///     .transport(Arc::new(cluster.transport()))
    ///     .build()?;
    /// producer.send(Record::new("orders", "in memory")).await?.await?;
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// Authenticates every connection with SASL: `sasl.mechanism`,
    /// `sasl.username` and `sasl.password` in one call. The password is
    /// kept in a [`Secret`](crate::Secret) and never printed.
    ///
    /// Calling it asks for SASL, so it also switches `security.protocol`
    /// from `PLAINTEXT` to `SASL_PLAINTEXT` and from `SSL` to `SASL_SSL`
    /// (setting a non-SASL protocol afterwards makes `build` fail, rather
    /// than leave the credentials unused).
    ///
    /// A broker that refuses the credentials fails the producer at once
    /// with [`Error::Authentication`] (see its documentation).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), kproducer::Error> {
    /// use std::sync::Arc;
    /// use kproducer::{BuiltinMechanism, Error, Producer, Record};
    /// use kproducer_fake_broker::{FakeCluster, SaslServerConfig};
    ///
    /// let cluster = FakeCluster::builder()
    ///     .brokers(1)
    ///     .topic("orders", 1)
    ///     .sasl(SaslServerConfig::new().user("alice", "alice-secret"))
    ///     .build()
    ///     .unwrap();
    /// let producer = Producer::builder()
    ///     .bootstrap_servers(cluster.bootstrap_servers().split(','))
    ///     .transport(Arc::new(cluster.transport()))
    ///     .sasl(BuiltinMechanism::ScramSha256, "alice", "alice-secret")
    ///     .build()?;
    /// producer.send(Record::new("orders", "authenticated")).await?.await?;
    ///
    /// let intruder = Producer::builder()
    ///     .bootstrap_servers(cluster.bootstrap_servers().split(','))
    ///     .transport(Arc::new(cluster.transport()))
    ///     .sasl(BuiltinMechanism::ScramSha256, "alice", "guess")
    ///     .build()?;
    /// let refused = intruder.send(Record::new("orders", "no")).await?.await;
    /// assert!(matches!(refused, Err(Error::Authentication { .. })));
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn sasl(
        mut self,
        mechanism: BuiltinMechanism,
        username: impl Into<String>,
        password: impl Into<Secret>,
    ) -> Self {
        self.config.sasl_mechanism = Some(mechanism);
        self.config.sasl_username = Some(username.into());
        self.config.sasl_password = Some(password.into());
        self.config.security_protocol = self.config.security_protocol.with_sasl();
        self
    }

    /// Authenticates every connection with a mechanism of your own (an
    /// implementation of [`Mechanism`], such as an OAUTHBEARER token
    /// provider). Takes precedence over the `sasl.*` settings, and
    /// switches `security.protocol` to its SASL form as
    /// [`sasl`](Self::sasl) does.
    #[must_use]
    pub fn sasl_mechanism(mut self, mechanism: Arc<dyn Mechanism>) -> Self {
        self.sasl_mechanism = Some(mechanism);
        self.config.security_protocol = self.config.security_protocol.with_sasl();
        self
    }

    /// Validates the settings and starts the producer's task on the current
    /// tokio runtime. Nothing connects until the first record.
    ///
    /// # Errors
    /// [`Error::Config`] naming the offending setting, or when called
    /// outside a tokio runtime.
    ///
    /// # Examples
    /// ```
    /// use kproducer::{Error, Producer};
    ///
    /// // Outside a runtime: a typed error, not a panic.
    /// let err = Producer::builder().bootstrap_servers(["127.0.0.1:9092"]).build().unwrap_err();
    /// assert!(matches!(&err, Error::Config { key, .. } if key == "runtime"));
    ///
    /// let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// let producer = runtime.block_on(async {
    ///     Producer::builder().bootstrap_servers(["127.0.0.1:9092"]).build()
    /// })?;
    /// # drop(producer);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn build(self) -> Result<Producer, Error> {
        let settings = self.config.validate()?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::config(
                "runtime",
                "Producer::build must be called inside a tokio runtime",
            )
        })?;
        let c = &settings.config;
        let seed = c.seed.unwrap_or_else(|| {
            std::hash::BuildHasher::hash_one(&std::hash::RandomState::new(), 0u8)
        });
        let partitioner: Box<dyn Partitioner> = match (self.partitioner, c.partitioner_kind) {
            (Some(p), _) => p,
            (None, PartitionerKind::Default) => Box::new(DefaultPartitioner::new(
                c.batch_size,
                c.partitioner_ignore_keys,
                seed,
            )),
            (None, PartitionerKind::RoundRobin) => Box::new(RoundRobin::default()),
        };
        let base = self
            .transport
            .unwrap_or_else(|| Arc::new(TcpTransport::default()));
        let transport = crate::security::layered_transport(
            base,
            self.sasl_mechanism,
            c,
            DEFAULT_CONNECT_TIMEOUT,
        )?;
        let shared = Arc::new(Shared::with_reports(c.buffer_memory, self.reports));
        let transport: Arc<dyn Transport> = Arc::new(AuthWatch::new(transport, shared.clone()));
        let stranded = shared.clone();
        let (tx, rx) = intake::channel(move |command: Command| command.strand(&stranded));
        let core = Core::new(settings.clone(), shared.clone(), transport, rx, partitioner);
        runtime.spawn(core.run());
        Ok(Producer {
            inner: Arc::new(Inner {
                commands: tx,
                shared,
                settings,
            }),
        })
    }
}

#[path = "reported_send.rs"]
mod reported_send;
