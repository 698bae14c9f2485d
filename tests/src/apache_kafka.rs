//! Apache Kafka in a container (the `apache/kafka` image, single KRaft
//! node), through testcontainers. Built only with the `apache-kafka`
//! feature: testcontainers brings ~150 crates (Docker's API client with
//! hyper, tonic, rustls), too much for every build of the workspace.

use std::net::{Ipv4Addr, TcpListener};

use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::SyncRunner;
use testcontainers::{Container, GenericImage, ImageExt};

use crate::kcat::Kcat;
use crate::suite::PARTITIONS;
use crate::target::{BrokerKind, BrokerTarget};
use crate::topics::TopicAdmin;

/// The image and tag the suite runs against.
pub const IMAGE: (&str, &str) = ("apache/kafka", "4.1.0");

/// A running Apache Kafka; the container is removed when this is dropped.
#[derive(Debug)]
pub struct ApacheKafka {
    /// Keeps the container alive.
    _container: Container<GenericImage>,
    /// How the tests reach it.
    pub target: BrokerTarget,
}

/// Starts Apache Kafka with its client listener on a free 127.0.0.1 port
/// (advertised as such) and a second listener inside the container for its
/// own `kafka-topics.sh`.
///
/// `kcat_libdir`: where librdkafka 2.16 is, if installed (Debian's 2.0.2
/// works against Apache Kafka too, but the suite prefers one peer version).
///
/// # Errors
/// No free port, or the container did not start (with testcontainers'
/// reason).
pub fn start(kcat_libdir: Option<std::path::PathBuf>) -> Result<ApacheKafka, String> {
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port on 127.0.0.1: {e}"))?;
    let env = [
        ("KAFKA_NODE_ID", "1".to_string()),
        ("KAFKA_PROCESS_ROLES", "broker,controller".to_string()),
        (
            "KAFKA_LISTENERS",
            "PLAINTEXT://0.0.0.0:9092,INTERNAL://0.0.0.0:29092,CONTROLLER://0.0.0.0:9093"
                .to_string(),
        ),
        (
            "KAFKA_ADVERTISED_LISTENERS",
            format!("PLAINTEXT://127.0.0.1:{port},INTERNAL://localhost:29092"),
        ),
        (
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
            "PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT".to_string(),
        ),
        ("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER".to_string()),
        ("KAFKA_INTER_BROKER_LISTENER_NAME", "INTERNAL".to_string()),
        (
            "KAFKA_CONTROLLER_QUORUM_VOTERS",
            "1@localhost:9093".to_string(),
        ),
        ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1".to_string()),
        (
            "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
            "1".to_string(),
        ),
        ("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1".to_string()),
        ("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0".to_string()),
        ("KAFKA_NUM_PARTITIONS", PARTITIONS.to_string()),
    ];
    let mut request = GenericImage::new(IMAGE.0, IMAGE.1)
        .with_exposed_port(9092.tcp())
        .with_wait_for(WaitFor::message_on_stdout("Kafka Server started"))
        .with_mapped_port(port, 9092.tcp())
        // Publish the port on loopback only, not on every interface.
        .with_host_config_modifier(|host| {
            for bindings in host.port_bindings.iter_mut().flat_map(|m| m.values_mut()) {
                for binding in bindings.iter_mut().flatten() {
                    binding.host_ip = Some("127.0.0.1".to_string());
                }
            }
        });
    for (name, value) in env {
        request = request.with_env_var(name, value);
    }
    let container = request
        .start()
        .map_err(|e| format!("starting {}:{} failed: {e}", IMAGE.0, IMAGE.1))?;
    let target = BrokerTarget {
        bootstrap: format!("127.0.0.1:{port}"),
        kind: BrokerKind::ApacheKafka,
        kcat: Kcat::new(kcat_libdir),
        admin: TopicAdmin::KafkaContainer {
            container: container.id().to_string(),
        },
    };
    Ok(ApacheKafka {
        _container: container,
        target,
    })
}
