//! The whole stack over real TCP on 127.0.0.1: `TcpTransport`, the
//! handshake, and pipelined requests through a `ConnectionGroup`.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::ScriptedBroker;
use kproducer_net::{BrokerAddress, ConnectionGroup, GroupConfig, TcpTransport};
use kproducer_protocol::ApiKey;
use tokio::net::TcpListener;

#[tokio::test]
async fn pipelined_requests_over_loopback_tcp() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut b = ScriptedBroker::new(stream);
        b.handshake_all().await;
        let mut served = 0;
        while let Some(req) = b.next_request().await {
            let mut answer = b"re:".to_vec();
            answer.extend_from_slice(&req.body);
            b.respond_raw(&req, &answer).await;
            served += 1;
        }
        served
    });

    let group = Arc::new(ConnectionGroup::new(
        BrokerAddress::new("127.0.0.1", port),
        Arc::new(TcpTransport::default()),
        GroupConfig {
            jitter_seed: Some(1),
            ..GroupConfig::default()
        },
    ));
    let conn = group.connection(0).await.unwrap();
    assert_eq!(
        conn.versions().version(ApiKey::Produce),
        Some(ApiKey::Produce.versions().max)
    );
    let calls: Vec<_> = (0..200)
        .map(|i| {
            let conn = conn.clone();
            tokio::spawn(async move {
                let body = Bytes::from(format!("request {i}"));
                let answer = conn.send_raw(ApiKey::Metadata, 0, body.clone()).await;
                (body, answer)
            })
        })
        .collect();
    for c in calls {
        let (body, answer) = c.await.unwrap();
        assert_eq!(&answer.unwrap()[3..], &body[..]);
    }
    let m = conn.metrics();
    assert_eq!(m.responses_received, 201);
    assert_eq!(m.in_flight, 0);
    conn.close();
    drop(conn);
    drop(group);
    assert_eq!(server.await.unwrap(), 200);
}
