//! Serving connections: framing, ApiVersions, what happens to requests the
//! broker cannot serve, per-connection ordering, service time, broker
//! up/down.

mod common;

use std::time::Duration;

use bytes::{BufMut, BytesMut};
use common::WireClient;
use kproducer_fake_broker::{ConnectionId, Disposition, FakeCluster, ServiceTime};
use kproducer_net::Transport;
use kproducer_protocol::messages::ApiVersionsRequest;
use kproducer_protocol::{ApiKey, RequestHeader, ResponseHeader};
use tokio::time::Instant;

fn versions_request() -> ApiVersionsRequest {
    ApiVersionsRequest {
        client_software_name: "kproducer-tests".into(),
        client_software_version: "0.1.0".into(),
        ..Default::default()
    }
}

fn raw_header(api_key: i16, api_version: i16, correlation_id: i32) -> BytesMut {
    let mut buf = BytesMut::new();
    RequestHeader {
        api_key,
        api_version,
        correlation_id,
        client_id: Some("raw".into()),
        tagged_fields: Default::default(),
    }
    .encode(&mut buf)
    .expect("header encodes");
    buf
}

fn one_broker() -> FakeCluster {
    FakeCluster::builder()
        .brokers(1)
        .build()
        .expect("valid cluster")
}

#[tokio::test(start_paused = true)]
async fn api_versions_lists_what_the_broker_serves() {
    let cluster = one_broker();
    let mut c = WireClient::connect(&cluster, 0).await;
    for version in 0..=3 {
        let r = c.call(version, &versions_request()).await;
        assert_eq!(r.error_code, 0, "v{version}");
        let range = r
            .range_for(ApiKey::ApiVersions)
            .expect("ApiVersions listed");
        assert_eq!((range.min, range.max), (0, 3));
    }
}

#[tokio::test(start_paused = true)]
async fn api_versions_with_an_invalid_software_name_is_invalid_request() {
    let cluster = one_broker();
    let mut c = WireClient::connect(&cluster, 0).await;
    let bad = ApiVersionsRequest {
        client_software_name: "-bad name".into(),
        client_software_version: "1".into(),
        ..Default::default()
    };
    assert_eq!(c.call(3, &bad).await.error_code, 42);
}

#[tokio::test(start_paused = true)]
async fn api_versions_at_an_unknown_version_gets_a_v0_answer_with_35() {
    let cluster = one_broker();
    let mut c = WireClient::connect(&cluster, 0).await;
    let mut frame = raw_header(ApiKey::ApiVersions.as_i16(), 99, 7);
    frame.put_slice(&[0, 0, 0]); // a v3+ body the broker cannot know
    c.send_raw(frame.freeze()).await;
    let mut resp = c.recv_raw().await.expect("an answer, not a close");
    let header = ResponseHeader::decode(&mut resp, 0).expect("header v0");
    assert_eq!(header.correlation_id, 7);
    let body =
        <kproducer_protocol::messages::ApiVersionsResponse as kproducer_protocol::Message>::decode(
            &mut resp, 0,
        )
        .expect("a v0 body");
    assert_eq!(body.error_code, 35);
    assert!(body.range_for(ApiKey::ApiVersions).is_some());
    // The connection stays usable.
    assert_eq!(c.call(3, &versions_request()).await.error_code, 0);
}

#[tokio::test(start_paused = true)]
async fn requests_the_broker_cannot_serve_close_the_connection() {
    let cluster = one_broker();
    let cases: Vec<(&str, BytesMut)> = vec![
        ("unknown API key", raw_header(999, 0, 1)),
        ("unsupported Produce version", raw_header(0, 99, 1)),
        ("truncated header", BytesMut::from(&[0u8, 18, 0][..])),
        ("ApiVersions v3 with a broken body", {
            let mut f = raw_header(18, 3, 1);
            f.put_u8(0x7f); // compact string length with no bytes behind it
            f
        }),
    ];
    for (what, frame) in cases {
        let mut c = WireClient::connect(&cluster, 0).await;
        c.send_raw(frame.freeze()).await;
        assert!(c.is_closed().await, "{what}: connection should close");
    }
    let closed = cluster
        .requests()
        .iter()
        .filter(|r| r.disposition == Disposition::ConnectionClosed)
        .count();
    assert_eq!(closed, 4);
}

#[tokio::test(start_paused = true)]
async fn a_frame_over_the_limit_closes_the_connection() {
    let cluster = FakeCluster::builder()
        .brokers(1)
        .max_frame_bytes(64)
        .build()
        .expect("valid cluster");
    let mut c = WireClient::connect(&cluster, 0).await;
    let mut frame = raw_header(18, 0, 1);
    frame.put_slice(&[0u8; 100]);
    c.send_raw(frame.freeze()).await;
    assert!(c.is_closed().await);
}

#[tokio::test(start_paused = true)]
async fn one_connection_is_served_in_order_one_request_at_a_time() {
    let service = Duration::from_millis(10);
    let cluster = FakeCluster::builder()
        .brokers(1)
        .service_time(ServiceTime::new(service, Duration::ZERO))
        .build()
        .expect("valid cluster");
    let mut c = WireClient::connect(&cluster, 0).await;
    let start = Instant::now();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(c.send(3, &versions_request()).await);
    }
    for &id in &ids {
        let (h, _) = c.recv::<ApiVersionsRequest>(3).await.expect("a response");
        assert_eq!(h.correlation_id, id, "arrival order");
    }
    assert_eq!(start.elapsed(), 3 * service, "served one after another");
}

#[tokio::test(start_paused = true)]
async fn separate_connections_are_served_concurrently() {
    let service = Duration::from_millis(10);
    let cluster = FakeCluster::builder()
        .brokers(1)
        .service_time(ServiceTime::new(service, Duration::ZERO))
        .build()
        .expect("valid cluster");
    let mut a = WireClient::connect(&cluster, 0).await;
    let mut b = WireClient::connect(&cluster, 0).await;
    let start = Instant::now();
    a.send(3, &versions_request()).await;
    b.send(3, &versions_request()).await;
    assert!(a.recv::<ApiVersionsRequest>(3).await.is_some());
    assert!(b.recv::<ApiVersionsRequest>(3).await.is_some());
    assert_eq!(
        start.elapsed(),
        service,
        "two connections, one service time"
    );
}

#[tokio::test(start_paused = true)]
async fn service_time_grows_with_payload() {
    let cluster = FakeCluster::builder()
        .brokers(1)
        .service_time(ServiceTime::new(Duration::ZERO, Duration::from_millis(1)))
        .build()
        .expect("valid cluster");
    let mut c = WireClient::connect(&cluster, 0).await;
    let start = Instant::now();
    let big = ApiVersionsRequest {
        client_software_name: "a".repeat(2048),
        ..versions_request()
    };
    c.call(3, &big).await;
    assert!(
        start.elapsed() >= Duration::from_millis(2),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn a_broker_going_down_closes_connections_and_refuses_new_ones() {
    let cluster = FakeCluster::builder()
        .brokers(2)
        .build()
        .expect("valid cluster");
    let mut on_0 = WireClient::connect(&cluster, 0).await;
    let mut on_1 = WireClient::connect(&cluster, 1).await;
    cluster.broker_down(0).expect("broker exists");
    assert!(on_0.is_closed().await);
    let transport = cluster.transport();
    let addr = cluster.address(0).expect("broker exists");
    assert!(
        transport.connect(&addr).await.is_err(),
        "refused while down"
    );
    assert_eq!(
        on_1.call(3, &versions_request()).await.error_code,
        0,
        "others unaffected"
    );
    cluster.broker_up(0).expect("broker exists");
    let mut again = WireClient::connect(&cluster, 0).await;
    assert_eq!(again.call(3, &versions_request()).await.error_code, 0);
    let counters = cluster.counters();
    assert_eq!(counters.connections_accepted, 3);
    assert_eq!(counters.connections_refused, 1);
    let last = cluster.requests().last().cloned().expect("requests logged");
    assert_eq!(
        last.connection,
        ConnectionId {
            broker: 0,
            ordinal: 1
        }
    );
}

#[tokio::test(start_paused = true)]
async fn an_unknown_address_is_not_resolved() {
    let cluster = one_broker();
    let addr = kproducer_net::BrokerAddress::new("elsewhere", 9092);
    assert!(cluster.transport().connect(&addr).await.is_err());
}

#[test]
fn connecting_outside_a_tokio_runtime_is_an_error_not_a_panic() {
    let cluster = one_broker();
    let addr = cluster.address(0).expect("broker exists");
    let transport = cluster.transport();
    let result = futures_util::FutureExt::now_or_never(transport.connect(&addr));
    match result {
        Some(Err(e)) => assert!(e.to_string().contains("tokio runtime"), "{e}"),
        Some(Ok(_)) => panic!("connected without a runtime"),
        None => panic!("connect should finish at once"),
    }
}

#[tokio::test(start_paused = true)]
async fn open_connections_are_counted_until_either_side_closes() {
    let cluster = FakeCluster::builder()
        .brokers(2)
        .build()
        .expect("valid cluster");
    let mut a = WireClient::connect(&cluster, 0).await;
    let mut b = WireClient::connect(&cluster, 1).await;
    assert_eq!(a.call(3, &versions_request()).await.error_code, 0);
    assert_eq!(b.call(3, &versions_request()).await.error_code, 0);
    assert_eq!(cluster.counters().connections_open, 2);
    drop(a);
    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    assert_eq!(cluster.counters().connections_open, 1, "client closed");
    cluster.broker_down(1).expect("broker exists");
    assert!(b.is_closed().await);
    assert_eq!(cluster.counters().connections_open, 0, "broker closed");
}
