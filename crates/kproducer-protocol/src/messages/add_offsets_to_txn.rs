//! AddOffsetsToTxn (key 25), v0–v3: adds a consumer group to the producer's
//! ongoing transaction, so that the offsets the producer then commits for
//! the group (TxnOffsetCommit, sent to the group coordinator) commit or
//! abort with the transaction.
//!
//! v1 is v0 (the broker answers before throttling); v2 lets the broker answer
//! `PRODUCER_FENCED`; v3 is flexible. v4 (KIP-890) adds the
//! `TRANSACTION_ABORTABLE` answer that goes with transactions v2: out of
//! scope, as for AddPartitionsToTxn and EndTxn.
//!
//! # References
//! - KIP-98 (exactly-once delivery and transactional messaging)
//! - KIP-588 (`PRODUCER_FENCED`, v2), KIP-482 (flexible versions, v3)

use bytes::{BufMut, Bytes, BytesMut};

use crate::api_key::ApiKey;
use crate::error::{DecodeError, EncodeError};
use crate::message::{Message, Request};
use crate::primitives::{get_i16, get_i32, get_i64, get_string, put_string};
use crate::tagged::TaggedFields;

use super::tagged_section;

/// Asks the transaction coordinator to add a consumer group's offsets to
/// the producer's ongoing transaction.
///
/// ```
/// use bytes::BytesMut;
/// use kproducer_protocol::{Message, messages::AddOffsetsToTxnRequest};
///
/// let req = AddOffsetsToTxnRequest {
///     transactional_id: "orders".into(),
///     producer_id: 7,
///     producer_epoch: 1,
///     group_id: "order-processors".into(),
///     ..Default::default()
/// };
/// let mut buf = BytesMut::new();
/// req.encode(&mut buf, 3).unwrap();
/// assert_eq!(AddOffsetsToTxnRequest::decode(&mut buf.freeze(), 3).unwrap(), req);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddOffsetsToTxnRequest {
    /// The transactional id of the transaction.
    pub transactional_id: String,
    /// The producer id in use by the transactional id.
    pub producer_id: i64,
    /// The producer's current epoch.
    pub producer_epoch: i16,
    /// The consumer group whose offsets join the transaction.
    pub group_id: String,
    /// Unknown tagged fields (v3+).
    pub tagged_fields: TaggedFields,
}

impl Message for AddOffsetsToTxnRequest {
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        ApiKey::AddOffsetsToTxn.check_encode(version)?;
        let flexible = ApiKey::AddOffsetsToTxn.is_flexible(version);
        put_string(buf, &self.transactional_id, flexible, "transactional_id")?;
        buf.put_i64(self.producer_id);
        buf.put_i16(self.producer_epoch);
        put_string(buf, &self.group_id, flexible, "group_id")?;
        tagged_section::write(buf, &self.tagged_fields, flexible)?;
        Ok(())
    }

    fn decode(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        ApiKey::AddOffsetsToTxn.check_decode(version)?;
        let flexible = ApiKey::AddOffsetsToTxn.is_flexible(version);
        Ok(Self {
            transactional_id: get_string(buf, flexible, "transactional_id")?,
            producer_id: get_i64(buf, "producer_id")?,
            producer_epoch: get_i16(buf, "producer_epoch")?,
            group_id: get_string(buf, flexible, "group_id")?,
            tagged_fields: tagged_section::read(buf, flexible)?,
        })
    }
}

impl Request for AddOffsetsToTxnRequest {
    const API_KEY: ApiKey = ApiKey::AddOffsetsToTxn;
    type Response = AddOffsetsToTxnResponse;
}

/// The coordinator's answer to [`AddOffsetsToTxnRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddOffsetsToTxnResponse {
    /// Throttle time in milliseconds, or 0 when no quota was violated.
    pub throttle_time_ms: i32,
    /// The error code, or 0 (see [`ErrorCode`](crate::ErrorCode)).
    pub error_code: i16,
    /// Unknown tagged fields (v3+).
    pub tagged_fields: TaggedFields,
}

impl Message for AddOffsetsToTxnResponse {
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        ApiKey::AddOffsetsToTxn.check_encode(version)?;
        buf.put_i32(self.throttle_time_ms);
        buf.put_i16(self.error_code);
        tagged_section::write(
            buf,
            &self.tagged_fields,
            ApiKey::AddOffsetsToTxn.is_flexible(version),
        )?;
        Ok(())
    }

    fn decode(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        ApiKey::AddOffsetsToTxn.check_decode(version)?;
        Ok(Self {
            throttle_time_ms: get_i32(buf, "throttle_time_ms")?,
            error_code: get_i16(buf, "error_code")?,
            tagged_fields: tagged_section::read(buf, ApiKey::AddOffsetsToTxn.is_flexible(version))?,
        })
    }
}
