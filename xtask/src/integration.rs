//! The `integration-tansu` CI step: the real-broker integration tests
//! (`tests/`, package `kproducer-integration-tests`) against a fresh tansu,
//! with kcat on librdkafka 2.16 as the independent reader.
//!
//! It starts the broker the way `cargo xtask broker start` does, runs the
//! package's tests with the broker's address in the environment, stops the
//! broker whatever happened, and then fails unless every `tansu_*` test
//! wrote its line to the marker file — a test that skipped, or that a
//! filter left out, would otherwise pass unnoticed.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::time::Duration;

use crate::broker::{self, StartOptions, TopicSpec};
use crate::broker_state::{self, BrokerState};
use crate::ci::Outcome;
use crate::peer::Peer;
use crate::process::{self, Bounded, cargo};
use crate::tansu;

/// The package holding the tests (excluded from the plain `test` step,
/// which has no broker).
pub(crate) const PACKAGE: &str = "kproducer-integration-tests";

/// The prefix of every test that must run against tansu.
const TEST_PREFIX: &str = "tansu_";

/// Bound on the test run, compilation included: the tests take ~45 s on an
/// idle machine; the margin is for compiling on a busy one.
const TEST_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// Runs the step.
pub(crate) fn tansu_step() -> Outcome {
    let options = StartOptions {
        topics: vec![TopicSpec {
            name: CHAOS_TOPIC.to_owned(),
            partitions: 6,
        }],
        ..StartOptions::default()
    };
    let state = match broker::start(&options) {
        Ok(state) => state,
        Err(why) => return Outcome::with_note(Err(format!("starting tansu: {why}")), None),
    };
    let result = run_against(&state).and_then(|ran| run_chaos(&state).map(|()| ran));
    let stopped = broker::stop_recorded(&broker_state::state_dir(), &state);
    let result = match (result, stopped) {
        (Ok(ran), Ok(())) => Ok(ran),
        (Err(why), _) => Err(why),
        (Ok(_), Err(why)) => Err(format!("the tests passed but stopping tansu failed: {why}")),
    };
    match result {
        Ok(ran) => Outcome::with_note(
            Ok(()),
            Some(format!("{ran} tansu tests and the tansu chaos run ran")),
        ),
        Err(why) => Outcome::with_note(Err(why), None),
    }
}

/// Runs the tests against the broker `state` describes; returns how many
/// `tansu_*` tests ran.
fn run_against(state: &BrokerState) -> Result<usize, String> {
    let tansu = tansu::ensure_installed()?;
    let libdir = match &state.librdkafka_lib {
        Some(dir) => dir.clone(),
        None => Peer::ensure_installed()?.lib_dir().to_path_buf(),
    };
    let expected = list_tests()?;
    if expected.is_empty() {
        return Err(format!(
            "`cargo test -p {PACKAGE} -- --list` names no {TEST_PREFIX}* test"
        ));
    }
    let marker = broker_state::state_dir().join("itests-ran.txt");
    remove_if_present(&marker)?;
    let mut cmd = cargo(&["test", "-p", PACKAGE, "--no-fail-fast"]);
    cmd.env("KPRODUCER_BOOTSTRAP", state.bootstrap())
        .env("KPRODUCER_KCAT_LIBDIR", &libdir)
        .env("KPRODUCER_TANSU", &tansu)
        .env("KPRODUCER_ITESTS_REQUIRE", "1")
        .env("KPRODUCER_ITESTS_MARKER", &marker);
    match process::run_bounded(&mut cmd, TEST_TIMEOUT) {
        Bounded::Succeeded => {}
        Bounded::Failed(why) => return Err(format!("`cargo test -p {PACKAGE}` {why}")),
        Bounded::TimedOut(limit) => {
            return Err(format!(
                "`cargo test -p {PACKAGE}` ran longer than {} s; killed it",
                limit.as_secs()
            ));
        }
    }
    let text = fs::read_to_string(&marker).unwrap_or_default();
    remove_if_present(&marker)?;
    let ran = ran_tests(&text);
    let missing: Vec<&String> = expected.difference(&ran).collect();
    if missing.is_empty() {
        Ok(expected.len())
    } else {
        Err(format!(
            "these tests passed without running against tansu: {missing:?} \
             (no line in the marker file; did they skip?)"
        ))
    }
}

/// The topic the chaos run against tansu writes to.
const CHAOS_TOPIC: &str = "chaos";

/// The chaos-proxy test against the real broker (issue 7's short form).
const CHAOS_TEST: &str = "real_broker_loses_nothing_and_keeps_order_through_chaos";

/// Bound on the chaos run (20,000 records; about 15 s here).
const CHAOS_TIMEOUT: Duration = Duration::from_secs(300);

/// Runs the chaos proxy between a producer and tansu, and fails unless the
/// test really ran (it writes a marker file only after its checks passed;
/// without a broker it would skip).
fn run_chaos(state: &BrokerState) -> Result<(), String> {
    let marker = broker_state::state_dir().join("chaos-ran.txt");
    remove_if_present(&marker)?;
    let mut cmd = cargo(&[
        "test",
        "-p",
        "kproducer",
        "--test",
        "chaos_proxy",
        "--",
        "--exact",
        CHAOS_TEST,
        "--nocapture",
    ]);
    cmd.env("KPRODUCER_BOOTSTRAP", state.bootstrap())
        .env("KPRODUCER_CHAOS_TOPIC", CHAOS_TOPIC)
        .env("KPRODUCER_CHAOS_MARKER", &marker);
    match process::run_bounded(&mut cmd, CHAOS_TIMEOUT) {
        Bounded::Succeeded => {}
        Bounded::Failed(why) => return Err(format!("the tansu chaos run {why}")),
        Bounded::TimedOut(limit) => {
            return Err(format!(
                "the tansu chaos run took longer than {} s; killed it",
                limit.as_secs()
            ));
        }
    }
    if !marker.exists() {
        return Err(format!(
            "`{CHAOS_TEST}` passed without running against tansu (no marker file)"
        ));
    }
    remove_if_present(&marker)
}

/// The `tansu_*` tests the package has, from `cargo test -- --list`.
fn list_tests() -> Result<BTreeSet<String>, String> {
    let mut cmd = cargo(&["test", "-p", PACKAGE, "--tests", "--", "--list"]);
    println!("{}", process::describe(&cmd));
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run `cargo test -p {PACKAGE} -- --list`: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`cargo test -p {PACKAGE} -- --list` failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(listed_tests(&String::from_utf8_lossy(&out.stdout)))
}

/// Test names from libtest's `--list` output (`NAME: test` lines).
fn listed_tests(list: &str) -> BTreeSet<String> {
    list.lines()
        .filter_map(|line| line.strip_suffix(": test"))
        .filter(|name| name.starts_with(TEST_PREFIX))
        .map(str::to_string)
        .collect()
}

/// Test names from the marker file (`NAME ran: …` lines).
fn ran_tests(marker: &str) -> BTreeSet<String> {
    marker
        .lines()
        .filter_map(|line| line.split_once(" ran: "))
        .map(|(name, _)| name.to_string())
        .collect()
}

fn remove_if_present(path: &Path) -> Result<(), String> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot remove {}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tansu_tests_are_expected() {
        let list = "tansu_acks_0: test\nconsumed::tests::x: test\ntansu_codec_lz4: test\n\n2 tests, 0 benchmarks\n";
        assert_eq!(
            listed_tests(list),
            BTreeSet::from(["tansu_acks_0".to_string(), "tansu_codec_lz4".to_string()])
        );
    }

    #[test]
    fn the_marker_names_the_tests_that_ran() {
        let marker = "tansu_acks_0 ran: 50000 records\ntansu_codec_lz4 ran: 50000 records\n";
        assert_eq!(
            ran_tests(marker),
            BTreeSet::from(["tansu_acks_0".to_string(), "tansu_codec_lz4".to_string()])
        );
        assert!(ran_tests("").is_empty());
    }
}
