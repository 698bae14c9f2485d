//! Kafka wire-protocol codecs for kproducer.
//!
//! Pure and synchronous: no tokio, no I/O. Everything here turns values into
//! bytes and bytes into values, and decoding untrusted bytes never panics and
//! never allocates more than the remaining input can justify.
//!
//! - [`primitives`] and [`TaggedFields`]: Kafka's wire types.
//! - [`ApiKey`]: the table of APIs and versions this crate speaks; header
//!   versions are derived from it.
//! - [`ErrorCode`]: every Kafka error code, with `is_retriable()`.
//! - [`messages`]: one module per API, each with a request and a response
//!   type that encode and decode in both directions.
//! - [`records`]: the record batch v2 builder and reader, with compression.
//!
//! ```
//! use bytes::BytesMut;
//! use kproducer_protocol::{Message, messages::ApiVersionsRequest};
//!
//! let req = ApiVersionsRequest {
//!     client_software_name: "kproducer".into(),
//!     client_software_version: "0.1.0".into(),
//!     ..Default::default()
//! };
//! let mut buf = BytesMut::new();
//! req.encode(&mut buf, 3).unwrap();
//! let back = ApiVersionsRequest::decode(&mut buf.freeze(), 3).unwrap();
//! assert_eq!(back, req);
//! ```

mod api_key;
mod error;
mod error_code;
mod header;
mod message;
pub mod messages;
pub mod primitives;
pub mod records;
mod tagged;

pub use api_key::{ApiKey, VersionRange};
pub use error::{DecodeError, EncodeError};
pub use error_code::ErrorCode;
pub use header::{RequestHeader, ResponseHeader};
pub use message::{
    Message, Request, decode_response, encode_request, encode_response, ensure_consumed,
};
pub use tagged::{TaggedFields, encode_tagged_with, take_tag};
