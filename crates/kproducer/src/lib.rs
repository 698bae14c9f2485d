//! kproducer: a pure-Rust, tokio-based Apache Kafka producer.
//!
//! Not built yet: the producer lands with the project's issue "The
//! `kproducer` producer: API, batching, …". Today the workspace ships the
//! wire-protocol crate, [`kproducer_protocol`], re-exported here as
//! [`protocol`].
//!
//! ```
//! use kproducer::protocol::ApiKey;
//! assert_eq!(ApiKey::Produce.versions().max, 11);
//! ```

pub mod partitioner;

pub use kproducer_protocol as protocol;
