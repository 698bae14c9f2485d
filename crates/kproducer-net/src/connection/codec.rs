//! Kafka framing: every frame is a 4-byte big-endian length, then that many
//! bytes. Requests are written as length, header, body in one pass (the body
//! is copied once, into the write buffer); responses are cut from the read
//! buffer once complete.

use std::io;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kproducer_protocol::EncodeError;
use tokio_util::codec::{Decoder, Encoder};

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

/// The size prefix: a 4-byte big-endian length.
const LENGTH_BYTES: usize = 4;

/// Encodes [`RequestFrame`]s and decodes response frames.
///
/// Decoding is stateless: a frame is taken only once it is complete, so
/// everything not yet taken is still in the read buffer. That is what lets
/// end-of-stream tell a clean close (empty buffer) from a truncated frame,
/// and an oversized frame be reported with its announced size (tokio-util's
/// `LengthDelimitedCodec` consumes the prefix early and hides both).
#[derive(Debug)]
pub(crate) struct KafkaFrames {
    max: usize,
}

impl KafkaFrames {
    /// A codec accepting response frames of at most `max` bytes.
    pub(crate) fn new(max: usize) -> Self {
        Self { max }
    }
}

impl Decoder for KafkaFrames {
    type Item = Bytes;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        let Some(&[a, b, c, d]) = src.get(..LENGTH_BYTES) else {
            return Ok(None);
        };
        let announced = u32::from_be_bytes([a, b, c, d]);
        // Refused before any memory is reserved for it.
        let size = match usize::try_from(announced) {
            Ok(n) if n <= self.max => n,
            _ => {
                return Err(FrameError::TooLarge {
                    size: u64::from(announced),
                    max: self.max,
                });
            }
        };
        let whole = LENGTH_BYTES + size;
        if src.len() < whole {
            src.reserve(whole - src.len());
            return Ok(None);
        }
        src.advance(LENGTH_BYTES);
        Ok(Some(src.split_to(size).freeze()))
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut v = (payload.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(payload);
        v
    }

    proptest! {
        /// Valid frames cut at arbitrary points come back whole, in order.
        #[test]
        fn frames_survive_any_chunking(
            payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..8),
            cuts in prop::collection::vec(1usize..32, 0..32),
        ) {
            let wire: Vec<u8> = payloads.iter().flat_map(|p| frame(p)).collect();
            let mut codec = KafkaFrames::new(64);
            let mut buf = BytesMut::new();
            let mut out = Vec::new();
            let mut pos = 0;
            let mut cuts = cuts.into_iter().cycle();
            while pos < wire.len() {
                let n = cuts.next().unwrap_or(wire.len()).min(wire.len() - pos);
                buf.extend_from_slice(&wire[pos..pos + n]);
                pos += n;
                while let Some(f) = codec.decode(&mut buf).unwrap() {
                    out.push(f.to_vec());
                }
            }
            prop_assert_eq!(codec.decode_eof(&mut buf).unwrap(), None);
            prop_assert_eq!(out, payloads);
        }

        /// Arbitrary bytes never panic: frames, a typed error, or a wait.
        #[test]
        fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let mut codec = KafkaFrames::new(64);
            let mut buf = BytesMut::from(&bytes[..]);
            while let Ok(Some(f)) = codec.decode(&mut buf) {
                prop_assert!(f.len() <= 64);
            }
            let _ = codec.decode_eof(&mut buf);
        }
    }

    #[test]
    fn end_of_stream_after_a_bare_length_prefix_is_a_truncated_frame() {
        let mut codec = KafkaFrames::new(10);
        let mut buf = BytesMut::from(&5u32.to_be_bytes()[..]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        assert!(matches!(
            codec.decode_eof(&mut buf),
            Err(FrameError::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof
        ));
        assert!(codec.decode_eof(&mut BytesMut::new()).unwrap().is_none());
    }

    #[test]
    fn oversized_announcement_is_refused_before_buffering() {
        let mut codec = KafkaFrames::new(10);
        let mut buf = BytesMut::from(&11u32.to_be_bytes()[..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(FrameError::TooLarge { size: 11, max: 10 })
        ));
    }

    #[test]
    fn request_frame_patches_the_correlation_id() {
        let mut codec = KafkaFrames::new(10);
        let mut dst = BytesMut::new();
        let header = Bytes::from_static(&[0, 3, 0, 1, 0, 0, 0, 0, 0xff, 0xff]);
        codec
            .encode(
                RequestFrame {
                    header,
                    correlation_id: 0x0102_0304,
                    body: Bytes::from_static(b"xy"),
                },
                &mut dst,
            )
            .unwrap();
        assert_eq!(
            &dst[..],
            &[0, 0, 0, 12, 0, 3, 0, 1, 1, 2, 3, 4, 0xff, 0xff, b'x', b'y']
        );
    }
}
