//! The producer over TLS against the fake broker's TLS listener, configured
//! through the `security.protocol` and `ssl.*` properties users already
//! have: records reach the log, handshake failures surface in delivery
//! errors naming the cause, and key material never appears in `Debug`
//! output or errors. Certificates are generated per test (rcgen). Real
//! loopback TCP, so real time; every test is bounded.

mod common;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use common::capture_logs;
use kproducer::{
    Error, Producer, ProducerConfig, Record, RecordMetadata, SecurityProtocol, SslConfig,
};
use kproducer_fake_broker::{FakeCluster, LoopbackListener, SelfSignedTls, ServerTls, TestPki};
use kproducer_net::{PemSource, TransportError};

const TEST_LIMIT: Duration = Duration::from_secs(60);

async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(TEST_LIMIT, f)
        .await
        .expect("the test did not finish within its time limit (a hang)")
}

fn cluster() -> FakeCluster {
    FakeCluster::builder()
        .brokers(2)
        .topic("orders", 4)
        .build()
        .unwrap()
}

/// A producer from properties, with short timeouts so failures come fast.
fn producer(props: &[(&str, &str)]) -> Result<Producer, Error> {
    let mut all = vec![
        ("delivery.timeout.ms", "3000"),
        ("request.timeout.ms", "2000"),
        ("linger.ms", "0"),
    ];
    all.extend_from_slice(props);
    Producer::builder()
        .config(ProducerConfig::from_properties(all)?)
        .build()
}

/// `cluster` serving TLS on loopback with a self-signed certificate, whose
/// CA the returned [`SelfSignedTls`] holds.
async fn self_signed_listener(cluster: &FakeCluster) -> (SelfSignedTls, LoopbackListener) {
    let tls = SelfSignedTls::for_loopback().unwrap();
    let listener = cluster
        .listen_tls("127.0.0.1:0", &tls.server_tls())
        .await
        .unwrap();
    (tls, listener)
}

/// A `security.protocol=SSL` producer for `listener` trusting `ca_pem`.
fn ssl_producer(listener: &LoopbackListener, ca_pem: &str) -> Producer {
    producer(&[
        ("bootstrap.servers", &listener.bootstrap_servers()),
        ("security.protocol", "SSL"),
        ("ssl.ca.pem", ca_pem),
    ])
    .unwrap()
}

/// Sends `record` and waits for its delivery.
async fn deliver(producer: &Producer, record: Record) -> Result<RecordMetadata, Error> {
    producer.send(record).await.unwrap().await
}

/// Sends `count` records `v0`, `v1`, ... round-robin over the four
/// partitions of `orders`, then waits for every delivery.
async fn deliver_spread(producer: &Producer, count: i32) {
    let mut futures = Vec::new();
    for i in 0..count {
        let record = Record::new("orders", format!("v{i}")).with_partition(i % 4);
        futures.push(producer.send(record).await.unwrap());
    }
    for f in futures {
        f.await.unwrap();
    }
}

/// The in-memory brokers' side of TLS: a certificate from `pki` for the
/// fake brokers' host names.
fn in_memory_broker_tls(pki: &TestPki) -> ServerTls {
    let broker = pki
        .issue_server(&["fake-broker-0", "fake-broker-1"])
        .unwrap();
    ServerTls::new(&broker.certificate_pem, &broker.key_pem)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produces_over_tls_configured_by_properties() {
    bounded(async {
        let cluster = cluster();
        let (tls, listener) = self_signed_listener(&cluster).await;
        let producer = ssl_producer(&listener, &tls.pki.ca_pem());
        deliver_spread(&producer, 200).await;
        let mut total = 0;
        for p in 0..4 {
            total += cluster.records("orders", p).unwrap().len();
        }
        assert_eq!(total, 200);
        producer.close(Duration::from_secs(5)).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_with_files_from_properties() {
    bounded(async {
        let cluster = cluster();
        let pki = TestPki::new("test CA").unwrap();
        let broker = pki.issue_server(&["127.0.0.1"]).unwrap();
        let client = pki.issue_client("producer").unwrap();
        let server = ServerTls::new(&broker.certificate_pem, &broker.key_pem)
            .require_client_certificates(&pki.ca_pem());
        let listener = cluster.listen_tls("127.0.0.1:0", &server).await.unwrap();
        let dir = std::env::temp_dir().join(format!("kproducer-tls-props-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let paths = [
            dir.join("ca.pem"),
            dir.join("client.pem"),
            dir.join("client.key"),
        ];
        std::fs::write(&paths[0], pki.ca_pem()).unwrap();
        std::fs::write(&paths[1], &client.certificate_pem).unwrap();
        std::fs::write(&paths[2], &client.key_pem).unwrap();
        let [ca, cert, key] = paths.each_ref().map(|p| p.display().to_string());
        let bootstrap = listener.bootstrap_servers();
        let built = producer(&[
            ("bootstrap.servers", &bootstrap),
            ("security.protocol", "ssl"),
            ("ssl.ca.location", &ca),
            ("ssl.certificate.location", &cert),
            ("ssl.key.location", &key),
        ]);
        // The files are read at build; they can go now.
        std::fs::remove_dir_all(&dir).unwrap();
        let producer = built.unwrap();
        deliver(&producer, Record::new("orders", "mtls").with_partition(1))
            .await
            .unwrap();
        assert_eq!(cluster.records("orders", 1).unwrap().len(), 1);
        producer.close(Duration::from_secs(5)).await;
    })
    .await;
}

/// Sends one record to each partition of `orders` and expects every one,
/// and a later send, to fail with [`Error::Tls`]; returns the typed cause.
async fn expect_tls_refusal(producer: &Producer) -> Arc<TransportError> {
    let mut futures = Vec::new();
    for p in 0..4 {
        let record = Record::new("orders", format!("v{p}")).with_partition(p);
        futures.push(producer.send(record).await.unwrap());
    }
    let mut cause = None;
    for f in futures {
        match f.await {
            Err(Error::Tls { source, .. }) => cause = Some(source),
            other => panic!("expected Error::Tls, got {other:?}"),
        }
    }
    let later = producer.send(Record::new("orders", "later")).await;
    assert!(matches!(later, Err(Error::Tls { .. })), "{later:?}");
    cause.unwrap()
}

/// The default `delivery.timeout.ms` (two minutes): a refusal must not
/// wait for it. The test's own bound (60 s) is the only time limit.
fn ssl_producer_default_timeouts(bootstrap: &str, ca_pem: &str) -> Producer {
    let config = ProducerConfig::from_properties([
        ("bootstrap.servers", bootstrap),
        ("security.protocol", "SSL"),
        ("ssl.ca.pem", ca_pem),
    ])
    .unwrap();
    Producer::builder().config(config).build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_broker_fails_the_producer_at_once_with_the_typed_error() {
    bounded(async {
        let cluster = cluster();
        let (_tls, listener) = self_signed_listener(&cluster).await;
        let other_ca = TestPki::new("not the broker's CA").unwrap().ca_pem();
        let producer = ssl_producer_default_timeouts(&listener.bootstrap_servers(), &other_ca);
        let cause = expect_tls_refusal(&producer).await;
        assert!(
            matches!(*cause, TransportError::TlsUnknownCa { .. }),
            "{cause}"
        );
        assert!(cause.to_string().contains("set ssl.ca.location"), "{cause}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_for_another_name_fails_the_producer_at_once_with_the_typed_error() {
    bounded(async {
        let cluster = cluster();
        let pki = TestPki::new("test CA").unwrap();
        // Names "localhost"; the producer connects to 127.0.0.1.
        let broker = pki.issue_server(&["localhost"]).unwrap();
        let server = ServerTls::new(&broker.certificate_pem, &broker.key_pem);
        let listener = cluster.listen_tls("127.0.0.1:0", &server).await.unwrap();
        let producer = ssl_producer_default_timeouts(&listener.bootstrap_servers(), &pki.ca_pem());
        let cause = expect_tls_refusal(&producer).await;
        assert!(
            matches!(*cause, TransportError::TlsNameMismatch { .. }),
            "{cause}"
        );
        assert!(
            cause
                .to_string()
                .contains("ssl.endpoint.identification.algorithm"),
            "{cause}"
        );
    })
    .await;
}

/// A producer over the in-memory transport with TLS `server`, trusting
/// `ca_pem`, with the default two-minute `delivery.timeout.ms`.
fn in_memory_ssl_producer(cluster: &FakeCluster, server: &ServerTls, ca_pem: String) -> Producer {
    Producer::builder()
        .bootstrap_servers(cluster.bootstrap_servers().split(','))
        .transport(Arc::new(cluster.transport().with_tls(server).unwrap()))
        .security_protocol(SecurityProtocol::Ssl)
        .ssl(SslConfig {
            ca: Some(PemSource::Pem(ca_pem)),
            ..SslConfig::default()
        })
        .build()
        .unwrap()
}

/// The same two refusals on paused time: the futures resolve long before
/// `delivery.timeout.ms` of virtual time.
#[tokio::test(start_paused = true)]
async fn refusals_resolve_every_future_before_the_delivery_timeout() {
    let pki = TestPki::new("test CA").unwrap();
    let untrusted = in_memory_broker_tls(&TestPki::new("another CA").unwrap());
    let wrong_name = {
        let broker = pki.issue_server(&["broker.elsewhere"]).unwrap();
        ServerTls::new(&broker.certificate_pem, &broker.key_pem)
    };
    for (server, unknown_ca) in [(untrusted, true), (wrong_name, false)] {
        let cluster = cluster();
        let producer = in_memory_ssl_producer(&cluster, &server, pki.ca_pem());
        let started = tokio::time::Instant::now();
        let cause = expect_tls_refusal(&producer).await;
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "refused after {:?} of virtual time: waited for the delivery timeout",
            started.elapsed()
        );
        if unknown_ca {
            assert!(
                matches!(*cause, TransportError::TlsUnknownCa { .. }),
                "{cause}"
            );
        } else {
            assert!(
                matches!(*cause, TransportError::TlsNameMismatch { .. }),
                "{cause}"
            );
        }
        for p in 0..4 {
            assert!(cluster.records("orders", p).unwrap().is_empty());
        }
    }
}

/// One broker of two has a certificate without its name: the producer is
/// not failed. Records for the other broker's partitions are delivered;
/// records for the refusing broker's time out naming the cause, as with
/// Java's producer and librdkafka (the broker's operator can fix its
/// certificate without restarting clients).
#[tokio::test(start_paused = true)]
async fn one_refusing_broker_does_not_fail_the_producer() {
    let cluster = cluster();
    let pki = TestPki::new("test CA").unwrap();
    let broker = pki.issue_server(&["fake-broker-0"]).unwrap();
    let server = ServerTls::new(&broker.certificate_pem, &broker.key_pem);
    let config = ProducerConfig::from_properties([
        ("bootstrap.servers", cluster.bootstrap_servers().as_str()),
        ("security.protocol", "SSL"),
        ("ssl.ca.pem", pki.ca_pem().as_str()),
        ("delivery.timeout.ms", "10000"),
        ("request.timeout.ms", "5000"),
        ("linger.ms", "0"),
    ])
    .unwrap();
    let producer = Producer::builder()
        .config(config)
        .transport(Arc::new(cluster.transport().with_tls(&server).unwrap()))
        .build()
        .unwrap();
    let leaders: Vec<i32> = (0..4)
        .map(|p| cluster.leader("orders", p).unwrap())
        .collect();
    assert!(
        leaders.contains(&0) && leaders.contains(&1),
        "both brokers lead a partition: {leaders:?}"
    );
    let mut futures = Vec::new();
    for p in 0..4 {
        let record = Record::new("orders", format!("v{p}")).with_partition(p);
        futures.push(producer.send(record).await.unwrap());
    }
    for (p, f) in futures.into_iter().enumerate() {
        let result = f.await;
        if leaders[p] == 0 {
            assert!(result.is_ok(), "partition {p}: {result:?}");
        } else {
            match result {
                Err(Error::DeliveryTimeout { last_problem, .. }) => assert!(
                    last_problem.contains("not valid for the host name"),
                    "partition {p}: {last_problem}"
                ),
                other => panic!("partition {p}: expected a delivery timeout, got {other:?}"),
            }
        }
    }
    // Still a working producer.
    let p0 = i32::try_from(leaders.iter().position(|&l| l == 0).unwrap()).unwrap();
    deliver(&producer, Record::new("orders", "after").with_partition(p0))
        .await
        .unwrap();
    producer.close(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plaintext_producer_against_a_tls_listener_is_told_to_use_ssl() {
    bounded(async {
        let cluster = cluster();
        let (_tls, listener) = self_signed_listener(&cluster).await;
        let bootstrap = listener.bootstrap_servers();
        let producer = producer(&[("bootstrap.servers", &bootstrap)]).unwrap();
        let err = deliver(&producer, Record::new("orders", "x"))
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("security.protocol=SSL"), "{text}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_ssl_authenticates_over_tls() {
    // SASL_SSL = SASL over TLS: a broker that requires both accepts the
    // producer, and the records land in its log.
    bounded(async {
        let cluster = FakeCluster::builder()
            .brokers(1)
            .topic("secure", 1)
            .sasl(kproducer_fake_broker::SaslServerConfig::new().user("alice", "alice-secret"))
            .build()
            .unwrap();
        let (tls, listener) = self_signed_listener(&cluster).await;
        let bootstrap = listener.bootstrap_servers();
        let ca = tls.pki.ca_pem();
        let trusted = producer(&[
            ("bootstrap.servers", bootstrap.as_str()),
            ("security.protocol", "sasl_ssl"),
            ("ssl.ca.pem", ca.as_str()),
            ("sasl.mechanism", "SCRAM-SHA-256"),
            ("sasl.username", "alice"),
            ("sasl.password", "alice-secret"),
        ])
        .unwrap();
        deliver(&trusted, Record::new("secure", "over both"))
            .await
            .unwrap();
        assert_eq!(cluster.records("secure", 0).unwrap().len(), 1);
        // The same broker refuses a SASL_SSL producer with a wrong password.
        let intruder = producer(&[
            ("bootstrap.servers", bootstrap.as_str()),
            ("security.protocol", "SASL_SSL"),
            ("ssl.ca.pem", ca.as_str()),
            ("sasl.mechanism", "SCRAM-SHA-256"),
            ("sasl.username", "alice"),
            ("sasl.password", "guess"),
        ])
        .unwrap();
        let refused = deliver(&intruder, Record::new("secure", "no")).await;
        assert!(
            matches!(refused, Err(Error::Authentication { .. })),
            "{refused:?}"
        );
        assert_eq!(cluster.records("secure", 0).unwrap().len(), 1);
        trusted.close(Duration::from_secs(5)).await;
        intruder.close(Duration::from_secs(5)).await;
    })
    .await;
    let config = ProducerConfig::from_properties([("security.protocol", "sasl_ssl")]).unwrap();
    assert_eq!(config.security_protocol, SecurityProtocol::SaslSsl);
}

#[tokio::test]
async fn key_material_never_appears_in_debug_output_or_errors() {
    let secret = "-----BEGIN PRIVATE KEY-----\nS3CR3TKEYMATERIAL\n-----END PRIVATE KEY-----";
    let config = ProducerConfig::from_properties([
        ("bootstrap.servers", "127.0.0.1:9092"),
        ("security.protocol", "SSL"),
        (
            "ssl.certificate.pem",
            "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----",
        ),
        ("ssl.key.pem", secret),
    ])
    .unwrap();
    assert!(!format!("{config:?}").contains("S3CR3T"));
    let builder = Producer::builder().config(config);
    assert!(!format!("{builder:?}").contains("S3CR3T"));
    let err = builder.build().unwrap_err();
    assert!(!err.to_string().contains("S3CR3T"), "{err}");
    assert!(!format!("{err:?}").contains("S3CR3T"));

    let err = ProducerConfig::from_properties([("ssl.key.password", "hunter2")]).unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
    assert!(err.to_string().contains("decrypt"), "{err}");
}

/// `security.protocol=SSL` layers TLS over whatever transport the builder
/// has: here the fake broker's in-memory one, so the test runs on paused
/// time with no sockets.
#[tokio::test(start_paused = true)]
async fn tls_over_the_in_memory_transport() {
    let cluster = cluster();
    let pki = TestPki::new("test CA").unwrap();
    let server = in_memory_broker_tls(&pki);
    let transport = cluster.transport().with_tls(&server).unwrap();
    let producer = Producer::builder()
        .bootstrap_servers(cluster.bootstrap_servers().split(','))
        .transport(Arc::new(transport))
        .security_protocol(SecurityProtocol::Ssl)
        .ssl(SslConfig {
            ca: Some(PemSource::Pem(pki.ca_pem())),
            ..SslConfig::default()
        })
        .build()
        .unwrap();
    deliver_spread(&producer, 100).await;
    for p in 0..4 {
        let want: Vec<String> = (0..100)
            .filter(|i| i % 4 == p)
            .map(|i| format!("v{i}"))
            .collect();
        let want: Vec<&[u8]> = want.iter().map(|v| v.as_bytes()).collect();
        cluster.assert_values("orders", p, &want);
    }
    producer.close(Duration::from_secs(5)).await;
}

/// Mutual TLS with the key given inline (`ssl.key.pem`), everything logged
/// at TRACE: the key's bytes appear in no log line, no `Debug` output and no
/// error. One thread (current-thread runtime, in-memory transport), so the
/// thread-local subscriber sees every event.
#[tokio::test(start_paused = true)]
async fn key_bytes_appear_in_no_log_line() {
    let (logs, _guard) = capture_logs("trace");

    let cluster = cluster();
    let pki = TestPki::new("test CA").unwrap();
    let client = pki.issue_client("producer").unwrap();
    let server = in_memory_broker_tls(&pki).require_client_certificates(&pki.ca_pem());
    let transport = cluster.transport().with_tls(&server).unwrap();
    let ca = pki.ca_pem();
    let bootstrap = cluster.bootstrap_servers();
    let config = ProducerConfig::from_properties([
        ("bootstrap.servers", bootstrap.as_str()),
        ("security.protocol", "SSL"),
        ("ssl.ca.pem", ca.as_str()),
        ("ssl.certificate.pem", client.certificate_pem.as_str()),
        ("ssl.key.pem", client.key_pem.as_str()),
    ])
    .unwrap();
    let builder = Producer::builder()
        .config(config)
        .transport(Arc::new(transport));
    tracing::info!(?builder, "building");
    let producer = builder.build().unwrap();
    deliver(
        &producer,
        Record::new("orders", "secret-free").with_partition(0),
    )
    .await
    .unwrap();
    producer.close(Duration::from_secs(5)).await;
    // A bad password is refused without being echoed.
    let err = ProducerConfig::from_properties([("ssl.key.password", "hunter2")]).unwrap_err();
    tracing::warn!(error = %err, ?err, "refused");

    let text = logs.text();
    assert!(text.contains("building"), "the capture works");
    // Every base64 line of the key's body.
    let key_lines: Vec<&str> = client
        .key_pem
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 16)
        .collect();
    assert!(!key_lines.is_empty());
    for line in key_lines {
        assert!(!text.contains(line), "key material in the logs: {line}");
    }
    assert!(!text.contains("hunter2"));
}
