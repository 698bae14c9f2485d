//! Transports, multiplexed connections, per-broker connection groups, the
//! adaptive `Scaler` and the fenced `Router`.
//!
//! Today this crate holds the [`Transport`] seam; connections, groups, the
//! scaler and the router are being built (see the project's issue
//! "`kproducer-net`: transports, multiplexed connections, …").

mod transport;

pub use transport::{BoxStream, BrokerAddress, Stream, Transport, TransportError};
