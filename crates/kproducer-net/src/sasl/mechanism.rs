//! The [`Mechanism`] trait: the client side of one SASL mechanism.

use std::fmt;

use crate::sasl::SaslError;
use crate::transport::BrokerAddress;

/// What a mechanism wants after reading the broker's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send this token to the broker and pass its answer to
    /// [`Exchange::step`] again.
    Respond(Vec<u8>),
    /// Authentication is complete (the mechanism has checked whatever the
    /// broker had to prove).
    Done,
}

/// One authentication exchange, on one connection: the client's initial
/// response, then one [`step`](Exchange::step) per broker message.
///
/// Tokens may hold credentials (PLAIN sends the password); implementations
/// must not log them.
pub trait Exchange: Send {
    /// The first token the client sends.
    fn initial_response(&mut self) -> Result<Vec<u8>, SaslError>;

    /// Reads the broker's answer to the last token (empty for mechanisms
    /// whose broker answers with nothing) and says what comes next.
    fn step(&mut self, challenge: &[u8]) -> Result<Step, SaslError>;
}

/// A SASL mechanism, client side: the name the broker knows it by and a
/// fresh [`Exchange`] per connection.
///
/// [`SaslTransport`](crate::SaslTransport) drives it: SaslHandshake with
/// [`name`](Mechanism::name), then one SaslAuthenticate round trip per
/// token. `start` is async so that a mechanism can fetch what it needs per
/// connection (an OAUTHBEARER token from its provider) before the exchange
/// begins; the steps themselves are plain functions, testable without I/O.
///
/// Built in: [`Plain`](crate::Plain) and [`Scram`](crate::Scram)
/// (SCRAM-SHA-256, SCRAM-SHA-512); [`BuiltinMechanism`](crate::BuiltinMechanism)
/// picks one by name.
///
/// ```
/// use kproducer_net::{BrokerAddress, Exchange, Mechanism, SaslError, Step};
///
/// /// A mechanism that sends one fixed token (ANONYMOUS, RFC 4505).
/// #[derive(Debug)]
/// struct Anonymous;
///
/// struct AnonymousExchange;
///
/// impl Exchange for AnonymousExchange {
///     fn initial_response(&mut self) -> Result<Vec<u8>, SaslError> {
///         Ok(b"trace".to_vec())
///     }
///     fn step(&mut self, _challenge: &[u8]) -> Result<Step, SaslError> {
///         Ok(Step::Done)
///     }
/// }
///
/// #[async_trait::async_trait]
/// impl Mechanism for Anonymous {
///     fn name(&self) -> &str {
///         "ANONYMOUS"
///     }
///     async fn start(&self, _broker: &BrokerAddress) -> Result<Box<dyn Exchange>, SaslError> {
///         Ok(Box::new(AnonymousExchange))
///     }
/// }
/// ```
#[async_trait::async_trait]
pub trait Mechanism: fmt::Debug + Send + Sync + 'static {
    /// The mechanism's name as SaslHandshake carries it (`PLAIN`,
    /// `SCRAM-SHA-256`, …).
    fn name(&self) -> &str;

    /// Starts an exchange for a new connection to `broker`.
    async fn start(&self, broker: &BrokerAddress) -> Result<Box<dyn Exchange>, SaslError>;
}
