//! Zigzag varints written into a small stack buffer, so that the hot append
//! path copies each record's fixed fields into the batch in one call.

use bytes::BytesMut;

/// Up to 32 bytes of encoded varints, kept in two registers.
///
/// Bytes are assembled with shifts rather than written one by one into a
/// stack array: a wide load right after narrow stores to the same bytes
/// stalls store-to-load forwarding, which profiling showed to dominate the
/// append path.
pub(crate) struct Scratch {
    lo: u128,
    hi: u128,
    len: u32,
}

impl Scratch {
    /// Bytes a scratch holds.
    pub(crate) const CAPACITY: usize = 32;

    #[inline]
    pub(crate) fn new() -> Self {
        Scratch {
            lo: 0,
            hi: 0,
            len: 0,
        }
    }

    /// Appends the `n` (at most 16) low bytes of `bytes`, little-endian.
    #[inline(always)]
    fn push(&mut self, bytes: u128, n: u32) {
        debug_assert!(n <= 16 && self.len + n <= 32);
        if self.len < 16 {
            let shift = self.len * 8;
            self.lo |= bytes << shift;
            if self.len + n > 16 {
                // shift > 0 here, since n <= 16.
                self.hi |= bytes >> (128 - shift);
            }
        } else {
            self.hi |= bytes << ((self.len - 16) * 8);
        }
        self.len += n;
    }

    #[inline]
    pub(crate) fn byte(&mut self, b: u8) {
        self.push(u128::from(b), 1);
    }

    // Always inlined: called as a function, the two registers go through
    // memory on every call.
    #[inline(always)]
    fn unsigned(&mut self, v: u64) {
        // Most lengths and deltas of a record take one byte.
        if v < 0x80 {
            self.push(u128::from(v), 1);
        } else if v < 1 << 56 {
            // Up to 8 bytes: every 7-bit group moved into a byte of its own
            // (three spread steps instead of a loop over the bytes, whose
            // 128-bit shifts cost more than the encoding itself), then the
            // continuation bit on every byte but the last.
            let n = Self::unsigned_len(v) as u32;
            let mut x = v;
            x = (x & 0x0000_0000_0fff_ffff) | ((x & 0x00ff_ffff_f000_0000) << 4);
            x = (x & 0x0000_3fff_0000_3fff) | ((x & 0x0fff_c000_0fff_c000) << 2);
            x = (x & 0x007f_007f_007f_007f) | ((x & 0x3f80_3f80_3f80_3f80) << 1);
            // n >= 2 here, so the shift is 8..=56.
            let continuation = 0x8080_8080_8080_8080 & ((1u64 << (8 * (n - 1))) - 1);
            self.push(u128::from(x | continuation), n);
        } else {
            self.unsigned_wide(v);
        }
    }

    /// [`Scratch::unsigned`] for 9- and 10-byte encodings (varlongs past
    /// 2^56: far-off timestamps), byte by byte.
    #[cold]
    fn unsigned_wide(&mut self, mut v: u64) {
        let mut bytes = 0u128;
        let mut n = 0;
        while v >= 0x80 {
            bytes |= u128::from((v as u8) | 0x80) << (8 * n);
            v >>= 7;
            n += 1;
        }
        bytes |= u128::from(v as u8) << (8 * n);
        self.push(bytes, n + 1);
    }

    /// A zigzag `VARINT`.
    #[inline]
    pub(crate) fn varint(&mut self, v: i32) {
        self.unsigned(u64::from(((v << 1) ^ (v >> 31)) as u32));
    }

    /// A zigzag `VARLONG`.
    #[inline]
    pub(crate) fn varlong(&mut self, v: i64) {
        self.unsigned(((v << 1) ^ (v >> 63)) as u64);
    }

    /// Appends the encoded bytes to `out`: one or two fixed 16-byte stores
    /// (no `memcpy` call), then the unused tail is dropped. `out` should
    /// have [`Scratch::CAPACITY`] bytes of spare capacity so that this never
    /// reallocates.
    #[inline]
    pub(crate) fn write_to(&self, out: &mut BytesMut) {
        let end = out.len() + self.len as usize;
        out.extend_from_slice(&self.lo.to_le_bytes());
        if self.len > 16 {
            out.extend_from_slice(&self.hi.to_le_bytes());
        }
        out.truncate(end);
    }

    #[cfg(test)]
    fn to_vec(&self) -> Vec<u8> {
        let mut out = BytesMut::new();
        self.write_to(&mut out);
        out.to_vec()
    }

    #[inline]
    fn unsigned_len(v: u64) -> usize {
        // 1 byte per started group of 7 bits; at least 1.
        let bits = 64 - (v | 1).leading_zeros() as usize;
        bits.div_ceil(7)
    }

    /// Encoded size of a zigzag `VARINT`.
    #[inline]
    pub(crate) fn varint_len(v: i32) -> usize {
        Self::unsigned_len(u64::from(((v << 1) ^ (v >> 31)) as u32))
    }

    /// Encoded size of a zigzag `VARLONG`.
    #[inline]
    pub(crate) fn varlong_len(v: i64) -> usize {
        Self::unsigned_len(((v << 1) ^ (v >> 63)) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::{put_varint, put_varlong, varint_len, varlong_len};

    #[test]
    fn matches_the_protocol_primitives() {
        let ints = [0, 1, -1, 63, -64, 64, -65, 8191, 8192, i32::MAX, i32::MIN];
        for v in ints {
            let mut s = Scratch::new();
            s.varint(v);
            let mut b = BytesMut::new();
            put_varint(&mut b, v);
            assert_eq!(s.to_vec(), &b[..], "{v}");
            assert_eq!(Scratch::varint_len(v), varint_len(v));
        }
        let longs = [0, -1, 1 << 40, -(1 << 40), i64::MAX, i64::MIN];
        for v in longs {
            let mut s = Scratch::new();
            s.varlong(v);
            let mut b = BytesMut::new();
            put_varlong(&mut b, v);
            assert_eq!(s.to_vec(), &b[..], "{v}");
            assert_eq!(Scratch::varlong_len(v), varlong_len(v));
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
                    let mut s = Scratch::new();
                    s.varlong(long);
                    let mut b = BytesMut::new();
                    put_varlong(&mut b, long);
                    assert_eq!(s.to_vec(), &b[..], "varlong {long}");
                    if let Ok(int) = i32::try_from(long) {
                        let mut s = Scratch::new();
                        s.varint(int);
                        let mut b = BytesMut::new();
                        put_varint(&mut b, int);
                        assert_eq!(s.to_vec(), &b[..], "varint {int}");
                    }
                }
            }
        }
    }

    #[test]
    fn fills_both_registers_in_order() {
        // 5 + 1 + 10 + 5 + 5 + 5 = 31 bytes: the widest record prefix.
        let mut s = Scratch::new();
        let mut b = BytesMut::new();
        s.varint(i32::MIN);
        put_varint(&mut b, i32::MIN);
        s.byte(0xab);
        b.extend_from_slice(&[0xab]);
        s.varlong(i64::MIN);
        put_varlong(&mut b, i64::MIN);
        for v in [i32::MAX, i32::MIN, -1_234_567_890] {
            s.varint(v);
            put_varint(&mut b, v);
        }
        assert_eq!(b.len(), 31);
        assert_eq!(s.to_vec(), &b[..]);
    }
}
