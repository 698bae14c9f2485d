//! The tagged-field section that ends every struct in a flexible version
//! (KIP-482), read and written only when the version is flexible.

use bytes::{Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::tagged::TaggedFields;

/// Reads a struct's tagged-field section in a flexible version; in a classic
/// version there is none and nothing is read.
pub(crate) fn read(buf: &mut Bytes, flexible: bool) -> Result<TaggedFields, DecodeError> {
    if flexible {
        TaggedFields::decode(buf)
    } else {
        Ok(TaggedFields::new())
    }
}

/// Writes a struct's tagged-field section in a flexible version; in a
/// classic version the fields are dropped, as the version cannot carry them.
pub(crate) fn write(
    buf: &mut BytesMut,
    fields: &TaggedFields,
    flexible: bool,
) -> Result<(), EncodeError> {
    if flexible { fields.encode(buf) } else { Ok(()) }
}
