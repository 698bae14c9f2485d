//! SASL on the fake broker: which mechanisms and users a cluster accepts
//! ([`SaslServerConfig`]), and the per-connection gate that authenticates a
//! client before serving it anything but ApiVersions, as Kafka's SASL
//! listeners do.

mod gate;
mod scram_server;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use kproducer_net::{BuiltinMechanism, ScramCredential, ScramHash, Secret};

pub(crate) use gate::{SaslGate, Verdict};

/// The iteration count the fake broker's SCRAM credentials use by default:
/// Kafka's minimum.
pub const DEFAULT_SCRAM_ITERATIONS: u32 = 4096;

/// How the fake broker misbehaves in SCRAM, to test the client's checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SaslFault {
    /// Accept the client's proof, then send a server signature that is not
    /// the right one (what an impostor without the credentials would do).
    WrongServerSignature,
    /// Answer client-first with a nonce that does not start with the
    /// client's.
    ForeignNonce,
}

/// What the broker stores for one user. The SCRAM credentials are derived
/// on first use (thousands of HMAC rounds each), so a test that never uses
/// a mechanism does not pay for it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct UserCredentials {
    /// PLAIN compares the password itself.
    password: Secret,
    salt: Vec<u8>,
    iterations: u32,
    sha256: OnceLock<ScramCredential>,
    sha512: OnceLock<ScramCredential>,
}

impl UserCredentials {
    fn scram(&self, hash: ScramHash) -> &ScramCredential {
        let cell = match hash {
            ScramHash::Sha256 => &self.sha256,
            ScramHash::Sha512 => &self.sha512,
        };
        cell.get_or_init(|| {
            ScramCredential::new(hash, self.password.expose(), &self.salt, self.iterations)
        })
    }
}

/// SASL settings of a fake cluster: when a cluster has them, every
/// connection must authenticate (SaslHandshake v0–v1 + SaslAuthenticate
/// v0–v2) before any request other than ApiVersions; any other request
/// closes the connection, as Kafka's SASL listeners do. A failed
/// authentication is answered with error 58 `SASL_AUTHENTICATION_FAILED`
/// and the connection is closed.
///
/// SCRAM credentials are stored as Kafka stores them (salt, iterations,
/// stored key, server key); the salt is derived from the user name, so
/// runs are reproducible.
///
/// ```
/// use kproducer_fake_broker::{FakeCluster, SaslServerConfig};
/// use kproducer_net::BuiltinMechanism;
///
/// let sasl = SaslServerConfig::new()
///     .mechanisms(&[BuiltinMechanism::ScramSha256])
///     .user("alice", "alice-secret");
/// assert!(!format!("{sasl:?}").contains("alice-secret"));
/// let cluster = FakeCluster::builder().brokers(1).sasl(sasl).build().unwrap();
/// assert!(cluster.config().sasl.is_some());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslServerConfig {
    mechanisms: Vec<BuiltinMechanism>,
    users: BTreeMap<String, UserCredentials>,
    iterations: u32,
    fault: Option<SaslFault>,
}

impl Default for SaslServerConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl SaslServerConfig {
    /// PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 enabled, no users.
    pub fn new() -> Self {
        Self {
            mechanisms: BuiltinMechanism::ALL.to_vec(),
            users: BTreeMap::new(),
            iterations: DEFAULT_SCRAM_ITERATIONS,
            fault: None,
        }
    }

    /// Enables only these mechanisms (in this order in the handshake's
    /// list).
    pub fn mechanisms(mut self, mechanisms: &[BuiltinMechanism]) -> Self {
        self.mechanisms = mechanisms.to_vec();
        self
    }

    /// The SCRAM iteration count for users added after this call. Values
    /// below Kafka's minimum (4096) are accepted here so that tests can
    /// check that clients refuse them.
    pub fn scram_iterations(mut self, iterations: u32) -> Self {
        self.iterations = iterations.max(1);
        self
    }

    /// Adds (or replaces) a user.
    pub fn user(mut self, name: impl Into<String>, password: impl Into<Secret>) -> Self {
        let name = name.into();
        let password = password.into();
        // A reproducible per-user salt: 16 bytes of SHA-256 over the name.
        let salt = ScramHash::Sha256.digest(format!("kproducer-fake-broker/{name}").as_bytes());
        let credentials = UserCredentials {
            password,
            salt: salt[..16].to_vec(),
            iterations: self.iterations,
            sha256: OnceLock::new(),
            sha512: OnceLock::new(),
        };
        self.users.insert(name, credentials);
        self
    }

    /// Makes the SCRAM server misbehave.
    pub fn fault(mut self, fault: SaslFault) -> Self {
        self.fault = Some(fault);
        self
    }

    /// The enabled mechanisms.
    pub fn enabled_mechanisms(&self) -> &[BuiltinMechanism] {
        &self.mechanisms
    }

    /// The configured user names.
    pub fn user_names(&self) -> impl Iterator<Item = &str> {
        self.users.keys().map(String::as_str)
    }
}
