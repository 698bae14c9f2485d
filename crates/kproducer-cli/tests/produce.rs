//! `kproducer produce` against a fake cluster served on 127.0.0.1 by the
//! test process; the broker's log says what arrived.

mod common;

use bytes::Bytes;
use common::{assert_one_line_error, kproducer, stderr};
use kproducer_fake_broker::{FakeCluster, LoopbackListener};

async fn cluster(topic: &str, partitions: i32) -> (FakeCluster, LoopbackListener) {
    let cluster = FakeCluster::builder()
        .brokers(2)
        .topic(topic, partitions)
        .build()
        .unwrap();
    let listener = cluster.listen("127.0.0.1:0").await.unwrap();
    (cluster, listener)
}

type Seen = (Option<Bytes>, Option<Bytes>, Vec<(Bytes, Option<Bytes>)>);

fn everything(cluster: &FakeCluster, topic: &str, partitions: i32) -> Vec<Seen> {
    let mut all: Vec<Seen> = (0..partitions)
        .flat_map(|p| cluster.records(topic, p).unwrap())
        .map(|r| (r.key, r.value, r.headers))
        .collect();
    all.sort();
    all
}

// The test's runtime serves the cluster on its worker threads while the
// test thread waits for the child process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_line_is_a_record_with_key_and_headers() {
    let (cluster, listener) = cluster("lines", 3).await;
    let bootstrap = listener.bootstrap_servers();
    let out = kproducer(
        &[
            "produce",
            "--bootstrap",
            &bootstrap,
            "--topic",
            "lines",
            "--key-separator",
            "::",
            "--header",
            "source=test",
            "--header",
            "n=1=2",
        ],
        b"k1::v1\nno key here\nk3::v3::more\n::empty key\n\nlast without newline",
    );
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(stderr(&out), "");
    let headers = vec![
        (Bytes::from("source"), Some(Bytes::from("test"))),
        (Bytes::from("n"), Some(Bytes::from("1=2"))),
    ];
    let rec = |k: Option<&'static str>, v: &'static str| -> Seen {
        (k.map(Bytes::from), Some(Bytes::from(v)), headers.clone())
    };
    let mut want = vec![
        rec(Some("k1"), "v1"),
        rec(None, "no key here"),
        rec(Some("k3"), "v3::more"),
        rec(Some(""), "empty key"),
        rec(None, ""),
        rec(None, "last without newline"),
    ];
    want.sort();
    assert_eq!(everything(&cluster, "lines", 3), want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_keep_their_order_within_a_partition() {
    let (cluster, listener) = cluster("ordered", 1).await;
    let input: String = (0..2000).map(|i| format!("{i}\n")).collect();
    let out = kproducer(
        &[
            "produce",
            "--bootstrap",
            &listener.bootstrap_servers(),
            "--topic",
            "ordered",
        ],
        input.as_bytes(),
    );
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let values: Vec<String> = cluster
        .records("ordered", 0)
        .unwrap()
        .into_iter()
        .map(|r| String::from_utf8(r.value.unwrap().to_vec()).unwrap())
        .collect();
    let want: Vec<String> = (0..2000).map(|i| i.to_string()).collect();
    assert_eq!(values, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_reported_per_line_and_fail_the_exit_status() {
    let (cluster, listener) = cluster("limits", 1).await;
    let big = "x".repeat(600);
    let input = format!("small\n{big}\nsmall again\n");
    let out = kproducer(
        &[
            "produce",
            "--bootstrap",
            &listener.bootstrap_servers(),
            "--topic",
            "limits",
            "--property",
            "max.request.size=500",
        ],
        input.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("line 2: "), "{err}");
    assert!(err.contains("max.request.size"), "{err}");
    assert!(err.contains("1 of 3 records failed"), "{err}");
    assert!(
        !err.contains("line 1:") && !err.contains("line 3:"),
        "{err}"
    );
    let values: Vec<Bytes> = cluster
        .records("limits", 0)
        .unwrap()
        .into_iter()
        .filter_map(|r| r.value)
        .collect();
    assert_eq!(
        values,
        vec![Bytes::from("small"), Bytes::from("small again")]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_topic_is_one_line() {
    let (_cluster, listener) = cluster("exists", 1).await;
    let out = kproducer(
        &[
            "produce",
            "--bootstrap",
            &listener.bootstrap_servers(),
            "--topic",
            "missing",
        ],
        b"hello\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert_one_line_error(&out, &["topic `missing` does not exist"]);
}

#[test]
fn a_malformed_header_is_one_line() {
    let out = kproducer(
        &[
            "produce",
            "--bootstrap",
            "127.0.0.1:9",
            "--topic",
            "t",
            "--header",
            "nokv",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    assert_one_line_error(&out, &["--header", "key=value"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produces_over_tls_with_security_properties() {
    use kproducer_fake_broker::SelfSignedTls;
    let cluster = FakeCluster::builder()
        .brokers(1)
        .topic("secure", 1)
        .build()
        .unwrap();
    let tls = SelfSignedTls::for_loopback().unwrap();
    let listener = cluster
        .listen_tls("127.0.0.1:0", &tls.server_tls())
        .await
        .unwrap();
    let ca = std::env::temp_dir().join(format!("kproducer-cli-ca-{}.pem", std::process::id()));
    std::fs::write(&ca, tls.pki.ca_pem()).unwrap();
    let ca_property = format!("ssl.ca.location={}", ca.display());
    let bootstrap = listener.bootstrap_servers();
    let out = kproducer(
        &[
            "produce",
            "--bootstrap",
            &bootstrap,
            "--topic",
            "secure",
            "--property",
            "security.protocol=SSL",
            "--property",
            &ca_property,
        ],
        b"over tls\n",
    );
    std::fs::remove_file(&ca).unwrap();
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let values: Vec<Option<Bytes>> = cluster
        .records("secure", 0)
        .unwrap()
        .into_iter()
        .map(|r| r.value)
        .collect();
    assert_eq!(values, [Some(Bytes::from("over tls"))]);
}
