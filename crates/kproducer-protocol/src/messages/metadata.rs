//! Metadata (key 3), v0–v12: which brokers exist and who leads each partition.
//!
//! Field boundaries follow Kafka's `MetadataRequest.json` and
//! `MetadataResponse.json`; v9 is the first flexible version.
//!
//! # References
//! - KIP-4 (nullable topic list, v1), KIP-361 (`allow_auto_topic_creation`, v4)
//! - KIP-430 (authorized operations, v8), KIP-482 (flexible versions, v9)
//! - KIP-516 (topic ids, v10/v12), KIP-700 (cluster operations moved to
//!   DescribeCluster, v11)

use bytes::{BufMut, Bytes, BytesMut};

use super::tagged_section;
use crate::api_key::ApiKey;
use crate::error::{DecodeError, EncodeError};
use crate::message::{Message, Request};
use crate::primitives::{
    get_array, get_bool, get_i16, get_i32, get_nullable_array, get_nullable_string, get_string,
    get_uuid, put_array, put_array_len, put_nullable_string, put_string,
};
use crate::tagged::TaggedFields;

/// Kafka's "authorized operations were not requested" value.
pub const AUTHORIZED_OPERATIONS_OMITTED: i32 = i32::MIN;

/// Writes `name`, which may be null only from `nullable_since`.
fn put_topic_name(
    buf: &mut BytesMut,
    name: Option<&str>,
    version: i16,
    nullable_since: i16,
    what: &'static str,
) -> Result<(), EncodeError> {
    let flexible = ApiKey::Metadata.is_flexible(version);
    match name {
        Some(n) => put_string(buf, n, flexible, what),
        None if version >= nullable_since => put_nullable_string(buf, None, flexible, what),
        None => Err(EncodeError::NullNotAllowed { what, version }),
    }
}

fn get_topic_name(
    buf: &mut Bytes,
    version: i16,
    nullable_since: i16,
    what: &'static str,
) -> Result<Option<String>, DecodeError> {
    let flexible = ApiKey::Metadata.is_flexible(version);
    if version >= nullable_since {
        get_nullable_string(buf, flexible, what)
    } else {
        get_string(buf, flexible, what).map(Some)
    }
}

/// Asks a broker for cluster metadata.
///
/// `topics: None` asks for every topic. In v0 Kafka has no null list and an
/// empty list means "every topic", so `None` is sent as an empty list there,
/// an empty list decodes as `None`, and `Some(vec![])` ("no topics") cannot be
/// sent at v0.
///
/// ```
/// use bytes::BytesMut;
/// use kproducer_protocol::{Message, messages::{MetadataRequest, MetadataRequestTopic}};
///
/// let req = MetadataRequest {
///     topics: Some(vec![MetadataRequestTopic::named("orders")]),
///     allow_auto_topic_creation: false,
///     ..Default::default()
/// };
/// let mut buf = BytesMut::new();
/// req.encode(&mut buf, 12).unwrap();
/// assert_eq!(MetadataRequest::decode(&mut buf.freeze(), 12).unwrap(), req);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataRequest {
    /// The topics to describe; `None` for every topic (see the type's docs for v0).
    pub topics: Option<Vec<MetadataRequestTopic>>,
    /// Whether the broker may auto-create requested topics that do not exist, if
    /// it is configured to (v4+; earlier versions behave as `true`).
    pub allow_auto_topic_creation: bool,
    /// Whether to return the cluster's authorized operations (v8–v10).
    pub include_cluster_authorized_operations: bool,
    /// Whether to return each topic's authorized operations (v8+).
    pub include_topic_authorized_operations: bool,
    /// Unknown tagged fields (v9+).
    pub tagged_fields: TaggedFields,
}

impl Default for MetadataRequest {
    /// Every topic, auto-creation allowed (Kafka's defaults).
    fn default() -> Self {
        Self {
            topics: None,
            allow_auto_topic_creation: true,
            include_cluster_authorized_operations: false,
            include_topic_authorized_operations: false,
            tagged_fields: TaggedFields::new(),
        }
    }
}

/// One topic in a [`MetadataRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataRequestTopic {
    /// The topic id (v10+); all zeros when asking by name.
    pub topic_id: [u8; 16],
    /// The topic name; may be `None` from v10 when asking by id (brokers
    /// honour ids only from v12).
    pub name: Option<String>,
    /// Unknown tagged fields (v9+).
    pub tagged_fields: TaggedFields,
}

impl MetadataRequestTopic {
    /// A topic asked for by name.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            ..Self::default()
        }
    }
}

impl Default for MetadataRequestTopic {
    /// Zero id and an empty name (Kafka's defaults).
    fn default() -> Self {
        Self {
            topic_id: [0; 16],
            name: Some(String::new()),
            tagged_fields: TaggedFields::new(),
        }
    }
}

impl Message for MetadataRequest {
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        ApiKey::Metadata.check_encode(version)?;
        let flexible = ApiKey::Metadata.is_flexible(version);
        match &self.topics {
            None if version == 0 => put_array_len(buf, Some(0), flexible, "topics")?,
            Some(t) if version == 0 && t.is_empty() => {
                return Err(EncodeError::NotRepresentable {
                    what: "topics",
                    version,
                    reason: "an empty list means every topic in v0; use v1+ to ask for none",
                });
            }
            None => put_array_len(buf, None, flexible, "topics")?,
            Some(topics) => put_array(buf, topics, flexible, "topics", |buf, t| {
                if version >= 10 {
                    buf.put_slice(&t.topic_id);
                }
                put_topic_name(buf, t.name.as_deref(), version, 10, "topics.name")?;
                tagged_section::write(buf, &t.tagged_fields, flexible)?;
                Ok(())
            })?,
        }
        if version >= 4 {
            buf.put_u8(u8::from(self.allow_auto_topic_creation));
        }
        if (8..=10).contains(&version) {
            buf.put_u8(u8::from(self.include_cluster_authorized_operations));
        }
        if version >= 8 {
            buf.put_u8(u8::from(self.include_topic_authorized_operations));
        }
        tagged_section::write(buf, &self.tagged_fields, flexible)?;
        Ok(())
    }

    fn decode(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        ApiKey::Metadata.check_decode(version)?;
        let flexible = ApiKey::Metadata.is_flexible(version);
        let topic = |buf: &mut Bytes| -> Result<MetadataRequestTopic, DecodeError> {
            let topic_id = if version >= 10 {
                get_uuid(buf, "topics.topic_id")?
            } else {
                [0; 16]
            };
            Ok(MetadataRequestTopic {
                topic_id,
                name: get_topic_name(buf, version, 10, "topics.name")?,
                tagged_fields: tagged_section::read(buf, flexible)?,
            })
        };
        let topics = if version == 0 {
            Some(get_array(buf, flexible, "topics", topic)?).filter(|t| !t.is_empty())
        } else {
            get_nullable_array(buf, flexible, "topics", topic)?
        };
        let mut r = Self {
            topics,
            ..Self::default()
        };
        if version >= 4 {
            r.allow_auto_topic_creation = get_bool(buf, "allow_auto_topic_creation")?;
        }
        if (8..=10).contains(&version) {
            r.include_cluster_authorized_operations =
                get_bool(buf, "include_cluster_authorized_operations")?;
        }
        if version >= 8 {
            r.include_topic_authorized_operations =
                get_bool(buf, "include_topic_authorized_operations")?;
        }
        r.tagged_fields = tagged_section::read(buf, flexible)?;
        Ok(r)
    }
}

impl Request for MetadataRequest {
    const API_KEY: ApiKey = ApiKey::Metadata;
    type Response = MetadataResponse;
}

/// The cluster's brokers and the topics' partition leaders.
///
/// ```
/// use bytes::BytesMut;
/// use kproducer_protocol::{Message, messages::{MetadataResponse, MetadataResponseBroker}};
///
/// let resp = MetadataResponse {
///     brokers: vec![MetadataResponseBroker {
///         node_id: 1,
///         host: "127.0.0.1".into(),
///         port: 9092,
///         ..Default::default()
///     }],
///     controller_id: 1,
///     ..Default::default()
/// };
/// let mut buf = BytesMut::new();
/// resp.encode(&mut buf, 9).unwrap();
/// assert_eq!(MetadataResponse::decode(&mut buf.freeze(), 9).unwrap(), resp);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataResponse {
    /// Throttle time in milliseconds (v3+).
    pub throttle_time_ms: i32,
    /// The brokers in the cluster.
    pub brokers: Vec<MetadataResponseBroker>,
    /// The cluster id (v2+), `None` if the broker has none.
    pub cluster_id: Option<String>,
    /// The controller's broker id, -1 if unknown (v1+).
    pub controller_id: i32,
    /// Each requested topic.
    pub topics: Vec<MetadataResponseTopic>,
    /// Bit field of the cluster's authorized operations (v8–v10);
    /// [`AUTHORIZED_OPERATIONS_OMITTED`] when not requested.
    pub cluster_authorized_operations: i32,
    /// Unknown tagged fields (v9+).
    pub tagged_fields: TaggedFields,
}

impl Default for MetadataResponse {
    /// No brokers or topics, controller -1, operations omitted (Kafka's defaults).
    fn default() -> Self {
        Self {
            throttle_time_ms: 0,
            brokers: Vec::new(),
            cluster_id: None,
            controller_id: -1,
            topics: Vec::new(),
            cluster_authorized_operations: AUTHORIZED_OPERATIONS_OMITTED,
            tagged_fields: TaggedFields::new(),
        }
    }
}

/// One broker in a [`MetadataResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetadataResponseBroker {
    /// The broker id.
    pub node_id: i32,
    /// The broker's advertised host name.
    pub host: String,
    /// The broker's advertised port.
    pub port: i32,
    /// The broker's rack, `None` if unassigned (v1+).
    pub rack: Option<String>,
    /// Unknown tagged fields (v9+).
    pub tagged_fields: TaggedFields,
}

/// One topic in a [`MetadataResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataResponseTopic {
    /// The topic's error code, 0 for none.
    pub error_code: i16,
    /// The topic name; `None` only from v12, for an unknown topic asked for by id.
    pub name: Option<String>,
    /// The topic id (v10+), all zeros for an unknown topic asked for by name.
    pub topic_id: [u8; 16],
    /// True for Kafka's internal topics (v1+).
    pub is_internal: bool,
    /// Each partition of the topic.
    pub partitions: Vec<MetadataResponsePartition>,
    /// Bit field of the topic's authorized operations (v8+);
    /// [`AUTHORIZED_OPERATIONS_OMITTED`] when not requested.
    pub topic_authorized_operations: i32,
    /// Unknown tagged fields (v9+).
    pub tagged_fields: TaggedFields,
}

impl Default for MetadataResponseTopic {
    /// Empty name, zero id, operations omitted (Kafka's defaults).
    fn default() -> Self {
        Self {
            error_code: 0,
            name: Some(String::new()),
            topic_id: [0; 16],
            is_internal: false,
            partitions: Vec::new(),
            topic_authorized_operations: AUTHORIZED_OPERATIONS_OMITTED,
            tagged_fields: TaggedFields::new(),
        }
    }
}

/// One partition in a [`MetadataResponseTopic`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataResponsePartition {
    /// The partition's error code, 0 for none.
    pub error_code: i16,
    /// The partition index.
    pub partition_index: i32,
    /// The leader's broker id, -1 if there is none.
    pub leader_id: i32,
    /// The leader epoch, -1 if unknown (v7+).
    pub leader_epoch: i32,
    /// Every broker that hosts a replica.
    pub replica_nodes: Vec<i32>,
    /// The in-sync replicas.
    pub isr_nodes: Vec<i32>,
    /// Replicas that are offline (v5+).
    pub offline_replicas: Vec<i32>,
    /// Unknown tagged fields (v9+).
    pub tagged_fields: TaggedFields,
}

impl Default for MetadataResponsePartition {
    /// Leader epoch -1 (Kafka's default), everything else zero or empty.
    fn default() -> Self {
        Self {
            error_code: 0,
            partition_index: 0,
            leader_id: 0,
            leader_epoch: -1,
            replica_nodes: Vec::new(),
            isr_nodes: Vec::new(),
            offline_replicas: Vec::new(),
            tagged_fields: TaggedFields::new(),
        }
    }
}

fn put_ids(
    buf: &mut BytesMut,
    ids: &[i32],
    flexible: bool,
    what: &'static str,
) -> Result<(), EncodeError> {
    put_array(buf, ids, flexible, what, |buf, id| {
        buf.put_i32(*id);
        Ok(())
    })
}

fn get_ids(buf: &mut Bytes, flexible: bool, what: &'static str) -> Result<Vec<i32>, DecodeError> {
    get_array(buf, flexible, what, |buf| get_i32(buf, what))
}

fn encode_partition(
    buf: &mut BytesMut,
    p: &MetadataResponsePartition,
    version: i16,
) -> Result<(), EncodeError> {
    let flexible = ApiKey::Metadata.is_flexible(version);
    buf.put_i16(p.error_code);
    buf.put_i32(p.partition_index);
    buf.put_i32(p.leader_id);
    if version >= 7 {
        buf.put_i32(p.leader_epoch);
    }
    put_ids(buf, &p.replica_nodes, flexible, "replica_nodes")?;
    put_ids(buf, &p.isr_nodes, flexible, "isr_nodes")?;
    if version >= 5 {
        put_ids(buf, &p.offline_replicas, flexible, "offline_replicas")?;
    }
    tagged_section::write(buf, &p.tagged_fields, flexible)?;
    Ok(())
}

fn decode_partition(
    buf: &mut Bytes,
    version: i16,
) -> Result<MetadataResponsePartition, DecodeError> {
    let flexible = ApiKey::Metadata.is_flexible(version);
    let mut p = MetadataResponsePartition {
        error_code: get_i16(buf, "partitions.error_code")?,
        partition_index: get_i32(buf, "partitions.partition_index")?,
        leader_id: get_i32(buf, "partitions.leader_id")?,
        ..Default::default()
    };
    if version >= 7 {
        p.leader_epoch = get_i32(buf, "partitions.leader_epoch")?;
    }
    p.replica_nodes = get_ids(buf, flexible, "replica_nodes")?;
    p.isr_nodes = get_ids(buf, flexible, "isr_nodes")?;
    if version >= 5 {
        p.offline_replicas = get_ids(buf, flexible, "offline_replicas")?;
    }
    p.tagged_fields = tagged_section::read(buf, flexible)?;
    Ok(p)
}

fn encode_topic(
    buf: &mut BytesMut,
    t: &MetadataResponseTopic,
    version: i16,
) -> Result<(), EncodeError> {
    let flexible = ApiKey::Metadata.is_flexible(version);
    buf.put_i16(t.error_code);
    put_topic_name(buf, t.name.as_deref(), version, 12, "topics.name")?;
    if version >= 10 {
        buf.put_slice(&t.topic_id);
    }
    if version >= 1 {
        buf.put_u8(u8::from(t.is_internal));
    }
    put_array(buf, &t.partitions, flexible, "partitions", |buf, p| {
        encode_partition(buf, p, version)
    })?;
    if version >= 8 {
        buf.put_i32(t.topic_authorized_operations);
    }
    tagged_section::write(buf, &t.tagged_fields, flexible)?;
    Ok(())
}

fn decode_topic(buf: &mut Bytes, version: i16) -> Result<MetadataResponseTopic, DecodeError> {
    let flexible = ApiKey::Metadata.is_flexible(version);
    let mut t = MetadataResponseTopic {
        error_code: get_i16(buf, "topics.error_code")?,
        name: get_topic_name(buf, version, 12, "topics.name")?,
        ..Default::default()
    };
    if version >= 10 {
        t.topic_id = get_uuid(buf, "topics.topic_id")?;
    }
    if version >= 1 {
        t.is_internal = get_bool(buf, "topics.is_internal")?;
    }
    t.partitions = get_array(buf, flexible, "partitions", |buf| {
        decode_partition(buf, version)
    })?;
    if version >= 8 {
        t.topic_authorized_operations = get_i32(buf, "topics.topic_authorized_operations")?;
    }
    t.tagged_fields = tagged_section::read(buf, flexible)?;
    Ok(t)
}

impl Message for MetadataResponse {
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        ApiKey::Metadata.check_encode(version)?;
        let flexible = ApiKey::Metadata.is_flexible(version);
        if version >= 3 {
            buf.put_i32(self.throttle_time_ms);
        }
        put_array(buf, &self.brokers, flexible, "brokers", |buf, b| {
            buf.put_i32(b.node_id);
            put_string(buf, &b.host, flexible, "brokers.host")?;
            buf.put_i32(b.port);
            if version >= 1 {
                put_nullable_string(buf, b.rack.as_deref(), flexible, "brokers.rack")?;
            }
            tagged_section::write(buf, &b.tagged_fields, flexible)?;
            Ok(())
        })?;
        if version >= 2 {
            put_nullable_string(buf, self.cluster_id.as_deref(), flexible, "cluster_id")?;
        }
        if version >= 1 {
            buf.put_i32(self.controller_id);
        }
        put_array(buf, &self.topics, flexible, "topics", |buf, t| {
            encode_topic(buf, t, version)
        })?;
        if (8..=10).contains(&version) {
            buf.put_i32(self.cluster_authorized_operations);
        }
        tagged_section::write(buf, &self.tagged_fields, flexible)?;
        Ok(())
    }

    fn decode(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        ApiKey::Metadata.check_decode(version)?;
        let flexible = ApiKey::Metadata.is_flexible(version);
        let mut r = Self::default();
        if version >= 3 {
            r.throttle_time_ms = get_i32(buf, "throttle_time_ms")?;
        }
        r.brokers = get_array(buf, flexible, "brokers", |buf| {
            let mut b = MetadataResponseBroker {
                node_id: get_i32(buf, "brokers.node_id")?,
                host: get_string(buf, flexible, "brokers.host")?,
                port: get_i32(buf, "brokers.port")?,
                ..Default::default()
            };
            if version >= 1 {
                b.rack = get_nullable_string(buf, flexible, "brokers.rack")?;
            }
            b.tagged_fields = tagged_section::read(buf, flexible)?;
            Ok(b)
        })?;
        if version >= 2 {
            r.cluster_id = get_nullable_string(buf, flexible, "cluster_id")?;
        }
        if version >= 1 {
            r.controller_id = get_i32(buf, "controller_id")?;
        }
        r.topics = get_array(buf, flexible, "topics", |buf| decode_topic(buf, version))?;
        if (8..=10).contains(&version) {
            r.cluster_authorized_operations = get_i32(buf, "cluster_authorized_operations")?;
        }
        r.tagged_fields = tagged_section::read(buf, flexible)?;
        Ok(r)
    }
}
