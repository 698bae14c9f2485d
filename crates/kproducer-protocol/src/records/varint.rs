//! Zigzag varints for the hot append path, written straight into the
//! batch's buffer.
//!
//! A varint of up to 8 bytes is assembled in a register (every 7-bit group
//! spread into a byte of its own in three steps, then the continuation
//! bits), stored as one 8-byte write, and the buffer's length is then set
//! to the bytes that count; the next write overwrites the rest. One store
//! and two length updates per varint, no loop over its bytes and no load of
//! bytes just stored (the earlier design gathered a record's varints in two
//! `u128` registers first: its variable 128-bit shifts cost more than the
//! encoding itself). Callers reserve [`SLACK`] bytes beyond what they
//! write, so the wide store never reallocates.

use bytes::{BufMut, BytesMut};

/// Spare capacity a caller keeps beyond the bytes it writes: the width of
/// the store each varint is written with.
pub(crate) const SLACK: usize = 8;

/// Writes `v` as an unsigned varint (1 to 10 bytes).
#[inline(always)]
fn put_unsigned(out: &mut BytesMut, v: u64) {
    // Most lengths and deltas of a record take one byte.
    if v < 0x80 {
        out.put_u8(v as u8);
    } else if v < 1 << 56 {
        let n = unsigned_len(v);
        let mut x = v;
        x = (x & 0x0000_0000_0fff_ffff) | ((x & 0x00ff_ffff_f000_0000) << 4);
        x = (x & 0x0000_3fff_0000_3fff) | ((x & 0x0fff_c000_0fff_c000) << 2);
        x = (x & 0x007f_007f_007f_007f) | ((x & 0x3f80_3f80_3f80_3f80) << 1);
        // n >= 2 here, so the shift is 8..=56.
        let continuation = 0x8080_8080_8080_8080 & ((1u64 << (8 * (n - 1))) - 1);
        let end = out.len() + n;
        out.extend_from_slice(&(x | continuation).to_le_bytes());
        out.truncate(end);
    } else {
        put_wide(out, v);
    }
}

/// [`put_unsigned`] for 9- and 10-byte encodings (varlongs past 2^56:
/// far-off timestamps), byte by byte.
#[cold]
fn put_wide(out: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        out.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    out.put_u8(v as u8);
}

/// Writes a zigzag `VARINT`.
#[inline(always)]
pub(crate) fn put_varint(out: &mut BytesMut, v: i32) {
    put_unsigned(out, u64::from(((v << 1) ^ (v >> 31)) as u32));
}

/// Writes a zigzag `VARLONG`.
#[inline(always)]
pub(crate) fn put_varlong(out: &mut BytesMut, v: i64) {
    put_unsigned(out, ((v << 1) ^ (v >> 63)) as u64);
}

#[inline(always)]
fn unsigned_len(v: u64) -> usize {
    // 1 byte per started group of 7 bits; at least 1.
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Encoded size of a zigzag `VARINT`.
#[inline(always)]
pub(crate) fn varint_len(v: i32) -> usize {
    unsigned_len(u64::from(((v << 1) ^ (v >> 31)) as u32))
}

/// Encoded size of a zigzag `VARLONG`.
#[inline(always)]
pub(crate) fn varlong_len(v: i64) -> usize {
    unsigned_len(((v << 1) ^ (v >> 63)) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives;

    /// `write` into a buffer that already holds a byte and has exactly
    /// [`SLACK`] spare bytes beyond what it writes, as the builder
    /// reserves: the bytes after the prefix.
    fn written(expected_len: usize, write: impl FnOnce(&mut BytesMut)) -> Vec<u8> {
        let mut b = BytesMut::with_capacity(1 + expected_len + SLACK);
        b.put_u8(0xee);
        write(&mut b);
        assert_eq!(b[0], 0xee, "the prefix is kept");
        b[1..].to_vec()
    }

    #[test]
    fn matches_the_protocol_primitives() {
        let ints = [0, 1, -1, 63, -64, 64, -65, 8191, 8192, i32::MAX, i32::MIN];
        for v in ints {
            let mut b = BytesMut::new();
            primitives::put_varint(&mut b, v);
            assert_eq!(written(b.len(), |o| put_varint(o, v)), &b[..], "{v}");
            assert_eq!(varint_len(v), primitives::varint_len(v));
        }
        let longs = [0, -1, 1 << 40, -(1 << 40), i64::MAX, i64::MIN];
        for v in longs {
            let mut b = BytesMut::new();
            primitives::put_varlong(&mut b, v);
            assert_eq!(written(b.len(), |o| put_varlong(o, v)), &b[..], "{v}");
            assert_eq!(varlong_len(v), primitives::varlong_len(v));
        }
    }

    #[test]
    fn every_length_and_its_edges_match_the_protocol_primitives() {
        // Around every 7-bit boundary, zigzagged: 1 to 5 bytes for varints,
        // 1 to 10 for varlongs.
        for bits in 0..64u32 {
            for delta in [-2i64, -1, 0, 1, 2] {
                let edge = (1i128 << bits) + i128::from(delta);
                for v in [edge, -edge] {
                    let Ok(long) = i64::try_from(v) else { continue };
                    let mut b = BytesMut::new();
                    primitives::put_varlong(&mut b, long);
                    let got = written(b.len(), |o| put_varlong(o, long));
                    assert_eq!(got, &b[..], "varlong {long}");
                    assert_eq!(varlong_len(long), b.len(), "varlong {long}");
                    if let Ok(int) = i32::try_from(long) {
                        let mut b = BytesMut::new();
                        primitives::put_varint(&mut b, int);
                        assert_eq!(written(b.len(), |o| put_varint(o, int)), &b[..], "{int}");
                        assert_eq!(varint_len(int), b.len(), "varint {int}");
                    }
                }
            }
        }
    }

    #[test]
    fn consecutive_varints_overwrite_each_others_slack() {
        // 5 + 1 + 10 + 5 + 5 + 5 = 31 bytes: the widest record prefix.
        let mut expected = BytesMut::new();
        primitives::put_varint(&mut expected, i32::MIN);
        expected.put_u8(0xab);
        primitives::put_varlong(&mut expected, i64::MIN);
        for v in [i32::MAX, i32::MIN, -1_234_567_890] {
            primitives::put_varint(&mut expected, v);
        }
        assert_eq!(expected.len(), 31);
        let got = written(31, |o| {
            put_varint(o, i32::MIN);
            o.put_u8(0xab);
            put_varlong(o, i64::MIN);
            for v in [i32::MAX, i32::MIN, -1_234_567_890] {
                put_varint(o, v);
            }
        });
        assert_eq!(got, &expected[..]);
    }
}
