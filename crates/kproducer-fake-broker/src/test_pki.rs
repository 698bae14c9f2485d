//! [`TestPki`]: a throw-away certificate authority (rcgen) for TLS tests and
//! the fake broker's self-signed mode: it issues broker certificates (good,
//! expired, for other names) and client certificates for mutual TLS.
//!
//! Everything is generated in memory, fresh per call (ECDSA P-256 keys);
//! nothing here is meant to protect anything.

use std::fmt;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// A certificate authority made up for a test.
///
/// ```
/// use kproducer_fake_broker::TestPki;
///
/// let pki = TestPki::new("test CA").unwrap();
/// let broker = pki.issue_server(&["localhost", "127.0.0.1"]).unwrap();
/// assert!(pki.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
/// assert!(broker.certificate_pem.contains("BEGIN CERTIFICATE"));
/// // The key is not in the Debug output.
/// assert!(!format!("{broker:?}").contains("PRIVATE KEY"));
/// ```
pub struct TestPki {
    ca: CertifiedIssuer<'static, KeyPair>,
}

impl fmt::Debug for TestPki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestPki").finish_non_exhaustive()
    }
}

/// A certificate and its private key, as PEM.
#[derive(Clone)]
pub struct IssuedCertificate {
    /// The certificate (PEM, one block).
    pub certificate_pem: String,
    /// Its private key (PKCS#8 PEM). Not shown by `Debug`.
    pub key_pem: String,
}

impl fmt::Debug for IssuedCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCertificate")
            .field("certificate_pem", &self.certificate_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// Certificate generation failed (rcgen's message).
#[derive(Debug, thiserror::Error)]
#[error("could not generate a test certificate: {0}")]
pub struct PkiError(#[from] rcgen::Error);

/// How long an issued certificate is valid.
#[derive(Debug, Clone, Copy)]
enum Validity {
    /// 1975 to 4096 (rcgen's default).
    Long,
    /// 2000-01-01 to 2001-01-01: long expired.
    Expired,
}

impl TestPki {
    /// A new self-signed CA whose subject is `common_name`.
    ///
    /// # Errors
    /// [`PkiError`] if key generation fails.
    pub fn new(common_name: &str) -> Result<Self, PkiError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate()?)?;
        Ok(Self { ca })
    }

    /// The CA certificate (PEM): what clients put in `ssl.ca.location`.
    pub fn ca_pem(&self) -> String {
        self.ca.pem()
    }

    /// A broker certificate valid for `names` (DNS names or IP addresses).
    ///
    /// # Errors
    /// [`PkiError`] if a name is not a valid DNS name or generation fails.
    pub fn issue_server(&self, names: &[&str]) -> Result<IssuedCertificate, PkiError> {
        self.issue(names, ExtendedKeyUsagePurpose::ServerAuth, Validity::Long)
    }

    /// A broker certificate for `names` that expired in 2001.
    ///
    /// # Errors
    /// As [`TestPki::issue_server`].
    pub fn issue_expired_server(&self, names: &[&str]) -> Result<IssuedCertificate, PkiError> {
        self.issue(
            names,
            ExtendedKeyUsagePurpose::ServerAuth,
            Validity::Expired,
        )
    }

    /// A client certificate (mutual TLS) whose subject is `common_name`.
    ///
    /// # Errors
    /// As [`TestPki::issue_server`].
    pub fn issue_client(&self, common_name: &str) -> Result<IssuedCertificate, PkiError> {
        self.issue(
            &[common_name],
            ExtendedKeyUsagePurpose::ClientAuth,
            Validity::Long,
        )
    }

    fn issue(
        &self,
        names: &[&str],
        usage: ExtendedKeyUsagePurpose,
        validity: Validity,
    ) -> Result<IssuedCertificate, PkiError> {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names.clone())?;
        if let Some(first) = names.first() {
            params
                .distinguished_name
                .push(DnType::CommonName, first.as_str());
        }
        params.extended_key_usages = vec![usage];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        if let Validity::Expired = validity {
            params.not_before = rcgen::date_time_ymd(2000, 1, 1);
            params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        }
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.ca)?;
        Ok(IssuedCertificate {
            certificate_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}
