//! The SCRAM key derivations (RFC 5802 §3) for SHA-256 and SHA-512, shared
//! by the client ([`Scram`](crate::Scram)) and by servers such as the fake
//! broker (through [`ScramCredential`]).

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};
use zeroize::Zeroizing;

/// Kafka's smallest SCRAM iteration count (`ScramMechanism.minIterations`):
/// a client refuses a broker that asks for fewer.
pub const SCRAM_MIN_ITERATIONS: u32 = 4096;

/// The largest iteration count a client accepts. Kafka's own maximum is
/// 16384; the limit stops a hostile broker from making each connection
/// burn CPU for seconds.
pub const SCRAM_MAX_ITERATIONS: u32 = 100_000;

/// The hash function of a SCRAM mechanism.
///
/// ```
/// use kproducer_net::ScramHash;
/// assert_eq!(ScramHash::Sha512.mechanism_name(), "SCRAM-SHA-512");
/// assert_eq!(ScramHash::Sha256.digest(b"").len(), 32);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScramHash {
    /// SCRAM-SHA-256 (RFC 7677).
    Sha256,
    /// SCRAM-SHA-512.
    Sha512,
}

impl ScramHash {
    /// The SASL mechanism name.
    pub fn mechanism_name(self) -> &'static str {
        match self {
            ScramHash::Sha256 => "SCRAM-SHA-256",
            ScramHash::Sha512 => "SCRAM-SHA-512",
        }
    }

    /// `H(data)`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => Sha256::digest(data).to_vec(),
            ScramHash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// `HMAC(key, data)`.
    pub fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length (RFC 2104 §2: longer keys are
        // hashed, shorter ones padded); `new_from_slice` fails only for MACs
        // with a fixed key size, which HMAC is not.
        const ANY_KEY: &str = "HMAC accepts keys of any length";
        match self {
            ScramHash::Sha256 => {
                let mut mac = Hmac::<Sha256>::new_from_slice(key).expect(ANY_KEY);
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
            ScramHash::Sha512 => {
                let mut mac = Hmac::<Sha512>::new_from_slice(key).expect(ANY_KEY);
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
        }
    }

    /// `Hi(password, salt, iterations)`: PBKDF2 with this hash's HMAC and
    /// an output as long as the hash.
    pub fn salted_password(
        self,
        password: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(vec![0u8; self.output_len()]);
        match self {
            ScramHash::Sha256 => {
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out)
            }
            ScramHash::Sha512 => {
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out)
            }
        }
        out
    }

    /// The digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            ScramHash::Sha256 => 32,
            ScramHash::Sha512 => 64,
        }
    }
}

impl fmt::Display for ScramHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.mechanism_name())
    }
}

/// What a SCRAM server stores for a user instead of the password
/// (RFC 5802 §3, as Kafka keeps it): salt, iteration count, `StoredKey` and
/// `ServerKey`. Enough to check a client's proof and to sign the answer,
/// not enough to log in as the user.
///
/// ```
/// use kproducer_net::{ScramCredential, ScramHash};
/// let c = ScramCredential::new(ScramHash::Sha256, "pencil", b"salt", 4096);
/// assert_eq!(c.stored_key.len(), 32);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ScramCredential {
    /// The hash function.
    pub hash: ScramHash,
    /// The user's salt.
    pub salt: Vec<u8>,
    /// The iteration count.
    pub iterations: u32,
    /// `H(ClientKey)`.
    pub stored_key: Vec<u8>,
    /// `HMAC(SaltedPassword, "Server Key")`.
    pub server_key: Vec<u8>,
}

impl ScramCredential {
    /// Derives the stored credential from a password.
    pub fn new(hash: ScramHash, password: &str, salt: &[u8], iterations: u32) -> Self {
        let salted = hash.salted_password(password.as_bytes(), salt, iterations);
        let keys = ScramKeys::from_salted_password(hash, &salted);
        Self {
            hash,
            salt: salt.to_vec(),
            iterations,
            stored_key: keys.stored_key,
            server_key: keys.server_key.to_vec(),
        }
    }
}

impl fmt::Debug for ScramCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramCredential")
            .field("hash", &self.hash)
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

/// The keys derived from a salted password.
pub(crate) struct ScramKeys {
    pub(crate) client_key: Zeroizing<Vec<u8>>,
    pub(crate) stored_key: Vec<u8>,
    pub(crate) server_key: Zeroizing<Vec<u8>>,
}

impl ScramKeys {
    pub(crate) fn from_salted_password(hash: ScramHash, salted: &[u8]) -> Self {
        let client_key = Zeroizing::new(hash.hmac(salted, b"Client Key"));
        let stored_key = hash.digest(&client_key);
        let server_key = Zeroizing::new(hash.hmac(salted, b"Server Key"));
        Self {
            client_key,
            stored_key,
            server_key,
        }
    }
}

/// Escapes a user name for `n=` (RFC 5802 §5.1: `=` → `=3D`, `,` → `=2C`).
///
/// Like Kafka's own client and broker, no SASLprep normalisation is applied
/// beyond this: names and passwords are used as UTF-8 bytes.
///
/// ```
/// assert_eq!(kproducer_net::scram_escape_username("a=b,c"), "a=3Db=2Cc");
/// ```
pub fn scram_escape_username(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

/// Reverses [`scram_escape_username`]; `None` when `=` is followed by
/// anything but `2C` or `3D`.
///
/// ```
/// assert_eq!(kproducer_net::scram_unescape_username("a=3Db=2Cc").as_deref(), Some("a=b,c"));
/// assert_eq!(kproducer_net::scram_unescape_username("a=41"), None);
/// ```
pub fn scram_unescape_username(escaped: &str) -> Option<String> {
    let mut out = String::with_capacity(escaped.len());
    let mut rest = escaped;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        let code = rest.get(i + 1..i + 3)?;
        out.push(match code {
            "2C" => ',',
            "3D" => '=',
            _ => return None,
        });
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Some(out)
}

/// `a XOR b` for equal-length byte strings.
pub(crate) fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

/// Equality in time that does not depend on where the inputs differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
