//! kproducer: a pure-Rust, tokio-based Apache Kafka producer.
//!
//! ```
//! use kproducer::protocol::ApiKey;
//! assert_eq!(ApiKey::Produce.versions().max, 11);
//! ```

mod config;
mod core;
mod delivery;
mod error;
mod metrics;
pub mod partitioner;
mod producer;
mod properties;
mod record;

pub use config::{Acks, MAX_IN_FLIGHT_IDEMPOTENT, PartitionerKind, ProducerConfig, Settings};
pub use delivery::{DeliveryFuture, DeliveryResult};
pub use error::{Error, TrySendError};
pub use metrics::ProducerMetrics;
pub use producer::{Producer, ProducerBuilder};
pub use record::{Header, Record, RecordMetadata, Topic};

pub use kproducer_protocol as protocol;
