//! FindCoordinator (key 10), v0–v4: which broker coordinates a group or a
//! transactional id.
//!
//! Field boundaries follow Kafka's `FindCoordinatorRequest.json` and
//! `FindCoordinatorResponse.json`; v3 is the first flexible version, and v4
//! replaces the single key and answer with batches of them.
//!
//! # References
//! - KIP-98 (transaction coordinators, `key_type` v1)
//! - KIP-482 (flexible versions, v3), KIP-699 (batched lookups, v4)

use bytes::{BufMut, Bytes, BytesMut};

use super::tagged_section;
use crate::api_key::ApiKey;
use crate::error::{DecodeError, EncodeError};
use crate::message::{Message, Request};
use crate::primitives::{
    get_array, get_i8, get_i16, get_i32, get_nullable_string, get_string, put_array,
    put_nullable_string, put_string,
};
use crate::tagged::TaggedFields;

/// First version with batched keys and answers (KIP-699).
const BATCHED: i16 = 4;

/// Asks which broker coordinates a consumer group or a transactional id.
///
/// Versions 0–3 carry one `key`; v4 carries `coordinator_keys` instead. The
/// field a version lacks is ignored on encode.
///
/// ```
/// use bytes::BytesMut;
/// use kproducer_protocol::{Message, messages::FindCoordinatorRequest};
///
/// let req = FindCoordinatorRequest {
///     key_type: FindCoordinatorRequest::KEY_TYPE_TRANSACTION,
///     coordinator_keys: vec!["my-txn".into()],
///     ..Default::default()
/// };
/// let mut buf = BytesMut::new();
/// req.encode(&mut buf, 4).unwrap();
/// assert_eq!(FindCoordinatorRequest::decode(&mut buf.freeze(), 4).unwrap(), req);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FindCoordinatorRequest {
    /// The group id or transactional id to look up (v0–v3).
    pub key: String,
    /// What the key names (v1+; v0 means a group):
    /// [`Self::KEY_TYPE_GROUP`] or [`Self::KEY_TYPE_TRANSACTION`].
    pub key_type: i8,
    /// The keys to look up in one request (v4+).
    pub coordinator_keys: Vec<String>,
    /// Unknown tagged fields (v3+).
    pub tagged_fields: TaggedFields,
}

impl FindCoordinatorRequest {
    /// `key_type` for a consumer group.
    pub const KEY_TYPE_GROUP: i8 = 0;
    /// `key_type` for a transactional id.
    pub const KEY_TYPE_TRANSACTION: i8 = 1;
}

impl Message for FindCoordinatorRequest {
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        ApiKey::FindCoordinator.check_encode(version)?;
        let flexible = ApiKey::FindCoordinator.is_flexible(version);
        if version < BATCHED {
            put_string(buf, &self.key, flexible, "key")?;
        }
        if version >= 1 {
            buf.put_i8(self.key_type);
        }
        if version >= BATCHED {
            put_array(
                buf,
                &self.coordinator_keys,
                flexible,
                "coordinator_keys",
                |buf, k| put_string(buf, k, flexible, "coordinator_keys"),
            )?;
        }
        tagged_section::write(buf, &self.tagged_fields, flexible)?;
        Ok(())
    }

    fn decode(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        ApiKey::FindCoordinator.check_decode(version)?;
        let flexible = ApiKey::FindCoordinator.is_flexible(version);
        let mut r = Self::default();
        if version < BATCHED {
            r.key = get_string(buf, flexible, "key")?;
        }
        if version >= 1 {
            r.key_type = get_i8(buf, "key_type")?;
        }
        if version >= BATCHED {
            r.coordinator_keys = get_array(buf, flexible, "coordinator_keys", |buf| {
                get_string(buf, flexible, "coordinator_keys")
            })?;
        }
        r.tagged_fields = tagged_section::read(buf, flexible)?;
        Ok(r)
    }
}

impl Request for FindCoordinatorRequest {
    const API_KEY: ApiKey = ApiKey::FindCoordinator;
    type Response = FindCoordinatorResponse;
}

/// Where the coordinator is.
///
/// Versions 0–3 answer with the top-level `error_code`, `error_message`
/// (v1+), `node_id`, `host` and `port`; v4 answers with `coordinators`, one
/// per requested key, instead. The fields a version lacks are ignored on
/// encode and left at their default on decode.
///
/// ```
/// use bytes::BytesMut;
/// use kproducer_protocol::{Message, messages::{Coordinator, FindCoordinatorResponse}};
///
/// let resp = FindCoordinatorResponse {
///     coordinators: vec![Coordinator {
///         key: "my-txn".into(),
///         node_id: 1,
///         host: "127.0.0.1".into(),
///         port: 9092,
///         ..Default::default()
///     }],
///     ..Default::default()
/// };
/// let mut buf = BytesMut::new();
/// resp.encode(&mut buf, 4).unwrap();
/// assert_eq!(FindCoordinatorResponse::decode(&mut buf.freeze(), 4).unwrap(), resp);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FindCoordinatorResponse {
    /// Throttle time in milliseconds (v1+).
    pub throttle_time_ms: i32,
    /// The error code, 0 for none (v0–v3).
    pub error_code: i16,
    /// The error message, if any (v1–v3).
    pub error_message: Option<String>,
    /// The coordinator's broker id (v0–v3).
    pub node_id: i32,
    /// The coordinator's host name (v0–v3).
    pub host: String,
    /// The coordinator's port (v0–v3).
    pub port: i32,
    /// One answer per requested key (v4+).
    pub coordinators: Vec<Coordinator>,
    /// Unknown tagged fields (v3+).
    pub tagged_fields: TaggedFields,
}

/// One key's coordinator in a v4+ [`FindCoordinatorResponse`] (KIP-699).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Coordinator {
    /// The key that was looked up.
    pub key: String,
    /// The coordinator's broker id.
    pub node_id: i32,
    /// The coordinator's host name.
    pub host: String,
    /// The coordinator's port.
    pub port: i32,
    /// The error code, 0 for none.
    pub error_code: i16,
    /// The error message, if any.
    pub error_message: Option<String>,
    /// Unknown tagged fields.
    pub tagged_fields: TaggedFields,
}

impl Message for FindCoordinatorResponse {
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        ApiKey::FindCoordinator.check_encode(version)?;
        let flexible = ApiKey::FindCoordinator.is_flexible(version);
        if version >= 1 {
            buf.put_i32(self.throttle_time_ms);
        }
        if version < BATCHED {
            buf.put_i16(self.error_code);
            if version >= 1 {
                put_nullable_string(
                    buf,
                    self.error_message.as_deref(),
                    flexible,
                    "error_message",
                )?;
            }
            buf.put_i32(self.node_id);
            put_string(buf, &self.host, flexible, "host")?;
            buf.put_i32(self.port);
        } else {
            put_array(
                buf,
                &self.coordinators,
                flexible,
                "coordinators",
                |buf, c| {
                    put_string(buf, &c.key, flexible, "coordinators.key")?;
                    buf.put_i32(c.node_id);
                    put_string(buf, &c.host, flexible, "coordinators.host")?;
                    buf.put_i32(c.port);
                    buf.put_i16(c.error_code);
                    put_nullable_string(
                        buf,
                        c.error_message.as_deref(),
                        flexible,
                        "coordinators.error_message",
                    )?;
                    c.tagged_fields.encode(buf)
                },
            )?;
        }
        tagged_section::write(buf, &self.tagged_fields, flexible)?;
        Ok(())
    }

    fn decode(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        ApiKey::FindCoordinator.check_decode(version)?;
        let flexible = ApiKey::FindCoordinator.is_flexible(version);
        let mut r = Self::default();
        if version >= 1 {
            r.throttle_time_ms = get_i32(buf, "throttle_time_ms")?;
        }
        if version < BATCHED {
            r.error_code = get_i16(buf, "error_code")?;
            if version >= 1 {
                r.error_message = get_nullable_string(buf, flexible, "error_message")?;
            }
            r.node_id = get_i32(buf, "node_id")?;
            r.host = get_string(buf, flexible, "host")?;
            r.port = get_i32(buf, "port")?;
        } else {
            r.coordinators = get_array(buf, flexible, "coordinators", |buf| {
                Ok(Coordinator {
                    key: get_string(buf, flexible, "coordinators.key")?,
                    node_id: get_i32(buf, "coordinators.node_id")?,
                    host: get_string(buf, flexible, "coordinators.host")?,
                    port: get_i32(buf, "coordinators.port")?,
                    error_code: get_i16(buf, "coordinators.error_code")?,
                    error_message: get_nullable_string(
                        buf,
                        flexible,
                        "coordinators.error_message",
                    )?,
                    tagged_fields: TaggedFields::decode(buf)?,
                })
            })?;
        }
        r.tagged_fields = tagged_section::read(buf, flexible)?;
        Ok(r)
    }
}
