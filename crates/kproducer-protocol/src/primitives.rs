//! Kafka's wire primitives: fixed-width integers, varints, (compact) (nullable)
//! strings, bytes and arrays.
//!
//! Readers take `&mut Bytes` so that byte fields are returned as zero-copy
//! slices of the input. Every length and count is checked against the bytes
//! that remain before anything is allocated, so hostile input can neither
//! panic a reader nor make it allocate more than the input justifies.
//!
//! The `flexible` argument selects the compact encodings that KIP-482 introduced
//! (unsigned-varint lengths stored as `len + 1`, `0` meaning null).
//!
//! # References
//! - <https://kafka.apache.org/protocol#protocol_types>
//! - KIP-482: tagged fields and compact types

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};

/// Result of a decode step.
pub type DecodeResult<T> = Result<T, DecodeError>;

fn need(buf: &Bytes, n: usize, what: &'static str) -> DecodeResult<()> {
    if buf.remaining() < n {
        Err(DecodeError::Truncated {
            what,
            needed: n,
            remaining: buf.remaining(),
        })
    } else {
        Ok(())
    }
}

/// Reads a boolean (one byte, non-zero is true).
pub fn get_bool(buf: &mut Bytes, what: &'static str) -> DecodeResult<bool> {
    need(buf, 1, what)?;
    Ok(buf.get_u8() != 0)
}

/// Reads an `INT8`.
pub fn get_i8(buf: &mut Bytes, what: &'static str) -> DecodeResult<i8> {
    need(buf, 1, what)?;
    Ok(buf.get_i8())
}

/// Reads a big-endian `INT16`.
pub fn get_i16(buf: &mut Bytes, what: &'static str) -> DecodeResult<i16> {
    need(buf, 2, what)?;
    Ok(buf.get_i16())
}

/// Reads a big-endian `INT32`.
pub fn get_i32(buf: &mut Bytes, what: &'static str) -> DecodeResult<i32> {
    need(buf, 4, what)?;
    Ok(buf.get_i32())
}

/// Reads a big-endian `UINT32`.
pub fn get_u32(buf: &mut Bytes, what: &'static str) -> DecodeResult<u32> {
    need(buf, 4, what)?;
    Ok(buf.get_u32())
}

/// Reads a big-endian `INT64`.
pub fn get_i64(buf: &mut Bytes, what: &'static str) -> DecodeResult<i64> {
    need(buf, 8, what)?;
    Ok(buf.get_i64())
}

/// Reads a `UUID` (16 bytes).
pub fn get_uuid(buf: &mut Bytes, what: &'static str) -> DecodeResult<[u8; 16]> {
    need(buf, 16, what)?;
    let mut out = [0u8; 16];
    buf.copy_to_slice(&mut out);
    Ok(out)
}

/// Reads an unsigned varint of at most 5 bytes (`UNSIGNED_VARINT`).
pub fn get_uvarint(buf: &mut Bytes, what: &'static str) -> DecodeResult<u32> {
    let mut value: u32 = 0;
    for i in 0..5 {
        need(buf, 1, what)?;
        let b = buf.get_u8();
        if i == 4 && b > 0x0f {
            return Err(DecodeError::VarintTooLong { what, max_bytes: 5 });
        }
        value |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(DecodeError::VarintTooLong { what, max_bytes: 5 })
}

/// Reads an unsigned varint of at most 10 bytes.
pub fn get_uvarlong(buf: &mut Bytes, what: &'static str) -> DecodeResult<u64> {
    let mut value: u64 = 0;
    for i in 0..10 {
        need(buf, 1, what)?;
        let b = buf.get_u8();
        if i == 9 && b > 0x01 {
            return Err(DecodeError::VarintTooLong {
                what,
                max_bytes: 10,
            });
        }
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(DecodeError::VarintTooLong {
        what,
        max_bytes: 10,
    })
}

/// Reads a zigzag-encoded signed varint (`VARINT`).
pub fn get_varint(buf: &mut Bytes, what: &'static str) -> DecodeResult<i32> {
    let v = get_uvarint(buf, what)?;
    Ok(((v >> 1) as i32) ^ -((v & 1) as i32))
}

/// Reads a zigzag-encoded signed varlong (`VARLONG`).
pub fn get_varlong(buf: &mut Bytes, what: &'static str) -> DecodeResult<i64> {
    let v = get_uvarlong(buf, what)?;
    Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
}

/// Writes an unsigned varint.
#[inline]
pub fn put_uvarint(buf: &mut impl BufMut, mut v: u32) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// Writes an unsigned varlong.
#[inline]
pub fn put_uvarlong(buf: &mut impl BufMut, mut v: u64) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// Writes a zigzag-encoded signed varint.
#[inline]
pub fn put_varint(buf: &mut impl BufMut, v: i32) {
    put_uvarint(buf, ((v << 1) ^ (v >> 31)) as u32);
}

/// Writes a zigzag-encoded signed varlong.
#[inline]
pub fn put_varlong(buf: &mut impl BufMut, v: i64) {
    put_uvarlong(buf, ((v << 1) ^ (v >> 63)) as u64);
}

/// Encoded size of an unsigned varint.
#[inline]
pub const fn uvarint_len(v: u32) -> usize {
    match v {
        0..0x80 => 1,
        0x80..0x4000 => 2,
        0x4000..0x20_0000 => 3,
        0x20_0000..0x1000_0000 => 4,
        _ => 5,
    }
}

/// Encoded size of a zigzag-encoded signed varint.
#[inline]
pub const fn varint_len(v: i32) -> usize {
    uvarint_len(((v << 1) ^ (v >> 31)) as u32)
}

/// Encoded size of a zigzag-encoded signed varlong.
#[inline]
pub const fn varlong_len(v: i64) -> usize {
    let mut u = ((v << 1) ^ (v >> 63)) as u64;
    let mut n = 1;
    while u >= 0x80 {
        u >>= 7;
        n += 1;
    }
    n
}

/// Reads a length prefix: `INT16` for classic strings, `INT32` for classic
/// bytes and arrays, `UNSIGNED_VARINT` (`len + 1`) for compact ones. Returns
/// `None` for null. Lengths that exceed the bytes left fail here, before any
/// allocation; `unit` is the smallest number of bytes one counted element can
/// take (1 for bytes and for every array element type in Kafka's protocol).
fn get_len(
    buf: &mut Bytes,
    flexible: bool,
    wide: bool,
    unit: usize,
    what: &'static str,
) -> DecodeResult<Option<usize>> {
    let raw: i64 = if flexible {
        i64::from(get_uvarint(buf, what)?) - 1
    } else if wide {
        i64::from(get_i32(buf, what)?)
    } else {
        i64::from(get_i16(buf, what)?)
    };
    if raw == -1 {
        return Ok(None);
    }
    let remaining = buf.remaining();
    // Strings are at most `i16::MAX` bytes in their compact form too: Kafka
    // rejects longer ones whatever the encoding.
    let too_long_string = !wide && raw > i64::from(i16::MAX);
    if raw < 0 || too_long_string || (raw as u64).saturating_mul(unit as u64) > remaining as u64 {
        return Err(DecodeError::InvalidLength {
            what,
            length: raw,
            remaining,
        });
    }
    Ok(Some(raw as usize))
}

fn put_len(
    buf: &mut BytesMut,
    len: Option<usize>,
    flexible: bool,
    wide: bool,
    what: &'static str,
) -> Result<(), EncodeError> {
    match (len, flexible) {
        (None, true) => put_uvarint(buf, 0),
        (None, false) if wide => buf.put_i32(-1),
        (None, false) => buf.put_i16(-1),
        (Some(n), true) if !wide && n > i16::MAX as usize => {
            return Err(EncodeError::TooLong { what, length: n });
        }
        (Some(n), true) => {
            let v = u32::try_from(n)
                .ok()
                .and_then(|n| n.checked_add(1))
                .filter(|v| *v <= i32::MAX as u32)
                .ok_or(EncodeError::TooLong { what, length: n })?;
            put_uvarint(buf, v);
        }
        (Some(n), false) if wide => {
            let v = i32::try_from(n).map_err(|_| EncodeError::TooLong { what, length: n })?;
            buf.put_i32(v);
        }
        (Some(n), false) => {
            let v = i16::try_from(n).map_err(|_| EncodeError::TooLong { what, length: n })?;
            buf.put_i16(v);
        }
    }
    Ok(())
}

fn utf8(bytes: Bytes, what: &'static str) -> DecodeResult<String> {
    String::from_utf8(bytes.into()).map_err(|_| DecodeError::InvalidUtf8 { what })
}

/// Reads a non-null string (`STRING` or `COMPACT_STRING`).
pub fn get_string(buf: &mut Bytes, flexible: bool, what: &'static str) -> DecodeResult<String> {
    get_nullable_string(buf, flexible, what)?.ok_or(DecodeError::UnexpectedNull { what })
}

/// Reads a nullable string (`NULLABLE_STRING` or `COMPACT_NULLABLE_STRING`).
pub fn get_nullable_string(
    buf: &mut Bytes,
    flexible: bool,
    what: &'static str,
) -> DecodeResult<Option<String>> {
    match get_len(buf, flexible, false, 1, what)? {
        None => Ok(None),
        Some(n) => utf8(buf.split_to(n), what).map(Some),
    }
}

/// Writes a non-null string.
pub fn put_string(
    buf: &mut BytesMut,
    s: &str,
    flexible: bool,
    what: &'static str,
) -> Result<(), EncodeError> {
    put_len(buf, Some(s.len()), flexible, false, what)?;
    buf.put_slice(s.as_bytes());
    Ok(())
}

/// Writes a nullable string.
pub fn put_nullable_string(
    buf: &mut BytesMut,
    s: Option<&str>,
    flexible: bool,
    what: &'static str,
) -> Result<(), EncodeError> {
    match s {
        None => put_len(buf, None, flexible, false, what),
        Some(s) => put_string(buf, s, flexible, what),
    }
}

/// Reads non-null bytes (`BYTES` or `COMPACT_BYTES`) as a zero-copy slice.
pub fn get_bytes(buf: &mut Bytes, flexible: bool, what: &'static str) -> DecodeResult<Bytes> {
    get_nullable_bytes(buf, flexible, what)?.ok_or(DecodeError::UnexpectedNull { what })
}

/// Reads nullable bytes (`NULLABLE_BYTES` or `COMPACT_NULLABLE_BYTES`, also
/// used for `RECORDS`) as a zero-copy slice.
pub fn get_nullable_bytes(
    buf: &mut Bytes,
    flexible: bool,
    what: &'static str,
) -> DecodeResult<Option<Bytes>> {
    Ok(get_len(buf, flexible, true, 1, what)?.map(|n| buf.split_to(n)))
}

/// Writes non-null bytes.
pub fn put_bytes(
    buf: &mut BytesMut,
    b: &[u8],
    flexible: bool,
    what: &'static str,
) -> Result<(), EncodeError> {
    put_len(buf, Some(b.len()), flexible, true, what)?;
    buf.put_slice(b);
    Ok(())
}

/// Writes nullable bytes.
pub fn put_nullable_bytes(
    buf: &mut BytesMut,
    b: Option<&[u8]>,
    flexible: bool,
    what: &'static str,
) -> Result<(), EncodeError> {
    match b {
        None => put_len(buf, None, flexible, true, what),
        Some(b) => put_bytes(buf, b, flexible, what),
    }
}

/// Reads a non-null array's element count. The count is checked against the
/// bytes left (every element takes at least one byte), so a caller may
/// allocate for it.
pub fn get_array_len(buf: &mut Bytes, flexible: bool, what: &'static str) -> DecodeResult<usize> {
    get_nullable_array_len(buf, flexible, what)?.ok_or(DecodeError::UnexpectedNull { what })
}

/// Reads a nullable array's element count (`None` for null).
pub fn get_nullable_array_len(
    buf: &mut Bytes,
    flexible: bool,
    what: &'static str,
) -> DecodeResult<Option<usize>> {
    get_len(buf, flexible, true, 1, what)
}

/// Writes an array's element count (`None` for a null array).
pub fn put_array_len(
    buf: &mut BytesMut,
    len: Option<usize>,
    flexible: bool,
    what: &'static str,
) -> Result<(), EncodeError> {
    put_len(buf, len, flexible, true, what)
}

/// Reads a non-null array, decoding each element with `f`.
pub fn get_array<T>(
    buf: &mut Bytes,
    flexible: bool,
    what: &'static str,
    mut f: impl FnMut(&mut Bytes) -> DecodeResult<T>,
) -> DecodeResult<Vec<T>> {
    let n = get_array_len(buf, flexible, what)?;
    // `n` is bounded by the bytes left, but each element may be far larger in
    // memory than its one-byte minimum on the wire: grow as elements arrive.
    let mut out = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        out.push(f(buf)?);
    }
    Ok(out)
}

/// Reads a nullable array, decoding each element with `f`.
pub fn get_nullable_array<T>(
    buf: &mut Bytes,
    flexible: bool,
    what: &'static str,
    mut f: impl FnMut(&mut Bytes) -> DecodeResult<T>,
) -> DecodeResult<Option<Vec<T>>> {
    let Some(n) = get_nullable_array_len(buf, flexible, what)? else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        out.push(f(buf)?);
    }
    Ok(Some(out))
}

/// Writes a non-null array, encoding each element with `f`.
pub fn put_array<T>(
    buf: &mut BytesMut,
    items: &[T],
    flexible: bool,
    what: &'static str,
    mut f: impl FnMut(&mut BytesMut, &T) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    put_array_len(buf, Some(items.len()), flexible, what)?;
    for item in items {
        f(buf, item)?;
    }
    Ok(())
}

/// Writes a nullable array, encoding each element with `f`.
pub fn put_nullable_array<T>(
    buf: &mut BytesMut,
    items: Option<&[T]>,
    flexible: bool,
    what: &'static str,
    f: impl FnMut(&mut BytesMut, &T) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    match items {
        None => put_array_len(buf, None, flexible, what),
        Some(items) => put_array(buf, items, flexible, what, f),
    }
}

#[cfg(test)]
mod tests;
