//! `kproducer produce` with `--property sasl.*` against a SASL fake
//! cluster served on 127.0.0.1 by the test process: records arrive with
//! the right password; a wrong one is one line on stderr that names the
//! problem and never the password.

mod common;

use common::{assert_one_line_error, kproducer, stderr};
use kproducer_fake_broker::{FakeCluster, LoopbackListener, SaslServerConfig};

const PASSWORD: &str = "cli-Sup3r-Secret";
const WRONG: &str = "cli-Wr0ng-Guess";

async fn cluster() -> (FakeCluster, LoopbackListener) {
    let cluster = FakeCluster::builder()
        .brokers(2)
        .topic("secure", 2)
        .sasl(SaslServerConfig::new().user("alice", PASSWORD))
        .build()
        .unwrap();
    let listener = cluster.listen("127.0.0.1:0").await.unwrap();
    (cluster, listener)
}

fn produce(bootstrap: &str, mechanism: &str, password: &str) -> std::process::Output {
    let mechanism = format!("sasl.mechanism={mechanism}");
    let password = format!("sasl.password={password}");
    kproducer(
        &[
            "produce",
            "--bootstrap",
            bootstrap,
            "--topic",
            "secure",
            "--property",
            "security.protocol=SASL_PLAINTEXT",
            "--property",
            &mechanism,
            "--property",
            "sasl.username=alice",
            "--property",
            &password,
        ],
        b"one\ntwo\n",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_arrive_with_each_mechanism() {
    let (cluster, listener) = cluster().await;
    let bootstrap = listener.bootstrap_servers();
    for mechanism in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] {
        let out = produce(&bootstrap, mechanism, PASSWORD);
        assert!(out.status.success(), "{mechanism}: {}", stderr(&out));
        assert!(!stderr(&out).contains(PASSWORD));
        assert!(!String::from_utf8_lossy(&out.stdout).contains(PASSWORD));
    }
    let total: usize = (0..2)
        .map(|p| cluster.records("secure", p).unwrap().len())
        .sum();
    assert_eq!(total, 6);
    listener.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_one_line_without_the_password() {
    let (cluster, listener) = cluster().await;
    let bootstrap = listener.bootstrap_servers();
    let out = produce(&bootstrap, "SCRAM-SHA-256", WRONG);
    assert!(!out.status.success());
    assert_one_line_error(
        &out,
        &["SASL authentication", "SCRAM-SHA-256", "sasl.password"],
    );
    let all = format!("{}{}", stderr(&out), String::from_utf8_lossy(&out.stdout));
    assert!(!all.contains(WRONG), "{all}");
    assert!(cluster.records("secure", 0).unwrap().is_empty());
    listener.shutdown().await;
}
