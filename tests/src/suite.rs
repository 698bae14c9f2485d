//! The scenarios, shared by the tansu tests and the Apache Kafka suite so
//! both brokers face exactly the same checks.

use crate::consumed::Expectations;
use crate::marker;
use crate::scenario::Scenario;
use crate::target::{BrokerKind, BrokerTarget, say};
use crate::workload::Workload;

/// Partitions of every topic.
pub const PARTITIONS: u32 = 6;

/// Records in the headline run.
pub const MILLION: u64 = 1_000_000;

/// Records in each codec and acks run.
pub const SMALL: u64 = 50_000;

/// Every check on: offsets reported, contiguous, placement compared.
const STRICT: Expectations = Expectations {
    reported_offsets: true,
    contiguous_offsets: true,
    loss_tolerated: false,
};

/// Idempotent with adaptive connections, up to 4 per broker.
const IDEMPOTENT_ADAPTIVE: [(&str, &str); 4] = [
    ("enable.idempotence", "true"),
    ("acks", "all"),
    ("kproducer.connections.max", "4"),
    ("linger.ms", "5"),
];

/// The headline: a million numbered records, idempotent, adaptive
/// connections up to 4, half keyed (over 50,000 keys) and half keyless.
pub fn million() -> Scenario {
    Scenario {
        name: "million-idempotent",
        workload: Workload::new(MILLION, 50_000),
        partitions: PARTITIONS,
        properties: IDEMPOTENT_ADAPTIVE.to_vec(),
        expect: STRICT,
        compare_placement: true,
    }
}

/// The idempotent run with `codec` (`gzip`, `snappy`, `lz4`, `zstd`) and
/// [`SMALL`] records.
pub fn codec(name: &'static str, codec: &'static str) -> Scenario {
    let mut properties = IDEMPOTENT_ADAPTIVE.to_vec();
    properties.push(("compression.type", codec));
    Scenario {
        name,
        workload: Workload::new(SMALL, 5_000),
        partitions: PARTITIONS,
        properties,
        expect: STRICT,
        compare_placement: true,
    }
}

/// A run with `acks` (`0`, `1`, `all`) and [`SMALL`] records; idempotence
/// is off for `0` and `1` (it requires `all`). With `acks=0` the broker
/// reports no offsets, so only count, placement and order are checked; on
/// tansu (`kind`), which drops some `acks=0` requests, missing records are
/// counted and reported rather than failed.
pub fn acks(name: &'static str, acks: &'static str, kind: BrokerKind) -> Scenario {
    let idempotent = if acks == "all" { "true" } else { "false" };
    Scenario {
        name,
        workload: Workload::new(SMALL, 5_000),
        partitions: PARTITIONS,
        properties: vec![
            ("enable.idempotence", idempotent),
            ("acks", acks),
            ("kproducer.connections.max", "4"),
            ("linger.ms", "5"),
        ],
        expect: Expectations {
            reported_offsets: acks != "0",
            loss_tolerated: acks == "0" && kind == BrokerKind::Tansu,
            ..STRICT
        },
        compare_placement: true,
    }
}

/// Every scenario, in the order the Apache Kafka suite runs them.
pub fn all(kind: BrokerKind) -> Vec<Scenario> {
    vec![
        million(),
        codec("codec-gzip", "gzip"),
        codec("codec-snappy", "snappy"),
        codec("codec-lz4", "lz4"),
        codec("codec-zstd", "zstd"),
        acks("acks-0", "0", kind),
        acks("acks-1", "1", kind),
        acks("acks-all", "all", kind),
    ]
}

/// Runs `scenario` on `target` for the test `test`, prints its report, and
/// records that the test ran ([`marker::record_ran`]).
///
/// # Panics
/// When the scenario fails: this is the test's assertion.
pub fn run(test: &str, target: &BrokerTarget, scenario: &Scenario) {
    match scenario.run(target) {
        Ok(report) => {
            say(&format!("{test}: {report}"));
            marker::record_ran(test, &format!("{} records", report.summary.total()));
        }
        Err(why) => panic!(
            "{test} against {:?} at {}: {why}",
            target.kind, target.bootstrap
        ),
    }
}
