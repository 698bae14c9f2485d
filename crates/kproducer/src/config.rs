//! [`ProducerConfig`]: every setting, with Kafka 4.x defaults, as a plain
//! struct with public fields (so `from_properties` and users can fill it),
//! and [`ProducerConfig::validate`], which turns it into the settings the
//! producer runs with or an error naming the offending key.

use std::time::Duration;

use kproducer_net::{BuiltinMechanism, ScalerConfig, ScalerConfigError, Secret};
use kproducer_protocol::records::Compression;

use crate::error::Error;
use crate::security::{SecurityProtocol, SslConfig};

/// How many acknowledgements a produce request waits for (`acks`).
///
/// ```
/// use kproducer::{Acks, ProducerConfig};
///
/// assert_eq!(ProducerConfig::default().acks, Acks::All);
/// let config = ProducerConfig::from_properties([("acks", "1")])?;
/// assert_eq!(config.acks, Acks::Leader);
/// # Ok::<(), kproducer::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Acks {
    /// `acks=0`: no response; offsets are unknown (-1) and nothing is
    /// retried. Fastest, records can be lost silently.
    ///
    /// A batch whose connection fails after the batch was handed to it may
    /// have reached the broker: it fails with `NETWORK_EXCEPTION` rather
    /// than being sent twice. A batch still queued when its connection
    /// closed never left the producer; it goes on a new connection, which
    /// is its first send, not a retry.
    None,
    /// `acks=1`: the leader wrote it. Lost if the leader dies before
    /// followers copy it.
    Leader,
    /// `acks=all` (`-1`): every in-sync replica has it. The default, and
    /// required by idempotence.
    #[default]
    All,
}

impl Acks {
    /// The value on the wire: 0, 1 or -1.
    ///
    /// ```
    /// use kproducer::Acks;
    /// assert_eq!(Acks::None.as_i16(), 0);
    /// assert_eq!(Acks::Leader.as_i16(), 1);
    /// assert_eq!(Acks::All.as_i16(), -1);
    /// ```
    pub fn as_i16(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }
}

/// Which built-in partitioner places records that name no partition.
///
/// ```
/// use kproducer::{PartitionerKind, Producer, ProducerConfig};
///
/// assert_eq!(ProducerConfig::default().partitioner_kind, PartitionerKind::Default);
/// let builder = Producer::builder().partitioner_kind(PartitionerKind::RoundRobin);
/// # drop(builder);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PartitionerKind {
    /// Kafka's default: murmur2 of the key for keyed records (unless
    /// `partitioner.ignore.keys`), uniform sticky (KIP-794) for the rest.
    #[default]
    Default,
    /// One record per partition in turn (Kafka's `RoundRobinPartitioner`).
    RoundRobin,
}

/// All producer settings. Build it with [`ProducerConfig::default`] (Kafka
/// 4.x defaults) and change fields, or through
/// [`Producer::builder`](crate::Producer::builder).
///
/// Field names follow Kafka's property names (`linger.ms` → `linger`).
///
/// ```
/// use std::time::Duration;
/// use kproducer::{Acks, ProducerConfig};
///
/// let mut config = ProducerConfig::default();
/// assert_eq!(config.acks, Acks::All);
/// assert_eq!(config.linger, Duration::from_millis(5));
/// config.bootstrap_servers = vec!["127.0.0.1:9092".into()];
/// let settings = config.validate()?;
/// assert!(settings.idempotent);
///
/// // Idempotence asked for explicitly with acks=1 is an error naming the key.
/// config.enable_idempotence = Some(true);
/// config.acks = Acks::Leader;
/// let err = config.validate().unwrap_err();
/// assert!(err.to_string().contains("`acks`"));
/// # Ok::<(), kproducer::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ProducerConfig {
    /// `bootstrap.servers`: `host:port` addresses to learn the cluster from.
    /// Required, at least one.
    pub bootstrap_servers: Vec<String>,
    /// `client.id`: sent with every request. Default `kproducer`.
    pub client_id: String,
    /// `acks`. Default [`Acks::All`].
    pub acks: Acks,
    /// `enable.idempotence`. `None` (the default) means on unless another
    /// setting conflicts (`acks` other than all, more than 5 in flight), in
    /// which case it is quietly off (KIP-679). `Some(true)` with a conflict
    /// is an error.
    pub enable_idempotence: Option<bool>,
    /// `linger.ms`: how long a batch waits for more records before it is
    /// sent. Default 5 ms (Kafka 4.0, KIP-1030).
    pub linger: Duration,
    /// `batch.size`: a batch is sent once it holds this many bytes. Default
    /// 16384. A record larger than this gets a batch of its own.
    pub batch_size: usize,
    /// `buffer.memory`: bytes of records waiting to be acknowledged before
    /// `send` blocks. Default 33554432 (32 MiB).
    pub buffer_memory: usize,
    /// `max.block.ms`: how long `send` waits for buffer space. Default 60 s.
    pub max_block: Duration,
    /// `delivery.timeout.ms`: upper bound from `send` to the record's
    /// outcome, retries included. Default 120 s. Must be at least
    /// `linger.ms + request.timeout.ms`.
    pub delivery_timeout: Duration,
    /// `request.timeout.ms`: how long to wait for one response. Default 30 s.
    pub request_timeout: Duration,
    /// `retry.backoff.ms`: the first wait before a retry. Default 100 ms.
    pub retry_backoff: Duration,
    /// `retry.backoff.max.ms`: retries back off exponentially up to this.
    /// Default 1000 ms.
    pub retry_backoff_max: Duration,
    /// `max.in.flight.requests.per.connection`: per partition with
    /// idempotence (at most 5); per connection otherwise. Default 5. Without
    /// idempotence, 1 is needed to keep order across retries.
    pub max_in_flight: usize,
    /// `compression.type`. Default none.
    pub compression: Compression,
    /// `max.request.size`: the largest produce request (and record).
    /// Default 1048576.
    pub max_request_size: usize,
    /// `metadata.max.age.ms`: metadata is refreshed at least this often.
    /// Default 5 minutes.
    pub metadata_max_age: Duration,
    /// `allow.auto.create.topics`: ask the broker to create unknown topics
    /// (if it is configured to). Default true.
    pub allow_auto_create_topics: bool,
    /// `partitioner.class`, as a choice of the built-ins. Default
    /// [`PartitionerKind::Default`]. A custom partitioner is set with
    /// [`ProducerBuilder::partitioner`](crate::ProducerBuilder::partitioner).
    pub partitioner_kind: PartitionerKind,
    /// `partitioner.ignore.keys`: place keyed records like keyless ones.
    /// Default false.
    pub partitioner_ignore_keys: bool,
    /// `partitioner.adaptive.partitioning.enable`: the default partitioner
    /// sends keyless records preferably to partitions with few batches
    /// waiting (KIP-794; see [`UniformSticky`](crate::partitioner::UniformSticky)).
    /// Default true, as in Java.
    pub partitioner_adaptive: bool,
    /// `partitioner.availability.timeout.ms`: with adaptive partitioning,
    /// a partition whose oldest batch has been ready to send for longer
    /// than this without being sent is left out of the default
    /// partitioner's draw (see
    /// [`PartitionLoad::is_available`](crate::partitioner::PartitionLoad::is_available)).
    /// Zero (the default, as in Java) turns it off.
    pub partitioner_availability_timeout: Duration,
    /// Seed for the sticky partitioner and backoff jitter; `None` draws one.
    /// Tests fix it for reproducible placement.
    pub seed: Option<u64>,
    /// `kproducer.connections.adaptive`: open more connections per broker
    /// when one connection's in-flight window is the bottleneck, and close
    /// them when load falls. Default true (forced off for transactional
    /// producers).
    pub adaptive_connections: bool,
    /// The adaptive scaler's bounds and thresholds
    /// (`kproducer.connections.min`, `kproducer.connections.max` and the
    /// `kproducer.scaler.*` knobs); defaults from `kproducer-net`
    /// (see [`ScalerConfig`]). With `adaptive_connections` off, each broker
    /// keeps `scaler.min_width` connections.
    pub scaler: ScalerConfig,
    /// `kproducer.connections.scale.interval.ms`: how often the scaler
    /// looks at each broker. Default 100 ms.
    pub scale_interval: Duration,
    /// The sequence number each partition's first batch gets under the
    /// producer id InitProducerId handed out (after an epoch bump or with a
    /// new producer id, partitions restart at 0 as Kafka requires). Not a
    /// Kafka setting: a test seam for sequence wrap-around (fault scenario
    /// 19), since reaching `i32::MAX` honestly takes 2^31 records. Brokers
    /// 2.5+ accept any first sequence from a producer they hold no state
    /// for; Kafka 4.5 (KAFKA-15591) only on partitions that held records.
    /// Leave it at 0 (the default) outside tests.
    pub first_sequence: i32,
    /// `security.protocol`. Default [`SecurityProtocol::Plaintext`].
    pub security_protocol: SecurityProtocol,
    /// The `ssl.*` settings, used with SSL and SASL_SSL.
    pub ssl: SslConfig,
    /// `sasl.mechanism` (also `sasl.mechanisms`, librdkafka's name):
    /// authenticate every connection with this SASL mechanism. Default
    /// `None`: no SASL. Set with `sasl_username` and `sasl_password`, or
    /// through [`ProducerBuilder::sasl`](crate::ProducerBuilder::sasl).
    pub sasl_mechanism: Option<BuiltinMechanism>,
    /// `sasl.username`.
    pub sasl_username: Option<String>,
    /// `sasl.password`; printed as `[redacted]`.
    pub sasl_password: Option<Secret>,
    /// `transactional.id`: makes the producer transactional (see
    /// `docs/transactions.md`). It implies idempotence and one connection
    /// per broker. Default none.
    pub transactional_id: Option<String>,
    /// `transaction.timeout.ms`: how long the transaction coordinator lets
    /// a transaction stay open before it aborts it; sent with
    /// InitProducerId. Default 60 s.
    pub transaction_timeout: Duration,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            bootstrap_servers: Vec::new(),
            client_id: "kproducer".to_owned(),
            acks: Acks::All,
            enable_idempotence: None,
            linger: Duration::from_millis(5),
            batch_size: 16_384,
            buffer_memory: 32 * 1024 * 1024,
            max_block: Duration::from_secs(60),
            delivery_timeout: Duration::from_secs(120),
            request_timeout: Duration::from_secs(30),
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_millis(1000),
            max_in_flight: 5,
            compression: Compression::None,
            max_request_size: 1_048_576,
            metadata_max_age: Duration::from_secs(300),
            allow_auto_create_topics: true,
            partitioner_kind: PartitionerKind::Default,
            partitioner_ignore_keys: false,
            partitioner_adaptive: true,
            partitioner_availability_timeout: Duration::ZERO,
            seed: None,
            adaptive_connections: true,
            scaler: ScalerConfig::default(),
            scale_interval: Duration::from_millis(100),
            first_sequence: 0,
            security_protocol: SecurityProtocol::Plaintext,
            ssl: SslConfig::default(),
            sasl_mechanism: None,
            sasl_username: None,
            sasl_password: None,
            transactional_id: None,
            transaction_timeout: Duration::from_secs(60),
        }
    }
}

/// The most in-flight requests per partition Kafka's idempotence allows
/// (the broker caches 5 batches per producer and partition).
///
/// ```
/// use kproducer::{MAX_IN_FLIGHT_IDEMPOTENT, ProducerConfig};
///
/// let mut config = ProducerConfig::from_properties([("bootstrap.servers", "127.0.0.1:9092")])?;
/// config.max_in_flight = MAX_IN_FLIGHT_IDEMPOTENT + 1;
/// assert!(!config.validate()?.idempotent, "more in flight turns default idempotence off");
/// # Ok::<(), kproducer::Error>(())
/// ```
pub const MAX_IN_FLIGHT_IDEMPOTENT: usize = 5;

/// The settings a producer runs with: a validated [`ProducerConfig`] plus
/// the decisions validation made (idempotence on or off).
///
/// ```
/// use kproducer::ProducerConfig;
///
/// let servers = [("bootstrap.servers", "kafka-1:9092,kafka-2:9093")];
/// let config = ProducerConfig::from_properties(servers)?;
/// let settings = config.validate()?;
/// assert!(settings.idempotent);
/// assert_eq!(settings.bootstrap, [("kafka-1".to_owned(), 9092), ("kafka-2".to_owned(), 9093)]);
/// assert_eq!(settings.config, config);
/// # Ok::<(), kproducer::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The configuration as given.
    pub config: ProducerConfig,
    /// Whether idempotence is on (asked for, or the default and nothing
    /// conflicts).
    pub idempotent: bool,
    /// Bootstrap addresses, parsed.
    pub bootstrap: Vec<(String, u16)>,
}

impl ProducerConfig {
    /// Checks every setting and their combinations.
    ///
    /// # Errors
    /// [`Error::Config`] naming the first offending key.
    ///
    /// ```
    /// use std::time::Duration;
    /// use kproducer::{Error, ProducerConfig};
    ///
    /// let servers = [("bootstrap.servers", "127.0.0.1:9092")];
    /// let mut config = ProducerConfig::from_properties(servers)?;
    /// assert!(config.validate().is_ok());
    ///
    /// config.delivery_timeout = Duration::from_secs(1); // below linger.ms + request.timeout.ms
    /// match config.validate() {
    ///     Err(Error::Config { key, message }) => {
    ///         assert_eq!(key, "delivery.timeout.ms");
    ///         assert!(message.contains("at least"));
    ///     }
    ///     other => panic!("expected a configuration error, got {other:?}"),
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    pub fn validate(&self) -> Result<Settings, Error> {
        if self.bootstrap_servers.is_empty() {
            return Err(Error::config(
                "bootstrap.servers",
                "is empty: give at least one host:port of the cluster",
            ));
        }
        let bootstrap = self
            .bootstrap_servers
            .iter()
            .map(|s| parse_address(s))
            .collect::<Result<Vec<_>, _>>()?;
        if self.security_protocol.uses_tls() {
            self.ssl.tls_config()?;
        }
        crate::sasl::check(self)?;
        if self.first_sequence < 0 {
            return Err(Error::config(
                "first_sequence",
                "must be a sequence number from 0 to 2147483647",
            ));
        }
        // Kafka's time settings are 32-bit milliseconds; larger values would
        // also overflow deadline arithmetic.
        for (key, d) in [
            ("linger.ms", self.linger),
            ("max.block.ms", self.max_block),
            ("delivery.timeout.ms", self.delivery_timeout),
            ("request.timeout.ms", self.request_timeout),
            ("retry.backoff.ms", self.retry_backoff),
            ("retry.backoff.max.ms", self.retry_backoff_max),
            ("metadata.max.age.ms", self.metadata_max_age),
            ("transaction.timeout.ms", self.transaction_timeout),
            (
                "kproducer.connections.scale.interval.ms",
                self.scale_interval,
            ),
        ] {
            if d.as_millis() > i32::MAX as u128 {
                return Err(Error::config(
                    key,
                    "must be at most 2147483647 ms (about 24.8 days)",
                ));
            }
        }
        if self.batch_size > i32::MAX as usize {
            return Err(Error::config("batch.size", "must fit a 32-bit length"));
        }
        if self.max_request_size == 0 || self.max_request_size > i32::MAX as usize {
            return Err(Error::config(
                "max.request.size",
                "must be between 1 and 2147483647 bytes",
            ));
        }
        if self.buffer_memory == 0 || self.buffer_memory > (usize::MAX >> 4) {
            return Err(Error::config("buffer.memory", "must be at least 1 byte"));
        }
        if self.max_in_flight == 0 {
            return Err(Error::config(
                "max.in.flight.requests.per.connection",
                "must be at least 1",
            ));
        }
        if self.request_timeout.is_zero() {
            return Err(Error::config("request.timeout.ms", "must be positive"));
        }
        if self.delivery_timeout < self.linger + self.request_timeout {
            return Err(Error::config(
                "delivery.timeout.ms",
                format!(
                    "must be at least linger.ms + request.timeout.ms ({} ms)",
                    (self.linger + self.request_timeout).as_millis()
                ),
            ));
        }
        if self.retry_backoff_max < self.retry_backoff {
            return Err(Error::config(
                "retry.backoff.max.ms",
                "must be at least retry.backoff.ms",
            ));
        }
        if let Err(e) = self.scaler.validate() {
            let key = match e {
                ScalerConfigError::MinWidthZero => "kproducer.connections.min",
                ScalerConfigError::MinAboveMax { .. } => "kproducer.connections.max",
                _ => "kproducer.scaler",
            };
            return Err(Error::config(key, e.to_string()));
        }
        if self.scale_interval.is_zero() {
            return Err(Error::config(
                "kproducer.connections.scale.interval.ms",
                "must be positive",
            ));
        }
        let config = self.transactional_config()?;
        let idempotent = match self.enable_idempotence {
            Some(true) => {
                if self.acks != Acks::All {
                    return Err(Error::config(
                        "acks",
                        "must be all (-1) when enable.idempotence is true; set acks=all or enable.idempotence=false",
                    ));
                }
                if self.max_in_flight > MAX_IN_FLIGHT_IDEMPOTENT {
                    return Err(Error::config(
                        "max.in.flight.requests.per.connection",
                        "must be at most 5 when enable.idempotence is true",
                    ));
                }
                true
            }
            Some(false) => false,
            // KIP-679: on by default, quietly off when the user's other
            // settings conflict with it.
            None => self.acks == Acks::All && self.max_in_flight <= MAX_IN_FLIGHT_IDEMPOTENT,
        };
        Ok(Settings {
            config,
            idempotent,
            bootstrap,
        })
    }
}

impl ProducerConfig {
    /// The configuration a transactional producer runs with: idempotence
    /// on, one connection per broker (adaptive scaling off). Settings that
    /// contradict that are errors naming the key; unset ones are forced.
    /// Without `transactional.id` the configuration is returned as given.
    fn transactional_config(&self) -> Result<ProducerConfig, Error> {
        let Some(id) = &self.transactional_id else {
            return Ok(self.clone());
        };
        if id.is_empty() {
            return Err(Error::config(
                "transactional.id",
                "is empty: give a name that identifies this producer across restarts, or leave it unset",
            ));
        }
        if self.transaction_timeout.is_zero() {
            return Err(Error::config("transaction.timeout.ms", "must be positive"));
        }
        if self.enable_idempotence == Some(false) {
            return Err(Error::config(
                "enable.idempotence",
                "must be true (or unset) with transactional.id: transactions need an idempotent producer",
            ));
        }
        if self.acks != Acks::All {
            return Err(Error::config(
                "acks",
                "must be all (-1) with transactional.id: transactions need an idempotent producer",
            ));
        }
        if self.max_in_flight > MAX_IN_FLIGHT_IDEMPOTENT {
            return Err(Error::config(
                "max.in.flight.requests.per.connection",
                "must be at most 5 with transactional.id: transactions need an idempotent producer",
            ));
        }
        // More than one connection per broker is a choice the user made
        // (the default maximum is only a ceiling for adaptive scaling):
        // refuse it rather than quietly ignore it.
        let default_max = ScalerConfig::default().max_width;
        if self.scaler.min_width > 1
            || (self.scaler.max_width > 1 && self.scaler.max_width != default_max)
        {
            let key = if self.scaler.min_width > 1 {
                "kproducer.connections.min"
            } else {
                "kproducer.connections.max"
            };
            return Err(Error::config(
                key,
                "a transactional producer uses one connection per broker: leave \
                 kproducer.connections.min/max unset (or 1) with transactional.id",
            ));
        }
        let mut config = self.clone();
        config.enable_idempotence = Some(true);
        config.adaptive_connections = false;
        config.scaler.min_width = 1;
        config.scaler.initial_width = 1;
        config.scaler.max_width = 1;
        Ok(config)
    }
}

/// Parses `host:port` (IPv6 as `[::1]:9092`).
fn parse_address(s: &str) -> Result<(String, u16), Error> {
    let bad = || {
        Error::config(
            "bootstrap.servers",
            format!("`{s}` is not host:port (for example 127.0.0.1:9092)"),
        )
    };
    let s = s.trim();
    let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad());
    }
    let port: u16 = port.parse().map_err(|_| bad())?;
    Ok((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> ProducerConfig {
        ProducerConfig {
            bootstrap_servers: vec!["127.0.0.1:9092".into()],
            ..ProducerConfig::default()
        }
    }

    fn key_of(e: Error) -> String {
        match e {
            Error::Config { key, .. } => key,
            other => panic!("not a config error: {other}"),
        }
    }

    #[test]
    fn defaults_are_kafka_4() {
        let c = ProducerConfig::default();
        assert_eq!(c.acks, Acks::All);
        assert_eq!(c.linger, Duration::from_millis(5));
        assert_eq!(c.batch_size, 16_384);
        assert_eq!(c.buffer_memory, 33_554_432);
        assert_eq!(c.max_block, Duration::from_secs(60));
        assert_eq!(c.delivery_timeout, Duration::from_secs(120));
        assert_eq!(c.request_timeout, Duration::from_secs(30));
        assert_eq!(c.max_in_flight, 5);
        assert!(base().validate().unwrap().idempotent);
    }

    #[test]
    fn kip_679_implicit_idempotence_yields_to_conflicts() {
        let c = ProducerConfig {
            acks: Acks::Leader,
            ..base()
        };
        assert!(!c.validate().unwrap().idempotent);
        let c = ProducerConfig {
            max_in_flight: 6,
            ..base()
        };
        assert!(!c.validate().unwrap().idempotent);
    }

    #[test]
    fn explicit_idempotence_conflicts_name_the_key() {
        let c = ProducerConfig {
            acks: Acks::None,
            enable_idempotence: Some(true),
            ..base()
        };
        assert_eq!(key_of(c.validate().unwrap_err()), "acks");
        let c = ProducerConfig {
            max_in_flight: 6,
            enable_idempotence: Some(true),
            ..base()
        };
        assert_eq!(
            key_of(c.validate().unwrap_err()),
            "max.in.flight.requests.per.connection"
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases: Vec<(ProducerConfig, &str)> = vec![
            (ProducerConfig::default(), "bootstrap.servers"),
            (
                ProducerConfig {
                    bootstrap_servers: vec!["nohost".into()],
                    ..base()
                },
                "bootstrap.servers",
            ),
            (
                ProducerConfig {
                    bootstrap_servers: vec!["h:99999".into()],
                    ..base()
                },
                "bootstrap.servers",
            ),
            (
                ProducerConfig {
                    max_in_flight: 0,
                    ..base()
                },
                "max.in.flight.requests.per.connection",
            ),
            (
                ProducerConfig {
                    delivery_timeout: Duration::from_secs(1),
                    ..base()
                },
                "delivery.timeout.ms",
            ),
            (
                ProducerConfig {
                    scaler: ScalerConfig {
                        min_width: 0,
                        ..ScalerConfig::default()
                    },
                    ..base()
                },
                "kproducer.connections.min",
            ),
            (
                ProducerConfig {
                    buffer_memory: 0,
                    ..base()
                },
                "buffer.memory",
            ),
            (
                ProducerConfig {
                    linger: Duration::MAX,
                    ..base()
                },
                "linger.ms",
            ),
        ];
        for (c, key) in cases {
            assert_eq!(key_of(c.validate().unwrap_err()), key);
        }
    }

    #[test]
    fn addresses_parse() {
        assert_eq!(parse_address("[::1]:9092").unwrap(), ("::1".into(), 9092));
        assert_eq!(parse_address(" b1:1 ").unwrap(), ("b1".into(), 1));
    }
}
