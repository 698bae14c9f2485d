//! The pre-flight check's one line when no bootstrap server can be used:
//! a server that answered and refused the settings (TLS) is reported with
//! its own error, which says what to set; only servers that did not answer
//! at all get "is a broker running there?".

mod common;

use common::{assert_one_line_error, kproducer, stderr};
use kproducer_fake_broker::{FakeCluster, LoopbackListener, SelfSignedTls, ServerTls, TestPki};

const RUNNING_THERE: &str = "is a broker running there?";

fn cluster() -> FakeCluster {
    FakeCluster::builder()
        .brokers(1)
        .topic("t", 1)
        .build()
        .unwrap()
}

/// `kproducer produce` of one line to `listener`, with these properties.
fn produce(listener: &LoopbackListener, properties: &[&str]) -> std::process::Output {
    let bootstrap = listener.bootstrap_servers();
    let mut args = vec!["produce", "--bootstrap", &bootstrap, "--topic", "t"];
    for p in properties {
        args.extend(["--property", p]);
    }
    kproducer(&args, b"hello\n")
}

/// Asserts a one-line failure naming `needles`, without the question for
/// unreachable servers.
fn assert_refusal(out: &std::process::Output, needles: &[&str]) {
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(out));
    assert_one_line_error(out, needles);
    assert!(!stderr(out).contains(RUNNING_THERE), "{}", stderr(out));
}

// The test's runtime serves the cluster on its worker threads while the
// test thread waits for the child process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_says_to_set_the_ca() {
    let cluster = cluster();
    let tls = SelfSignedTls::for_loopback().unwrap();
    let listener = cluster
        .listen_tls("127.0.0.1:0", &tls.server_tls())
        .await
        .unwrap();
    let other_ca = TestPki::new("not the broker's CA").unwrap().ca_pem();
    let ca = format!("ssl.ca.pem={other_ca}");
    let out = produce(&listener, &["security.protocol=SSL", &ca]);
    assert_refusal(&out, &["not signed by a trusted CA", "ssl.ca.location"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_for_another_name_says_so() {
    let cluster = cluster();
    let pki = TestPki::new("test CA").unwrap();
    let broker = pki.issue_server(&["localhost"]).unwrap();
    let server = ServerTls::new(&broker.certificate_pem, &broker.key_pem);
    let listener = cluster.listen_tls("127.0.0.1:0", &server).await.unwrap();
    let ca = format!("ssl.ca.pem={}", pki.ca_pem());
    let out = produce(&listener, &["security.protocol=SSL", &ca]);
    assert_refusal(
        &out,
        &[
            "not valid for the host name 127.0.0.1",
            "ssl.endpoint.identification.algorithm",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_against_a_plaintext_port_says_to_use_plaintext() {
    let cluster = cluster();
    let listener = cluster.listen("127.0.0.1:0").await.unwrap();
    let out = produce(&listener, &["security.protocol=SSL"]);
    assert_refusal(&out, &["security.protocol=PLAINTEXT"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_against_a_tls_port_says_to_use_ssl() {
    let cluster = cluster();
    let tls = SelfSignedTls::for_loopback().unwrap();
    let listener = cluster
        .listen_tls("127.0.0.1:0", &tls.server_tls())
        .await
        .unwrap();
    let out = produce(&listener, &[]);
    assert_refusal(&out, &["security.protocol=SSL"]);
    // Not the hint for SASL listeners, which also close connections.
    assert!(!stderr(&out).contains("sasl.mechanism"), "{}", stderr(&out));
}

#[test]
fn a_refused_connection_asks_whether_a_broker_runs_there() {
    // A port that was free a moment ago: connections are refused.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let bootstrap = format!("127.0.0.1:{port}");
    let out = kproducer(
        &["produce", "--bootstrap", &bootstrap, "--topic", "t"],
        b"hello\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert_one_line_error(&out, &["cannot reach", &bootstrap, RUNNING_THERE]);
}
