//! AddOffsetsToTxn round trips at every supported version, plus
//! hand-computed bytes.

mod common;

use bytes::{Bytes, BytesMut};
use kproducer_protocol::messages::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse};
use kproducer_protocol::{ApiKey, Message, TaggedFields};
use proptest::prelude::*;

fn request(v: i16) -> impl Strategy<Value = AddOffsetsToTxnRequest> {
    let flexible = ApiKey::AddOffsetsToTxn.is_flexible(v);
    (
        common::string(),
        any::<i64>(),
        any::<i16>(),
        common::string(),
        common::tagged(flexible),
    )
        .prop_map(
            |(transactional_id, producer_id, producer_epoch, group_id, tagged_fields)| {
                AddOffsetsToTxnRequest {
                    transactional_id,
                    producer_id,
                    producer_epoch,
                    group_id,
                    tagged_fields,
                }
            },
        )
}

fn response(v: i16) -> impl Strategy<Value = AddOffsetsToTxnResponse> {
    let flexible = ApiKey::AddOffsetsToTxn.is_flexible(v);
    (any::<i32>(), any::<i16>(), common::tagged(flexible)).prop_map(
        |(throttle_time_ms, error_code, tagged_fields)| AddOffsetsToTxnResponse {
            throttle_time_ms,
            error_code,
            tagged_fields,
        },
    )
}

roundtrip!(
    add_offsets_to_txn_request,
    AddOffsetsToTxnRequest,
    ApiKey::AddOffsetsToTxn.versions(),
    request
);
roundtrip!(
    add_offsets_to_txn_response,
    AddOffsetsToTxnResponse,
    ApiKey::AddOffsetsToTxn.versions(),
    response
);

fn sample() -> AddOffsetsToTxnRequest {
    AddOffsetsToTxnRequest {
        transactional_id: "tx".into(),
        producer_id: 0x0102_0304_0506_0708,
        producer_epoch: 9,
        group_id: "grp".into(),
        tagged_fields: TaggedFields::new(),
    }
}

#[test]
fn request_v0_bytes() {
    let mut buf = BytesMut::new();
    sample().encode(&mut buf, 0).unwrap();
    let expected: &[u8] = &[
        0, 2, b't', b'x', // transactional_id: INT16 length + bytes
        1, 2, 3, 4, 5, 6, 7, 8, // producer_id
        0, 9, // producer_epoch
        0, 3, b'g', b'r', b'p', // group_id
    ];
    assert_eq!(&buf[..], expected);
    let back = AddOffsetsToTxnRequest::decode(&mut Bytes::from_static(expected), 0).unwrap();
    assert_eq!(back, sample());
}

#[test]
fn request_v3_bytes_are_compact_with_tagged_section() {
    let mut buf = BytesMut::new();
    sample().encode(&mut buf, 3).unwrap();
    let expected: &[u8] = &[
        3, b't', b'x', // compact string: length + 1
        1, 2, 3, 4, 5, 6, 7, 8, // producer_id
        0, 9, // producer_epoch
        4, b'g', b'r', b'p', // compact group_id
        0,    // no tagged fields
    ];
    assert_eq!(&buf[..], expected);
    let back = AddOffsetsToTxnRequest::decode(&mut Bytes::from_static(expected), 3).unwrap();
    assert_eq!(back, sample());
}

#[test]
fn response_bytes() {
    let resp = AddOffsetsToTxnResponse {
        throttle_time_ms: 5,
        error_code: 30, // GROUP_AUTHORIZATION_FAILED
        tagged_fields: TaggedFields::new(),
    };
    let mut v2 = BytesMut::new();
    resp.encode(&mut v2, 2).unwrap();
    assert_eq!(&v2[..], &[0, 0, 0, 5, 0, 30]);
    let mut v3 = BytesMut::new();
    resp.encode(&mut v3, 3).unwrap();
    assert_eq!(&v3[..], &[0, 0, 0, 5, 0, 30, 0]);
}

#[test]
fn unsupported_versions_are_refused() {
    let mut buf = BytesMut::new();
    assert!(sample().encode(&mut buf, 4).is_err());
    assert!(AddOffsetsToTxnRequest::decode(&mut Bytes::new(), -1).is_err());
}
