//! The server side of one SCRAM exchange (RFC 5802 §5): read client-first,
//! answer server-first, check the client's proof in client-final, answer
//! with the server signature.

use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use kproducer_net::{ScramCredential, ScramHash, scram_unescape_username};

use super::{SaslFault, SaslServerConfig};

/// Kafka's message for a rejected SCRAM proof or an unknown SCRAM user.
pub(crate) const INVALID_CREDENTIALS: &str =
    "Authentication failed during authentication due to invalid credentials with SASL mechanism";

/// Makes server nonces unique within the process.
static NONCE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// What client-final must match, remembered from the first round.
#[derive(Debug)]
pub(crate) struct AwaitingFinal {
    credential: ScramCredential,
    nonce: String,
    /// `client-first-bare,server-first` (the start of AuthMessage).
    auth_prefix: String,
    fault: Option<SaslFault>,
}

/// Reads client-first and answers server-first, or says why not (a
/// message for the client; the connection is then closed).
pub(crate) fn server_first(
    config: &SaslServerConfig,
    hash: ScramHash,
    client_first: &[u8],
) -> Result<(AwaitingFinal, Vec<u8>), String> {
    let text =
        std::str::from_utf8(client_first).map_err(|_| "client-first is not UTF-8".to_owned())?;
    // GS2 header: no channel binding (`n`), no authorisation id.
    let bare = text.strip_prefix("n,,").ok_or_else(|| {
        "client-first must start with n,, (no channel binding, no authzid)".to_owned()
    })?;
    let mut parts = bare.split(',');
    let user = parts
        .next()
        .and_then(|p| p.strip_prefix("n="))
        .and_then(scram_unescape_username)
        .ok_or_else(|| "client-first has no valid n= user name".to_owned())?;
    let client_nonce = parts
        .next()
        .and_then(|p| p.strip_prefix("r="))
        .filter(|n| !n.is_empty())
        .ok_or_else(|| "client-first has no r= nonce".to_owned())?;
    let Some(user) = config.users.get(&user) else {
        return Err(format!("{INVALID_CREDENTIALS} {}", hash.mechanism_name()));
    };
    let credential = user.scram(hash).clone();
    let n = NONCE_COUNTER.fetch_add(1, Ordering::Relaxed);
    let nonce = match config.fault {
        Some(SaslFault::ForeignNonce) => format!("not-yours-{n}"),
        _ => format!("{client_nonce}fakebroker{n}"),
    };
    let server_first = format!(
        "r={nonce},s={},i={}",
        BASE64.encode(&credential.salt),
        credential.iterations
    );
    let auth_prefix = format!("{bare},{server_first}");
    Ok((
        AwaitingFinal {
            credential,
            nonce,
            auth_prefix,
            fault: config.fault,
        },
        server_first.into_bytes(),
    ))
}

impl AwaitingFinal {
    /// Checks client-final's proof and answers server-final, or says why
    /// not.
    pub(crate) fn server_final(self, client_final: &[u8]) -> Result<Vec<u8>, String> {
        let hash = self.credential.hash;
        let rejected = || format!("{INVALID_CREDENTIALS} {}", hash.mechanism_name());
        let text = std::str::from_utf8(client_final)
            .map_err(|_| "client-final is not UTF-8".to_owned())?;
        let (without_proof, proof) = text
            .rsplit_once(",p=")
            .ok_or_else(|| "client-final has no p= proof".to_owned())?;
        let mut parts = without_proof.split(',');
        if parts.next() != Some("c=biws") {
            return Err("client-final must carry c=biws (no channel binding)".to_owned());
        }
        // Kafka's ScramSaslServer accepts a client-final nonce that *ends*
        // with the server's (not only an equal one), and librdkafka relies
        // on it: it sends its client nonce followed by the whole server
        // nonce. The proof still covers exactly what the client sent.
        if !parts
            .next()
            .and_then(|p| p.strip_prefix("r="))
            .is_some_and(|r| r.ends_with(&self.nonce))
        {
            return Err("Invalid client nonce in the final client message.".to_owned());
        }
        let proof = BASE64.decode(proof).map_err(|_| rejected())?;
        let auth_message = format!("{},{without_proof}", self.auth_prefix);
        let client_signature = hash.hmac(&self.credential.stored_key, auth_message.as_bytes());
        if proof.len() != client_signature.len() {
            return Err(rejected());
        }
        let client_key: Vec<u8> = proof
            .iter()
            .zip(&client_signature)
            .map(|(p, s)| p ^ s)
            .collect();
        if hash.digest(&client_key) != self.credential.stored_key {
            return Err(rejected());
        }
        let mut signature = hash.hmac(&self.credential.server_key, auth_message.as_bytes());
        if self.fault == Some(SaslFault::WrongServerSignature) {
            for b in &mut signature {
                *b ^= 0x5a;
            }
        }
        Ok(format!("v={}", BASE64.encode(signature)).into_bytes())
    }
}
