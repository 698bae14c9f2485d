//! Property test: whatever mix of new batches, retries, gaps, stale and new
//! epochs two producers throw at a partition, its log never holds a
//! sequence twice, never goes backwards in epoch, and keeps each epoch's
//! sequences contiguous; a duplicate answer always points at the original.

use std::collections::HashMap;

use bytes::Bytes;
use kproducer_fake_broker::{
    AppendOutcome, BatchMeta, BehaviourMode, IdempotenceRules, PartitionLog, next_sequence,
};
use proptest::prelude::*;

fn meta(pid: i64, epoch: i16, seq: i32, count: i32) -> BatchMeta {
    BatchMeta {
        producer_id: pid,
        producer_epoch: epoch,
        base_sequence: seq,
        record_count: count,
        is_transactional: false,
        is_control: false,
        max_timestamp: 0,
    }
}

fn arb_batch() -> impl Strategy<Value = (i64, i16, i32, i32)> {
    (1i64..=2, 0i16..=2, 0i32..=8, 1i32..=3)
}

fn arb_mode() -> impl Strategy<Value = BehaviourMode> {
    prop_oneof![
        Just(BehaviourMode::Pre2_5),
        Just(BehaviourMode::Pre4_5),
        Just(BehaviourMode::Kafka4_5)
    ]
}

proptest! {
    // A fixed seed keeps runs reproducible; a failure prints the minimal
    // batch list, which is the whole input.
    #![proptest_config(ProptestConfig {
        cases: 512,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x6b70_726f),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_log_stays_consistent(mode in arb_mode(), batches in prop::collection::vec(arb_batch(), 1..60)) {
        let rules = IdempotenceRules { mode, legacy_duplicate_error: false };
        let mut log = PartitionLog::new();
        for &(pid, epoch, seq, count) in &batches {
            let m = meta(pid, epoch, seq, count);
            if let AppendOutcome::Duplicate { base_offset } = log.append(m, Bytes::new(), rules) {
                let original = log.batches().find(|b| b.base_offset == base_offset);
                prop_assert_eq!(original.map(|b| b.meta), Some(m), "duplicate points at its original");
            }
        }
        // (pid) -> (epoch, next expected sequence)
        let mut last: HashMap<i64, (i16, i32)> = HashMap::new();
        for b in log.batches() {
            let m = b.meta;
            match last.get(&m.producer_id) {
                None => {
                    if mode == BehaviourMode::Kafka4_5 && b.base_offset == 0 {
                        prop_assert_eq!(m.base_sequence, 0, "4.5: the first batch of a fresh partition starts at 0");
                    }
                }
                Some(&(epoch, expected)) => {
                    prop_assert!(m.producer_epoch >= epoch, "epochs never go back: {:?}", batches);
                    if m.producer_epoch == epoch {
                        prop_assert_eq!(m.base_sequence, expected, "contiguous within an epoch: {:?}", batches);
                    } else {
                        prop_assert_eq!(m.base_sequence, 0, "a new epoch starts at 0: {:?}", batches);
                    }
                }
            }
            let last_seq = m.base_sequence + m.record_count - 1;
            last.insert(m.producer_id, (m.producer_epoch, next_sequence(last_seq)));
        }
    }
}
