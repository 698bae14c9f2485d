//! ApiVersions round trips at every supported version.

mod common;

use kproducer_protocol::ApiKey;
use kproducer_protocol::messages::{ApiVersion, ApiVersionsRequest, ApiVersionsResponse};
use proptest::prelude::*;

fn request(v: i16) -> impl Strategy<Value = ApiVersionsRequest> {
    let flexible = v >= 3;
    (common::string(), common::string(), common::tagged(flexible)).prop_map(
        move |(name, ver, tagged_fields)| {
            if flexible {
                ApiVersionsRequest {
                    client_software_name: name,
                    client_software_version: ver,
                    tagged_fields,
                }
            } else {
                ApiVersionsRequest::default()
            }
        },
    )
}

fn response(v: i16) -> impl Strategy<Value = ApiVersionsResponse> {
    let flexible = v >= 3;
    let api = (
        any::<i16>(),
        any::<i16>(),
        any::<i16>(),
        common::tagged(flexible),
    )
        .prop_map(
            |(api_key, min_version, max_version, tagged_fields)| ApiVersion {
                api_key,
                min_version,
                max_version,
                tagged_fields,
            },
        );
    (
        any::<i16>(),
        proptest::collection::vec(api, 0..5),
        any::<i32>(),
        common::tagged(flexible),
    )
        .prop_map(
            move |(error_code, api_keys, throttle, tagged_fields)| ApiVersionsResponse {
                error_code,
                api_keys,
                throttle_time_ms: if v >= 1 { throttle } else { 0 },
                tagged_fields,
            },
        )
}

roundtrip!(
    api_versions_request,
    ApiVersionsRequest,
    ApiKey::ApiVersions.versions(),
    request
);
roundtrip!(
    api_versions_response,
    ApiVersionsResponse,
    ApiKey::ApiVersions.versions(),
    response
);

/// A broker too old for the request's version answers in v0 with
/// UNSUPPORTED_VERSION and its own ranges; the client reads that answer
/// whatever version it asked in, and garbage still fails.
#[test]
fn an_unsupported_version_answer_in_v0_is_read_at_every_version() {
    use bytes::{BufMut, BytesMut};
    use kproducer_protocol::{DecodeError, Message, decode_response};

    let old_broker = ApiVersionsResponse {
        error_code: 35,
        api_keys: vec![ApiVersion {
            api_key: 18,
            min_version: 0,
            max_version: 2,
            ..Default::default()
        }],
        ..Default::default()
    };
    for asked in 0..=3 {
        let mut frame = BytesMut::new();
        frame.put_i32(11);
        old_broker.encode(&mut frame, 0).unwrap();
        let (header, resp) = decode_response::<ApiVersionsRequest>(frame.freeze(), asked).unwrap();
        assert_eq!(header.correlation_id, 11);
        assert_eq!(resp, old_broker, "asked v{asked}");
    }
    // A v3 answer still decodes as v3 (with its throttle time and tags).
    let current = ApiVersionsResponse {
        throttle_time_ms: 9,
        ..old_broker.clone()
    };
    let mut frame = BytesMut::new();
    frame.put_i32(12);
    current.encode(&mut frame, 3).unwrap();
    let (_, resp) = decode_response::<ApiVersionsRequest>(frame.freeze(), 3).unwrap();
    assert_eq!(resp, current);
    // Neither v3 nor v0: the v3 error is reported (a null compact array at
    // v3; v0 would have said truncated).
    let frame = bytes::Bytes::from_static(&[0, 0, 0, 13, 0, 0, 0]);
    assert!(matches!(
        decode_response::<ApiVersionsRequest>(frame, 3),
        Err(DecodeError::UnexpectedNull { .. })
    ));
}

/// Hand-computed sizes at every version, from Kafka's
/// `ApiVersionsRequest.json` and `ApiVersionsResponse.json`.
#[test]
fn encoded_size_at_every_version() {
    let req = ApiVersionsRequest {
        client_software_name: "k".into(),
        client_software_version: "1".into(),
        ..Default::default()
    };
    let resp = ApiVersionsResponse {
        api_keys: vec![ApiVersion::default()],
        ..Default::default()
    };
    // Request: empty before v3; v3 two compact strings and tagged fields.
    // Response: error_code 2 + array (4 + 6) = 12 at v0; v1 throttle +4;
    // v3 compact, with tagged sections.
    for (v, req_size, resp_size) in [(0, 0, 12), (1, 0, 16), (2, 0, 16), (3, 5, 15)] {
        assert_eq!(common::encode(&req, v).len(), req_size, "request v{v}");
        assert_eq!(common::encode(&resp, v).len(), resp_size, "response v{v}");
    }
}
