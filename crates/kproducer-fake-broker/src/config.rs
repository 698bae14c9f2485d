//! The cluster-wide settings a test chooses when it builds a cluster.

use std::time::Duration;

use crate::partition_log::Retention;
use crate::producer_state::{BehaviourMode, IdempotenceRules};
use crate::sasl::SaslServerConfig;

/// Kafka's default `message.max.bytes` (1 MiB plus record-batch overhead).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 1_048_588;

/// Kafka's default `socket.request.max.bytes` (100 MiB): larger frames close
/// the connection.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 104_857_600;

/// The per-partition retention the `kproducer-fake-broker` binary and the
/// embedded broker of `kproducer perf` use (256 MiB): long benchmark runs
/// keep bounded memory. A [`ClusterConfig`] built in code is unbounded
/// unless a test asks ([`FakeClusterBuilder::retention_bytes`]).
///
/// [`FakeClusterBuilder::retention_bytes`]: crate::FakeClusterBuilder::retention_bytes
pub const SERVED_RETENTION_BYTES: usize = 256 * 1024 * 1024;

/// Time a broker spends on each request, charged on tokio's clock while the
/// connection's next request waits: one connection is served one request at
/// a time, so this is what makes more connections genuinely help.
///
/// Charges under a millisecond are accumulated per connection and slept
/// off together (tokio's timers have millisecond granularity), so the
/// average rate is right even for microsecond service times.
///
/// ```
/// use std::time::Duration;
/// use kproducer_fake_broker::ServiceTime;
/// let t = ServiceTime::new(Duration::from_micros(100), Duration::from_micros(10));
/// assert_eq!(t.for_payload(2048), Duration::from_micros(120));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServiceTime {
    /// Charged for every request.
    pub fixed: Duration,
    /// Charged per KiB of request payload (pro rata).
    pub per_kib: Duration,
}

impl ServiceTime {
    /// A fixed cost plus a cost per KiB of request.
    pub fn new(fixed: Duration, per_kib: Duration) -> Self {
        Self { fixed, per_kib }
    }

    /// No cost at all (the default).
    pub fn zero() -> Self {
        Self::default()
    }

    /// The time charged for a request of `payload_bytes`.
    pub fn for_payload(&self, payload_bytes: usize) -> Duration {
        let nanos_per_kib = self.per_kib.as_nanos();
        let extra = nanos_per_kib.saturating_mul(payload_bytes as u128) / 1024;
        self.fixed.saturating_add(Duration::from_nanos(
            u64::try_from(extra).unwrap_or(u64::MAX),
        ))
    }
}

/// Settings shared by every broker of a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// The cluster id Metadata reports.
    pub cluster_id: String,
    /// Which Kafka version's idempotence behaviour to reproduce.
    pub mode: BehaviourMode,
    /// Answer duplicates with 46 (brokers before 2.0).
    pub legacy_duplicate_error: bool,
    /// Create a topic on first Metadata or Produce for it.
    pub auto_create_topics: bool,
    /// Partitions an auto-created topic gets.
    pub auto_create_partitions: i32,
    /// Per-request service time.
    pub service_time: ServiceTime,
    /// Largest record batch accepted (`message.max.bytes`); larger ones get
    /// 10 `MESSAGE_TOO_LARGE`.
    pub max_message_bytes: usize,
    /// Largest request frame; a larger one closes the connection.
    pub max_frame_bytes: usize,
    /// Keep a log of every request (turn off for long benchmarks).
    pub record_requests: bool,
    /// Decode every produced batch's records to check them (turn off for
    /// benchmarks; header, length and CRC checks always run).
    pub validate_records: bool,
    /// The epoch InitProducerId hands out with each new producer id to an
    /// idempotent (non-transactional) producer. Kafka always answers 0; a
    /// test sets it near `i16::MAX` to reach epoch exhaustion without 32767
    /// epoch bumps (fault scenario 18). Default 0.
    pub idempotent_producer_epoch: i16,
    /// SASL: when set, every connection must authenticate before any
    /// request but ApiVersions (see [`SaslServerConfig`]). Default: none.
    pub sasl: Option<SaslServerConfig>,
    /// Kafka's `retention.bytes`, per partition: after an append leaves a
    /// partition holding more batch bytes than this, its oldest whole
    /// batches are dropped and its log start offset moves past them (the
    /// newest batch always stays, as Kafka never deletes the active
    /// segment). `None` (the default) keeps everything, so tests can read
    /// the whole log back.
    pub retention_bytes: Option<usize>,
}

impl ClusterConfig {
    /// The switches the idempotence rules read.
    pub fn idempotence_rules(&self) -> IdempotenceRules {
        IdempotenceRules {
            mode: self.mode,
            legacy_duplicate_error: self.legacy_duplicate_error,
        }
    }

    /// How each partition's log is bounded.
    pub fn retention(&self) -> Retention {
        Retention {
            max_bytes: self.retention_bytes,
            // Since Kafka 2.5 (KIP-360, KAFKA-7190) a producer's state
            // outlives its batches and goes only when the producer id
            // expires; brokers before dropped it with the batches.
            keeps_producer_state: self.mode != BehaviourMode::Pre2_5,
        }
    }
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            cluster_id: "kproducer-fake-cluster".to_owned(),
            mode: BehaviourMode::default(),
            legacy_duplicate_error: false,
            auto_create_topics: false,
            auto_create_partitions: 1,
            service_time: ServiceTime::zero(),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            record_requests: true,
            validate_records: true,
            idempotent_producer_epoch: 0,
            sasl: None,
            retention_bytes: None,
        }
    }
}
