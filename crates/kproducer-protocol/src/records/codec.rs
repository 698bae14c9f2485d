//! Compressing and decompressing a batch's records section, one codec per
//! cargo feature.
//!
//! Decompression is always bounded: output beyond `limit` bytes is an error,
//! so a small "compression bomb" cannot exhaust memory, and output buffers
//! grow with the data actually produced rather than with sizes the input
//! claims.

use crate::error::{DecodeError, EncodeError};
use crate::records::compression::Compression;

/// The default cap on a batch's decompressed records section: 64 MiB.
///
/// Kafka's default `message.max.bytes` is 1 MiB *compressed*; 64 MiB leaves
/// room for a 64× compression ratio while refusing bombs. Use
/// [`RecordBatch::records_with_limit`](crate::records::RecordBatch::records_with_limit)
/// for another bound.
pub const DEFAULT_MAX_DECOMPRESSED: usize = 64 << 20;

/// The error for output that would exceed `limit`.
pub(crate) fn too_large(codec: &'static str, limit: usize) -> DecodeError {
    DecodeError::Decompression {
        codec,
        reason: format!(
            "decompressed records exceed the {limit}-byte limit (possible compression bomb; \
             raise the limit only for trusted input)"
        ),
    }
}

/// Makes room for `additional` more bytes in `out`, growing geometrically
/// (so appending block by block stays linear) but never reserving beyond
/// `max_total` bytes in all, unless `additional` itself needs it.
#[cfg(any(
    feature = "gzip",
    feature = "snappy",
    feature = "lz4",
    feature = "zstd"
))]
pub(crate) fn reserve_bounded(out: &mut Vec<u8>, additional: usize, max_total: usize) {
    let needed = out.len().saturating_add(additional);
    if needed <= out.capacity() {
        return;
    }
    let target = out
        .capacity()
        .saturating_mul(2)
        .clamp(needed, max_total.max(needed));
    out.reserve_exact(target - out.len());
}

/// Appends `input` compressed with `codec` to `out`.
pub(crate) fn compress(
    codec: Compression,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    match codec {
        Compression::None => {
            out.extend_from_slice(input);
            Ok(())
        }
        #[cfg(feature = "gzip")]
        Compression::Gzip => gzip::compress(input, out),
        #[cfg(feature = "snappy")]
        Compression::Snappy => crate::records::snappy::compress(input, out),
        #[cfg(feature = "lz4")]
        Compression::Lz4 => crate::records::lz4::compress(input, out),
        #[cfg(feature = "zstd")]
        Compression::Zstd => zstd::compress(input, out),
        #[allow(unreachable_patterns)]
        other => Err(EncodeError::UnsupportedCompression(other.name())),
    }
}

/// Decompresses `input` with `codec`, producing at most `limit` bytes.
pub(crate) fn decompress(
    codec: Compression,
    input: &[u8],
    limit: usize,
) -> Result<Vec<u8>, DecodeError> {
    match codec {
        Compression::None => {
            if input.len() > limit {
                return Err(too_large("none", limit));
            }
            Ok(input.to_vec())
        }
        #[cfg(feature = "gzip")]
        Compression::Gzip => gzip::decompress(input, limit),
        #[cfg(feature = "snappy")]
        Compression::Snappy => crate::records::snappy::decompress(input, limit),
        #[cfg(feature = "lz4")]
        Compression::Lz4 => crate::records::lz4::decompress(input, limit),
        #[cfg(feature = "zstd")]
        Compression::Zstd => zstd::decompress(input, limit),
        #[allow(unreachable_patterns)]
        other => Err(DecodeError::UnsupportedCompression(other.id())),
    }
}

/// Reads `reader` to the end, failing once it yields more than `limit` bytes.
///
/// The buffer grows geometrically but with exact reservations capped at
/// `limit + 1`, so a bomb costs at most `limit + 1` bytes of buffer (where
/// `read_to_end`'s doubling could reach twice the limit).
#[cfg(any(feature = "gzip", feature = "zstd"))]
fn read_bounded(
    mut reader: impl std::io::Read,
    codec: &'static str,
    limit: usize,
) -> Result<Vec<u8>, DecodeError> {
    const FIRST_CHUNK: usize = 16 * 1024;
    let cap = limit.saturating_add(1);
    let mut out = Vec::new();
    let mut filled = 0;
    loop {
        if filled == out.len() {
            if filled >= cap {
                break;
            }
            let grow = filled.max(FIRST_CHUNK).min(cap - filled);
            reserve_bounded(&mut out, grow, cap);
            out.resize(filled + grow, 0);
        }
        match reader.read(&mut out[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(DecodeError::Decompression {
                    codec,
                    reason: e.to_string(),
                });
            }
        }
    }
    if filled > limit {
        return Err(too_large(codec, limit));
    }
    out.truncate(filled);
    Ok(out)
}

#[cfg(feature = "gzip")]
mod gzip {
    use std::io::Write;

    use super::read_bounded;
    use crate::error::{DecodeError, EncodeError};

    fn encode_error(e: std::io::Error) -> EncodeError {
        EncodeError::Compression {
            codec: "gzip",
            reason: e.to_string(),
        }
    }

    /// gzip at the default level (6), as Java's `GZIPOutputStream` writes it.
    pub(super) fn compress(input: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::default());
        enc.write_all(input).map_err(encode_error)?;
        enc.finish().map_err(encode_error)?;
        Ok(())
    }

    /// Accepts concatenated gzip members, as Java's `GZIPInputStream` does.
    pub(super) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
        read_bounded(flate2::read::MultiGzDecoder::new(input), "gzip", limit)
    }
}

#[cfg(feature = "zstd")]
mod zstd {
    use super::read_bounded;
    use crate::error::{DecodeError, EncodeError};

    /// The largest zstd window the reader accepts: 8 MiB, what libzstd uses
    /// up to level 19 (Kafka's default level is 3). The decoder reserves the
    /// window up front, so this bounds memory for tiny hostile frames.
    const MAX_WINDOW: u64 = 8 << 20;

    /// One zstd frame at ruzstd's fastest level (about libzstd level 1).
    pub(super) fn compress(input: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
        // ruzstd's encoder only fails on I/O errors; reading a slice and
        // writing a Vec cannot fail.
        ruzstd::encoding::compress(input, out, ruzstd::encoding::CompressionLevel::Fastest);
        Ok(())
    }

    pub(super) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
        let mut frame = ruzstd::decoding::FrameDecoder::new();
        frame.set_max_window_size(
            MAX_WINDOW
                .min(u64::try_from(limit).unwrap_or(u64::MAX))
                .max(1 << 10),
        );
        let decoder =
            ruzstd::decoding::StreamingDecoder::new_with_decoder(input, frame).map_err(|e| {
                DecodeError::Decompression {
                    codec: "zstd",
                    reason: e.to_string(),
                }
            })?;
        read_bounded(decoder, "zstd", limit)
    }
}
