//! Request and response headers round-trip for every API key (known or not)
//! at every version, with the header version derived from the key.

mod common;

use bytes::BytesMut;
use kproducer_protocol::{ApiKey, RequestHeader, ResponseHeader, TaggedFields, VersionRange};
use proptest::prelude::*;

fn request_header(api_version: i16) -> impl Strategy<Value = RequestHeader> {
    let key = prop_oneof![
        proptest::sample::select(ApiKey::ALL.iter().map(|k| k.as_i16()).collect::<Vec<_>>()),
        any::<i16>(),
    ];
    (key, any::<i32>(), common::nullable_string()).prop_flat_map(
        move |(api_key, correlation_id, client_id)| {
            let header = RequestHeader {
                api_key,
                api_version,
                correlation_id,
                client_id,
                tagged_fields: TaggedFields::new(),
            };
            let flexible = header.header_version() >= 2;
            common::tagged(flexible).prop_map(move |tagged_fields| RequestHeader {
                tagged_fields,
                ..header.clone()
            })
        },
    )
}

#[test]
fn request_headers_roundtrip() {
    // API versions from below every supported range to above them.
    let range = VersionRange { min: -1, max: 15 };
    common::for_every_version("RequestHeader", range, request_header, |h, _| {
        let mut buf = BytesMut::new();
        h.encode(&mut buf).unwrap();
        let bytes = buf.freeze();
        let mut rd = bytes.clone();
        prop_assert_eq!(&RequestHeader::decode(&mut rd).unwrap(), &h);
        prop_assert!(rd.is_empty());
        for cut in 0..bytes.len() {
            prop_assert!(
                RequestHeader::decode(&mut bytes.slice(..cut)).is_err(),
                "{}-byte prefix",
                cut
            );
        }
        let expected = match ApiKey::from_i16(h.api_key) {
            Some(k) => k.request_header_version(h.api_version),
            None => 1,
        };
        prop_assert_eq!(h.header_version(), expected);
        Ok(())
    });
}

#[test]
fn response_headers_roundtrip() {
    let range = VersionRange { min: 0, max: 1 };
    common::for_every_version(
        "ResponseHeader",
        range,
        |v| {
            (any::<i32>(), common::tagged(v == 1)).prop_map(|(correlation_id, tagged_fields)| {
                ResponseHeader {
                    correlation_id,
                    tagged_fields,
                }
            })
        },
        |h, v| {
            let mut buf = BytesMut::new();
            h.encode(&mut buf, v).unwrap();
            let bytes = buf.freeze();
            prop_assert_eq!(
                ResponseHeader::peek_correlation_id(&bytes).unwrap(),
                h.correlation_id
            );
            let mut rd = bytes.clone();
            prop_assert_eq!(&ResponseHeader::decode(&mut rd, v).unwrap(), &h);
            prop_assert!(rd.is_empty());
            for cut in 0..bytes.len() {
                prop_assert!(ResponseHeader::decode(&mut bytes.slice(..cut), v).is_err());
            }
            Ok(())
        },
    );
}
