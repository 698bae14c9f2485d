//! SaslAuthenticate (key 36), v0–v2: carries one SASL token each way.
//!
//! v1 adds the session lifetime (KIP-368 re-authentication); v2 is flexible.
//!
//! # References
//! - KIP-152 (SASL authentication failures, SaslAuthenticate)
//! - KIP-368 (session lifetime, v1), KIP-482 (flexible versions, v2)

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use crate::api_key::ApiKey;
use crate::error::{DecodeError, EncodeError};
use crate::message::{Message, Request};
use crate::primitives::{
    get_bytes, get_i16, get_i64, get_nullable_string, put_bytes, put_nullable_string,
};
use crate::tagged::TaggedFields;

use super::tagged_section;

/// One SASL token from the client, as the chosen mechanism defines it.
///
/// ```
/// use bytes::{Bytes, BytesMut};
/// use kproducer_protocol::{Message, messages::SaslAuthenticateRequest};
///
/// let req = SaslAuthenticateRequest {
///     auth_bytes: Bytes::from_static(b"\0user\0secret"),
///     ..Default::default()
/// };
/// let mut buf = BytesMut::new();
/// req.encode(&mut buf, 2).unwrap();
/// assert_eq!(SaslAuthenticateRequest::decode(&mut buf.freeze(), 2).unwrap(), req);
/// ```
///
/// `Debug` shows only the token's length, so that logging a request never
/// leaks a password.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SaslAuthenticateRequest {
    /// The SASL token. It may hold credentials: never log it.
    pub auth_bytes: Bytes,
    /// Unknown tagged fields (v2+).
    pub tagged_fields: TaggedFields,
}

impl Message for SaslAuthenticateRequest {
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        ApiKey::SaslAuthenticate.check_encode(version)?;
        let flexible = ApiKey::SaslAuthenticate.is_flexible(version);
        put_bytes(buf, &self.auth_bytes, flexible, "auth_bytes")?;
        tagged_section::write(buf, &self.tagged_fields, flexible)?;
        Ok(())
    }

    fn decode(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        ApiKey::SaslAuthenticate.check_decode(version)?;
        let flexible = ApiKey::SaslAuthenticate.is_flexible(version);
        Ok(Self {
            auth_bytes: get_bytes(buf, flexible, "auth_bytes")?,
            tagged_fields: tagged_section::read(buf, flexible)?,
        })
    }
}

impl Request for SaslAuthenticateRequest {
    const API_KEY: ApiKey = ApiKey::SaslAuthenticate;
    type Response = SaslAuthenticateResponse;
}

/// The broker's answer to [`SaslAuthenticateRequest`]: its SASL token, or
/// why authentication failed.
///
/// `Debug` shows only the token's length, like the request's.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SaslAuthenticateResponse {
    /// The error code, or 0; 58 `SASL_AUTHENTICATION_FAILED` on bad
    /// credentials.
    pub error_code: i16,
    /// The broker's explanation, or `None` when there was no error.
    pub error_message: Option<String>,
    /// The SASL token from the server (may be empty).
    pub auth_bytes: Bytes,
    /// Milliseconds after which the session must re-authenticate over this
    /// connection, or 0 when it never has to (v1+).
    pub session_lifetime_ms: i64,
    /// Unknown tagged fields (v2+).
    pub tagged_fields: TaggedFields,
}

impl Message for SaslAuthenticateResponse {
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        ApiKey::SaslAuthenticate.check_encode(version)?;
        let flexible = ApiKey::SaslAuthenticate.is_flexible(version);
        buf.put_i16(self.error_code);
        put_nullable_string(
            buf,
            self.error_message.as_deref(),
            flexible,
            "error_message",
        )?;
        put_bytes(buf, &self.auth_bytes, flexible, "auth_bytes")?;
        if version >= 1 {
            buf.put_i64(self.session_lifetime_ms);
        }
        tagged_section::write(buf, &self.tagged_fields, flexible)?;
        Ok(())
    }

    fn decode(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        ApiKey::SaslAuthenticate.check_decode(version)?;
        let flexible = ApiKey::SaslAuthenticate.is_flexible(version);
        let error_code = get_i16(buf, "error_code")?;
        let error_message = get_nullable_string(buf, flexible, "error_message")?;
        let auth_bytes = get_bytes(buf, flexible, "auth_bytes")?;
        let session_lifetime_ms = if version >= 1 {
            get_i64(buf, "session_lifetime_ms")?
        } else {
            0
        };
        let tagged_fields = tagged_section::read(buf, flexible)?;
        Ok(Self {
            error_code,
            error_message,
            auth_bytes,
            session_lifetime_ms,
            tagged_fields,
        })
    }
}

/// Stands in for a SASL token in `Debug` output.
struct Redacted(usize);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes, redacted>", self.0)
    }
}

impl fmt::Debug for SaslAuthenticateRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaslAuthenticateRequest")
            .field("auth_bytes", &Redacted(self.auth_bytes.len()))
            .field("tagged_fields", &self.tagged_fields)
            .finish()
    }
}

impl fmt::Debug for SaslAuthenticateResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaslAuthenticateResponse")
            .field("error_code", &self.error_code)
            .field("error_message", &self.error_message)
            .field("auth_bytes", &Redacted(self.auth_bytes.len()))
            .field("session_lifetime_ms", &self.session_lifetime_ms)
            .field("tagged_fields", &self.tagged_fields)
            .finish()
    }
}
