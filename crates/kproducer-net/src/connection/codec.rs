//! Kafka framing: every frame is a 4-byte big-endian length, then that many
//! bytes. Requests are queued as length, header and body parts in a
//! [`WriteQueue`]: small parts are gathered into one buffer, large ones
//! (record batches) are written from their own memory with vectored writes,
//! never copied. Responses are cut from the read buffer once complete.

use std::collections::VecDeque;
use std::io::{self, IoSlice};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kproducer_protocol::EncodeError;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio_util::codec::Decoder;

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
    /// More body, written after `body` in order (record batches).
    pub(crate) tail: Vec<Bytes>,
}

impl RequestFrame {
    /// Bytes after the length prefix: header and every body part.
    pub(crate) fn len(&self) -> usize {
        self.header.len() + self.body.len() + self.tail.iter().map(Bytes::len).sum::<usize>()
    }
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

/// Body parts at least this long are written from their own memory;
/// shorter ones are copied next to their neighbours (fewer, larger writes).
const COPY_BELOW: usize = 1024;

/// Most buffers handed to one vectored write.
const MAX_IOV: usize = 64;

/// Request frames waiting to be written, as parts in write order.
#[derive(Debug, Default)]
pub(crate) struct WriteQueue {
    /// Parts ready to write, in order.
    parts: VecDeque<Bytes>,
    /// Small pieces gathered since the last part (reused memory: it is
    /// reclaimed once the parts cut from it are written and dropped).
    small: BytesMut,
}

impl WriteQueue {
    /// Queues length, header (with the correlation id patched in) and body
    /// parts of `frame`. Returns the frame's size on the wire. The caller
    /// checked that the header holds a correlation id and that the frame
    /// length fits an `i32` before queueing the request; a frame that does
    /// not is refused here, untouched.
    pub(crate) fn push(&mut self, frame: RequestFrame) -> Result<usize, FrameError> {
        let len = frame.len();
        let (Ok(len32), Some(head), Some(tail)) = (
            u32::try_from(len),
            frame.header.get(..CORRELATION_ID_AT.start),
            frame.header.get(CORRELATION_ID_AT.end..),
        ) else {
            return Err(FrameError::Encode(EncodeError::TooLong {
                what: "request frame",
                length: len,
            }));
        };
        self.small.reserve(8 + frame.header.len());
        self.small.put_u32(len32);
        self.small.extend_from_slice(head);
        self.small.put_i32(frame.correlation_id);
        self.small.extend_from_slice(tail);
        self.push_part(frame.body);
        for part in frame.tail {
            self.push_part(part);
        }
        Ok(LENGTH_BYTES + len)
    }

    fn push_part(&mut self, part: Bytes) {
        if part.len() < COPY_BELOW {
            self.small.extend_from_slice(&part);
        } else {
            self.cut_small();
            self.parts.push_back(part);
        }
    }

    /// Ends the gathered small pieces as one part.
    fn cut_small(&mut self) {
        if !self.small.is_empty() {
            self.parts.push_back(self.small.split().freeze());
        }
    }

    /// Whether nothing is waiting to be written.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.parts.is_empty() && self.small.is_empty()
    }

    /// Writes everything queued (vectored writes of up to [`MAX_IOV`]
    /// parts), then flushes `out`. On an error the queue keeps what was
    /// not written; the connection is closed then anyway.
    pub(crate) async fn write_to<W: AsyncWrite + Unpin + ?Sized>(
        &mut self,
        out: &mut W,
    ) -> io::Result<()> {
        self.cut_small();
        while !self.parts.is_empty() {
            let mut iov = [IoSlice::new(&[]); MAX_IOV];
            let mut n = 0;
            for (slot, part) in iov.iter_mut().zip(self.parts.iter()) {
                *slot = IoSlice::new(part);
                n += 1;
            }
            let mut written = out.write_vectored(&iov[..n]).await?;
            if written == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "the connection accepted no more bytes",
                ));
            }
            while written > 0 {
                let Some(front) = self.parts.front_mut() else {
                    break;
                };
                if written >= front.len() {
                    written -= front.len();
                    self.parts.pop_front();
                } else {
                    front.advance(written);
                    written = 0;
                }
            }
        }
        out.flush().await
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

    fn written(queue: &mut WriteQueue) -> Vec<u8> {
        let mut out = Vec::new();
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(queue.write_to(&mut out))
            .unwrap();
        out
    }

    #[test]
    fn request_frame_patches_the_correlation_id() {
        let mut queue = WriteQueue::default();
        let header = Bytes::from_static(&[0, 3, 0, 1, 0, 0, 0, 0, 0xff, 0xff]);
        let size = queue
            .push(RequestFrame {
                header,
                correlation_id: 0x0102_0304,
                body: Bytes::from_static(b"xy"),
                tail: Vec::new(),
            })
            .unwrap();
        assert_eq!(size, 16);
        assert_eq!(
            written(&mut queue),
            [0, 0, 0, 12, 0, 3, 0, 1, 1, 2, 3, 4, 0xff, 0xff, b'x', b'y']
        );
        assert!(queue.is_empty());
    }

    proptest! {
        /// Frames of any mix of small and large parts come out whole, in
        /// order, however the writer splits its writes.
        #[test]
        fn queued_frames_are_written_in_order(
            frames in prop::collection::vec(
                (prop::collection::vec(0usize..3000, 0..4), any::<u8>()),
                1..6,
            ),
            chunk in 1usize..5000,
        ) {
            let mut queue = WriteQueue::default();
            let mut expected = Vec::new();
            for (i, (parts, fill)) in frames.iter().enumerate() {
                let header = Bytes::from(vec![0, 0, 0, 9, 0, 0, 0, 0, 0, 1]);
                let body: Vec<Bytes> = parts.iter().enumerate()
                    .map(|(k, n)| Bytes::from(vec![fill.wrapping_add(k as u8); *n]))
                    .collect();
                let len = header.len() + body.iter().map(Bytes::len).sum::<usize>();
                expected.extend_from_slice(&(len as u32).to_be_bytes());
                expected.extend_from_slice(&[0, 0, 0, 9]);
                expected.extend_from_slice(&(i as i32).to_be_bytes());
                expected.extend_from_slice(&[0, 1]);
                for b in &body {
                    expected.extend_from_slice(b);
                }
                let mut body = body.into_iter();
                queue.push(RequestFrame {
                    header,
                    correlation_id: i as i32,
                    body: body.next().unwrap_or_default(),
                    tail: body.collect(),
                }).unwrap();
            }
            // A writer that takes at most `chunk` bytes per call.
            let (mut near, mut far) = tokio::io::duplex(chunk);
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let got = rt.block_on(async {
                let reader = async {
                    let mut got = Vec::new();
                    tokio::io::AsyncReadExt::read_to_end(&mut far, &mut got).await.unwrap();
                    got
                };
                let writer = async {
                    queue.write_to(&mut near).await.unwrap();
                    drop(near);
                };
                let ((), got) = tokio::join!(writer, reader);
                got
            });
            prop_assert_eq!(got, expected);
        }
    }
}
