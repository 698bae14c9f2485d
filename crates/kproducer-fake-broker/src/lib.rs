//! An in-memory Kafka cluster with Kafka's real idempotence rules, fault
//! plans and a loopback listener.
//!
//! Not built yet: see the project's issue "`kproducer-fake-broker`: …". This
//! crate is a placeholder in the workspace so that the dependency graph is
//! fixed from the start.
