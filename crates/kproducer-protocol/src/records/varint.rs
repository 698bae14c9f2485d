//! Zigzag varints written into a small stack buffer, so that the hot append
//! path copies each record's fixed fields into the batch in one call.

/// Up to 32 bytes of encoded varints.
pub(crate) struct Scratch {
    buf: [u8; 32],
    len: usize,
}

impl Scratch {
    #[inline]
    pub(crate) fn new() -> Self {
        Scratch {
            buf: [0; 32],
            len: 0,
        }
    }

    #[inline]
    pub(crate) fn byte(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    #[inline]
    fn unsigned(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.byte((v as u8) | 0x80);
            v >>= 7;
        }
        self.byte(v as u8);
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

    #[inline]
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.buf[..self.len]
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
    use bytes::BytesMut;

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
            assert_eq!(s.as_slice(), &b[..], "{v}");
            assert_eq!(Scratch::varint_len(v), varint_len(v));
        }
        let longs = [0, -1, 1 << 40, -(1 << 40), i64::MAX, i64::MIN];
        for v in longs {
            let mut s = Scratch::new();
            s.varlong(v);
            let mut b = BytesMut::new();
            put_varlong(&mut b, v);
            assert_eq!(s.as_slice(), &b[..], "{v}");
            assert_eq!(Scratch::varlong_len(v), varlong_len(v));
        }
    }
}
