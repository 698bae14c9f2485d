//! `from_properties` against the key table and `docs/configuration.md`:
//! every supported key sets its field, every key fails naming itself on a
//! bad value, and the documentation lists exactly the keys the table has,
//! with defaults that are `ProducerConfig::default()`.

use std::collections::BTreeSet;
use std::time::Duration;

use kproducer_protocol::records::Compression;

use super::keys::{SUPPORTED, UNSUPPORTED, UNSUPPORTED_PREFIXES};
use crate::config::{Acks, PartitionerKind, ProducerConfig};
use crate::error::Error;
use crate::security::SecurityProtocol;
use kproducer_net::{PemSource, PrivateKeyPem, PrivateKeySource};

const DOC: &str = include_str!("../../../../docs/configuration.md");

/// Headings of the doc sections whose tables list supported keys.
const SUPPORTED_SECTIONS: [&str; 2] = ["## Kafka's keys", "## kproducer's keys"];
/// Heading of the doc section that lists recognised, unsupported keys.
const UNSUPPORTED_SECTION: &str = "## Recognised, not supported yet";

/// One row of a key table in the doc.
#[derive(Debug)]
struct DocRow {
    key: String,
    default: String,
    supported: bool,
}

/// The rows of the doc's key tables: lines `| `key` | default | ...` under
/// the key sections.
fn doc_rows() -> Vec<DocRow> {
    let mut rows = Vec::new();
    let mut section: Option<bool> = None;
    for line in DOC.lines() {
        if line.starts_with("## ") {
            section = if SUPPORTED_SECTIONS.iter().any(|s| line.starts_with(s)) {
                Some(true)
            } else if line.starts_with(UNSUPPORTED_SECTION) {
                Some(false)
            } else {
                None
            };
            continue;
        }
        let (Some(supported), Some(row)) = (section, line.strip_prefix("| `")) else {
            continue;
        };
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let key = cells[0].trim_end_matches('`');
        rows.push(DocRow {
            key: key.to_owned(),
            default: cells.get(1).copied().unwrap_or_default().to_owned(),
            supported,
        });
    }
    rows
}

/// A default cell that is one literal value in backticks, such as `16384`.
fn literal(cell: &str) -> Option<&str> {
    let inner = cell.strip_prefix('`')?.strip_suffix('`')?;
    (!inner.contains('`')).then_some(inner)
}

fn key_of(e: Error) -> String {
    match e {
        Error::Config { key, .. } => key,
        other => panic!("not a config error: {other}"),
    }
}

#[test]
fn doc_lists_exactly_the_supported_keys() {
    let documented: BTreeSet<String> = doc_rows()
        .into_iter()
        .filter(|r| r.supported)
        .map(|r| r.key)
        .collect();
    let supported: BTreeSet<String> = SUPPORTED.iter().map(|(k, _)| (*k).to_owned()).collect();
    assert_eq!(
        documented.difference(&supported).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "documented in docs/configuration.md but not accepted by from_properties"
    );
    assert_eq!(
        supported.difference(&documented).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "accepted by from_properties but missing from docs/configuration.md"
    );
}

#[test]
fn doc_lists_exactly_the_unsupported_keys() {
    let documented: BTreeSet<String> = doc_rows()
        .into_iter()
        .filter(|r| !r.supported)
        .map(|r| r.key)
        .collect();
    let unsupported: BTreeSet<String> = UNSUPPORTED
        .iter()
        .map(|(k, _)| (*k).to_owned())
        .chain(UNSUPPORTED_PREFIXES.iter().map(|(p, _)| format!("{p}*")))
        .collect();
    assert_eq!(documented, unsupported);
}

#[test]
fn documented_defaults_are_the_defaults() {
    let rows: Vec<DocRow> = doc_rows().into_iter().filter(|r| r.supported).collect();
    let (literal_rows, described): (Vec<&DocRow>, Vec<&DocRow>) =
        rows.iter().partition(|r| literal(&r.default).is_some());
    // Only these have no literal default: a guard against a default losing
    // its backticks and silently leaving this test.
    let described: Vec<&str> = described.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(
        described,
        [
            "bootstrap.servers",
            "enable.idempotence",
            "transactional.id",
            "ssl.ca.location",
            "ssl.ca.pem",
            "ssl.certificate.location",
            "ssl.certificate.pem",
            "ssl.key.location",
            "ssl.key.pem",
            "ssl.key.password",
            "sasl.mechanism",
            "sasl.mechanisms",
            "sasl.username",
            "sasl.password"
        ]
    );
    let props = literal_rows
        .iter()
        .map(|r| (r.key.as_str(), literal(&r.default).unwrap_or_default()));
    let config = ProducerConfig::from_properties(props).unwrap();
    assert_eq!(config, ProducerConfig::default());
}

type Check = fn(&ProducerConfig) -> bool;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// One non-default value per supported key and what it must set. Keys that
/// are accepted and ignored check that nothing changed.
const EVERY_KEY: &[(&str, &str, Check)] = &[
    ("bootstrap.servers", " a:1, b:2 ", |c| {
        c.bootstrap_servers == ["a:1", "b:2"]
    }),
    ("client.id", " billing ", |c| c.client_id == "billing"),
    ("acks", "1", |c| c.acks == Acks::Leader),
    ("enable.idempotence", "FALSE", |c| {
        c.enable_idempotence == Some(false)
    }),
    ("linger.ms", "20", |c| c.linger == ms(20)),
    ("batch.size", "65536", |c| c.batch_size == 65_536),
    ("buffer.memory", "1024", |c| c.buffer_memory == 1024),
    ("max.block.ms", "0", |c| c.max_block == Duration::ZERO),
    ("delivery.timeout.ms", "90000", |c| {
        c.delivery_timeout == ms(90_000)
    }),
    ("request.timeout.ms", "15000", |c| {
        c.request_timeout == ms(15_000)
    }),
    ("retry.backoff.ms", "50", |c| c.retry_backoff == ms(50)),
    ("retry.backoff.max.ms", "5000", |c| {
        c.retry_backoff_max == ms(5000)
    }),
    ("max.in.flight.requests.per.connection", "1", |c| {
        c.max_in_flight == 1
    }),
    ("compression.type", "ZSTD", |c| {
        c.compression == Compression::Zstd
    }),
    ("max.request.size", "2097152", |c| {
        c.max_request_size == 2_097_152
    }),
    ("metadata.max.age.ms", "60000", |c| {
        c.metadata_max_age == ms(60_000)
    }),
    ("allow.auto.create.topics", "false", |c| {
        !c.allow_auto_create_topics
    }),
    (
        "partitioner.class",
        "org.apache.kafka.clients.producer.RoundRobinPartitioner",
        |c| c.partitioner_kind == PartitionerKind::RoundRobin,
    ),
    ("partitioner.ignore.keys", "true", |c| {
        c.partitioner_ignore_keys
    }),
    ("partitioner.adaptive.partitioning.enable", "false", |c| {
        !c.partitioner_adaptive
    }),
    ("partitioner.availability.timeout.ms", "1500", |c| {
        c.partitioner_availability_timeout == ms(1_500)
    }),
    ("retries", "3", |c| *c == ProducerConfig::default()),
    ("security.protocol", "ssl", |c| {
        c.security_protocol == SecurityProtocol::Ssl
    }),
    ("ssl.ca.location", "/etc/kafka/ca.pem", |c| {
        c.ssl.ca == Some(PemSource::File("/etc/kafka/ca.pem".into()))
    }),
    ("ssl.ca.pem", "-----BEGIN CERTIFICATE-----\\nAA==", |c| {
        c.ssl.ca == Some(PemSource::Pem("-----BEGIN CERTIFICATE-----\nAA==".into()))
    }),
    ("ssl.certificate.location", "client.pem", |c| {
        c.ssl.certificate == Some(PemSource::File("client.pem".into()))
    }),
    ("ssl.certificate.pem", "-----BEGIN CERTIFICATE-----", |c| {
        c.ssl.certificate == Some(PemSource::Pem("-----BEGIN CERTIFICATE-----".into()))
    }),
    ("ssl.key.location", "client.key", |c| {
        c.ssl.key == Some(PrivateKeySource::File("client.key".into()))
    }),
    ("ssl.key.pem", "-----BEGIN PRIVATE KEY-----", |c| {
        c.ssl.key
            == Some(PrivateKeySource::Pem(PrivateKeyPem::new(
                "-----BEGIN PRIVATE KEY-----",
            )))
    }),
    ("ssl.key.password", "", |c| *c == ProducerConfig::default()),
    ("ssl.endpoint.identification.algorithm", "", |c| {
        !c.ssl.endpoint_identification
    }),
    ("sasl.mechanism", "scram-sha-512", |c| {
        c.sasl_mechanism == Some(kproducer_net::BuiltinMechanism::ScramSha512)
    }),
    ("sasl.mechanisms", "PLAIN", |c| {
        c.sasl_mechanism == Some(kproducer_net::BuiltinMechanism::Plain)
    }),
    ("sasl.username", "alice", |c| {
        c.sasl_username.as_deref() == Some("alice")
    }),
    ("sasl.password", "alice-secret", |c| {
        c.sasl_password.as_ref().map(kproducer_net::Secret::expose) == Some("alice-secret")
    }),
    ("transactional.id", " billing-1 ", |c| {
        c.transactional_id.as_deref() == Some("billing-1")
    }),
    ("transaction.timeout.ms", "30000", |c| {
        c.transaction_timeout == ms(30_000)
    }),
    ("kproducer.connections.adaptive", "false", |c| {
        !c.adaptive_connections
    }),
    ("kproducer.connections.min", "2", |c| {
        c.scaler.min_width == 2 && c.scaler.initial_width == 2
    }),
    ("kproducer.connections.max", "8", |c| {
        c.scaler.max_width == 8
    }),
    ("kproducer.connections.initial", "3", |c| {
        c.scaler.initial_width == 3
    }),
    ("kproducer.connections.scale.interval.ms", "250", |c| {
        c.scale_interval == ms(250)
    }),
    ("kproducer.scaler.max.step", "1", |c| c.scaler.max_step == 1),
    ("kproducer.scaler.min.window.ms", "200", |c| {
        c.scaler.min_window == ms(200)
    }),
    ("kproducer.scaler.cooldown.ms", "5000", |c| {
        c.scaler.cooldown == ms(5000)
    }),
    ("kproducer.scaler.cooldown.round.trips", "4", |c| {
        c.scaler.cooldown_round_trips == 4
    }),
    ("kproducer.scaler.sustained.low.ms", "60000", |c| {
        c.scaler.sustained_low == ms(60_000)
    }),
    ("kproducer.scaler.up.wait.fraction", "0.2", |c| {
        c.scaler.scale_up_wait == 0.2
    }),
    ("kproducer.scaler.down.wait.fraction", "0.02", |c| {
        c.scaler.scale_down_wait == 0.02
    }),
    ("kproducer.scaler.up.buffer.fill", "0.6", |c| {
        c.scaler.scale_up_buffer == 0.6
    }),
    ("kproducer.scaler.down.buffer.fill", "0.2", |c| {
        c.scaler.scale_down_buffer == 0.2
    }),
    ("kproducer.scaler.up.busy.fraction", "0.95", |c| {
        c.scaler.scale_up_busy == 0.95
    }),
    ("kproducer.scaler.down.busy.fraction", "0.4", |c| {
        c.scaler.scale_down_busy == 0.4
    }),
];

/// Keys accepted and ignored: setting them changes nothing.
const IGNORED: [&str; 2] = ["retries", "ssl.key.password"];

#[test]
fn every_key_sets_its_field() {
    let tested: BTreeSet<&str> = EVERY_KEY.iter().map(|(k, _, _)| *k).collect();
    let supported: BTreeSet<&str> = SUPPORTED.iter().map(|(k, _)| *k).collect();
    assert_eq!(tested, supported, "every supported key needs a case here");
    let default = ProducerConfig::default();
    for (key, value, check) in EVERY_KEY {
        let config = ProducerConfig::from_properties([(*key, *value)])
            .unwrap_or_else(|e| panic!("{key}={value}: {e}"));
        assert!(check(&config), "{key}={value} did not set its field");
        if !IGNORED.contains(key) {
            assert!(!check(&default), "{key}: the test value is the default");
        }
    }
}

#[test]
fn every_bad_value_names_its_key_and_the_expected_form() {
    // client.id takes any string; bootstrap.servers is checked by
    // validate; paths and key text are checked when the producer is built.
    let free_form = [
        "client.id",
        "bootstrap.servers",
        "ssl.ca.location",
        "ssl.certificate.location",
        "ssl.key.location",
        "ssl.key.pem",
        "sasl.username",
        "sasl.password",
        "transactional.id",
    ];
    for (key, _) in SUPPORTED.iter().filter(|(k, _)| !free_form.contains(k)) {
        let err = ProducerConfig::from_properties([(*key, "not-a-value")]).unwrap_err();
        let text = err.to_string();
        // Secrets are never quoted back.
        let shown = if *key == "ssl.key.password" {
            "<redacted>"
        } else {
            "not-a-value"
        };
        assert!(
            text.starts_with(&format!("invalid configuration `{key}`: `{shown}`")),
            "{text}"
        );
        assert!(text.contains("expected"), "{text}");
        assert_eq!(key_of(err), *key);
    }
}
