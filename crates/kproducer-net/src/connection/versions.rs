//! ApiVersions negotiation: which version of each API to use with a broker.
//!
//! On connect the client sends ApiVersions at its highest version (v3). A
//! broker that does not know that version answers `UNSUPPORTED_VERSION` in a
//! v0 response listing what it supports; the client then retries at the
//! highest ApiVersions version both sides support (v0 if the broker does not
//! say). Each API's version is then the highest both sides support.
//!
//! # References
//! - KIP-35 (ApiVersions), KIP-511 (v3: client software name and version,
//!   the v0 fallback answer)

use bytes::{Bytes, BytesMut};
use kproducer_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};
use kproducer_protocol::primitives::get_i16;
use kproducer_protocol::{ApiKey, Message, VersionRange, ensure_consumed};

use super::error::ConnectionError;
use super::link::{Link, RawRequest};

/// Kafka's `UNSUPPORTED_VERSION` error code.
const UNSUPPORTED_VERSION: i16 = 35;

/// The version of every API to use on one connection.
///
/// ```
/// use kproducer_net::NegotiatedVersions;
/// use kproducer_protocol::{ApiKey, messages::{ApiVersion, ApiVersionsResponse}};
///
/// let broker = ApiVersionsResponse {
///     api_keys: vec![ApiVersion { api_key: 0, min_version: 0, max_version: 9, ..Default::default() }],
///     ..Default::default()
/// };
/// let v = NegotiatedVersions::from_response(&broker);
/// assert_eq!(v.version(ApiKey::Produce), Some(9));
/// assert_eq!(v.version(ApiKey::Metadata), None); // the broker did not list it
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedVersions {
    /// Per API: the broker's range (if known) and the version chosen.
    table: Vec<(ApiKey, Option<VersionRange>, Option<i16>)>,
}

impl NegotiatedVersions {
    /// Versions chosen from a broker's ApiVersions answer.
    pub fn from_response(response: &ApiVersionsResponse) -> Self {
        let table = ApiKey::ALL
            .iter()
            .map(|&api| {
                let broker = response.range_for(api);
                let chosen = broker.and_then(|b| api.versions().highest_common(b));
                (api, broker, chosen)
            })
            .collect();
        Self { table }
    }

    /// Every API at this client's highest version, without asking the
    /// broker (for connections configured not to negotiate).
    pub fn client_max() -> Self {
        let table = ApiKey::ALL
            .iter()
            .map(|&api| (api, None, Some(api.versions().max)))
            .collect();
        Self { table }
    }

    /// The version to use for `api`, or `None` when no version is supported
    /// by both sides.
    pub fn version(&self, api: ApiKey) -> Option<i16> {
        self.table
            .iter()
            .find(|(k, _, _)| *k == api)
            .and_then(|(_, _, v)| *v)
    }

    /// The broker's advertised range for `api`, when negotiated.
    pub fn broker_range(&self, api: ApiKey) -> Option<VersionRange> {
        self.table
            .iter()
            .find(|(k, _, _)| *k == api)
            .and_then(|(_, r, _)| *r)
    }
}

/// Runs the ApiVersions handshake on a fresh link.
pub(crate) async fn negotiate(link: &Link) -> Result<NegotiatedVersions, ConnectionError> {
    let request = ApiVersionsRequest {
        client_software_name: "kproducer".to_owned(),
        client_software_version: env!("CARGO_PKG_VERSION").to_owned(),
        ..Default::default()
    };
    let ours = ApiKey::ApiVersions.versions();
    let mut version = ours.max;
    loop {
        let mut body = BytesMut::new();
        request
            .encode(&mut body, version)
            .map_err(|source| ConnectionError::Encode {
                api: ApiKey::ApiVersions,
                version,
                source,
            })?;
        let answer = link
            .submit(RawRequest::new(ApiKey::ApiVersions, version, body.freeze()))
            .await?
            .unwrap_or_default();
        // The error code leads the body in every version; on
        // UNSUPPORTED_VERSION the broker answers in v0 whatever was asked.
        let error_code = get_i16(&mut answer.clone(), "error_code")
            .map_err(|source| decode_failure(link, version, source))?;
        if error_code == UNSUPPORTED_VERSION && version > ours.min {
            let v0 = decode(link, answer, ours.min)?;
            let retry = v0
                .range_for(ApiKey::ApiVersions)
                .and_then(|r| ours.highest_common(r))
                .filter(|&v| v < version)
                .unwrap_or(ours.min);
            tracing::debug!(broker = %link.shared.broker, from = version, to = retry,
                "broker does not support this ApiVersions version; retrying");
            version = retry;
            continue;
        }
        let response = decode(link, answer, version)?;
        if response.error_code != 0 {
            return Err(ConnectionError::Handshake {
                broker: link.shared.broker.clone(),
                error_code: response.error_code,
            });
        }
        return Ok(NegotiatedVersions::from_response(&response));
    }
}

fn decode_failure(
    link: &Link,
    version: i16,
    source: kproducer_protocol::DecodeError,
) -> ConnectionError {
    // A response we cannot read means the stream is not what we think it
    // is: close the connection rather than keep using it.
    link.shared
        .abort(super::error::CloseReason::UndecodableResponse(
            source.clone(),
        ));
    ConnectionError::Decode {
        broker: link.shared.broker.clone(),
        api: ApiKey::ApiVersions,
        version,
        source,
    }
}

fn decode(
    link: &Link,
    mut body: Bytes,
    version: i16,
) -> Result<ApiVersionsResponse, ConnectionError> {
    ApiVersionsResponse::decode(&mut body, version)
        .and_then(|r| ensure_consumed(&body, "ApiVersionsResponse").map(|()| r))
        .map_err(|source| decode_failure(link, version, source))
}
