//! [`SaslTransport`]: any transport, plus SASL authentication on connect.

use std::sync::Arc;
use std::time::Duration;

use crate::sasl::{Mechanism, SaslError, handshake};
use crate::transport::{BoxStream, BrokerAddress, Transport, TransportError};

/// Default limit for the SASL exchange on one connection, after the inner
/// transport connected.
pub const DEFAULT_SASL_TIMEOUT: Duration = Duration::from_secs(10);

/// Wraps a transport so that every stream it opens is authenticated with a
/// SASL [`Mechanism`] before a [`Connection`](crate::Connection) uses it:
/// `SASL_PLAINTEXT` is `SaslTransport` over [`TcpTransport`](crate::TcpTransport),
/// `SASL_SSL` the same over a TLS transport.
///
/// A failed authentication is [`TransportError::Sasl`]; its
/// [`SaslError::is_fatal`] says whether trying again can help (a wrong
/// password cannot).
///
/// ```
/// use std::sync::Arc;
/// use kproducer_net::{Scram, ScramHash, SaslTransport, TcpTransport};
///
/// let transport = SaslTransport::new(
///     Arc::new(TcpTransport::default()),
///     Arc::new(Scram::new(ScramHash::Sha256, "alice", "alice-secret")),
/// );
/// assert!(!format!("{transport:?}").contains("alice-secret"));
/// ```
#[derive(Debug, Clone)]
pub struct SaslTransport {
    inner: Arc<dyn Transport>,
    mechanism: Arc<dyn Mechanism>,
    timeout: Duration,
}

impl SaslTransport {
    /// Authenticates with `mechanism` on every stream `inner` opens.
    pub fn new(inner: Arc<dyn Transport>, mechanism: Arc<dyn Mechanism>) -> Self {
        Self {
            inner,
            mechanism,
            timeout: DEFAULT_SASL_TIMEOUT,
        }
    }

    /// Sets how long the SASL exchange may take on one connection.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The mechanism.
    pub fn mechanism(&self) -> &dyn Mechanism {
        self.mechanism.as_ref()
    }
}

#[async_trait::async_trait]
impl Transport for SaslTransport {
    async fn connect(&self, addr: &BrokerAddress) -> Result<BoxStream, TransportError> {
        let mut stream = self.inner.connect(addr).await?;
        let exchange = handshake::authenticate(&mut stream, addr, self.mechanism.as_ref());
        let result = match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(SaslError::Timeout(self.timeout)),
        };
        match result {
            Ok(()) => Ok(stream),
            Err(source) => {
                tracing::warn!(broker = %addr, mechanism = self.mechanism.name(),
                    error = %source, "SASL authentication failed");
                Err(TransportError::Sasl {
                    addr: addr.clone(),
                    source,
                })
            }
        }
    }
}
