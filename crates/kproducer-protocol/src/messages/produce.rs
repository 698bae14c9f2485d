//! Produce (key 0), v3–v11: write record batches to partition leaders.
//!
//! Field boundaries follow Kafka's `ProduceRequest.json` and
//! `ProduceResponse.json`; v9 is the first flexible version. v3 is the first
//! version that carries record batch v2 (and so idempotence), which is why
//! nothing older is supported.
//!
//! # References
//! - KIP-98 (transactional id, v3), KIP-467 (record errors, v8)
//! - KIP-482 (flexible versions, v9)
//! - KIP-951 (`current_leader` and `node_endpoints` tagged fields, v10)
//! - KIP-890 (`TRANSACTION_ABORTABLE`, v11; no wire change)

use bytes::{BufMut, Bytes, BytesMut};

use super::tagged_section;
use crate::api_key::ApiKey;
use crate::error::{DecodeError, EncodeError};
use crate::message::{Message, Request, ensure_consumed};
use crate::primitives::{
    get_array, get_i16, get_i32, get_i64, get_nullable_bytes, get_nullable_string, get_string,
    put_array, put_nullable_bytes, put_nullable_string, put_string,
};
use crate::tagged::{TaggedFields, encode_tagged_with, take_tag};

/// First version with the KIP-951 tagged fields.
const LEADER_HINTS: i16 = 10;
/// Tag of `current_leader` (partition level) and `node_endpoints` (top level).
const HINT_TAG: u32 = 0;

/// Writes record batches to partitions.
///
/// ```
/// use bytes::{Bytes, BytesMut};
/// use kproducer_protocol::{Message, messages::{PartitionProduceData, ProduceRequest, TopicProduceData}};
///
/// let req = ProduceRequest {
///     acks: -1,
///     timeout_ms: 30_000,
///     topic_data: vec![TopicProduceData {
///         name: "orders".into(),
///         partition_data: vec![PartitionProduceData {
///             index: 0,
///             records: Some(Bytes::from_static(b"<a record batch>")),
///             ..Default::default()
///         }],
///         ..Default::default()
///     }],
///     ..Default::default()
/// };
/// let mut buf = BytesMut::new();
/// req.encode(&mut buf, 11).unwrap();
/// assert_eq!(ProduceRequest::decode(&mut buf.freeze(), 11).unwrap(), req);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProduceRequest {
    /// The transactional id, `None` for a non-transactional producer.
    pub transactional_id: Option<String>,
    /// Acknowledgements required: 0 none, 1 the leader, -1 every in-sync replica.
    pub acks: i16,
    /// How long the broker may wait for replication, in milliseconds.
    pub timeout_ms: i32,
    /// Each topic to write to.
    pub topic_data: Vec<TopicProduceData>,
    /// Unknown tagged fields (v9+).
    pub tagged_fields: TaggedFields,
}

/// One topic in a [`ProduceRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TopicProduceData {
    /// The topic name.
    pub name: String,
    /// Each partition to write to.
    pub partition_data: Vec<PartitionProduceData>,
    /// Unknown tagged fields (v9+).
    pub tagged_fields: TaggedFields,
}

/// One partition in a [`TopicProduceData`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PartitionProduceData {
    /// The partition index.
    pub index: i32,
    /// The encoded record batches (`RECORDS`), or `None`. Decoding returns a
    /// slice of the input buffer, without copying.
    pub records: Option<Bytes>,
    /// Unknown tagged fields (v9+).
    pub tagged_fields: TaggedFields,
}

impl Message for ProduceRequest {
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        ApiKey::Produce.check_encode(version)?;
        let flexible = ApiKey::Produce.is_flexible(version);
        put_nullable_string(
            buf,
            self.transactional_id.as_deref(),
            flexible,
            "transactional_id",
        )?;
        buf.put_i16(self.acks);
        buf.put_i32(self.timeout_ms);
        put_array(buf, &self.topic_data, flexible, "topic_data", |buf, t| {
            put_string(buf, &t.name, flexible, "topic_data.name")?;
            put_array(
                buf,
                &t.partition_data,
                flexible,
                "partition_data",
                |buf, p| {
                    buf.put_i32(p.index);
                    put_nullable_bytes(buf, p.records.as_deref(), flexible, "records")?;
                    tagged_section::write(buf, &p.tagged_fields, flexible)?;
                    Ok(())
                },
            )?;
            tagged_section::write(buf, &t.tagged_fields, flexible)?;
            Ok(())
        })?;
        tagged_section::write(buf, &self.tagged_fields, flexible)?;
        Ok(())
    }

    fn decode(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        ApiKey::Produce.check_decode(version)?;
        let flexible = ApiKey::Produce.is_flexible(version);
        let transactional_id = get_nullable_string(buf, flexible, "transactional_id")?;
        let acks = get_i16(buf, "acks")?;
        let timeout_ms = get_i32(buf, "timeout_ms")?;
        let topic_data = get_array(buf, flexible, "topic_data", |buf| {
            let name = get_string(buf, flexible, "topic_data.name")?;
            let partition_data = get_array(buf, flexible, "partition_data", |buf| {
                Ok(PartitionProduceData {
                    index: get_i32(buf, "partition_data.index")?,
                    records: get_nullable_bytes(buf, flexible, "records")?,
                    tagged_fields: tagged_section::read(buf, flexible)?,
                })
            })?;
            Ok(TopicProduceData {
                name,
                partition_data,
                tagged_fields: tagged_section::read(buf, flexible)?,
            })
        })?;
        Ok(Self {
            transactional_id,
            acks,
            timeout_ms,
            topic_data,
            tagged_fields: tagged_section::read(buf, flexible)?,
        })
    }
}

impl Request for ProduceRequest {
    const API_KEY: ApiKey = ApiKey::Produce;
    type Response = ProduceResponse;
}

/// The outcome of a [`ProduceRequest`], per partition.
///
/// ```
/// use bytes::BytesMut;
/// use kproducer_protocol::{Message, messages::{
///     LeaderIdAndEpoch, PartitionProduceResponse, ProduceResponse, TopicProduceResponse,
/// }};
///
/// let resp = ProduceResponse {
///     responses: vec![TopicProduceResponse {
///         name: "orders".into(),
///         partition_responses: vec![PartitionProduceResponse {
///             index: 0,
///             error_code: 6, // NOT_LEADER_OR_FOLLOWER
///             current_leader: Some(LeaderIdAndEpoch { leader_id: 2, leader_epoch: 7, ..Default::default() }),
///             ..Default::default()
///         }],
///         ..Default::default()
///     }],
///     ..Default::default()
/// };
/// let mut buf = BytesMut::new();
/// resp.encode(&mut buf, 10).unwrap();
/// assert_eq!(ProduceResponse::decode(&mut buf.freeze(), 10).unwrap(), resp);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProduceResponse {
    /// Each topic's results.
    pub responses: Vec<TopicProduceResponse>,
    /// Throttle time in milliseconds.
    pub throttle_time_ms: i32,
    /// Endpoints of the new leaders named in `current_leader` (v10+, tagged
    /// field 0; KIP-951), so the producer can redirect without a Metadata
    /// round trip. `None` when absent.
    pub node_endpoints: Option<Vec<NodeEndpoint>>,
    /// Other tagged fields (v9+).
    pub tagged_fields: TaggedFields,
}

/// One topic in a [`ProduceResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TopicProduceResponse {
    /// The topic name.
    pub name: String,
    /// Each partition's result.
    pub partition_responses: Vec<PartitionProduceResponse>,
    /// Unknown tagged fields (v9+).
    pub tagged_fields: TaggedFields,
}

/// One partition's result in a [`TopicProduceResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionProduceResponse {
    /// The partition index.
    pub index: i32,
    /// The error code, 0 for none.
    pub error_code: i16,
    /// The offset given to the first record of the batch.
    pub base_offset: i64,
    /// The broker's append time when the topic uses `LogAppendTime`, else -1.
    pub log_append_time_ms: i64,
    /// The partition's log start offset, -1 if unknown (v5+).
    pub log_start_offset: i64,
    /// The records that made the broker drop the batch (v8+; KIP-467).
    pub record_errors: Vec<BatchIndexAndErrorMessage>,
    /// A summary of why the batch was dropped (v8+).
    pub error_message: Option<String>,
    /// The partition's current leader when this broker is not it (v10+,
    /// tagged field 0; KIP-951). `None` when absent.
    pub current_leader: Option<LeaderIdAndEpoch>,
    /// Other tagged fields (v9+).
    pub tagged_fields: TaggedFields,
}

impl Default for PartitionProduceResponse {
    /// Offsets and times -1 where Kafka defaults them so, the rest empty.
    fn default() -> Self {
        Self {
            index: 0,
            error_code: 0,
            base_offset: 0,
            log_append_time_ms: -1,
            log_start_offset: -1,
            record_errors: Vec::new(),
            error_message: None,
            current_leader: None,
            tagged_fields: TaggedFields::new(),
        }
    }
}

/// A record that caused its batch to be dropped (KIP-467).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BatchIndexAndErrorMessage {
    /// The record's index within the batch.
    pub batch_index: i32,
    /// What was wrong with it, if the broker says.
    pub batch_index_error_message: Option<String>,
    /// Unknown tagged fields (v9+).
    pub tagged_fields: TaggedFields,
}

/// A partition's current leader, as a produce response reports it (KIP-951).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderIdAndEpoch {
    /// The leader's broker id, -1 if unknown.
    pub leader_id: i32,
    /// The latest known leader epoch, -1 if unknown.
    pub leader_epoch: i32,
    /// Unknown tagged fields.
    pub tagged_fields: TaggedFields,
}

impl Default for LeaderIdAndEpoch {
    /// Leader and epoch unknown (-1), Kafka's defaults.
    fn default() -> Self {
        Self {
            leader_id: -1,
            leader_epoch: -1,
            tagged_fields: TaggedFields::new(),
        }
    }
}

/// A broker endpoint in a produce response (KIP-951).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeEndpoint {
    /// The broker id.
    pub node_id: i32,
    /// The broker's host name.
    pub host: String,
    /// The broker's port.
    pub port: i32,
    /// The broker's rack, `None` if unassigned.
    pub rack: Option<String>,
    /// Unknown tagged fields.
    pub tagged_fields: TaggedFields,
}

fn encode_current_leader(l: &LeaderIdAndEpoch) -> Result<Bytes, EncodeError> {
    let mut b = BytesMut::with_capacity(9);
    b.put_i32(l.leader_id);
    b.put_i32(l.leader_epoch);
    l.tagged_fields.encode(&mut b)?;
    Ok(b.freeze())
}

fn decode_current_leader(mut raw: Bytes) -> Result<LeaderIdAndEpoch, DecodeError> {
    let l = LeaderIdAndEpoch {
        leader_id: get_i32(&mut raw, "current_leader.leader_id")?,
        leader_epoch: get_i32(&mut raw, "current_leader.leader_epoch")?,
        tagged_fields: TaggedFields::decode(&mut raw)?,
    };
    ensure_consumed(&raw, "current_leader")?;
    Ok(l)
}

fn encode_node_endpoints(nodes: &[NodeEndpoint]) -> Result<Bytes, EncodeError> {
    let mut b = BytesMut::new();
    put_array(&mut b, nodes, true, "node_endpoints", |buf, n| {
        buf.put_i32(n.node_id);
        put_string(buf, &n.host, true, "node_endpoints.host")?;
        buf.put_i32(n.port);
        put_nullable_string(buf, n.rack.as_deref(), true, "node_endpoints.rack")?;
        n.tagged_fields.encode(buf)
    })?;
    Ok(b.freeze())
}

fn decode_node_endpoints(mut raw: Bytes) -> Result<Vec<NodeEndpoint>, DecodeError> {
    let nodes = get_array(&mut raw, true, "node_endpoints", |buf| {
        Ok(NodeEndpoint {
            node_id: get_i32(buf, "node_endpoints.node_id")?,
            host: get_string(buf, true, "node_endpoints.host")?,
            port: get_i32(buf, "node_endpoints.port")?,
            rack: get_nullable_string(buf, true, "node_endpoints.rack")?,
            tagged_fields: TaggedFields::decode(buf)?,
        })
    })?;
    ensure_consumed(&raw, "node_endpoints")?;
    Ok(nodes)
}

fn encode_partition_response(
    buf: &mut BytesMut,
    p: &PartitionProduceResponse,
    version: i16,
) -> Result<(), EncodeError> {
    let flexible = ApiKey::Produce.is_flexible(version);
    buf.put_i32(p.index);
    buf.put_i16(p.error_code);
    buf.put_i64(p.base_offset);
    buf.put_i64(p.log_append_time_ms);
    if version >= 5 {
        buf.put_i64(p.log_start_offset);
    }
    if version >= 8 {
        put_array(
            buf,
            &p.record_errors,
            flexible,
            "record_errors",
            |buf, e| {
                buf.put_i32(e.batch_index);
                put_nullable_string(
                    buf,
                    e.batch_index_error_message.as_deref(),
                    flexible,
                    "batch_index_error_message",
                )?;
                tagged_section::write(buf, &e.tagged_fields, flexible)?;
                Ok(())
            },
        )?;
        put_nullable_string(buf, p.error_message.as_deref(), flexible, "error_message")?;
    }
    if flexible {
        let mut known = Vec::new();
        if version >= LEADER_HINTS
            && let Some(l) = &p.current_leader
        {
            known.push((HINT_TAG, encode_current_leader(l)?));
        }
        encode_tagged_with(buf, known, &p.tagged_fields)?;
    }
    Ok(())
}

fn decode_partition_response(
    buf: &mut Bytes,
    version: i16,
) -> Result<PartitionProduceResponse, DecodeError> {
    let flexible = ApiKey::Produce.is_flexible(version);
    let mut p = PartitionProduceResponse {
        index: get_i32(buf, "partition_responses.index")?,
        error_code: get_i16(buf, "partition_responses.error_code")?,
        base_offset: get_i64(buf, "base_offset")?,
        log_append_time_ms: get_i64(buf, "log_append_time_ms")?,
        ..Default::default()
    };
    if version >= 5 {
        p.log_start_offset = get_i64(buf, "log_start_offset")?;
    }
    if version >= 8 {
        p.record_errors = get_array(buf, flexible, "record_errors", |buf| {
            Ok(BatchIndexAndErrorMessage {
                batch_index: get_i32(buf, "batch_index")?,
                batch_index_error_message: get_nullable_string(
                    buf,
                    flexible,
                    "batch_index_error_message",
                )?,
                tagged_fields: tagged_section::read(buf, flexible)?,
            })
        })?;
        p.error_message = get_nullable_string(buf, flexible, "error_message")?;
    }
    p.tagged_fields = tagged_section::read(buf, flexible)?;
    if version >= LEADER_HINTS {
        p.current_leader = take_tag(&mut p.tagged_fields, HINT_TAG)
            .map(decode_current_leader)
            .transpose()?;
    }
    Ok(p)
}

impl Message for ProduceResponse {
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        ApiKey::Produce.check_encode(version)?;
        let flexible = ApiKey::Produce.is_flexible(version);
        put_array(buf, &self.responses, flexible, "responses", |buf, t| {
            put_string(buf, &t.name, flexible, "responses.name")?;
            put_array(
                buf,
                &t.partition_responses,
                flexible,
                "partition_responses",
                |buf, p| encode_partition_response(buf, p, version),
            )?;
            tagged_section::write(buf, &t.tagged_fields, flexible)?;
            Ok(())
        })?;
        buf.put_i32(self.throttle_time_ms);
        if flexible {
            let mut known = Vec::new();
            if version >= LEADER_HINTS
                && let Some(nodes) = &self.node_endpoints
            {
                known.push((HINT_TAG, encode_node_endpoints(nodes)?));
            }
            encode_tagged_with(buf, known, &self.tagged_fields)?;
        }
        Ok(())
    }

    fn decode(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        ApiKey::Produce.check_decode(version)?;
        let flexible = ApiKey::Produce.is_flexible(version);
        let responses = get_array(buf, flexible, "responses", |buf| {
            let name = get_string(buf, flexible, "responses.name")?;
            let partition_responses = get_array(buf, flexible, "partition_responses", |buf| {
                decode_partition_response(buf, version)
            })?;
            Ok(TopicProduceResponse {
                name,
                partition_responses,
                tagged_fields: tagged_section::read(buf, flexible)?,
            })
        })?;
        let throttle_time_ms = get_i32(buf, "throttle_time_ms")?;
        let mut tagged_fields = tagged_section::read(buf, flexible)?;
        let node_endpoints = if version >= LEADER_HINTS {
            take_tag(&mut tagged_fields, HINT_TAG)
                .map(decode_node_endpoints)
                .transpose()?
        } else {
            None
        };
        Ok(Self {
            responses,
            throttle_time_ms,
            node_endpoints,
            tagged_fields,
        })
    }
}
