//! The `kproducer-fake-broker` binary: prints its bootstrap address alone on
//! the first line, serves the cluster its flags describe, stops on stdin
//! EOF (when asked) or SIGTERM, and reports bad flags in one line with a
//! non-zero exit.
//!
//! Real processes and sockets, so tokio's real clock; every wait is bounded
//! (a hang guard, not a timing assertion) and children are killed on drop.

mod common;

use std::future::Future;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use common::WireClient;
use kproducer_protocol::messages::{
    ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic, MetadataRequest,
    MetadataRequestTopic,
};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BINARY: &str = env!("CARGO_BIN_EXE_kproducer-fake-broker");

async fn within<F: Future>(what: &str, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not happen within 20 s"))
}

/// Runs the binary with `args` and no input until it exits.
async fn run_to_exit(args: &[&str]) -> std::process::Output {
    within(
        "exit",
        Command::new(BINARY)
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the binary runs")
}

/// Starts the binary and returns it with the addresses from its first line.
async fn start(args: &[&str]) -> (Child, Vec<SocketAddr>) {
    let mut child = Command::new(BINARY)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut first = String::new();
    within(
        "the bootstrap line",
        BufReader::new(stdout).read_line(&mut first),
    )
    .await
    .expect("stdout is readable");
    let addrs = first
        .trim_end()
        .split(',')
        .map(|a| {
            a.parse()
                .unwrap_or_else(|_| panic!("{first:?} is a list of addresses"))
        })
        .collect();
    (child, addrs)
}

#[tokio::test]
async fn serves_the_cluster_its_flags_describe_and_stops_on_stdin_eof() {
    let (mut child, addrs) = start(&[
        "--brokers",
        "2",
        "--partitions",
        "4",
        "--topic",
        "a",
        "--topic",
        "b",
        "--stop-on-stdin-eof",
    ])
    .await;
    assert_eq!(addrs.len(), 2);
    assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() != 0));

    let mut client = within("connect", WireClient::connect_tcp(addrs[1])).await;
    let r = within(
        "metadata",
        client.call(
            12,
            &MetadataRequest {
                topics: None,
                ..Default::default()
            },
        ),
    )
    .await;
    let advertised: Vec<String> = r
        .brokers
        .iter()
        .map(|b| format!("{}:{}", b.host, b.port))
        .collect();
    let expected: Vec<String> = addrs.iter().map(ToString::to_string).collect();
    assert_eq!(advertised, expected);
    let topics: Vec<(Option<String>, usize)> = r
        .topics
        .iter()
        .map(|t| (t.name.clone(), t.partitions.len()))
        .collect();
    assert_eq!(
        topics,
        vec![(Some("a".to_owned()), 4), (Some("b".to_owned()), 4)]
    );

    drop(child.stdin.take());
    let status = within("exit on stdin EOF", child.wait())
        .await
        .expect("exit status");
    assert!(status.success(), "{status}");
    assert!(within("close", client.is_closed()).await);
}

#[tokio::test]
async fn auto_creates_topics_when_asked_and_stops_on_sigterm() {
    // Stdin stays open (and is being read): SIGTERM alone must stop it.
    let (mut child, addrs) =
        start(&["--auto-create", "--partitions", "3", "--stop-on-stdin-eof"]).await;
    let mut client = within("connect", WireClient::connect_tcp(addrs[0])).await;
    let r = within(
        "metadata",
        client.call(
            12,
            &MetadataRequest {
                topics: Some(vec![MetadataRequestTopic::named("fresh")]),
                allow_auto_topic_creation: true,
                ..Default::default()
            },
        ),
    )
    .await;
    assert_eq!(r.topics[0].error_code, 0);
    assert_eq!(r.topics[0].partitions.len(), 3);

    let pid = child.id().expect("running").to_string();
    let kill = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .expect("kill runs");
    assert!(kill.success());
    let status = within("exit on SIGTERM", child.wait())
        .await
        .expect("exit status");
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn bad_flags_are_one_line_and_a_failure() {
    // Two brokers cannot have consecutive ports from 65535.
    let out = run_to_exit(&["--brokers", "2", "--port", "65535"]).await;
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("65535"), "{stderr}");
}

#[tokio::test]
async fn serves_tls_with_a_self_signed_certificate_and_writes_its_ca() {
    use kproducer_net::{
        BrokerAddress, Connection, ConnectionConfig, PemSource, TcpConfig, TlsConfig, TlsTransport,
        TrustRoots,
    };
    let ca_path =
        std::env::temp_dir().join(format!("kproducer-fake-ca-{}.pem", std::process::id()));
    let ca_arg = ca_path.display().to_string();
    let (_child, addrs) = start(&["--tls-self-signed", &ca_arg, "--stop-on-stdin-eof"]).await;
    let tls = TlsConfig {
        roots: TrustRoots::Pem(PemSource::File(ca_path.clone())),
        ..TlsConfig::default()
    };
    let transport = TlsTransport::over_tcp(TcpConfig::default(), &tls).unwrap();
    std::fs::remove_file(&ca_path).unwrap();
    let addr = BrokerAddress::new(addrs[0].ip().to_string(), addrs[0].port());
    let conn = within(
        "a TLS connection",
        Connection::connect(&transport, &addr, ConnectionConfig::default()),
    )
    .await
    .unwrap();
    let metadata = within("metadata over TLS", conn.send(&MetadataRequest::default()))
        .await
        .unwrap();
    assert_eq!(metadata.brokers.len(), 1);
}

#[tokio::test]
async fn sasl_users_from_flags_must_authenticate() {
    use std::sync::Arc;

    use kproducer_net::{
        BrokerAddress, BuiltinMechanism, Connection, ConnectionConfig, SaslTransport, TcpTransport,
    };

    let (mut child, addrs) = start(&[
        "--sasl-user",
        "alice:alice-secret",
        "--sasl-mechanism",
        "SCRAM-SHA-512",
        "--stop-on-stdin-eof",
    ])
    .await;
    let addr = BrokerAddress::new(addrs[0].ip().to_string(), addrs[0].port());
    let transport = |mechanism: BuiltinMechanism, password: &str| {
        SaslTransport::new(
            Arc::new(TcpTransport::default()),
            mechanism.with_credentials("alice", password),
        )
    };
    let ok = transport(BuiltinMechanism::ScramSha512, "alice-secret");
    let conn = within(
        "authenticated connect",
        Connection::connect(&ok, &addr, ConnectionConfig::default()),
    )
    .await
    .expect("alice authenticates");
    let md = within("metadata", conn.send(&MetadataRequest::default())).await;
    assert!(md.is_ok(), "{md:?}");
    for (mechanism, password) in [
        (BuiltinMechanism::ScramSha512, "wrong"),
        (BuiltinMechanism::ScramSha256, "alice-secret"),
    ] {
        let bad = transport(mechanism, password);
        let e = within(
            "refused connect",
            Connection::connect(&bad, &addr, ConnectionConfig::default()),
        )
        .await
        .expect_err("refused");
        assert!(e.sasl_error().is_some_and(|s| s.is_fatal()), "{e}");
    }
    drop(child.stdin.take());
    within("exit", child.wait()).await.expect("exits");

    let out = run_to_exit(&["--sasl-user", "no-colon-secret"]).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("NAME:PASSWORD") && !stderr.contains("no-colon-secret"),
        "{stderr}"
    );
}

#[tokio::test]
async fn retention_bytes_bounds_each_partition_and_help_names_the_default() {
    let help = run_to_exit(&["--help"]).await;
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("--retention-bytes") && text.contains("256 MiB"),
        "{text}"
    );
    let refused = run_to_exit(&["--retention-bytes", "-2"]).await;
    assert!(!refused.status.success());

    let (mut child, addrs) = start(&[
        "--partitions",
        "1",
        "--retention-bytes",
        "2000",
        "--stop-on-stdin-eof",
    ])
    .await;
    let mut client = within("connect", WireClient::connect_tcp(addrs[0])).await;
    for seq in 0..100 {
        let answer = within(
            "produce",
            client.produce("perf", 0, common::batch(9, 0, seq, &["value"])),
        )
        .await;
        assert_eq!(common::outcome(&answer), (0, i64::from(seq)));
    }
    let earliest = ListOffsetsRequest {
        replica_id: -1,
        topics: vec![ListOffsetsTopic {
            name: "perf".into(),
            partitions: vec![ListOffsetsPartition {
                partition_index: 0,
                current_leader_epoch: -1,
                timestamp: -2,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let r = within("list offsets", client.call(7, &earliest)).await;
    let start_offset = r.topics[0].partitions[0].offset;
    assert!(
        start_offset > 0 && start_offset < 100,
        "log start {start_offset}"
    );
    drop(child.stdin.take());
    let status = within("exit", child.wait()).await.expect("exit status");
    assert!(status.success(), "{status}");
}
