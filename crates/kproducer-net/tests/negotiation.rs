//! ApiVersions negotiation on connect, and typed requests at the negotiated
//! versions.

mod common;

use std::time::Duration;

use bytes::BytesMut;
use common::{ScriptedBroker, api_versions, broker};
use kproducer_net::{Connection, ConnectionConfig, ConnectionError, SendState};
use kproducer_protocol::messages::ApiVersionsRequest;
use kproducer_protocol::{ApiKey, Message, VersionRange};

async fn connect_with<F>(script: F) -> (Result<Connection, ConnectionError>, ScriptedBroker)
where
    F: AsyncFnOnce(&mut ScriptedBroker),
{
    let (client, server) = tokio::io::duplex(1 << 16);
    let mut b = ScriptedBroker::new(server);
    let (conn, ()) = tokio::join!(
        Connection::from_stream(Box::new(client), broker(), ConnectionConfig::default()),
        script(&mut b)
    );
    (conn, b)
}

#[tokio::test(start_paused = true)]
async fn picks_the_highest_version_both_sides_support() {
    let (conn, _b) = connect_with(async |b: &mut ScriptedBroker| {
        let req = b.next_request().await.unwrap();
        assert_eq!(req.api(), ApiKey::ApiVersions);
        assert_eq!(req.header.api_version, 3);
        let body = ApiVersionsRequest::decode(&mut req.body.clone(), 3).unwrap();
        assert_eq!(body.client_software_name, "kproducer");
        b.respond(
            &req,
            &api_versions(&[
                (ApiKey::ApiVersions, 0, 3),
                (ApiKey::Produce, 0, 9),
                (ApiKey::Metadata, 0, 40),
                (ApiKey::InitProducerId, 7, 9),
            ]),
        )
        .await;
    })
    .await;
    let conn = conn.unwrap();
    let v = conn.versions();
    assert_eq!(v.version(ApiKey::Produce), Some(9));
    assert_eq!(
        v.version(ApiKey::Metadata),
        Some(ApiKey::Metadata.versions().max)
    );
    assert_eq!(v.version(ApiKey::ApiVersions), Some(3));
    // No overlap (broker 7..=9, client 0..=5) and not listed at all.
    assert_eq!(v.version(ApiKey::InitProducerId), None);
    assert_eq!(v.version(ApiKey::EndTxn), None);
    assert_eq!(
        v.broker_range(ApiKey::InitProducerId),
        Some(VersionRange { min: 7, max: 9 })
    );
}

/// A broker that does not know ApiVersions v3 answers error 35 in v0.
fn unsupported_v0(listed: &[(ApiKey, i16, i16)]) -> Vec<u8> {
    let mut r = api_versions(listed);
    r.error_code = 35;
    let mut b = BytesMut::new();
    r.encode(&mut b, 0).unwrap();
    b.to_vec()
}

#[tokio::test(start_paused = true)]
async fn unsupported_version_retries_at_the_version_the_broker_lists() {
    let (conn, _b) = connect_with(async |b: &mut ScriptedBroker| {
        let req = b.next_request().await.unwrap();
        assert_eq!(req.header.api_version, 3);
        b.respond_raw(&req, &unsupported_v0(&[(ApiKey::ApiVersions, 0, 2)]))
            .await;
        let retry = b.next_request().await.unwrap();
        assert_eq!(retry.api(), ApiKey::ApiVersions);
        assert_eq!(retry.header.api_version, 2);
        b.respond(&retry, &api_versions(&[(ApiKey::Produce, 3, 8)]))
            .await;
    })
    .await;
    assert_eq!(conn.unwrap().versions().version(ApiKey::Produce), Some(8));
}

#[tokio::test(start_paused = true)]
async fn unsupported_version_without_a_list_falls_back_to_v0() {
    let (conn, _b) = connect_with(async |b: &mut ScriptedBroker| {
        let req = b.next_request().await.unwrap();
        b.respond_raw(&req, &unsupported_v0(&[])).await;
        let retry = b.next_request().await.unwrap();
        assert_eq!(retry.header.api_version, 0);
        assert!(retry.body.is_empty());
        b.respond(&retry, &api_versions(&[(ApiKey::Metadata, 0, 5)]))
            .await;
    })
    .await;
    assert_eq!(conn.unwrap().versions().version(ApiKey::Metadata), Some(5));
}

#[tokio::test(start_paused = true)]
async fn handshake_error_is_reported() {
    let (conn, _b) = connect_with(async |b: &mut ScriptedBroker| {
        let req = b.next_request().await.unwrap();
        let mut r = api_versions(&[]);
        r.error_code = 58; // SASL_AUTHENTICATION_FAILED, say
        b.respond(&req, &r).await;
    })
    .await;
    match conn {
        Err(ConnectionError::Handshake { error_code: 58, .. }) => {}
        other => panic!("expected a handshake error, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn api_the_broker_lacks_is_refused_before_sending() {
    let (conn, mut b) = connect_with(async |b: &mut ScriptedBroker| {
        b.handshake(&[(ApiKey::Produce, 3, 9)]).await;
    })
    .await;
    let conn = conn.unwrap();
    let err = conn.send(&ApiVersionsRequest::default()).await.unwrap_err();
    assert!(
        matches!(
            err,
            ConnectionError::UnsupportedApi {
                api: ApiKey::ApiVersions,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.send_state(), SendState::NotSent);
    assert!(b.nothing_within(Duration::from_secs(1)).await);
}

#[tokio::test(start_paused = true)]
async fn undecodable_response_closes_the_connection() {
    let (conn, mut b) = connect_with(async |b: &mut ScriptedBroker| {
        b.handshake_all().await;
    })
    .await;
    let conn = conn.unwrap();
    let request = ApiVersionsRequest::default();
    let (res, ()) = tokio::join!(conn.send(&request), async {
        let req = b.next_request().await.unwrap();
        b.respond_raw(&req, &[0, 0, 0xff]).await; // truncated body
    });
    let err = res.unwrap_err();
    assert!(matches!(err, ConnectionError::Decode { .. }), "{err}");
    assert!(err.is_possibly_persisted());
    b.expect_eof().await;
    assert!(matches!(
        conn.close_reason(),
        Some(kproducer_net::CloseReason::UndecodableResponse(_))
    ));
}
