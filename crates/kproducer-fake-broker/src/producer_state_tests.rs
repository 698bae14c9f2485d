//! One row per idempotence rule: the partition's history, the incoming batch,
//! the switches, and the decision Kafka makes.

use super::*;

const PRE: IdempotenceRules = IdempotenceRules {
    mode: BehaviourMode::Pre4_5,
    legacy_duplicate_error: false,
};
const V45: IdempotenceRules = IdempotenceRules {
    mode: BehaviourMode::Kafka4_5,
    legacy_duplicate_error: false,
};
const V20: IdempotenceRules = IdempotenceRules {
    mode: BehaviourMode::Pre2_5,
    legacy_duplicate_error: false,
};
const LEGACY: IdempotenceRules = IdempotenceRules {
    mode: BehaviourMode::Pre4_5,
    legacy_duplicate_error: true,
};

/// A batch already appended: (producer id, epoch, base seq, record count, base offset).
type Appended = (i64, i16, i32, i32, i64);

struct Row {
    name: &'static str,
    rules: IdempotenceRules,
    ever_held_records: bool,
    history: &'static [Appended],
    /// (producer id, epoch, base seq, record count)
    incoming: (i64, i16, i32, i32),
    expect: SequenceDecision,
}

fn out_of_order(expected: i32, base_sequence: i32) -> SequenceDecision {
    SequenceDecision::Reject(RejectReason::OutOfOrder {
        expected,
        base_sequence,
    })
}

const MAX: i32 = i32::MAX;

fn rows() -> Vec<Row> {
    use SequenceDecision::*;
    vec![
        Row {
            name: "no producer id is never checked",
            rules: V45,
            ever_held_records: false,
            history: &[],
            incoming: (-1, -1, -1, 10),
            expect: Append,
        },
        Row {
            name: "no state, sequence 0",
            rules: PRE,
            ever_held_records: false,
            history: &[],
            incoming: (1, 0, 0, 1),
            expect: Append,
        },
        Row {
            name: "no state, any sequence (pre 4.5)",
            rules: PRE,
            ever_held_records: false,
            history: &[],
            incoming: (1, 0, 42, 1),
            expect: Append,
        },
        Row {
            name: "no state, non-zero on a fresh partition (4.5)",
            rules: V45,
            ever_held_records: false,
            history: &[],
            incoming: (1, 0, 42, 1),
            expect: Reject(RejectReason::FirstBatchNotAtZero { base_sequence: 42 }),
        },
        Row {
            name: "no state, zero on a fresh partition (4.5)",
            rules: V45,
            ever_held_records: false,
            history: &[],
            incoming: (1, 0, 0, 1),
            expect: Append,
        },
        Row {
            name: "no state, non-zero on a partition that held records (4.5)",
            rules: V45,
            ever_held_records: true,
            history: &[(2, 0, 0, 5, 0)],
            incoming: (1, 3, 42, 1),
            expect: Append,
        },
        Row {
            name: "no state, non-zero (2.0-2.4) is unknown producer",
            rules: V20,
            ever_held_records: true,
            history: &[(2, 0, 0, 5, 0)],
            incoming: (1, 0, 42, 1),
            expect: Reject(RejectReason::UnknownProducer { base_sequence: 42 }),
        },
        Row {
            name: "no state, zero (2.0-2.4)",
            rules: V20,
            ever_held_records: true,
            history: &[],
            incoming: (1, 3, 0, 1),
            expect: Append,
        },
        Row {
            name: "next sequence",
            rules: PRE,
            ever_held_records: true,
            history: &[(1, 0, 0, 3, 0)],
            incoming: (1, 0, 3, 2),
            expect: Append,
        },
        Row {
            name: "gap",
            rules: PRE,
            ever_held_records: true,
            history: &[(1, 0, 0, 3, 0)],
            incoming: (1, 0, 4, 1),
            expect: out_of_order(3, 4),
        },
        Row {
            name: "older sequence that is not an exact retry",
            rules: PRE,
            ever_held_records: true,
            history: &[(1, 0, 0, 3, 0), (1, 0, 3, 3, 3)],
            incoming: (1, 0, 1, 2),
            expect: out_of_order(6, 1),
        },
        Row {
            name: "exact retry of the last batch is a duplicate",
            rules: PRE,
            ever_held_records: true,
            history: &[(1, 0, 0, 3, 10), (1, 0, 3, 3, 13)],
            incoming: (1, 0, 3, 3),
            expect: Duplicate {
                original_base_offset: 13,
            },
        },
        Row {
            name: "exact retry of the oldest of five cached batches",
            rules: PRE,
            ever_held_records: true,
            history: &[
                (1, 0, 0, 1, 0),
                (1, 0, 1, 1, 1),
                (1, 0, 2, 1, 2),
                (1, 0, 3, 1, 3),
                (1, 0, 4, 1, 4),
            ],
            incoming: (1, 0, 0, 1),
            expect: Duplicate {
                original_base_offset: 0,
            },
        },
        Row {
            name: "a sixth batch pushes the oldest out of the cache",
            rules: PRE,
            ever_held_records: true,
            history: &[
                (1, 0, 0, 1, 0),
                (1, 0, 1, 1, 1),
                (1, 0, 2, 1, 2),
                (1, 0, 3, 1, 3),
                (1, 0, 4, 1, 4),
                (1, 0, 5, 1, 5),
            ],
            incoming: (1, 0, 0, 1),
            expect: out_of_order(6, 0),
        },
        Row {
            name: "duplicate answered with 46 under the legacy switch",
            rules: LEGACY,
            ever_held_records: true,
            history: &[(1, 0, 0, 3, 7)],
            incoming: (1, 0, 0, 3),
            expect: Reject(RejectReason::LegacyDuplicate {
                original_base_offset: 7,
            }),
        },
        Row {
            name: "same base, different last sequence is not a duplicate",
            rules: PRE,
            ever_held_records: true,
            history: &[(1, 0, 0, 3, 0)],
            incoming: (1, 0, 0, 2),
            expect: out_of_order(3, 0),
        },
        Row {
            name: "stale epoch",
            rules: PRE,
            ever_held_records: true,
            history: &[(1, 2, 0, 1, 0)],
            incoming: (1, 1, 1, 1),
            expect: Reject(RejectReason::StaleEpoch {
                incoming: 1,
                current: 2,
            }),
        },
        Row {
            name: "stale epoch even for what would be a retry of an older epoch",
            rules: PRE,
            ever_held_records: true,
            history: &[(1, 1, 0, 1, 0), (1, 2, 0, 1, 1)],
            incoming: (1, 1, 0, 1),
            expect: Reject(RejectReason::StaleEpoch {
                incoming: 1,
                current: 2,
            }),
        },
        Row {
            name: "higher epoch at sequence 0",
            rules: PRE,
            ever_held_records: true,
            history: &[(1, 0, 0, 10, 0)],
            incoming: (1, 1, 0, 1),
            expect: Append,
        },
        Row {
            name: "higher epoch not at sequence 0",
            rules: PRE,
            ever_held_records: true,
            history: &[(1, 0, 0, 10, 0)],
            incoming: (1, 1, 10, 1),
            expect: Reject(RejectReason::NewEpochNotAtZero { base_sequence: 10 }),
        },
        Row {
            name: "accepting a higher epoch clears the cache",
            rules: PRE,
            ever_held_records: true,
            history: &[(1, 0, 0, 1, 0), (1, 1, 0, 1, 1)],
            incoming: (1, 1, 1, 1),
            expect: Append,
        },
        Row {
            name: "sequence wraps from i32::MAX to 0",
            rules: PRE,
            ever_held_records: true,
            history: &[(1, 0, MAX - 2, 3, 0)],
            incoming: (1, 0, 0, 1),
            expect: Append,
        },
        Row {
            name: "after a wrap, i32::MAX + 1 is not a sequence",
            rules: PRE,
            ever_held_records: true,
            history: &[(1, 0, MAX - 2, 3, 0)],
            incoming: (1, 0, 1, 1),
            expect: out_of_order(0, 1),
        },
        Row {
            name: "a batch spanning the wrap is followed by its last + 1",
            rules: PRE,
            ever_held_records: true,
            history: &[(1, 0, MAX - 1, 4, 0)],
            incoming: (1, 0, 2, 1),
            expect: Append,
        },
        Row {
            name: "a retry of a batch spanning the wrap is a duplicate",
            rules: PRE,
            ever_held_records: true,
            history: &[(1, 0, MAX - 1, 4, 20)],
            incoming: (1, 0, MAX - 1, 4),
            expect: Duplicate {
                original_base_offset: 20,
            },
        },
        Row {
            name: "producers are independent",
            rules: PRE,
            ever_held_records: true,
            history: &[(1, 0, 0, 5, 0), (2, 0, 0, 1, 5)],
            incoming: (2, 0, 1, 1),
            expect: Append,
        },
    ]
}

#[test]
fn every_rule() {
    for row in rows() {
        let mut states = ProducerStates::new();
        for &(pid, epoch, base, count, offset) in row.history {
            let b = IncomingBatch::new(pid, epoch, base, count);
            states.record_append(&b, offset);
        }
        let (pid, epoch, base, count) = row.incoming;
        let got = states.check(
            &IncomingBatch::new(pid, epoch, base, count),
            row.rules,
            row.ever_held_records,
        );
        assert_eq!(got, row.expect, "rule: {}", row.name);
    }
}

#[test]
fn error_codes_match_kafka() {
    assert_eq!(
        RejectReason::LegacyDuplicate {
            original_base_offset: 0
        }
        .error_code()
        .as_i16(),
        46
    );
    assert_eq!(
        RejectReason::StaleEpoch {
            incoming: 0,
            current: 1
        }
        .error_code()
        .as_i16(),
        47
    );
    assert_eq!(
        RejectReason::NewEpochNotAtZero { base_sequence: 1 }
            .error_code()
            .as_i16(),
        45
    );
    assert_eq!(
        RejectReason::OutOfOrder {
            expected: 1,
            base_sequence: 2
        }
        .error_code()
        .as_i16(),
        45
    );
    assert_eq!(
        RejectReason::UnknownProducer { base_sequence: 1 }
            .error_code()
            .as_i16(),
        59
    );
    assert_eq!(
        RejectReason::FirstBatchNotAtZero { base_sequence: 1 }
            .error_code()
            .as_i16(),
        45
    );
}

#[test]
fn expiry_forgets_the_producer() {
    let mut states = ProducerStates::new();
    states.record_append(&IncomingBatch::new(1, 0, 0, 5), 0);
    assert!(states.expire(1));
    assert!(!states.expire(1));
    // Pre 4.5: any sequence is accepted again.
    let next = IncomingBatch::new(1, 0, 17, 1);
    assert_eq!(states.check(&next, PRE, true), SequenceDecision::Append);
}

#[test]
fn log_start_offset_past_the_last_batch_removes_state() {
    let mut states = ProducerStates::new();
    states.record_append(&IncomingBatch::new(1, 0, 0, 5), 0); // offsets 0..=4
    states.record_append(&IncomingBatch::new(2, 0, 0, 5), 5); // offsets 5..=9
    states.remove_before(5);
    assert!(states.entry(1).is_none());
    assert!(states.entry(2).is_some());
    states.remove_before(10);
    assert!(states.entry(2).is_none());
}

#[test]
fn marker_with_a_new_epoch_restarts_sequences_at_zero() {
    let mut states = ProducerStates::new();
    states.record_append(&IncomingBatch::new(1, 0, 0, 5), 0);
    states.record_marker(1, 1);
    let zero = IncomingBatch::new(1, 1, 0, 1);
    let five = IncomingBatch::new(1, 1, 5, 1);
    assert_eq!(states.check(&zero, PRE, true), SequenceDecision::Append);
    assert_eq!(states.check(&five, PRE, true), out_of_order(0, 5));
}

#[test]
fn sequence_arithmetic_wraps_modulo_2_pow_31() {
    assert_eq!(next_sequence(0), 1);
    assert_eq!(next_sequence(i32::MAX), 0);
    assert_eq!(add_sequence(i32::MAX - 1, 3), 1);
    assert_eq!(IncomingBatch::new(1, 0, 5, 0).last_sequence, 5);
}

#[test]
fn cached_batches_record_offsets_across_a_wrap() {
    let mut states = ProducerStates::new();
    states.record_append(&IncomingBatch::new(1, 0, i32::MAX - 1, 4), 100);
    let entry = states.entry(1).expect("state after an append");
    assert_eq!(entry.last_offset(), Some(103));
    assert_eq!(entry.last_sequence(), Some(1));
}
