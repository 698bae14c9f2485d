//! `ProducerConfig::from_properties` from the outside: errors that name the
//! key (unknown, typo, unsupported, bad value), KIP-679's idempotence rules
//! through `from_properties` then `validate`, and the rules that make the
//! result independent of key order.

use std::collections::HashMap;
use std::time::Duration;

use kproducer::{Acks, Error, PartitionerKind, ProducerConfig};

const BOOTSTRAP: (&str, &str) = ("bootstrap.servers", "127.0.0.1:9092");

fn config_error(e: Error) -> (String, String) {
    match e {
        Error::Config { key, message } => (key, message),
        other => panic!("not a config error: {other}"),
    }
}

/// `from_properties` then `validate`, with a bootstrap server added.
fn validated(props: &[(&str, &str)]) -> Result<kproducer::Settings, Error> {
    let mut all = vec![BOOTSTRAP];
    all.extend_from_slice(props);
    ProducerConfig::from_properties(all)?.validate()
}

#[test]
fn unknown_keys_fail_naming_the_key() {
    let (key, message) =
        config_error(ProducerConfig::from_properties([("group.id", "g")]).unwrap_err());
    assert_eq!(key, "group.id");
    assert!(message.contains("not a producer property"), "{message}");
    assert!(!message.contains("did you mean"), "{message}");
}

#[test]
fn typos_get_the_closest_known_key() {
    let cases = [
        ("linger.sm", "linger.ms"),
        ("LINGER.MS", "linger.ms"),
        ("batch_size", "batch.size"),
        (
            "max.in.flight.request.per.connection",
            "max.in.flight.requests.per.connection",
        ),
        ("kproducer.connections.maks", "kproducer.connections.max"),
        ("transactionl.id", "transactional.id"),
    ];
    for (typo, known) in cases {
        let err = ProducerConfig::from_properties([(typo, "1")]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&format!("`{typo}`")), "{text}");
        assert!(
            text.contains(&format!("did you mean `{known}`?")),
            "{typo}: {text}"
        );
    }
}

#[test]
fn recognised_unsupported_keys_say_so() {
    let cases = [
        ("transaction.two.phase.commit.enable", "not supported yet"),
        ("ssl.truststore.location", "use ssl.ca.location"),
        ("ssl.cipher.suites", "not configurable"),
        ("sasl.jaas.config", "sasl.username and sasl.password only"),
        (
            "sasl.oauthbearer.token.endpoint.url",
            "implement kproducer::Mechanism",
        ),
        ("security.providers", "kproducer's security settings are"),
        ("key.serializer", "takes keys and values as bytes"),
        ("value.serializer", "takes keys and values as bytes"),
        ("interceptor.classes", "not supported yet"),
        ("metrics.num.samples", "Producer::metrics()"),
        ("send.buffer.bytes", "not configurable yet"),
        ("compression.zstd.level", "not configurable yet"),
    ];
    for (key, says) in cases {
        let (named, message) =
            config_error(ProducerConfig::from_properties([(key, "x")]).unwrap_err());
        assert_eq!(named, key);
        assert!(message.contains(says), "{key}: {message}");
        assert!(
            !message.contains("not a producer property"),
            "{key}: {message}"
        );
    }
    // All four protocols parse (SASL ones fail at build until SASL is
    // built in: tests/tls.rs); anything else names the four.
    let (key, message) =
        config_error(ProducerConfig::from_properties([("security.protocol", "TLS")]).unwrap_err());
    assert_eq!(key, "security.protocol");
    assert!(
        message.contains("PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"),
        "{message}"
    );
}

#[test]
fn bad_values_name_the_key_and_the_expected_form() {
    let cases = [
        ("linger.ms", "-1", "milliseconds"),
        ("linger.ms", "5ms", "milliseconds"),
        ("batch.size", "16k", "bytes"),
        ("acks", "2", "all, -1, 0 or 1"),
        ("enable.idempotence", "yes", "true or false"),
        (
            "compression.type",
            "brotli",
            "none, gzip, snappy, lz4 or zstd",
        ),
        ("max.in.flight.requests.per.connection", "0", "1 or more"),
        ("kproducer.connections.min", "0", "1 or more"),
        (
            "kproducer.scaler.up.wait.fraction",
            "1.5",
            "between 0 and 1",
        ),
        ("kproducer.connections.scale.interval.ms", "0", "1 or more"),
        ("retries", "0", "delivery.timeout.ms"),
        (
            "partitioner.class",
            "com.example.Mine",
            "ProducerBuilder::partitioner",
        ),
    ];
    for (key, value, expected) in cases {
        let err = ProducerConfig::from_properties([(key, value)]).unwrap_err();
        let text = err.to_string();
        let (named, message) = config_error(err);
        assert_eq!(named, key);
        assert!(message.contains(&format!("`{value}`")), "{text}");
        assert!(message.contains(expected), "{key}={value}: {text}");
    }
}

#[test]
fn idempotence_asked_for_with_acks_1_names_acks() {
    let err = validated(&[("enable.idempotence", "true"), ("acks", "1")]).unwrap_err();
    assert_eq!(config_error(err).0, "acks");
    let err = validated(&[("enable.idempotence", "true"), ("acks", "0")]).unwrap_err();
    assert_eq!(config_error(err).0, "acks");
}

#[test]
fn idempotence_asked_for_with_six_in_flight_names_the_limit() {
    let err = validated(&[
        ("enable.idempotence", "true"),
        ("max.in.flight.requests.per.connection", "6"),
    ])
    .unwrap_err();
    assert_eq!(config_error(err).0, "max.in.flight.requests.per.connection");
}

#[test]
fn implicit_idempotence_yields_quietly_to_conflicts_kip_679() {
    assert!(validated(&[]).unwrap().idempotent);
    assert!(validated(&[("acks", "all")]).unwrap().idempotent);
    assert!(!validated(&[("acks", "1")]).unwrap().idempotent);
    assert!(!validated(&[("acks", "0")]).unwrap().idempotent);
    let settings = validated(&[("max.in.flight.requests.per.connection", "6")]).unwrap();
    assert!(!settings.idempotent);
    assert_eq!(settings.config.max_in_flight, 6);
    // Explicitly off: anything goes.
    let settings = validated(&[
        ("enable.idempotence", "false"),
        ("acks", "1"),
        ("max.in.flight.requests.per.connection", "10"),
    ])
    .unwrap();
    assert!(!settings.idempotent);
    // Explicitly on with compatible settings.
    let settings = validated(&[
        ("enable.idempotence", "true"),
        ("acks", "-1"),
        ("max.in.flight.requests.per.connection", "5"),
    ])
    .unwrap();
    assert!(settings.idempotent);
}

#[test]
fn cross_key_rules_are_validated_naming_the_key() {
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("delivery.timeout.ms", "1000")], "delivery.timeout.ms"),
        (
            &[("retry.backoff.ms", "500"), ("retry.backoff.max.ms", "100")],
            "retry.backoff.max.ms",
        ),
        (
            &[
                ("kproducer.connections.min", "5"),
                ("kproducer.connections.max", "2"),
            ],
            "kproducer.connections.max",
        ),
        (&[("buffer.memory", "0")], "buffer.memory"),
        (&[("bootstrap.servers", " , ")], "bootstrap.servers"),
    ];
    for (props, key) in cases {
        // validated() puts a bootstrap server first; a later one replaces it.
        let err = validated(props).unwrap_err();
        assert_eq!(config_error(err).0, key, "{props:?}");
    }
    let err = validated(&[("bootstrap.servers", "no-port")]).unwrap_err();
    assert_eq!(config_error(err).0, "bootstrap.servers");
}

#[test]
fn raising_the_minimum_connections_alone_still_validates() {
    let settings = validated(&[("kproducer.connections.min", "3")]).unwrap();
    assert_eq!(settings.config.scaler.min_width, 3);
    assert_eq!(settings.config.scaler.initial_width, 3);
    let settings = validated(&[
        ("kproducer.connections.min", "1"),
        ("kproducer.connections.max", "2"),
        ("kproducer.connections.initial", "2"),
    ])
    .unwrap();
    assert_eq!(settings.config.scaler.initial_width, 2);
    // An explicit initial width outside the bounds is an error, not moved.
    assert!(validated(&[("kproducer.connections.initial", "9")]).is_err());
}

#[test]
fn keys_and_values_are_trimmed_and_the_last_value_wins() {
    let config = ProducerConfig::from_properties([
        ("  linger.ms ", " 7\t"),
        ("acks", "0"),
        ("acks", " all "),
    ])
    .unwrap();
    assert_eq!(config.linger, Duration::from_millis(7));
    assert_eq!(config.acks, Acks::All);
}

#[test]
fn uniform_sticky_ignores_keys_whatever_the_order() {
    let class = "org.apache.kafka.clients.producer.UniformStickyPartitioner";
    for props in [
        [
            ("partitioner.class", class),
            ("partitioner.ignore.keys", "false"),
        ],
        [
            ("partitioner.ignore.keys", "false"),
            ("partitioner.class", class),
        ],
    ] {
        let config = ProducerConfig::from_properties(props).unwrap();
        assert_eq!(config.partitioner_kind, PartitionerKind::Default);
        assert!(config.partitioner_ignore_keys, "{props:?}");
    }
    let config = ProducerConfig::from_properties([
        (
            "partitioner.class",
            "org.apache.kafka.clients.producer.internals.DefaultPartitioner",
        ),
        ("partitioner.ignore.keys", "true"),
    ])
    .unwrap();
    assert_eq!(config.partitioner_kind, PartitionerKind::Default);
    assert!(config.partitioner_ignore_keys);
}

#[test]
fn owned_maps_and_strings_are_accepted() {
    let mut props: HashMap<String, String> = HashMap::new();
    props.insert("bootstrap.servers".into(), "b1:9092,b2:9092".into());
    props.insert("compression.type".into(), "lz4".into());
    let config = ProducerConfig::from_properties(&props).unwrap();
    assert_eq!(config.bootstrap_servers, ["b1:9092", "b2:9092"]);
    assert_eq!(
        config.compression,
        kproducer::protocol::records::Compression::Lz4
    );
    let settings = config.validate().unwrap();
    assert_eq!(
        settings.bootstrap,
        [("b1".to_owned(), 9092), ("b2".to_owned(), 9092)]
    );
}

#[test]
fn a_failed_apply_leaves_the_config_unchanged() {
    let mut config = ProducerConfig::from_properties([BOOTSTRAP, ("linger.ms", "10")]).unwrap();
    let before = config.clone();
    let err = config
        .apply_properties([("linger.ms", "20"), ("acks", "everyone")])
        .unwrap_err();
    assert_eq!(config_error(err).0, "acks");
    assert_eq!(config, before);
    config.apply_properties([("linger.ms", "20")]).unwrap();
    assert_eq!(config.linger, Duration::from_millis(20));
    assert_eq!(config.bootstrap_servers, before.bootstrap_servers);
}

mod end_to_end {
    //! Producers configured through properties, against the fake broker on
    //! paused tokio time.

    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::time::Duration;

    use kproducer::{Producer, ProducerConfig, Record};
    use kproducer_fake_broker::FakeCluster;

    fn cluster() -> FakeCluster {
        FakeCluster::builder()
            .brokers(3)
            .topic("orders", 6)
            .build()
            .expect("cluster")
    }

    fn producer(cluster: &FakeCluster, config: ProducerConfig) -> Producer {
        Producer::builder()
            .config(config)
            .transport(Arc::new(cluster.transport()))
            .seed(7)
            .build()
            .expect("valid configuration")
    }

    /// Sends `n` keyless records, flushes, and counts acknowledgements per
    /// partition.
    async fn send_keyless(producer: &Producer, n: usize) -> BTreeMap<i32, usize> {
        let mut futures = Vec::new();
        for i in 0..n {
            let record = Record::new("orders", format!("record-{i}"));
            futures.push(producer.send(record).await.expect("accepted"));
        }
        producer.flush().await.expect("flushed");
        let mut per_partition = BTreeMap::new();
        for f in futures {
            let metadata = f.await.expect("acknowledged");
            *per_partition.entry(metadata.partition).or_insert(0) += 1;
        }
        per_partition
    }

    #[tokio::test(start_paused = true)]
    async fn java_style_properties_configure_a_working_producer() {
        let cluster = cluster();
        let bootstrap = cluster.bootstrap_servers();
        let config = ProducerConfig::from_properties([
            ("bootstrap.servers", bootstrap.as_str()),
            ("client.id", "from-properties"),
            ("acks", "all"),
            ("enable.idempotence", "true"),
            ("linger.ms", "2"),
            ("compression.type", "lz4"),
            (
                "partitioner.class",
                "org.apache.kafka.clients.producer.RoundRobinPartitioner",
            ),
            ("retries", "2147483647"),
            ("kproducer.connections.max", "2"),
        ])
        .expect("valid properties");
        let producer = producer(&cluster, config);
        assert!(producer.is_idempotent());
        let per_partition = send_keyless(&producer, 12).await;
        // Round robin: every partition gets its turn.
        assert_eq!(per_partition.len(), 6, "{per_partition:?}");
        assert_eq!(per_partition.values().sum::<usize>(), 12);
        producer.close(Duration::from_secs(1)).await;
    }

    /// Java users write Long.MAX_VALUE for "no limit"; such values must
    /// neither be refused nor make the producer panic on time arithmetic.
    #[tokio::test(start_paused = true)]
    async fn java_long_max_durations_are_accepted_and_safe() {
        const LONG_MAX: &str = "9223372036854775807";
        let cluster = cluster();
        let bootstrap = cluster.bootstrap_servers();
        let config = ProducerConfig::from_properties([
            ("bootstrap.servers", bootstrap.as_str()),
            // An INT in Java: at most 2147483647 (see below). It must cover
            // linger.ms + request.timeout.ms, so linger.ms stays small here.
            ("delivery.timeout.ms", "2147483647"),
            ("max.block.ms", LONG_MAX),
            ("metadata.max.age.ms", LONG_MAX),
            ("retry.backoff.max.ms", LONG_MAX),
            ("kproducer.scaler.cooldown.ms", LONG_MAX),
            ("kproducer.scaler.sustained.low.ms", LONG_MAX),
        ])
        .expect("valid properties");
        assert_eq!(config.max_block, Duration::from_millis(i32::MAX as u64));
        let linger = ProducerConfig::from_properties([("linger.ms", LONG_MAX)]).unwrap();
        assert_eq!(linger.linger, Duration::from_millis(i32::MAX as u64));
        let producer = producer(&cluster, config);
        let per_partition = send_keyless(&producer, 5).await;
        assert_eq!(per_partition.values().sum::<usize>(), 5);
        producer.close(Duration::from_secs(1)).await;

        // Settings Java types as INT refuse what an INT cannot hold.
        for key in ["delivery.timeout.ms", "request.timeout.ms"] {
            let err = ProducerConfig::from_properties([(key, LONG_MAX)]).unwrap_err();
            assert!(err.to_string().contains(key), "{err}");
        }
    }
}
