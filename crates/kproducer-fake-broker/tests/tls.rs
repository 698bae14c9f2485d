//! TLS between kproducer-net's `TlsTransport` and the fake broker's TLS
//! listener, with certificates generated per test: success, the named
//! handshake failures (unknown CA, name mismatch, expired), mutual TLS, and
//! the wrong protocol on either side failing fast with a hint.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use kproducer_fake_broker::{FakeCluster, LoopbackListener, SelfSignedTls, ServerTls, TestPki};
use kproducer_net::{
    BrokerAddress, ClientIdentity, Connection, ConnectionConfig, ConnectionError, PemSource,
    PrivateKeyPem, PrivateKeySource, TcpConfig, TcpTransport, TlsConfig, TlsTransport,
    TransportError, TrustRoots,
};
use kproducer_protocol::messages::MetadataRequest;

/// Every test is bounded: a hang is a failure, not a stuck CI job.
const TEST_LIMIT: Duration = Duration::from_secs(30);

async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(TEST_LIMIT, f)
        .await
        .expect("the test did not finish within its time limit (a hang)")
}

fn cluster() -> FakeCluster {
    FakeCluster::builder()
        .brokers(1)
        .topic("t", 1)
        .build()
        .unwrap()
}

/// A one-broker cluster serving TLS with `server` on a loopback port (the
/// listener keeps the cluster alive).
async fn tls_listener(server: &ServerTls) -> LoopbackListener {
    cluster().listen_tls("127.0.0.1:0", server).await.unwrap()
}

/// [`tls_listener`] with a self-signed loopback certificate, whose CA the
/// returned [`SelfSignedTls`] holds.
async fn self_signed_listener() -> (SelfSignedTls, LoopbackListener) {
    let tls = SelfSignedTls::for_loopback().unwrap();
    let listener = tls_listener(&tls.server_tls()).await;
    (tls, listener)
}

/// The broker side for a certificate `pki` issues for `names`.
fn server_issued_by(pki: &TestPki, names: &[&str]) -> ServerTls {
    let broker = pki.issue_server(names).unwrap();
    ServerTls::new(&broker.certificate_pem, &broker.key_pem)
}

/// A loopback broker certificate from `pki` that also requires client
/// certificates `pki` signed.
fn mutual_tls_server(pki: &TestPki) -> ServerTls {
    server_issued_by(pki, &["127.0.0.1"]).require_client_certificates(&pki.ca_pem())
}

fn address(listener: &LoopbackListener) -> BrokerAddress {
    let a = listener.address(0).unwrap();
    BrokerAddress::new(a.ip().to_string(), a.port())
}

fn trusting(ca_pem: String) -> TlsConfig {
    TlsConfig {
        roots: TrustRoots::Pem(PemSource::Pem(ca_pem)),
        ..TlsConfig::default()
    }
}

fn tls_transport(config: &TlsConfig) -> TlsTransport {
    TlsTransport::over_tcp(TcpConfig::default(), config).unwrap()
}

async fn connect(
    transport: &dyn kproducer_net::Transport,
    addr: &BrokerAddress,
) -> Result<Connection, ConnectionError> {
    Connection::connect(transport, addr, ConnectionConfig::default()).await
}

/// Connects to `listener` over TLS configured by `config`.
async fn connect_tls(
    config: &TlsConfig,
    listener: &LoopbackListener,
) -> Result<Connection, ConnectionError> {
    connect(&tls_transport(config), &address(listener)).await
}

/// The transport error behind a failed connect.
fn transport_error(err: &ConnectionError) -> &TransportError {
    match err {
        ConnectionError::Connect { source, .. } => source,
        other => panic!("expected a connect error, got: {other}"),
    }
}

#[tokio::test]
async fn tls_connection_carries_requests() {
    bounded(async {
        let (tls, listener) = self_signed_listener().await;
        let conn = connect_tls(&trusting(tls.pki.ca_pem()), &listener)
            .await
            .unwrap();
        let metadata = conn.send(&MetadataRequest::default()).await.unwrap();
        assert_eq!(metadata.brokers.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn unknown_ca_is_named() {
    bounded(async {
        let (_tls, listener) = self_signed_listener().await;
        let other_ca = TestPki::new("some other CA").unwrap();
        let err = connect_tls(&trusting(other_ca.ca_pem()), &listener)
            .await
            .unwrap_err();
        let err = transport_error(&err);
        assert!(matches!(err, TransportError::TlsUnknownCa { .. }), "{err}");
        assert!(err.to_string().contains("ssl.ca.location"), "{err}");
    })
    .await;
}

#[tokio::test]
async fn name_mismatch_is_named_and_can_be_switched_off() {
    bounded(async {
        let pki = TestPki::new("test CA").unwrap();
        let listener = tls_listener(&server_issued_by(&pki, &["kafka.example.com"])).await;

        let err = connect_tls(&trusting(pki.ca_pem()), &listener)
            .await
            .unwrap_err();
        let err = transport_error(&err);
        assert!(
            matches!(err, TransportError::TlsNameMismatch { .. }),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("ssl.endpoint.identification.algorithm"),
            "{err}"
        );

        // ssl.endpoint.identification.algorithm= (empty): the chain is still
        // checked, the name is not.
        let lax = TlsConfig {
            verify_server_name: false,
            ..trusting(pki.ca_pem())
        };
        connect_tls(&lax, &listener).await.unwrap();
        let other_ca = TestPki::new("some other CA").unwrap();
        let lax_wrong_ca = TlsConfig {
            verify_server_name: false,
            ..trusting(other_ca.ca_pem())
        };
        let err = connect_tls(&lax_wrong_ca, &listener).await.unwrap_err();
        assert!(
            matches!(transport_error(&err), TransportError::TlsUnknownCa { .. }),
            "{err}"
        );
    })
    .await;
}

#[tokio::test]
async fn expired_certificate_is_named() {
    bounded(async {
        let pki = TestPki::new("test CA").unwrap();
        let broker = pki.issue_expired_server(&["127.0.0.1"]).unwrap();
        let server = ServerTls::new(&broker.certificate_pem, &broker.key_pem);
        let listener = tls_listener(&server).await;
        let err = connect_tls(&trusting(pki.ca_pem()), &listener)
            .await
            .unwrap_err();
        let err = transport_error(&err);
        assert!(matches!(err, TransportError::TlsExpired { .. }), "{err}");
    })
    .await;
}

#[tokio::test]
async fn mutual_tls_required_and_missing_fails_with_a_hint() {
    bounded(async {
        let pki = TestPki::new("test CA").unwrap();
        let listener = tls_listener(&mutual_tls_server(&pki)).await;
        let err = connect_tls(&trusting(pki.ca_pem()), &listener)
            .await
            .unwrap_err();
        // TLS 1.3: the client's handshake completes before the broker checks
        // the client certificate, so the refusal arrives on the first read.
        let text = err.to_string();
        assert!(text.contains("ssl.certificate.location"), "{text}");
    })
    .await;
}

#[tokio::test]
async fn mutual_tls_with_a_certificate_from_another_ca_is_refused() {
    bounded(async {
        let pki = TestPki::new("test CA").unwrap();
        let listener = tls_listener(&mutual_tls_server(&pki)).await;
        let rogue = TestPki::new("rogue CA")
            .unwrap()
            .issue_client("producer")
            .unwrap();
        let config = TlsConfig {
            identity: Some(ClientIdentity {
                certificate: PemSource::Pem(rogue.certificate_pem.clone()),
                key: PrivateKeySource::Pem(PrivateKeyPem::new(rogue.key_pem.clone())),
            }),
            ..trusting(pki.ca_pem())
        };
        let err = connect_tls(&config, &listener).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains("refused the client certificate"), "{text}");
        assert!(
            !text.contains(&rogue.key_pem),
            "the key leaked into: {text}"
        );
    })
    .await;
}

#[tokio::test]
async fn mutual_tls_with_a_client_certificate_works() {
    bounded(async {
        let pki = TestPki::new("test CA").unwrap();
        let listener = tls_listener(&mutual_tls_server(&pki)).await;
        let client = pki.issue_client("producer").unwrap();
        let dir = std::env::temp_dir().join(format!("kproducer-mtls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert_path, key_path) = (dir.join("client.pem"), dir.join("client.key"));
        std::fs::write(&cert_path, &client.certificate_pem).unwrap();
        std::fs::write(&key_path, &client.key_pem).unwrap();
        // Files, as ssl.certificate.location and ssl.key.location give them.
        let config = TlsConfig {
            identity: Some(ClientIdentity {
                certificate: PemSource::File(cert_path),
                key: PrivateKeySource::File(key_path),
            }),
            ..trusting(pki.ca_pem())
        };
        let result = connect_tls(&config, &listener).await;
        std::fs::remove_dir_all(&dir).unwrap();
        let conn = result.unwrap();
        conn.send(&MetadataRequest::default()).await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn plaintext_client_against_a_tls_port_fails_fast_with_a_hint() {
    bounded(async {
        let (_tls, listener) = self_signed_listener().await;
        let err = connect(&TcpTransport::default(), &address(&listener))
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("security.protocol=SSL"), "{text}");
    })
    .await;
}

#[tokio::test]
async fn tls_client_against_a_plaintext_port_fails_fast_with_a_hint() {
    bounded(async {
        let cluster = cluster();
        let listener = cluster.listen("127.0.0.1:0").await.unwrap();
        let tls = SelfSignedTls::for_loopback().unwrap();
        let err = connect_tls(&trusting(tls.pki.ca_pem()), &listener)
            .await
            .unwrap_err();
        let err = transport_error(&err);
        assert!(
            matches!(err, TransportError::TlsClosedDuringHandshake { .. }),
            "{err}"
        );
        assert!(
            err.to_string().contains("security.protocol=PLAINTEXT"),
            "{err}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_silent_peer_is_bounded_by_the_connect_timeout() {
    bounded(async {
        // Accepts TCP, never answers the ClientHello.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = silent.local_addr().unwrap().port();
        let hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = silent.accept().await {
                held.push(s);
            }
        });
        let tls = SelfSignedTls::for_loopback().unwrap();
        let tcp = TcpConfig {
            connect_timeout: Duration::from_millis(300),
            ..TcpConfig::default()
        };
        let transport: Arc<TlsTransport> =
            Arc::new(TlsTransport::over_tcp(tcp, &trusting(tls.pki.ca_pem())).unwrap());
        let err = connect(transport.as_ref(), &BrokerAddress::new("127.0.0.1", port))
            .await
            .unwrap_err();
        hold.abort();
        let err = transport_error(&err);
        assert!(matches!(err, TransportError::Timeout { .. }), "{err}");
    })
    .await;
}
