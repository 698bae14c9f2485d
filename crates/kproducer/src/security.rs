//! `security.protocol` and the `ssl.*` settings, and the transport they
//! make: PLAINTEXT is the base transport as it is, SSL wraps it in TLS,
//! SASL_PLAINTEXT authenticates on it with SASL and SASL_SSL does both
//! (SASL over TLS). [`ProducerConfig::connect_through`] puts the layers
//! together; the SASL layer itself is `crate::sasl`.

use std::sync::Arc;

use kproducer_net::{
    ClientIdentity, PemSource, PrivateKeySource, TlsConfig, TlsConfigError, TlsTransport,
    Transport, TrustRoots,
};

use crate::config::ProducerConfig;
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

    /// The protocol with SASL authentication added: `PLAINTEXT` becomes
    /// `SASL_PLAINTEXT`, `SSL` becomes `SASL_SSL`.
    ///
    /// ```
    /// use kproducer::SecurityProtocol;
    /// assert_eq!(SecurityProtocol::Ssl.with_sasl(), SecurityProtocol::SaslSsl);
    /// assert_eq!(SecurityProtocol::SaslPlaintext.with_sasl(), SecurityProtocol::SaslPlaintext);
    /// ```
    #[must_use]
    pub fn with_sasl(self) -> Self {
        match self {
            SecurityProtocol::Plaintext | SecurityProtocol::SaslPlaintext => {
                SecurityProtocol::SaslPlaintext
            }
            SecurityProtocol::Ssl | SecurityProtocol::SaslSsl => SecurityProtocol::SaslSsl,
        }
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

impl ProducerConfig {
    /// The transport the producer opens connections with: `base` (TCP, or
    /// a test's in-memory transport) with the layers `security.protocol`
    /// asks for on top — TLS for `SSL` and `SASL_SSL` (bounded by
    /// `connect_timeout`, handshake included), SASL authentication for
    /// `SASL_PLAINTEXT` and `SASL_SSL`. [`ProducerBuilder::build`](crate::ProducerBuilder::build)
    /// does this itself; tools that open their own connections with the
    /// same settings (such as the CLI's pre-flight metadata check) call it
    /// so they connect exactly as the producer will.
    ///
    /// # Errors
    /// [`Error::Config`] when a certificate or key cannot be loaded, when
    /// `SASL_PLAINTEXT`/`SASL_SSL` is chosen without `sasl.mechanism`, or
    /// when SASL settings are given with `PLAINTEXT`/`SSL` (which would
    /// leave them unused).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use kproducer::ProducerConfig;
    /// use kproducer_net::{DEFAULT_CONNECT_TIMEOUT, TcpTransport};
    ///
    /// let config = ProducerConfig::from_properties([
    ///     ("security.protocol", "SASL_PLAINTEXT"),
    ///     ("sasl.mechanism", "SCRAM-SHA-256"),
    ///     ("sasl.username", "alice"),
    ///     ("sasl.password", "alice-secret"),
    /// ])?;
    /// let transport = config.connect_through(Arc::new(TcpTransport::default()), DEFAULT_CONNECT_TIMEOUT)?;
    /// assert!(format!("{transport:?}").contains("SaslTransport"));
    /// assert!(!format!("{transport:?}").contains("alice-secret"));
    /// # Ok::<(), kproducer::Error>(())
    /// ```
    pub fn connect_through(
        &self,
        base: Arc<dyn Transport>,
        connect_timeout: std::time::Duration,
    ) -> Result<Arc<dyn Transport>, Error> {
        layered_transport(base, None, self, connect_timeout)
    }
}

/// `base` with TLS on top when the protocol asks for it, then SASL (with
/// `custom`, a mechanism given to the builder, or the `sasl.*` settings).
pub(crate) fn layered_transport(
    base: Arc<dyn Transport>,
    custom: Option<Arc<dyn kproducer_net::Mechanism>>,
    config: &ProducerConfig,
    connect_timeout: std::time::Duration,
) -> Result<Arc<dyn Transport>, Error> {
    let protocol = config.security_protocol;
    let transport: Arc<dyn Transport> = if protocol.uses_tls() {
        let tls = config.ssl.tls_config()?;
        let over = TlsTransport::new(base, &tls)
            .map_err(|e| Error::config(tls_error_key(&config.ssl, &e), e.to_string()))?;
        Arc::new(over.with_connect_timeout(connect_timeout))
    } else {
        base
    };
    crate::sasl::transport(transport, custom, config)
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
        let config = ProducerConfig {
            security_protocol: SecurityProtocol::Ssl,
            ssl,
            ..ProducerConfig::default()
        };
        let base: Arc<dyn Transport> = Arc::new(kproducer_net::TcpTransport::default());
        let err = config
            .connect_through(base, kproducer_net::DEFAULT_CONNECT_TIMEOUT)
            .unwrap_err();
        assert!(
            matches!(&err, Error::Config { key, .. } if key == "ssl.ca.location"),
            "{err}"
        );
        assert!(err.to_string().contains("/nonexistent/ca.pem"));
    }
}
