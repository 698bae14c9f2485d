//! Requests librdkafka 2.16 really sent (captured by the protocol crate's
//! golden-vector tests) replayed into the fake broker: each is answered,
//! with its correlation id, and captured produce batches are appended.

mod common;

use std::path::PathBuf;

use bytes::Bytes;
use common::WireClient;
use kproducer_fake_broker::FakeCluster;
use kproducer_protocol::{ApiKey, ErrorCode, RequestHeader, ResponseHeader};

fn captures() -> Vec<(String, Bytes)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../kproducer-protocol/tests/data/librdkafka-2.16");
    let mut out: Vec<(String, Bytes)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("captures in {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "bin"))
        .map(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (name, Bytes::from(bytes))
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(start_paused = true)]
async fn every_captured_librdkafka_request_is_answered() {
    let all = captures();
    assert!(
        all.len() >= 20,
        "expected the protocol crate's captures, found {}",
        all.len()
    );
    for (name, frame) in all {
        let cluster = FakeCluster::builder()
            .brokers(1)
            .auto_create_topics(Some(8))
            .build()
            .expect("valid cluster");
        let header = RequestHeader::decode(&mut frame.clone()).expect("captured header");
        let api = ApiKey::from_i16(header.api_key).expect("a known API");
        let mut c = WireClient::connect(&cluster, 0).await;
        c.send_raw(frame).await;
        let mut response = c
            .recv_raw()
            .await
            .unwrap_or_else(|| panic!("{name}: the broker closed the connection"));
        let rh = ResponseHeader::decode(
            &mut response,
            api.response_header_version(header.api_version),
        )
        .expect("a response header");
        assert_eq!(rh.correlation_id, header.correlation_id, "{name}");
        if api == ApiKey::Produce {
            let appended = cluster.counters().batches_appended;
            let rejected = cluster.counters().rejected_batches;
            assert_eq!(appended, 1, "{name}: rejected {rejected:?}");
            assert!(!rejected.contains_key(&ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER));
        }
    }
}
