//! SaslHandshake round trips at every supported version, plus hand-computed
//! bytes.

mod common;

use bytes::{Bytes, BytesMut};
use kproducer_protocol::messages::{SaslHandshakeRequest, SaslHandshakeResponse};
use kproducer_protocol::{ApiKey, ErrorCode, Message, encode_request};
use proptest::prelude::*;

fn request(_v: i16) -> impl Strategy<Value = SaslHandshakeRequest> {
    common::string().prop_map(|mechanism| SaslHandshakeRequest { mechanism })
}

fn response(_v: i16) -> impl Strategy<Value = SaslHandshakeResponse> {
    (
        any::<i16>(),
        proptest::collection::vec(common::string(), 0..4),
    )
        .prop_map(|(error_code, mechanisms)| SaslHandshakeResponse {
            error_code,
            mechanisms,
        })
}

roundtrip!(
    sasl_handshake_request,
    SaslHandshakeRequest,
    ApiKey::SaslHandshake.versions(),
    request
);
roundtrip!(
    sasl_handshake_response,
    SaslHandshakeResponse,
    ApiKey::SaslHandshake.versions(),
    response
);

#[test]
fn whole_request_frame_v1() {
    let mut buf = BytesMut::new();
    let req = SaslHandshakeRequest {
        mechanism: "PLAIN".into(),
    };
    encode_request(&mut buf, 1, Some("k"), 1, &req).unwrap();
    let expected: &[u8] = &[
        0, 17, // api key
        0, 1, // api version
        0, 0, 0, 1, // correlation id
        0, 1, b'k', // client id; header v1, never flexible
        0, 5, b'P', b'L', b'A', b'I', b'N', // mechanism
    ];
    assert_eq!(&buf[..], expected);
}

#[test]
fn unsupported_mechanism_response_bytes() {
    let expected: &[u8] = &[
        0, 33, // UNSUPPORTED_SASL_MECHANISM
        0, 0, 0, 2, // two mechanisms (INT32 count)
        0, 5, b'P', b'L', b'A', b'I', b'N', //
        0, 13, b'S', b'C', b'R', b'A', b'M', b'-', b'S', b'H', b'A', b'-', b'2', b'5', b'6',
    ];
    let resp = SaslHandshakeResponse::decode(&mut Bytes::from_static(expected), 0).unwrap();
    assert_eq!(
        ErrorCode::from(resp.error_code),
        ErrorCode::UNSUPPORTED_SASL_MECHANISM
    );
    assert_eq!(resp.mechanisms, ["PLAIN", "SCRAM-SHA-256"]);
    let mut buf = BytesMut::new();
    resp.encode(&mut buf, 0).unwrap();
    assert_eq!(&buf[..], expected);
}

#[test]
fn a_null_mechanism_list_is_an_error() {
    let mut b = Bytes::from_static(&[0, 0, 0xff, 0xff, 0xff, 0xff]);
    assert!(SaslHandshakeResponse::decode(&mut b, 1).is_err());
}
