//! Seeded whole-cluster simulation (`cargo xtask sim`): random clusters,
//! producer configurations, workloads and fault schedules on paused time,
//! each run ending with the log invariants. See `tests/sim/`.
//!
//! `KPRODUCER_SIM_SEED=s` runs seed `s` alone; `KPRODUCER_SIM_SEEDS=n`
//! runs seeds `0..n` (default 300, what CI runs); `KPRODUCER_SIM_FROM=f`
//! starts at seed `f`.

mod sim;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|s| s.parse().ok())
}

/// The seeds CI runs when no variable says otherwise.
const CI_SEEDS: u64 = 300;

#[test]
fn seeded_simulation_keeps_every_invariant() {
    let seeds = match env_u64("KPRODUCER_SIM_SEED") {
        Some(s) => s..s + 1,
        None => {
            let from = env_u64("KPRODUCER_SIM_FROM").unwrap_or(0);
            from..from + env_u64("KPRODUCER_SIM_SEEDS").unwrap_or(CI_SEEDS)
        }
    };
    let count = seeds.end - seeds.start;
    let mut failures = Vec::new();
    let (mut records, mut scale_events, mut retries, mut bumps) = (0, 0, 0, 0);
    let started = std::time::Instant::now();
    for seed in seeds {
        if seed > 0 && seed % 1000 == 0 {
            println!(
                "simulation: seed {seed}, {} failed so far, {:?}",
                failures.len(),
                started.elapsed()
            );
        }
        match sim::check_seed(seed) {
            Ok(m) => {
                records += m.records_sent + m.records_failed;
                scale_events += m.scale_events;
                retries += m.retries;
                bumps += m.epoch_bumps;
            }
            Err(f) => failures.push(f),
        }
    }
    println!(
        "simulation: {count} seeds, {} failed; passing runs: {records} records, {scale_events} width changes, {retries} retries, {bumps} epoch bumps",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "failing seeds:\n{}",
        failures.join("\n")
    );
}

// Seeds that once failed, kept as named regressions (docs/reliability.md).

/// Producer bug, fixed: batch A's response is dropped; the batch after it
/// (B) is written on the same connection, but its outcome is lost with
/// A's, so both wait to be retried, B "maybe written"; A's retry is refused
/// for good (18), and the partition's epoch bump re-sequenced B, which the
/// broker had already written: a duplicate.
#[test]
fn seed_3928_bump_after_a_failed_batch_keeps_a_written_batch_once() {
    sim::check_seed(3928).unwrap();
}

/// The same bug, reached through a connection closed before handling and
/// a broker outage.
#[test]
fn seed_1947_bump_after_a_failed_batch_with_closes_and_outage() {
    sim::check_seed(1947).unwrap();
}

/// The same bug, reached through 7 after append (the batch in doubt) and a
/// 2 on the next attempt.
#[test]
fn seed_11578_bump_after_a_failed_batch_with_7_after_append() {
    sim::check_seed(11578).unwrap();
}

/// Harness: a Delay longer than the time left after close kept the
/// broker's side of a connection open; the teardown check now waits past
/// the longest Delay.
#[test]
fn seed_2866_broker_delay_outlives_close() {
    sim::check_seed(2866).unwrap();
}

// The following failed while the invariants were being calibrated: each
// was a legitimate outcome the first invariants misread.

/// A Delay longer than `request.timeout.ms`: the retry went ahead on
/// another connection, and the broker answered the stale original with 45
/// after it left the duplicate cache. Nobody reads that answer.
#[test]
fn seed_273_stale_request_answered_45_after_its_timeout() {
    sim::check_seed(273).unwrap();
}

/// A retriable error before append on a batch with others in flight: the
/// broker answers them 45 as collateral (fault-scenarios.md 3) and the
/// producer retries them in order.
#[test]
fn seed_256_collateral_45_behind_a_refused_batch() {
    sim::check_seed(256).unwrap();
}

/// Producer-state expiry while a batch's response was lost: the broker can
/// no longer deduplicate the retry.
#[test]
fn seed_134_expiry_with_a_batch_in_doubt() {
    sim::check_seed(134).unwrap();
}

/// Expiry after a dropped 87: the broker accepted a batch that skipped the
/// one in doubt, so that partition's order is the schedule's doing.
#[test]
fn seed_238_expiry_lets_a_later_batch_overtake() {
    sim::check_seed(238).unwrap();
}

/// Schedule artefact: 10 injected on the retry of a batch the broker had
/// written made the producer split it and write its records again. A real
/// broker cannot answer 10 to bytes it accepted; the schedule no longer
/// injects 10.
#[test]
fn seed_11694_no_message_too_large_on_a_written_batch() {
    sim::check_seed(11694).unwrap();
}
