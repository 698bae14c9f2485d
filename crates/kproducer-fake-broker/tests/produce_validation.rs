//! What the broker refuses before sequence checks: corrupt, oversized,
//! malformed batches, bad acks; and acks=0.

mod common;

use bytes::{Bytes, BytesMut};
use common::{PRODUCE_V, WireClient, batch, produce_request};
use kproducer_fake_broker::FakeCluster;

const T: &str = "t";

fn cluster() -> FakeCluster {
    FakeCluster::builder()
        .brokers(1)
        .topic(T, 1)
        .max_message_bytes(512)
        .build()
        .expect("valid cluster")
}

#[tokio::test(start_paused = true)]
async fn bad_batches_get_kafkas_error_codes() {
    let cluster = cluster();
    let mut c = WireClient::connect(&cluster, 0).await;
    let good = batch(1, 0, 0, &["a"]);
    let mut flipped = BytesMut::from(&good[..]);
    let last = flipped.len() - 1;
    flipped[last] ^= 0xff;
    let mut two = BytesMut::from(&good[..]);
    two.extend_from_slice(&batch(1, 0, 1, &["b"]));
    let big = batch(-1, -1, -1, &[&"x".repeat(600)]);
    let cases: Vec<(&str, Bytes, i16)> = vec![
        ("flipped byte", flipped.freeze(), 2),
        ("truncated", good.slice(..good.len() - 3), 87),
        ("two batches", two.freeze(), 87),
        ("empty", Bytes::new(), 87),
        ("too large", big, 10),
        ("pid without sequence", batch(1, 0, -1, &["a"]), 87),
    ];
    for (what, records, code) in cases {
        let r = c.produce(T, 0, records).await;
        assert_eq!(r.error_code, code, "{what}: {:?}", r.error_message);
        assert_eq!(r.base_offset, -1, "{what}");
    }
    cluster.assert_values(T, 0, &[]);
    assert_eq!(
        c.produce(T, 0, good).await.error_code,
        0,
        "connection still usable"
    );
}

#[tokio::test(start_paused = true)]
async fn unknown_partitions_and_invalid_acks() {
    let cluster = cluster();
    let mut c = WireClient::connect(&cluster, 0).await;
    assert_eq!(
        c.produce("nope", 0, batch(-1, -1, -1, &["a"]))
            .await
            .error_code,
        3
    );
    assert_eq!(
        c.produce(T, 3, batch(-1, -1, -1, &["a"])).await.error_code,
        3
    );
    let r = c
        .call(
            PRODUCE_V,
            &produce_request(T, 0, batch(-1, -1, -1, &["a"]), 2),
        )
        .await;
    assert_eq!(r.responses[0].partition_responses[0].error_code, 21);
}

#[tokio::test(start_paused = true)]
async fn acks_zero_gets_no_answer_unless_something_failed() {
    let cluster = cluster();
    let mut c = WireClient::connect(&cluster, 0).await;
    c.send(
        PRODUCE_V,
        &produce_request(T, 0, batch(-1, -1, -1, &["a"]), 0),
    )
    .await;
    // The next answered request proves nothing came back for acks=0.
    let r = c.produce(T, 0, batch(-1, -1, -1, &["b"])).await;
    assert_eq!((r.error_code, r.base_offset), (0, 1));
    c.send(
        PRODUCE_V,
        &produce_request("nope", 0, batch(-1, -1, -1, &["c"]), 0),
    )
    .await;
    assert!(
        c.is_closed().await,
        "Kafka closes the connection to report an acks=0 failure"
    );
    cluster.assert_values(T, 0, &[b"a", b"b"]);
}

#[tokio::test(start_paused = true)]
async fn auto_created_topics_accept_produce() {
    let cluster = FakeCluster::builder()
        .brokers(1)
        .auto_create_topics(Some(2))
        .build()
        .expect("valid cluster");
    let mut c = WireClient::connect(&cluster, 0).await;
    assert_eq!(
        c.produce("fresh", 1, batch(-1, -1, -1, &["a"]))
            .await
            .error_code,
        0
    );
    cluster.assert_values("fresh", 1, &[b"a"]);
}

#[tokio::test(start_paused = true)]
async fn seeding_a_log_applies_the_same_checks() {
    use kproducer_fake_broker::{AppendOutcome, ClusterError};
    let cluster = cluster();
    assert_eq!(
        cluster.append(T, 0, batch(3, 0, 0, &["a"])),
        Ok(AppendOutcome::Appended { base_offset: 0 })
    );
    assert_eq!(
        cluster.append(T, 0, batch(3, 0, 0, &["a"])),
        Ok(AppendOutcome::Duplicate { base_offset: 0 })
    );
    match cluster.append(T, 0, Bytes::new()) {
        Err(ClusterError::BatchRefused { code, .. }) => assert_eq!(code.as_i16(), 87),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(matches!(
        cluster.append("nope", 0, batch(-1, -1, -1, &["a"])),
        Err(ClusterError::UnknownTopic(_))
    ));
    cluster.assert_values(T, 0, &[b"a"]);
}
