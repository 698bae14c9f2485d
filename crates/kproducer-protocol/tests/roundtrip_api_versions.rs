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
