//! Fault plans acting on requests through the wire: holds, delays, dropped
//! responses, closed connections, injected error codes, n-th occurrence.

mod common;

use std::time::Duration;

use common::WireClient;
use kproducer_fake_broker::{Disposition, ErrorScope, FakeCluster, FaultAction, FaultRule, Hold};
use kproducer_protocol::messages::ApiVersionsRequest;
use kproducer_protocol::{ApiKey, ErrorCode};
use tokio::time::Instant;

fn req() -> ApiVersionsRequest {
    ApiVersionsRequest {
        client_software_name: "kproducer-tests".into(),
        client_software_version: "0.1.0".into(),
        ..Default::default()
    }
}

fn cluster() -> FakeCluster {
    FakeCluster::builder()
        .brokers(2)
        .build()
        .expect("valid cluster")
}

#[tokio::test(start_paused = true)]
async fn a_hold_blocks_its_connection_but_not_others() {
    let cluster = cluster();
    let hold = Hold::new();
    cluster.add_fault(
        FaultRule::new(FaultAction::Hold(hold.clone()))
            .broker(0)
            .connection(0),
    );
    let mut held = WireClient::connect(&cluster, 0).await;
    let mut free = WireClient::connect(&cluster, 0).await;
    let held_id = held.send(3, &req()).await;
    let second_on_held = held.send(3, &req()).await;
    hold.reached(1).await;
    assert_eq!(hold.held_now(), 1);
    // The other connection is served while the first waits.
    assert_eq!(free.call(3, &req()).await.error_code, 0);
    assert_eq!(hold.held_now(), 1);
    hold.release();
    let (h, _) = held.recv::<ApiVersionsRequest>(3).await.expect("released");
    assert_eq!(h.correlation_id, held_id);
    let (h, _) = held
        .recv::<ApiVersionsRequest>(3)
        .await
        .expect("then the next");
    assert_eq!(h.correlation_id, second_on_held);
}

#[tokio::test(start_paused = true)]
async fn a_delay_is_charged_on_the_tokio_clock() {
    let cluster = cluster();
    cluster.add_fault(FaultRule::new(FaultAction::Delay(Duration::from_millis(
        250,
    ))));
    let mut c = WireClient::connect(&cluster, 0).await;
    let start = Instant::now();
    c.call(3, &req()).await;
    assert_eq!(start.elapsed(), Duration::from_millis(250));
    let start = Instant::now();
    c.call(3, &req()).await;
    assert_eq!(start.elapsed(), Duration::ZERO, "one-shot");
}

#[tokio::test(start_paused = true)]
async fn an_injected_error_hits_the_nth_matching_request_only() {
    let cluster = cluster();
    let id = cluster.add_fault(
        FaultRule::new(FaultAction::Error {
            code: ErrorCode::COORDINATOR_NOT_AVAILABLE,
            scope: ErrorScope::Request,
        })
        .api(ApiKey::ApiVersions)
        .broker(1)
        .nth(2),
    );
    let mut on_0 = WireClient::connect(&cluster, 0).await;
    let mut on_1 = WireClient::connect(&cluster, 1).await;
    assert_eq!(on_0.call(3, &req()).await.error_code, 0, "other broker");
    assert_eq!(on_1.call(3, &req()).await.error_code, 0, "first match");
    assert!(!cluster.fault_fired(id));
    assert_eq!(on_1.call(3, &req()).await.error_code, 15, "second match");
    assert!(cluster.fault_fired(id));
    assert_eq!(on_1.call(3, &req()).await.error_code, 0, "spent");
}

#[tokio::test(start_paused = true)]
async fn a_sticky_rule_keeps_firing_until_removed() {
    let cluster = cluster();
    let id = cluster.add_fault(
        FaultRule::new(FaultAction::Error {
            code: ErrorCode::NOT_COORDINATOR,
            scope: ErrorScope::Request,
        })
        .sticky(),
    );
    let mut c = WireClient::connect(&cluster, 0).await;
    for _ in 0..3 {
        assert_eq!(c.call(3, &req()).await.error_code, 16);
    }
    assert!(cluster.remove_fault(id));
    assert_eq!(c.call(3, &req()).await.error_code, 0);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_response_leaves_the_connection_open() {
    let cluster = cluster();
    cluster.add_fault(FaultRule::new(FaultAction::DropResponse));
    let mut c = WireClient::connect(&cluster, 0).await;
    let dropped = c.send(3, &req()).await;
    cluster.wait_for_requests(1).await;
    assert_eq!(cluster.requests_finished(), 1);
    assert_eq!(
        cluster.requests()[0].disposition,
        Disposition::ResponseDropped
    );
    let answered = c.send(3, &req()).await;
    let (h, _) = c
        .recv::<ApiVersionsRequest>(3)
        .await
        .expect("second answered");
    assert_eq!(h.correlation_id, answered);
    assert_ne!(dropped, answered);
    let dispositions: Vec<Disposition> = cluster.requests().iter().map(|r| r.disposition).collect();
    assert_eq!(
        dispositions,
        vec![Disposition::ResponseDropped, Disposition::Answered]
    );
}

#[tokio::test(start_paused = true)]
async fn close_before_and_after_handling_both_close_without_answering() {
    for (action, disposition) in [
        (
            FaultAction::CloseBeforeHandling,
            Disposition::ConnectionClosed,
        ),
        (
            FaultAction::CloseAfterHandling,
            Disposition::ConnectionClosed,
        ),
    ] {
        let cluster = cluster();
        cluster.add_fault(FaultRule::new(action));
        let mut c = WireClient::connect(&cluster, 0).await;
        c.send(3, &req()).await;
        assert!(c.is_closed().await);
        assert_eq!(cluster.requests()[0].disposition, disposition);
        // A new connection is served normally.
        let mut again = WireClient::connect(&cluster, 0).await;
        assert_eq!(again.call(3, &req()).await.error_code, 0);
    }
}

#[tokio::test(start_paused = true)]
async fn a_broker_going_down_releases_held_connections_by_closing_them() {
    let cluster = cluster();
    let hold = Hold::new();
    cluster.add_fault(FaultRule::new(FaultAction::Hold(hold.clone())));
    let mut c = WireClient::connect(&cluster, 0).await;
    c.send(3, &req()).await;
    hold.reached(1).await;
    cluster.broker_down(0).expect("broker exists");
    assert!(c.is_closed().await);
    assert_eq!(hold.held_now(), 0);
}

#[tokio::test(start_paused = true)]
async fn corrupted_responses_are_broken_the_way_asked() {
    use kproducer_fake_broker::ResponseCorruption;
    use kproducer_protocol::{ResponseHeader, decode_response};

    let cluster = cluster();
    let mut c = WireClient::connect(&cluster, 0).await;
    let clean = {
        c.send(3, &req()).await;
        c.recv_raw().await.expect("a clean frame")
    };
    for how in [
        ResponseCorruption::WrongCorrelationId,
        ResponseCorruption::Truncate,
        ResponseCorruption::Garbage,
    ] {
        cluster.add_fault(FaultRule::new(FaultAction::CorruptResponse(how)));
        let id = c.send(3, &req()).await;
        let frame = c.recv_raw().await.expect("a frame, broken");
        let header = ResponseHeader::peek_correlation_id(&frame);
        match how {
            ResponseCorruption::WrongCorrelationId => {
                assert_ne!(header.ok(), Some(id));
                assert_eq!(frame.len(), clean.len());
            }
            ResponseCorruption::Truncate => {
                assert_eq!(frame.len(), clean.len() / 2);
                assert!(decode_response::<ApiVersionsRequest>(frame, 3).is_err());
            }
            ResponseCorruption::Garbage => {
                assert_eq!(header.ok(), Some(id), "the header is kept");
                assert_ne!(&frame[4..], &clean[4..]);
            }
        }
    }
}
