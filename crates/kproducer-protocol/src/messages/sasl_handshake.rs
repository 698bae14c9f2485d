//! SaslHandshake (key 17), v0–v1: picks the SASL mechanism for a
//! connection.
//!
//! In v0 the SASL tokens that follow travel as raw length-prefixed frames; in
//! v1 they travel inside [`SaslAuthenticateRequest`](super::SaslAuthenticateRequest)s.
//! Never flexible: the version cannot be bumped (KAFKA-9577).
//!
//! # References
//! - KIP-43 (SASL PLAIN and the handshake), KIP-152 (SaslAuthenticate, v1)

use bytes::{BufMut, Bytes, BytesMut};

use crate::api_key::ApiKey;
use crate::error::{DecodeError, EncodeError};
use crate::message::{Message, Request};
use crate::primitives::{get_array, get_i16, get_string, put_array, put_string};

/// Names the SASL mechanism the client wants to use.
///
/// ```
/// use bytes::BytesMut;
/// use kproducer_protocol::{Message, messages::SaslHandshakeRequest};
///
/// let req = SaslHandshakeRequest { mechanism: "PLAIN".into() };
/// let mut buf = BytesMut::new();
/// req.encode(&mut buf, 1).unwrap();
/// assert_eq!(&buf[..], b"\x00\x05PLAIN");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SaslHandshakeRequest {
    /// The SASL mechanism chosen by the client, e.g. `PLAIN` or
    /// `SCRAM-SHA-256`.
    pub mechanism: String,
}

impl Message for SaslHandshakeRequest {
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        ApiKey::SaslHandshake.check_encode(version)?;
        put_string(buf, &self.mechanism, false, "mechanism")
    }

    fn decode(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        ApiKey::SaslHandshake.check_decode(version)?;
        Ok(Self {
            mechanism: get_string(buf, false, "mechanism")?,
        })
    }
}

impl Request for SaslHandshakeRequest {
    const API_KEY: ApiKey = ApiKey::SaslHandshake;
    type Response = SaslHandshakeResponse;
}

/// The broker's answer to [`SaslHandshakeRequest`]: whether it accepts the
/// mechanism, and which ones it has enabled.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SaslHandshakeResponse {
    /// The error code, or 0; 33 `UNSUPPORTED_SASL_MECHANISM` when the
    /// requested mechanism is not enabled.
    pub error_code: i16,
    /// The mechanisms enabled on the broker.
    pub mechanisms: Vec<String>,
}

impl Message for SaslHandshakeResponse {
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        ApiKey::SaslHandshake.check_encode(version)?;
        buf.put_i16(self.error_code);
        put_array(buf, &self.mechanisms, false, "mechanisms", |buf, m| {
            put_string(buf, m, false, "mechanism")
        })
    }

    fn decode(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        ApiKey::SaslHandshake.check_decode(version)?;
        Ok(Self {
            error_code: get_i16(buf, "error_code")?,
            mechanisms: get_array(buf, false, "mechanisms", |buf| {
                get_string(buf, false, "mechanism")
            })?,
        })
    }
}
