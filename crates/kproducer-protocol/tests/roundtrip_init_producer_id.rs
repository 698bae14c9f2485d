//! InitProducerId round trips at every supported version, plus known encodings.

mod common;

use common::encode;

use bytes::Bytes;
use kproducer_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse};
use kproducer_protocol::{ApiKey, Message, TaggedFields};
use proptest::prelude::*;

fn request(v: i16) -> impl Strategy<Value = InitProducerIdRequest> {
    (
        common::nullable_string(),
        any::<i32>(),
        any::<i64>(),
        any::<i16>(),
        common::tagged(v >= 2),
    )
        .prop_map(
            move |(transactional_id, timeout, id, epoch, tagged_fields)| {
                InitProducerIdRequest {
                    transactional_id,
                    transaction_timeout_ms: timeout,
                    // v0–v2 have no producer id or epoch: they stay at -1.
                    producer_id: if v >= 3 { id } else { -1 },
                    producer_epoch: if v >= 3 { epoch } else { -1 },
                    tagged_fields,
                }
            },
        )
}

fn response(v: i16) -> impl Strategy<Value = InitProducerIdResponse> {
    (
        any::<i32>(),
        any::<i16>(),
        any::<i64>(),
        any::<i16>(),
        common::tagged(v >= 2),
    )
        .prop_map(
            |(throttle, error_code, id, epoch, tagged_fields)| InitProducerIdResponse {
                throttle_time_ms: throttle,
                error_code,
                producer_id: id,
                producer_epoch: epoch,
                tagged_fields,
            },
        )
}

roundtrip!(
    init_producer_id_request,
    InitProducerIdRequest,
    ApiKey::InitProducerId.versions(),
    request
);
roundtrip!(
    init_producer_id_response,
    InitProducerIdResponse,
    ApiKey::InitProducerId.versions(),
    response
);

#[test]
fn v0_request_known_bytes() {
    let req = InitProducerIdRequest {
        transaction_timeout_ms: 60_000,
        ..Default::default()
    };
    // Null transactional id, then 60000.
    assert_eq!(encode(&req, 0), [0xff, 0xff, 0, 0, 0xea, 0x60]);
    // The producer id and epoch do not exist before v3 and are not sent.
    let bump = InitProducerIdRequest {
        producer_id: 5,
        producer_epoch: 1,
        ..req.clone()
    };
    assert_eq!(encode(&bump, 1), [0xff, 0xff, 0, 0, 0xea, 0x60]);
}

#[test]
fn v3_epoch_bump_request_known_bytes() {
    // KIP-360: a transactional producer asking to bump epoch 1 of id 5.
    let req = InitProducerIdRequest {
        transactional_id: Some("tx".into()),
        transaction_timeout_ms: 60_000,
        producer_id: 5,
        producer_epoch: 1,
        tagged_fields: TaggedFields::new(),
    };
    #[rustfmt::skip]
    let want: &[u8] = &[
        3, b't', b'x',          // compact "tx"
        0, 0, 0xea, 0x60,       // timeout 60000
        0, 0, 0, 0, 0, 0, 0, 5, // producer id 5
        0, 1,                   // epoch 1
        0,                      // tags
    ];
    assert_eq!(encode(&req, 3), want);
    assert_eq!(
        InitProducerIdRequest::decode(&mut Bytes::from_static(want), 3).unwrap(),
        req
    );
}

#[test]
fn v2_response_known_bytes() {
    #[rustfmt::skip]
    let want: &[u8] = &[
        0, 0, 0, 0,                                     // throttle 0
        0, 47,                                          // INVALID_PRODUCER_EPOCH
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // producer id -1
        0xff, 0xff,                                     // epoch -1
        0,                                              // tags
    ];
    let resp = InitProducerIdResponse {
        error_code: 47,
        producer_id: -1,
        producer_epoch: -1,
        ..Default::default()
    };
    assert_eq!(encode(&resp, 2), want);
    assert_eq!(
        InitProducerIdResponse::decode(&mut Bytes::from_static(want), 2).unwrap(),
        resp
    );
}

#[test]
fn defaults_ask_for_a_new_id() {
    let req = InitProducerIdRequest::default();
    assert_eq!((req.producer_id, req.producer_epoch), (-1, -1));
    assert_eq!(InitProducerIdResponse::default().producer_id, -1);
}

/// Hand-computed sizes at every version: a field added or dropped at the
/// wrong version changes the size even when encode and decode agree.
#[test]
fn encoded_size_at_every_version() {
    let req = InitProducerIdRequest::default();
    let resp = InitProducerIdResponse::default();
    let req_sizes = [6, 6, 6, 16, 16, 16];
    let resp_sizes = [16, 16, 17, 17, 17, 17];
    for v in 0..=5i16 {
        assert_eq!(encode(&req, v).len(), req_sizes[v as usize], "request v{v}");
        assert_eq!(
            encode(&resp, v).len(),
            resp_sizes[v as usize],
            "response v{v}"
        );
    }
}
