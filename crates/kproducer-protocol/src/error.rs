//! Errors raised while encoding or decoding wire data.

/// Bytes from the network could not be decoded.
///
/// Every variant says what was wrong; none carries the offending payload, so a
/// decode error can be logged without leaking record contents.
///
/// ```
/// use bytes::Bytes;
/// use kproducer_protocol::{DecodeError, Message, messages::InitProducerIdResponse};
///
/// let err = InitProducerIdResponse::decode(&mut Bytes::from_static(&[0, 0]), 4).unwrap_err();
/// assert!(matches!(err, DecodeError::Truncated { what: "throttle_time_ms", .. }));
/// assert_eq!(err.to_string(), "truncated input: needed 4 more bytes for throttle_time_ms, 2 left");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before a field was complete.
    #[error("truncated input: needed {needed} more bytes for {what}, {remaining} left")]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes that were left.
        remaining: usize,
    },
    /// A length or count is negative (where null is not allowed), larger than
    /// the bytes left could possibly hold, or longer than its type allows
    /// (a string is at most 32767 bytes).
    #[error("invalid length {length} for {what} ({remaining} bytes left)")]
    InvalidLength {
        /// The field being read.
        what: &'static str,
        /// The length or count that was read.
        length: i64,
        /// Bytes that were left.
        remaining: usize,
    },
    /// A varint ran over its maximum width.
    #[error("varint for {what} is longer than {max_bytes} bytes")]
    VarintTooLong {
        /// The field being read.
        what: &'static str,
        /// The widest legal encoding.
        max_bytes: usize,
    },
    /// A string is not valid UTF-8.
    #[error("{what} is not valid UTF-8")]
    InvalidUtf8 {
        /// The field being read.
        what: &'static str,
    },
    /// A non-nullable field held null.
    #[error("{what} is null but may not be")]
    UnexpectedNull {
        /// The field being read.
        what: &'static str,
    },
    /// Tagged fields were not in strictly increasing tag order.
    #[error("tagged field {tag} is out of order or repeated")]
    TagOrder {
        /// The tag that broke the order.
        tag: u32,
    },
    /// The message version is outside the range this crate supports.
    #[error("{api} version {version} is not supported (supported: {min}..={max})")]
    UnsupportedVersion {
        /// The API's name.
        api: &'static str,
        /// The requested version.
        version: i16,
        /// Lowest supported version.
        min: i16,
        /// Highest supported version.
        max: i16,
    },
    /// The API key is not one this crate knows.
    #[error("unknown API key {0}")]
    UnknownApiKey(i16),
    /// Bytes remained after a message that should have consumed them all.
    #[error("{remaining} unexpected trailing bytes after {what}")]
    TrailingBytes {
        /// The message that was decoded.
        what: &'static str,
        /// Bytes left over.
        remaining: usize,
    },
    /// A record batch failed validation.
    #[error("invalid record batch: {0}")]
    InvalidBatch(&'static str),
    /// A record batch's CRC-32C does not match its contents.
    #[error("record batch CRC mismatch: header says {expected:#010x}, computed {actual:#010x}")]
    CrcMismatch {
        /// The CRC stored in the batch header.
        expected: u32,
        /// The CRC computed over the batch.
        actual: u32,
    },
    /// A compressed payload could not be decompressed.
    #[error("{codec} decompression failed: {reason}")]
    Decompression {
        /// The codec's name.
        codec: &'static str,
        /// What the decompressor reported.
        reason: String,
    },
    /// The batch uses a compression codec this build does not include.
    #[error(
        "compression codec {0} is not available (unknown id, or its cargo feature is disabled)"
    )]
    UnsupportedCompression(u8),
}

/// A value could not be encoded for the requested version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The message version is outside the range this crate supports.
    #[error("{api} version {version} is not supported (supported: {min}..={max})")]
    UnsupportedVersion {
        /// The API's name.
        api: &'static str,
        /// The requested version.
        version: i16,
        /// Lowest supported version.
        min: i16,
        /// Highest supported version.
        max: i16,
    },
    /// A string, byte array or array is longer than the wire format can carry.
    #[error("{what} is {length} long, more than the wire format allows")]
    TooLong {
        /// The field being written.
        what: &'static str,
        /// Its length.
        length: usize,
    },
    /// A field that must not be null was `None` for this version.
    #[error("{what} may not be null in version {version}")]
    NullNotAllowed {
        /// The field being written.
        what: &'static str,
        /// The version being encoded.
        version: i16,
    },
    /// Compression failed.
    #[error("{codec} compression failed: {reason}")]
    Compression {
        /// The codec's name.
        codec: &'static str,
        /// What the compressor reported.
        reason: String,
    },
    /// The requested codec is not compiled into this build.
    #[error("compression codec {0} is not available in this build (enable its cargo feature)")]
    UnsupportedCompression(&'static str),
    /// A value has no encoding at this version (for example, asking Metadata
    /// v0 for "no topics": there an empty list means every topic).
    #[error("{what} cannot be expressed in version {version}: {reason}")]
    NotRepresentable {
        /// The field being written.
        what: &'static str,
        /// The version being encoded.
        version: i16,
        /// Why, and what to use instead.
        reason: &'static str,
    },
    /// A field that Kafka defines as a string is not valid UTF-8.
    #[error("{what} is not valid UTF-8; Kafka requires it to be a string")]
    InvalidUtf8 {
        /// The field being written.
        what: &'static str,
    },
}
