//! Against tansu, once per `acks` setting: 50,000 records with `acks=0`
//! and `acks=1` (idempotence off: it needs `acks=all`) and `acks=all`
//! (idempotent). With `acks=0` no offsets come back, so the check is count,
//! placement and per-partition order only.
//!
//! Needs a broker (`cargo xtask broker start`); prints why it skips
//! without one, fails without one under CI.

use kproducer_integration_tests::suite;
use kproducer_integration_tests::target::BrokerTarget;

fn run(test: &str, acks: &'static str, name: &'static str) {
    let Some(target) = BrokerTarget::tansu_from_env(test) else {
        return;
    };
    suite::run(test, &target, &suite::acks(name, acks, target.kind));
}

#[test]
fn tansu_acks_0() {
    run("tansu_acks_0", "0", "acks-0");
}

#[test]
fn tansu_acks_1() {
    run("tansu_acks_1", "1", "acks-1");
}

#[test]
fn tansu_acks_all() {
    run("tansu_acks_all", "all", "acks-all");
}
