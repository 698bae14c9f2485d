//! Shared proptest machinery for the message round-trip tests.
//!
//! Each `roundtrip_<api>.rs` file defines, per message type, a strategy that
//! yields only values valid at a given version, and hands it to
//! [`roundtrip!`]. The checks are the same for every message:
//! `decode(encode(x)) == x`, `encode(decode(bytes)) == bytes`, all input
//! consumed, and every strict prefix of a valid encoding fails with an error
//! (never a panic).

#![allow(dead_code, unreachable_pub)]

use std::fmt::Debug;

use bytes::{Bytes, BytesMut};
use kproducer_protocol::{Message, TaggedFields, VersionRange};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// Checks every round-trip property of `value` at `version`.
pub fn check_roundtrip<M: Message + PartialEq + Debug>(
    value: &M,
    version: i16,
) -> Result<(), TestCaseError> {
    let mut buf = BytesMut::new();
    value
        .encode(&mut buf, version)
        .map_err(|e| TestCaseError::fail(format!("encode v{version}: {e}")))?;
    let bytes = buf.freeze();
    let mut rd = bytes.clone();
    let back = M::decode(&mut rd, version)
        .map_err(|e| TestCaseError::fail(format!("decode v{version}: {e}")))?;
    prop_assert!(rd.is_empty(), "v{version}: {} bytes left over", rd.len());
    prop_assert_eq!(&back, value, "v{}", version);
    let mut again = BytesMut::new();
    back.encode(&mut again, version)
        .map_err(|e| TestCaseError::fail(format!("re-encode v{version}: {e}")))?;
    prop_assert_eq!(&again[..], &bytes[..], "v{}: not canonical", version);
    for cut in 0..bytes.len() {
        let mut prefix = bytes.slice(..cut);
        prop_assert!(
            M::decode(&mut prefix, version).is_err(),
            "v{}: a {}-byte prefix of {} bytes decoded",
            version,
            cut,
            bytes.len()
        );
    }
    Ok(())
}

/// Random bytes fed to a decoder never panic.
pub fn check_no_panic<M: Message>(data: &[u8], version: i16) {
    let _ = M::decode(&mut Bytes::copy_from_slice(data), version);
}

/// Every version in `range`.
pub fn versions(range: VersionRange) -> impl Strategy<Value = i16> {
    range.min..=range.max
}

/// A short string.
pub fn string() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9._-]{0,12}"
}

/// A short nullable string.
pub fn nullable_string() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(string())
}

/// Short bytes.
pub fn bytes() -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..16).prop_map(Bytes::from)
}

/// Unknown tagged fields for a flexible version, or none otherwise. Tags are
/// drawn from 100..110 so they never collide with the typed tags (0..10)
/// that some messages know.
pub fn tagged(flexible: bool) -> BoxedStrategy<TaggedFields> {
    if flexible {
        proptest::collection::btree_map(100u32..110, bytes(), 0..3)
            .prop_map(|m| m.into_iter().collect())
            .boxed()
    } else {
        Just(TaggedFields::new()).boxed()
    }
}

/// Declares a proptest that draws a version from `$range` and a value from
/// `$strategy(version)`, then runs [`check_roundtrip`]; and a second one that
/// feeds random bytes to the decoder at every version.
#[macro_export]
macro_rules! roundtrip {
    ($name:ident, $ty:ty, $range:expr, $strategy:expr) => {
        mod $name {
            use super::*;
            proptest::proptest! {
                #[test]
                fn roundtrips(
                    (version, value) in common::versions($range)
                        .prop_flat_map(|v| ($strategy)(v).prop_map(move |x| (v, x)))
                ) {
                    common::check_roundtrip::<$ty>(&value, version)?;
                }

                #[test]
                fn random_input_never_panics(
                    version in common::versions($range),
                    data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256),
                ) {
                    common::check_no_panic::<$ty>(&data, version);
                }
            }
        }
    };
}
