//! AddPartitionsToTxn round trips at every supported version, plus
//! hand-computed bytes.

mod common;

use bytes::{Bytes, BytesMut};
use kproducer_protocol::messages::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnRequest, AddPartitionsToTxnResponse,
    AddPartitionsToTxnTopic, AddPartitionsToTxnTopicResult,
};
use kproducer_protocol::{ApiKey, Message, TaggedFields};
use proptest::prelude::*;

fn request(v: i16) -> impl Strategy<Value = AddPartitionsToTxnRequest> {
    let flexible = ApiKey::AddPartitionsToTxn.is_flexible(v);
    let topic = (
        common::string(),
        proptest::collection::vec(any::<i32>(), 0..4),
        common::tagged(flexible),
    )
        .prop_map(
            |(name, partitions, tagged_fields)| AddPartitionsToTxnTopic {
                name,
                partitions,
                tagged_fields,
            },
        );
    (
        common::string(),
        any::<i64>(),
        any::<i16>(),
        proptest::collection::vec(topic, 0..3),
        common::tagged(flexible),
    )
        .prop_map(
            |(transactional_id, producer_id, producer_epoch, topics, tagged_fields)| {
                AddPartitionsToTxnRequest {
                    transactional_id,
                    producer_id,
                    producer_epoch,
                    topics,
                    tagged_fields,
                }
            },
        )
}

fn response(v: i16) -> impl Strategy<Value = AddPartitionsToTxnResponse> {
    let flexible = ApiKey::AddPartitionsToTxn.is_flexible(v);
    let partition = (any::<i32>(), any::<i16>(), common::tagged(flexible)).prop_map(
        |(partition_index, error_code, tagged_fields)| AddPartitionsToTxnPartitionResult {
            partition_index,
            error_code,
            tagged_fields,
        },
    );
    let topic = (
        common::string(),
        proptest::collection::vec(partition, 0..3),
        common::tagged(flexible),
    )
        .prop_map(
            |(name, results, tagged_fields)| AddPartitionsToTxnTopicResult {
                name,
                results,
                tagged_fields,
            },
        );
    (
        any::<i32>(),
        proptest::collection::vec(topic, 0..3),
        common::tagged(flexible),
    )
        .prop_map(
            |(throttle_time_ms, results, tagged_fields)| AddPartitionsToTxnResponse {
                throttle_time_ms,
                results,
                tagged_fields,
            },
        )
}

roundtrip!(
    add_partitions_to_txn_request,
    AddPartitionsToTxnRequest,
    ApiKey::AddPartitionsToTxn.versions(),
    request
);
roundtrip!(
    add_partitions_to_txn_response,
    AddPartitionsToTxnResponse,
    ApiKey::AddPartitionsToTxn.versions(),
    response
);

fn one_topic() -> AddPartitionsToTxnRequest {
    AddPartitionsToTxnRequest {
        transactional_id: "t".into(),
        producer_id: 5,
        producer_epoch: 1,
        topics: vec![AddPartitionsToTxnTopic {
            name: "a".into(),
            partitions: vec![0, 2],
            tagged_fields: TaggedFields::new(),
        }],
        tagged_fields: TaggedFields::new(),
    }
}

#[test]
fn request_v0_bytes() {
    let expected: &[u8] = &[
        0, 1, b't', // transactional_id
        0, 0, 0, 0, 0, 0, 0, 5, // producer_id
        0, 1, // producer_epoch
        0, 0, 0, 1, // one topic
        0, 1, b'a', // name
        0, 0, 0, 2, // two partitions
        0, 0, 0, 0, //
        0, 0, 0, 2,
    ];
    let mut buf = BytesMut::new();
    one_topic().encode(&mut buf, 0).unwrap();
    assert_eq!(&buf[..], expected);
    assert_eq!(
        AddPartitionsToTxnRequest::decode(&mut Bytes::from_static(expected), 0).unwrap(),
        one_topic()
    );
}

#[test]
fn request_v3_bytes() {
    let expected: &[u8] = &[
        2, b't', // compact transactional_id
        0, 0, 0, 0, 0, 0, 0, 5, // producer_id
        0, 1, // producer_epoch
        2, // one topic (compact: n + 1)
        2, b'a', // name
        3,    // two partitions
        0, 0, 0, 0, //
        0, 0, 0, 2, //
        0, // topic tagged fields
        0, // request tagged fields
    ];
    let mut buf = BytesMut::new();
    one_topic().encode(&mut buf, 3).unwrap();
    assert_eq!(&buf[..], expected);
}

#[test]
fn response_v2_bytes() {
    let expected: &[u8] = &[
        0, 0, 0, 0, // throttle_time_ms
        0, 0, 0, 1, // one topic
        0, 1, b'a', // name
        0, 0, 0, 1, // one partition
        0, 0, 0, 3, // partition_index
        0, 90, // PRODUCER_FENCED
    ];
    let resp = AddPartitionsToTxnResponse::decode(&mut Bytes::from_static(expected), 2).unwrap();
    assert_eq!(resp.results[0].results[0].partition_index, 3);
    assert_eq!(resp.results[0].results[0].error_code, 90);
    let mut buf = BytesMut::new();
    resp.encode(&mut buf, 2).unwrap();
    assert_eq!(&buf[..], expected);
}
