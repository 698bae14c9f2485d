//! SASL for the producer: checking the `sasl.*` settings and wrapping the
//! transport in a [`SaslTransport`] when they ask for authentication.

use std::sync::Arc;

use kproducer_net::{Mechanism, SaslTransport, Transport};

use crate::config::ProducerConfig;
use crate::error::Error;

/// Checks that the `sasl.*` settings are complete: a mechanism needs a
/// user name and a password, and credentials need a mechanism.
pub(crate) fn check(config: &ProducerConfig) -> Result<(), Error> {
    let any_credentials = config.sasl_username.is_some() || config.sasl_password.is_some();
    match config.sasl_mechanism {
        None if any_credentials => Err(Error::config(
            "sasl.mechanism",
            "is required with sasl.username and sasl.password: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
        )),
        None => Ok(()),
        Some(m) => {
            if config.sasl_username.as_deref().is_none_or(str::is_empty) {
                return Err(Error::config(
                    "sasl.username",
                    format!("is required with sasl.mechanism={m}"),
                ));
            }
            if config.sasl_password.is_none() {
                return Err(Error::config(
                    "sasl.password",
                    format!("is required with sasl.mechanism={m}"),
                ));
            }
            Ok(())
        }
    }
}

impl ProducerConfig {
    /// The transport connections are opened with: `inner` itself, or
    /// `inner` authenticating every stream with the SASL mechanism the
    /// `sasl.*` settings name. For tools that talk to the cluster outside
    /// a producer (a pre-flight metadata check) and must authenticate the
    /// same way; [`ProducerBuilder::build`](crate::ProducerBuilder::build)
    /// does this itself.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use kproducer::ProducerConfig;
    /// use kproducer_net::TcpTransport;
    ///
    /// let config = ProducerConfig::from_properties([
    ///     ("sasl.mechanism", "SCRAM-SHA-256"),
    ///     ("sasl.username", "alice"),
    ///     ("sasl.password", "alice-secret"),
    /// ])?;
    /// let transport = config.wrap_transport(Arc::new(TcpTransport::default()));
    /// assert!(format!("{transport:?}").contains("SaslTransport"));
    /// assert!(!format!("{transport:?}").contains("alice-secret"));
    /// # Ok::<(), kproducer::Error>(())
    /// ```
    pub fn wrap_transport(&self, inner: Arc<dyn Transport>) -> Arc<dyn Transport> {
        transport(inner, None, self)
    }
}

/// The transport the producer connects with: `transport` itself, or
/// `transport` authenticating with `custom` (set on the builder) or the
/// mechanism the `sasl.*` settings name.
pub(crate) fn transport(
    transport: Arc<dyn Transport>,
    custom: Option<Arc<dyn Mechanism>>,
    config: &ProducerConfig,
) -> Arc<dyn Transport> {
    let configured = config.sasl_mechanism.map(|m| {
        m.with_credentials(
            config.sasl_username.clone().unwrap_or_default(),
            config.sasl_password.clone().unwrap_or_default(),
        )
    });
    match custom.or(configured) {
        Some(mechanism) => Arc::new(SaslTransport::new(transport, mechanism)),
        None => transport,
    }
}
