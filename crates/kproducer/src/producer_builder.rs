//! [`ProducerBuilder`]: typed setters over [`ProducerConfig`] and what a
//! config cannot hold, and `build`, which validates and starts the core.

use super::*;

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
    pub(super) reports: Option<ReportSink>,
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
        /// `partitioner.adaptive.partitioning.enable` (on by default): keyless
        /// records go preferably to partitions with few batches waiting, so
        /// a slow broker or connection gets less (KIP-794).
        ///
        /// ```
        /// let _builder = kproducer::Producer::builder().partitioner_adaptive(false);
        /// ```
        partitioner_adaptive: bool
    );
    setter!(
        /// `partitioner.availability.timeout.ms` (zero, the default, is
        /// off): with adaptive partitioning, keyless records avoid a
        /// partition whose oldest batch has waited this long to be sent.
        ///
        /// ```
        /// use std::time::Duration;
        /// let _builder = kproducer::Producer::builder()
        ///     .partitioner_availability_timeout(Duration::from_secs(1));
        /// ```
        partitioner_availability_timeout: Duration
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
            (None, PartitionerKind::Default) => Box::new(
                DefaultPartitioner::new(c.batch_size, c.partitioner_ignore_keys, seed)
                    .adaptive(c.partitioner_adaptive),
            ),
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
