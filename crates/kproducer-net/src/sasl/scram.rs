//! SASL SCRAM-SHA-256 / SCRAM-SHA-512 (RFC 5802, RFC 7677), client side.
//!
//! ```text
//! client-first  n,,n=<user>,r=<client nonce>
//! server-first  r=<client nonce><server nonce>,s=<salt>,i=<iterations>
//! client-final  c=biws,r=<nonce>,p=<proof>
//! server-final  v=<server signature>
//! ```
//!
//! The client refuses a server nonce that does not extend its own, fewer
//! than [`SCRAM_MIN_ITERATIONS`] or more than [`SCRAM_MAX_ITERATIONS`]
//! iterations, a mandatory extension (`m=`), and a server signature that
//! does not match: a broker that cannot produce it does not know the
//! credentials.

use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::TryRngCore;
use rand::rngs::OsRng;
use zeroize::Zeroizing;

use crate::sasl::scram_crypto::{
    SCRAM_MAX_ITERATIONS, SCRAM_MIN_ITERATIONS, ScramHash, ScramKeys, constant_time_eq,
    scram_escape_username, xor,
};
use crate::sasl::{Exchange, Mechanism, SaslError, Step};
use crate::secret::Secret;
use crate::transport::BrokerAddress;

/// `c=` of the client-final message: base64 of the GS2 header `n,,` (no
/// channel binding, no authorisation id).
const CHANNEL_BINDING: &str = "biws";

/// Random bytes in a client nonce (base64: 32 printable characters).
const NONCE_BYTES: usize = 24;

/// SASL SCRAM-SHA-256 or SCRAM-SHA-512.
///
/// The salted password (`Hi()`, thousands of HMAC rounds) of the last
/// salt and iteration count seen is kept, so that opening more connections
/// to the same cluster does not pay for it again.
///
/// ```
/// use kproducer_net::{Mechanism, Scram, ScramHash};
/// let scram = Scram::new(ScramHash::Sha512, "alice", "alice-secret");
/// assert_eq!(scram.name(), "SCRAM-SHA-512");
/// assert!(!format!("{scram:?}").contains("alice-secret"));
/// ```
#[derive(Debug)]
pub struct Scram {
    hash: ScramHash,
    username: String,
    password: Secret,
    salted: SaltCache,
}

/// The last `Hi(password, salt, i)` computed, shared by the exchanges of
/// one [`Scram`].
type SaltCache = Arc<Mutex<Option<SaltedPassword>>>;

/// `Hi(password, salt, i)` for one salt and iteration count.
#[derive(Clone)]
struct SaltedPassword {
    salt: Vec<u8>,
    iterations: u32,
    value: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for SaltedPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SaltedPassword([redacted])")
    }
}

impl Scram {
    /// SCRAM with this hash and these credentials.
    pub fn new(hash: ScramHash, username: impl Into<String>, password: impl Into<Secret>) -> Self {
        Self {
            hash,
            username: username.into(),
            password: password.into(),
            salted: Arc::default(),
        }
    }

    /// The hash function.
    pub fn hash(&self) -> ScramHash {
        self.hash
    }

    /// An exchange with a given client nonce (tests use the RFC's).
    fn exchange(&self, nonce: String) -> Result<ScramExchange, SaslError> {
        if self.username.is_empty() {
            return Err(SaslError::InvalidCredentials {
                mechanism: self.hash.mechanism_name().to_owned(),
                reason: "sasl.username is empty".to_owned(),
            });
        }
        Ok(ScramExchange {
            hash: self.hash,
            password: self.password.clone(),
            salted: self.salted.clone(),
            client_first_bare: format!("n={},r={nonce}", scram_escape_username(&self.username)),
            nonce,
            state: State::Start,
        })
    }
}

/// A fresh client nonce from the operating system's CSPRNG.
fn random_nonce() -> Result<String, SaslError> {
    let mut bytes = [0u8; NONCE_BYTES];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| SaslError::Io(Arc::new(std::io::Error::other(e))))?;
    Ok(BASE64.encode(bytes))
}

#[async_trait::async_trait]
impl Mechanism for Scram {
    fn name(&self) -> &str {
        self.hash.mechanism_name()
    }

    async fn start(&self, _broker: &BrokerAddress) -> Result<Box<dyn Exchange>, SaslError> {
        Ok(Box::new(self.exchange(random_nonce()?)?))
    }
}

enum State {
    Start,
    SentClientFirst,
    SentClientFinal { server_signature: Vec<u8> },
    Done,
}

/// One SCRAM exchange.
struct ScramExchange {
    hash: ScramHash,
    password: Secret,
    salted: SaltCache,
    client_first_bare: String,
    nonce: String,
    state: State,
}

impl Exchange for ScramExchange {
    fn initial_response(&mut self) -> Result<Vec<u8>, SaslError> {
        self.state = State::SentClientFirst;
        Ok(format!("n,,{}", self.client_first_bare).into_bytes())
    }

    fn step(&mut self, challenge: &[u8]) -> Result<Step, SaslError> {
        let message =
            std::str::from_utf8(challenge).map_err(|_| self.invalid("the message is not UTF-8"))?;
        match std::mem::replace(&mut self.state, State::Done) {
            State::SentClientFirst => self.client_final(message),
            State::SentClientFinal { server_signature } => {
                self.check_server_final(message, &server_signature)?;
                Ok(Step::Done)
            }
            State::Start | State::Done => Err(self.invalid("a message arrived out of turn")),
        }
    }
}

impl ScramExchange {
    fn invalid(&self, reason: impl Into<String>) -> SaslError {
        SaslError::InvalidServerMessage {
            mechanism: self.hash.mechanism_name().to_owned(),
            reason: reason.into(),
        }
    }

    fn salted_password(&self, salt: &[u8], iterations: u32) -> Zeroizing<Vec<u8>> {
        let mut cache = self.salted.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = cache
            .as_ref()
            .filter(|c| c.salt == salt && c.iterations == iterations)
        {
            return c.value.clone();
        }
        let value = self
            .hash
            .salted_password(self.password.expose().as_bytes(), salt, iterations);
        *cache = Some(SaltedPassword {
            salt: salt.to_vec(),
            iterations,
            value: value.clone(),
        });
        value
    }

    /// Reads server-first and builds client-final.
    fn client_final(&mut self, server_first: &str) -> Result<Step, SaslError> {
        let attrs = Attributes::parse(server_first)
            .ok_or_else(|| self.invalid("malformed server-first message"))?;
        if attrs.get('m').is_some() {
            return Err(self.invalid("the broker requires an unsupported SCRAM extension (m=)"));
        }
        let nonce = attrs
            .first('r')
            .ok_or_else(|| self.invalid("server-first does not start with r= (the nonce)"))?;
        if !nonce.starts_with(&self.nonce) {
            return Err(self.invalid("the server nonce does not start with the client nonce"));
        }
        if nonce.len() == self.nonce.len() {
            return Err(self.invalid("the server added nothing to the client nonce"));
        }
        let salt = attrs
            .get('s')
            .and_then(|s| BASE64.decode(s).ok())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| self.invalid("missing or invalid salt (s=)"))?;
        let iterations: u32 = attrs
            .get('i')
            .and_then(|i| i.parse().ok())
            .ok_or_else(|| self.invalid("missing or invalid iteration count (i=)"))?;
        if iterations < SCRAM_MIN_ITERATIONS {
            return Err(self.invalid(format!(
                "iteration count {iterations} is below the minimum of {SCRAM_MIN_ITERATIONS}"
            )));
        }
        if iterations > SCRAM_MAX_ITERATIONS {
            return Err(self.invalid(format!(
                "iteration count {iterations} is above the maximum of {SCRAM_MAX_ITERATIONS}"
            )));
        }
        let hash = self.hash;
        let salted = self.salted_password(&salt, iterations);
        let keys = ScramKeys::from_salted_password(hash, &salted);
        let without_proof = format!("c={CHANNEL_BINDING},r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let client_signature = hash.hmac(&keys.stored_key, auth_message.as_bytes());
        let proof = xor(&keys.client_key, &client_signature);
        let server_signature = hash.hmac(&keys.server_key, auth_message.as_bytes());
        self.state = State::SentClientFinal { server_signature };
        Ok(Step::Respond(
            format!("{without_proof},p={}", BASE64.encode(proof)).into_bytes(),
        ))
    }

    /// Checks server-final: `v=<signature>`, or `e=<error>`.
    fn check_server_final(&self, server_final: &str, expected: &[u8]) -> Result<(), SaslError> {
        let mechanism = self.hash.mechanism_name().to_owned();
        let attrs = Attributes::parse(server_final)
            .ok_or_else(|| self.invalid("malformed server-final message"))?;
        if let Some(error) = attrs.first('e') {
            return Err(SaslError::AuthenticationFailed {
                mechanism,
                code: 58,
                message: Some(format!("server-final error: {error}")),
            });
        }
        let signature = attrs
            .first('v')
            .and_then(|v| BASE64.decode(v).ok())
            .ok_or_else(|| self.invalid("server-final carries no verifier (v=)"))?;
        if constant_time_eq(&signature, expected) {
            Ok(())
        } else {
            Err(SaslError::ServerSignatureMismatch { mechanism })
        }
    }
}

/// The `x=value` attributes of a SCRAM message, in order.
struct Attributes<'a>(Vec<(char, &'a str)>);

impl<'a> Attributes<'a> {
    fn parse(message: &'a str) -> Option<Self> {
        message
            .split(',')
            .map(|part| {
                let mut chars = part.chars();
                let key = chars.next().filter(char::is_ascii_alphabetic)?;
                let value = chars.as_str().strip_prefix('=')?;
                Some((key, value))
            })
            .collect::<Option<Vec<_>>>()
            .map(Self)
    }

    /// The value of `key` when it is the first attribute.
    fn first(&self, key: char) -> Option<&'a str> {
        self.0.first().filter(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    /// The value of the first attribute named `key`.
    fn get(&self, key: char) -> Option<&'a str> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
}

#[cfg(test)]
#[path = "scram_tests.rs"]
mod tests;
