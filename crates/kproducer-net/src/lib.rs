//! Transports, multiplexed connections, per-broker connection groups, the
//! adaptive `Scaler` and the fenced `Router`.
//!
//! Not built yet: see the project's issue "`kproducer-net`: transports,
//! multiplexed connections, …". This crate is a placeholder in the workspace
//! so that the dependency graph is fixed from the start.
