//! FindCoordinator round trips at every supported version, plus known encodings.

mod common;

use common::encode;

use bytes::Bytes;
use kproducer_protocol::messages::{Coordinator, FindCoordinatorRequest, FindCoordinatorResponse};
use kproducer_protocol::{ApiKey, Message, TaggedFields};
use proptest::prelude::*;

fn request(v: i16) -> impl Strategy<Value = FindCoordinatorRequest> {
    (
        common::string(),
        any::<i8>(),
        proptest::collection::vec(common::string(), 0..4),
        common::tagged(v >= 3),
    )
        .prop_map(
            move |(key, key_type, keys, tagged_fields)| FindCoordinatorRequest {
                key: if v <= 3 { key } else { String::new() },
                key_type: if v >= 1 { key_type } else { 0 },
                coordinator_keys: if v >= 4 { keys } else { Vec::new() },
                tagged_fields,
            },
        )
}

fn coordinator() -> impl Strategy<Value = Coordinator> {
    (
        common::string(),
        any::<i32>(),
        common::string(),
        any::<i32>(),
        any::<i16>(),
        common::nullable_string(),
        common::tagged(true),
    )
        .prop_map(
            |(key, node_id, host, port, error_code, error_message, tagged_fields)| Coordinator {
                key,
                node_id,
                host,
                port,
                error_code,
                error_message,
                tagged_fields,
            },
        )
}

fn response(v: i16) -> impl Strategy<Value = FindCoordinatorResponse> {
    let single = v <= 3;
    (
        any::<i32>(),
        (any::<i16>(), common::nullable_string()),
        (any::<i32>(), common::string(), any::<i32>()),
        proptest::collection::vec(coordinator(), 0..3),
        common::tagged(v >= 3),
    )
        .prop_map(
            move |(throttle, (error_code, error_message), (node_id, host, port), coords, tf)| {
                let mut r = FindCoordinatorResponse {
                    throttle_time_ms: if v >= 1 { throttle } else { 0 },
                    tagged_fields: tf,
                    ..Default::default()
                };
                if single {
                    r.error_code = error_code;
                    r.error_message = if v >= 1 { error_message } else { None };
                    r.node_id = node_id;
                    r.host = host;
                    r.port = port;
                } else {
                    r.coordinators = coords;
                }
                r
            },
        )
}

roundtrip!(
    find_coordinator_request,
    FindCoordinatorRequest,
    ApiKey::FindCoordinator.versions(),
    request
);
roundtrip!(
    find_coordinator_response,
    FindCoordinatorResponse,
    ApiKey::FindCoordinator.versions(),
    response
);

#[test]
fn single_key_request_known_bytes() {
    let req = FindCoordinatorRequest {
        key: "tx".into(),
        key_type: FindCoordinatorRequest::KEY_TYPE_TRANSACTION,
        ..Default::default()
    };
    // v0: the key only (a group lookup).
    assert_eq!(encode(&req, 0), [0, 2, b't', b'x']);
    // v1: key, then key type.
    assert_eq!(encode(&req, 1), [0, 2, b't', b'x', 1]);
    // v3: compact key, key type, tags.
    assert_eq!(encode(&req, 3), [3, b't', b'x', 1, 0]);
}

#[test]
fn batched_request_known_bytes() {
    let req = FindCoordinatorRequest {
        key: "ignored in v4".into(),
        key_type: FindCoordinatorRequest::KEY_TYPE_TRANSACTION,
        coordinator_keys: vec!["tx".into()],
        tagged_fields: TaggedFields::new(),
    };
    // Key type, compact array of one compact string, tags.
    assert_eq!(encode(&req, 4), [1, 2, 3, b't', b'x', 0]);
}

#[test]
fn v0_and_v1_response_known_bytes() {
    let resp = FindCoordinatorResponse {
        throttle_time_ms: 3,
        error_code: 0,
        error_message: None,
        node_id: 1,
        host: "h".into(),
        port: 9092,
        ..Default::default()
    };
    #[rustfmt::skip]
    let v0: &[u8] = &[
        0, 0,                   // error 0
        0, 0, 0, 1,             // node 1
        0, 1, b'h',             // host "h"
        0, 0, 0x23, 0x84,       // port 9092
    ];
    #[rustfmt::skip]
    let v1: &[u8] = &[
        0, 0, 0, 3,             // throttle 3
        0, 0,                   // error 0
        0xff, 0xff,             // error message null
        0, 0, 0, 1,             // node 1
        0, 1, b'h',             // host "h"
        0, 0, 0x23, 0x84,       // port 9092
    ];
    assert_eq!(encode(&resp, 0), v0);
    assert_eq!(encode(&resp, 1), v1);
    assert_eq!(
        FindCoordinatorResponse::decode(&mut Bytes::from_static(v1), 1).unwrap(),
        resp
    );
}

#[test]
fn v4_response_known_bytes() {
    let resp = FindCoordinatorResponse {
        coordinators: vec![Coordinator {
            key: "tx".into(),
            node_id: 1,
            host: "h".into(),
            port: 9092,
            error_code: 15,
            error_message: Some("e".into()),
            tagged_fields: TaggedFields::new(),
        }],
        ..Default::default()
    };
    #[rustfmt::skip]
    let want: &[u8] = &[
        0, 0, 0, 0,             // throttle 0
        2,                      // coordinators: 1
        3, b't', b'x',          //   key "tx"
        0, 0, 0, 1,             //   node 1
        2, b'h',                //   host "h"
        0, 0, 0x23, 0x84,       //   port 9092
        0, 15,                  //   COORDINATOR_NOT_AVAILABLE
        2, b'e',                //   error message "e"
        0,                      //   tags
        0,                      // tags
    ];
    assert_eq!(encode(&resp, 4), want);
    assert_eq!(
        FindCoordinatorResponse::decode(&mut Bytes::from_static(want), 4).unwrap(),
        resp
    );
}

/// Hand-computed sizes at every version: a field added or dropped at the
/// wrong version changes the size even when encode and decode agree.
#[test]
fn encoded_size_at_every_version() {
    let req = FindCoordinatorRequest {
        key: "k".into(),
        coordinator_keys: vec!["k".into()],
        ..Default::default()
    };
    let resp = FindCoordinatorResponse {
        node_id: 1,
        host: "h".into(),
        port: 9092,
        coordinators: vec![Coordinator {
            key: "k".into(),
            host: "h".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let req_sizes = [3, 4, 4, 4, 5];
    let resp_sizes = [13, 19, 19, 18, 22];
    for v in 0..=4i16 {
        assert_eq!(encode(&req, v).len(), req_sizes[v as usize], "request v{v}");
        assert_eq!(
            encode(&resp, v).len(),
            resp_sizes[v as usize],
            "response v{v}"
        );
    }
}
