//! LZ4 in the frame format, exactly as Kafka's `KafkaLZ4BlockOutputStream`
//! writes it: version 1, independent blocks, no block or content checksums,
//! no content size, 64 KiB maximum block size. Never the bare block format.
//!
//! The frame is assembled here around `lz4_flex`'s block codec, so that the
//! reader controls every allocation: each block's output is bounded by the
//! frame's declared block size, by what its compressed length can encode
//! (LZ4 expands at most 255× per input byte), and by the caller's limit.
//!
//! The reader skips (does not verify) the descriptor checksum and optional
//! xxHash checksums: the batch CRC-32C already covers every compressed byte.
//!
//! # References
//! - <https://github.com/lz4/lz4/blob/dev/doc/lz4_Frame_format.md>
//! - KAFKA-3160 (Kafka's LZ4 framing fixed to match the spec in magic v1+)

use crate::error::{DecodeError, EncodeError};
use crate::records::codec::{reserve_bounded, too_large};

const MAGIC: [u8; 4] = [0x04, 0x22, 0x4d, 0x18];
/// FLG: version 01, block independence set, no checksums, no content size.
const FLG: u8 = 0x60;
/// BD: maximum block size 64 KiB (code 4).
const BD: u8 = 0x40;
/// Header checksum: `(xxh32([FLG, BD], seed 0) >> 8) & 0xff`, checked
/// against `lz4_flex`'s own frame encoder in the tests.
const HC: u8 = 0x82;
const BLOCK_SIZE: usize = 64 * 1024;
const UNCOMPRESSED_BIT: u32 = 0x8000_0000;
/// Each LZ4 input byte yields at most 255 output bytes (plus a small
/// constant per sequence).
const MAX_RATIO: usize = 255;

fn decode_error(reason: impl ToString) -> DecodeError {
    DecodeError::Decompression {
        codec: "lz4",
        reason: reason.to_string(),
    }
}

/// Appends one LZ4 frame holding `input` to `out`.
pub(crate) fn compress(input: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&[FLG, BD, HC]);
    for chunk in input.chunks(BLOCK_SIZE) {
        let at = out.len();
        out.resize(
            at + 4 + lz4_flex::block::get_maximum_output_size(chunk.len()),
            0,
        );
        let n = lz4_flex::block::compress_into(chunk, &mut out[at + 4..]).map_err(|e| {
            EncodeError::Compression {
                codec: "lz4",
                reason: e.to_string(),
            }
        })?;
        // Store incompressible blocks as they are, as Kafka does. Block
        // sizes are at most 64 KiB, so the casts are exact.
        let size = if n >= chunk.len() {
            out.truncate(at + 4);
            out.extend_from_slice(chunk);
            chunk.len() as u32 | UNCOMPRESSED_BIT
        } else {
            out.truncate(at + 4 + n);
            n as u32
        };
        out[at..at + 4].copy_from_slice(&size.to_le_bytes());
    }
    out.extend_from_slice(&0u32.to_le_bytes()); // end mark
    Ok(())
}

/// A cursor over the frame that never indexes out of bounds.
struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], DecodeError> {
        if n > self.rest.len() {
            return Err(decode_error(format!("frame truncated in {what}")));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn u32_le(&mut self, what: &str) -> Result<u32, DecodeError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// Decompresses one LZ4 frame, producing at most `limit` bytes.
pub(crate) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    let mut cur = Cursor { rest: input };
    if cur.take(4, "magic")? != MAGIC {
        return Err(decode_error(
            "missing LZ4 frame magic (Kafka requires the frame format, not raw blocks)",
        ));
    }
    let descriptor = cur.take(2, "frame descriptor")?;
    let (flg, bd) = (descriptor[0], descriptor[1]);
    if flg >> 6 != 1 {
        return Err(decode_error("unsupported LZ4 frame version"));
    }
    if flg & 0x20 == 0 {
        return Err(decode_error(
            "dependent blocks are not supported (Kafka writes independent blocks)",
        ));
    }
    if flg & 0x03 != 0 || bd & 0x8f != 0 {
        return Err(decode_error(
            "reserved bits or a dictionary id are set in the frame descriptor",
        ));
    }
    let block_checksums = flg & 0x10 != 0;
    let content_size = flg & 0x08 != 0;
    let content_checksum = flg & 0x04 != 0;
    let max_block = match (bd >> 4) & 0x07 {
        code @ 4..=7 => 1usize << (2 * code + 8),
        _ => return Err(decode_error("invalid maximum block size")),
    };
    if content_size {
        cur.take(8, "content size")?;
    }
    cur.take(1, "header checksum")?;

    let mut out = Vec::new();
    loop {
        let size = cur.u32_le("block size")?;
        if size == 0 {
            break;
        }
        let len = (size & !UNCOMPRESSED_BIT) as usize;
        if len > max_block {
            return Err(decode_error("block is larger than the frame's maximum"));
        }
        let block = cur.take(len, "block data")?;
        if block_checksums {
            cur.take(4, "block checksum")?;
        }
        if size & UNCOMPRESSED_BIT != 0 {
            if block.len() > limit.saturating_sub(out.len()) {
                return Err(too_large("lz4", limit));
            }
            reserve_bounded(&mut out, block.len(), limit);
            out.extend_from_slice(block);
        } else {
            let room = max_block
                .min(block.len().saturating_mul(MAX_RATIO).saturating_add(64))
                .min(limit.saturating_sub(out.len()).saturating_add(1));
            let at = out.len();
            reserve_bounded(&mut out, room, limit.saturating_add(1));
            out.resize(at + room, 0);
            let n = lz4_flex::block::decompress_into(block, &mut out[at..]).map_err(|e| {
                if room > limit.saturating_sub(at) {
                    too_large("lz4", limit)
                } else {
                    decode_error(e)
                }
            })?;
            out.truncate(at + n);
            if out.len() > limit {
                return Err(too_large("lz4", limit));
            }
        }
    }
    if content_checksum {
        cur.take(4, "content checksum")?;
    }
    if !cur.rest.is_empty() {
        return Err(decode_error("trailing bytes after the LZ4 frame end mark"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use lz4_flex::frame::{BlockMode, BlockSize, FrameDecoder, FrameEncoder, FrameInfo};

    use super::*;

    fn sample(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 13) as u8).collect()
    }

    #[test]
    fn header_matches_a_reference_encoder_with_kafkas_settings() {
        let info = FrameInfo::new()
            .block_size(BlockSize::Max64KB)
            .block_mode(BlockMode::Independent);
        let mut enc = FrameEncoder::with_frame_info(info, Vec::new());
        enc.write_all(b"x").unwrap();
        let theirs = enc.finish().unwrap();
        let mut ours = Vec::new();
        compress(b"x", &mut ours).unwrap();
        assert_eq!(&theirs[..7], &ours[..7]);
        assert_eq!(&ours[..7], &[0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82]);
    }

    #[test]
    fn a_reference_decoder_reads_our_frames_and_we_read_theirs() {
        for n in [0, 1, 100, 64 * 1024, 200_000] {
            let input = sample(n);
            let mut ours = Vec::new();
            compress(&input, &mut ours).unwrap();
            let mut back = Vec::new();
            FrameDecoder::new(&ours[..]).read_to_end(&mut back).unwrap();
            assert_eq!(back, input, "{n} bytes");

            // Theirs with checksums and content size: all are skipped.
            let info = FrameInfo::new()
                .block_size(BlockSize::Max256KB)
                .block_checksums(true)
                .content_checksum(true)
                .content_size(Some(n as u64));
            let mut enc = FrameEncoder::with_frame_info(info, Vec::new());
            enc.write_all(&input).unwrap();
            let theirs = enc.finish().unwrap();
            assert_eq!(decompress(&theirs, 1 << 20).unwrap(), input, "{n} bytes");
        }
    }

    #[test]
    fn incompressible_blocks_are_stored() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let input: Vec<u8> = (0..1000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let mut out = Vec::new();
        compress(&input, &mut out).unwrap();
        let size = u32::from_le_bytes(out[7..11].try_into().unwrap());
        assert_eq!(size, 1000 | UNCOMPRESSED_BIT);
        assert_eq!(decompress(&out, 1000).unwrap(), input);
    }

    #[test]
    fn output_is_bounded_and_raw_blocks_are_refused() {
        let mut out = Vec::new();
        compress(&[0u8; 100_000], &mut out).unwrap();
        assert!(out.len() < 1_000);
        assert!(decompress(&out, 99_999).is_err());
        assert_eq!(decompress(&out, 100_000).unwrap().len(), 100_000);
        let raw = lz4_flex::block::compress(b"hello hello hello");
        assert!(decompress(&raw, 1000).is_err());
    }
}
