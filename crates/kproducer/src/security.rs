//! `security.protocol` and the `ssl.*` settings, and the transport they
//! make: PLAINTEXT is the base transport as it is, SSL wraps it in TLS.
//! SASL_PLAINTEXT and SASL_SSL are parsed; the SASL layer goes in
//! [`secure_transport`] (marked) and until then they fail the build with a
//! typed error.

use std::sync::Arc;

use kproducer_net::{
    ClientIdentity, PemSource, PrivateKeySource, TlsConfig, TlsConfigError, TlsTransport,
    Transport, TrustRoots,
};

use crate::error::Error;

/// `security.protocol`: how the producer talks to brokers.
///
/// ```
/// use kproducer::{ProducerConfig, SecurityProtocol};
///
/// assert_eq!(ProducerConfig::default().security_protocol, SecurityProtocol::Plaintext);
/// let config = ProducerConfig::from_properties([("security.protocol", "ssl")])?;
/// assert_eq!(config.security_protocol, SecurityProtocol::Ssl);
/// assert!(config.security_protocol.uses_tls());
/// # Ok::<(), kproducer::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SecurityProtocol {
    /// No TLS, no authentication (the default, as in Kafka).
    #[default]
    Plaintext,
    /// TLS (`ssl.*` settings).
    Ssl,
    /// SASL authentication without TLS (`sasl.*` settings).
    SaslPlaintext,
    /// SASL authentication over TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// Parses Kafka's names, any ASCII case.
    pub(crate) fn parse(value: &str) -> Option<Self> {
        [
            ("PLAINTEXT", SecurityProtocol::Plaintext),
            ("SSL", SecurityProtocol::Ssl),
            ("SASL_PLAINTEXT", SecurityProtocol::SaslPlaintext),
            ("SASL_SSL", SecurityProtocol::SaslSsl),
        ]
        .into_iter()
        .find(|(name, _)| value.eq_ignore_ascii_case(name))
        .map(|(_, p)| p)
    }

    /// Kafka's name for it.
    ///
    /// ```
    /// assert_eq!(kproducer::SecurityProtocol::SaslSsl.name(), "SASL_SSL");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    /// Whether connections use TLS (SSL and SASL_SSL).
    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    /// Whether connections authenticate with SASL.
    pub fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

/// The `ssl.*` settings, as given (files are read when the producer is
/// built). Used when `security.protocol` is SSL or SASL_SSL.
///
/// ```
/// use kproducer::{ProducerConfig, SslConfig};
/// use kproducer_net::PemSource;
///
/// let config = ProducerConfig::from_properties([
///     ("security.protocol", "SSL"),
///     ("ssl.ca.location", "/etc/kafka/ca.pem"),
/// ])?;
/// assert_eq!(config.ssl.ca, Some(PemSource::File("/etc/kafka/ca.pem".into())));
/// assert!(config.ssl.endpoint_identification);
/// # Ok::<(), kproducer::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SslConfig {
    /// `ssl.ca.location` / `ssl.ca.pem`: the CA certificates to trust;
    /// `None` trusts the operating system's store.
    pub ca: Option<PemSource>,
    /// `ssl.certificate.location` / `ssl.certificate.pem`: the client
    /// certificate chain for mutual TLS (needs `key`).
    pub certificate: Option<PemSource>,
    /// `ssl.key.location` / `ssl.key.pem`: the client certificate's private
    /// key, unencrypted PEM (needs `certificate`). Never shown by `Debug`.
    pub key: Option<PrivateKeySource>,
    /// `ssl.endpoint.identification.algorithm`: `https` (the default)
    /// checks that the broker's certificate names the host; empty turns the
    /// check off (only for testing).
    pub endpoint_identification: bool,
}

impl Default for SslConfig {
    fn default() -> Self {
        Self {
            ca: None,
            certificate: None,
            key: None,
            endpoint_identification: true,
        }
    }
}

impl SslConfig {
    /// The TLS transport settings, or an error when the certificate and
    /// key are not given together.
    ///
    /// # Errors
    /// [`Error::Config`] naming the missing half.
    pub fn tls_config(&self) -> Result<TlsConfig, Error> {
        let identity = match (&self.certificate, &self.key) {
            (None, None) => None,
            (Some(certificate), Some(key)) => Some(ClientIdentity {
                certificate: certificate.clone(),
                key: key.clone(),
            }),
            (Some(_), None) => {
                return Err(Error::config(
                    "ssl.key.location",
                    "is missing: a client certificate (ssl.certificate.location or \
                     ssl.certificate.pem) needs its private key (ssl.key.location or ssl.key.pem)",
                ));
            }
            (None, Some(_)) => {
                return Err(Error::config(
                    "ssl.certificate.location",
                    "is missing: a private key (ssl.key.location or ssl.key.pem) needs its \
                     certificate (ssl.certificate.location or ssl.certificate.pem)",
                ));
            }
        };
        Ok(TlsConfig {
            roots: self.ca.clone().map_or(TrustRoots::System, TrustRoots::Pem),
            identity,
            verify_server_name: self.endpoint_identification,
        })
    }
}

/// The property a [`TlsConfigError`] is about, for [`Error::Config`].
fn tls_error_key(ssl: &SslConfig, error: &TlsConfigError) -> &'static str {
    let is_key_error = matches!(error, TlsConfigError::EncryptedKey { .. })
        || matches!(error, TlsConfigError::Read { what, .. } | TlsConfigError::Pem { what, .. } if *what == "private key");
    if is_key_error {
        return "ssl.key.location";
    }
    match error {
        TlsConfigError::Read { what, .. } | TlsConfigError::Pem { what, .. }
            if *what == "client certificate" =>
        {
            "ssl.certificate.location"
        }
        TlsConfigError::Rustls(_) if ssl.certificate.is_some() => "ssl.certificate.location",
        _ => "ssl.ca.location",
    }
}

/// The transport the producer connects with: `base` (TCP, or a test's
/// transport) with the layers `protocol` asks for on top. The producer
/// calls it on build; tools that open their own connections with the same
/// settings (such as the CLI's pre-flight check) call it too.
///
/// # Errors
/// [`Error::Config`] when a certificate or key cannot be loaded, or the
/// protocol needs a layer this build does not have.
///
/// ```
/// use std::sync::Arc;
/// use kproducer::{SecurityProtocol, SslConfig, secure_transport};
/// use kproducer_net::{DEFAULT_CONNECT_TIMEOUT, TcpTransport};
///
/// let tcp = Arc::new(TcpTransport::default());
/// let plain = secure_transport(tcp, SecurityProtocol::Plaintext, &SslConfig::default(), DEFAULT_CONNECT_TIMEOUT);
/// assert!(plain.is_ok());
/// ```
pub fn secure_transport(
    base: Arc<dyn Transport>,
    protocol: SecurityProtocol,
    ssl: &SslConfig,
    connect_timeout: std::time::Duration,
) -> Result<Arc<dyn Transport>, Error> {
    let transport: Arc<dyn Transport> = if protocol.uses_tls() {
        let tls = ssl.tls_config()?;
        let over = TlsTransport::new(base, &tls)
            .map_err(|e| Error::config(tls_error_key(ssl, &e), e.to_string()))?;
        Arc::new(over.with_connect_timeout(connect_timeout))
    } else {
        base
    };
    if protocol.uses_sasl() {
        // SASL: wrap `transport` in the SASL layer (SaslTransport) here,
        // once it is merged; the sasl.* settings configure it.
        return Err(Error::config(
            "security.protocol",
            format!(
                "{} is not built in this configuration yet: SASL authentication is not \
                 available; use PLAINTEXT or SSL",
                protocol.name()
            ),
        ));
    }
    Ok(transport)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_names_round_trip() {
        for p in [
            SecurityProtocol::Plaintext,
            SecurityProtocol::Ssl,
            SecurityProtocol::SaslPlaintext,
            SecurityProtocol::SaslSsl,
        ] {
            assert_eq!(SecurityProtocol::parse(p.name()), Some(p));
            assert_eq!(SecurityProtocol::parse(&p.name().to_lowercase()), Some(p));
        }
        assert_eq!(SecurityProtocol::parse("TLS"), None);
    }

    #[test]
    fn certificate_without_key_names_the_missing_key() {
        let ssl = SslConfig {
            certificate: Some(PemSource::File("client.pem".into())),
            ..SslConfig::default()
        };
        let err = ssl.tls_config().unwrap_err();
        assert!(
            matches!(&err, Error::Config { key, .. } if key == "ssl.key.location"),
            "{err}"
        );
    }

    #[test]
    fn unreadable_files_name_their_property() {
        let ssl = SslConfig {
            ca: Some(PemSource::File("/nonexistent/ca.pem".into())),
            ..SslConfig::default()
        };
        let base: Arc<dyn Transport> = Arc::new(kproducer_net::TcpTransport::default());
        let err = secure_transport(
            base,
            SecurityProtocol::Ssl,
            &ssl,
            kproducer_net::DEFAULT_CONNECT_TIMEOUT,
        )
        .unwrap_err();
        assert!(
            matches!(&err, Error::Config { key, .. } if key == "ssl.ca.location"),
            "{err}"
        );
        assert!(err.to_string().contains("/nonexistent/ca.pem"));
    }
}
