//! TxnOffsetCommit round trips at every supported version, plus
//! hand-computed bytes for v0 and v3 and the refusal to drop KIP-447 group
//! metadata below v3.

mod common;

use bytes::{Bytes, BytesMut};
use kproducer_protocol::messages::{
    TxnOffsetCommitPartition, TxnOffsetCommitPartitionResult, TxnOffsetCommitRequest,
    TxnOffsetCommitResponse, TxnOffsetCommitTopic, TxnOffsetCommitTopicResult,
};
use kproducer_protocol::{ApiKey, EncodeError, Message, TaggedFields};
use proptest::prelude::*;

fn partition(v: i16) -> impl Strategy<Value = TxnOffsetCommitPartition> {
    let flexible = ApiKey::TxnOffsetCommit.is_flexible(v);
    let epoch = if v >= 2 {
        any::<i32>().boxed()
    } else {
        Just(-1).boxed()
    };
    (
        any::<i32>(),
        any::<i64>(),
        epoch,
        common::nullable_string(),
        common::tagged(flexible),
    )
        .prop_map(
            |(partition_index, committed_offset, committed_leader_epoch, metadata, tagged)| {
                TxnOffsetCommitPartition {
                    partition_index,
                    committed_offset,
                    committed_leader_epoch,
                    committed_metadata: metadata,
                    tagged_fields: tagged,
                }
            },
        )
}

fn topic(v: i16) -> impl Strategy<Value = TxnOffsetCommitTopic> {
    let flexible = ApiKey::TxnOffsetCommit.is_flexible(v);
    (
        common::string(),
        proptest::collection::vec(partition(v), 0..4),
        common::tagged(flexible),
    )
        .prop_map(|(name, partitions, tagged_fields)| TxnOffsetCommitTopic {
            name,
            partitions,
            tagged_fields,
        })
}

fn request(v: i16) -> impl Strategy<Value = TxnOffsetCommitRequest> {
    let flexible = ApiKey::TxnOffsetCommit.is_flexible(v);
    let group = if v >= 3 {
        (any::<i32>(), common::string(), common::nullable_string()).boxed()
    } else {
        Just((-1, String::new(), None)).boxed()
    };
    (
        (
            common::string(),
            common::string(),
            any::<i64>(),
            any::<i16>(),
        ),
        group,
        proptest::collection::vec(topic(v), 0..3),
        common::tagged(flexible),
    )
        .prop_map(
            |(
                (transactional_id, group_id, producer_id, producer_epoch),
                (generation_id, member_id, group_instance_id),
                topics,
                tagged_fields,
            )| TxnOffsetCommitRequest {
                transactional_id,
                group_id,
                producer_id,
                producer_epoch,
                generation_id,
                member_id,
                group_instance_id,
                topics,
                tagged_fields,
            },
        )
}

fn response(v: i16) -> impl Strategy<Value = TxnOffsetCommitResponse> {
    let flexible = ApiKey::TxnOffsetCommit.is_flexible(v);
    let result = (any::<i32>(), any::<i16>(), common::tagged(flexible)).prop_map(
        |(partition_index, error_code, tagged_fields)| TxnOffsetCommitPartitionResult {
            partition_index,
            error_code,
            tagged_fields,
        },
    );
    let topic = (
        common::string(),
        proptest::collection::vec(result, 0..4),
        common::tagged(flexible),
    )
        .prop_map(
            |(name, partitions, tagged_fields)| TxnOffsetCommitTopicResult {
                name,
                partitions,
                tagged_fields,
            },
        );
    (
        any::<i32>(),
        proptest::collection::vec(topic, 0..3),
        common::tagged(flexible),
    )
        .prop_map(
            |(throttle_time_ms, topics, tagged_fields)| TxnOffsetCommitResponse {
                throttle_time_ms,
                topics,
                tagged_fields,
            },
        )
}

roundtrip!(
    txn_offset_commit_request,
    TxnOffsetCommitRequest,
    ApiKey::TxnOffsetCommit.versions(),
    request
);
roundtrip!(
    txn_offset_commit_response,
    TxnOffsetCommitResponse,
    ApiKey::TxnOffsetCommit.versions(),
    response
);

/// One offset (partition 1 of "t" at 42, leader epoch 3, metadata "md")
/// for group "g", with or without the consumer's group metadata.
fn sample(with_group_metadata: bool) -> TxnOffsetCommitRequest {
    TxnOffsetCommitRequest {
        transactional_id: "tx".into(),
        group_id: "g".into(),
        producer_id: 0x0102_0304_0506_0708,
        producer_epoch: 9,
        generation_id: if with_group_metadata { 5 } else { -1 },
        member_id: if with_group_metadata {
            "m".into()
        } else {
            String::new()
        },
        group_instance_id: None,
        topics: vec![TxnOffsetCommitTopic {
            name: "t".into(),
            partitions: vec![TxnOffsetCommitPartition {
                partition_index: 1,
                committed_offset: 42,
                committed_leader_epoch: 3,
                committed_metadata: Some("md".into()),
                tagged_fields: TaggedFields::new(),
            }],
            tagged_fields: TaggedFields::new(),
        }],
        tagged_fields: TaggedFields::new(),
    }
}

#[test]
fn request_v0_bytes_drop_the_leader_epoch() {
    let mut buf = BytesMut::new();
    sample(false).encode(&mut buf, 0).unwrap();
    let expected: &[u8] = &[
        0, 2, b't', b'x', // transactional_id
        0, 1, b'g', // group_id
        1, 2, 3, 4, 5, 6, 7, 8, // producer_id
        0, 9, // producer_epoch
        0, 0, 0, 1, // one topic
        0, 1, b't', // topic name
        0, 0, 0, 1, // one partition
        0, 0, 0, 1, // partition_index
        0, 0, 0, 0, 0, 0, 0, 42, // committed_offset
        0, 2, b'm', b'd', // committed_metadata (no leader epoch before v2)
    ];
    assert_eq!(&buf[..], expected);
    let back = TxnOffsetCommitRequest::decode(&mut Bytes::from_static(expected), 0).unwrap();
    let mut without_epoch = sample(false);
    without_epoch.topics[0].partitions[0].committed_leader_epoch = -1;
    assert_eq!(back, without_epoch);
}

#[test]
fn request_v3_bytes_carry_group_metadata() {
    let mut buf = BytesMut::new();
    sample(true).encode(&mut buf, 3).unwrap();
    let expected: &[u8] = &[
        3, b't', b'x', // compact transactional_id
        2, b'g', // compact group_id
        1, 2, 3, 4, 5, 6, 7, 8, // producer_id
        0, 9, // producer_epoch
        0, 0, 0, 5, // generation_id
        2, b'm', // compact member_id
        0,    // group_instance_id: null
        2,    // compact array: one topic
        2, b't', // topic name
        2,    // one partition
        0, 0, 0, 1, // partition_index
        0, 0, 0, 0, 0, 0, 0, 42, // committed_offset
        0, 0, 0, 3, // committed_leader_epoch
        3, b'm', b'd', // compact committed_metadata
        0,    // partition tagged fields
        0,    // topic tagged fields
        0,    // request tagged fields
    ];
    assert_eq!(&buf[..], expected);
    let back = TxnOffsetCommitRequest::decode(&mut Bytes::from_static(expected), 3).unwrap();
    assert_eq!(back, sample(true));
}

#[test]
fn group_metadata_below_v3_is_refused_not_dropped() {
    for v in 0..3 {
        let err = sample(true).encode(&mut BytesMut::new(), v).unwrap_err();
        assert!(
            matches!(err, EncodeError::NotRepresentable { version, .. } if version == v),
            "v{v}: {err}"
        );
        let static_member = TxnOffsetCommitRequest {
            group_instance_id: Some("instance-1".into()),
            ..sample(false)
        };
        assert!(static_member.encode(&mut BytesMut::new(), v).is_err());
        assert!(sample(false).encode(&mut BytesMut::new(), v).is_ok());
    }
}

#[test]
fn response_bytes() {
    let resp = TxnOffsetCommitResponse {
        throttle_time_ms: 0,
        topics: vec![TxnOffsetCommitTopicResult {
            name: "t".into(),
            partitions: vec![TxnOffsetCommitPartitionResult {
                partition_index: 1,
                error_code: 25, // UNKNOWN_MEMBER_ID
                tagged_fields: TaggedFields::new(),
            }],
            tagged_fields: TaggedFields::new(),
        }],
        tagged_fields: TaggedFields::new(),
    };
    let mut v2 = BytesMut::new();
    resp.encode(&mut v2, 2).unwrap();
    let v2_expected: &[u8] = &[
        0, 0, 0, 0, // throttle_time_ms
        0, 0, 0, 1, 0, 1, b't', // one topic "t"
        0, 0, 0, 1, 0, 0, 0, 1, 0, 25, // one partition: 1, UNKNOWN_MEMBER_ID
    ];
    assert_eq!(&v2[..], v2_expected);
    let mut v3 = BytesMut::new();
    resp.encode(&mut v3, 3).unwrap();
    let v3_expected: &[u8] = &[
        0, 0, 0, 0, // throttle_time_ms
        2, 2, b't', // one topic "t"
        2, 0, 0, 0, 1, 0, 25, 0, // one partition + its tagged fields
        0, // topic tagged fields
        0, // response tagged fields
    ];
    assert_eq!(&v3[..], v3_expected);
    assert_eq!(
        TxnOffsetCommitResponse::decode(&mut Bytes::from_static(v3_expected), 3).unwrap(),
        resp
    );
}

#[test]
fn unsupported_versions_are_refused() {
    assert!(sample(true).encode(&mut BytesMut::new(), 4).is_err());
    assert!(TxnOffsetCommitRequest::decode(&mut Bytes::new(), -1).is_err());
}
