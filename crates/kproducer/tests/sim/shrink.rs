//! Shrinking a failing run: drop faults one at a time while the run still
//! fails, until no single fault can be dropped.

use super::plan::Plan;
use super::run::run;

/// The smallest schedule (by one-at-a-time removal) that still fails, and
/// its failure. `failure` is the original run's failure.
pub fn shrink(mut plan: Plan, mut failure: String) -> (Plan, String) {
    let mut i = 0;
    while i < plan.faults.len() {
        let mut candidate = plan.clone();
        candidate.faults.remove(i);
        match run(&candidate) {
            Err(f) => {
                plan = candidate;
                failure = f;
            }
            Ok(_) => i += 1,
        }
    }
    (plan, failure)
}
