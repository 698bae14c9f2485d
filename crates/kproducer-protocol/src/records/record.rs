//! One record inside a batch, as the reader yields it.
//!
//! ```text
//! length: varint            (bytes after this field)
//! attributes: int8          (unused, 0)
//! timestampDelta: varlong   (from the batch's baseTimestamp)
//! offsetDelta: varint       (from the batch's baseOffset)
//! keyLength: varint, key    (-1 = null)
//! valueLength: varint, value
//! headers: varint count, then per header:
//!     keyLength: varint, key (UTF-8, never null)
//!     valueLength: varint, value (-1 = null)
//! ```

use bytes::Bytes;

use crate::error::DecodeError;
use crate::primitives::{get_i8, get_varint, get_varlong};
use crate::records::header::BatchHeader;

/// A decoded record. Key, value and header fields are zero-copy slices of
/// the batch (or of its decompressed records section).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Record attributes (unused by Kafka so far, 0).
    pub attributes: i8,
    /// Milliseconds from the batch's base timestamp.
    pub timestamp_delta: i64,
    /// Position in the batch: 0, 1, 2, …
    pub offset_delta: i32,
    /// The key, or `None` for a null key.
    pub key: Option<Bytes>,
    /// The value, or `None` for a null value (a tombstone).
    pub value: Option<Bytes>,
    /// Headers in order, duplicates kept: (key, validated UTF-8; value).
    pub headers: Vec<(Bytes, Option<Bytes>)>,
}

impl Record {
    /// The record's timestamp: the batch's base timestamp plus the delta.
    pub fn timestamp(&self, header: &BatchHeader) -> i64 {
        header.base_timestamp.wrapping_add(self.timestamp_delta)
    }

    /// The record's offset: the batch's base offset plus the delta.
    pub fn offset(&self, header: &BatchHeader) -> i64 {
        header
            .base_offset
            .wrapping_add(i64::from(self.offset_delta))
    }

    /// Reads one record from the front of `buf`, requiring offset delta
    /// `expected_offset_delta`.
    pub(crate) fn decode(
        buf: &mut Bytes,
        expected_offset_delta: i32,
    ) -> Result<Record, DecodeError> {
        let len = get_varint(buf, "record length")?;
        let mut body = take(buf, len, "record")?;
        let attributes = get_i8(&mut body, "record attributes")?;
        let timestamp_delta = get_varlong(&mut body, "record timestamp delta")?;
        let offset_delta = get_varint(&mut body, "record offset delta")?;
        if offset_delta != expected_offset_delta {
            return Err(DecodeError::InvalidBatch(
                "record offset deltas are not 0, 1, 2, … in order",
            ));
        }
        let key = nullable(&mut body, "record key")?;
        let value = nullable(&mut body, "record value")?;
        let count = get_varint(&mut body, "record header count")?;
        // Each header takes at least two bytes (two lengths): refuse counts
        // the bytes left cannot hold before allocating for them.
        if count < 0 || count as usize > body.len() / 2 {
            return Err(DecodeError::InvalidLength {
                what: "record header count",
                length: i64::from(count),
                remaining: body.len(),
            });
        }
        let mut headers = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let hlen = get_varint(&mut body, "record header key")?;
            let key = take(&mut body, hlen, "record header key")?;
            if std::str::from_utf8(&key).is_err() {
                return Err(DecodeError::InvalidUtf8 {
                    what: "record header key",
                });
            }
            let value = nullable(&mut body, "record header value")?;
            headers.push((key, value));
        }
        if !body.is_empty() {
            return Err(DecodeError::TrailingBytes {
                what: "record",
                remaining: body.len(),
            });
        }
        Ok(Record {
            attributes,
            timestamp_delta,
            offset_delta,
            key,
            value,
            headers,
        })
    }
}

/// Splits `len` bytes off the front of `buf`, refusing negative lengths and
/// lengths beyond the bytes left.
fn take(buf: &mut Bytes, len: i32, what: &'static str) -> Result<Bytes, DecodeError> {
    match usize::try_from(len) {
        Ok(n) if n <= buf.len() => Ok(buf.split_to(n)),
        _ => Err(DecodeError::InvalidLength {
            what,
            length: i64::from(len),
            remaining: buf.len(),
        }),
    }
}

/// A varint length (-1 for null) followed by that many bytes.
fn nullable(buf: &mut Bytes, what: &'static str) -> Result<Option<Bytes>, DecodeError> {
    match get_varint(buf, what)? {
        -1 => Ok(None),
        len => take(buf, len, what).map(Some),
    }
}
