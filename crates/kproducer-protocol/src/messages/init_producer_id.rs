//! InitProducerId (key 22), v0–v5: obtain (or bump the epoch of) a producer
//! id for idempotent and transactional producing.
//!
//! Field boundaries follow Kafka's `InitProducerIdRequest.json` and
//! `InitProducerIdResponse.json`; v2 is the first flexible version.
//!
//! # References
//! - KIP-98 (exactly-once: producer ids and epochs)
//! - KIP-360 (v3: `producer_id`/`producer_epoch` in the request, to bump the
//!   epoch after an error instead of losing the id)
//! - KIP-588 (v4: `PRODUCER_FENCED`), KIP-890 (v5: `TRANSACTION_ABORTABLE`)

use bytes::{BufMut, Bytes, BytesMut};

use super::tagged_section;
use crate::api_key::ApiKey;
use crate::error::{DecodeError, EncodeError};
use crate::message::{Message, Request};
use crate::primitives::{get_i16, get_i32, get_i64, get_nullable_string, put_nullable_string};
use crate::tagged::TaggedFields;

/// Asks for a producer id, or (v3+, KIP-360) a new epoch for the current one.
///
/// ```
/// use bytes::BytesMut;
/// use kproducer_protocol::{Message, messages::InitProducerIdRequest};
///
/// // An idempotent, non-transactional producer asking for a fresh id.
/// let req = InitProducerIdRequest { transaction_timeout_ms: 60_000, ..Default::default() };
/// assert_eq!((req.producer_id, req.producer_epoch), (-1, -1));
/// let mut buf = BytesMut::new();
/// req.encode(&mut buf, 4).unwrap();
/// assert_eq!(InitProducerIdRequest::decode(&mut buf.freeze(), 4).unwrap(), req);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitProducerIdRequest {
    /// The transactional id, `None` for an idempotent-only producer.
    pub transactional_id: Option<String>,
    /// How long the coordinator waits before aborting an idle transaction,
    /// in milliseconds; only meaningful with a transactional id.
    pub transaction_timeout_ms: i32,
    /// The current producer id when bumping the epoch, else -1 (v3+).
    pub producer_id: i64,
    /// The current epoch when bumping it, else -1 (v3+).
    pub producer_epoch: i16,
    /// Unknown tagged fields (v2+).
    pub tagged_fields: TaggedFields,
}

impl Default for InitProducerIdRequest {
    /// No transactional id, timeout 0, producer id and epoch -1 (Kafka's
    /// defaults: "give me a new id").
    fn default() -> Self {
        Self {
            transactional_id: None,
            transaction_timeout_ms: 0,
            producer_id: -1,
            producer_epoch: -1,
            tagged_fields: TaggedFields::new(),
        }
    }
}

impl Message for InitProducerIdRequest {
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        ApiKey::InitProducerId.check_encode(version)?;
        let flexible = ApiKey::InitProducerId.is_flexible(version);
        put_nullable_string(
            buf,
            self.transactional_id.as_deref(),
            flexible,
            "transactional_id",
        )?;
        buf.put_i32(self.transaction_timeout_ms);
        if version >= 3 {
            buf.put_i64(self.producer_id);
            buf.put_i16(self.producer_epoch);
        }
        tagged_section::write(buf, &self.tagged_fields, flexible)?;
        Ok(())
    }

    fn decode(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        ApiKey::InitProducerId.check_decode(version)?;
        let flexible = ApiKey::InitProducerId.is_flexible(version);
        let mut r = Self {
            transactional_id: get_nullable_string(buf, flexible, "transactional_id")?,
            transaction_timeout_ms: get_i32(buf, "transaction_timeout_ms")?,
            ..Self::default()
        };
        if version >= 3 {
            r.producer_id = get_i64(buf, "producer_id")?;
            r.producer_epoch = get_i16(buf, "producer_epoch")?;
        }
        r.tagged_fields = tagged_section::read(buf, flexible)?;
        Ok(r)
    }
}

impl Request for InitProducerIdRequest {
    const API_KEY: ApiKey = ApiKey::InitProducerId;
    type Response = InitProducerIdResponse;
}

/// The producer id and epoch the broker assigned.
///
/// ```
/// use bytes::BytesMut;
/// use kproducer_protocol::{Message, messages::InitProducerIdResponse};
///
/// let resp = InitProducerIdResponse { producer_id: 4000, producer_epoch: 0, ..Default::default() };
/// let mut buf = BytesMut::new();
/// resp.encode(&mut buf, 0).unwrap();
/// assert_eq!(&buf[..], &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0f, 0xa0, 0, 0]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitProducerIdResponse {
    /// Throttle time in milliseconds.
    pub throttle_time_ms: i32,
    /// The error code, 0 for none.
    pub error_code: i16,
    /// The producer id, -1 on error.
    pub producer_id: i64,
    /// The epoch that goes with `producer_id`.
    pub producer_epoch: i16,
    /// Unknown tagged fields (v2+).
    pub tagged_fields: TaggedFields,
}

impl Default for InitProducerIdResponse {
    /// Producer id -1 (Kafka's default), everything else zero.
    fn default() -> Self {
        Self {
            throttle_time_ms: 0,
            error_code: 0,
            producer_id: -1,
            producer_epoch: 0,
            tagged_fields: TaggedFields::new(),
        }
    }
}

impl Message for InitProducerIdResponse {
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        ApiKey::InitProducerId.check_encode(version)?;
        buf.put_i32(self.throttle_time_ms);
        buf.put_i16(self.error_code);
        buf.put_i64(self.producer_id);
        buf.put_i16(self.producer_epoch);
        tagged_section::write(
            buf,
            &self.tagged_fields,
            ApiKey::InitProducerId.is_flexible(version),
        )
    }

    fn decode(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        ApiKey::InitProducerId.check_decode(version)?;
        Ok(Self {
            throttle_time_ms: get_i32(buf, "throttle_time_ms")?,
            error_code: get_i16(buf, "error_code")?,
            producer_id: get_i64(buf, "producer_id")?,
            producer_epoch: get_i16(buf, "producer_epoch")?,
            tagged_fields: tagged_section::read(buf, ApiKey::InitProducerId.is_flexible(version))?,
        })
    }
}
