//! Snappy in the xerial framing that Kafka's Java client writes
//! (snappy-java's `SnappyOutputStream`):
//!
//! ```text
//! 82 53 4e 41 50 50 59 00   magic "\x82SNAPPY\0"
//! 00 00 00 01               version 1
//! 00 00 00 01               minimum compatible version 1
//! then per 32 KiB of input: [i32 BE compressed length][raw snappy block]
//! ```
//!
//! The reader accepts that framing (including a repeated header, as produced
//! by concatenated streams) and a bare raw snappy block, which some non-Java
//! clients write.

use crate::error::{DecodeError, EncodeError};
use crate::records::codec::{reserve_bounded, too_large};

const MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
const HEADER_LEN: usize = 16;
const VERSION: i32 = 1;
const MIN_COMPATIBLE_VERSION: i32 = 1;
/// snappy-java's default block size.
const BLOCK_SIZE: usize = 32 * 1024;
/// Snappy's densest element (a 3-byte copy of 64 bytes) expands about 21×;
/// a block claiming more output per input byte than this is corrupt, and is
/// refused before anything is allocated for it.
const MAX_RATIO: usize = 32;

fn decode_error(reason: impl ToString) -> DecodeError {
    DecodeError::Decompression {
        codec: "snappy",
        reason: reason.to_string(),
    }
}

/// Appends the xerial-framed compression of `input` to `out`.
pub(crate) fn compress(input: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_be_bytes());
    out.extend_from_slice(&MIN_COMPATIBLE_VERSION.to_be_bytes());
    let mut encoder = snap::raw::Encoder::new();
    for chunk in input.chunks(BLOCK_SIZE) {
        let at = out.len();
        out.resize(at + 4 + snap::raw::max_compress_len(chunk.len()), 0);
        let n =
            encoder
                .compress(chunk, &mut out[at + 4..])
                .map_err(|e| EncodeError::Compression {
                    codec: "snappy",
                    reason: e.to_string(),
                })?;
        out.truncate(at + 4 + n);
        // A 32 KiB chunk compresses to well under 2 GiB: the cast is exact.
        out[at..at + 4].copy_from_slice(&(n as i32).to_be_bytes());
    }
    Ok(())
}

/// Decompresses xerial-framed or raw snappy, producing at most `limit` bytes.
pub(crate) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    let mut decoder = snap::raw::Decoder::new();
    let mut out = Vec::new();
    if !input.starts_with(&MAGIC) {
        decompress_block(&mut decoder, input, limit, &mut out)?;
        return Ok(out);
    }
    let mut rest = input;
    while !rest.is_empty() {
        if rest.starts_with(&MAGIC) {
            rest = rest
                .get(HEADER_LEN..)
                .ok_or_else(|| decode_error("xerial header is truncated"))?;
            continue;
        }
        let (len, tail) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| decode_error("xerial block length is truncated"))?;
        let len = usize::try_from(i32::from_be_bytes(*len))
            .map_err(|_| decode_error("xerial block length is negative"))?;
        let block = tail
            .get(..len)
            .ok_or_else(|| decode_error("xerial block is longer than the data left"))?;
        decompress_block(&mut decoder, block, limit, &mut out)?;
        rest = &tail[len..];
    }
    Ok(out)
}

fn decompress_block(
    decoder: &mut snap::raw::Decoder,
    block: &[u8],
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<(), DecodeError> {
    let n = snap::raw::decompress_len(block).map_err(decode_error)?;
    if n > limit.saturating_sub(out.len()) {
        return Err(too_large("snappy", limit));
    }
    if n > block.len().saturating_mul(MAX_RATIO) {
        return Err(decode_error(
            "block claims more output than its input can encode",
        ));
    }
    let at = out.len();
    reserve_bounded(out, n, limit);
    out.resize(at + n, 0);
    let written = decoder
        .decompress(block, &mut out[at..])
        .map_err(decode_error)?;
    out.truncate(at + written);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_xerial_header_java_writes() {
        let mut out = Vec::new();
        compress(b"hello hello hello hello", &mut out).unwrap();
        assert_eq!(
            &out[..16],
            &[
                0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1
            ]
        );
        assert_eq!(
            decompress(&out, 1 << 20).unwrap(),
            b"hello hello hello hello"
        );
    }

    #[test]
    fn splits_input_into_32_kib_blocks() {
        let input: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut out = Vec::new();
        compress(&input, &mut out).unwrap();
        // Walk the framing: 4 blocks (32+32+32+4 KiB), each decoding alone.
        let mut rest = &out[16..];
        let mut sizes = Vec::new();
        while !rest.is_empty() {
            let len = i32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            sizes.push(snap::raw::decompress_len(&rest[4..4 + len]).unwrap());
            rest = &rest[4 + len..];
        }
        assert_eq!(sizes, [32768, 32768, 32768, 100_000 - 3 * 32768]);
        assert_eq!(decompress(&out, 1 << 20).unwrap(), input);
    }

    #[test]
    fn reads_raw_snappy_and_concatenated_streams() {
        let raw = snap::raw::Encoder::new()
            .compress_vec(b"raw block")
            .unwrap();
        assert_eq!(decompress(&raw, 100).unwrap(), b"raw block");
        let mut two = Vec::new();
        compress(b"first ", &mut two).unwrap();
        compress(b"second", &mut two).unwrap();
        assert_eq!(decompress(&two, 100).unwrap(), b"first second");
    }

    #[test]
    fn output_is_bounded() {
        let mut out = Vec::new();
        compress(&[0u8; 10_000], &mut out).unwrap();
        assert!(decompress(&out, 9_999).is_err());
        assert_eq!(decompress(&out, 10_000).unwrap().len(), 10_000);
    }
}
