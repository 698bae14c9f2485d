//! [`BuiltinMechanism`]: the mechanisms this crate implements, by name.

use std::fmt;
use std::sync::Arc;

use crate::sasl::{Mechanism, Plain, Scram, ScramHash};
use crate::secret::Secret;

/// A SASL mechanism this crate implements, named as `sasl.mechanism`
/// names it.
///
/// ```
/// use kproducer_net::BuiltinMechanism;
/// let m = BuiltinMechanism::parse("SCRAM-SHA-256").unwrap();
/// assert_eq!(m, BuiltinMechanism::ScramSha256);
/// assert_eq!(m.with_credentials("alice", "secret").name(), "SCRAM-SHA-256");
/// assert!(BuiltinMechanism::parse("GSSAPI").is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BuiltinMechanism {
    /// `PLAIN`.
    Plain,
    /// `SCRAM-SHA-256`.
    ScramSha256,
    /// `SCRAM-SHA-512`.
    ScramSha512,
}

impl BuiltinMechanism {
    /// Every built-in mechanism.
    pub const ALL: [BuiltinMechanism; 3] = [
        BuiltinMechanism::Plain,
        BuiltinMechanism::ScramSha256,
        BuiltinMechanism::ScramSha512,
    ];

    /// The mechanism's SASL name.
    pub fn name(self) -> &'static str {
        match self {
            BuiltinMechanism::Plain => "PLAIN",
            BuiltinMechanism::ScramSha256 => ScramHash::Sha256.mechanism_name(),
            BuiltinMechanism::ScramSha512 => ScramHash::Sha512.mechanism_name(),
        }
    }

    /// The mechanism named `name` (ASCII case ignored), if built in.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name.trim()))
    }

    /// The mechanism with a user name and password.
    pub fn with_credentials(
        self,
        username: impl Into<String>,
        password: impl Into<Secret>,
    ) -> Arc<dyn Mechanism> {
        match self {
            BuiltinMechanism::Plain => Arc::new(Plain::new(username, password)),
            BuiltinMechanism::ScramSha256 => {
                Arc::new(Scram::new(ScramHash::Sha256, username, password))
            }
            BuiltinMechanism::ScramSha512 => {
                Arc::new(Scram::new(ScramHash::Sha512, username, password))
            }
        }
    }
}

impl fmt::Display for BuiltinMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
