//! Transports, multiplexed connections, per-broker connection groups, the
//! adaptive `Scaler` and the fenced `Router`.
//!
//! - [`Transport`] opens byte streams ([`TcpTransport`] in production).
//! - [`Connection`] multiplexes pipelined requests over one stream.
//! - [`ConnectionGroup`] keeps `0..width` connections to one broker.

mod backoff;
mod connection;
mod group;
mod tcp;
mod transport;

pub use backoff::{
    Backoff, DEFAULT_RECONNECT_BACKOFF, DEFAULT_RECONNECT_BACKOFF_MAX, RECONNECT_JITTER,
};
pub use connection::{
    CloseReason, Connection, ConnectionConfig, ConnectionError, ConnectionMetrics,
    DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_RESPONSE_FRAME_BYTES,
    DEFAULT_REQUEST_TIMEOUT, NegotiatedVersions, PendingResponse, RawRequest, Reservation,
    SendState,
};
pub use group::{ConnectionGroup, GroupConfig, GroupError};
pub use tcp::{DEFAULT_CONNECT_TIMEOUT, TcpConfig, TcpTransport};
pub use transport::{BoxStream, BrokerAddress, Stream, Transport, TransportError};
