//! ListOffsets (key 2), v1–v7: finds the offset for a timestamp (or the
//! earliest, latest or max-timestamp offset) of each partition. The fake
//! broker answers it for consumers and tools such as kcat.
//!
//! v1 returns one offset instead of v0's list; v2 adds the isolation level
//! and throttle time (KIP-98); v4 the leader epochs (KIP-320); v5 and v6 add
//! no fields (v6 is flexible); v7 allows the max-timestamp query (KIP-734).
//! v8+ (tiered storage) are out of scope.
//!
//! # References
//! - KIP-79 (timestamp lookup, v1), KIP-98 (isolation level, v2)
//! - KIP-320 (leader epochs, v4), KIP-482 (flexible versions, v6)
//! - KIP-734 (`MAX_TIMESTAMP` query, v7)

use bytes::{BufMut, Bytes, BytesMut};

use crate::api_key::ApiKey;
use crate::error::{DecodeError, EncodeError};
use crate::message::{Message, Request};
use crate::primitives::{
    get_array, get_i8, get_i16, get_i32, get_i64, get_string, put_array, put_string,
};
use crate::tagged::TaggedFields;

use super::tagged_section;

/// Asks a partition leader for the offset matching a timestamp, per partition.
///
/// ```
/// use bytes::BytesMut;
/// use kproducer_protocol::{Message, messages::{ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic}};
///
/// let req = ListOffsetsRequest {
///     topics: vec![ListOffsetsTopic {
///         name: "orders".into(),
///         partitions: vec![ListOffsetsPartition {
///             partition_index: 0,
///             timestamp: ListOffsetsPartition::LATEST,
///             ..Default::default()
///         }],
///         ..Default::default()
///     }],
///     ..Default::default()
/// };
/// assert_eq!(req.replica_id, -1);
/// let mut buf = BytesMut::new();
/// req.encode(&mut buf, 7).unwrap();
/// assert_eq!(ListOffsetsRequest::decode(&mut buf.freeze(), 7).unwrap(), req);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListOffsetsRequest {
    /// The requesting broker's id, or -1 for a consumer (the default here;
    /// Kafka's schema gives no default).
    pub replica_id: i32,
    /// 0 `READ_UNCOMMITTED` or 1 `READ_COMMITTED` (v2+; 0 in v1).
    pub isolation_level: i8,
    /// The partitions to look up, by topic.
    pub topics: Vec<ListOffsetsTopic>,
    /// Unknown tagged fields (v6+).
    pub tagged_fields: TaggedFields,
}

impl Default for ListOffsetsRequest {
    fn default() -> Self {
        Self {
            replica_id: -1,
            isolation_level: 0,
            topics: Vec::new(),
            tagged_fields: TaggedFields::new(),
        }
    }
}

/// One topic in a [`ListOffsetsRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListOffsetsTopic {
    /// The topic name.
    pub name: String,
    /// The partitions to look up.
    pub partitions: Vec<ListOffsetsPartition>,
    /// Unknown tagged fields (v6+).
    pub tagged_fields: TaggedFields,
}

/// One partition in a [`ListOffsetsRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListOffsetsPartition {
    /// The partition index.
    pub partition_index: i32,
    /// The leader epoch the client knows, or -1 (v4+).
    pub current_leader_epoch: i32,
    /// The timestamp to look up, or one of the special values
    /// [`LATEST`](Self::LATEST), [`EARLIEST`](Self::EARLIEST),
    /// [`MAX_TIMESTAMP`](Self::MAX_TIMESTAMP).
    pub timestamp: i64,
    /// Unknown tagged fields (v6+).
    pub tagged_fields: TaggedFields,
}

impl ListOffsetsPartition {
    /// Asks for the log end offset (the next offset to be written).
    pub const LATEST: i64 = -1;
    /// Asks for the log start offset.
    pub const EARLIEST: i64 = -2;
    /// Asks for the offset of the record with the largest timestamp (v7+).
    pub const MAX_TIMESTAMP: i64 = -3;
}

impl Default for ListOffsetsPartition {
    fn default() -> Self {
        Self {
            partition_index: 0,
            current_leader_epoch: -1,
            timestamp: 0,
            tagged_fields: TaggedFields::new(),
        }
    }
}

impl Message for ListOffsetsRequest {
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        ApiKey::ListOffsets.check_encode(version)?;
        let flexible = ApiKey::ListOffsets.is_flexible(version);
        buf.put_i32(self.replica_id);
        if version >= 2 {
            buf.put_i8(self.isolation_level);
        }
        put_array(buf, &self.topics, flexible, "topics", |buf, t| {
            put_string(buf, &t.name, flexible, "topic name")?;
            put_array(buf, &t.partitions, flexible, "partitions", |buf, p| {
                buf.put_i32(p.partition_index);
                if version >= 4 {
                    buf.put_i32(p.current_leader_epoch);
                }
                buf.put_i64(p.timestamp);
                tagged_section::write(buf, &p.tagged_fields, flexible)
            })?;
            tagged_section::write(buf, &t.tagged_fields, flexible)
        })?;
        tagged_section::write(buf, &self.tagged_fields, flexible)
    }

    fn decode(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        ApiKey::ListOffsets.check_decode(version)?;
        let flexible = ApiKey::ListOffsets.is_flexible(version);
        let replica_id = get_i32(buf, "replica_id")?;
        let isolation_level = if version >= 2 {
            get_i8(buf, "isolation_level")?
        } else {
            0
        };
        let topics = get_array(buf, flexible, "topics", |buf| {
            Ok(ListOffsetsTopic {
                name: get_string(buf, flexible, "topic name")?,
                partitions: get_array(buf, flexible, "partitions", |buf| {
                    let partition_index = get_i32(buf, "partition_index")?;
                    let current_leader_epoch = if version >= 4 {
                        get_i32(buf, "current_leader_epoch")?
                    } else {
                        -1
                    };
                    Ok(ListOffsetsPartition {
                        partition_index,
                        current_leader_epoch,
                        timestamp: get_i64(buf, "timestamp")?,
                        tagged_fields: tagged_section::read(buf, flexible)?,
                    })
                })?,
                tagged_fields: tagged_section::read(buf, flexible)?,
            })
        })?;
        Ok(Self {
            replica_id,
            isolation_level,
            topics,
            tagged_fields: tagged_section::read(buf, flexible)?,
        })
    }
}

impl Request for ListOffsetsRequest {
    const API_KEY: ApiKey = ApiKey::ListOffsets;
    type Response = ListOffsetsResponse;
}

/// The leader's answer to [`ListOffsetsRequest`].
///
/// ```
/// use bytes::BytesMut;
/// use kproducer_protocol::{Message, messages::{
///     ListOffsetsPartitionResponse, ListOffsetsResponse, ListOffsetsTopicResponse,
/// }};
///
/// let resp = ListOffsetsResponse {
///     topics: vec![ListOffsetsTopicResponse {
///         name: "orders".into(),
///         partitions: vec![ListOffsetsPartitionResponse { offset: 43, ..Default::default() }],
///         ..Default::default()
///     }],
///     ..Default::default()
/// };
/// let mut buf = BytesMut::new();
/// resp.encode(&mut buf, 7).unwrap();
/// assert_eq!(ListOffsetsResponse::decode(&mut buf.freeze(), 7).unwrap(), resp);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListOffsetsResponse {
    /// Throttle time in milliseconds, or 0 when no quota was violated (v2+).
    pub throttle_time_ms: i32,
    /// The results, by topic.
    pub topics: Vec<ListOffsetsTopicResponse>,
    /// Unknown tagged fields (v6+).
    pub tagged_fields: TaggedFields,
}

/// One topic in a [`ListOffsetsResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListOffsetsTopicResponse {
    /// The topic name.
    pub name: String,
    /// The results, by partition.
    pub partitions: Vec<ListOffsetsPartitionResponse>,
    /// Unknown tagged fields (v6+).
    pub tagged_fields: TaggedFields,
}

/// One partition in a [`ListOffsetsResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListOffsetsPartitionResponse {
    /// The partition index.
    pub partition_index: i32,
    /// The error code, or 0 (see [`ErrorCode`](crate::ErrorCode)).
    pub error_code: i16,
    /// The timestamp of the returned offset, or -1.
    pub timestamp: i64,
    /// The returned offset, or -1.
    pub offset: i64,
    /// The leader epoch of the returned offset, or -1 (v4+).
    pub leader_epoch: i32,
    /// Unknown tagged fields (v6+).
    pub tagged_fields: TaggedFields,
}

impl Default for ListOffsetsPartitionResponse {
    fn default() -> Self {
        Self {
            partition_index: 0,
            error_code: 0,
            timestamp: -1,
            offset: -1,
            leader_epoch: -1,
            tagged_fields: TaggedFields::new(),
        }
    }
}

impl Message for ListOffsetsResponse {
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        ApiKey::ListOffsets.check_encode(version)?;
        let flexible = ApiKey::ListOffsets.is_flexible(version);
        if version >= 2 {
            buf.put_i32(self.throttle_time_ms);
        }
        put_array(buf, &self.topics, flexible, "topics", |buf, t| {
            put_string(buf, &t.name, flexible, "topic name")?;
            put_array(buf, &t.partitions, flexible, "partitions", |buf, p| {
                buf.put_i32(p.partition_index);
                buf.put_i16(p.error_code);
                buf.put_i64(p.timestamp);
                buf.put_i64(p.offset);
                if version >= 4 {
                    buf.put_i32(p.leader_epoch);
                }
                tagged_section::write(buf, &p.tagged_fields, flexible)
            })?;
            tagged_section::write(buf, &t.tagged_fields, flexible)
        })?;
        tagged_section::write(buf, &self.tagged_fields, flexible)
    }

    fn decode(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        ApiKey::ListOffsets.check_decode(version)?;
        let flexible = ApiKey::ListOffsets.is_flexible(version);
        let throttle_time_ms = if version >= 2 {
            get_i32(buf, "throttle_time_ms")?
        } else {
            0
        };
        let topics = get_array(buf, flexible, "topics", |buf| {
            Ok(ListOffsetsTopicResponse {
                name: get_string(buf, flexible, "topic name")?,
                partitions: get_array(buf, flexible, "partitions", |buf| {
                    Ok(ListOffsetsPartitionResponse {
                        partition_index: get_i32(buf, "partition_index")?,
                        error_code: get_i16(buf, "error_code")?,
                        timestamp: get_i64(buf, "timestamp")?,
                        offset: get_i64(buf, "offset")?,
                        leader_epoch: if version >= 4 {
                            get_i32(buf, "leader_epoch")?
                        } else {
                            -1
                        },
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
