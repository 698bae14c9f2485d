//! [`AuthWatch`]: notices when connecting failed because SASL
//! authentication was refused for good.
//!
//! Some of the core's connect paths (Metadata, InitProducerId) see a
//! failure only as text. The watch sits between the core and the transport
//! and keeps the first fatal SASL failure, typed, where the core reads it
//! ([`Shared::auth_failure`](super::Shared)) when a connect attempt fails.

use std::sync::Arc;

use kproducer_net::{BoxStream, BrokerAddress, Transport, TransportError};

use super::Shared;
use crate::error::Error;

/// A transport that records fatal SASL failures of the one it wraps.
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
        result
    }
}

impl super::Core {
    /// After a failed connect attempt: when authentication was refused for
    /// good, fails the producer with that error (every outstanding record
    /// and every later send get it) and returns true.
    ///
    /// Why not retry: a refused password, a mechanism the broker does not
    /// enable or a broker that cannot prove it knows the credentials fail
    /// the same way on every attempt, and each attempt sends the
    /// credentials again (some services lock accounts after repeated
    /// failures). The settings cannot change in a running producer, so the
    /// failure is reported at once, with the broker's message, instead of
    /// surfacing as a `delivery.timeout.ms` expiry minutes later.
    pub(super) fn fail_on_authentication(&mut self) -> bool {
        let Some(error) = self.shared.auth_failure.get().cloned() else {
            return false;
        };
        if self.fatal.is_none() {
            self.set_fatal(error);
        }
        true
    }
}
