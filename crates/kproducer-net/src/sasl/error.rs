//! [`SaslError`]: why SASL authentication on a new connection failed.

use std::io;
use std::sync::Arc;
use std::time::Duration;

/// Why SASL authentication failed. Carried by
/// [`TransportError::Sasl`](crate::TransportError::Sasl), which names the
/// broker.
///
/// No variant holds a password or a SASL token: the texts come from the
/// broker (its error message) or from this crate.
///
/// [`is_fatal`](SaslError::is_fatal) says whether connecting again can
/// help: a rejected password, a mechanism the broker does not enable or a
/// broker that fails to prove it knows the password will fail the same way
/// on every attempt.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SaslError {
    /// The broker does not enable the mechanism asked for (error 33
    /// `UNSUPPORTED_SASL_MECHANISM`).
    #[error(
        "the broker does not enable SASL mechanism {mechanism}; it enables [{}]: set sasl.mechanism to one of them",
        enabled.join(", ")
    )]
    UnsupportedMechanism {
        /// The mechanism asked for.
        mechanism: String,
        /// The mechanisms the broker enables.
        enabled: Vec<String>,
    },
    /// The broker's listener does not expect SASL (error 34
    /// `ILLEGAL_SASL_STATE` on the handshake): the client's security
    /// protocol does not match the listener's.
    #[error(
        "the broker's listener does not expect SASL (ILLEGAL_SASL_STATE): use a PLAINTEXT or SSL \
         security.protocol for it, or connect to its SASL listener"
    )]
    NotSaslListener,
    /// The broker rejected the credentials (error 58
    /// `SASL_AUTHENTICATION_FAILED`, or another code on SaslAuthenticate).
    #[error(
        "authentication with {mechanism} failed (error code {code}){}: check sasl.username, \
         sasl.password and sasl.mechanism",
        message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
    )]
    AuthenticationFailed {
        /// The mechanism used.
        mechanism: String,
        /// The broker's error code.
        code: i16,
        /// The broker's explanation, if it sent one.
        message: Option<String>,
    },
    /// The handshake failed with an error code other than 33 and 34.
    #[error("the SASL handshake for {mechanism} failed with error code {code}")]
    HandshakeFailed {
        /// The mechanism asked for.
        mechanism: String,
        /// The broker's error code.
        code: i16,
    },
    /// SCRAM: the broker's final message did not carry the signature that
    /// only a server knowing the credentials can compute. The other end may
    /// be an impostor; the connection is dropped before anything is sent.
    #[error(
        "the broker failed to prove it knows the {mechanism} credentials (server signature \
         mismatch): the connection may not reach the real broker"
    )]
    ServerSignatureMismatch {
        /// The mechanism used.
        mechanism: String,
    },
    /// The broker sent a SASL message this client refuses (malformed, a
    /// nonce that does not extend the client's, too few or too many SCRAM
    /// iterations, an unknown mandatory extension).
    #[error("{mechanism}: the broker sent an unacceptable message: {reason}")]
    InvalidServerMessage {
        /// The mechanism used.
        mechanism: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The configured credentials cannot be expressed in this mechanism
    /// (for example a PLAIN user name holding a NUL byte).
    #[error("{mechanism}: invalid credentials: {reason}")]
    InvalidCredentials {
        /// The mechanism.
        mechanism: String,
        /// What is wrong (never the password itself).
        reason: String,
    },
    /// The exchange took more round trips than any supported mechanism
    /// needs.
    #[error("{mechanism}: the broker kept asking for more after {rounds} round trips")]
    TooManyRounds {
        /// The mechanism used.
        mechanism: String,
        /// Round trips made.
        rounds: usize,
    },
    /// A frame from the broker could not be read as the expected response.
    #[error("a SASL response from the broker could not be decoded: {reason}")]
    Decode {
        /// What the decoder said.
        reason: String,
    },
    /// The stream failed during authentication (Kafka closes the connection
    /// when a client sends anything but SASL requests to a SASL listener
    /// before authenticating, and after a failed authentication).
    #[error("the connection failed during SASL authentication: {0}")]
    Io(Arc<io::Error>),
    /// Authentication did not finish in time.
    #[error("SASL authentication did not finish within {0:?}")]
    Timeout(Duration),
}

impl SaslError {
    /// True when another connection attempt with the same settings will
    /// fail the same way: the producer should give up and report this
    /// error instead of retrying. False for I/O failures and timeouts.
    ///
    /// ```
    /// use kproducer_net::SaslError;
    /// let e = SaslError::AuthenticationFailed {
    ///     mechanism: "PLAIN".into(),
    ///     code: 58,
    ///     message: Some("Invalid username or password".into()),
    /// };
    /// assert!(e.is_fatal());
    /// assert!(!SaslError::Timeout(std::time::Duration::from_secs(10)).is_fatal());
    /// ```
    pub fn is_fatal(&self) -> bool {
        !matches!(self, SaslError::Io(_) | SaslError::Timeout(_))
    }
}

impl From<io::Error> for SaslError {
    fn from(e: io::Error) -> Self {
        SaslError::Io(Arc::new(e))
    }
}
