//! SASL on the fake broker, through kproducer-net's `SaslTransport` and
//! `Connection`: each mechanism, each way authentication fails, and the
//! gate that closes connections which skip authentication.

use std::sync::Arc;

use kproducer_fake_broker::{Disposition, FakeCluster, SaslFault, SaslServerConfig};
use kproducer_net::{
    BrokerAddress, BuiltinMechanism, Connection, ConnectionConfig, ConnectionError, SaslError,
    SaslTransport, TcpTransport, Transport, TransportError,
};
use kproducer_protocol::ApiKey;
use kproducer_protocol::messages::{MetadataRequest, MetadataRequestTopic};

const T: &str = "t";

fn cluster(sasl: SaslServerConfig) -> FakeCluster {
    FakeCluster::builder()
        .brokers(1)
        .topic(T, 1)
        .sasl(sasl)
        .build()
        .expect("valid cluster")
}

fn users() -> SaslServerConfig {
    SaslServerConfig::new()
        .user("alice", "alice-secret")
        .user("bob,=odd", "bob-secret")
}

fn sasl(
    inner: Arc<dyn Transport>,
    mechanism: BuiltinMechanism,
    user: &str,
    password: &str,
) -> SaslTransport {
    SaslTransport::new(inner, mechanism.with_credentials(user, password))
}

async fn connect(
    transport: &dyn Transport,
    addr: &BrokerAddress,
) -> Result<Connection, ConnectionError> {
    Connection::connect(transport, addr, ConnectionConfig::default()).await
}

/// Connects to broker 0 of `cluster` over its in-memory transport,
/// authenticating with `mechanism` as `user`.
async fn authenticate(
    cluster: &FakeCluster,
    mechanism: BuiltinMechanism,
    user: &str,
    password: &str,
) -> Result<Connection, ConnectionError> {
    let addr = cluster.address(0).expect("broker 0 exists");
    let t = sasl(Arc::new(cluster.transport()), mechanism, user, password);
    connect(&t, &addr).await
}

async fn metadata(conn: &Connection) -> usize {
    conn.send(&MetadataRequest {
        topics: Some(vec![MetadataRequestTopic::named(T)]),
        ..Default::default()
    })
    .await
    .expect("metadata after authentication")
    .topics
    .len()
}

fn sasl_error(e: &ConnectionError) -> &SaslError {
    e.sasl_error()
        .unwrap_or_else(|| panic!("expected a SASL error, got {e}"))
}

#[tokio::test(start_paused = true)]
async fn every_mechanism_authenticates_and_then_serves_requests() {
    let cluster = cluster(users());
    for mechanism in BuiltinMechanism::ALL {
        for (user, password) in [("alice", "alice-secret"), ("bob,=odd", "bob-secret")] {
            let conn = authenticate(&cluster, mechanism, user, password)
                .await
                .unwrap_or_else(|e| panic!("{mechanism} {user}: {e}"));
            assert_eq!(metadata(&conn).await, 1, "{mechanism}");
        }
    }
    let apis: Vec<i16> = cluster.requests().iter().map(|r| r.api_key).collect();
    assert!(apis.contains(&ApiKey::SaslHandshake.as_i16()));
    assert!(apis.contains(&ApiKey::SaslAuthenticate.as_i16()));
}

#[tokio::test(start_paused = true)]
async fn a_wrong_password_is_rejected_with_the_brokers_message() {
    let cluster = cluster(users());
    for mechanism in BuiltinMechanism::ALL {
        let e = authenticate(&cluster, mechanism, "alice", "wrong-guess")
            .await
            .unwrap_err();
        let s = sasl_error(&e);
        assert!(
            matches!(
                s,
                SaslError::AuthenticationFailed {
                    code: 58,
                    message: Some(_),
                    ..
                }
            ),
            "{mechanism}: {e}"
        );
        assert!(s.is_fatal());
        let text = format!("{e} {e:?}");
        assert!(!text.contains("wrong-guess"), "{text}");
        assert!(text.contains("check sasl.username"), "{text}");
    }
    // The broker answered the failed SaslAuthenticate and then closed.
    assert!(cluster.requests().iter().any(|r| {
        r.api_key == ApiKey::SaslAuthenticate.as_i16()
            && r.disposition == Disposition::ConnectionClosed
    }));
}

#[tokio::test(start_paused = true)]
async fn an_unknown_user_is_rejected() {
    let cluster = cluster(users());
    for mechanism in BuiltinMechanism::ALL {
        let e = authenticate(&cluster, mechanism, "mallory", "alice-secret")
            .await
            .unwrap_err();
        assert!(
            matches!(sasl_error(&e), SaslError::AuthenticationFailed { .. }),
            "{mechanism}: {e}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn an_unsupported_mechanism_names_the_enabled_ones() {
    let cluster = cluster(users().mechanisms(&[BuiltinMechanism::ScramSha512]));
    let e = authenticate(&cluster, BuiltinMechanism::Plain, "alice", "alice-secret")
        .await
        .unwrap_err();
    match sasl_error(&e) {
        SaslError::UnsupportedMechanism { mechanism, enabled } => {
            assert_eq!(mechanism, "PLAIN");
            assert_eq!(enabled, &["SCRAM-SHA-512"]);
        }
        other => panic!("{other}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_broker_that_cannot_sign_is_not_trusted() {
    let cluster = cluster(users().fault(SaslFault::WrongServerSignature));
    for mechanism in [BuiltinMechanism::ScramSha256, BuiltinMechanism::ScramSha512] {
        let e = authenticate(&cluster, mechanism, "alice", "alice-secret")
            .await
            .unwrap_err();
        assert!(
            matches!(sasl_error(&e), SaslError::ServerSignatureMismatch { .. }),
            "{mechanism}: {e}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_foreign_nonce_and_too_few_iterations_are_refused() {
    let cluster = cluster(users().fault(SaslFault::ForeignNonce));
    let e = authenticate(
        &cluster,
        BuiltinMechanism::ScramSha256,
        "alice",
        "alice-secret",
    )
    .await
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("does not start with the client nonce"),
        "{e}"
    );

    let cluster = cluster_with_iterations(1024);
    let e = authenticate(
        &cluster,
        BuiltinMechanism::ScramSha512,
        "alice",
        "alice-secret",
    )
    .await
    .unwrap_err();
    assert!(
        e.to_string().contains("iteration count 1024 is below"),
        "{e}"
    );
}

fn cluster_with_iterations(iterations: u32) -> FakeCluster {
    cluster(
        SaslServerConfig::new()
            .scram_iterations(iterations)
            .user("alice", "alice-secret"),
    )
}

#[tokio::test(start_paused = true)]
async fn requests_before_authentication_close_the_connection() {
    let cluster = cluster(users());
    let addr = cluster.address(0).unwrap();
    // A plain connection: ApiVersions is answered (the negotiation works)...
    let conn = connect(&cluster.transport(), &addr)
        .await
        .expect("ApiVersions is allowed");
    // ...but Metadata closes the connection.
    let e = conn
        .send(&MetadataRequest::default())
        .await
        .expect_err("the gate closes the connection");
    assert!(matches!(e, ConnectionError::Closed { .. }), "{e}");
    let last = cluster.requests().pop().unwrap();
    assert_eq!(last.api_key, ApiKey::Metadata.as_i16());
    assert_eq!(last.disposition, Disposition::ConnectionClosed);
}

#[tokio::test(start_paused = true)]
async fn sasl_against_a_cluster_without_sasl_says_so() {
    let cluster = FakeCluster::builder().brokers(1).build().unwrap();
    let e = authenticate(&cluster, BuiltinMechanism::Plain, "a", "b")
        .await
        .unwrap_err();
    assert!(matches!(sasl_error(&e), SaslError::NotSaslListener), "{e}");
}

#[tokio::test]
async fn scram_over_the_loopback_listener() {
    let cluster = cluster(users());
    let listener = cluster.listen("127.0.0.1:0").await.expect("listens");
    let socket = listener.address(0).unwrap();
    let addr = BrokerAddress::new(socket.ip().to_string(), socket.port());
    let tcp: Arc<dyn Transport> = Arc::new(TcpTransport::default());
    let t = sasl(
        tcp.clone(),
        BuiltinMechanism::ScramSha256,
        "alice",
        "alice-secret",
    );
    let conn = connect(&t, &addr).await.expect("authenticates over TCP");
    assert_eq!(metadata(&conn).await, 1);
    let bad = sasl(tcp, BuiltinMechanism::ScramSha256, "alice", "nope");
    let e = match bad.connect(&addr).await {
        Ok(_) => panic!("a wrong password must fail"),
        Err(e) => e,
    };
    assert!(matches!(e, TransportError::Sasl { .. }), "{e}");
    listener.shutdown().await;
}
