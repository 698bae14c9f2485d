//! The headline run against tansu: 1,000,000 numbered records, idempotent,
//! adaptive connections up to 4, 6 partitions, half keyed and half keyless;
//! read back with kcat and checked record by record, and key placement
//! compared with librdkafka's `murmur2_random`.
//!
//! Needs a broker (`cargo xtask broker start`); prints why it skips
//! without one, fails without one under CI.

use kproducer_integration_tests::suite;
use kproducer_integration_tests::target::BrokerTarget;

#[test]
fn tansu_million_idempotent_records_keyed_and_keyless() {
    let test = "tansu_million_idempotent_records_keyed_and_keyless";
    let Some(target) = BrokerTarget::tansu_from_env(test) else {
        return;
    };
    suite::run(test, &target, &suite::million());
}
