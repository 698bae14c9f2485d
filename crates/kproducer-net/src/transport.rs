//! The seam between connections and the bytes underneath them.
//!
//! A [`Transport`] turns a broker address into a byte stream. The producer
//! never knows which one it has: TCP in production, TLS later, and the fake
//! broker's in-memory duplex streams in deterministic tests.

use std::fmt;
use std::io;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::sasl::SaslError;

/// A connected, bidirectional byte stream.
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// A boxed [`Stream`], what every transport hands back.
pub type BoxStream = Box<dyn Stream>;

/// Where a broker listens, as metadata advertises it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BrokerAddress {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl BrokerAddress {
    /// An address from host and port.
    ///
    /// ```
    /// use kproducer_net::BrokerAddress;
    /// let a = BrokerAddress::new("127.0.0.1", 9092);
    /// assert_eq!(a.to_string(), "127.0.0.1:9092");
    /// ```
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
        }
    }
}

impl fmt::Display for BrokerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Why a transport could not connect.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The connection attempt failed (refused, unreachable, reset).
    #[error("could not connect to {addr}: {source}")]
    Connect {
        /// The address tried.
        addr: BrokerAddress,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The connection attempt did not finish in time.
    #[error("connecting to {addr} timed out after {timeout_ms} ms")]
    Timeout {
        /// The address tried.
        addr: BrokerAddress,
        /// The limit that ran out.
        timeout_ms: u64,
    },
    /// The address could not be resolved.
    #[error("could not resolve {addr}: {reason}")]
    Resolve {
        /// The address tried.
        addr: BrokerAddress,
        /// What the resolver said.
        reason: String,
    },
    /// The stream opened, but SASL authentication on it failed
    /// ([`SaslTransport`](crate::SaslTransport)).
    #[error("SASL authentication with {addr} failed: {source}")]
    Sasl {
        /// The address tried.
        addr: BrokerAddress,
        /// Why authentication failed.
        #[source]
        source: SaslError,
    },
}

impl TransportError {
    /// The SASL failure, when authentication is what failed.
    pub fn sasl_error(&self) -> Option<&SaslError> {
        match self {
            TransportError::Sasl { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Opens byte streams to brokers.
///
/// Implementations: TCP (`TcpTransport`), TLS (later), and
/// the fake broker's in-memory transport for deterministic tests.
#[async_trait::async_trait]
pub trait Transport: fmt::Debug + Send + Sync + 'static {
    /// Connects to `addr`.
    async fn connect(&self, addr: &BrokerAddress) -> Result<BoxStream, TransportError>;
}
