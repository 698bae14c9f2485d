//! ListOffsets round trips at every supported version, plus hand-computed
//! bytes.

mod common;

use bytes::{Bytes, BytesMut};
use kproducer_protocol::messages::{
    ListOffsetsPartition, ListOffsetsPartitionResponse, ListOffsetsRequest, ListOffsetsResponse,
    ListOffsetsTopic, ListOffsetsTopicResponse,
};
use kproducer_protocol::{ApiKey, Message, TaggedFields};
use proptest::prelude::*;

fn request(v: i16) -> impl Strategy<Value = ListOffsetsRequest> {
    let flexible = ApiKey::ListOffsets.is_flexible(v);
    let partition = (
        any::<i32>(),
        any::<i32>(),
        any::<i64>(),
        common::tagged(flexible),
    )
        .prop_map(move |(partition_index, epoch, timestamp, tagged_fields)| {
            ListOffsetsPartition {
                partition_index,
                current_leader_epoch: if v >= 4 { epoch } else { -1 },
                timestamp,
                tagged_fields,
            }
        });
    let topic = (
        common::string(),
        proptest::collection::vec(partition, 0..3),
        common::tagged(flexible),
    )
        .prop_map(|(name, partitions, tagged_fields)| ListOffsetsTopic {
            name,
            partitions,
            tagged_fields,
        });
    (
        any::<i32>(),
        any::<i8>(),
        proptest::collection::vec(topic, 0..3),
        common::tagged(flexible),
    )
        .prop_map(
            move |(replica_id, isolation, topics, tagged_fields)| ListOffsetsRequest {
                replica_id,
                isolation_level: if v >= 2 { isolation } else { 0 },
                topics,
                tagged_fields,
            },
        )
}

fn response(v: i16) -> impl Strategy<Value = ListOffsetsResponse> {
    let flexible = ApiKey::ListOffsets.is_flexible(v);
    let partition = (
        any::<i32>(),
        any::<i16>(),
        any::<i64>(),
        any::<i64>(),
        any::<i32>(),
        common::tagged(flexible),
    )
        .prop_map(
            move |(partition_index, error_code, timestamp, offset, epoch, tagged_fields)| {
                ListOffsetsPartitionResponse {
                    partition_index,
                    error_code,
                    timestamp,
                    offset,
                    leader_epoch: if v >= 4 { epoch } else { -1 },
                    tagged_fields,
                }
            },
        );
    let topic = (
        common::string(),
        proptest::collection::vec(partition, 0..3),
        common::tagged(flexible),
    )
        .prop_map(
            |(name, partitions, tagged_fields)| ListOffsetsTopicResponse {
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
            move |(throttle, topics, tagged_fields)| ListOffsetsResponse {
                throttle_time_ms: if v >= 2 { throttle } else { 0 },
                topics,
                tagged_fields,
            },
        )
}

roundtrip!(
    list_offsets_request,
    ListOffsetsRequest,
    ApiKey::ListOffsets.versions(),
    request
);
roundtrip!(
    list_offsets_response,
    ListOffsetsResponse,
    ApiKey::ListOffsets.versions(),
    response
);

fn latest_of_t0() -> ListOffsetsRequest {
    ListOffsetsRequest {
        topics: vec![ListOffsetsTopic {
            name: "t".into(),
            partitions: vec![ListOffsetsPartition {
                partition_index: 0,
                timestamp: ListOffsetsPartition::LATEST,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn request_v1_bytes_have_no_isolation_level_or_epoch() {
    let expected: &[u8] = &[
        0xff, 0xff, 0xff, 0xff, // replica_id -1
        0, 0, 0, 1, // one topic
        0, 1, b't', // name
        0, 0, 0, 1, // one partition
        0, 0, 0, 0, // partition_index
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // timestamp LATEST
    ];
    let mut buf = BytesMut::new();
    latest_of_t0().encode(&mut buf, 1).unwrap();
    assert_eq!(&buf[..], expected);
    assert_eq!(
        ListOffsetsRequest::decode(&mut Bytes::from_static(expected), 1).unwrap(),
        latest_of_t0()
    );
}

#[test]
fn request_v6_bytes_are_flexible() {
    let mut req = latest_of_t0();
    req.isolation_level = 1;
    req.topics[0].partitions[0].current_leader_epoch = 4;
    let expected: &[u8] = &[
        0xff, 0xff, 0xff, 0xff, // replica_id -1
        1,    // isolation_level READ_COMMITTED
        2,    // one topic
        2, b't', // name
        2,    // one partition
        0, 0, 0, 0, // partition_index
        0, 0, 0, 4, // current_leader_epoch
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // timestamp
        0, 0, 0, // partition, topic, request tagged sections
    ];
    let mut buf = BytesMut::new();
    req.encode(&mut buf, 6).unwrap();
    assert_eq!(&buf[..], expected);
}

#[test]
fn response_v4_bytes() {
    let expected: &[u8] = &[
        0, 0, 0, 0, // throttle_time_ms
        0, 0, 0, 1, // one topic
        0, 1, b't', // name
        0, 0, 0, 1, // one partition
        0, 0, 0, 0, // partition_index
        0, 0, // error_code
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // timestamp -1
        0, 0, 0, 0, 0, 0, 0, 42, // offset
        0, 0, 0, 3, // leader_epoch
    ];
    let resp = ListOffsetsResponse::decode(&mut Bytes::from_static(expected), 4).unwrap();
    assert_eq!(
        resp.topics[0].partitions[0],
        ListOffsetsPartitionResponse {
            partition_index: 0,
            error_code: 0,
            timestamp: -1,
            offset: 42,
            leader_epoch: 3,
            tagged_fields: TaggedFields::new(),
        }
    );
    let mut buf = BytesMut::new();
    resp.encode(&mut buf, 4).unwrap();
    assert_eq!(&buf[..], expected);
}

#[test]
fn request_v4_adds_isolation_level_and_leader_epoch() {
    let mut req = latest_of_t0();
    req.topics[0].partitions[0].current_leader_epoch = 4;
    let mut v3 = BytesMut::new();
    req.encode(&mut v3, 3).unwrap();
    let mut v4 = BytesMut::new();
    req.encode(&mut v4, 4).unwrap();
    let expected_v4: &[u8] = &[
        0xff, 0xff, 0xff, 0xff, // replica_id -1
        0,    // isolation_level (v2+)
        0, 0, 0, 1, // one topic
        0, 1, b't', // name
        0, 0, 0, 1, // one partition
        0, 0, 0, 0, // partition_index
        0, 0, 0, 4, // current_leader_epoch (v4+)
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // timestamp
    ];
    assert_eq!(&v4[..], expected_v4);
    assert_eq!(v3.len(), expected_v4.len() - 4, "v3 has no leader epoch");
    // Decoding at v3 leaves the absent epoch at its default.
    let back = ListOffsetsRequest::decode(&mut v3.freeze(), 3).unwrap();
    assert_eq!(back.topics[0].partitions[0].current_leader_epoch, -1);
}

/// Hand-computed sizes at every version, from Kafka's
/// `ListOffsetsRequest.json` and `ListOffsetsResponse.json`.
#[test]
fn encoded_size_at_every_version() {
    let req = ListOffsetsRequest {
        topics: vec![ListOffsetsTopic {
            name: "t".into(),
            partitions: vec![ListOffsetsPartition::default()],
            ..Default::default()
        }],
        ..Default::default()
    };
    let resp = ListOffsetsResponse {
        topics: vec![ListOffsetsTopicResponse {
            name: "t".into(),
            partitions: vec![ListOffsetsPartitionResponse::default()],
            ..Default::default()
        }],
        ..Default::default()
    };
    // Request: 4 + topic (4 + 3 + 4 + partition 12) = 27 at v1; v2
    // isolation_level +1; v4 current_leader_epoch +4; v6 compact.
    let req_sizes = [27, 28, 28, 32, 32, 28, 28];
    // Response: topic (4 + 3 + 4 + partition 22) = 33 at v1; v2
    // throttle_time_ms +4; v4 leader_epoch +4; v6 compact.
    let resp_sizes = [33, 37, 37, 41, 41, 37, 37];
    for v in 1..=7i16 {
        let i = (v - 1) as usize;
        assert_eq!(common::encode(&req, v).len(), req_sizes[i], "request v{v}");
        assert_eq!(
            common::encode(&resp, v).len(),
            resp_sizes[i],
            "response v{v}"
        );
    }
}
