//! Metadata round trips at every supported version, plus known encodings.

mod common;

use common::{encode, gated};

use bytes::{Bytes, BytesMut};
use kproducer_protocol::messages::{
    AUTHORIZED_OPERATIONS_OMITTED, MetadataRequest, MetadataRequestTopic, MetadataResponse,
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kproducer_protocol::{ApiKey, EncodeError, Message, TaggedFields};
use proptest::prelude::*;

fn ids() -> impl Strategy<Value = Vec<i32>> {
    proptest::collection::vec(any::<i32>(), 0..4)
}

fn request_topic(v: i16) -> impl Strategy<Value = MetadataRequestTopic> {
    (
        gated(v >= 10, any::<[u8; 16]>(), [0; 16]),
        gated(v >= 10, common::nullable_string(), Some(String::new())),
        common::string(),
        common::tagged(v >= 9),
    )
        .prop_map(
            move |(topic_id, nullable_name, name, tagged_fields)| MetadataRequestTopic {
                topic_id,
                name: if v >= 10 { nullable_name } else { Some(name) },
                tagged_fields,
            },
        )
}

fn request(v: i16) -> impl Strategy<Value = MetadataRequest> {
    // v0 cannot say "no topics": an empty list there means every topic.
    let min_topics = if v == 0 { 1 } else { 0 };
    (
        proptest::option::of(proptest::collection::vec(request_topic(v), min_topics..4)),
        gated(v >= 4, any::<bool>(), true),
        gated((8..=10).contains(&v), any::<bool>(), false),
        gated(v >= 8, any::<bool>(), false),
        common::tagged(v >= 9),
    )
        .prop_map(
            |(topics, auto, cluster_ops, topic_ops, tagged_fields)| MetadataRequest {
                topics,
                allow_auto_topic_creation: auto,
                include_cluster_authorized_operations: cluster_ops,
                include_topic_authorized_operations: topic_ops,
                tagged_fields,
            },
        )
}

fn broker(v: i16) -> impl Strategy<Value = MetadataResponseBroker> {
    (
        any::<i32>(),
        common::string(),
        any::<i32>(),
        gated(v >= 1, common::nullable_string(), None),
        common::tagged(v >= 9),
    )
        .prop_map(
            |(node_id, host, port, rack, tagged_fields)| MetadataResponseBroker {
                node_id,
                host,
                port,
                rack,
                tagged_fields,
            },
        )
}

fn partition(v: i16) -> impl Strategy<Value = MetadataResponsePartition> {
    (
        any::<i16>(),
        any::<i32>(),
        any::<i32>(),
        gated(v >= 7, any::<i32>(), -1),
        ids(),
        ids(),
        gated(v >= 5, ids(), Vec::new()),
        common::tagged(v >= 9),
    )
        .prop_map(
            |(error_code, partition_index, leader_id, leader_epoch, replicas, isr, offline, tf)| {
                MetadataResponsePartition {
                    error_code,
                    partition_index,
                    leader_id,
                    leader_epoch,
                    replica_nodes: replicas,
                    isr_nodes: isr,
                    offline_replicas: offline,
                    tagged_fields: tf,
                }
            },
        )
}

fn topic(v: i16) -> impl Strategy<Value = MetadataResponseTopic> {
    (
        any::<i16>(),
        gated(v >= 12, common::nullable_string(), None),
        common::string(),
        gated(v >= 10, any::<[u8; 16]>(), [0; 16]),
        gated(v >= 1, any::<bool>(), false),
        proptest::collection::vec(partition(v), 0..3),
        gated(v >= 8, any::<i32>(), AUTHORIZED_OPERATIONS_OMITTED),
        common::tagged(v >= 9),
    )
        .prop_map(
            move |(error_code, nullable_name, name, topic_id, internal, partitions, ops, tf)| {
                MetadataResponseTopic {
                    error_code,
                    name: if v >= 12 { nullable_name } else { Some(name) },
                    topic_id,
                    is_internal: internal,
                    partitions,
                    topic_authorized_operations: ops,
                    tagged_fields: tf,
                }
            },
        )
}

fn response(v: i16) -> impl Strategy<Value = MetadataResponse> {
    (
        gated(v >= 3, any::<i32>(), 0),
        proptest::collection::vec(broker(v), 0..3),
        gated(v >= 2, common::nullable_string(), None),
        gated(v >= 1, any::<i32>(), -1),
        proptest::collection::vec(topic(v), 0..3),
        gated(
            (8..=10).contains(&v),
            any::<i32>(),
            AUTHORIZED_OPERATIONS_OMITTED,
        ),
        common::tagged(v >= 9),
    )
        .prop_map(
            |(throttle, brokers, cluster_id, controller_id, topics, ops, tf)| MetadataResponse {
                throttle_time_ms: throttle,
                brokers,
                cluster_id,
                controller_id,
                topics,
                cluster_authorized_operations: ops,
                tagged_fields: tf,
            },
        )
}

roundtrip!(
    metadata_request,
    MetadataRequest,
    ApiKey::Metadata.versions(),
    request
);
roundtrip!(
    metadata_response,
    MetadataResponse,
    ApiKey::Metadata.versions(),
    response
);

#[test]
fn v1_request_known_bytes() {
    let req = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic::named("ab")]),
        ..Default::default()
    };
    // INT32 count 1, INT16 length 2, "ab".
    assert_eq!(encode(&req, 1), [0, 0, 0, 1, 0, 2, b'a', b'b']);
    // Null list (every topic) is an INT32 -1 from v1.
    assert_eq!(
        encode(&MetadataRequest::default(), 1),
        [0xff, 0xff, 0xff, 0xff]
    );
}

#[test]
fn v0_every_topic_is_an_empty_list_and_none_is_unrepresentable() {
    assert_eq!(encode(&MetadataRequest::default(), 0), [0, 0, 0, 0]);
    let back = MetadataRequest::decode(&mut Bytes::from_static(&[0, 0, 0, 0]), 0).unwrap();
    assert_eq!(back.topics, None);
    let none = MetadataRequest {
        topics: Some(Vec::new()),
        ..Default::default()
    };
    assert!(matches!(
        none.encode(&mut BytesMut::new(), 0),
        Err(EncodeError::NotRepresentable { what: "topics", .. })
    ));
    // From v1 an empty list means no topics, distinct from null.
    assert_eq!(encode(&none, 1), [0, 0, 0, 0]);
}

#[test]
fn v9_request_known_bytes() {
    let req = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic::named("ab")]),
        allow_auto_topic_creation: true,
        include_cluster_authorized_operations: false,
        include_topic_authorized_operations: true,
        tagged_fields: TaggedFields::new(),
    };
    // Compact count 1+1, compact string 2+1 "ab", topic tags, auto=1,
    // cluster ops=0, topic ops=1, tags.
    assert_eq!(encode(&req, 9), [2, 3, b'a', b'b', 0, 1, 0, 1, 0]);
    // v11 drops include_cluster_authorized_operations.
    let want: Vec<u8> = [&[2u8][..], &[0; 16], &[3, b'a', b'b', 0, 1, 1, 0]].concat();
    assert_eq!(encode(&req, 11), want);
}

#[test]
fn null_topic_name_needs_v10() {
    let req = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            topic_id: [7; 16],
            name: None,
            tagged_fields: TaggedFields::new(),
        }]),
        ..Default::default()
    };
    assert!(matches!(
        req.encode(&mut BytesMut::new(), 9),
        Err(EncodeError::NullNotAllowed {
            what: "topics.name",
            version: 9
        })
    ));
    // v12: compact count 2, uuid, compact null name 0, tags 0, auto 1, topic ops 0, tags 0.
    let mut want = vec![2];
    want.extend_from_slice(&[7; 16]);
    want.extend_from_slice(&[0, 0, 1, 0, 0]);
    assert_eq!(encode(&req, 12), want);
}

#[test]
fn v1_response_known_bytes() {
    let resp = MetadataResponse {
        brokers: vec![MetadataResponseBroker {
            node_id: 1,
            host: "h".into(),
            port: 9092,
            rack: None,
            tagged_fields: TaggedFields::new(),
        }],
        controller_id: 1,
        topics: vec![MetadataResponseTopic {
            name: Some("t".into()),
            partitions: vec![MetadataResponsePartition {
                partition_index: 0,
                leader_id: 1,
                replica_nodes: vec![1],
                isr_nodes: vec![1],
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    #[rustfmt::skip]
    let want: &[u8] = &[
        0, 0, 0, 1,                   // brokers: 1
        0, 0, 0, 1, 0, 1, b'h',       //   node_id 1, host "h"
        0, 0, 0x23, 0x84, 0xff, 0xff, //   port 9092, rack null
        0, 0, 0, 1,                   // controller_id 1
        0, 0, 0, 1,                   // topics: 1
        0, 0, 0, 1, b't', 0,          //   error 0, name "t", is_internal false
        0, 0, 0, 1,                   //   partitions: 1
        0, 0, 0, 0, 0, 0, 0, 0, 0, 1, //     error 0, index 0, leader 1
        0, 0, 0, 1, 0, 0, 0, 1,       //     replicas [1]
        0, 0, 0, 1, 0, 0, 0, 1,       //     isr [1]
    ];
    assert_eq!(encode(&resp, 1), want);
    assert_eq!(
        MetadataResponse::decode(&mut Bytes::from_static(want), 1).unwrap(),
        resp
    );
}

#[test]
fn null_response_topic_name_needs_v12() {
    let resp = MetadataResponse {
        topics: vec![MetadataResponseTopic {
            name: None,
            ..Default::default()
        }],
        ..Default::default()
    };
    assert!(resp.encode(&mut BytesMut::new(), 11).is_err());
    let bytes = encode(&resp, 12);
    let back = MetadataResponse::decode(&mut Bytes::from(bytes), 12).unwrap();
    assert_eq!(back.topics[0].name, None);
}

#[test]
fn unsupported_versions_are_rejected() {
    assert!(
        MetadataRequest::default()
            .encode(&mut BytesMut::new(), 13)
            .is_err()
    );
    assert!(MetadataResponse::decode(&mut Bytes::new(), -1).is_err());
}

/// Hand-computed sizes at every version: a field added or dropped at the
/// wrong version changes the size even when encode and decode agree.
#[test]
fn encoded_size_at_every_version() {
    let req = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic::named("ab")]),
        ..Default::default()
    };
    let resp = MetadataResponse {
        brokers: vec![MetadataResponseBroker {
            node_id: 1,
            host: "h".into(),
            port: 9092,
            ..Default::default()
        }],
        topics: vec![MetadataResponseTopic {
            name: Some("t".into()),
            partitions: vec![MetadataResponsePartition {
                replica_nodes: vec![1],
                isr_nodes: vec![1],
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let req_sizes = [8, 8, 8, 8, 9, 9, 9, 9, 11, 9, 25, 24, 24];
    let resp_sizes = [54, 61, 63, 67, 67, 71, 71, 75, 83, 65, 81, 77, 77];
    for v in 0..=12i16 {
        assert_eq!(encode(&req, v).len(), req_sizes[v as usize], "request v{v}");
        assert_eq!(
            encode(&resp, v).len(),
            resp_sizes[v as usize],
            "response v{v}"
        );
    }
}
