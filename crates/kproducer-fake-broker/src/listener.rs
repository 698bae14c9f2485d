//! [`LoopbackListener`]: the same cluster served over TCP on 127.0.0.1, one
//! port per broker, so that external clients (librdkafka, kcat, the
//! benchmarks' peers) can reach it.
//!
//! Each broker gets its own listening socket and advertises
//! `127.0.0.1:<its port>` in Metadata and FindCoordinator while the listener
//! lives, so clients route requests to partition leaders as they would on a
//! real cluster. Accepted connections are served by the very loop that
//! serves in-memory connections ([`serve_connection`]), one request at a
//! time in arrival order, with the same fault plan, service time and
//! inspection.
//!
//! A broker that is down closes its open TCP connections and closes new
//! ones as soon as they are accepted (the client sees end-of-stream, not a
//! TCP refusal: the port stays bound so that the broker can come back on
//! the same address).

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use kproducer_net::BrokerAddress;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use crate::cluster::FakeCluster;
use crate::error::ListenError;
use crate::server::serve_connection;
use crate::server_tls::{SERVER_HANDSHAKE_TIMEOUT, ServerTls};

/// How long the accept loop backs off after an accept error (such as
/// running out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);

/// A running loopback listener for a [`FakeCluster`]; see
/// [`FakeCluster::listen`]. Dropping it stops serving: the ports close, the
/// open connections close, and the brokers advertise their in-memory
/// addresses again.
///
/// ```
/// use kproducer_fake_broker::FakeCluster;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let cluster = FakeCluster::builder().brokers(3).topic("t", 6).build().unwrap();
/// let listener = cluster.listen("127.0.0.1:0").await.unwrap();
/// let addr = listener.address(2).unwrap();
/// assert!(addr.ip().is_loopback());
/// // Metadata now advertises the TCP address of each broker.
/// assert_eq!(cluster.address(2).unwrap().to_string(), addr.to_string());
/// let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
/// # drop(stream);
/// drop(listener); // stops serving
/// assert_eq!(cluster.address(2).unwrap().to_string(), "fake-broker-2:9092");
/// # }
/// ```
pub struct LoopbackListener {
    cluster: FakeCluster,
    addresses: BTreeMap<i32, SocketAddr>,
    accept_tasks: Vec<JoinHandle<()>>,
}

impl fmt::Debug for LoopbackListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopbackListener")
            .field("addresses", &self.addresses)
            .finish_non_exhaustive()
    }
}

impl LoopbackListener {
    /// Binds one port per broker (ascending broker id; consecutive ports from
    /// `addr`'s port, or each a free port when it is 0) and starts serving.
    /// With `tls`, every port speaks TLS (see
    /// [`FakeCluster::listen_tls`]).
    pub(crate) async fn start(
        cluster: &FakeCluster,
        addr: &str,
        tls: Option<&ServerTls>,
    ) -> Result<Self, ListenError> {
        let acceptor = tls.map(ServerTls::acceptor).transpose()?;
        let first: SocketAddr = addr
            .parse()
            .map_err(|_| ListenError::InvalidAddress(addr.to_owned()))?;
        if first.ip() != IpAddr::V4(Ipv4Addr::LOCALHOST) {
            return Err(ListenError::NotLoopback(first.ip()));
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ListenError::NoRuntime)?;
        let broker_ids = cluster.broker_ids();
        let ports = ports_for(first.port(), broker_ids.len())?;
        if cluster.lock().listening {
            return Err(ListenError::AlreadyListening);
        }
        let mut bound = Vec::with_capacity(broker_ids.len());
        for (&broker, port) in broker_ids.iter().zip(ports) {
            let want = SocketAddr::new(first.ip(), port);
            let listener = TcpListener::bind(want)
                .await
                .map_err(|source| ListenError::Bind {
                    broker,
                    addr: want,
                    source,
                })?;
            let local = listener.local_addr().map_err(|source| ListenError::Bind {
                broker,
                addr: want,
                source,
            })?;
            bound.push((broker, local, listener));
        }
        let mut addresses = BTreeMap::new();
        {
            let mut state = cluster.lock();
            // Checked again under the lock: two concurrent calls both bind,
            // and the second one drops its sockets here.
            if state.listening {
                return Err(ListenError::AlreadyListening);
            }
            state.listening = true;
            for (broker, local, _) in &bound {
                if let Some(b) = state.brokers.get_mut(broker) {
                    b.address = BrokerAddress::new(local.ip().to_string(), local.port());
                }
                addresses.insert(*broker, *local);
            }
        }
        let accept_tasks = bound
            .into_iter()
            .map(|(broker, _, listener)| {
                runtime.spawn(accept_loop(
                    cluster.clone(),
                    broker,
                    listener,
                    acceptor.clone(),
                ))
            })
            .collect();
        Ok(Self {
            cluster: cluster.clone(),
            addresses,
            accept_tasks,
        })
    }

    /// Each broker's listening address, by broker id.
    pub fn addresses(&self) -> &BTreeMap<i32, SocketAddr> {
        &self.addresses
    }

    /// The address broker `id` listens on, if it is part of the cluster.
    pub fn address(&self, id: i32) -> Option<SocketAddr> {
        self.addresses.get(&id).copied()
    }

    /// Every broker's address, comma-separated (`127.0.0.1:PORT,…`), as
    /// `bootstrap.servers` wants.
    pub fn bootstrap_servers(&self) -> String {
        let all: Vec<String> = self.addresses.values().map(ToString::to_string).collect();
        all.join(",")
    }

    /// Stops serving and waits until the ports are closed and every
    /// connection task has ended. Dropping the listener stops it too,
    /// without waiting.
    pub async fn shutdown(mut self) {
        let tasks = std::mem::take(&mut self.accept_tasks);
        for task in &tasks {
            task.abort();
        }
        for task in tasks {
            // Aborted on purpose; a panic inside would already have been
            // reported by tokio.
            let _ = task.await;
        }
    }
}

impl Drop for LoopbackListener {
    fn drop(&mut self) {
        for task in &self.accept_tasks {
            task.abort();
        }
        let mut state = self.cluster.lock();
        state.listening = false;
        for b in state.brokers.values_mut() {
            b.address = b.in_memory_address.clone();
        }
    }
}

/// The port each of `brokers` brokers listens on: all 0 (any free port), or
/// consecutive from `first`.
fn ports_for(first: u16, brokers: usize) -> Result<Vec<u16>, ListenError> {
    if first == 0 {
        return Ok(vec![0; brokers]);
    }
    (0..brokers)
        .map(|i| {
            u16::try_from(i)
                .ok()
                .and_then(|i| first.checked_add(i))
                .ok_or(ListenError::PortRange { first, brokers })
        })
        .collect()
}

/// Accepts connections for one broker until aborted. Connection tasks live
/// in a [`JoinSet`], so aborting this task closes them all. With `tls`, each
/// connection first completes a TLS handshake (bounded by
/// [`SERVER_HANDSHAKE_TIMEOUT`]); one that fails is closed (rustls has
/// already sent the client its alert).
async fn accept_loop(
    cluster: FakeCluster,
    broker: i32,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Some((conn, down)) = cluster.lock().accept(broker) else {
                        tracing::debug!(broker, %peer, "broker is down; closing the new connection");
                        continue;
                    };
                    // Responses are written whole; waiting to coalesce them
                    // (Nagle) would only add latency.
                    if let Err(e) = stream.set_nodelay(true) {
                        tracing::debug!(%conn, error = %e, "could not set TCP_NODELAY");
                    }
                    let cluster = cluster.clone();
                    match tls.clone() {
                        None => {
                            connections.spawn(serve_connection(cluster, conn, stream, down));
                        }
                        Some(acceptor) => {
                            connections.spawn(async move {
                                let handshake = tokio::time::timeout(
                                    SERVER_HANDSHAKE_TIMEOUT,
                                    acceptor.accept(stream),
                                );
                                match handshake.await {
                                    Ok(Ok(tls_stream)) => {
                                        serve_connection(cluster, conn, tls_stream, down).await;
                                    }
                                    Ok(Err(e)) => {
                                        tracing::debug!(%conn, error = %e, "TLS handshake failed; closing");
                                    }
                                    Err(_) => {
                                        tracing::debug!(%conn, "TLS handshake timed out; closing");
                                    }
                                }
                            });
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(broker, error = %e, "accept failed; retrying shortly");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            // Reaps finished connection tasks so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_consecutive_from_the_first_or_all_ephemeral() {
        assert_eq!(ports_for(0, 3).ok(), Some(vec![0, 0, 0]));
        assert_eq!(ports_for(9092, 3).ok(), Some(vec![9092, 9093, 9094]));
        assert!(matches!(
            ports_for(65535, 2),
            Err(ListenError::PortRange {
                first: 65535,
                brokers: 2
            })
        ));
    }
}
