//! [`TlsConfig`]: what a [`TlsTransport`](crate::TlsTransport) trusts and
//! presents, as the `ssl.*` properties describe it, and how it becomes a
//! rustls client configuration.
//!
//! Certificates and keys come from PEM files or PEM strings (librdkafka's
//! `ssl.*.location` and `ssl.*.pem`). Private-key text is held in a
//! [`PrivateKeyPem`], whose `Debug` never shows it; error messages name the
//! file or say "inline PEM", never the bytes.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ClientConfig;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// Where PEM text comes from: a file (`ssl.ca.location`,
/// `ssl.certificate.location`) or a string (`ssl.ca.pem`,
/// `ssl.certificate.pem`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PemSource {
    /// A PEM file, read when the transport is built.
    File(PathBuf),
    /// PEM text.
    Pem(String),
}

impl PemSource {
    fn describe(&self) -> String {
        match self {
            PemSource::File(p) => p.display().to_string(),
            PemSource::Pem(_) => "inline PEM".to_owned(),
        }
    }

    fn read(&self, what: &'static str) -> Result<Vec<u8>, TlsConfigError> {
        match self {
            PemSource::File(path) => read_file(path, what),
            PemSource::Pem(text) => Ok(text.as_bytes().to_vec()),
        }
    }
}

/// PEM text of a private key (`ssl.key.pem`). Its `Debug` output is
/// redacted, so it can sit in a configuration that gets logged.
///
/// ```
/// use kproducer_net::PrivateKeyPem;
/// let key = PrivateKeyPem::new("-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----");
/// assert!(!format!("{key:?}").contains("secret"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKeyPem(String);

impl PrivateKeyPem {
    /// Wraps PEM text.
    pub fn new(pem: impl Into<String>) -> Self {
        Self(pem.into())
    }

    /// The PEM text, for the code that parses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PrivateKeyPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKeyPem(<redacted>)")
    }
}

/// Where the client's private key comes from (`ssl.key.location` or
/// `ssl.key.pem`). Unencrypted PKCS#8, PKCS#1 (RSA) or SEC1 (EC) PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrivateKeySource {
    /// A PEM file, read when the transport is built.
    File(PathBuf),
    /// PEM text.
    Pem(PrivateKeyPem),
}

/// Which certificate authorities the client trusts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TrustRoots {
    /// The operating system's trust store (the default, as in Java and
    /// librdkafka).
    #[default]
    System,
    /// Only the CA certificates in this PEM (`ssl.ca.location` /
    /// `ssl.ca.pem`).
    Pem(PemSource),
}

/// A client certificate chain and its key, for brokers that require mutual
/// TLS (`ssl.client.auth=required`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    /// The certificate chain, leaf first.
    pub certificate: PemSource,
    /// The private key of the leaf certificate.
    pub key: PrivateKeySource,
}

/// TLS settings of a [`TlsTransport`](crate::TlsTransport).
///
/// ```
/// use kproducer_net::{PemSource, TlsConfig, TrustRoots};
///
/// let config = TlsConfig {
///     roots: TrustRoots::Pem(PemSource::File("/etc/kafka/ca.pem".into())),
///     ..TlsConfig::default()
/// };
/// assert!(config.verify_server_name); // on unless switched off explicitly
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// CA certificates to trust.
    pub roots: TrustRoots,
    /// A client certificate for mutual TLS, if the broker asks for one.
    pub identity: Option<ClientIdentity>,
    /// Check that the broker's certificate names the host connected to
    /// (`ssl.endpoint.identification.algorithm=https`, the default). Turning
    /// it off (the property set to empty) lets anyone holding any
    /// certificate from a trusted CA impersonate the broker: only for tests.
    pub verify_server_name: bool,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            roots: TrustRoots::System,
            identity: None,
            verify_server_name: true,
        }
    }
}

/// Why a [`TlsConfig`] could not be turned into a working TLS client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsConfigError {
    /// A file could not be read.
    #[error("cannot read the {what} file {path}: {source}")]
    Read {
        /// What the file should hold ("CA certificate", "private key", …).
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// PEM text held nothing usable.
    #[error("the {what} ({source_name}) {problem}")]
    Pem {
        /// What the PEM should hold.
        what: &'static str,
        /// The file path, or "inline PEM".
        source_name: String,
        /// What is wrong with it, and what to do.
        problem: String,
    },
    /// The private key is encrypted; kproducer reads unencrypted keys only.
    #[error(
        "the private key ({source_name}) is encrypted, which kproducer does not support: \
         decrypt it (openssl pkcs8 -topk8 -nocrypt -in key.pem -out key-plain.pem), \
         keep the file readable only by the producer's user, and remove ssl.key.password"
    )]
    EncryptedKey {
        /// The file path, or "inline PEM".
        source_name: String,
    },
    /// The system trust store held no usable certificate.
    #[error(
        "the system trust store has no usable CA certificate ({detail}); \
         set ssl.ca.location to the CA that signed the brokers' certificates"
    )]
    NoSystemRoots {
        /// What the loader reported.
        detail: String,
    },
    /// rustls refused the certificate chain or key.
    #[error("the TLS client configuration was refused: {0}")]
    Rustls(#[from] rustls::Error),
}

impl TlsConfig {
    /// Builds the rustls client configuration: reads the files, parses the
    /// PEM, loads the trust store.
    ///
    /// # Errors
    /// [`TlsConfigError`] naming the file or setting at fault.
    pub(crate) fn client_config(&self) -> Result<ClientConfig, TlsConfigError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = Arc::new(self.root_store()?);
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        let builder = if self.verify_server_name {
            builder.with_root_certificates(roots)
        } else {
            let verifier = WebPkiServerVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|e| TlsConfigError::Rustls(rustls::Error::General(e.to_string())))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyNameVerifier { inner: verifier }))
        };
        let config = match &self.identity {
            None => builder.with_no_client_auth(),
            Some(identity) => {
                let chain = certificates(&identity.certificate, "client certificate")?;
                let key = private_key(&identity.key)?;
                builder.with_client_auth_cert(chain, key)?
            }
        };
        Ok(config)
    }

    fn root_store(&self) -> Result<RootCertStore, TlsConfigError> {
        let mut store = RootCertStore::empty();
        match &self.roots {
            TrustRoots::Pem(source) => {
                let certs = certificates(source, "CA certificate")?;
                let (added, _ignored) = store.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(TlsConfigError::Pem {
                        what: "CA certificate",
                        source_name: source.describe(),
                        problem: "holds no certificate usable as a trust anchor".to_owned(),
                    });
                }
            }
            TrustRoots::System => {
                let loaded = rustls_native_certs::load_native_certs();
                let (added, _ignored) = store.add_parsable_certificates(loaded.certs);
                if added == 0 {
                    let detail = loaded
                        .errors
                        .first()
                        .map_or_else(|| "no certificate found".to_owned(), ToString::to_string);
                    return Err(TlsConfigError::NoSystemRoots { detail });
                }
            }
        }
        Ok(store)
    }
}

fn read_file(path: &Path, what: &'static str) -> Result<Vec<u8>, TlsConfigError> {
    std::fs::read(path).map_err(|source| TlsConfigError::Read {
        what,
        path: path.to_owned(),
        source,
    })
}

/// Every certificate in `source`, in order.
fn certificates(
    source: &PemSource,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let pem = source.read(what)?;
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&pem).collect();
    let certs = certs.map_err(|e| TlsConfigError::Pem {
        what,
        source_name: source.describe(),
        problem: format!("is not valid PEM: {e}"),
    })?;
    if certs.is_empty() {
        return Err(TlsConfigError::Pem {
            what,
            source_name: source.describe(),
            problem: "holds no CERTIFICATE block".to_owned(),
        });
    }
    Ok(certs)
}

/// The first private key in `source`. The PEM parser's own messages are
/// not passed on: they could quote the key's bytes.
fn private_key(source: &PrivateKeySource) -> Result<PrivateKeyDer<'static>, TlsConfigError> {
    let (pem, name) = match source {
        PrivateKeySource::File(path) => {
            (read_file(path, "private key")?, path.display().to_string())
        }
        PrivateKeySource::Pem(text) => (text.expose().as_bytes().to_vec(), "inline PEM".to_owned()),
    };
    if pem.windows(b"ENCRYPTED".len()).any(|w| w == b"ENCRYPTED") {
        return Err(TlsConfigError::EncryptedKey { source_name: name });
    }
    PrivateKeyDer::from_pem_slice(&pem).map_err(|_| TlsConfigError::Pem {
        what: "private key",
        source_name: name,
        problem: "holds no unencrypted PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block"
            .to_owned(),
    })
}

/// Verifies the chain like webpki but accepts a certificate that does not
/// name the host (`ssl.endpoint.identification.algorithm=` empty). webpki
/// checks the chain before the name, so a name error means the chain was
/// good.
#[derive(Debug)]
struct AnyNameVerifier {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for AnyNameVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_ca_file_names_the_path() {
        let config = TlsConfig {
            roots: TrustRoots::Pem(PemSource::File("/nonexistent/ca.pem".into())),
            ..TlsConfig::default()
        };
        let err = config.client_config().unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/nonexistent/ca.pem"), "{text}");
        assert!(text.contains("CA certificate"), "{text}");
    }

    #[test]
    fn pem_without_certificates_is_refused() {
        let config = TlsConfig {
            roots: TrustRoots::Pem(PemSource::Pem("not pem at all".into())),
            ..TlsConfig::default()
        };
        let err = config.client_config().unwrap_err();
        assert!(matches!(err, TlsConfigError::Pem { .. }), "{err}");
    }

    #[test]
    fn key_bytes_never_appear_in_errors_or_debug() {
        let secret = "-----BEGIN PRIVATE KEY-----\nTOPSECRETKEYBYTES\n-----END PRIVATE KEY-----\n";
        let source = PrivateKeySource::Pem(PrivateKeyPem::new(secret));
        let err = private_key(&source).unwrap_err();
        assert!(!err.to_string().contains("TOPSECRET"), "{err}");
        assert!(!format!("{err:?}").contains("TOPSECRET"));
        let identity = ClientIdentity {
            certificate: PemSource::Pem("x".into()),
            key: source,
        };
        assert!(!format!("{identity:?}").contains("TOPSECRET"));
    }

    #[test]
    fn encrypted_keys_get_a_typed_error() {
        let pem =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let err = private_key(&PrivateKeySource::Pem(PrivateKeyPem::new(pem))).unwrap_err();
        assert!(matches!(err, TlsConfigError::EncryptedKey { .. }), "{err}");
        assert!(err.to_string().contains("ssl.key.password"));
    }
}
