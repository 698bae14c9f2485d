//! Produce round trips at every supported version, plus known encodings.

mod common;

use common::{encode, gated};

use bytes::Bytes;
use kproducer_protocol::messages::{
    BatchIndexAndErrorMessage, LeaderIdAndEpoch, NodeEndpoint, PartitionProduceData,
    PartitionProduceResponse, ProduceRequest, ProduceResponse, TopicProduceData,
    TopicProduceResponse,
};
use kproducer_protocol::{ApiKey, Message, TaggedFields};
use proptest::prelude::*;

fn request(v: i16) -> impl Strategy<Value = ProduceRequest> {
    let flexible = v >= 9;
    let partition = (
        any::<i32>(),
        proptest::option::of(common::bytes()),
        common::tagged(flexible),
    )
        .prop_map(|(index, records, tagged_fields)| PartitionProduceData {
            index,
            records,
            tagged_fields,
        });
    let topic = (
        common::string(),
        proptest::collection::vec(partition, 0..3),
        common::tagged(flexible),
    )
        .prop_map(|(name, partition_data, tagged_fields)| TopicProduceData {
            name,
            partition_data,
            tagged_fields,
        });
    (
        common::nullable_string(),
        any::<i16>(),
        any::<i32>(),
        proptest::collection::vec(topic, 0..3),
        common::tagged(flexible),
    )
        .prop_map(
            |(transactional_id, acks, timeout_ms, topic_data, tagged_fields)| ProduceRequest {
                transactional_id,
                acks,
                timeout_ms,
                topic_data,
                tagged_fields,
            },
        )
}

fn leader(flexible: bool) -> impl Strategy<Value = LeaderIdAndEpoch> {
    (any::<i32>(), any::<i32>(), common::tagged(flexible)).prop_map(
        |(leader_id, leader_epoch, tagged_fields)| LeaderIdAndEpoch {
            leader_id,
            leader_epoch,
            tagged_fields,
        },
    )
}

fn node(flexible: bool) -> impl Strategy<Value = NodeEndpoint> {
    (
        any::<i32>(),
        common::string(),
        any::<i32>(),
        common::nullable_string(),
        common::tagged(flexible),
    )
        .prop_map(|(node_id, host, port, rack, tagged_fields)| NodeEndpoint {
            node_id,
            host,
            port,
            rack,
            tagged_fields,
        })
}

fn partition_response(v: i16) -> impl Strategy<Value = PartitionProduceResponse> {
    let flexible = v >= 9;
    let record_error = (
        any::<i32>(),
        common::nullable_string(),
        common::tagged(flexible),
    )
        .prop_map(
            |(batch_index, msg, tagged_fields)| BatchIndexAndErrorMessage {
                batch_index,
                batch_index_error_message: msg,
                tagged_fields,
            },
        );
    (
        (any::<i32>(), any::<i16>(), any::<i64>(), any::<i64>()),
        gated(v >= 5, any::<i64>(), -1),
        gated(
            v >= 8,
            proptest::collection::vec(record_error, 0..3),
            Vec::new(),
        ),
        gated(v >= 8, common::nullable_string(), None),
        gated(v >= 10, proptest::option::of(leader(flexible)), None),
        common::tagged(flexible),
    )
        .prop_map(
            |((index, error_code, base_offset, append_time), start, errors, msg, leader, tf)| {
                PartitionProduceResponse {
                    index,
                    error_code,
                    base_offset,
                    log_append_time_ms: append_time,
                    log_start_offset: start,
                    record_errors: errors,
                    error_message: msg,
                    current_leader: leader,
                    tagged_fields: tf,
                }
            },
        )
}

fn response(v: i16) -> impl Strategy<Value = ProduceResponse> {
    let flexible = v >= 9;
    let topic = (
        common::string(),
        proptest::collection::vec(partition_response(v), 0..3),
        common::tagged(flexible),
    )
        .prop_map(
            |(name, partition_responses, tagged_fields)| TopicProduceResponse {
                name,
                partition_responses,
                tagged_fields,
            },
        );
    (
        proptest::collection::vec(topic, 0..3),
        any::<i32>(),
        gated(
            v >= 10,
            proptest::option::of(proptest::collection::vec(node(flexible), 0..3)),
            None,
        ),
        common::tagged(flexible),
    )
        .prop_map(
            |(responses, throttle_time_ms, node_endpoints, tagged_fields)| ProduceResponse {
                responses,
                throttle_time_ms,
                node_endpoints,
                tagged_fields,
            },
        )
}

roundtrip!(
    produce_request,
    ProduceRequest,
    ApiKey::Produce.versions(),
    request
);
roundtrip!(
    produce_response,
    ProduceResponse,
    ApiKey::Produce.versions(),
    response
);

fn one_partition_request(records: &'static [u8]) -> ProduceRequest {
    ProduceRequest {
        transactional_id: None,
        acks: -1,
        timeout_ms: 30_000,
        topic_data: vec![TopicProduceData {
            name: "t".into(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(Bytes::from_static(records)),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn v3_request_known_bytes() {
    #[rustfmt::skip]
    let want: &[u8] = &[
        0xff, 0xff,             // transactional_id null
        0xff, 0xff,             // acks -1
        0, 0, 0x75, 0x30,       // timeout 30000
        0, 0, 0, 1,             // topic_data: 1
        0, 1, b't',             //   name "t"
        0, 0, 0, 1,             //   partition_data: 1
        0, 0, 0, 0,             //     index 0
        0, 0, 0, 3, 1, 2, 3,    //     records, 3 bytes
    ];
    let req = one_partition_request(&[1, 2, 3]);
    assert_eq!(encode(&req, 3), want);
    assert_eq!(
        ProduceRequest::decode(&mut Bytes::from_static(want), 3).unwrap(),
        req
    );
}

#[test]
fn v9_request_known_bytes() {
    #[rustfmt::skip]
    let want: &[u8] = &[
        0,                      // transactional_id null (compact)
        0xff, 0xff,             // acks -1
        0, 0, 0x75, 0x30,       // timeout 30000
        2,                      // topic_data: 1
        2, b't',                //   name "t"
        2,                      //   partition_data: 1
        0, 0, 0, 0,             //     index 0
        4, 1, 2, 3,             //     records, 3 bytes
        0, 0, 0,                // partition, topic, request tags
    ];
    assert_eq!(encode(&one_partition_request(&[1, 2, 3]), 9), want);
}

#[test]
fn decoded_records_share_the_input_buffer() {
    let frame = Bytes::from(encode(&one_partition_request(&[9; 64]), 11));
    let req = ProduceRequest::decode(&mut frame.clone(), 11).unwrap();
    let records = req.topic_data[0].partition_data[0].records.clone().unwrap();
    let inside = frame.as_ptr_range();
    assert!(inside.contains(&records.as_ptr()), "records were copied");
}

fn not_leader_response() -> ProduceResponse {
    ProduceResponse {
        responses: vec![TopicProduceResponse {
            name: "t".into(),
            partition_responses: vec![PartitionProduceResponse {
                index: 0,
                error_code: 6,
                base_offset: -1,
                current_leader: Some(LeaderIdAndEpoch {
                    leader_id: 2,
                    leader_epoch: 7,
                    tagged_fields: TaggedFields::new(),
                }),
                ..Default::default()
            }],
            ..Default::default()
        }],
        throttle_time_ms: 0,
        node_endpoints: Some(vec![NodeEndpoint {
            node_id: 2,
            host: "h".into(),
            port: 9092,
            rack: None,
            tagged_fields: TaggedFields::new(),
        }]),
        tagged_fields: TaggedFields::new(),
    }
}

#[test]
fn v10_response_kip_951_known_bytes() {
    #[rustfmt::skip]
    let want: &[u8] = &[
        2,                                  // responses: 1
        2, b't',                            //   name "t"
        2,                                  //   partition_responses: 1
        0, 0, 0, 0,                         //     index 0
        0, 6,                               //     error 6
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // base_offset -1
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // log_append_time -1
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // log_start_offset -1
        1,                                  //     record_errors: 0
        0,                                  //     error_message null
        1, 0, 9,                            //     tags: 1, tag 0, 9 bytes
        0, 0, 0, 2, 0, 0, 0, 7, 0,          //       leader 2, epoch 7, tags
        0,                                  //   topic tags
        0, 0, 0, 0,                         // throttle 0
        1, 0, 13,                           // tags: 1, tag 0, 13 bytes
        2,                                  //   node_endpoints: 1
        0, 0, 0, 2, 2, b'h',                //     node 2, host "h"
        0, 0, 0x23, 0x84, 0, 0,             //     port 9092, rack null, tags
    ];
    let resp = not_leader_response();
    assert_eq!(encode(&resp, 10), want);
    assert_eq!(
        ProduceResponse::decode(&mut Bytes::from_static(want), 10).unwrap(),
        resp
    );
}

#[test]
fn kip_951_fields_are_absent_before_v10() {
    let resp = not_leader_response();
    let back = ProduceResponse::decode(&mut Bytes::from(encode(&resp, 9)), 9).unwrap();
    assert_eq!(back.node_endpoints, None);
    assert_eq!(
        back.responses[0].partition_responses[0].current_leader,
        None
    );
}

#[test]
fn tag_0_before_v10_stays_an_unknown_tagged_field() {
    let mut tf = TaggedFields::new();
    tf.insert(0, Bytes::from_static(&[0xaa]));
    let resp = ProduceResponse {
        tagged_fields: tf.clone(),
        ..Default::default()
    };
    let back = ProduceResponse::decode(&mut Bytes::from(encode(&resp, 9)), 9).unwrap();
    assert_eq!(back.tagged_fields, tf);
    assert_eq!(back.node_endpoints, None);
}

#[test]
fn malformed_current_leader_is_an_error() {
    let mut bytes = encode(&not_leader_response(), 10);
    // Claim the current_leader value is 8 bytes instead of 9: its tagged
    // section is then missing.
    let at = bytes
        .windows(3)
        .position(|w| w == [1, 0, 9])
        .expect("tag header present");
    bytes[at + 2] = 8;
    bytes.remove(at + 3 + 8);
    assert!(ProduceResponse::decode(&mut Bytes::from(bytes), 10).is_err());
}

#[test]
fn v3_response_known_bytes() {
    let resp = ProduceResponse {
        responses: vec![TopicProduceResponse {
            name: "t".into(),
            partition_responses: vec![PartitionProduceResponse {
                index: 1,
                base_offset: 42,
                ..Default::default()
            }],
            ..Default::default()
        }],
        throttle_time_ms: 5,
        ..Default::default()
    };
    #[rustfmt::skip]
    let want: &[u8] = &[
        0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 1, // 1 topic "t", 1 partition
        0, 0, 0, 1, 0, 0,                   // index 1, error 0
        0, 0, 0, 0, 0, 0, 0, 42,            // base_offset 42
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // log_append_time -1
        0, 0, 0, 5,                         // throttle 5
    ];
    assert_eq!(encode(&resp, 3), want);
    assert_eq!(
        ProduceResponse::decode(&mut Bytes::from_static(want), 3).unwrap(),
        resp
    );
}

/// Hand-computed sizes at every version: a field added or dropped at the
/// wrong version changes the size even when encode and decode agree.
#[test]
fn encoded_size_at_every_version() {
    let req = one_partition_request(&[1, 2, 3]);
    let resp = ProduceResponse {
        responses: vec![TopicProduceResponse {
            name: "t".into(),
            partition_responses: vec![PartitionProduceResponse::default()],
            ..Default::default()
        }],
        ..Default::default()
    };
    // Index = version - 3.
    let req_sizes = [30, 30, 30, 30, 30, 30, 22, 22, 22];
    let resp_sizes = [37, 37, 45, 45, 45, 51, 43, 43, 43];
    for v in 3..=11i16 {
        let i = (v - 3) as usize;
        assert_eq!(encode(&req, v).len(), req_sizes[i], "request v{v}");
        assert_eq!(encode(&resp, v).len(), resp_sizes[i], "response v{v}");
    }
}
