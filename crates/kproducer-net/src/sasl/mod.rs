//! SASL authentication on connect: the [`Mechanism`] trait, PLAIN, SCRAM
//! (SHA-256, SHA-512) and [`SaslTransport`], which runs a mechanism on
//! every new stream before the connection starts.
//!
//! # References
//! - KIP-43 (SASL PLAIN, SaslHandshake), KIP-84 (SCRAM), KIP-152
//!   (SaslAuthenticate), KIP-368 (re-authentication, not done here)
//! - RFC 4616 (PLAIN), RFC 5802 (SCRAM), RFC 7677 (SCRAM-SHA-256)

mod builtin;
mod error;
mod handshake;
mod mechanism;
mod plain;
mod scram;
mod scram_crypto;
mod transport;

pub use builtin::BuiltinMechanism;
pub use error::SaslError;
pub use mechanism::{Exchange, Mechanism, Step};
pub use plain::Plain;
pub use scram::Scram;
pub use scram_crypto::{
    SCRAM_MAX_ITERATIONS, SCRAM_MIN_ITERATIONS, ScramCredential, ScramHash, scram_escape_username,
    scram_unescape_username,
};
pub use transport::{DEFAULT_SASL_TIMEOUT, SaslTransport};

#[cfg(test)]
mod tests;
