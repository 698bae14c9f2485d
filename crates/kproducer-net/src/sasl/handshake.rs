//! Drives a [`Mechanism`] over a raw stream: SaslHandshake v1, then
//! SaslAuthenticate round trips, framed with the protocol crate's codecs
//! before a [`Connection`](crate::Connection) takes the stream over.
//!
//! SaslAuthenticate goes at v0, which every broker since Kafka 1.0 serves,
//! so no ApiVersions round trip is needed first; v0 already carries the
//! broker's error message (KIP-152). v1 would add the session lifetime
//! (KIP-368), which only a client that re-authenticates can use: a broker
//! with `connections.max.reauth.ms` set closes a connection whose session
//! expired when its next request arrives, whatever version the client
//! authenticated with, and this client then reconnects (see
//! `docs/security.md`).

use bytes::{Bytes, BytesMut};
use kproducer_protocol::messages::{SaslAuthenticateRequest, SaslHandshakeRequest};
use kproducer_protocol::{Request, decode_response, encode_request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::sasl::{Mechanism, SaslError, Step};
use crate::transport::{BoxStream, BrokerAddress};

/// SaslHandshake version: v1 sends the tokens inside SaslAuthenticate.
const HANDSHAKE_VERSION: i16 = 1;
/// SaslAuthenticate version (see the module documentation).
const AUTHENTICATE_VERSION: i16 = 0;
/// The largest response frame accepted during authentication. SASL answers
/// are a few hundred bytes; anything near this is not a Kafka broker.
const MAX_SASL_FRAME: u32 = 1 << 20;
/// More SaslAuthenticate round trips than any supported mechanism needs
/// (PLAIN: 1, SCRAM: 2, OAUTHBEARER: 1, or 2 on failure).
const MAX_ROUNDS: usize = 8;

/// Kafka's `UNSUPPORTED_SASL_MECHANISM`.
const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
/// Kafka's `ILLEGAL_SASL_STATE`.
const ILLEGAL_SASL_STATE: i16 = 34;

/// Authenticates `stream` to `broker` with `mechanism`.
pub(crate) async fn authenticate(
    stream: &mut BoxStream,
    broker: &BrokerAddress,
    mechanism: &dyn Mechanism,
) -> Result<(), SaslError> {
    let name = mechanism.name().to_owned();
    let mut wire = Wire {
        stream,
        correlation_id: 0,
    };
    let handshake = wire
        .round_trip(
            &SaslHandshakeRequest {
                mechanism: name.clone(),
            },
            HANDSHAKE_VERSION,
        )
        .await?;
    match handshake.error_code {
        0 => {}
        UNSUPPORTED_SASL_MECHANISM => {
            return Err(SaslError::UnsupportedMechanism {
                mechanism: name,
                enabled: handshake.mechanisms,
            });
        }
        ILLEGAL_SASL_STATE => return Err(SaslError::NotSaslListener),
        code => {
            return Err(SaslError::HandshakeFailed {
                mechanism: name,
                code,
            });
        }
    }
    let mut exchange = mechanism.start(broker).await?;
    let mut token = exchange.initial_response()?;
    for _ in 0..MAX_ROUNDS {
        let request = SaslAuthenticateRequest {
            auth_bytes: Bytes::from(std::mem::take(&mut token)),
            ..Default::default()
        };
        let response = wire.round_trip(&request, AUTHENTICATE_VERSION).await?;
        if response.error_code != 0 {
            return Err(SaslError::AuthenticationFailed {
                mechanism: name,
                code: response.error_code,
                message: response.error_message,
            });
        }
        match exchange.step(&response.auth_bytes)? {
            Step::Done => {
                tracing::debug!(%broker, mechanism = %name, "SASL authentication succeeded");
                return Ok(());
            }
            Step::Respond(next) => token = next,
        }
    }
    Err(SaslError::TooManyRounds {
        mechanism: name,
        rounds: MAX_ROUNDS,
    })
}

/// One request at a time over the raw stream.
struct Wire<'a> {
    stream: &'a mut BoxStream,
    correlation_id: i32,
}

impl Wire<'_> {
    async fn round_trip<R: Request>(
        &mut self,
        request: &R,
        version: i16,
    ) -> Result<R::Response, SaslError> {
        let decode = |reason: String| SaslError::Decode { reason };
        self.correlation_id += 1;
        let mut frame = BytesMut::new();
        encode_request(&mut frame, self.correlation_id, None, version, request)
            .map_err(|e| decode(format!("cannot encode {}: {e}", R::API_KEY)))?;
        let len = u32::try_from(frame.len())
            .map_err(|_| decode(format!("{} request too large", R::API_KEY)))?;
        self.stream.write_u32(len).await?;
        self.stream.write_all(&frame).await?;
        self.stream.flush().await?;

        let len = self.stream.read_u32().await?;
        if len > MAX_SASL_FRAME {
            return Err(decode(format!(
                "a {len}-byte response frame to {} (limit {MAX_SASL_FRAME}): is this a Kafka \
                 broker, and does the security protocol match the listener (SSL vs PLAINTEXT)?",
                R::API_KEY
            )));
        }
        let mut body = vec![0u8; len as usize];
        self.stream.read_exact(&mut body).await?;
        let (header, response) = decode_response::<R>(Bytes::from(body), version)
            .map_err(|e| decode(format!("{} response: {e}", R::API_KEY)))?;
        if header.correlation_id != self.correlation_id {
            return Err(decode(format!(
                "{} response has correlation id {}, expected {}",
                R::API_KEY,
                header.correlation_id,
                self.correlation_id
            )));
        }
        Ok(response)
    }
}
