//! Plain TCP: the production [`Transport`].

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpSocket, TcpStream, lookup_host};

use crate::transport::{BoxStream, BrokerAddress, Transport, TransportError};

/// Default `socket.connection.setup.timeout.ms` (Kafka's default: 10 s).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Socket options for [`TcpTransport`].
///
/// ```
/// use kproducer_net::TcpConfig;
/// let cfg = TcpConfig { send_buffer_bytes: Some(128 * 1024), ..TcpConfig::default() };
/// assert!(cfg.nodelay);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpConfig {
    /// Disable Nagle's algorithm. On by default: requests are already
    /// batched, and delaying small ones only adds latency.
    pub nodelay: bool,
    /// Give up on a connection attempt (all resolved addresses) after this.
    pub connect_timeout: Duration,
    /// `SO_SNDBUF` (`send.buffer.bytes`); `None` keeps the OS default.
    pub send_buffer_bytes: Option<u32>,
    /// `SO_RCVBUF` (`receive.buffer.bytes`); `None` keeps the OS default.
    pub receive_buffer_bytes: Option<u32>,
}

impl Default for TcpConfig {
    fn default() -> Self {
        Self {
            nodelay: true,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            send_buffer_bytes: None,
            receive_buffer_bytes: None,
        }
    }
}

/// Connects to brokers over TCP.
///
/// Every address the host name resolves to is tried in turn until one
/// accepts, all within [`TcpConfig::connect_timeout`].
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use kproducer_net::{BrokerAddress, TcpConfig, TcpTransport, Transport};
///
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// let port = listener.local_addr().unwrap().port();
/// let transport = TcpTransport::new(TcpConfig::default());
/// let stream = transport.connect(&BrokerAddress::new("127.0.0.1", port)).await;
/// assert!(stream.is_ok());
/// # });
/// ```
#[derive(Debug, Clone, Default)]
pub struct TcpTransport {
    config: TcpConfig,
}

impl TcpTransport {
    /// A transport with these socket options.
    pub fn new(config: TcpConfig) -> Self {
        Self { config }
    }

    async fn connect_one(&self, addr: SocketAddr) -> io::Result<TcpStream> {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        if let Some(n) = self.config.send_buffer_bytes {
            socket.set_send_buffer_size(n)?;
        }
        if let Some(n) = self.config.receive_buffer_bytes {
            socket.set_recv_buffer_size(n)?;
        }
        socket.set_nodelay(self.config.nodelay)?;
        socket.connect(addr).await
    }

    async fn connect_any(&self, broker: &BrokerAddress) -> Result<TcpStream, TransportError> {
        let addrs: Vec<SocketAddr> = lookup_host((broker.host.as_str(), broker.port))
            .await
            .map_err(|e| TransportError::Resolve {
                addr: broker.clone(),
                reason: e.to_string(),
            })?
            .collect();
        let mut last = io::Error::new(io::ErrorKind::NotFound, "the host resolved to no address");
        for addr in addrs {
            match self.connect_one(addr).await {
                Ok(stream) => return Ok(stream),
                Err(e) => {
                    tracing::debug!(broker = %broker, %addr, error = %e, "connect attempt failed");
                    last = e;
                }
            }
        }
        Err(TransportError::Connect {
            addr: broker.clone(),
            source: last,
        })
    }
}

#[async_trait::async_trait]
impl Transport for TcpTransport {
    async fn connect(&self, addr: &BrokerAddress) -> Result<BoxStream, TransportError> {
        let limit = self.config.connect_timeout;
        match tokio::time::timeout(limit, self.connect_any(addr)).await {
            Ok(stream) => Ok(Box::new(stream?)),
            Err(_) => Err(TransportError::Timeout {
                addr: addr.clone(),
                timeout_ms: u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn connects_sets_options_and_carries_bytes() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let t = TcpTransport::new(TcpConfig {
            send_buffer_bytes: Some(64 * 1024),
            receive_buffer_bytes: Some(64 * 1024),
            ..TcpConfig::default()
        });
        let mut client = t
            .connect(&BrokerAddress::new("127.0.0.1", port))
            .await
            .unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        client.write_all(b"ping").await.unwrap();
        let mut buf = [0; 4];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
    }

    #[tokio::test]
    async fn refused_connection_is_a_typed_error() {
        // Bind then drop: the port is very likely closed now.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let err = TcpTransport::default()
            .connect(&BrokerAddress::new("127.0.0.1", port))
            .await
            .err()
            .unwrap();
        assert!(
            matches!(err, TransportError::Connect { .. }),
            "unexpected error: {err}"
        );
    }

    #[tokio::test]
    async fn nodelay_is_applied() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let t = TcpTransport::default();
        let stream = t.connect_one(addr).await.unwrap();
        assert!(stream.nodelay().unwrap());
    }
}
