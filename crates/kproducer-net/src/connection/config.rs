//! Settings of one connection.

use std::time::Duration;

/// Default `max.in.flight.requests.per.connection` (Kafka's default, and the
/// most an idempotent producer may use).
pub const DEFAULT_MAX_IN_FLIGHT: usize = 5;
/// Default `request.timeout.ms` (Kafka's default: 30 s).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default `connections.max.idle.ms` (Kafka's producer default: 9 minutes).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_millis(540_000);
/// Default maximum response frame: 100 MiB, Kafka's `socket.request.max.bytes`
/// default; a larger announced size is treated as a corrupt stream instead of
/// being allocated.
pub const DEFAULT_MAX_RESPONSE_FRAME_BYTES: usize = 100 * 1024 * 1024;

/// How a [`Connection`](super::Connection) behaves.
///
/// ```
/// use std::time::Duration;
/// use kproducer_net::ConnectionConfig;
/// let cfg = ConnectionConfig {
///     max_in_flight: 5,
///     request_timeout: Duration::from_secs(10),
///     ..ConnectionConfig::default()
/// };
/// assert_eq!(cfg.client_id.as_deref(), Some("kproducer"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionConfig {
    /// Requests that may be outstanding at once (written, awaiting a
    /// response). Callers wait for a free slot beyond this. Values below 1
    /// are treated as 1.
    pub max_in_flight: usize,
    /// How long a request may wait for its response (from the moment it is
    /// queued) before the connection is closed (`request.timeout.ms`).
    pub request_timeout: Duration,
    /// Close the connection after this long with nothing in flight
    /// (`connections.max.idle.ms`); `None` keeps it open.
    pub idle_timeout: Option<Duration>,
    /// Largest response frame accepted; a larger one closes the connection.
    pub max_response_frame_bytes: usize,
    /// The `client.id` sent in every request header.
    pub client_id: Option<String>,
    /// Send ApiVersions on connect and pick each API's version from the
    /// answer. When off, every API is assumed to be supported at this
    /// client's highest version (useful only against a known broker).
    pub negotiate_versions: bool,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self {
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            max_response_frame_bytes: DEFAULT_MAX_RESPONSE_FRAME_BYTES,
            client_id: Some("kproducer".to_owned()),
            negotiate_versions: true,
        }
    }
}
