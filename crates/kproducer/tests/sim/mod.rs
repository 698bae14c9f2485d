//! Seeded whole-cluster simulation: each seed draws a cluster, a producer
//! configuration, a workload and a fault schedule ([`plan`]), runs them on
//! paused time ([`run`]) and checks the invariants ([`invariants`]); a
//! failing seed is shrunk to a minimal schedule ([`shrink`]).

#![allow(unreachable_pub)]
pub mod invariants;
pub mod plan;
pub mod run;
pub mod shrink;

use kproducer::ProducerMetrics;
use plan::Plan;

/// Runs `seed`; on failure shrinks it, prints the seed, a reproduction
/// command and the minimal schedule, and returns the failure.
pub fn check_seed(seed: u64) -> Result<ProducerMetrics, String> {
    let plan = Plan::from_seed(seed);
    let failure = match run::run(&plan) {
        Ok(metrics) => return Ok(metrics),
        Err(f) => f,
    };
    eprintln!("seed {seed} FAILED: {failure}");
    eprintln!("reproduce: cargo xtask sim --seed {seed}");
    let (minimal, minimal_failure) = shrink::shrink(plan.clone(), failure.clone());
    eprintln!(
        "shrunk from {} to {} faults ({minimal_failure}):",
        plan.faults.len(),
        minimal.faults.len()
    );
    for f in &minimal.faults {
        eprintln!("  {f}");
    }
    Err(format!("seed {seed}: {failure}"))
}
