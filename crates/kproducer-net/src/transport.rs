//! The seam between connections and the bytes underneath them.
//!
//! A [`Transport`] turns a broker address into a byte stream. The producer
//! never knows which one it has: TCP or TLS in production, and the fake
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
    /// TLS: the broker's certificate is not signed by a trusted CA.
    #[error(
        "TLS handshake with {addr} failed: the broker's certificate is not signed by a trusted \
         CA ({detail}); set ssl.ca.location to the CA that signed the brokers' certificates"
    )]
    TlsUnknownCa {
        /// The address tried.
        addr: BrokerAddress,
        /// What the verifier said.
        detail: String,
    },
    /// TLS: the broker's certificate does not name the host connected to.
    #[error(
        "TLS handshake with {addr} failed: the broker's certificate is not valid for the host \
         name {} ({detail}); connect with a name the certificate lists (bootstrap.servers and the \
         brokers' advertised.listeners), or only for testing set \
         ssl.endpoint.identification.algorithm= (empty) to skip the name check",
        addr.host
    )]
    TlsNameMismatch {
        /// The address tried.
        addr: BrokerAddress,
        /// What the verifier said.
        detail: String,
    },
    /// TLS: the broker's certificate has expired or is not valid yet.
    #[error(
        "TLS handshake with {addr} failed: the broker's certificate is expired or not yet valid \
         ({detail}); renew the broker's certificate, or check this host's clock"
    )]
    TlsExpired {
        /// The address tried.
        addr: BrokerAddress,
        /// What the verifier said.
        detail: String,
    },
    /// TLS: the broker's certificate was refused for another reason
    /// (revoked, malformed, wrong key usage, …).
    #[error("TLS handshake with {addr} failed: the broker's certificate was refused: {detail}")]
    TlsBadCertificate {
        /// The address tried.
        addr: BrokerAddress,
        /// What the verifier said.
        detail: String,
    },
    /// TLS: the peer answered the handshake with bytes that are not TLS:
    /// the port is not a TLS listener.
    #[error(
        "TLS handshake with {addr} failed: the broker does not speak TLS on this port ({detail}); \
         it is probably a PLAINTEXT listener: set security.protocol=PLAINTEXT, or use the \
         broker's SSL listener port"
    )]
    TlsPeerNotTls {
        /// The address tried.
        addr: BrokerAddress,
        /// What the TLS layer saw.
        detail: String,
    },
    /// TLS: the peer closed (or reset) the connection during the
    /// handshake. A Kafka PLAINTEXT listener does that with a TLS client
    /// (it reads the ClientHello as an oversized request and closes), but
    /// so does a broker that is shutting down, or a load balancer with no
    /// broker behind it: unlike [`TlsPeerNotTls`](Self::TlsPeerNotTls) this
    /// may be transient, so it is retried.
    #[error(
        "TLS handshake with {addr} failed: the broker closed the connection during the \
         handshake ({detail}); if this repeats, the port is probably a PLAINTEXT listener: set \
         security.protocol=PLAINTEXT, or use the broker's SSL listener port"
    )]
    TlsClosedDuringHandshake {
        /// The address tried.
        addr: BrokerAddress,
        /// What the I/O layer saw.
        detail: String,
    },
    /// TLS: the handshake failed for another reason (the broker refused
    /// the client certificate, no common protocol version or cipher, …).
    #[error("TLS handshake with {addr} failed: {detail}")]
    TlsHandshake {
        /// The address tried.
        addr: BrokerAddress,
        /// What went wrong, with a hint when one is known.
        detail: String,
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
    /// Whether retrying cannot help until the configuration (or the
    /// broker's certificate) changes: every TLS verification failure, and
    /// a TLS client answered with bytes that are not TLS. Connection
    /// refusals, timeouts, resolution failures and a connection closed
    /// during the handshake may be transient.
    ///
    /// ```
    /// use kproducer_net::{BrokerAddress, TransportError};
    /// let addr = BrokerAddress::new("broker", 9093);
    /// let e = TransportError::TlsUnknownCa { addr: addr.clone(), detail: "UnknownIssuer".into() };
    /// assert!(e.needs_configuration_change());
    /// let e = TransportError::Timeout { addr, timeout_ms: 10_000 };
    /// assert!(!e.needs_configuration_change());
    /// ```
    pub fn needs_configuration_change(&self) -> bool {
        matches!(
            self,
            TransportError::TlsUnknownCa { .. }
                | TransportError::TlsNameMismatch { .. }
                | TransportError::TlsExpired { .. }
                | TransportError::TlsBadCertificate { .. }
                | TransportError::TlsPeerNotTls { .. }
        )
    }

    /// A copy of this error when it [needs a configuration
    /// change](Self::needs_configuration_change), else `None`: for keeping
    /// beside the error handed back to the caller (`TransportError` is not
    /// `Clone`, as its I/O variants hold an [`io::Error`]).
    ///
    /// ```
    /// use kproducer_net::{BrokerAddress, TransportError};
    /// let addr = BrokerAddress::new("broker", 9093);
    /// let e = TransportError::TlsExpired { addr: addr.clone(), detail: "Expired".into() };
    /// let kept = e.configuration_error().unwrap();
    /// assert_eq!(kept.to_string(), e.to_string());
    /// let e = TransportError::Timeout { addr, timeout_ms: 10_000 };
    /// assert!(e.configuration_error().is_none());
    /// ```
    pub fn configuration_error(&self) -> Option<TransportError> {
        let copy = |addr: &BrokerAddress, detail: &String| (addr.clone(), detail.clone());
        Some(match self {
            TransportError::TlsUnknownCa { addr, detail } => {
                let (addr, detail) = copy(addr, detail);
                TransportError::TlsUnknownCa { addr, detail }
            }
            TransportError::TlsNameMismatch { addr, detail } => {
                let (addr, detail) = copy(addr, detail);
                TransportError::TlsNameMismatch { addr, detail }
            }
            TransportError::TlsExpired { addr, detail } => {
                let (addr, detail) = copy(addr, detail);
                TransportError::TlsExpired { addr, detail }
            }
            TransportError::TlsBadCertificate { addr, detail } => {
                let (addr, detail) = copy(addr, detail);
                TransportError::TlsBadCertificate { addr, detail }
            }
            TransportError::TlsPeerNotTls { addr, detail } => {
                let (addr, detail) = copy(addr, detail);
                TransportError::TlsPeerNotTls { addr, detail }
            }
            _ => return None,
        })
    }

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
/// Implementations: TCP (`TcpTransport`), TLS (`TlsTransport`), and
/// the fake broker's in-memory transport for deterministic tests.
#[async_trait::async_trait]
pub trait Transport: fmt::Debug + Send + Sync + 'static {
    /// Connects to `addr`.
    async fn connect(&self, addr: &BrokerAddress) -> Result<BoxStream, TransportError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One error of each kind, and whether it needs a configuration change.
    fn every_kind() -> Vec<(TransportError, bool)> {
        let addr = || BrokerAddress::new("broker", 9093);
        let detail = || "why".to_owned();
        vec![
            (
                TransportError::Connect {
                    addr: addr(),
                    source: io::ErrorKind::ConnectionRefused.into(),
                },
                false,
            ),
            (
                TransportError::Timeout {
                    addr: addr(),
                    timeout_ms: 1,
                },
                false,
            ),
            (
                TransportError::Resolve {
                    addr: addr(),
                    reason: detail(),
                },
                false,
            ),
            (
                TransportError::TlsUnknownCa {
                    addr: addr(),
                    detail: detail(),
                },
                true,
            ),
            (
                TransportError::TlsNameMismatch {
                    addr: addr(),
                    detail: detail(),
                },
                true,
            ),
            (
                TransportError::TlsExpired {
                    addr: addr(),
                    detail: detail(),
                },
                true,
            ),
            (
                TransportError::TlsBadCertificate {
                    addr: addr(),
                    detail: detail(),
                },
                true,
            ),
            (
                TransportError::TlsPeerNotTls {
                    addr: addr(),
                    detail: detail(),
                },
                true,
            ),
            (
                TransportError::TlsClosedDuringHandshake {
                    addr: addr(),
                    detail: detail(),
                },
                false,
            ),
            (
                TransportError::TlsHandshake {
                    addr: addr(),
                    detail: detail(),
                },
                false,
            ),
            (
                TransportError::Sasl {
                    addr: addr(),
                    source: SaslError::NotSaslListener,
                },
                false,
            ),
        ]
    }

    #[test]
    fn configuration_errors_are_copied_exactly_when_they_need_a_change() {
        for (e, needs_change) in every_kind() {
            assert_eq!(e.needs_configuration_change(), needs_change, "{e}");
            match e.configuration_error() {
                Some(copy) => {
                    assert!(needs_change, "{e}");
                    assert_eq!(copy.to_string(), e.to_string());
                    assert_eq!(format!("{copy:?}"), format!("{e:?}"));
                }
                None => assert!(!needs_change, "{e}"),
            }
        }
    }
}
