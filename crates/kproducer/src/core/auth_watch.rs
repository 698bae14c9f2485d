//! [`AuthWatch`]: notices when connecting failed because SASL
//! authentication was refused for good, or because a broker refused the
//! producer's TLS settings.
//!
//! Some of the core's connect paths (Metadata, InitProducerId) see a
//! failure only as text. The watch sits between the core and the transport
//! and keeps, typed, the first fatal SASL failure
//! ([`Shared::auth_failure`](super::Shared)) and each broker's latest TLS
//! refusal ([`Shared::tls_refusals`](super::Shared)), where the core reads
//! them when a connect attempt fails.

use std::sync::{Arc, MutexGuard, PoisonError};

use kproducer_net::{BoxStream, BrokerAddress, Transport, TransportError};

use super::Shared;
use super::tls_refusals::TlsRefusals;
use crate::error::Error;

/// A transport that records fatal SASL failures and TLS refusals of the
/// one it wraps.
#[derive(Debug)]
pub(crate) struct AuthWatch {
    inner: Arc<dyn Transport>,
    shared: Arc<Shared>,
}

impl AuthWatch {
    pub(crate) fn new(inner: Arc<dyn Transport>, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }
}

#[async_trait::async_trait]
impl Transport for AuthWatch {
    async fn connect(&self, addr: &BrokerAddress) -> Result<BoxStream, TransportError> {
        let result = self.inner.connect(addr).await;
        if let Err(e) = &result
            && let Some(sasl) = e.sasl_error().filter(|s| s.is_fatal())
        {
            let _ = self.shared.auth_failure.set(Error::Authentication {
                broker: addr.to_string(),
                source: sasl.clone(),
            });
        }
        tls_refusals(&self.shared).record(addr, result.as_ref().map(|_| ()));
        result
    }
}

/// The refusals, even if a thread panicked holding the lock: every update
/// is a single map insert or remove, so what is there is consistent.
fn tls_refusals(shared: &Shared) -> MutexGuard<'_, TlsRefusals> {
    shared
        .tls_refusals
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

impl super::Core {
    /// After a failed connect attempt: when authentication was refused for
    /// good, or every broker refused the TLS settings, fails the producer
    /// with that error (every outstanding record and every later send get
    /// it) and returns true.
    ///
    /// Why not retry SASL: a refused password, a mechanism the broker does
    /// not enable or a broker that cannot prove it knows the credentials
    /// fail the same way on every attempt, and each attempt sends the
    /// credentials again (some services lock accounts after repeated
    /// failures). The settings cannot change in a running producer, so the
    /// failure is reported at once, with the broker's message, instead of
    /// surfacing as a `delivery.timeout.ms` expiry minutes later.
    ///
    /// TLS is fatal only when no broker accepts the settings (see
    /// [`TlsRefusals`]): certificates are per broker, and one broker's
    /// expired certificate must not stop delivery to the others.
    pub(super) fn fail_on_authentication(&mut self) -> bool {
        if let Some(error) = self.shared.auth_failure.get().cloned() {
            if self.fatal.is_none() {
                self.set_fatal(error);
            }
            return true;
        }
        let Some((broker, source)) = self.refused_by_every_broker() else {
            return false;
        };
        if self.fatal.is_none() {
            self.set_fatal(Error::Tls {
                broker: broker.to_string(),
                source,
            });
        }
        true
    }

    /// The TLS refusal, when every broker the producer knows of (metadata's,
    /// else the bootstrap servers) refused its TLS settings on its latest
    /// connect attempt.
    fn refused_by_every_broker(&self) -> Option<(BrokerAddress, Arc<TransportError>)> {
        let mut candidates: Vec<BrokerAddress> = if self.metadata.brokers.is_empty() {
            self.settings
                .bootstrap
                .iter()
                .map(|(host, port)| BrokerAddress::new(host.clone(), *port))
                .collect()
        } else {
            self.metadata.brokers.values().cloned().collect()
        };
        // The first by address, so the error named does not depend on
        // hash order.
        candidates.sort_unstable();
        tls_refusals(&self.shared).refused_by_all(&candidates)
    }
}
