//! Transports, multiplexed connections, per-broker connection groups, the
//! adaptive `Scaler` and the fenced `Router`.
//!
//! - [`Transport`] opens byte streams ([`TcpTransport`] or [`TlsTransport`]
//!   in production).
//! - [`Connection`] multiplexes pipelined requests over one stream.
//! - [`ConnectionGroup`] keeps `0..width` connections to one broker.
//! - [`Scaler`] decides the width from the connections' signals
//!   ([`ConnectionMetrics::delta_since`] gives them per evaluation).
//! - [`Router`] maps each topic-partition to a slot and fences moves.
//! - [`SaslTransport`] authenticates every new stream with a SASL
//!   [`Mechanism`] ([`Plain`], [`Scram`]); [`Secret`] keeps passwords out
//!   of logs.

mod backoff;
mod balance;
mod buffer_share;
mod connection;
mod fence;
mod group;
mod router;
mod sasl;
mod scale_up_check;
mod scaler;
mod scaler_config;
mod scaler_window;
mod secret;
mod tcp;
mod tls;
mod tls_config;
mod topic_partition;
mod transport;

pub use backoff::{
    Backoff, DEFAULT_RECONNECT_BACKOFF, DEFAULT_RECONNECT_BACKOFF_MAX, RECONNECT_JITTER,
};
pub use buffer_share::{BufferHoldings, broker_buffer_used};
pub use connection::{
    CloseReason, Connection, ConnectionConfig, ConnectionError, ConnectionMetrics,
    DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_RESPONSE_FRAME_BYTES,
    DEFAULT_REQUEST_TIMEOUT, NegotiatedVersions, PendingResponse, RawRequest, Reservation,
    SendState,
};
pub use fence::Route;
pub use group::{ConnectionGroup, GroupConfig, GroupError, SlotObservation};
pub use router::{Router, RouterCounters, RouterError, RouterEvent};
pub use sasl::{
    BuiltinMechanism, DEFAULT_SASL_TIMEOUT, Exchange, Mechanism, Plain, SCRAM_MAX_ITERATIONS,
    SCRAM_MIN_ITERATIONS, SaslError, SaslTransport, Scram, ScramCredential, ScramHash, Step,
    scram_escape_username, scram_unescape_username,
};
pub use scale_up_check::EARLY_MIN_ANSWERS;
pub use scaler::{Decision, Reason, ScaleUpTrigger, Scaler, Signals};
pub use scaler_config::{
    BASELINE_ROUND_TRIPS, BASELINE_WINDOWS, CAPACITY_MEMORY, DEFAULT_COOLDOWN,
    DEFAULT_COOLDOWN_ROUND_TRIPS, DEFAULT_INEFFECTIVE_BACKOFF, DEFAULT_MAX_STEP, DEFAULT_MAX_WIDTH,
    DEFAULT_MIN_WIDTH, DEFAULT_MIN_WINDOW, DEFAULT_SUSTAINED_LOW,
    MAX_INEFFECTIVE_BACKOFF_DOUBLINGS, MIN_COOLDOWN_WINDOWS, MIN_HYSTERESIS_RATIO,
    SCALE_DOWN_BUFFER_FILL, SCALE_DOWN_PROJECTED_BUSY, SCALE_DOWN_WAIT_FRACTION,
    SCALE_UP_BUFFER_FILL, SCALE_UP_BUSY_FRACTION, SCALE_UP_MIN_GAIN, SCALE_UP_WAIT_FRACTION,
    SLOWER_WINDOWS, ScalerConfig, ScalerConfigError,
};
pub use scaler_window::{MIN_WINDOW_FLOOR, WINDOW_ROUND_TRIPS};
pub use secret::Secret;
pub use tcp::{DEFAULT_CONNECT_TIMEOUT, TcpConfig, TcpTransport};
pub use tls::TlsTransport;
pub use tls_config::{
    ClientIdentity, PemSource, PrivateKeyPem, PrivateKeySource, TlsConfig, TlsConfigError,
    TrustRoots,
};
pub use topic_partition::{SlotId, TopicPartition};
pub use transport::{BoxStream, BrokerAddress, Stream, Transport, TransportError};
