//! kproducer: a pure-Rust, tokio-based Apache Kafka producer.
//!
//! - [`Producer`] (built with [`Producer::builder`], Kafka 4.x defaults:
//!   idempotence on, `acks=all`, `linger.ms=5`): [`send`](Producer::send)
//!   waits for buffer space up to `max.block.ms`,
//!   [`try_send`](Producer::try_send) never waits, and each record's
//!   [`DeliveryFuture`] resolves exactly once to its [`RecordMetadata`] or
//!   an [`Error`]. For high rates, [`send_reported`](Producer::send_reported)
//!   and [`try_send_reported`](Producer::try_send_reported) carry a `u64`
//!   token of yours instead of a future, and a [`DeliveryReports`] sink
//!   set with [`ProducerBuilder::delivery_reports`] gets every token's
//!   outcome, once per batch (librdkafka's delivery-report callback).
//! - Records are built from cheap handles ([`Topic`] is an `Arc<str>`, keys
//!   and values are `Bytes`): sending one allocates only its delivery
//!   channel.
//! - Idempotence follows Kafka's Java producer (sequences, ≤ 5 in flight
//!   per partition, duplicates as success, KIP-360 epoch bumps); see
//!   `docs/idempotence.md`. Connections per broker adapt to load
//!   (`kproducer-net`'s scaler and fenced router).
//! - TLS with `security.protocol=SSL` and the `ssl.*` properties
//!   ([`SecurityProtocol`], [`SslConfig`]); see `docs/security.md`.
//! - Transactions (`transactional.id`): [`Producer::init_transactions`],
//!   [`Producer::begin_transaction`], [`Producer::commit_transaction`],
//!   [`Producer::abort_transaction`]; records of a committed transaction
//!   become visible to read-committed consumers together, an aborted one's
//!   never. See `docs/transactions.md`.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), kproducer::Error> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use kproducer::{Producer, Record, Topic};
//! use kproducer_fake_broker::FakeCluster;
//!
//! // An in-memory cluster stands in for Kafka here; in production leave
//! // out `transport` and give real bootstrap servers.
//! let cluster = FakeCluster::builder().brokers(3).topic("orders", 6).build().unwrap();
//! let producer = Producer::builder()
//!     .bootstrap_servers(cluster.bootstrap_servers().split(','))
//!     .transport(Arc::new(cluster.transport()))
//!     .build()?;
//!
//! let orders = Topic::new("orders");
//! let delivery = producer.send(Record::new(orders.clone(), "hello").with_key("customer-7")).await?;
//! let written = delivery.await?;
//! assert_eq!(written.offset, 0);
//! assert_eq!(producer.metrics().records_sent, 1);
//! producer.close(Duration::from_secs(5)).await;
//! # Ok(()) }
//! ```

mod config;
mod core;
mod delivery;
mod delivery_report;
mod error;
mod metrics;
pub mod partitioner;
mod producer;
mod properties;
mod record;
mod sasl;
mod security;
mod transaction;

pub use config::{Acks, MAX_IN_FLIGHT_IDEMPOTENT, PartitionerKind, ProducerConfig, Settings};
pub use delivery::{DeliveryFuture, DeliveryResult};
pub use delivery_report::{
    BatchWritten, DeliveryReport, DeliveryReports, ReportedRecord, ReportedRecords,
};
pub use error::{Error, TrySendError};
pub use metrics::ProducerMetrics;
pub use producer::{Producer, ProducerBuilder};
pub use record::{Header, Record, RecordMetadata, Topic};
pub use security::{SecurityProtocol, SslConfig};
pub use transaction::{
    ConsumerGroupMetadata, OffsetAndMetadata, TransactionError, TransactionPhase,
};

pub use kproducer_net::TopicPartition;
pub use kproducer_net::{BuiltinMechanism, Mechanism, SaslError, Secret, TransportError};
pub use kproducer_protocol as protocol;
