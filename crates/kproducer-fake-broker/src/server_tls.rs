//! [`ServerTls`]: how the fake broker's listener speaks TLS (a certificate
//! chain and key, and optionally a CA whose client certificates it
//! requires), built into a rustls acceptor on the `ring` provider.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio_rustls::TlsAcceptor;

use crate::error::ListenError;
use crate::test_pki::{IssuedCertificate, PkiError, TestPki};

/// How long an accepted connection may take to finish its TLS handshake
/// before the broker closes it (Kafka bounds it by its own timeouts too).
pub const SERVER_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// TLS settings for [`FakeCluster::listen_tls`](crate::FakeCluster::listen_tls).
///
/// ```
/// use kproducer_fake_broker::{ServerTls, TestPki};
///
/// let pki = TestPki::new("test CA").unwrap();
/// let broker = pki.issue_server(&["127.0.0.1"]).unwrap();
/// let tls = ServerTls::new(&broker.certificate_pem, &broker.key_pem)
///     .require_client_certificates(&pki.ca_pem());
/// assert!(!format!("{tls:?}").contains("PRIVATE KEY"));
/// ```
#[derive(Clone)]
pub struct ServerTls {
    certificate_pem: String,
    key_pem: String,
    client_ca_pem: Option<String>,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("key_pem", &"<redacted>")
            .field(
                "requires_client_certificates",
                &self.client_ca_pem.is_some(),
            )
            .finish_non_exhaustive()
    }
}

/// A self-signed setup for the loopback listener: a fresh CA, and a broker
/// certificate it signed for `localhost` and `127.0.0.1`.
#[derive(Debug)]
pub struct SelfSignedTls {
    /// The CA; clients trust [`TestPki::ca_pem`].
    pub pki: TestPki,
    /// The broker certificate and key.
    pub broker: IssuedCertificate,
}

impl SelfSignedTls {
    /// Generates a CA and a broker certificate for `localhost` and
    /// `127.0.0.1`.
    ///
    /// # Errors
    /// [`PkiError`] if generation fails.
    pub fn for_loopback() -> Result<Self, PkiError> {
        let pki = TestPki::new("kproducer fake broker CA")?;
        let broker = pki.issue_server(&["localhost", "127.0.0.1"])?;
        Ok(Self { pki, broker })
    }

    /// The listener settings serving this certificate.
    pub fn server_tls(&self) -> ServerTls {
        ServerTls::new(&self.broker.certificate_pem, &self.broker.key_pem)
    }
}

impl ServerTls {
    /// Serve `certificate_pem` (leaf first, then intermediates) with its
    /// key (`key_pem`: PKCS#8, PKCS#1 or SEC1 PEM).
    pub fn new(certificate_pem: &str, key_pem: &str) -> Self {
        Self {
            certificate_pem: certificate_pem.to_owned(),
            key_pem: key_pem.to_owned(),
            client_ca_pem: None,
        }
    }

    /// Require every client to present a certificate signed by `ca_pem`
    /// (Kafka's `ssl.client.auth=required`).
    #[must_use]
    pub fn require_client_certificates(mut self, ca_pem: &str) -> Self {
        self.client_ca_pem = Some(ca_pem.to_owned());
        self
    }

    /// The rustls acceptor for these settings.
    pub(crate) fn acceptor(&self) -> Result<TlsAcceptor, ListenError> {
        let bad = |what: &str, e: &dyn fmt::Display| ListenError::Tls(format!("{what}: {e}"));
        let chain: Result<Vec<CertificateDer<'static>>, _> =
            CertificateDer::pem_slice_iter(self.certificate_pem.as_bytes()).collect();
        let chain = chain.map_err(|e| bad("the broker certificate is not valid PEM", &e))?;
        if chain.is_empty() {
            return Err(ListenError::Tls(
                "the broker certificate PEM holds no CERTIFICATE block".to_owned(),
            ));
        }
        // The parser's message is not passed on: it could quote key bytes.
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).map_err(|_| {
            ListenError::Tls("the broker key PEM holds no unencrypted PRIVATE KEY block".to_owned())
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| bad("no TLS version available", &e))?;
        let builder = match &self.client_ca_pem {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(ca.as_bytes()) {
                    let cert = cert.map_err(|e| bad("the client CA is not valid PEM", &e))?;
                    roots
                        .add(cert)
                        .map_err(|e| bad("the client CA was refused", &e))?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .map_err(|e| bad("the client CA cannot verify clients", &e))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config = builder
            .with_single_cert(chain, key)
            .map_err(|e| bad("the broker certificate or key was refused", &e))?;
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}
