//! [`FakeTransport`]: connects a client to the fake cluster through in-memory
//! duplex streams.

use std::io;

use kproducer_net::{BoxStream, BrokerAddress, Transport, TransportError};

use tokio_rustls::TlsAcceptor;

use crate::cluster::FakeCluster;
use crate::error::ListenError;
use crate::server::serve_connection;
use crate::server_tls::ServerTls;

/// Bytes buffered in each direction of a connection by default.
pub const DEFAULT_PIPE_BYTES: usize = 256 * 1024;

/// A [`Transport`] whose `connect` reaches the fake broker advertising that
/// address. Each connection is served by its own task, one request at a time
/// in arrival order. A broker that is down refuses connections.
///
/// Needs a tokio runtime (connections are served by spawned tasks).
///
/// ```
/// use kproducer_fake_broker::FakeCluster;
/// use kproducer_net::Transport;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let cluster = FakeCluster::builder().brokers(1).build().unwrap();
/// let transport = cluster.transport();
/// let addr = cluster.address(0).unwrap();
/// let stream = transport.connect(&addr).await.unwrap();
/// # drop(stream);
/// cluster.broker_down(0).unwrap();
/// assert!(transport.connect(&addr).await.is_err());
/// # }
/// ```
#[derive(Clone)]
pub struct FakeTransport {
    cluster: FakeCluster,
    pipe_bytes: usize,
    tls: Option<TlsAcceptor>,
}

impl std::fmt::Debug for FakeTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeTransport")
            .field("cluster", &self.cluster)
            .field("pipe_bytes", &self.pipe_bytes)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl FakeTransport {
    /// A transport into `cluster` (same as [`FakeCluster::transport`]).
    pub fn new(cluster: FakeCluster) -> Self {
        Self {
            cluster,
            pipe_bytes: DEFAULT_PIPE_BYTES,
            tls: None,
        }
    }

    /// The broker end of every connection speaks TLS with `tls` (a client
    /// wraps this transport in `kproducer_net::TlsTransport`, or sets
    /// `security.protocol=SSL`). In-memory brokers are addressed as
    /// `fake-broker-N` ([`fake_broker_address`](crate::fake_broker_address)),
    /// so their certificate must name those hosts. A failed handshake
    /// closes the connection.
    ///
    /// # Errors
    /// [`ListenError::Tls`] when the certificate or key is unusable.
    ///
    /// ```
    /// use kproducer_fake_broker::{FakeCluster, ServerTls, TestPki};
    ///
    /// let cluster = FakeCluster::builder().brokers(1).build().unwrap();
    /// let pki = TestPki::new("test CA").unwrap();
    /// let broker = pki.issue_server(&["fake-broker-0"]).unwrap();
    /// let tls = ServerTls::new(&broker.certificate_pem, &broker.key_pem);
    /// let transport = cluster.transport().with_tls(&tls).unwrap();
    /// # drop(transport);
    /// ```
    pub fn with_tls(mut self, tls: &ServerTls) -> Result<Self, ListenError> {
        self.tls = Some(tls.acceptor()?);
        Ok(self)
    }

    /// Sets how many bytes each direction of a connection buffers.
    pub fn with_pipe_bytes(mut self, bytes: usize) -> Self {
        self.pipe_bytes = bytes.max(1);
        self
    }
}

#[async_trait::async_trait]
impl Transport for FakeTransport {
    async fn connect(&self, addr: &BrokerAddress) -> Result<BoxStream, TransportError> {
        // Connections are served by spawned tasks: outside a tokio runtime
        // (an async fn can be polled by any executor) say so instead of
        // panicking.
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|e| TransportError::Connect {
                addr: addr.clone(),
                source: io::Error::other(format!("the fake broker needs a tokio runtime: {e}")),
            })?;
        let accepted = {
            let mut s = self.cluster.lock();
            let Some(broker) = s.broker_at(addr) else {
                return Err(TransportError::Resolve {
                    addr: addr.clone(),
                    reason: "no fake broker advertises this address".to_owned(),
                });
            };
            s.accept(broker).ok_or_else(|| TransportError::Connect {
                addr: addr.clone(),
                source: io::Error::new(
                    io::ErrorKind::ConnectionRefused,
                    format!("fake broker {broker} is down"),
                ),
            })?
        };
        let (conn, down) = accepted;
        let (client, server) = tokio::io::duplex(self.pipe_bytes);
        let cluster = self.cluster.clone();
        match self.tls.clone() {
            None => {
                runtime.spawn(serve_connection(cluster, conn, server, down));
            }
            Some(acceptor) => {
                runtime.spawn(async move {
                    match acceptor.accept(server).await {
                        Ok(tls) => serve_connection(cluster, conn, tls, down).await,
                        Err(e) => {
                            tracing::debug!(%conn, error = %e, "TLS handshake failed; closing")
                        }
                    }
                });
            }
        }
        Ok(Box::new(client))
    }
}
