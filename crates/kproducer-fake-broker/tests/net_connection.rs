//! The fake broker behind kproducer-net's real `Connection`: version
//! negotiation, pipelined produce, and how the connection reports the
//! broker's faults.

mod common;

use common::{batch, produce_request};
use kproducer_fake_broker::{FakeCluster, FaultAction, FaultRule, ResponseCorruption};
use kproducer_net::{Connection, ConnectionConfig};
use kproducer_protocol::ApiKey;
use kproducer_protocol::messages::{MetadataRequest, MetadataRequestTopic};

const T: &str = "t";

fn cluster() -> FakeCluster {
    FakeCluster::builder()
        .brokers(2)
        .topic_with_leaders(T, &[0, 1])
        .build()
        .expect("valid cluster")
}

async fn connect(cluster: &FakeCluster, broker: i32) -> Connection {
    let addr = cluster.address(broker).expect("broker exists");
    Connection::connect(&cluster.transport(), &addr, ConnectionConfig::default())
        .await
        .expect("connects and negotiates")
}

#[tokio::test(start_paused = true)]
async fn a_connection_negotiates_versions_and_produces() {
    let cluster = cluster();
    let conn = connect(&cluster, 0).await;
    for api in [
        ApiKey::Produce,
        ApiKey::Metadata,
        ApiKey::InitProducerId,
        ApiKey::Fetch,
    ] {
        assert_eq!(
            conn.versions().version(api),
            Some(api.versions().max),
            "{api}"
        );
    }
    let md = conn
        .send(&MetadataRequest {
            topics: Some(vec![MetadataRequestTopic::named(T)]),
            ..Default::default()
        })
        .await
        .expect("metadata");
    assert_eq!(md.topics[0].partitions.len(), 2);
    // Five pipelined produce requests, answered in order.
    let mut pending = Vec::new();
    for i in 0..5 {
        let c = conn.clone();
        let v = format!("v{i}");
        pending.push(tokio::spawn(async move {
            c.send(&produce_request(T, 0, batch(7, 0, i, &[&v]), -1))
                .await
        }));
    }
    for (i, p) in pending.into_iter().enumerate() {
        let r = p.await.expect("task").expect("produce answered");
        assert_eq!(
            r.responses[0].partition_responses[0].error_code, 0,
            "batch {i}"
        );
    }
    let values: Vec<String> = (0..5).map(|i| format!("v{i}")).collect();
    let mut got: Vec<Vec<u8>> = cluster
        .committed_values(T, 0)
        .expect("exists")
        .into_iter()
        .map(|v| v.map(|b| b.to_vec()).unwrap_or_default())
        .collect();
    got.sort();
    let want: Vec<Vec<u8>> = values.iter().map(|v| v.as_bytes().to_vec()).collect();
    assert_eq!(got, want);
    cluster.assert_no_duplicates();
}

#[tokio::test(start_paused = true)]
async fn a_wrong_correlation_id_closes_the_connection_and_the_request_may_have_persisted() {
    let cluster = cluster();
    let conn = connect(&cluster, 0).await;
    cluster.add_fault(
        FaultRule::new(FaultAction::CorruptResponse(
            ResponseCorruption::WrongCorrelationId,
        ))
        .api(ApiKey::Produce),
    );
    let err = conn
        .send(&produce_request(T, 0, batch(7, 0, 0, &["a"]), -1))
        .await
        .expect_err("a broken response fails the request");
    assert!(err.is_possibly_persisted(), "{err}");
    assert!(conn.is_closed());
    cluster.assert_values(T, 0, &[b"a"]);
}

#[tokio::test(start_paused = true)]
async fn a_broker_going_down_fails_in_flight_requests() {
    let cluster = cluster();
    let conn = connect(&cluster, 1).await;
    let hold = kproducer_fake_broker::Hold::new();
    cluster.add_fault(FaultRule::new(FaultAction::Hold(hold.clone())).api(ApiKey::Produce));
    let c = conn.clone();
    let in_flight = tokio::spawn(async move {
        c.send(&produce_request(T, 1, batch(7, 0, 0, &["a"]), -1))
            .await
    });
    hold.reached(1).await;
    cluster.broker_down(1).expect("exists");
    let err = in_flight
        .await
        .expect("task")
        .expect_err("the broker went away");
    assert!(
        err.is_possibly_persisted(),
        "sent, so possibly persisted: {err}"
    );
    cluster.assert_values(T, 1, &[]);
}
