//! Fetch (key 1), v4–v12: reads record batches from partition leaders. The
//! fake broker answers it, so consumers and tools such as kcat can read back
//! what the producer wrote.
//!
//! v4 adds the isolation level, last stable offset and aborted transactions
//! (KIP-98); v5 the log start offset (KIP-107); v7 fetch sessions (KIP-227);
//! v9 leader epochs (KIP-320); v11 the rack id and preferred read replica
//! (KIP-392); v12 is flexible and adds the last fetched epoch (KIP-595).
//! v13+ (topic ids) are out of scope.
//!
//! Records are kept as the raw, zero-copy bytes of the response: decode them
//! with the record-batch reader.
//!
//! # References
//! - KIP-74 (`max_bytes`), KIP-98 (transactions), KIP-107 (log start offset)
//! - KIP-227 (incremental fetch sessions), KIP-320 (leader epochs)
//! - KIP-392 (fetch from follower), KIP-482 (flexible versions), KIP-595

use bytes::{BufMut, Bytes, BytesMut};

use crate::api_key::ApiKey;
use crate::error::{DecodeError, EncodeError};
use crate::message::{Message, Request, ensure_consumed};
use crate::primitives::{
    get_array, get_i8, get_i16, get_i32, get_i64, get_nullable_array, get_nullable_bytes,
    get_nullable_string, get_string, put_array, put_nullable_array, put_nullable_bytes,
    put_nullable_string, put_string,
};
use crate::tagged::{TaggedFields, encode_tagged_with, take_tag};

use super::tagged_section;

/// The request-level tag carrying the cluster id (v12+).
const CLUSTER_ID_TAG: u32 = 0;

/// Asks a leader for records from each listed partition.
///
/// ```
/// use bytes::BytesMut;
/// use kproducer_protocol::{Message, messages::{FetchPartition, FetchRequest, FetchTopic}};
///
/// let req = FetchRequest {
///     max_wait_ms: 500,
///     min_bytes: 1,
///     topics: vec![FetchTopic {
///         topic: "orders".into(),
///         partitions: vec![FetchPartition {
///             partition: 0,
///             fetch_offset: 42,
///             partition_max_bytes: 1 << 20,
///             ..Default::default()
///         }],
///         ..Default::default()
///     }],
///     ..Default::default()
/// };
/// assert_eq!(req.replica_id, -1); // a consumer
/// let mut buf = BytesMut::new();
/// req.encode(&mut buf, 12).unwrap();
/// assert_eq!(FetchRequest::decode(&mut buf.freeze(), 12).unwrap(), req);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRequest {
    /// The follower's broker id, or -1 for a consumer (the default).
    pub replica_id: i32,
    /// How long the broker may wait for `min_bytes` to accumulate.
    pub max_wait_ms: i32,
    /// The minimum bytes to accumulate before answering.
    pub min_bytes: i32,
    /// The maximum bytes to return (default `i32::MAX`; KIP-74 explains when
    /// it may be exceeded).
    pub max_bytes: i32,
    /// 0 `READ_UNCOMMITTED` or 1 `READ_COMMITTED`.
    pub isolation_level: i8,
    /// The fetch session id, or 0 (v7+).
    pub session_id: i32,
    /// The fetch session epoch, or -1 (v7+).
    pub session_epoch: i32,
    /// The partitions to fetch, by topic.
    pub topics: Vec<FetchTopic>,
    /// In an incremental fetch, the partitions to drop from the session (v7+).
    pub forgotten_topics_data: Vec<ForgottenTopic>,
    /// The consumer's rack id, or empty (v11+).
    pub rack_id: String,
    /// The cluster id, if known: tagged field 0 (v12+).
    pub cluster_id: Option<String>,
    /// Other tagged fields (v12+).
    pub tagged_fields: TaggedFields,
}

impl Default for FetchRequest {
    fn default() -> Self {
        Self {
            replica_id: -1,
            max_wait_ms: 0,
            min_bytes: 0,
            max_bytes: i32::MAX,
            isolation_level: 0,
            session_id: 0,
            session_epoch: -1,
            topics: Vec::new(),
            forgotten_topics_data: Vec::new(),
            rack_id: String::new(),
            cluster_id: None,
            tagged_fields: TaggedFields::new(),
        }
    }
}

/// One topic in a [`FetchRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FetchTopic {
    /// The topic name.
    pub topic: String,
    /// The partitions to fetch.
    pub partitions: Vec<FetchPartition>,
    /// Unknown tagged fields (v12+).
    pub tagged_fields: TaggedFields,
}

/// One partition in a [`FetchRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPartition {
    /// The partition index.
    pub partition: i32,
    /// The leader epoch the client knows, or -1 (v9+).
    pub current_leader_epoch: i32,
    /// The offset to fetch from.
    pub fetch_offset: i64,
    /// The epoch of the last fetched record, or -1 (v12+).
    pub last_fetched_epoch: i32,
    /// The follower's log start offset, or -1 for a consumer (v5+).
    pub log_start_offset: i64,
    /// The maximum bytes to return for this partition.
    pub partition_max_bytes: i32,
    /// Unknown tagged fields (v12+).
    pub tagged_fields: TaggedFields,
}

impl Default for FetchPartition {
    fn default() -> Self {
        Self {
            partition: 0,
            current_leader_epoch: -1,
            fetch_offset: 0,
            last_fetched_epoch: -1,
            log_start_offset: -1,
            partition_max_bytes: 0,
            tagged_fields: TaggedFields::new(),
        }
    }
}

/// Partitions to drop from an incremental fetch session (v7+).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ForgottenTopic {
    /// The topic name.
    pub topic: String,
    /// The partition indexes to forget.
    pub partitions: Vec<i32>,
    /// Unknown tagged fields (v12+).
    pub tagged_fields: TaggedFields,
}

impl Message for FetchRequest {
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        ApiKey::Fetch.check_encode(version)?;
        let flexible = ApiKey::Fetch.is_flexible(version);
        buf.put_i32(self.replica_id);
        buf.put_i32(self.max_wait_ms);
        buf.put_i32(self.min_bytes);
        buf.put_i32(self.max_bytes);
        buf.put_i8(self.isolation_level);
        if version >= 7 {
            buf.put_i32(self.session_id);
            buf.put_i32(self.session_epoch);
        }
        put_array(buf, &self.topics, flexible, "topics", |buf, t| {
            put_string(buf, &t.topic, flexible, "topic")?;
            put_array(buf, &t.partitions, flexible, "partitions", |buf, p| {
                buf.put_i32(p.partition);
                if version >= 9 {
                    buf.put_i32(p.current_leader_epoch);
                }
                buf.put_i64(p.fetch_offset);
                if version >= 12 {
                    buf.put_i32(p.last_fetched_epoch);
                }
                if version >= 5 {
                    buf.put_i64(p.log_start_offset);
                }
                buf.put_i32(p.partition_max_bytes);
                tagged_section::write(buf, &p.tagged_fields, flexible)
            })?;
            tagged_section::write(buf, &t.tagged_fields, flexible)
        })?;
        if version >= 7 {
            put_array(
                buf,
                &self.forgotten_topics_data,
                flexible,
                "forgotten_topics_data",
                |buf, t| {
                    put_string(buf, &t.topic, flexible, "forgotten topic")?;
                    put_array(
                        buf,
                        &t.partitions,
                        flexible,
                        "forgotten partitions",
                        |buf, p| {
                            buf.put_i32(*p);
                            Ok(())
                        },
                    )?;
                    tagged_section::write(buf, &t.tagged_fields, flexible)
                },
            )?;
        }
        if version >= 11 {
            put_string(buf, &self.rack_id, flexible, "rack_id")?;
        }
        if flexible {
            let mut known = Vec::new();
            // Null is the field's default, and a tagged field at its default
            // is left out.
            if let Some(id) = &self.cluster_id {
                let mut value = BytesMut::new();
                put_nullable_string(&mut value, Some(id), true, "cluster_id")?;
                known.push((CLUSTER_ID_TAG, value.freeze()));
            }
            encode_tagged_with(buf, known, &self.tagged_fields)?;
        }
        Ok(())
    }

    fn decode(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        ApiKey::Fetch.check_decode(version)?;
        let flexible = ApiKey::Fetch.is_flexible(version);
        let mut r = Self {
            replica_id: get_i32(buf, "replica_id")?,
            max_wait_ms: get_i32(buf, "max_wait_ms")?,
            min_bytes: get_i32(buf, "min_bytes")?,
            max_bytes: get_i32(buf, "max_bytes")?,
            isolation_level: get_i8(buf, "isolation_level")?,
            ..Self::default()
        };
        if version >= 7 {
            r.session_id = get_i32(buf, "session_id")?;
            r.session_epoch = get_i32(buf, "session_epoch")?;
        }
        r.topics = get_array(buf, flexible, "topics", |buf| {
            Ok(FetchTopic {
                topic: get_string(buf, flexible, "topic")?,
                partitions: get_array(buf, flexible, "partitions", |buf| {
                    decode_partition(buf, version, flexible)
                })?,
                tagged_fields: tagged_section::read(buf, flexible)?,
            })
        })?;
        if version >= 7 {
            r.forgotten_topics_data = get_array(buf, flexible, "forgotten_topics_data", |buf| {
                Ok(ForgottenTopic {
                    topic: get_string(buf, flexible, "forgotten topic")?,
                    partitions: get_array(buf, flexible, "forgotten partitions", |buf| {
                        get_i32(buf, "forgotten partition")
                    })?,
                    tagged_fields: tagged_section::read(buf, flexible)?,
                })
            })?;
        }
        if version >= 11 {
            r.rack_id = get_string(buf, flexible, "rack_id")?;
        }
        if flexible {
            let mut tagged = TaggedFields::decode(buf)?;
            if let Some(mut value) = take_tag(&mut tagged, CLUSTER_ID_TAG) {
                r.cluster_id = get_nullable_string(&mut value, true, "cluster_id")?;
                ensure_consumed(&value, "cluster_id tagged field")?;
            }
            r.tagged_fields = tagged;
        }
        Ok(r)
    }
}

fn decode_partition(
    buf: &mut Bytes,
    version: i16,
    flexible: bool,
) -> Result<FetchPartition, DecodeError> {
    let mut p = FetchPartition {
        partition: get_i32(buf, "partition")?,
        ..FetchPartition::default()
    };
    if version >= 9 {
        p.current_leader_epoch = get_i32(buf, "current_leader_epoch")?;
    }
    p.fetch_offset = get_i64(buf, "fetch_offset")?;
    if version >= 12 {
        p.last_fetched_epoch = get_i32(buf, "last_fetched_epoch")?;
    }
    if version >= 5 {
        p.log_start_offset = get_i64(buf, "log_start_offset")?;
    }
    p.partition_max_bytes = get_i32(buf, "partition_max_bytes")?;
    p.tagged_fields = tagged_section::read(buf, flexible)?;
    Ok(p)
}

impl Request for FetchRequest {
    const API_KEY: ApiKey = ApiKey::Fetch;
    type Response = FetchResponse;
}

/// The leader's answer to [`FetchRequest`].
///
/// ```
/// use bytes::{Bytes, BytesMut};
/// use kproducer_protocol::{Message, messages::{FetchResponse, FetchResponsePartition, FetchResponseTopic}};
///
/// let resp = FetchResponse {
///     responses: vec![FetchResponseTopic {
///         topic: "orders".into(),
///         partitions: vec![FetchResponsePartition {
///             partition_index: 0,
///             high_watermark: 43,
///             records: Some(Bytes::from_static(b"<record batches>")),
///             ..Default::default()
///         }],
///         ..Default::default()
///     }],
///     ..Default::default()
/// };
/// let mut buf = BytesMut::new();
/// resp.encode(&mut buf, 12).unwrap();
/// assert_eq!(FetchResponse::decode(&mut buf.freeze(), 12).unwrap(), resp);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FetchResponse {
    /// Throttle time in milliseconds, or 0 when no quota was violated.
    pub throttle_time_ms: i32,
    /// The top-level error code, or 0 (v7+).
    pub error_code: i16,
    /// The fetch session id, or 0 when not part of a session (v7+).
    pub session_id: i32,
    /// The data, by topic.
    pub responses: Vec<FetchResponseTopic>,
    /// Unknown tagged fields (v12+).
    pub tagged_fields: TaggedFields,
}

/// One topic in a [`FetchResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FetchResponseTopic {
    /// The topic name.
    pub topic: String,
    /// The data, by partition.
    pub partitions: Vec<FetchResponsePartition>,
    /// Unknown tagged fields (v12+).
    pub tagged_fields: TaggedFields,
}

/// One partition in a [`FetchResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchResponsePartition {
    /// The partition index.
    pub partition_index: i32,
    /// The error code, or 0 (see [`ErrorCode`](crate::ErrorCode)).
    pub error_code: i16,
    /// The partition's high watermark.
    pub high_watermark: i64,
    /// The last stable offset, or -1.
    pub last_stable_offset: i64,
    /// The log start offset, or -1 (v5+).
    pub log_start_offset: i64,
    /// The aborted transactions in the returned range (for
    /// `READ_COMMITTED` fetches), or `None`.
    pub aborted_transactions: Option<Vec<AbortedTransaction>>,
    /// The replica the consumer should fetch from next, or -1 (v11+).
    pub preferred_read_replica: i32,
    /// The record batches, as zero-copy bytes of the response, or `None`.
    pub records: Option<Bytes>,
    /// Tagged fields (v12+), kept raw: `diverging_epoch` (0),
    /// `current_leader` (1), `snapshot_id` (2) and any others.
    pub tagged_fields: TaggedFields,
}

impl Default for FetchResponsePartition {
    fn default() -> Self {
        Self {
            partition_index: 0,
            error_code: 0,
            high_watermark: 0,
            last_stable_offset: -1,
            log_start_offset: -1,
            aborted_transactions: None,
            preferred_read_replica: -1,
            records: None,
            tagged_fields: TaggedFields::new(),
        }
    }
}

/// A transaction aborted within a fetched range.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AbortedTransaction {
    /// The producer id of the aborted transaction.
    pub producer_id: i64,
    /// The first offset of the aborted transaction.
    pub first_offset: i64,
    /// Unknown tagged fields (v12+).
    pub tagged_fields: TaggedFields,
}

impl Message for FetchResponse {
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        ApiKey::Fetch.check_encode(version)?;
        let flexible = ApiKey::Fetch.is_flexible(version);
        buf.put_i32(self.throttle_time_ms);
        if version >= 7 {
            buf.put_i16(self.error_code);
            buf.put_i32(self.session_id);
        }
        put_array(buf, &self.responses, flexible, "responses", |buf, t| {
            put_string(buf, &t.topic, flexible, "topic")?;
            put_array(buf, &t.partitions, flexible, "partitions", |buf, p| {
                encode_response_partition(buf, p, version, flexible)
            })?;
            tagged_section::write(buf, &t.tagged_fields, flexible)
        })?;
        tagged_section::write(buf, &self.tagged_fields, flexible)
    }

    fn decode(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        ApiKey::Fetch.check_decode(version)?;
        let flexible = ApiKey::Fetch.is_flexible(version);
        let mut r = Self {
            throttle_time_ms: get_i32(buf, "throttle_time_ms")?,
            ..Self::default()
        };
        if version >= 7 {
            r.error_code = get_i16(buf, "error_code")?;
            r.session_id = get_i32(buf, "session_id")?;
        }
        r.responses = get_array(buf, flexible, "responses", |buf| {
            Ok(FetchResponseTopic {
                topic: get_string(buf, flexible, "topic")?,
                partitions: get_array(buf, flexible, "partitions", |buf| {
                    decode_response_partition(buf, version, flexible)
                })?,
                tagged_fields: tagged_section::read(buf, flexible)?,
            })
        })?;
        r.tagged_fields = tagged_section::read(buf, flexible)?;
        Ok(r)
    }
}

fn encode_response_partition(
    buf: &mut BytesMut,
    p: &FetchResponsePartition,
    version: i16,
    flexible: bool,
) -> Result<(), EncodeError> {
    buf.put_i32(p.partition_index);
    buf.put_i16(p.error_code);
    buf.put_i64(p.high_watermark);
    buf.put_i64(p.last_stable_offset);
    if version >= 5 {
        buf.put_i64(p.log_start_offset);
    }
    put_nullable_array(
        buf,
        p.aborted_transactions.as_deref(),
        flexible,
        "aborted_transactions",
        |buf, a| {
            buf.put_i64(a.producer_id);
            buf.put_i64(a.first_offset);
            tagged_section::write(buf, &a.tagged_fields, flexible)
        },
    )?;
    if version >= 11 {
        buf.put_i32(p.preferred_read_replica);
    }
    put_nullable_bytes(buf, p.records.as_deref(), flexible, "records")?;
    tagged_section::write(buf, &p.tagged_fields, flexible)
}

fn decode_response_partition(
    buf: &mut Bytes,
    version: i16,
    flexible: bool,
) -> Result<FetchResponsePartition, DecodeError> {
    let mut p = FetchResponsePartition {
        partition_index: get_i32(buf, "partition_index")?,
        error_code: get_i16(buf, "error_code")?,
        high_watermark: get_i64(buf, "high_watermark")?,
        last_stable_offset: get_i64(buf, "last_stable_offset")?,
        ..FetchResponsePartition::default()
    };
    if version >= 5 {
        p.log_start_offset = get_i64(buf, "log_start_offset")?;
    }
    p.aborted_transactions = get_nullable_array(buf, flexible, "aborted_transactions", |buf| {
        Ok(AbortedTransaction {
            producer_id: get_i64(buf, "producer_id")?,
            first_offset: get_i64(buf, "first_offset")?,
            tagged_fields: tagged_section::read(buf, flexible)?,
        })
    })?;
    if version >= 11 {
        p.preferred_read_replica = get_i32(buf, "preferred_read_replica")?;
    }
    p.records = get_nullable_bytes(buf, flexible, "records")?;
    p.tagged_fields = tagged_section::read(buf, flexible)?;
    Ok(p)
}
