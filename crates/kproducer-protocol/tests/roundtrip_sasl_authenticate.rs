//! SaslAuthenticate round trips at every supported version, plus
//! hand-computed bytes.

mod common;

use bytes::{Bytes, BytesMut};
use kproducer_protocol::messages::{SaslAuthenticateRequest, SaslAuthenticateResponse};
use kproducer_protocol::{ApiKey, Message, TaggedFields};
use proptest::prelude::*;

fn request(v: i16) -> impl Strategy<Value = SaslAuthenticateRequest> {
    let flexible = ApiKey::SaslAuthenticate.is_flexible(v);
    (common::bytes(), common::tagged(flexible)).prop_map(|(auth_bytes, tagged_fields)| {
        SaslAuthenticateRequest {
            auth_bytes,
            tagged_fields,
        }
    })
}

fn response(v: i16) -> impl Strategy<Value = SaslAuthenticateResponse> {
    let flexible = ApiKey::SaslAuthenticate.is_flexible(v);
    (
        any::<i16>(),
        common::nullable_string(),
        common::bytes(),
        any::<i64>(),
        common::tagged(flexible),
    )
        .prop_map(
            move |(error_code, error_message, auth_bytes, lifetime, tagged_fields)| {
                SaslAuthenticateResponse {
                    error_code,
                    error_message,
                    auth_bytes,
                    session_lifetime_ms: if v >= 1 { lifetime } else { 0 },
                    tagged_fields,
                }
            },
        )
}

roundtrip!(
    sasl_authenticate_request,
    SaslAuthenticateRequest,
    ApiKey::SaslAuthenticate.versions(),
    request
);
roundtrip!(
    sasl_authenticate_response,
    SaslAuthenticateResponse,
    ApiKey::SaslAuthenticate.versions(),
    response
);

#[test]
fn request_bytes_classic_and_compact() {
    let req = SaslAuthenticateRequest {
        auth_bytes: Bytes::from_static(b"\0u\0p"),
        tagged_fields: TaggedFields::new(),
    };
    let mut v0 = BytesMut::new();
    req.encode(&mut v0, 0).unwrap();
    assert_eq!(&v0[..], b"\0\0\0\x04\0u\0p"); // INT32 length
    let mut v2 = BytesMut::new();
    req.encode(&mut v2, 2).unwrap();
    assert_eq!(&v2[..], b"\x05\0u\0p\0"); // length + 1, empty tagged section
}

#[test]
fn failed_authentication_response_bytes() {
    let v1: &[u8] = &[
        0, 58, // SASL_AUTHENTICATION_FAILED
        0, 3, b'b', b'a', b'd', // error_message
        0, 0, 0, 0, // empty auth_bytes
        0, 0, 0, 0, 0, 0, 0x0e, 0x10, // session_lifetime_ms = 3600
    ];
    let resp = SaslAuthenticateResponse::decode(&mut Bytes::from_static(v1), 1).unwrap();
    assert_eq!(resp.error_code, 58);
    assert_eq!(resp.error_message.as_deref(), Some("bad"));
    assert!(resp.auth_bytes.is_empty());
    assert_eq!(resp.session_lifetime_ms, 3600);

    let ok_v2 = SaslAuthenticateResponse {
        auth_bytes: Bytes::from_static(b"s"),
        session_lifetime_ms: 1,
        ..Default::default()
    };
    let mut buf = BytesMut::new();
    ok_v2.encode(&mut buf, 2).unwrap();
    assert_eq!(
        &buf[..],
        &[0, 0, 0, 2, b's', 0, 0, 0, 0, 0, 0, 0, 1, 0] // null message is 0
    );
}

#[test]
fn debug_never_shows_the_token() {
    let req = SaslAuthenticateRequest {
        auth_bytes: Bytes::from_static(b"\0alice\0hunter2"),
        tagged_fields: TaggedFields::new(),
    };
    let shown = format!("{req:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("14 bytes"), "{shown}");
    let resp = SaslAuthenticateResponse {
        auth_bytes: Bytes::from_static(b"server-secret"),
        ..Default::default()
    };
    assert!(!format!("{resp:?}").contains("secret"));
}

/// Hand-computed sizes at every version, from Kafka's
/// `SaslAuthenticateRequest.json` and `SaslAuthenticateResponse.json`.
#[test]
fn encoded_size_at_every_version() {
    let req = SaslAuthenticateRequest {
        auth_bytes: Bytes::from_static(b"ab"),
        ..Default::default()
    };
    let resp = SaslAuthenticateResponse {
        auth_bytes: Bytes::from_static(b"ab"),
        ..Default::default()
    };
    // Request: BYTES 4 + 2; v2 compact (1 + 2) and tagged fields.
    // Response: error_code 2 + null message 2 + bytes 6 = 10 at v0; v1
    // session_lifetime_ms +8; v2 compact.
    for (v, req_size, resp_size) in [(0, 6, 10), (1, 6, 18), (2, 4, 15)] {
        assert_eq!(common::encode(&req, v).len(), req_size, "request v{v}");
        assert_eq!(common::encode(&resp, v).len(), resp_size, "response v{v}");
    }
}
