//! Unit tests of the wire primitives: known encodings from Kafka's own tests,
//! limits, and readers that never panic.

use super::*;
use proptest::prelude::*;

fn roundtrip_uvarint(v: u32) -> u32 {
    let mut b = BytesMut::new();
    put_uvarint(&mut b, v);
    assert_eq!(b.len(), uvarint_len(v));
    get_uvarint(&mut b.freeze(), "t").unwrap()
}

#[test]
fn varint_known_encodings() {
    // From Kafka's ByteUtilsTest.
    let cases: &[(i32, &[u8])] = &[
        (0, &[0x00]),
        (-1, &[0x01]),
        (1, &[0x02]),
        (63, &[0x7e]),
        (-64, &[0x7f]),
        (64, &[0x80, 0x01]),
        (-65, &[0x81, 0x01]),
        (8191, &[0xfe, 0x7f]),
        (-8192, &[0xff, 0x7f]),
        (8192, &[0x80, 0x80, 0x01]),
        (i32::MAX, &[0xfe, 0xff, 0xff, 0xff, 0x0f]),
        (i32::MIN, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
    ];
    for (v, bytes) in cases {
        let mut b = BytesMut::new();
        put_varint(&mut b, *v);
        assert_eq!(&b[..], *bytes, "encoding {v}");
        assert_eq!(varint_len(*v), bytes.len());
        assert_eq!(get_varint(&mut Bytes::from_static(bytes), "t").unwrap(), *v);
    }
}

#[test]
fn overlong_varint_is_an_error() {
    let mut b = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    assert!(matches!(
        get_uvarint(&mut b, "t"),
        Err(DecodeError::VarintTooLong { .. })
    ));
    let mut b = Bytes::from_static(&[0xff; 11]);
    assert!(matches!(
        get_uvarlong(&mut b, "t"),
        Err(DecodeError::VarintTooLong { .. })
    ));
}

#[test]
fn lengths_beyond_input_are_rejected_before_allocation() {
    // INT32 byte length of 2^31-1 with 3 bytes left.
    let mut b = Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff, 1, 2, 3]);
    assert!(matches!(
        get_bytes(&mut b, false, "t"),
        Err(DecodeError::InvalidLength { .. })
    ));
    // Compact array claiming 1000 elements with 2 bytes left.
    let mut w = BytesMut::new();
    put_uvarint(&mut w, 1001);
    w.put_slice(&[0, 0]);
    assert!(matches!(
        get_array(&mut w.freeze(), true, "t", |b| get_i8(b, "e")),
        Err(DecodeError::InvalidLength { .. })
    ));
    // Negative non-null length.
    let mut b = Bytes::from_static(&[0xff, 0xfe]);
    assert!(matches!(
        get_string(&mut b, false, "t"),
        Err(DecodeError::InvalidLength { .. })
    ));
}

#[test]
fn strings_are_at_most_i16_max_bytes_in_every_encoding() {
    let long = "x".repeat(i16::MAX as usize + 1);
    for flexible in [false, true] {
        let mut b = BytesMut::new();
        assert!(matches!(
            put_string(&mut b, &long, flexible, "t"),
            Err(EncodeError::TooLong { .. })
        ));
        put_string(&mut b, &long[1..], flexible, "t").unwrap();
        assert_eq!(
            get_string(&mut b.freeze(), flexible, "t").unwrap(),
            long[1..]
        );
    }
    // A compact length of 32768 with the bytes present is still refused.
    let mut w = BytesMut::new();
    put_uvarint(&mut w, i16::MAX as u32 + 2);
    w.put_slice(long.as_bytes());
    assert!(matches!(
        get_string(&mut w.freeze(), true, "t"),
        Err(DecodeError::InvalidLength { length: 32768, .. })
    ));
    // Bytes have no such limit.
    let mut b = BytesMut::new();
    put_bytes(&mut b, long.as_bytes(), true, "t").unwrap();
    assert_eq!(
        get_bytes(&mut b.freeze(), true, "t").unwrap().len(),
        long.len()
    );
}

#[test]
fn null_and_empty_are_distinct() {
    for flexible in [false, true] {
        let mut b = BytesMut::new();
        put_nullable_string(&mut b, None, flexible, "t").unwrap();
        put_nullable_string(&mut b, Some(""), flexible, "t").unwrap();
        put_nullable_bytes(&mut b, None, flexible, "t").unwrap();
        put_nullable_bytes(&mut b, Some(b""), flexible, "t").unwrap();
        let mut r = b.freeze();
        assert_eq!(get_nullable_string(&mut r, flexible, "t").unwrap(), None);
        assert_eq!(
            get_nullable_string(&mut r, flexible, "t").unwrap(),
            Some(String::new())
        );
        assert_eq!(get_nullable_bytes(&mut r, flexible, "t").unwrap(), None);
        assert_eq!(
            get_nullable_bytes(&mut r, flexible, "t").unwrap(),
            Some(Bytes::new())
        );
        assert!(r.is_empty());
    }
}

proptest! {
    #[test]
    fn uvarint_roundtrips(v: u32) {
        prop_assert_eq!(roundtrip_uvarint(v), v);
    }

    #[test]
    fn varlong_roundtrips(v: i64) {
        let mut b = BytesMut::new();
        put_varlong(&mut b, v);
        prop_assert_eq!(b.len(), varlong_len(v));
        prop_assert_eq!(get_varlong(&mut b.freeze(), "t").unwrap(), v);
    }

    #[test]
    fn strings_roundtrip(s in ".{0,40}", flexible: bool, null: bool) {
        let v = if null { None } else { Some(s) };
        let mut b = BytesMut::new();
        put_nullable_string(&mut b, v.as_deref(), flexible, "t").unwrap();
        let mut r = b.freeze();
        prop_assert_eq!(get_nullable_string(&mut r, flexible, "t").unwrap(), v);
        prop_assert!(r.is_empty());
    }

    #[test]
    fn readers_never_panic(data: Vec<u8>, flexible: bool) {
        let mut b = Bytes::from(data);
        let _ = get_nullable_string(&mut b.clone(), flexible, "t");
        let _ = get_nullable_bytes(&mut b.clone(), flexible, "t");
        let _ = get_varlong(&mut b.clone(), "t");
        let _ = get_array(&mut b, flexible, "t", |b| get_string(b, flexible, "e"));
    }
}
