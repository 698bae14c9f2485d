//! SASL for the producer: checking the `sasl.*` settings and wrapping the
//! transport in a [`SaslTransport`] when they ask for authentication.

use std::sync::Arc;

use kproducer_net::{Mechanism, SaslTransport, Transport};

use crate::config::ProducerConfig;
use crate::error::Error;
use crate::security::SecurityProtocol;

/// Checks that the `sasl.*` settings are complete and used: a mechanism
/// needs a user name and a password, credentials need a mechanism, and a
/// mechanism needs a `security.protocol` that authenticates.
pub(crate) fn check(config: &ProducerConfig) -> Result<(), Error> {
    let any_credentials = config.sasl_username.is_some() || config.sasl_password.is_some();
    match config.sasl_mechanism {
        None if any_credentials => Err(Error::config(
            "sasl.mechanism",
            "is required with sasl.username and sasl.password: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
        )),
        None => Ok(()),
        Some(m) => {
            if !config.security_protocol.uses_sasl() {
                return Err(unused_sasl(config.security_protocol));
            }
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

/// SASL settings with a protocol that does not authenticate: an error
/// rather than credentials silently unused.
fn unused_sasl(protocol: SecurityProtocol) -> Error {
    let instead = if protocol.uses_tls() {
        "SASL_SSL"
    } else {
        "SASL_PLAINTEXT"
    };
    Error::config(
        "security.protocol",
        format!(
            "is {}, which does not authenticate, but a SASL mechanism is set: set \
             security.protocol={instead}, or remove the sasl.* settings",
            protocol.name()
        ),
    )
}

/// `transport` authenticating with `custom` (set on the builder) or the
/// mechanism the `sasl.*` settings name, when `security.protocol` is
/// `SASL_PLAINTEXT` or `SASL_SSL`; `transport` itself otherwise.
pub(crate) fn transport(
    transport: Arc<dyn Transport>,
    custom: Option<Arc<dyn Mechanism>>,
    config: &ProducerConfig,
) -> Result<Arc<dyn Transport>, Error> {
    let protocol = config.security_protocol;
    let configured = config.sasl_mechanism.map(|m| {
        m.with_credentials(
            config.sasl_username.clone().unwrap_or_default(),
            config.sasl_password.clone().unwrap_or_default(),
        )
    });
    match (protocol.uses_sasl(), custom.or(configured)) {
        (true, Some(mechanism)) => Ok(Arc::new(SaslTransport::new(transport, mechanism))),
        (true, None) => Err(Error::config(
            "sasl.mechanism",
            format!(
                "is required with security.protocol={}: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, \
                 with sasl.username and sasl.password",
                protocol.name()
            ),
        )),
        (false, Some(_)) => Err(unused_sasl(protocol)),
        (false, None) => Ok(transport),
    }
}
