//! An in-memory Kafka cluster with Kafka's real idempotence rules, fault
//! plans, an in-memory [`Transport`](kproducer_net::Transport), and a
//! loopback TCP listener for external clients.
//!
//! - [`ProducerStates`]: the idempotence rules as a pure state machine (the
//!   rules and their sources are listed there).
//! - [`FakeCluster`]: brokers, topics, partitions, leaders and logs, with
//!   operations a test can apply at any moment (move a leader, take a broker
//!   down, expire a producer, advance a log start offset, create a topic).
//! - [`FaultRule`]: match requests (API, broker, connection, partition, n-th
//!   occurrence) and act on them (error codes, delays, dropped responses,
//!   closed connections, [`Hold`]s).
//! - [`FakeTransport`]: connects a client to the cluster through in-memory
//!   duplex streams; each connection's requests are served one at a time, in
//!   arrival order, with a configurable [`ServiceTime`] (the cluster's, or
//!   one broker's own: [`FakeClusterBuilder::broker_service_time`],
//!   changed mid-run with [`FakeCluster::set_broker_service_time`]).
//! - [`FakeCluster::listen`]: serves the same cluster on 127.0.0.1, one
//!   port per broker, advertised in Metadata so that external clients
//!   (librdkafka, kcat, benchmark peers) route to partition leaders; the
//!   [`LoopbackListener`] it returns stops serving when dropped.
//!   [`FakeCluster::listen_tls`] serves it over TLS ([`ServerTls`], with
//!   optional required client certificates); [`TestPki`] makes the
//!   certificates (good, expired, client) in memory. The
//!   `kproducer-fake-broker` binary starts a cluster from flags and prints
//!   its bootstrap address (`kproducer-fake-broker --help`). The crate's
//!   `librdkafka_peer` test has kcat (librdkafka 2.16) produce and consume
//!   100,000 records per codec through it.
//! - Inspection: [`FakeCluster::partition`], [`FakeCluster::records`],
//!   [`FakeCluster::requests`], [`FakeCluster::counters`], and the test
//!   assertions [`FakeCluster::assert_values`] and
//!   [`FakeCluster::assert_no_duplicates`].
//! - [`BehaviourMode`]: Kafka 2.0–2.4 (59 on lost producer state), 2.5–4.4
//!   (the default) or 4.5 (KAFKA-15591) rules for producers without state;
//!   `legacy_duplicate_error` for pre-2.0 duplicate answers.
//!
//! # What it serves
//!
//! ApiVersions, Metadata, Produce, InitProducerId, FindCoordinator,
//! AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, TxnOffsetCommit, Fetch and
//! ListOffsets, at every version the protocol crate speaks. Transactional
//! offset commits stay pending until the transaction's marker commits or
//! discards them: [`FakeCluster::committed_offsets`] is what the group
//! would resume from. Per-API rules and the error codes used are in
//! each handler's documentation; the idempotence rules are in
//! [`ProducerStates`].
//!
//! # Where it differs from Apache Kafka, on purpose
//!
//! - One replica per partition: acks=1 and acks=all are the same, the high
//!   watermark is the log end offset, and a leader move carries the whole
//!   log and producer state with it (as a clean, in-sync election would).
//! - No leader election on its own: a partition whose leader is down stays
//!   unavailable until the test moves it.
//! - Transactions (protocol v1): state changes are instant (no `Prepare*`
//!   states, no 51 `CONCURRENT_TRANSACTIONS`); one broker coordinates all
//!   groups and transactional ids.
//! - Fetch: no sessions; an empty fetch waits `max_wait_ms` without waking
//!   early. ListOffsets by timestamp works at batch granularity.
//! - Requests the broker cannot serve (unknown API, unsupported version
//!   other than ApiVersions, malformed header or body, oversized frame)
//!   close the connection, as Kafka does; bytes after a valid body are
//!   ignored, as Kafka ignores them (librdkafka sends some).
//! - Transactional batches are not checked against AddPartitionsToTxn
//!   (Kafka 3.6+ verifies them, KIP-890); TxnOffsetCommit for a group not
//!   added with AddOffsetsToTxn is accepted and counted. TxnOffsetCommit's
//!   producer id and epoch are checked against the transaction
//!   coordinator (90 for a fenced epoch), as Kafka 3.6+ verifies them.
//! - Consumer groups have no members, generations or offset commits of
//!   their own (no JoinGroup, OffsetCommit or OffsetFetch): a test declares
//!   members with [`FakeCluster::set_group_members`].
//! - A broker that is down keeps its TCP port bound and closes each new
//!   connection as soon as it is accepted (a real broker's port would
//!   refuse it); clients see the connection end either way.
//!
//! ```
//! use kproducer_fake_broker::{ErrorScope, FakeCluster, FaultAction, FaultRule};
//! use kproducer_protocol::{ApiKey, ErrorCode};
//!
//! let cluster = FakeCluster::builder().brokers(3).topic("orders", 6).build().unwrap();
//! // The first Produce to orders-2 is answered NOT_LEADER_OR_FOLLOWER.
//! cluster.add_fault(
//!     FaultRule::new(FaultAction::Error { code: ErrorCode::NOT_LEADER_OR_FOLLOWER, scope: ErrorScope::Partition })
//!         .api(ApiKey::Produce)
//!         .partition("orders", 2),
//! );
//! let transport = cluster.transport(); // hand this to the producer
//! # let _ = transport;
//! ```

mod batch_check;
mod builder;
mod cluster;
mod cluster_state;
mod config;
mod connection_id;
mod error;
mod fault_plan;
mod group_offsets;
mod handlers;
mod hold;
mod inspect;
mod kcat;
mod listener;
mod log_records;
mod pacer;
mod partition_log;
mod producer_state;
mod sasl;
mod server;
mod server_tls;
mod test_pki;
mod transactions;
mod transport;
mod txn_markers;

pub use builder::{FAKE_BROKER_PORT, FakeClusterBuilder, fake_broker_address};
pub use cluster::FakeCluster;
pub use config::{
    ClusterConfig, DEFAULT_MAX_FRAME_BYTES, DEFAULT_MAX_MESSAGE_BYTES, SERVED_RETENTION_BYTES,
    ServiceTime,
};
pub use connection_id::ConnectionId;
pub use error::{ClusterError, ListenError};
pub use fault_plan::{ErrorScope, FaultAction, FaultId, FaultPlan, FaultRule, ResponseCorruption};
pub use group_offsets::CommittedOffset;
pub use hold::Hold;
pub use inspect::{
    BatchSummary, Counters, Disposition, PartitionSnapshot, ProducedBatch, RequestRecord,
};
pub use kcat::{KCAT_LIBDIR_ENV, Kcat, KcatOutput, PEER_INSTALLER};
pub use kproducer_net::TopicPartition;
pub use listener::LoopbackListener;
pub use log_records::LogRecord;
pub use partition_log::{
    AbortedTxn, AppendOutcome, BatchMeta, PartitionLog, Retention, StoredBatch,
};
pub use producer_state::{
    BATCHES_RETAINED, BehaviourMode, CachedBatch, IdempotenceRules, IncomingBatch, NO_PRODUCER_ID,
    ProducerEntry, ProducerStates, RejectReason, SequenceDecision, add_sequence, next_sequence,
};
pub use sasl::{DEFAULT_SCRAM_ITERATIONS, SaslFault, SaslServerConfig};
pub use server_tls::{SERVER_HANDSHAKE_TIMEOUT, SelfSignedTls, ServerTls};
pub use test_pki::{IssuedCertificate, PkiError, TestPki};
pub use transactions::{
    EndedTxn, FIRST_PRODUCER_ID, InitOutcome, TransactionCoordinator, TxnEntry, TxnState,
};
pub use transport::{DEFAULT_PIPE_BYTES, FakeTransport};
