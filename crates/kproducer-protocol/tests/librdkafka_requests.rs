//! Requests captured from librdkafka 2.16.0 (see `data/librdkafka-2.16/README.md`):
//! an independent encoder. Each must decode and re-encode to the identical
//! bytes, so a symmetric encode/decode bug cannot hide behind round trips.

use std::fmt::Debug;

use bytes::{Bytes, BytesMut};
use kproducer_protocol::messages::{
    FindCoordinatorRequest, InitProducerIdRequest, MetadataRequest, ProduceRequest,
};
use kproducer_protocol::{ApiKey, Message, RequestHeader};

macro_rules! capture {
    ($file:literal) => {
        (
            $file,
            &include_bytes!(concat!("data/librdkafka-2.16/", $file))[..],
        )
    };
}

/// Decodes a captured frame's header and body, checks that the body is fully
/// consumed and re-encodes to the same bytes, and returns it.
fn check<M: Message + PartialEq + Debug>((name, frame): (&str, &[u8]), key: ApiKey) -> (i16, M) {
    let mut buf = Bytes::copy_from_slice(frame);
    let header = RequestHeader::decode(&mut buf).unwrap_or_else(|e| panic!("{name}: header: {e}"));
    assert_eq!(header.api_key, key.as_i16(), "{name}");
    assert_eq!(header.client_id.as_deref(), Some("rdkafka"), "{name}");
    let body = buf.clone();
    let v = header.api_version;
    let msg = M::decode(&mut buf, v).unwrap_or_else(|e| panic!("{name}: body v{v}: {e}"));
    assert!(buf.is_empty(), "{name}: {} bytes left over", buf.len());
    let mut again = BytesMut::new();
    msg.encode(&mut again, v)
        .unwrap_or_else(|e| panic!("{name}: re-encode: {e}"));
    assert_eq!(&again[..], &body[..], "{name}: re-encoding differs");
    (v, msg)
}

#[test]
fn metadata_requests_for_one_topic() {
    for cap in [
        capture!("metadata_v1.bin"),
        capture!("metadata_v4.bin"),
        capture!("metadata_v7.bin"),
        capture!("metadata_v8.bin"),
        capture!("metadata_v9.bin"),
        capture!("metadata_v11.bin"),
        capture!("metadata_v12.bin"),
    ] {
        let (v, req): (_, MetadataRequest) = check(cap, ApiKey::Metadata);
        let topics = req.topics.expect("one topic");
        assert_eq!(topics.len(), 1, "v{v}");
        assert_eq!(topics[0].name.as_deref(), Some("t"), "v{v}");
        assert_eq!(topics[0].topic_id, [0; 16], "v{v}");
    }
}

#[test]
fn metadata_requests_for_brokers_only() {
    for cap in [
        capture!("metadata_v9_brokers_only.bin"),
        capture!("metadata_v12_brokers_only.bin"),
    ] {
        let (_, req): (_, MetadataRequest) = check(cap, ApiKey::Metadata);
        assert_eq!(req.topics, Some(Vec::new()));
    }
}

/// librdkafka pads its v9+ "all topics" request (see the data README). We
/// read null topics, as Kafka does, and the caller sees bytes left over.
#[test]
fn metadata_all_topics_padding_from_librdkafka() {
    for (frame, left_over) in [
        (
            &include_bytes!("data/librdkafka-2.16/metadata_v12_all_topics_padded.bin")[..],
            3,
        ),
        (
            &include_bytes!("data/librdkafka-2.16/metadata_v10_all_topics_padded.bin")[..],
            1,
        ),
    ] {
        let mut buf = Bytes::copy_from_slice(frame);
        let header = RequestHeader::decode(&mut buf).unwrap();
        let req = MetadataRequest::decode(&mut buf, header.api_version).unwrap();
        assert_eq!(req.topics, None);
        assert_eq!(buf.len(), left_over);
    }
}

#[test]
fn init_producer_id_requests() {
    for cap in [
        capture!("init_producer_id_v0.bin"),
        capture!("init_producer_id_v1.bin"),
        capture!("init_producer_id_v2.bin"),
        capture!("init_producer_id_v3.bin"),
        capture!("init_producer_id_v4.bin"),
    ] {
        let (v, req): (_, InitProducerIdRequest) = check(cap, ApiKey::InitProducerId);
        assert_eq!(req.transactional_id, None, "v{v}");
        assert_eq!(req.transaction_timeout_ms, -1, "v{v}");
        assert_eq!((req.producer_id, req.producer_epoch), (-1, -1), "v{v}");
    }
    let (_, req): (_, InitProducerIdRequest) = check(
        capture!("init_producer_id_v4_transactional.bin"),
        ApiKey::InitProducerId,
    );
    assert_eq!(req.transactional_id.as_deref(), Some("my-txn"));
    assert_eq!(req.transaction_timeout_ms, 60_000);
}

#[test]
fn produce_requests() {
    for cap in [
        capture!("produce_v3.bin"),
        capture!("produce_v5.bin"),
        capture!("produce_v7.bin"),
        capture!("produce_v8.bin"),
        capture!("produce_v9.bin"),
        capture!("produce_v10.bin"),
    ] {
        let (v, req): (_, ProduceRequest) = check(cap, ApiKey::Produce);
        assert_eq!(req.transactional_id, None, "v{v}");
        assert_eq!(req.acks, -1, "v{v}");
        assert_eq!(req.topic_data.len(), 1, "v{v}");
        assert_eq!(req.topic_data[0].name, "t", "v{v}");
        let p = &req.topic_data[0].partition_data;
        assert_eq!(p.len(), 1, "v{v}");
        assert_eq!(p[0].index, 0, "v{v}");
        let records = p[0].records.as_ref().expect("records");
        // One record batch v2 (magic at byte 16) of 20 records (count at 57).
        assert_eq!(records[16], 2, "v{v}");
        assert_eq!(&records[57..61], &20i32.to_be_bytes(), "v{v}");
    }
}

#[test]
fn find_coordinator_requests() {
    for cap in [
        capture!("find_coordinator_v1.bin"),
        capture!("find_coordinator_v2.bin"),
    ] {
        let (v, req): (_, FindCoordinatorRequest) = check(cap, ApiKey::FindCoordinator);
        assert_eq!(req.key, "my-txn", "v{v}");
        assert_eq!(
            req.key_type,
            FindCoordinatorRequest::KEY_TYPE_TRANSACTION,
            "v{v}"
        );
    }
}
