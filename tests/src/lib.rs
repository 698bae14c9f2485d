//! kproducer against real brokers: the harness shared by the integration
//! tests in `tests/tests/`.
//!
//! Each test produces numbered records with kproducer, reads the topic back
//! with librdkafka's kcat and checks what arrived ([`consumed::check`]):
//! every record exactly once, each partition in send order, the offsets the
//! producer reported equal to where the records are, and every keyed record
//! on the partition librdkafka's `murmur2_random` partitioner picks for its
//! key ([`placement`]).
//!
//! How the tests find a broker: [`target::BrokerTarget::tansu_from_env`]. In short,
//!
//! ```text
//! BOOTSTRAP=$(cargo xtask broker start | tail -n1)
//! KPRODUCER_BOOTSTRAP=$BOOTSTRAP cargo test -p kproducer-integration-tests -- --nocapture
//! cargo xtask broker stop
//! ```
//!
//! or just `cargo xtask broker start` and `cargo test -p
//! kproducer-integration-tests` (the tests then read the state file `start`
//! left). Without a broker they print why they skip; with `CI` set they
//! fail instead. `cargo xtask ci` runs them in its `integration-tansu`
//! step.
//!
//! The same scenarios ([`suite::all`]) run against Apache Kafka in a
//! container (`tests/apache_kafka.rs`) where a Docker engine is reachable
//! and the `apache-kafka` feature (testcontainers) is on:
//!
//! ```text
//! cargo test -p kproducer-integration-tests --features apache-kafka --test apache_kafka -- --nocapture
//! ```
//!
//! Without an engine that test prints why it skipped.

#[cfg(feature = "apache-kafka")]
pub mod apache_kafka;
pub mod consumed;
pub mod docker;
pub mod kcat;
pub mod marker;
pub mod placement;
pub mod produce;
pub mod scenario;
pub mod suite;
pub mod target;
pub mod topics;
pub mod workload;
