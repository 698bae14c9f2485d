//! TxnOffsetCommit (key 28), v0–v3: commits a consumer group's offsets
//! inside the producer's transaction. Sent to the **group** coordinator,
//! after AddOffsetsToTxn added the group to the transaction; the offsets
//! stay pending until the transaction's commit marker makes them the
//! group's committed offsets (an abort marker discards them).
//!
//! v1 is v0 (the broker answers before throttling); v2 adds each
//! partition's `committed_leader_epoch`; v3 is flexible and carries the
//! consumer's group metadata (generation id, member id, group instance id)
//! so that the group coordinator can fence a zombie consumer (KIP-447).
//! v4+ (KIP-890, transactions v2) are out of scope.
//!
//! Below v3 the group metadata cannot be sent: encoding a request that
//! sets it (generation id other than -1, a member id, a group instance id)
//! fails, as Kafka's Java client refuses it, rather than silently dropping
//! the fencing the caller asked for. A leader epoch below v2 is dropped
//! (Kafka's field is ignorable there).
//!
//! # References
//! - KIP-98 (transactions), KIP-447 (producer scalability for exactly-once:
//!   group metadata in TxnOffsetCommit v3), KIP-482 (flexible versions)

use bytes::{BufMut, Bytes, BytesMut};

use crate::api_key::ApiKey;
use crate::error::{DecodeError, EncodeError};
use crate::message::{Message, Request};
use crate::primitives::{
    get_array, get_i16, get_i32, get_i64, get_nullable_string, get_string, put_array,
    put_nullable_string, put_string,
};
use crate::tagged::TaggedFields;

use super::tagged_section;

/// The first version that carries the consumer's group metadata.
const GROUP_METADATA_SINCE: i16 = 3;
/// The first version that carries a partition's leader epoch.
const LEADER_EPOCH_SINCE: i16 = 2;

/// Commits offsets for a consumer group inside a transaction.
///
/// ```
/// use bytes::BytesMut;
/// use kproducer_protocol::{Message, messages::{
///     TxnOffsetCommitPartition, TxnOffsetCommitRequest, TxnOffsetCommitTopic,
/// }};
///
/// let req = TxnOffsetCommitRequest {
///     transactional_id: "orders".into(),
///     group_id: "order-processors".into(),
///     producer_id: 7,
///     producer_epoch: 1,
///     generation_id: 4,
///     member_id: "consumer-1-5f2c".into(),
///     topics: vec![TxnOffsetCommitTopic {
///         name: "incoming".into(),
///         partitions: vec![TxnOffsetCommitPartition {
///             partition_index: 0,
///             committed_offset: 42,
///             ..Default::default()
///         }],
///         ..Default::default()
///     }],
///     ..Default::default()
/// };
/// let mut buf = BytesMut::new();
/// req.encode(&mut buf, 3).unwrap();
/// assert_eq!(TxnOffsetCommitRequest::decode(&mut buf.freeze(), 3).unwrap(), req);
/// // v2 cannot carry the group metadata.
/// assert!(req.encode(&mut BytesMut::new(), 2).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnOffsetCommitRequest {
    /// The transactional id of the transaction.
    pub transactional_id: String,
    /// The consumer group.
    pub group_id: String,
    /// The producer id in use by the transactional id.
    pub producer_id: i64,
    /// The producer's current epoch.
    pub producer_epoch: i16,
    /// The consumer's generation (v3+), -1 when unknown.
    pub generation_id: i32,
    /// The consumer's member id (v3+), empty when unknown.
    pub member_id: String,
    /// The consumer's static group instance id (v3+), if any.
    pub group_instance_id: Option<String>,
    /// The offsets to commit, by topic.
    pub topics: Vec<TxnOffsetCommitTopic>,
    /// Unknown tagged fields (v3+).
    pub tagged_fields: TaggedFields,
}

impl Default for TxnOffsetCommitRequest {
    /// Empty, with Kafka's defaults for the group metadata (generation -1,
    /// no member id, no instance id).
    fn default() -> Self {
        Self {
            transactional_id: String::new(),
            group_id: String::new(),
            producer_id: 0,
            producer_epoch: 0,
            generation_id: -1,
            member_id: String::new(),
            group_instance_id: None,
            topics: Vec::new(),
            tagged_fields: TaggedFields::new(),
        }
    }
}

impl TxnOffsetCommitRequest {
    /// Whether the request carries group metadata (needs v3+).
    fn has_group_metadata(&self) -> bool {
        self.generation_id != -1 || !self.member_id.is_empty() || self.group_instance_id.is_some()
    }
}

/// One topic's offsets in a [`TxnOffsetCommitRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TxnOffsetCommitTopic {
    /// The topic name.
    pub name: String,
    /// The partitions' offsets.
    pub partitions: Vec<TxnOffsetCommitPartition>,
    /// Unknown tagged fields (v3+).
    pub tagged_fields: TaggedFields,
}

/// One partition's offset in a [`TxnOffsetCommitRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnOffsetCommitPartition {
    /// The partition index.
    pub partition_index: i32,
    /// The offset to commit: the next record the group will consume.
    pub committed_offset: i64,
    /// The leader epoch of the last consumed record (v2+), -1 when unknown.
    pub committed_leader_epoch: i32,
    /// Metadata the consumer keeps with the offset.
    pub committed_metadata: Option<String>,
    /// Unknown tagged fields (v3+).
    pub tagged_fields: TaggedFields,
}

impl Default for TxnOffsetCommitPartition {
    /// Partition 0, offset 0, no leader epoch (-1), no metadata.
    fn default() -> Self {
        Self {
            partition_index: 0,
            committed_offset: 0,
            committed_leader_epoch: -1,
            committed_metadata: None,
            tagged_fields: TaggedFields::new(),
        }
    }
}

impl Message for TxnOffsetCommitRequest {
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        ApiKey::TxnOffsetCommit.check_encode(version)?;
        let flexible = ApiKey::TxnOffsetCommit.is_flexible(version);
        if version < GROUP_METADATA_SINCE && self.has_group_metadata() {
            return Err(EncodeError::NotRepresentable {
                what: "TxnOffsetCommit group metadata",
                version,
                reason: "generation id, member id and group instance id need v3 (KIP-447); \
                         the broker is too old to fence zombie consumers",
            });
        }
        put_string(buf, &self.transactional_id, flexible, "transactional_id")?;
        put_string(buf, &self.group_id, flexible, "group_id")?;
        buf.put_i64(self.producer_id);
        buf.put_i16(self.producer_epoch);
        if version >= GROUP_METADATA_SINCE {
            buf.put_i32(self.generation_id);
            put_string(buf, &self.member_id, flexible, "member_id")?;
            put_nullable_string(
                buf,
                self.group_instance_id.as_deref(),
                flexible,
                "group_instance_id",
            )?;
        }
        put_array(buf, &self.topics, flexible, "topics", |buf, t| {
            put_string(buf, &t.name, flexible, "topic name")?;
            put_array(buf, &t.partitions, flexible, "partitions", |buf, p| {
                buf.put_i32(p.partition_index);
                buf.put_i64(p.committed_offset);
                if version >= LEADER_EPOCH_SINCE {
                    buf.put_i32(p.committed_leader_epoch);
                }
                put_nullable_string(
                    buf,
                    p.committed_metadata.as_deref(),
                    flexible,
                    "committed_metadata",
                )?;
                tagged_section::write(buf, &p.tagged_fields, flexible)
            })?;
            tagged_section::write(buf, &t.tagged_fields, flexible)
        })?;
        tagged_section::write(buf, &self.tagged_fields, flexible)?;
        Ok(())
    }

    fn decode(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        ApiKey::TxnOffsetCommit.check_decode(version)?;
        let flexible = ApiKey::TxnOffsetCommit.is_flexible(version);
        let transactional_id = get_string(buf, flexible, "transactional_id")?;
        let group_id = get_string(buf, flexible, "group_id")?;
        let producer_id = get_i64(buf, "producer_id")?;
        let producer_epoch = get_i16(buf, "producer_epoch")?;
        let (generation_id, member_id, group_instance_id) = if version >= GROUP_METADATA_SINCE {
            (
                get_i32(buf, "generation_id")?,
                get_string(buf, flexible, "member_id")?,
                get_nullable_string(buf, flexible, "group_instance_id")?,
            )
        } else {
            (-1, String::new(), None)
        };
        let topics = get_array(buf, flexible, "topics", |buf| {
            Ok(TxnOffsetCommitTopic {
                name: get_string(buf, flexible, "topic name")?,
                partitions: get_array(buf, flexible, "partitions", |buf| {
                    Ok(TxnOffsetCommitPartition {
                        partition_index: get_i32(buf, "partition_index")?,
                        committed_offset: get_i64(buf, "committed_offset")?,
                        committed_leader_epoch: if version >= LEADER_EPOCH_SINCE {
                            get_i32(buf, "committed_leader_epoch")?
                        } else {
                            -1
                        },
                        committed_metadata: get_nullable_string(
                            buf,
                            flexible,
                            "committed_metadata",
                        )?,
                        tagged_fields: tagged_section::read(buf, flexible)?,
                    })
                })?,
                tagged_fields: tagged_section::read(buf, flexible)?,
            })
        })?;
        Ok(Self {
            transactional_id,
            group_id,
            producer_id,
            producer_epoch,
            generation_id,
            member_id,
            group_instance_id,
            topics,
            tagged_fields: tagged_section::read(buf, flexible)?,
        })
    }
}

impl Request for TxnOffsetCommitRequest {
    const API_KEY: ApiKey = ApiKey::TxnOffsetCommit;
    type Response = TxnOffsetCommitResponse;
}

/// The group coordinator's answer to [`TxnOffsetCommitRequest`]: one error
/// code per partition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TxnOffsetCommitResponse {
    /// Throttle time in milliseconds, or 0 when no quota was violated.
    pub throttle_time_ms: i32,
    /// The results, by topic.
    pub topics: Vec<TxnOffsetCommitTopicResult>,
    /// Unknown tagged fields (v3+).
    pub tagged_fields: TaggedFields,
}

/// One topic's results in a [`TxnOffsetCommitResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TxnOffsetCommitTopicResult {
    /// The topic name.
    pub name: String,
    /// The results, by partition.
    pub partitions: Vec<TxnOffsetCommitPartitionResult>,
    /// Unknown tagged fields (v3+).
    pub tagged_fields: TaggedFields,
}

/// One partition's result in a [`TxnOffsetCommitResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TxnOffsetCommitPartitionResult {
    /// The partition index.
    pub partition_index: i32,
    /// The error code, or 0 (see [`ErrorCode`](crate::ErrorCode)).
    pub error_code: i16,
    /// Unknown tagged fields (v3+).
    pub tagged_fields: TaggedFields,
}

impl Message for TxnOffsetCommitResponse {
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        ApiKey::TxnOffsetCommit.check_encode(version)?;
        let flexible = ApiKey::TxnOffsetCommit.is_flexible(version);
        buf.put_i32(self.throttle_time_ms);
        put_array(buf, &self.topics, flexible, "topics", |buf, t| {
            put_string(buf, &t.name, flexible, "topic name")?;
            put_array(buf, &t.partitions, flexible, "partitions", |buf, p| {
                buf.put_i32(p.partition_index);
                buf.put_i16(p.error_code);
                tagged_section::write(buf, &p.tagged_fields, flexible)
            })?;
            tagged_section::write(buf, &t.tagged_fields, flexible)
        })?;
        tagged_section::write(buf, &self.tagged_fields, flexible)?;
        Ok(())
    }

    fn decode(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        ApiKey::TxnOffsetCommit.check_decode(version)?;
        let flexible = ApiKey::TxnOffsetCommit.is_flexible(version);
        let throttle_time_ms = get_i32(buf, "throttle_time_ms")?;
        let topics = get_array(buf, flexible, "topics", |buf| {
            Ok(TxnOffsetCommitTopicResult {
                name: get_string(buf, flexible, "topic name")?,
                partitions: get_array(buf, flexible, "partitions", |buf| {
                    Ok(TxnOffsetCommitPartitionResult {
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
            topics,
            tagged_fields: tagged_section::read(buf, flexible)?,
        })
    }
}
