//! A fuzzed broker: a real `kproducer::Producer` sends a few records through
//! a broker whose every response the input may pass, change, replace, cut,
//! delay, withhold, or turn into a closed connection (format and invariants:
//! `fuzz/src/scripted_broker.rs`). Any bytes in response to any request must
//! yield typed errors: no panic on any task, no hang (virtual time is bounded),
//! no task left behind, no allocation over `cargo xtask fuzz`'s limit.
//!
//! Seeds: `fuzz/seeds/producer_responses/`, well-formed conversations.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../src/scripted_broker.rs"]
#[allow(dead_code)]
mod scripted_broker;

fuzz_target!(|data: &[u8]| {
    // Inputs longer than a conversation add nothing but time.
    if data.len() > 4096 {
        return;
    }
    scripted_broker::run(data);
});
