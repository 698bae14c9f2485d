//! A transport that routes every broker address through its own
//! [`ChaosProxy`], started on first use: the bootstrap address and every
//! address Metadata advertises alike, so no connection bypasses the chaos.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use kproducer_net::{BoxStream, BrokerAddress, TcpTransport, Transport, TransportError};
use tokio::sync::Mutex;

use super::proxy::{Chaos, ChaosProxy};

/// Connects through a per-broker chaos proxy.
#[derive(Debug)]
pub struct ChaosTransport {
    chaos: Arc<Chaos>,
    proxies: Mutex<HashMap<BrokerAddress, ChaosProxy>>,
    tcp: TcpTransport,
}

impl ChaosTransport {
    /// Proxies share `chaos` (one schedule and budget for the run).
    pub fn new(chaos: Arc<Chaos>) -> Self {
        Self {
            chaos,
            proxies: Mutex::new(HashMap::new()),
            tcp: TcpTransport::default(),
        }
    }
}

#[async_trait::async_trait]
impl Transport for ChaosTransport {
    async fn connect(&self, addr: &BrokerAddress) -> Result<BoxStream, TransportError> {
        let local = {
            let mut proxies = self.proxies.lock().await;
            match proxies.get(addr) {
                Some(p) => p.local_addr(),
                None => {
                    let upstream: SocketAddr =
                        tokio::net::lookup_host((addr.host.as_str(), addr.port))
                            .await
                            .ok()
                            .and_then(|mut a| a.find(|a| a.ip().is_loopback()))
                            .ok_or_else(|| TransportError::Resolve {
                                addr: addr.clone(),
                                reason: "the chaos proxy only forwards to 127.0.0.1".into(),
                            })?;
                    let proxy = ChaosProxy::start(upstream, self.chaos.clone())
                        .await
                        .map_err(|source| TransportError::Connect {
                            addr: addr.clone(),
                            source,
                        })?;
                    let local = proxy.local_addr();
                    proxies.insert(addr.clone(), proxy);
                    local
                }
            }
        };
        self.tcp
            .connect(&BrokerAddress::new("127.0.0.1", local.port()))
            .await
    }
}
