//! ApiVersions (key 18), v0–v3.
//!
//! # References
//! - KIP-35 (ApiVersions), KIP-511 (client software name and version, v3)

use bytes::{BufMut, Bytes, BytesMut};

use super::tagged_section;
use crate::api_key::ApiKey;
use crate::error::{DecodeError, EncodeError};
use crate::message::{Message, Request, ensure_consumed};
use crate::primitives::{get_array, get_i16, get_i32, get_string, put_array, put_string};
use crate::tagged::TaggedFields;

/// Asks a broker which API versions it supports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApiVersionsRequest {
    /// The client library's name (v3+).
    pub client_software_name: String,
    /// The client library's version (v3+).
    pub client_software_version: String,
    /// Unknown tagged fields (v3+).
    pub tagged_fields: TaggedFields,
}

impl Message for ApiVersionsRequest {
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        ApiKey::ApiVersions.check_encode(version)?;
        if version >= 3 {
            put_string(
                buf,
                &self.client_software_name,
                true,
                "client_software_name",
            )?;
            put_string(
                buf,
                &self.client_software_version,
                true,
                "client_software_version",
            )?;
            self.tagged_fields.encode(buf)?;
        }
        Ok(())
    }

    fn decode(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        ApiKey::ApiVersions.check_decode(version)?;
        let mut r = Self::default();
        if version >= 3 {
            r.client_software_name = get_string(buf, true, "client_software_name")?;
            r.client_software_version = get_string(buf, true, "client_software_version")?;
            r.tagged_fields = TaggedFields::decode(buf)?;
        }
        Ok(r)
    }
}

impl Request for ApiVersionsRequest {
    const API_KEY: ApiKey = ApiKey::ApiVersions;
    type Response = ApiVersionsResponse;

    /// A broker that does not support the request's version answers in v0
    /// with `UNSUPPORTED_VERSION` (35) and the versions it does support, so a
    /// body that does not decode at `version` is read again as v0, as Kafka's
    /// Java client does (`ApiVersionsResponse.parse`). When neither reads,
    /// the error is the one at `version`.
    ///
    /// ```
    /// use bytes::{BufMut, BytesMut};
    /// use kproducer_protocol::{Message, decode_response, messages::{ApiVersionsRequest, ApiVersionsResponse}};
    ///
    /// // An old broker's answer to a v3 request: header v0, then a v0 body.
    /// let mut frame = BytesMut::new();
    /// frame.put_i32(7); // correlation id
    /// ApiVersionsResponse { error_code: 35, ..Default::default() }.encode(&mut frame, 0).unwrap();
    /// let (_, resp) = decode_response::<ApiVersionsRequest>(frame.freeze(), 3).unwrap();
    /// assert_eq!(resp.error_code, 35);
    /// ```
    fn decode_response_body(
        buf: &mut Bytes,
        version: i16,
    ) -> Result<ApiVersionsResponse, DecodeError> {
        let whole = |buf: &mut Bytes, version| {
            let body = ApiVersionsResponse::decode(buf, version)?;
            ensure_consumed(buf, ApiKey::ApiVersions.name())?;
            Ok(body)
        };
        let mut at_version = buf.clone();
        match whole(&mut at_version, version) {
            Ok(body) => {
                *buf = at_version;
                Ok(body)
            }
            Err(e) if version > 0 => {
                let mut at_v0 = buf.clone();
                let body = whole(&mut at_v0, 0).map_err(|_| e)?;
                *buf = at_v0;
                Ok(body)
            }
            Err(e) => Err(e),
        }
    }
}

/// One API's supported version range, as the broker reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApiVersion {
    /// The API key (raw: brokers list APIs this crate does not know).
    pub api_key: i16,
    /// Lowest version the broker supports.
    pub min_version: i16,
    /// Highest version the broker supports.
    pub max_version: i16,
    /// Unknown tagged fields (v3+).
    pub tagged_fields: TaggedFields,
}

/// The broker's supported API versions.
///
/// ```
/// use kproducer_protocol::{ApiKey, VersionRange};
/// use kproducer_protocol::messages::{ApiVersion, ApiVersionsResponse};
///
/// let resp = ApiVersionsResponse {
///     api_keys: vec![ApiVersion { api_key: 0, min_version: 0, max_version: 9, ..Default::default() }],
///     ..Default::default()
/// };
/// let broker = resp.range_for(ApiKey::Produce).unwrap();
/// assert_eq!(ApiKey::Produce.versions().highest_common(broker), Some(9));
/// assert_eq!(resp.range_for(ApiKey::Fetch), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApiVersionsResponse {
    /// 0, or 35 `UNSUPPORTED_VERSION` when the request's version is too new
    /// (the broker then answers in v0 and lists what it supports).
    pub error_code: i16,
    /// The APIs the broker supports.
    pub api_keys: Vec<ApiVersion>,
    /// Throttle time in milliseconds (v1+).
    pub throttle_time_ms: i32,
    /// Tagged fields (v3+): supported and finalized features and the
    /// ZooKeeper-migration flag are kept here verbatim.
    pub tagged_fields: TaggedFields,
}

impl ApiVersionsResponse {
    /// The broker's range for `key`, if it lists it.
    pub fn range_for(&self, key: ApiKey) -> Option<crate::VersionRange> {
        self.api_keys
            .iter()
            .find(|a| a.api_key == key.as_i16())
            .map(|a| crate::VersionRange {
                min: a.min_version,
                max: a.max_version,
            })
    }
}

impl Message for ApiVersionsResponse {
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        ApiKey::ApiVersions.check_encode(version)?;
        let flexible = ApiKey::ApiVersions.is_flexible(version);
        buf.put_i16(self.error_code);
        put_array(buf, &self.api_keys, flexible, "api_keys", |buf, a| {
            buf.put_i16(a.api_key);
            buf.put_i16(a.min_version);
            buf.put_i16(a.max_version);
            tagged_section::write(buf, &a.tagged_fields, flexible)?;
            Ok(())
        })?;
        if version >= 1 {
            buf.put_i32(self.throttle_time_ms);
        }
        tagged_section::write(buf, &self.tagged_fields, flexible)?;
        Ok(())
    }

    fn decode(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        ApiKey::ApiVersions.check_decode(version)?;
        let flexible = ApiKey::ApiVersions.is_flexible(version);
        let error_code = get_i16(buf, "error_code")?;
        let api_keys = get_array(buf, flexible, "api_keys", |buf| {
            Ok(ApiVersion {
                api_key: get_i16(buf, "api_key")?,
                min_version: get_i16(buf, "min_version")?,
                max_version: get_i16(buf, "max_version")?,
                tagged_fields: tagged_section::read(buf, flexible)?,
            })
        })?;
        let throttle_time_ms = if version >= 1 {
            get_i32(buf, "throttle_time_ms")?
        } else {
            0
        };
        let tagged_fields = tagged_section::read(buf, flexible)?;
        Ok(Self {
            error_code,
            api_keys,
            throttle_time_ms,
            tagged_fields,
        })
    }
}
