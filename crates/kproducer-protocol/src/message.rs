//! The traits every message implements, and whole-frame helpers that put a
//! header in front of a body.

use bytes::{Buf, Bytes, BytesMut};

use crate::api_key::{ApiKey, VersionRange};
use crate::error::{DecodeError, EncodeError};
use crate::header::{RequestHeader, ResponseHeader};

/// A message body that can be written and read at a given version.
///
/// `decode(encode(x, v), v) == x` holds for every value valid at `v`; fields
/// a version does not carry are ignored on encode and left at their default
/// on decode.
///
/// ```
/// use bytes::BytesMut;
/// use kproducer_protocol::{Message, messages::EndTxnRequest};
///
/// let req = EndTxnRequest { transactional_id: "t".into(), committed: true, ..Default::default() };
/// let mut buf = BytesMut::new();
/// req.encode(&mut buf, 3).unwrap();
/// assert_eq!(EndTxnRequest::decode(&mut buf.freeze(), 3).unwrap(), req);
/// // Versions outside the supported range are refused both ways.
/// assert!(req.encode(&mut BytesMut::new(), 4).is_err());
/// ```
pub trait Message: Sized {
    /// Appends the body, encoded at `version`, to `buf`.
    ///
    /// On error `buf` may hold part of the body; [`encode_request`] and
    /// [`encode_response`] remove it, so that a buffer shared by several
    /// frames never carries a broken one.
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError>;

    /// Reads a body encoded at `version` from the front of `buf`.
    fn decode(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError>;
}

/// A request body, tied to its API and response type.
///
/// ```
/// use kproducer_protocol::{ApiKey, Request, messages::ProduceRequest};
///
/// assert_eq!(ProduceRequest::API_KEY, ApiKey::Produce);
/// assert_eq!((ProduceRequest::VERSIONS.min, ProduceRequest::VERSIONS.max), (3, 11));
/// ```
pub trait Request: Message {
    /// The API this request belongs to.
    const API_KEY: ApiKey;
    /// The versions this crate supports for it.
    const VERSIONS: VersionRange = Self::API_KEY.versions();
    /// The matching response body.
    type Response: Message;

    /// Reads the response body to a request sent at `version` from the rest
    /// of a response frame, and checks that nothing is left over.
    ///
    /// The default decodes at `version`. An API whose brokers may answer in
    /// another version overrides it: ApiVersions (see
    /// [`ApiVersionsRequest`](crate::messages::ApiVersionsRequest)).
    fn decode_response_body(buf: &mut Bytes, version: i16) -> Result<Self::Response, DecodeError> {
        let body = Self::Response::decode(buf, version)?;
        ensure_consumed(buf, Self::API_KEY.name())?;
        Ok(body)
    }
}

/// Writes a request header and body (without the 4-byte size prefix that the
/// transport's framing adds). On error nothing is appended to `buf`.
///
/// ```
/// use bytes::BytesMut;
/// use kproducer_protocol::{encode_request, messages::ApiVersionsRequest};
///
/// let mut buf = BytesMut::new();
/// encode_request(&mut buf, 7, Some("app"), 3, &ApiVersionsRequest::default()).unwrap();
/// assert_eq!(&buf[..4], &[0, 18, 0, 3]); // api key 18, version 3
/// ```
pub fn encode_request<R: Request>(
    buf: &mut BytesMut,
    correlation_id: i32,
    client_id: Option<&str>,
    version: i16,
    body: &R,
) -> Result<(), EncodeError> {
    R::API_KEY.check_encode(version)?;
    let start = buf.len();
    RequestHeader {
        api_key: R::API_KEY.as_i16(),
        api_version: version,
        correlation_id,
        client_id: client_id.map(str::to_owned),
        tagged_fields: Default::default(),
    }
    .encode(buf)
    .and_then(|()| body.encode(buf, version))
    .inspect_err(|_| buf.truncate(start))
}

/// Writes a response header and body for a request of `api_key` at `version`.
/// On error nothing is appended to `buf`.
pub fn encode_response<M: Message>(
    buf: &mut BytesMut,
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &M,
) -> Result<(), EncodeError> {
    let start = buf.len();
    ResponseHeader {
        correlation_id,
        tagged_fields: Default::default(),
    }
    .encode(buf, api_key.response_header_version(version))
    .and_then(|()| body.encode(buf, version))
    .inspect_err(|_| buf.truncate(start))
}

/// Reads a whole response frame for request type `R` at `version`: the header,
/// then the body ([`Request::decode_response_body`]), and checks that nothing
/// is left over.
pub fn decode_response<R: Request>(
    mut frame: Bytes,
    version: i16,
) -> Result<(ResponseHeader, R::Response), DecodeError> {
    R::API_KEY.check_decode(version)?;
    let header = ResponseHeader::decode(&mut frame, R::API_KEY.response_header_version(version))?;
    let body = R::decode_response_body(&mut frame, version)?;
    Ok((header, body))
}

/// Fails when `buf` still holds bytes after a message that should have
/// consumed them all.
pub fn ensure_consumed(buf: &Bytes, what: &'static str) -> Result<(), DecodeError> {
    if buf.has_remaining() {
        Err(DecodeError::TrailingBytes {
            what,
            remaining: buf.remaining(),
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{EndTxnRequest, EndTxnResponse};

    #[test]
    fn a_failed_encode_leaves_the_buffer_as_it_was() {
        let mut buf = BytesMut::from(&b"earlier frame"[..]);
        let too_long = EndTxnRequest {
            transactional_id: "x".repeat(40_000),
            ..Default::default()
        };
        assert!(encode_request(&mut buf, 1, Some("c"), 3, &too_long).is_err());
        assert_eq!(&buf[..], b"earlier frame");
        // Refused versions append nothing either.
        assert!(encode_request(&mut buf, 1, None, 9, &EndTxnRequest::default()).is_err());
        assert!(
            encode_response(&mut buf, ApiKey::EndTxn, 9, 1, &EndTxnResponse::default()).is_err()
        );
        assert_eq!(&buf[..], b"earlier frame");
    }
}
