//! Tagged fields (KIP-482).
//!
//! Flexible versions end every struct with a tagged-field section: a count,
//! then `(tag, size, bytes)` triples in strictly increasing tag order. Fields
//! this crate does not know are kept verbatim in [`TaggedFields`] and written
//! back unchanged, so a message that passes through us loses nothing.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::primitives::{DecodeResult, get_uvarint, put_uvarint};

/// Tagged fields a message carried that this crate does not interpret, in tag
/// order.
///
/// ```
/// use bytes::Bytes;
/// use kproducer_protocol::TaggedFields;
///
/// let mut t = TaggedFields::default();
/// t.insert(7, Bytes::from_static(b"\x01"));
/// assert_eq!(t.get(7), Some(&Bytes::from_static(b"\x01")));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TaggedFields(Vec<(u32, Bytes)>);

impl TaggedFields {
    /// No tagged fields.
    pub const fn new() -> Self {
        Self(Vec::new())
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The fields, in increasing tag order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &Bytes)> {
        self.0.iter().map(|(t, b)| (*t, b))
    }

    /// The raw value of `tag`, if present.
    pub fn get(&self, tag: u32) -> Option<&Bytes> {
        self.0
            .binary_search_by_key(&tag, |(t, _)| *t)
            .ok()
            .map(|i| &self.0[i].1)
    }

    /// Sets `tag` to `value`, keeping tag order. Replaces an existing value.
    pub fn insert(&mut self, tag: u32, value: Bytes) {
        match self.0.binary_search_by_key(&tag, |(t, _)| *t) {
            Ok(i) => self.0[i].1 = value,
            Err(i) => self.0.insert(i, (tag, value)),
        }
    }

    /// Removes `tag` and returns its value.
    pub fn remove(&mut self, tag: u32) -> Option<Bytes> {
        self.0
            .binary_search_by_key(&tag, |(t, _)| *t)
            .ok()
            .map(|i| self.0.remove(i).1)
    }

    /// Reads a tagged-field section.
    pub fn decode(buf: &mut Bytes) -> DecodeResult<Self> {
        let n = get_uvarint(buf, "tagged field count")? as usize;
        // Each field takes at least two bytes (tag and size).
        if n.saturating_mul(2) > buf.remaining() {
            return Err(DecodeError::InvalidLength {
                what: "tagged field count",
                length: n as i64,
                remaining: buf.remaining(),
            });
        }
        let mut fields: Vec<(u32, Bytes)> = Vec::with_capacity(n.min(16));
        for _ in 0..n {
            let tag = get_uvarint(buf, "tag")?;
            if fields.last().is_some_and(|(t, _)| *t >= tag) {
                return Err(DecodeError::TagOrder { tag });
            }
            let size = get_uvarint(buf, "tagged field size")? as usize;
            if size > buf.remaining() {
                return Err(DecodeError::InvalidLength {
                    what: "tagged field size",
                    length: size as i64,
                    remaining: buf.remaining(),
                });
            }
            fields.push((tag, buf.split_to(size)));
        }
        Ok(Self(fields))
    }

    /// Writes the section.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        let count = u32::try_from(self.0.len()).map_err(|_| EncodeError::TooLong {
            what: "tagged field count",
            length: self.0.len(),
        })?;
        put_uvarint(buf, count);
        for (tag, value) in &self.0 {
            put_uvarint(buf, *tag);
            let len = u32::try_from(value.len()).map_err(|_| EncodeError::TooLong {
                what: "tagged field",
                length: value.len(),
            })?;
            put_uvarint(buf, len);
            buf.put_slice(value);
        }
        Ok(())
    }
}

impl FromIterator<(u32, Bytes)> for TaggedFields {
    fn from_iter<I: IntoIterator<Item = (u32, Bytes)>>(iter: I) -> Self {
        let mut t = Self::new();
        for (tag, v) in iter {
            t.insert(tag, v);
        }
        t
    }
}

/// Splits a decoded section into known fields (returned by `take`) and the
/// rest. Message codecs use this to pull their typed tagged fields out of
/// [`TaggedFields`] while keeping unknown ones.
pub fn take_tag(fields: &mut TaggedFields, tag: u32) -> Option<Bytes> {
    fields.remove(tag)
}

/// Writes a tagged-field section made of `known` typed fields (already
/// encoded, any order) merged with `unknown` ones. A known tag wins over an
/// unknown one with the same number.
pub fn encode_tagged_with(
    buf: &mut BytesMut,
    known: Vec<(u32, Bytes)>,
    unknown: &TaggedFields,
) -> Result<(), EncodeError> {
    if known.is_empty() {
        return unknown.encode(buf);
    }
    let mut all = unknown.clone();
    for (tag, v) in known {
        all.insert(tag, v);
    }
    all.encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_tags_survive_a_roundtrip() {
        let t: TaggedFields = [
            (5, Bytes::from_static(b"xyz")),
            (0, Bytes::from_static(b"")),
        ]
        .into_iter()
        .collect();
        let mut b = BytesMut::new();
        t.encode(&mut b).unwrap();
        assert_eq!(&b[..], &[2, 0, 0, 5, 3, b'x', b'y', b'z']);
        assert_eq!(TaggedFields::decode(&mut b.freeze()).unwrap(), t);
    }

    #[test]
    fn out_of_order_tags_are_rejected() {
        let mut b = Bytes::from_static(&[2, 5, 0, 1, 0]);
        assert_eq!(
            TaggedFields::decode(&mut b),
            Err(DecodeError::TagOrder { tag: 1 })
        );
    }

    #[test]
    fn oversized_field_is_rejected() {
        let mut b = Bytes::from_static(&[1, 0, 50, 1]);
        assert!(matches!(
            TaggedFields::decode(&mut b),
            Err(DecodeError::InvalidLength { .. })
        ));
    }
}
