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
    for seed in seeds {
        if let Err(f) = sim::check_seed(seed) {
            failures.push(f);
        }
    }
    println!("simulation: {count} seeds, {} failed", failures.len());
    assert!(
        failures.is_empty(),
        "failing seeds:\n{}",
        failures.join("\n")
    );
}
