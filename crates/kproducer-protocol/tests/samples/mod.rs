//! Rich, valid messages of every API, encoded at every supported version: the
//! starting points that `untrusted_input.rs` damages. Every array holds
//! elements and every flexible struct carries an unknown tagged field, so
//! damage lands in nested fields, not only in empty defaults.

#![allow(dead_code, unreachable_pub)]

use bytes::{Bytes, BytesMut};
use kproducer_protocol::messages::*;
use kproducer_protocol::{ApiKey, RequestHeader, TaggedFields};

/// An unknown tagged field (tag 7 is unused by every struct here).
fn tags() -> TaggedFields {
    [(7, Bytes::from_static(b"\x01\x02"))].into_iter().collect()
}

fn request(key: ApiKey) -> AnyRequest {
    match key {
        ApiKey::Produce => AnyRequest::Produce(ProduceRequest {
            transactional_id: Some("txn".into()),
            acks: -1,
            timeout_ms: 30_000,
            topic_data: vec![TopicProduceData {
                name: "orders".into(),
                partition_data: vec![
                    PartitionProduceData {
                        index: 0,
                        records: Some(Bytes::from_static(&[0; 61])),
                        tagged_fields: tags(),
                    },
                    PartitionProduceData {
                        index: 1,
                        records: None,
                        tagged_fields: TaggedFields::new(),
                    },
                ],
                tagged_fields: tags(),
            }],
            tagged_fields: tags(),
        }),
        ApiKey::Fetch => AnyRequest::Fetch(FetchRequest {
            max_wait_ms: 500,
            min_bytes: 1,
            session_id: 3,
            session_epoch: 4,
            topics: vec![FetchTopic {
                topic: "orders".into(),
                partitions: vec![FetchPartition {
                    partition: 2,
                    fetch_offset: 42,
                    partition_max_bytes: 1 << 20,
                    tagged_fields: tags(),
                    ..Default::default()
                }],
                tagged_fields: tags(),
            }],
            forgotten_topics_data: vec![ForgottenTopic {
                topic: "old".into(),
                partitions: vec![1, 2],
                tagged_fields: tags(),
            }],
            rack_id: "r1".into(),
            cluster_id: Some("c".into()),
            tagged_fields: tags(),
            ..Default::default()
        }),
        ApiKey::ListOffsets => AnyRequest::ListOffsets(ListOffsetsRequest {
            isolation_level: 1,
            topics: vec![ListOffsetsTopic {
                name: "orders".into(),
                partitions: vec![ListOffsetsPartition {
                    partition_index: 1,
                    current_leader_epoch: 5,
                    timestamp: ListOffsetsPartition::EARLIEST,
                    tagged_fields: tags(),
                }],
                tagged_fields: tags(),
            }],
            tagged_fields: tags(),
            ..Default::default()
        }),
        ApiKey::Metadata => AnyRequest::Metadata(MetadataRequest {
            topics: Some(vec![
                MetadataRequestTopic::named("orders"),
                MetadataRequestTopic {
                    topic_id: [9; 16],
                    name: Some("x".into()),
                    tagged_fields: tags(),
                },
            ]),
            allow_auto_topic_creation: false,
            include_cluster_authorized_operations: true,
            include_topic_authorized_operations: true,
            tagged_fields: tags(),
        }),
        ApiKey::FindCoordinator => AnyRequest::FindCoordinator(FindCoordinatorRequest {
            key: "txn".into(),
            key_type: FindCoordinatorRequest::KEY_TYPE_TRANSACTION,
            coordinator_keys: vec!["a".into(), "b".into()],
            tagged_fields: tags(),
        }),
        ApiKey::SaslHandshake => AnyRequest::SaslHandshake(SaslHandshakeRequest {
            mechanism: "PLAIN".into(),
        }),
        ApiKey::ApiVersions => AnyRequest::ApiVersions(ApiVersionsRequest {
            client_software_name: "kproducer".into(),
            client_software_version: "0.1.0".into(),
            tagged_fields: tags(),
        }),
        ApiKey::InitProducerId => AnyRequest::InitProducerId(InitProducerIdRequest {
            transactional_id: Some("txn".into()),
            transaction_timeout_ms: 60_000,
            producer_id: 77,
            producer_epoch: 3,
            tagged_fields: tags(),
        }),
        ApiKey::AddPartitionsToTxn => AnyRequest::AddPartitionsToTxn(AddPartitionsToTxnRequest {
            transactional_id: "txn".into(),
            producer_id: 77,
            producer_epoch: 3,
            topics: vec![AddPartitionsToTxnTopic {
                name: "orders".into(),
                partitions: vec![0, 1, 2],
                tagged_fields: tags(),
            }],
            tagged_fields: tags(),
        }),
        ApiKey::EndTxn => AnyRequest::EndTxn(EndTxnRequest {
            transactional_id: "txn".into(),
            producer_id: 77,
            producer_epoch: 3,
            committed: true,
            tagged_fields: tags(),
        }),
        ApiKey::SaslAuthenticate => AnyRequest::SaslAuthenticate(SaslAuthenticateRequest {
            auth_bytes: Bytes::from_static(b"\0user\0pass"),
            tagged_fields: tags(),
        }),
        ApiKey::AddOffsetsToTxn => AnyRequest::AddOffsetsToTxn(AddOffsetsToTxnRequest {
            transactional_id: "txn".into(),
            producer_id: 77,
            producer_epoch: 3,
            group_id: "readers".into(),
            tagged_fields: tags(),
        }),
        // Without group metadata, so that every version can carry it.
        ApiKey::TxnOffsetCommit => AnyRequest::TxnOffsetCommit(TxnOffsetCommitRequest {
            transactional_id: "txn".into(),
            group_id: "readers".into(),
            producer_id: 77,
            producer_epoch: 3,
            topics: vec![TxnOffsetCommitTopic {
                name: "orders".into(),
                partitions: vec![TxnOffsetCommitPartition {
                    partition_index: 2,
                    committed_offset: 1_000,
                    committed_leader_epoch: 4,
                    committed_metadata: Some("meta".into()),
                    tagged_fields: tags(),
                }],
                tagged_fields: tags(),
            }],
            tagged_fields: tags(),
            ..Default::default()
        }),
        other => AnyRequest::default_for(other),
    }
}

fn response(key: ApiKey) -> AnyResponse {
    match key {
        ApiKey::Produce => AnyResponse::Produce(ProduceResponse {
            responses: vec![TopicProduceResponse {
                name: "orders".into(),
                partition_responses: vec![PartitionProduceResponse {
                    index: 0,
                    error_code: 6,
                    base_offset: 10,
                    log_start_offset: 2,
                    record_errors: vec![BatchIndexAndErrorMessage {
                        batch_index: 1,
                        batch_index_error_message: Some("bad".into()),
                        tagged_fields: tags(),
                    }],
                    error_message: Some("dropped".into()),
                    current_leader: Some(LeaderIdAndEpoch {
                        leader_id: 2,
                        leader_epoch: 7,
                        tagged_fields: TaggedFields::new(),
                    }),
                    tagged_fields: tags(),
                    ..Default::default()
                }],
                tagged_fields: tags(),
            }],
            throttle_time_ms: 5,
            node_endpoints: Some(vec![NodeEndpoint {
                node_id: 2,
                host: "127.0.0.1".into(),
                port: 9092,
                rack: Some("r".into()),
                tagged_fields: TaggedFields::new(),
            }]),
            tagged_fields: tags(),
        }),
        ApiKey::Fetch => AnyResponse::Fetch(FetchResponse {
            throttle_time_ms: 1,
            error_code: 0,
            session_id: 9,
            responses: vec![FetchResponseTopic {
                topic: "orders".into(),
                partitions: vec![FetchResponsePartition {
                    partition_index: 0,
                    high_watermark: 100,
                    last_stable_offset: 90,
                    log_start_offset: 0,
                    aborted_transactions: Some(vec![AbortedTransaction {
                        producer_id: 77,
                        first_offset: 50,
                        tagged_fields: tags(),
                    }]),
                    preferred_read_replica: 2,
                    records: Some(Bytes::from_static(&[0; 61])),
                    tagged_fields: tags(),
                    ..Default::default()
                }],
                tagged_fields: tags(),
            }],
            tagged_fields: tags(),
        }),
        ApiKey::ListOffsets => AnyResponse::ListOffsets(ListOffsetsResponse {
            throttle_time_ms: 1,
            topics: vec![ListOffsetsTopicResponse {
                name: "orders".into(),
                partitions: vec![ListOffsetsPartitionResponse {
                    partition_index: 1,
                    error_code: 0,
                    timestamp: 1_700_000_000_000,
                    offset: 42,
                    leader_epoch: 5,
                    tagged_fields: tags(),
                }],
                tagged_fields: tags(),
            }],
            tagged_fields: tags(),
        }),
        ApiKey::Metadata => AnyResponse::Metadata(MetadataResponse {
            throttle_time_ms: 1,
            brokers: vec![MetadataResponseBroker {
                node_id: 1,
                host: "127.0.0.1".into(),
                port: 9092,
                rack: Some("r".into()),
                tagged_fields: tags(),
            }],
            cluster_id: Some("cluster".into()),
            controller_id: 1,
            topics: vec![MetadataResponseTopic {
                error_code: 0,
                name: Some("orders".into()),
                topic_id: [9; 16],
                is_internal: false,
                partitions: vec![MetadataResponsePartition {
                    error_code: 0,
                    partition_index: 0,
                    leader_id: 1,
                    leader_epoch: 3,
                    replica_nodes: vec![1, 2, 3],
                    isr_nodes: vec![1, 2],
                    offline_replicas: vec![3],
                    tagged_fields: tags(),
                }],
                topic_authorized_operations: 0x0f,
                tagged_fields: tags(),
            }],
            cluster_authorized_operations: 0x0f,
            tagged_fields: tags(),
        }),
        ApiKey::FindCoordinator => AnyResponse::FindCoordinator(FindCoordinatorResponse {
            throttle_time_ms: 1,
            error_code: 0,
            error_message: Some("ok".into()),
            node_id: 1,
            host: "127.0.0.1".into(),
            port: 9092,
            coordinators: vec![Coordinator {
                key: "txn".into(),
                node_id: 1,
                host: "127.0.0.1".into(),
                port: 9092,
                error_code: 0,
                error_message: None,
                tagged_fields: tags(),
            }],
            tagged_fields: tags(),
        }),
        ApiKey::SaslHandshake => AnyResponse::SaslHandshake(SaslHandshakeResponse {
            error_code: 0,
            mechanisms: vec!["PLAIN".into(), "SCRAM-SHA-512".into()],
        }),
        ApiKey::ApiVersions => AnyResponse::ApiVersions(ApiVersionsResponse {
            error_code: 0,
            api_keys: ApiKey::ALL
                .iter()
                .map(|k| ApiVersion {
                    api_key: k.as_i16(),
                    min_version: k.versions().min,
                    max_version: k.versions().max,
                    tagged_fields: tags(),
                })
                .collect(),
            throttle_time_ms: 1,
            tagged_fields: tags(),
        }),
        ApiKey::InitProducerId => AnyResponse::InitProducerId(InitProducerIdResponse {
            throttle_time_ms: 1,
            error_code: 0,
            producer_id: 77,
            producer_epoch: 3,
            tagged_fields: tags(),
        }),
        ApiKey::AddPartitionsToTxn => AnyResponse::AddPartitionsToTxn(AddPartitionsToTxnResponse {
            throttle_time_ms: 1,
            results: vec![AddPartitionsToTxnTopicResult {
                name: "orders".into(),
                results: vec![AddPartitionsToTxnPartitionResult {
                    partition_index: 0,
                    error_code: 51,
                    tagged_fields: tags(),
                }],
                tagged_fields: tags(),
            }],
            tagged_fields: tags(),
        }),
        ApiKey::EndTxn => AnyResponse::EndTxn(EndTxnResponse {
            throttle_time_ms: 1,
            error_code: 0,
            tagged_fields: tags(),
        }),
        ApiKey::SaslAuthenticate => AnyResponse::SaslAuthenticate(SaslAuthenticateResponse {
            error_code: 0,
            error_message: None,
            auth_bytes: Bytes::from_static(b"ok"),
            session_lifetime_ms: 3_600_000,
            tagged_fields: tags(),
        }),
        ApiKey::AddOffsetsToTxn => AnyResponse::AddOffsetsToTxn(AddOffsetsToTxnResponse {
            throttle_time_ms: 1,
            error_code: 0,
            tagged_fields: tags(),
        }),
        ApiKey::TxnOffsetCommit => AnyResponse::TxnOffsetCommit(TxnOffsetCommitResponse {
            throttle_time_ms: 1,
            topics: vec![TxnOffsetCommitTopicResult {
                name: "orders".into(),
                partitions: vec![TxnOffsetCommitPartitionResult {
                    partition_index: 2,
                    error_code: 0,
                    tagged_fields: tags(),
                }],
                tagged_fields: tags(),
            }],
            tagged_fields: tags(),
        }),
        other => AnyResponse::default_for(other),
    }
}

/// `(api, version, body)` for a rich request and a rich response of every
/// API at every supported version.
pub fn corpus() -> Vec<(ApiKey, i16, Vec<u8>)> {
    let mut out = Vec::new();
    for &key in ApiKey::ALL {
        let range = key.versions();
        for version in range.min..=range.max {
            let mut buf = BytesMut::new();
            if request(key).encode(&mut buf, version).is_ok() {
                out.push((key, version, buf.to_vec()));
            }
            let mut buf = BytesMut::new();
            if response(key).encode(&mut buf, version).is_ok() {
                out.push((key, version, buf.to_vec()));
            }
        }
    }
    out
}

/// The librdkafka request captures (whole frames: header and body), with the
/// API and version their headers name.
pub fn librdkafka_frames() -> Vec<(ApiKey, i16, Vec<u8>)> {
    macro_rules! frames {
        ($($file:literal),* $(,)?) => {
            [$(&include_bytes!(concat!("../data/librdkafka-2.16/", $file))[..]),*]
        };
    }
    frames!(
        "find_coordinator_v1.bin",
        "find_coordinator_v2.bin",
        "init_producer_id_v0.bin",
        "init_producer_id_v4.bin",
        "init_producer_id_v4_transactional.bin",
        "metadata_v1.bin",
        "metadata_v4.bin",
        "metadata_v9.bin",
        "metadata_v12.bin",
        "metadata_v12_all_topics_padded.bin",
        "produce_v3.bin",
        "produce_v7.bin",
        "produce_v10.bin",
    )
    .into_iter()
    .map(|frame| {
        let header = RequestHeader::decode(&mut Bytes::copy_from_slice(frame))
            .expect("the captures have valid headers");
        let key = ApiKey::from_i16(header.api_key).expect("the captures are of known APIs");
        (key, header.api_version, frame.to_vec())
    })
    .collect()
}
