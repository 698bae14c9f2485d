//! SASL PLAIN (RFC 4616): user name and password in one message.

use crate::sasl::{Exchange, Mechanism, SaslError, Step};
use crate::secret::Secret;
use crate::transport::BrokerAddress;

/// SASL PLAIN: sends the user name and password in the clear, so use it
/// only over TLS (`SASL_SSL`) outside tests.
///
/// ```
/// use kproducer_net::{Mechanism, Plain};
/// let plain = Plain::new("alice", "alice-secret");
/// assert_eq!(plain.name(), "PLAIN");
/// assert!(!format!("{plain:?}").contains("alice-secret"));
/// ```
#[derive(Debug, Clone)]
pub struct Plain {
    username: String,
    password: Secret,
}

impl Plain {
    /// PLAIN with these credentials (no authorization id: the broker uses
    /// the user name).
    pub fn new(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The token: `authzid NUL authcid NUL passwd`, with an empty authzid.
    fn token(&self) -> Result<Vec<u8>, SaslError> {
        let invalid = |reason: &str| SaslError::InvalidCredentials {
            mechanism: "PLAIN".to_owned(),
            reason: reason.to_owned(),
        };
        if self.username.is_empty() {
            return Err(invalid("sasl.username is empty"));
        }
        if self.username.contains('\0') {
            return Err(invalid("sasl.username contains a NUL character"));
        }
        if self.password.expose().contains('\0') {
            return Err(invalid("sasl.password contains a NUL character"));
        }
        let password = self.password.expose().as_bytes();
        let mut token = Vec::with_capacity(2 + self.username.len() + password.len());
        token.push(0);
        token.extend_from_slice(self.username.as_bytes());
        token.push(0);
        token.extend_from_slice(password);
        Ok(token)
    }
}

struct PlainExchange {
    token: Option<Vec<u8>>,
}

impl Exchange for PlainExchange {
    fn initial_response(&mut self) -> Result<Vec<u8>, SaslError> {
        Ok(self.token.take().unwrap_or_default())
    }

    fn step(&mut self, _challenge: &[u8]) -> Result<Step, SaslError> {
        // The broker answers a PLAIN token with an empty message and error 0
        // (success) or an error code (handled before this is called).
        Ok(Step::Done)
    }
}

#[async_trait::async_trait]
impl Mechanism for Plain {
    fn name(&self) -> &str {
        "PLAIN"
    }

    async fn start(&self, _broker: &BrokerAddress) -> Result<Box<dyn Exchange>, SaslError> {
        Ok(Box::new(PlainExchange {
            token: Some(self.token()?),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_nul_separated() {
        let t = Plain::new("alice", "pw").token().unwrap();
        assert_eq!(t, b"\0alice\0pw");
    }

    #[test]
    fn nul_bytes_and_empty_names_are_refused_without_echoing_the_password() {
        for p in [
            Plain::new("al\0ice", "pw"),
            Plain::new("", "pw"),
            Plain::new("a", "p\0w-secret"),
        ] {
            let e = p.token().unwrap_err();
            assert!(matches!(e, SaslError::InvalidCredentials { .. }));
            assert!(!e.to_string().contains("secret"), "{e}");
        }
    }
}
