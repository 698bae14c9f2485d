//! ApiVersions (18): lists the APIs and versions this broker serves.

use bytes::BytesMut;
use kproducer_protocol::messages::{ApiVersion, ApiVersionsRequest, ApiVersionsResponse};
use kproducer_protocol::{ApiKey, EncodeError, ErrorCode, RequestHeader};

use super::{Handled, InjectedErrors, SERVED};
use crate::server::response_frame;

/// Kafka's rule for the v3+ client software name and version (KIP-511):
/// non-empty, `[a-zA-Z0-9.-]`, starting and ending with a letter or digit.
fn is_valid_software_field(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-'))
        }
        _ => false,
    }
}

fn supported() -> Vec<ApiVersion> {
    SERVED
        .iter()
        .map(|api| {
            let r = api.versions();
            ApiVersion {
                api_key: api.as_i16(),
                min_version: r.min,
                max_version: r.max,
                tagged_fields: Default::default(),
            }
        })
        .collect()
}

/// Answers an ApiVersions request the broker could decode. From v3 on, an
/// invalid client software name or version is answered with 42
/// `INVALID_REQUEST`, as Kafka does.
pub(crate) fn handle(
    header: &RequestHeader,
    request: &ApiVersionsRequest,
    errors: &InjectedErrors,
) -> Handled {
    let invalid = header.api_version >= 3
        && !(is_valid_software_field(&request.client_software_name)
            && is_valid_software_field(&request.client_software_version));
    let error_code = match errors.top_level() {
        Some(code) => code.as_i16(),
        None if invalid => ErrorCode::INVALID_REQUEST.as_i16(),
        None => 0,
    };
    let body = ApiVersionsResponse {
        error_code,
        api_keys: supported(),
        ..Default::default()
    };
    Handled::answer(response_frame(
        ApiKey::ApiVersions,
        header.api_version,
        header.correlation_id,
        &body,
    ))
}

/// What Kafka answers to an ApiVersions version it does not know: a v0
/// response with 35 and the supported ranges, so the client can retry with
/// a version both sides speak (KIP-511).
pub(crate) fn unsupported_version_frame(correlation_id: i32) -> Result<BytesMut, EncodeError> {
    let body = ApiVersionsResponse {
        error_code: ErrorCode::UNSUPPORTED_VERSION.as_i16(),
        api_keys: supported(),
        ..Default::default()
    };
    response_frame(ApiKey::ApiVersions, 0, correlation_id, &body)
}
