//! Request header v1/v2 and response header v0/v1.
//!
//! Which version applies follows from the API's flexible boundary
//! ([`ApiKey::request_header_version`]); callers never pick it by hand.

use bytes::{BufMut, Bytes, BytesMut};

use crate::api_key::ApiKey;
use crate::error::{DecodeError, EncodeError};
use crate::primitives::{get_i16, get_i32, get_nullable_string, put_nullable_string};
use crate::tagged::TaggedFields;

/// The header in front of every request.
///
/// A broker reads the header, then the body its key and version name:
///
/// ```
/// use bytes::BytesMut;
/// use kproducer_protocol::{ApiKey, RequestHeader, encode_request};
/// use kproducer_protocol::messages::{AnyRequest, InitProducerIdRequest};
///
/// let mut frame = BytesMut::new();
/// encode_request(&mut frame, 42, Some("app"), 4, &InitProducerIdRequest::default()).unwrap();
///
/// let mut buf = frame.freeze();
/// let header = RequestHeader::decode(&mut buf).unwrap();
/// assert_eq!((header.correlation_id, header.header_version()), (42, 2));
/// let key = ApiKey::from_i16(header.api_key).expect("a known API");
/// let body = AnyRequest::decode(key, header.api_version, &mut buf).unwrap();
/// assert!(matches!(body, AnyRequest::InitProducerId(_)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestHeader {
    /// The API key on the wire (kept raw so that a broker can answer an
    /// unknown key instead of failing to parse the header).
    pub api_key: i16,
    /// The API version.
    pub api_version: i16,
    /// Echoed in the response so that pipelined requests can be matched.
    pub correlation_id: i32,
    /// The client's id (a classic nullable string even in header v2).
    pub client_id: Option<String>,
    /// Header v2 tagged fields.
    pub tagged_fields: TaggedFields,
}

impl RequestHeader {
    /// The header version for this header's API and version: 2 when flexible,
    /// otherwise 1 (also for API keys this crate does not know).
    pub fn header_version(&self) -> i16 {
        ApiKey::from_i16(self.api_key).map_or(1, |k| k.request_header_version(self.api_version))
    }

    /// Writes the header.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        buf.put_i16(self.api_key);
        buf.put_i16(self.api_version);
        buf.put_i32(self.correlation_id);
        put_nullable_string(buf, self.client_id.as_deref(), false, "client_id")?;
        if self.header_version() >= 2 {
            self.tagged_fields.encode(buf)?;
        }
        Ok(())
    }

    /// Reads a header. The version is derived from the API key and version
    /// found at the front of the header.
    pub fn decode(buf: &mut Bytes) -> Result<Self, DecodeError> {
        let api_key = get_i16(buf, "api_key")?;
        let api_version = get_i16(buf, "api_version")?;
        let correlation_id = get_i32(buf, "correlation_id")?;
        let client_id = get_nullable_string(buf, false, "client_id")?;
        let mut h = RequestHeader {
            api_key,
            api_version,
            correlation_id,
            client_id,
            tagged_fields: TaggedFields::new(),
        };
        if h.header_version() >= 2 {
            h.tagged_fields = TaggedFields::decode(buf)?;
        }
        Ok(h)
    }
}

/// The header in front of every response.
///
/// A client finds the waiting request by correlation id first, then reads the
/// header at the version that request's API and version call for:
///
/// ```
/// use bytes::BytesMut;
/// use kproducer_protocol::{ApiKey, ResponseHeader, encode_response};
/// use kproducer_protocol::messages::EndTxnResponse;
///
/// let mut frame = BytesMut::new();
/// encode_response(&mut frame, ApiKey::EndTxn, 3, 42, &EndTxnResponse::default()).unwrap();
/// assert_eq!(ResponseHeader::peek_correlation_id(&frame).unwrap(), 42);
///
/// let mut buf = frame.freeze();
/// let header = ResponseHeader::decode(&mut buf, ApiKey::EndTxn.response_header_version(3)).unwrap();
/// assert_eq!(header.correlation_id, 42);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResponseHeader {
    /// The request's correlation id.
    pub correlation_id: i32,
    /// Header v1 tagged fields.
    pub tagged_fields: TaggedFields,
}

impl ResponseHeader {
    /// Writes the header at `header_version` (0 or 1).
    pub fn encode(&self, buf: &mut BytesMut, header_version: i16) -> Result<(), EncodeError> {
        buf.put_i32(self.correlation_id);
        if header_version >= 1 {
            self.tagged_fields.encode(buf)?;
        }
        Ok(())
    }

    /// Reads a header at `header_version` (0 or 1).
    pub fn decode(buf: &mut Bytes, header_version: i16) -> Result<Self, DecodeError> {
        let correlation_id = get_i32(buf, "correlation_id")?;
        let tagged_fields = if header_version >= 1 {
            TaggedFields::decode(buf)?
        } else {
            TaggedFields::new()
        };
        Ok(Self {
            correlation_id,
            tagged_fields,
        })
    }

    /// Reads only the correlation id from the front of a response frame,
    /// without consuming it: what a connection needs to find the waiter
    /// before it knows which API the frame answers.
    pub fn peek_correlation_id(frame: &[u8]) -> Result<i32, DecodeError> {
        match frame {
            [a, b, c, d, ..] => Ok(i32::from_be_bytes([*a, *b, *c, *d])),
            _ => Err(DecodeError::Truncated {
                what: "correlation_id",
                needed: 4,
                remaining: frame.len(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_header_has_tagged_fields_and_legacy_client_id() {
        let h = RequestHeader {
            api_key: ApiKey::Produce.as_i16(),
            api_version: 9,
            correlation_id: 5,
            client_id: Some("c".into()),
            tagged_fields: TaggedFields::new(),
        };
        let mut b = BytesMut::new();
        h.encode(&mut b).unwrap();
        assert_eq!(&b[..], &[0, 0, 0, 9, 0, 0, 0, 5, 0, 1, b'c', 0]);
        assert_eq!(RequestHeader::decode(&mut b.freeze()).unwrap(), h);
    }

    #[test]
    fn unknown_api_key_header_still_parses() {
        let mut b = Bytes::from_static(&[0, 99, 0, 0, 0, 0, 0, 1, 0xff, 0xff]);
        let h = RequestHeader::decode(&mut b).unwrap();
        assert_eq!(h.api_key, 99);
        assert_eq!(h.client_id, None);
    }
}
