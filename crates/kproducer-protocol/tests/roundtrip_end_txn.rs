//! EndTxn round trips at every supported version, plus hand-computed bytes.

mod common;

use bytes::{Bytes, BytesMut};
use kproducer_protocol::messages::{EndTxnRequest, EndTxnResponse};
use kproducer_protocol::{ApiKey, Message, TaggedFields};
use proptest::prelude::*;

fn request(v: i16) -> impl Strategy<Value = EndTxnRequest> {
    let flexible = ApiKey::EndTxn.is_flexible(v);
    (
        common::string(),
        any::<i64>(),
        any::<i16>(),
        any::<bool>(),
        common::tagged(flexible),
    )
        .prop_map(
            |(transactional_id, producer_id, producer_epoch, committed, tagged_fields)| {
                EndTxnRequest {
                    transactional_id,
                    producer_id,
                    producer_epoch,
                    committed,
                    tagged_fields,
                }
            },
        )
}

fn response(v: i16) -> impl Strategy<Value = EndTxnResponse> {
    let flexible = ApiKey::EndTxn.is_flexible(v);
    (any::<i32>(), any::<i16>(), common::tagged(flexible)).prop_map(
        |(throttle_time_ms, error_code, tagged_fields)| EndTxnResponse {
            throttle_time_ms,
            error_code,
            tagged_fields,
        },
    )
}

roundtrip!(
    end_txn_request,
    EndTxnRequest,
    ApiKey::EndTxn.versions(),
    request
);
roundtrip!(
    end_txn_response,
    EndTxnResponse,
    ApiKey::EndTxn.versions(),
    response
);

fn commit_tx() -> EndTxnRequest {
    EndTxnRequest {
        transactional_id: "tx".into(),
        producer_id: 0x0102_0304_0506_0708,
        producer_epoch: 9,
        committed: true,
        tagged_fields: TaggedFields::new(),
    }
}

#[test]
fn request_v0_bytes() {
    let mut buf = BytesMut::new();
    commit_tx().encode(&mut buf, 0).unwrap();
    let expected: &[u8] = &[
        0, 2, b't', b'x', // transactional_id: INT16 length + bytes
        1, 2, 3, 4, 5, 6, 7, 8, // producer_id
        0, 9, // producer_epoch
        1, // committed
    ];
    assert_eq!(&buf[..], expected);
    let back = EndTxnRequest::decode(&mut Bytes::from_static(expected), 0).unwrap();
    assert_eq!(back, commit_tx());
}

#[test]
fn request_v3_bytes_are_compact_with_tagged_section() {
    let mut buf = BytesMut::new();
    let abort = EndTxnRequest {
        committed: false,
        ..commit_tx()
    };
    abort.encode(&mut buf, 3).unwrap();
    let expected: &[u8] = &[
        3, b't', b'x', // compact string: length + 1
        1, 2, 3, 4, 5, 6, 7, 8, // producer_id
        0, 9, // producer_epoch
        0, // committed = false
        0, // no tagged fields
    ];
    assert_eq!(&buf[..], expected);
}

#[test]
fn response_bytes() {
    let resp = EndTxnResponse {
        throttle_time_ms: 5,
        error_code: 51, // CONCURRENT_TRANSACTIONS
        tagged_fields: TaggedFields::new(),
    };
    let mut v2 = BytesMut::new();
    resp.encode(&mut v2, 2).unwrap();
    assert_eq!(&v2[..], &[0, 0, 0, 5, 0, 51]);
    let mut v3 = BytesMut::new();
    resp.encode(&mut v3, 3).unwrap();
    assert_eq!(&v3[..], &[0, 0, 0, 5, 0, 51, 0]);
}

#[test]
fn unsupported_versions_are_refused() {
    let mut buf = BytesMut::new();
    assert!(commit_tx().encode(&mut buf, 4).is_err());
    assert!(EndTxnRequest::decode(&mut Bytes::new(), -1).is_err());
}

#[test]
fn whole_response_frame_v3_uses_header_v1() {
    use kproducer_protocol::{ErrorCode, decode_response};
    let frame = Bytes::from_static(&[
        0, 0, 0, 9, // correlation id
        0, // response header v1: empty tagged section
        0, 0, 0, 0, // throttle_time_ms
        0, 90, // PRODUCER_FENCED
        0,  // body tagged section
    ]);
    let (header, body) = decode_response::<EndTxnRequest>(frame.clone(), 3).unwrap();
    assert_eq!(header.correlation_id, 9);
    assert_eq!(ErrorCode::from(body.error_code), ErrorCode::PRODUCER_FENCED);
    // The same bytes at v2 have no header tagged section, so one byte is left.
    assert!(decode_response::<EndTxnRequest>(frame, 2).is_err());
}
