//! Fetch round trips at every supported version, plus hand-computed bytes.

mod common;

use bytes::{Bytes, BytesMut};
use kproducer_protocol::messages::{
    AbortedTransaction, FetchPartition, FetchRequest, FetchResponse, FetchResponsePartition,
    FetchResponseTopic, FetchTopic, ForgottenTopic,
};
use kproducer_protocol::{ApiKey, Message, TaggedFields};
use proptest::prelude::*;

fn fetch_partition(v: i16) -> impl Strategy<Value = FetchPartition> {
    let flexible = ApiKey::Fetch.is_flexible(v);
    (
        any::<i32>(),
        any::<i32>(),
        any::<i64>(),
        any::<i32>(),
        any::<i64>(),
        any::<i32>(),
        common::tagged(flexible),
    )
        .prop_map(
            move |(partition, epoch, fetch_offset, last_epoch, log_start_offset, max, tagged)| {
                FetchPartition {
                    partition,
                    current_leader_epoch: if v >= 9 { epoch } else { -1 },
                    fetch_offset,
                    last_fetched_epoch: if v >= 12 { last_epoch } else { -1 },
                    log_start_offset: if v >= 5 { log_start_offset } else { -1 },
                    partition_max_bytes: max,
                    tagged_fields: tagged,
                }
            },
        )
}

fn request(v: i16) -> impl Strategy<Value = FetchRequest> {
    let flexible = ApiKey::Fetch.is_flexible(v);
    let topic = (
        common::string(),
        proptest::collection::vec(fetch_partition(v), 0..3),
        common::tagged(flexible),
    )
        .prop_map(|(topic, partitions, tagged_fields)| FetchTopic {
            topic,
            partitions,
            tagged_fields,
        });
    let forgotten = (
        common::string(),
        proptest::collection::vec(any::<i32>(), 0..3),
        common::tagged(flexible),
    )
        .prop_map(|(topic, partitions, tagged_fields)| ForgottenTopic {
            topic,
            partitions,
            tagged_fields,
        });
    let head = (
        any::<i32>(),
        any::<i32>(),
        any::<i32>(),
        any::<i32>(),
        any::<i8>(),
        any::<i32>(),
        any::<i32>(),
    );
    let tail = (
        proptest::collection::vec(topic, 0..3),
        proptest::collection::vec(forgotten, 0..2),
        common::string(),
        common::nullable_string(),
        common::tagged(flexible),
    );
    (head, tail).prop_map(
        move |(
            (replica_id, max_wait_ms, min_bytes, max_bytes, isolation_level, sid, sepoch),
            (topics, forgotten, rack, cluster_id, tagged_fields),
        )| FetchRequest {
            replica_id,
            max_wait_ms,
            min_bytes,
            max_bytes,
            isolation_level,
            session_id: if v >= 7 { sid } else { 0 },
            session_epoch: if v >= 7 { sepoch } else { -1 },
            topics,
            forgotten_topics_data: if v >= 7 { forgotten } else { Vec::new() },
            rack_id: if v >= 11 { rack } else { String::new() },
            cluster_id: if v >= 12 { cluster_id } else { None },
            tagged_fields,
        },
    )
}

fn response_partition(v: i16) -> impl Strategy<Value = FetchResponsePartition> {
    let flexible = ApiKey::Fetch.is_flexible(v);
    let aborted = (any::<i64>(), any::<i64>(), common::tagged(flexible)).prop_map(
        |(producer_id, first_offset, tagged_fields)| AbortedTransaction {
            producer_id,
            first_offset,
            tagged_fields,
        },
    );
    (
        (
            any::<i32>(),
            any::<i16>(),
            any::<i64>(),
            any::<i64>(),
            any::<i64>(),
        ),
        proptest::option::of(proptest::collection::vec(aborted, 0..3)),
        any::<i32>(),
        proptest::option::of(common::bytes()),
        common::tagged(flexible),
    )
        .prop_map(
            move |(
                (partition_index, error_code, high_watermark, lso, log_start),
                aborted_transactions,
                preferred,
                records,
                tagged_fields,
            )| FetchResponsePartition {
                partition_index,
                error_code,
                high_watermark,
                last_stable_offset: lso,
                log_start_offset: if v >= 5 { log_start } else { -1 },
                aborted_transactions,
                preferred_read_replica: if v >= 11 { preferred } else { -1 },
                records,
                tagged_fields,
            },
        )
}

fn response(v: i16) -> impl Strategy<Value = FetchResponse> {
    let flexible = ApiKey::Fetch.is_flexible(v);
    let topic = (
        common::string(),
        proptest::collection::vec(response_partition(v), 0..3),
        common::tagged(flexible),
    )
        .prop_map(|(topic, partitions, tagged_fields)| FetchResponseTopic {
            topic,
            partitions,
            tagged_fields,
        });
    (
        any::<i32>(),
        any::<i16>(),
        any::<i32>(),
        proptest::collection::vec(topic, 0..3),
        common::tagged(flexible),
    )
        .prop_map(
            move |(throttle_time_ms, error_code, session_id, responses, tagged_fields)| {
                FetchResponse {
                    throttle_time_ms,
                    error_code: if v >= 7 { error_code } else { 0 },
                    session_id: if v >= 7 { session_id } else { 0 },
                    responses,
                    tagged_fields,
                }
            },
        )
}

roundtrip!(
    fetch_request,
    FetchRequest,
    ApiKey::Fetch.versions(),
    request
);
roundtrip!(
    fetch_response,
    FetchResponse,
    ApiKey::Fetch.versions(),
    response
);

fn simple_fetch() -> FetchRequest {
    FetchRequest {
        max_wait_ms: 500,
        min_bytes: 1,
        max_bytes: 0x0100_0000,
        topics: vec![FetchTopic {
            topic: "t".into(),
            partitions: vec![FetchPartition {
                partition: 2,
                fetch_offset: 7,
                partition_max_bytes: 0x0010_0000,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn request_v4_bytes() {
    let expected: &[u8] = &[
        0xff, 0xff, 0xff, 0xff, // replica_id -1
        0, 0, 0x01, 0xf4, // max_wait_ms 500
        0, 0, 0, 1, // min_bytes
        0x01, 0, 0, 0, // max_bytes
        0, // isolation_level
        0, 0, 0, 1, // one topic
        0, 1, b't', // topic
        0, 0, 0, 1, // one partition
        0, 0, 0, 2, // partition
        0, 0, 0, 0, 0, 0, 0, 7, // fetch_offset
        // v4: no log_start_offset (v5+)
        0, 0x10, 0, 0, // partition_max_bytes
    ];
    let mut buf = BytesMut::new();
    simple_fetch().encode(&mut buf, 4).unwrap();
    assert_eq!(&buf[..], expected);
    assert_eq!(
        FetchRequest::decode(&mut Bytes::from_static(expected), 4).unwrap(),
        simple_fetch()
    );
}

#[test]
fn request_v12_bytes_with_cluster_id_tag() {
    let mut req = simple_fetch();
    req.cluster_id = Some("c".into());
    let expected: &[u8] = &[
        0xff, 0xff, 0xff, 0xff, // replica_id
        0, 0, 0x01, 0xf4, // max_wait_ms
        0, 0, 0, 1, // min_bytes
        0x01, 0, 0, 0, // max_bytes
        0, // isolation_level
        0, 0, 0, 0, // session_id
        0xff, 0xff, 0xff, 0xff, // session_epoch -1
        2,    // one topic
        2, b't', // topic
        2,    // one partition
        0, 0, 0, 2, // partition
        0xff, 0xff, 0xff, 0xff, // current_leader_epoch -1
        0, 0, 0, 0, 0, 0, 0, 7, // fetch_offset
        0xff, 0xff, 0xff, 0xff, // last_fetched_epoch -1
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // log_start_offset -1
        0, 0x10, 0, 0, // partition_max_bytes
        0, // partition tagged fields
        0, // topic tagged fields
        1, // no forgotten topics
        1, // rack_id ""
        1, 0, 2, 2, b'c', // one tagged field: tag 0, size 2, cluster_id "c"
    ];
    let mut buf = BytesMut::new();
    req.encode(&mut buf, 12).unwrap();
    assert_eq!(&buf[..], expected);
    let back = FetchRequest::decode(&mut Bytes::from_static(expected), 12).unwrap();
    assert_eq!(back.cluster_id.as_deref(), Some("c"));
    assert!(back.tagged_fields.is_empty());
    assert_eq!(back, req);
}

#[test]
fn a_malformed_cluster_id_tag_is_an_error() {
    let mut good = BytesMut::new();
    FetchRequest::default().encode(&mut good, 12).unwrap();
    // Replace the empty tagged section with tag 0 holding a string whose
    // length runs past the field.
    let mut bad = good[..good.len() - 1].to_vec();
    bad.extend_from_slice(&[1, 0, 1, 5]);
    assert!(FetchRequest::decode(&mut Bytes::from(bad), 12).is_err());
}

#[test]
fn response_v4_bytes_and_records_are_zero_copy() {
    let frame = Bytes::from_static(&[
        0, 0, 0, 0, // throttle_time_ms
        0, 0, 0, 1, // one topic
        0, 1, b't', // topic
        0, 0, 0, 1, // one partition
        0, 0, 0, 0, // partition_index
        0, 0, // error_code
        0, 0, 0, 0, 0, 0, 0, 9, // high_watermark
        0, 0, 0, 0, 0, 0, 0, 9, // last_stable_offset
        0, 0, 0, 1, // one aborted transaction
        0, 0, 0, 0, 0, 0, 0, 4, // producer_id
        0, 0, 0, 0, 0, 0, 0, 2, // first_offset
        0, 0, 0, 3, b'r', b'e', b'c', // records
    ]);
    let resp = FetchResponse::decode(&mut frame.clone(), 4).unwrap();
    let p = &resp.responses[0].partitions[0];
    assert_eq!(p.high_watermark, 9);
    assert_eq!(
        p.aborted_transactions,
        Some(vec![AbortedTransaction {
            producer_id: 4,
            first_offset: 2,
            tagged_fields: TaggedFields::new(),
        }])
    );
    let records = p.records.as_ref().unwrap();
    assert_eq!(&records[..], b"rec");
    // The records are a view into the frame, not a copy.
    let frame_range = frame.as_ptr() as usize..frame.as_ptr() as usize + frame.len();
    assert!(frame_range.contains(&(records.as_ptr() as usize)));
    let mut buf = BytesMut::new();
    resp.encode(&mut buf, 4).unwrap();
    assert_eq!(&buf[..], &frame[..]);
}

#[test]
fn response_v12_keeps_partition_tags_raw() {
    let mut partition = FetchResponsePartition {
        records: None,
        aborted_transactions: None,
        ..Default::default()
    };
    // current_leader (tag 1): leader_id 3, leader_epoch 7, no tagged fields.
    partition
        .tagged_fields
        .insert(1, Bytes::from_static(&[0, 0, 0, 3, 0, 0, 0, 7, 0]));
    let resp = FetchResponse {
        responses: vec![FetchResponseTopic {
            topic: "t".into(),
            partitions: vec![partition],
            tagged_fields: TaggedFields::new(),
        }],
        ..Default::default()
    };
    let mut buf = BytesMut::new();
    resp.encode(&mut buf, 12).unwrap();
    let tail: &[u8] = &[
        0, // aborted_transactions null (compact)
        0xff, 0xff, 0xff, 0xff, // preferred_read_replica -1
        0,    // records null (compact)
        1, 1, 9, 0, 0, 0, 3, 0, 0, 0, 7, 0, // one tag: 1, size 9
        0, 0, // topic and response tagged sections
    ];
    assert!(buf.ends_with(tail), "{:?}", &buf[..]);
    assert_eq!(FetchResponse::decode(&mut buf.freeze(), 12).unwrap(), resp);
}

#[test]
fn request_v7_bytes_with_session_and_forgotten_topics() {
    let mut req = simple_fetch();
    req.session_id = 0x0102_0304;
    req.session_epoch = 5;
    req.topics.clear();
    req.forgotten_topics_data = vec![ForgottenTopic {
        topic: "f".into(),
        partitions: vec![1],
        tagged_fields: TaggedFields::new(),
    }];
    let expected: &[u8] = &[
        0xff, 0xff, 0xff, 0xff, // replica_id
        0, 0, 0x01, 0xf4, // max_wait_ms
        0, 0, 0, 1, // min_bytes
        0x01, 0, 0, 0, // max_bytes
        0, // isolation_level
        1, 2, 3, 4, // session_id
        0, 0, 0, 5, // session_epoch
        0, 0, 0, 0, // no topics
        0, 0, 0, 1, // one forgotten topic
        0, 1, b'f', // topic
        0, 0, 0, 1, // one partition
        0, 0, 0, 1, // partition 1
    ];
    let mut buf = BytesMut::new();
    req.encode(&mut buf, 7).unwrap();
    assert_eq!(&buf[..], expected);
    assert_eq!(
        FetchRequest::decode(&mut Bytes::from_static(expected), 7).unwrap(),
        req
    );
}

/// Hand-computed sizes at every version, from Kafka's `FetchRequest.json` and
/// `FetchResponse.json`: a field added or dropped at the wrong version changes
/// the size even when encode and decode agree.
#[test]
fn encoded_size_at_every_version() {
    let req = FetchRequest {
        topics: vec![FetchTopic {
            topic: "t".into(),
            partitions: vec![FetchPartition::default()],
            ..Default::default()
        }],
        forgotten_topics_data: vec![ForgottenTopic {
            topic: "f".into(),
            partitions: vec![1],
            ..Default::default()
        }],
        rack_id: "r".into(),
        ..Default::default()
    };
    let resp = FetchResponse {
        responses: vec![FetchResponseTopic {
            topic: "t".into(),
            partitions: vec![FetchResponsePartition {
                aborted_transactions: Some(vec![AbortedTransaction::default()]),
                records: Some(Bytes::from_static(b"abc")),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    // Request: 17 fixed + topic (4 + 3 + 4 + partition 16) = 44 at v4; v5
    // log_start_offset +8; v7 session +8 and forgotten topics +15; v9
    // current_leader_epoch +4; v11 rack_id +3; v12 compact, with
    // last_fetched_epoch and tagged sections.
    let req_sizes = [44, 52, 52, 75, 75, 79, 79, 82, 75];
    // Response: 4 + topic (4 + 3 + 4 + partition 49) = 64 at v4; v5
    // log_start_offset +8; v7 error_code and session_id +6; v11
    // preferred_read_replica +4; v12 compact.
    let resp_sizes = [64, 72, 72, 78, 78, 78, 78, 82, 73];
    for v in 4..=12i16 {
        let i = (v - 4) as usize;
        assert_eq!(common::encode(&req, v).len(), req_sizes[i], "request v{v}");
        assert_eq!(
            common::encode(&resp, v).len(),
            resp_sizes[i],
            "response v{v}"
        );
    }
}
