//! Kafka framing: every frame is a 4-byte big-endian length, then that many
//! bytes. Requests are written as length, header, body in one pass (the body
//! is copied once, into the write buffer); responses are cut with
//! [`LengthDelimitedCodec`] after the announced size has been checked against
//! the limit, so an oversized frame is reported with its size.

use std::io;

use bytes::{BufMut, Bytes, BytesMut};
use kproducer_protocol::EncodeError;
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec};

/// One request ready for the wire.
#[derive(Debug)]
pub(crate) struct RequestFrame {
    /// The encoded request header; bytes 4..8 (the correlation id) are
    /// replaced by `correlation_id` on the wire.
    pub(crate) header: Bytes,
    /// The correlation id the connection assigned.
    pub(crate) correlation_id: i32,
    /// The pre-encoded body.
    pub(crate) body: Bytes,
}

/// Where the correlation id sits in every request header version:
/// after the 2-byte API key and the 2-byte API version.
pub(crate) const CORRELATION_ID_AT: std::ops::Range<usize> = 4..8;

/// Why the frame codec failed.
#[derive(Debug)]
pub(crate) enum FrameError {
    /// The peer announced a frame above the limit.
    TooLarge { size: u64, max: usize },
    /// The request frame could not be encoded.
    Encode(EncodeError),
    /// The stream failed (or ended mid-frame).
    Io(io::Error),
}

impl From<io::Error> for FrameError {
    fn from(e: io::Error) -> Self {
        FrameError::Io(e)
    }
}

/// Encodes [`RequestFrame`]s and decodes response frames.
#[derive(Debug)]
pub(crate) struct KafkaFrames {
    inner: LengthDelimitedCodec,
    max: usize,
}

impl KafkaFrames {
    /// A codec accepting response frames of at most `max` bytes.
    pub(crate) fn new(max: usize) -> Self {
        let inner = LengthDelimitedCodec::builder()
            .length_field_length(4)
            .big_endian()
            .max_frame_length(max)
            .new_codec();
        Self { inner, max }
    }
}

impl Decoder for KafkaFrames {
    type Item = Bytes;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        if let [a, b, c, d, ..] = src[..] {
            let size = u64::from(u32::from_be_bytes([a, b, c, d]));
            if size > self.max as u64 {
                return Err(FrameError::TooLarge {
                    size,
                    max: self.max,
                });
            }
        }
        Ok(self.inner.decode(src)?.map(BytesMut::freeze))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        match self.decode(src)? {
            Some(frame) => Ok(Some(frame)),
            None if src.is_empty() => Ok(None),
            None => Err(FrameError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "stream ended in the middle of a frame",
            ))),
        }
    }
}

impl Encoder<RequestFrame> for KafkaFrames {
    type Error = FrameError;

    /// Writes length, header (with the correlation id patched in) and body.
    /// The caller checked that the header holds a correlation id and that
    /// the frame length fits in an `i32` before queueing the request.
    fn encode(&mut self, item: RequestFrame, dst: &mut BytesMut) -> Result<(), FrameError> {
        let len = item.header.len() + item.body.len();
        let (Ok(len32), Some(head), Some(tail)) = (
            u32::try_from(len),
            item.header.get(..CORRELATION_ID_AT.start),
            item.header.get(CORRELATION_ID_AT.end..),
        ) else {
            return Err(FrameError::Encode(EncodeError::TooLong {
                what: "request frame",
                length: len,
            }));
        };
        dst.reserve(4 + len);
        dst.put_u32(len32);
        dst.extend_from_slice(head);
        dst.put_i32(item.correlation_id);
        dst.extend_from_slice(tail);
        dst.extend_from_slice(&item.body);
        Ok(())
    }
}
