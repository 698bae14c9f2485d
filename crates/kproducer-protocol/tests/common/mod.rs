//! Shared proptest machinery for the message round-trip tests.
//!
//! Each `roundtrip_<api>.rs` file defines, per message type, a strategy that
//! yields only values valid at a given version, and hands it to
//! [`roundtrip!`], which runs it at every supported version from a fixed seed. The checks are the same for every message:
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

/// `s` when the version has the field, else the field's default.
pub fn gated<T: Clone + std::fmt::Debug + 'static>(
    present: bool,
    s: impl Strategy<Value = T> + 'static,
    default: T,
) -> BoxedStrategy<T> {
    if present {
        s.boxed()
    } else {
        Just(default).boxed()
    }
}

/// `m` encoded at `v` (test helper: panics when it does not encode).
pub fn encode<M: Message>(m: &M, v: i16) -> Vec<u8> {
    let mut buf = BytesMut::new();
    m.encode(&mut buf, v).expect("encodes");
    buf.to_vec()
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
/// drawn from 100 up so they never collide with the typed tags (0..10) that
/// some messages know; some tags and values are long enough to need
/// multi-byte varints.
pub fn tagged(flexible: bool) -> BoxedStrategy<TaggedFields> {
    if flexible {
        let tag = prop_oneof![4 => 100u32..110, 1 => 128u32..20_000, 1 => Just(u32::MAX)];
        let value = prop_oneof![
            4 => bytes(),
            1 => proptest::collection::vec(any::<u8>(), 128..160).prop_map(Bytes::from),
        ];
        proptest::collection::btree_map(tag, value, 0..3)
            .prop_map(|m| m.into_iter().collect())
            .boxed()
    } else {
        Just(TaggedFields::new()).boxed()
    }
}

/// The fixed seed of every round-trip run, so that a failure reproduces on
/// any machine. `PROPTEST_CASES` changes the number of cases per version.
pub const SEED: u64 = 0x6b70_726f_746f_636f;

/// Cases per version unless `PROPTEST_CASES` says otherwise.
pub const CASES_PER_VERSION: u32 = 64;

/// Runs `check` on `cases` values of `strategy(version)` for *every* version
/// in `range` (not a random sample of versions), each version from the fixed
/// [`SEED`]. A failure panics with the message type, the version, the seed
/// and the shrunk value.
pub fn for_every_version<S: Strategy>(
    what: &str,
    range: VersionRange,
    strategy: impl Fn(i16) -> S,
    check: impl Fn(S::Value, i16) -> Result<(), TestCaseError>,
) where
    S::Value: Debug,
{
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(CASES_PER_VERSION);
    for version in range.min..=range.max {
        let config = proptest::test_runner::Config {
            cases,
            rng_seed: proptest::test_runner::RngSeed::Fixed(SEED ^ version as u64),
            failure_persistence: None,
            ..Default::default()
        };
        let mut runner = proptest::test_runner::TestRunner::new(config);
        if let Err(e) = runner.run(&strategy(version), |value| check(value, version)) {
            panic!("{what} v{version} (seed {SEED:#x} ^ {version}): {e}");
        }
    }
}

/// Declares, for one message type, a test that runs [`check_roundtrip`] on
/// values from `$strategy(version)` at every version in `$range`, and one
/// that feeds random bytes to the decoder at every version in `$range`.
#[macro_export]
macro_rules! roundtrip {
    ($name:ident, $ty:ty, $range:expr, $strategy:expr) => {
        mod $name {
            use super::*;

            #[test]
            fn roundtrips() {
                common::for_every_version(stringify!($ty), $range, $strategy, |value, version| {
                    common::check_roundtrip::<$ty>(&value, version)
                });
            }

            #[test]
            fn random_input_never_panics() {
                common::for_every_version(
                    stringify!($ty),
                    $range,
                    |_| proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256),
                    |data, version| {
                        common::check_no_panic::<$ty>(&data, version);
                        Ok(())
                    },
                );
            }
        }
    };
}
