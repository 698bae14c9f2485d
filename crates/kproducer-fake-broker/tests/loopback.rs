//! The loopback TCP listener: the same cluster over 127.0.0.1, one port per
//! broker, advertised in Metadata; broker down/up and shutdown close TCP
//! connections; only 127.0.0.1 is accepted.
//!
//! These tests use real sockets, so they run on tokio's real clock; every
//! wait is bounded by [`within`] so that a bug fails the test instead of
//! hanging it. No assertion depends on how long anything took.

mod common;

use std::future::Future;
use std::time::Duration;

use common::{PRODUCE_V, WireClient, batch, outcome, produce_request};
use kproducer_fake_broker::{
    FakeCluster, FaultAction, FaultRule, Hold, ListenError, fake_broker_address,
};
use kproducer_net::Transport;
use kproducer_protocol::ApiKey;
use kproducer_protocol::messages::{MetadataRequest, MetadataRequestTopic};

/// Fails the test if `f` has not finished within 10 s (a hang guard, not a
/// timing assertion).
async fn within<F: Future>(what: &str, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not happen within 10 s"))
}

fn metadata(topic: &str) -> MetadataRequest {
    MetadataRequest {
        topics: Some(vec![MetadataRequestTopic::named(topic)]),
        ..Default::default()
    }
}

#[tokio::test]
async fn metadata_over_tcp_advertises_each_brokers_own_loopback_port() {
    let cluster = FakeCluster::builder()
        .brokers(3)
        .topic("t", 6)
        .build()
        .expect("valid cluster");
    let listener = cluster.listen("127.0.0.1:0").await.expect("listening");
    let ports: Vec<u16> = listener.addresses().values().map(|a| a.port()).collect();
    assert_eq!(ports.len(), 3);
    assert!(ports.iter().all(|&p| p != 0), "real ports: {ports:?}");
    assert_eq!(
        listener.bootstrap_servers(),
        ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    );

    // Ask broker 1 (any broker answers Metadata).
    let addr = listener.address(1).expect("broker 1 listens");
    let mut client = within("connect", WireClient::connect_tcp(addr)).await;
    let r = within("metadata", client.call(12, &metadata("t"))).await;
    let advertised: Vec<(i32, String, i32)> = r
        .brokers
        .iter()
        .map(|b| (b.node_id, b.host.clone(), b.port))
        .collect();
    let expected: Vec<(i32, String, i32)> = listener
        .addresses()
        .iter()
        .map(|(&id, a)| (id, "127.0.0.1".to_owned(), i32::from(a.port())))
        .collect();
    assert_eq!(advertised, expected);
    for p in &r.topics[0].partitions {
        assert_eq!(
            p.leader_id,
            cluster.leader("t", p.partition_index).expect("partition")
        );
    }
    // The cluster reports the TCP addresses too, and the in-memory transport
    // still reaches the brokers by either name.
    assert_eq!(
        cluster.address(1).expect("broker 1").to_string(),
        addr.to_string()
    );
    let transport = cluster.transport();
    for name in [
        cluster.address(1).expect("broker 1"),
        fake_broker_address(1),
    ] {
        assert!(transport.connect(&name).await.is_ok(), "{name} reachable");
    }

    // Shutting down closes the open connection and the port, and the
    // brokers advertise their in-memory names again.
    within("shutdown", listener.shutdown()).await;
    assert!(within("close", client.is_closed()).await);
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    assert_eq!(
        cluster.address(1).expect("broker 1"),
        fake_broker_address(1)
    );
}

#[tokio::test]
async fn tcp_and_in_memory_clients_append_to_the_same_log() {
    let cluster = FakeCluster::builder()
        .brokers(1)
        .topic("t", 1)
        .build()
        .expect("valid cluster");
    let listener = cluster.listen("127.0.0.1:0").await.expect("listening");
    let mut tcp = within(
        "connect",
        WireClient::connect_tcp(listener.address(0).expect("broker 0")),
    )
    .await;
    let mut memory = WireClient::connect(&cluster, 0).await;
    let a = within("produce", tcp.produce("t", 0, batch(7, 0, 0, &["a", "b"]))).await;
    let b = within("produce", memory.produce("t", 0, batch(7, 0, 2, &["c"]))).await;
    // A retry of the first batch over TCP is a duplicate: same broker state.
    let again = within("retry", tcp.produce("t", 0, batch(7, 0, 0, &["a", "b"]))).await;
    assert_eq!(outcome(&a), (0, 0));
    assert_eq!(outcome(&b), (0, 2));
    assert_eq!(outcome(&again), (0, 0));
    cluster.assert_values("t", 0, &[b"a", b"b", b"c"]);
    drop(listener);
}

#[tokio::test]
async fn only_127_0_0_1_is_accepted() {
    let cluster = FakeCluster::builder()
        .brokers(1)
        .build()
        .expect("valid cluster");
    for other in ["0.0.0.0:0", "[::1]:0", "10.0.0.1:0", "[::]:0"] {
        let r = cluster.listen(other).await;
        assert!(
            matches!(r, Err(ListenError::NotLoopback(_))),
            "{other}: {r:?}"
        );
    }
    for bad in ["localhost:0", "127.0.0.1", "", "127.0.0.1:99999"] {
        let r = cluster.listen(bad).await;
        assert!(
            matches!(r, Err(ListenError::InvalidAddress(_))),
            "{bad}: {r:?}"
        );
    }
}

#[tokio::test]
async fn one_listener_at_a_time_and_a_busy_port_is_a_bind_error() {
    let cluster = FakeCluster::builder()
        .brokers(2)
        .build()
        .expect("valid cluster");
    let first = cluster.listen("127.0.0.1:0").await.expect("listening");
    assert!(matches!(
        cluster.listen("127.0.0.1:0").await,
        Err(ListenError::AlreadyListening)
    ));
    drop(first);
    let second = cluster
        .listen("127.0.0.1:0")
        .await
        .expect("listening again");
    drop(second);

    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = busy.local_addr().expect("bound").port();
    let r = cluster.listen(&format!("127.0.0.1:{port}")).await;
    assert!(
        matches!(r, Err(ListenError::Bind { broker: 0, .. })),
        "{r:?}"
    );
    // Nothing was left half-started: the cluster can listen elsewhere.
    drop(cluster.listen("127.0.0.1:0").await.expect("listening"));
}

#[tokio::test]
async fn broker_down_closes_tcp_connections_mid_flight_and_appends_nothing_half() {
    let cluster = FakeCluster::builder()
        .brokers(1)
        .topic("t", 1)
        .build()
        .expect("valid cluster");
    let listener = cluster.listen("127.0.0.1:0").await.expect("listening");
    let addr = listener.address(0).expect("broker 0");
    // The third Produce is held inside the broker: in flight when the broker
    // goes down, with two more pipelined behind it.
    let hold = Hold::new();
    cluster.add_fault(
        FaultRule::new(FaultAction::Hold(hold.clone()))
            .api(ApiKey::Produce)
            .nth(3),
    );
    let mut client = within("connect", WireClient::connect_tcp(addr)).await;
    for seq in 0..5 {
        let values = [format!("v{seq}-a"), format!("v{seq}-b")];
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        client
            .send(
                PRODUCE_V,
                &produce_request("t", 0, batch(1, 0, seq * 2, &values), -1),
            )
            .await;
    }
    for expected_offset in [0, 2] {
        let (_, r) = within("answer", client.recv_produce())
            .await
            .expect("answered before the hold");
        assert_eq!(outcome(&r), (0, expected_offset));
    }
    within("hold", hold.reached(1)).await;

    cluster.broker_down(0).expect("broker 0");
    assert!(
        within("close", client.is_closed()).await,
        "the client sees the connection close"
    );
    // New connections are closed as soon as they are accepted.
    let mut refused = within("connect", WireClient::connect_tcp(addr)).await;
    assert!(within("close", refused.is_closed()).await);
    // Releasing the hold now changes nothing: that request died with its
    // connection.
    hold.release();
    cluster.assert_values("t", 0, &[b"v0-a", b"v0-b", b"v1-a", b"v1-b"]);
    cluster.assert_no_duplicates();
    let counters = cluster.counters();
    assert_eq!(counters.batches_appended, 2);
    assert!(counters.connections_refused >= 1);

    // Back up: the producer's retry of the in-flight batch is appended once.
    cluster.broker_up(0).expect("broker 0");
    let mut again = within("connect", WireClient::connect_tcp(addr)).await;
    let r = within(
        "retry",
        again.produce("t", 0, batch(1, 0, 4, &["v2-a", "v2-b"])),
    )
    .await;
    assert_eq!(outcome(&r), (0, 4));
    cluster.assert_values(
        "t",
        0,
        &[b"v0-a", b"v0-b", b"v1-a", b"v1-b", b"v2-a", b"v2-b"],
    );
}
