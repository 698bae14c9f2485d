//! AddPartitionsToTxn (key 24), v0–v3: tells the transaction coordinator
//! which partitions the producer's ongoing transaction will write to.
//!
//! v1 is v0 (the broker answers before throttling); v2 lets the broker answer
//! `PRODUCER_FENCED`; v3 is flexible. v4+ batch several transactions and are
//! meant for brokers only (KIP-890): out of scope here.
//!
//! # References
//! - KIP-98 (exactly-once delivery and transactional messaging)
//! - KIP-588 (`PRODUCER_FENCED`, v2), KIP-482 (flexible versions, v3)

use bytes::{BufMut, Bytes, BytesMut};

use crate::api_key::ApiKey;
use crate::error::{DecodeError, EncodeError};
use crate::message::{Message, Request};
use crate::primitives::{get_array, get_i16, get_i32, get_i64, get_string, put_array, put_string};
use crate::tagged::TaggedFields;

use super::tagged_section;

/// Adds partitions to the producer's ongoing transaction.
///
/// ```
/// use bytes::BytesMut;
/// use kproducer_protocol::{Message, messages::{AddPartitionsToTxnRequest, AddPartitionsToTxnTopic}};
///
/// let req = AddPartitionsToTxnRequest {
///     transactional_id: "orders".into(),
///     producer_id: 7,
///     producer_epoch: 0,
///     topics: vec![AddPartitionsToTxnTopic {
///         name: "payments".into(),
///         partitions: vec![0, 3],
///         ..Default::default()
///     }],
///     ..Default::default()
/// };
/// let mut buf = BytesMut::new();
/// req.encode(&mut buf, 3).unwrap();
/// assert_eq!(AddPartitionsToTxnRequest::decode(&mut buf.freeze(), 3).unwrap(), req);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddPartitionsToTxnRequest {
    /// The transactional id of the transaction.
    pub transactional_id: String,
    /// The producer id in use by the transactional id.
    pub producer_id: i64,
    /// The producer's current epoch.
    pub producer_epoch: i16,
    /// The partitions to add, by topic.
    pub topics: Vec<AddPartitionsToTxnTopic>,
    /// Unknown tagged fields (v3+).
    pub tagged_fields: TaggedFields,
}

/// One topic's partitions in an [`AddPartitionsToTxnRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddPartitionsToTxnTopic {
    /// The topic name.
    pub name: String,
    /// The partition indexes to add to the transaction.
    pub partitions: Vec<i32>,
    /// Unknown tagged fields (v3+).
    pub tagged_fields: TaggedFields,
}

impl Message for AddPartitionsToTxnRequest {
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        ApiKey::AddPartitionsToTxn.check_encode(version)?;
        let flexible = ApiKey::AddPartitionsToTxn.is_flexible(version);
        put_string(buf, &self.transactional_id, flexible, "transactional_id")?;
        buf.put_i64(self.producer_id);
        buf.put_i16(self.producer_epoch);
        put_array(buf, &self.topics, flexible, "topics", |buf, t| {
            put_string(buf, &t.name, flexible, "topic name")?;
            put_array(buf, &t.partitions, flexible, "partitions", |buf, p| {
                buf.put_i32(*p);
                Ok(())
            })?;
            tagged_section::write(buf, &t.tagged_fields, flexible)?;
            Ok(())
        })?;
        tagged_section::write(buf, &self.tagged_fields, flexible)?;
        Ok(())
    }

    fn decode(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        ApiKey::AddPartitionsToTxn.check_decode(version)?;
        let flexible = ApiKey::AddPartitionsToTxn.is_flexible(version);
        let transactional_id = get_string(buf, flexible, "transactional_id")?;
        let producer_id = get_i64(buf, "producer_id")?;
        let producer_epoch = get_i16(buf, "producer_epoch")?;
        let topics = get_array(buf, flexible, "topics", |buf| {
            Ok(AddPartitionsToTxnTopic {
                name: get_string(buf, flexible, "topic name")?,
                partitions: get_array(buf, flexible, "partitions", |buf| {
                    get_i32(buf, "partition")
                })?,
                tagged_fields: tagged_section::read(buf, flexible)?,
            })
        })?;
        Ok(Self {
            transactional_id,
            producer_id,
            producer_epoch,
            topics,
            tagged_fields: tagged_section::read(buf, flexible)?,
        })
    }
}

impl Request for AddPartitionsToTxnRequest {
    const API_KEY: ApiKey = ApiKey::AddPartitionsToTxn;
    type Response = AddPartitionsToTxnResponse;
}

/// The coordinator's answer to [`AddPartitionsToTxnRequest`]: one error code
/// per partition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddPartitionsToTxnResponse {
    /// Throttle time in milliseconds, or 0 when no quota was violated.
    pub throttle_time_ms: i32,
    /// The results, by topic.
    pub results: Vec<AddPartitionsToTxnTopicResult>,
    /// Unknown tagged fields (v3+).
    pub tagged_fields: TaggedFields,
}

/// One topic's results in an [`AddPartitionsToTxnResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddPartitionsToTxnTopicResult {
    /// The topic name.
    pub name: String,
    /// The results, by partition.
    pub results: Vec<AddPartitionsToTxnPartitionResult>,
    /// Unknown tagged fields (v3+).
    pub tagged_fields: TaggedFields,
}

/// One partition's result in an [`AddPartitionsToTxnResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddPartitionsToTxnPartitionResult {
    /// The partition index.
    pub partition_index: i32,
    /// The error code, or 0 (see [`ErrorCode`](crate::ErrorCode)).
    pub error_code: i16,
    /// Unknown tagged fields (v3+).
    pub tagged_fields: TaggedFields,
}

impl Message for AddPartitionsToTxnResponse {
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        ApiKey::AddPartitionsToTxn.check_encode(version)?;
        let flexible = ApiKey::AddPartitionsToTxn.is_flexible(version);
        buf.put_i32(self.throttle_time_ms);
        put_array(buf, &self.results, flexible, "results", |buf, t| {
            put_string(buf, &t.name, flexible, "topic name")?;
            put_array(buf, &t.results, flexible, "partition results", |buf, p| {
                buf.put_i32(p.partition_index);
                buf.put_i16(p.error_code);
                tagged_section::write(buf, &p.tagged_fields, flexible)?;
                Ok(())
            })?;
            tagged_section::write(buf, &t.tagged_fields, flexible)?;
            Ok(())
        })?;
        tagged_section::write(buf, &self.tagged_fields, flexible)?;
        Ok(())
    }

    fn decode(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        ApiKey::AddPartitionsToTxn.check_decode(version)?;
        let flexible = ApiKey::AddPartitionsToTxn.is_flexible(version);
        let throttle_time_ms = get_i32(buf, "throttle_time_ms")?;
        let results = get_array(buf, flexible, "results", |buf| {
            Ok(AddPartitionsToTxnTopicResult {
                name: get_string(buf, flexible, "topic name")?,
                results: get_array(buf, flexible, "partition results", |buf| {
                    Ok(AddPartitionsToTxnPartitionResult {
                        partition_index: get_i32(buf, "partition_index")?,
                        error_code: get_i16(buf, "error_code")?,
                        tagged_fields: tagged_section::read(buf, flexible)?,
                    })
                })?,
                tagged_fields: tagged_section::read(buf, flexible)?,
            })
        })?;
        Ok(Self {
            throttle_time_ms,
            results,
            tagged_fields: tagged_section::read(buf, flexible)?,
        })
    }
}
