//! Metadata, FindCoordinator, ListOffsets and Fetch through the wire, on
//! clusters whose shape the test changes while clients are connected.

mod common;

use common::WireClient;
use kproducer_fake_broker::FakeCluster;
use kproducer_protocol::ErrorCode;
use kproducer_protocol::messages::{
    FetchPartition, FetchRequest, FetchTopic, FindCoordinatorRequest, ListOffsetsPartition,
    ListOffsetsRequest, ListOffsetsTopic, MetadataRequest, MetadataRequestTopic, MetadataResponse,
};

fn cluster() -> FakeCluster {
    FakeCluster::builder()
        .brokers(3)
        .topic("orders", 3)
        .cluster_id("test-cluster")
        .build()
        .expect("valid cluster")
}

fn named(names: &[&str]) -> MetadataRequest {
    MetadataRequest {
        topics: Some(
            names
                .iter()
                .map(|n| MetadataRequestTopic::named(*n))
                .collect(),
        ),
        allow_auto_topic_creation: true,
        ..Default::default()
    }
}

fn leaders(r: &MetadataResponse, topic: &str) -> Vec<(i32, i32, i16)> {
    r.topics
        .iter()
        .find(|t| t.name.as_deref() == Some(topic))
        .map(|t| {
            t.partitions
                .iter()
                .map(|p| (p.leader_id, p.leader_epoch, p.error_code))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(start_paused = true)]
async fn metadata_describes_brokers_and_leaders_at_every_version() {
    let cluster = cluster();
    let mut c = WireClient::connect(&cluster, 0).await;
    for version in [0, 1, 4, 7, 9, 10, 12] {
        let r = c.call(version, &MetadataRequest::default()).await;
        let ids: Vec<i32> = r.brokers.iter().map(|b| b.node_id).collect();
        assert_eq!(ids, vec![0, 1, 2], "v{version}");
        assert_eq!(r.brokers[1].host, "fake-broker-1");
        assert_eq!(r.brokers[1].port, 9092);
        let expect: Vec<i32> = (0..3)
            .map(|p| cluster.leader("orders", p).expect("exists"))
            .collect();
        let got: Vec<i32> = leaders(&r, "orders").iter().map(|l| l.0).collect();
        assert_eq!(got, expect, "v{version}");
        if version >= 2 {
            assert_eq!(r.cluster_id.as_deref(), Some("test-cluster"));
        }
    }
}

#[tokio::test(start_paused = true)]
async fn leader_moves_and_broker_outages_show_in_metadata() {
    let cluster = cluster();
    let mut c = WireClient::connect(&cluster, 0).await;
    cluster.move_leader("orders", 0, 2).expect("valid move");
    let r = c.call(12, &named(&["orders"])).await;
    assert_eq!(leaders(&r, "orders")[0], (2, 1, 0));
    cluster.broker_down(2).expect("exists");
    let r = c.call(12, &named(&["orders"])).await;
    assert_eq!(r.brokers.len(), 2);
    assert_eq!(
        leaders(&r, "orders")[0],
        (-1, 1, ErrorCode::LEADER_NOT_AVAILABLE.as_i16())
    );
}

#[tokio::test(start_paused = true)]
async fn unknown_topics_are_unknown_until_created_unless_auto_created() {
    let cluster = cluster();
    let mut c = WireClient::connect(&cluster, 0).await;
    let r = c.call(12, &named(&["later", "bad/name"])).await;
    assert_eq!(r.topics[0].error_code, 3);
    assert_eq!(r.topics[1].error_code, 17);
    cluster.create_topic("later", 2).expect("valid topic");
    let r = c.call(12, &named(&["later"])).await;
    assert_eq!(r.topics[0].error_code, 0);
    assert_eq!(r.topics[0].partitions.len(), 2);
    assert_eq!(
        r.topics[0].topic_id,
        cluster.topic_id("later").expect("exists")
    );

    let auto = FakeCluster::builder()
        .brokers(1)
        .auto_create_topics(Some(4))
        .build()
        .expect("valid cluster");
    let mut c = WireClient::connect(&auto, 0).await;
    let refuse = MetadataRequest {
        allow_auto_topic_creation: false,
        ..named(&["fresh"])
    };
    assert_eq!(c.call(12, &refuse).await.topics[0].error_code, 3);
    let r = c.call(12, &named(&["fresh"])).await;
    assert_eq!(
        (r.topics[0].error_code, r.topics[0].partitions.len()),
        (0, 4)
    );
}

#[tokio::test(start_paused = true)]
async fn find_coordinator_names_the_chosen_broker_or_says_why_not() {
    let cluster = cluster();
    let mut c = WireClient::connect(&cluster, 1).await;
    let v3 = FindCoordinatorRequest {
        key: "tx".into(),
        key_type: 1,
        ..Default::default()
    };
    let r = c.call(3, &v3).await;
    assert_eq!(
        (r.error_code, r.node_id, r.host.as_str()),
        (0, 0, "fake-broker-0")
    );
    cluster.set_coordinator(2).expect("exists");
    let v4 = FindCoordinatorRequest {
        key_type: 1,
        coordinator_keys: vec!["a".into(), "b".into()],
        ..Default::default()
    };
    let r = c.call(4, &v4).await;
    let nodes: Vec<i32> = r.coordinators.iter().map(|c| c.node_id).collect();
    assert_eq!(nodes, vec![2, 2]);
    cluster.broker_down(2).expect("exists");
    assert_eq!(c.call(3, &v3).await.error_code, 15);
}

fn list_offsets(topic: &str, partition: i32, timestamp: i64, epoch: i32) -> ListOffsetsRequest {
    ListOffsetsRequest {
        topics: vec![ListOffsetsTopic {
            name: topic.into(),
            partitions: vec![ListOffsetsPartition {
                partition_index: partition,
                current_leader_epoch: epoch,
                timestamp,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[tokio::test(start_paused = true)]
async fn list_offsets_checks_leadership_and_leader_epoch() {
    let cluster = cluster();
    let leader = cluster.leader("orders", 0).expect("exists");
    let other = (leader + 1) % 3;
    let mut on_leader = WireClient::connect(&cluster, leader).await;
    let mut on_other = WireClient::connect(&cluster, other).await;
    let code = |r: kproducer_protocol::messages::ListOffsetsResponse| {
        let p = &r.topics[0].partitions[0];
        (p.error_code, p.offset)
    };
    assert_eq!(
        code(on_leader.call(7, &list_offsets("orders", 0, -1, -1)).await),
        (0, 0)
    );
    assert_eq!(
        code(on_leader.call(7, &list_offsets("orders", 0, -2, 0)).await),
        (0, 0)
    );
    assert_eq!(
        code(on_other.call(7, &list_offsets("orders", 0, -1, -1)).await).0,
        6
    );
    assert_eq!(
        code(on_leader.call(7, &list_offsets("orders", 9, -1, -1)).await).0,
        3
    );
    assert_eq!(
        code(on_leader.call(7, &list_offsets("nope", 0, -1, -1)).await).0,
        3
    );
    cluster
        .move_leader("orders", 0, leader)
        .expect("re-elect: epoch 1");
    assert_eq!(
        code(on_leader.call(7, &list_offsets("orders", 0, -1, 0)).await).0,
        74
    );
    assert_eq!(
        code(on_leader.call(7, &list_offsets("orders", 0, -1, 5)).await).0,
        75
    );
}

#[tokio::test(start_paused = true)]
async fn an_empty_fetch_waits_max_wait_then_answers_empty() {
    let cluster = cluster();
    let leader = cluster.leader("orders", 1).expect("exists");
    let mut c = WireClient::connect(&cluster, leader).await;
    let req = FetchRequest {
        max_wait_ms: 500,
        topics: vec![FetchTopic {
            topic: "orders".into(),
            partitions: vec![FetchPartition {
                partition: 1,
                fetch_offset: 0,
                partition_max_bytes: 1 << 20,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let start = tokio::time::Instant::now();
    let r = c.call(12, &req).await;
    assert_eq!(start.elapsed(), std::time::Duration::from_millis(500));
    let p = &r.responses[0].partitions[0];
    assert_eq!((p.error_code, p.high_watermark), (0, 0));
    assert!(p.records.as_ref().is_none_or(|r| r.is_empty()));
    let beyond = FetchRequest {
        topics: vec![FetchTopic {
            partitions: vec![FetchPartition {
                partition: 1,
                fetch_offset: 5,
                ..Default::default()
            }],
            ..req.topics[0].clone()
        }],
        ..req.clone()
    };
    let r = c.call(12, &beyond).await;
    assert_eq!(
        r.responses[0].partitions[0].error_code, 1,
        "offset out of range"
    );
}
