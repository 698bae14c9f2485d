//! The whole suite ([`suite::all`]) against real Apache Kafka, in a
//! container started with testcontainers (`apache/kafka`), where a Docker
//! engine is reachable. Otherwise — as on the development machine, which
//! has the `docker` client but no engine — it prints why it skipped. It
//! never fails for want of Docker, even under CI: tansu is what CI runs.
//!
//! testcontainers is behind the `apache-kafka` feature (off by default; it
//! adds ~150 crates to the build):
//!
//! ```text
//! cargo test -p kproducer-integration-tests --features apache-kafka --test apache_kafka -- --nocapture
//! ```

use kproducer_integration_tests::docker;
use kproducer_integration_tests::target::say;

const TEST: &str = "apache_kafka_suite";

#[test]
fn apache_kafka_suite() {
    let engine = match docker::engine() {
        Ok(engine) => engine,
        Err(why) => {
            say(&format!(
                "{TEST}: SKIPPED: {why}. The suite runs against Apache Kafka (apache/kafka via \
                 testcontainers) only where a Docker engine is reachable; set DOCKER_HOST or start \
                 the engine, and build with --features apache-kafka"
            ));
            return;
        }
    };
    run(&engine);
}

#[cfg(not(feature = "apache-kafka"))]
fn run(engine: &str) {
    say(&format!(
        "{TEST}: SKIPPED: a Docker engine answers at {engine}, but this build has no \
         testcontainers; run `cargo test -p kproducer-integration-tests --features apache-kafka \
         --test apache_kafka`"
    ));
}

#[cfg(feature = "apache-kafka")]
fn run(engine: &str) {
    use kproducer_integration_tests::{apache_kafka, suite};

    let libdir = std::env::var_os(kproducer_integration_tests::target::KCAT_LIBDIR_ENV)
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from);
    let kafka = apache_kafka::start(libdir)
        .unwrap_or_else(|why| panic!("{TEST}: Docker engine at {engine}: {why}"));
    say(&format!(
        "{TEST}: {}:{} listens on {}",
        apache_kafka::IMAGE.0,
        apache_kafka::IMAGE.1,
        kafka.target.bootstrap
    ));
    for scenario in suite::all(kafka.target.kind) {
        suite::run(TEST, &kafka.target, &scenario);
    }
}
