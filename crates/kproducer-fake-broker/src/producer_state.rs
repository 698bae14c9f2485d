//! Kafka's idempotence rules for one partition, as a pure state machine.
//!
//! For every producer id that wrote to a partition the broker remembers the
//! producer's epoch and its last [`BATCHES_RETAINED`] batches. An incoming
//! batch is checked against that memory and the checker answers with a
//! [`SequenceDecision`]; only after the caller has appended the batch does it
//! tell the state about it with [`ProducerStates::record_append`]. No I/O, no
//! clock: tests drive it with plain values.
//!
//! # The rules, in the order they are applied
//!
//! 1. A batch without a producer id (`-1`) is not checked.
//! 2. **Duplicate**: the epoch equals the stored epoch and `(base_seq,
//!    last_seq)` equals one of the cached batches exactly → answer success
//!    with that batch's original base offset and append nothing (brokers
//!    before 2.0 answered 46 `DUPLICATE_SEQUENCE_NUMBER`; the
//!    `legacy_duplicate_error` switch reproduces that).
//! 3. **Stale epoch**: the epoch is lower than the stored one → 47
//!    `INVALID_PRODUCER_EPOCH`.
//! 4. **No state** for this producer on this partition (never wrote, or its
//!    state expired or was removed because the log start offset passed its
//!    last batch): any sequence is accepted ([`BehaviourMode::Pre4_5`]); in
//!    [`BehaviourMode::Kafka4_5`] only sequence 0 is accepted on a partition
//!    that never held records, anything else is 45; in
//!    [`BehaviourMode::Pre2_5`] anything but sequence 0 is 59
//!    `UNKNOWN_PRODUCER_ID`.
//! 5. **New epoch** (higher than the stored one): the batch must start at
//!    sequence 0, else 45 `OUT_OF_ORDER_SEQUENCE_NUMBER`. Accepting it clears
//!    the cache.
//! 6. **Same epoch**: `base_seq` must be `last_seq + 1`, where `i32::MAX` is
//!    followed by 0; else 45. With the epoch known but no batch cached (a
//!    transaction marker bumped it) the next batch must start at 0.
//!
//! # What about 59 `UNKNOWN_PRODUCER_ID`?
//!
//! Apache Kafka since 2.5 (KIP-360) no longer raises it from the append path:
//! `ProducerAppendInfo.checkSequence` accepts any sequence when the producer
//! has no state on the partition, which is rule 4 above. Brokers 2.0–2.4
//! raised 59 for "no state and a non-zero sequence" (the producer's records
//! were removed by retention): [`BehaviourMode::Pre2_5`] reproduces that,
//! and the Produce response then carries the partition's log start offset,
//! which is what a client uses to tell truncation from a lost response. In
//! the other modes the broker never answers 59 on its own; tests script it
//! with a fault plan.
//!
//! # On `Kafka4_5` mode
//!
//! Kafka's own check (`ProducerAppendInfo.checkSequence`, transactions v2
//! producers) rejects a non-zero first sequence whenever the producer has no
//! state on the partition. The project's specification (KAFKA-15591 as
//! summarised in `fault-scenarios.md`) restricts this to partitions that
//! never held records, so that a producer whose state expired on a busy
//! partition keeps going; that is what is implemented here.
//!
//! # References
//! - KIP-98 (idempotent producer), KIP-360 (epoch bump, no 59 on append)
//! - Apache Kafka `ProducerAppendInfo`, `ProducerStateEntry`, `UnifiedLog`

use std::collections::{HashMap, VecDeque};
use std::fmt;

use kproducer_protocol::ErrorCode;

/// How many of a producer's most recent batches a partition remembers for
/// duplicate detection (Kafka's `ProducerStateEntry.NUM_BATCHES_TO_RETAIN`).
pub const BATCHES_RETAINED: usize = 5;

/// The producer id of a batch written without idempotence.
pub const NO_PRODUCER_ID: i64 = -1;

/// Which Kafka version's behaviour the broker reproduces where they differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BehaviourMode {
    /// Kafka 2.0 up to 2.4: a producer without state on a partition gets 59
    /// `UNKNOWN_PRODUCER_ID` unless it starts at sequence 0.
    Pre2_5,
    /// Kafka 2.5 up to 4.4: a producer without state on a partition may start
    /// at any sequence.
    #[default]
    Pre4_5,
    /// Kafka 4.5 (KAFKA-15591): on a partition that never held records, a
    /// producer without state must start at sequence 0.
    Kafka4_5,
}

/// The switches that change how sequences are judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IdempotenceRules {
    /// Which Kafka version's behaviour to reproduce.
    pub mode: BehaviourMode,
    /// Answer duplicates with 46 `DUPLICATE_SEQUENCE_NUMBER` (brokers before
    /// 2.0) instead of success with the original offset.
    pub legacy_duplicate_error: bool,
}

/// The idempotence fields of a batch as it arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IncomingBatch {
    /// The producer id, or [`NO_PRODUCER_ID`].
    pub producer_id: i64,
    /// The producer epoch.
    pub producer_epoch: i16,
    /// The first record's sequence.
    pub base_sequence: i32,
    /// The last record's sequence (wrapped modulo 2^31).
    pub last_sequence: i32,
}

impl IncomingBatch {
    /// A batch of `record_count` records starting at `base_sequence`; the
    /// last sequence wraps past `i32::MAX` to 0, as Kafka's does.
    ///
    /// ```
    /// use kproducer_fake_broker::IncomingBatch;
    /// let b = IncomingBatch::new(7, 0, i32::MAX - 1, 4);
    /// assert_eq!(b.last_sequence, 1);
    /// ```
    pub fn new(
        producer_id: i64,
        producer_epoch: i16,
        base_sequence: i32,
        record_count: i32,
    ) -> Self {
        Self {
            producer_id,
            producer_epoch,
            base_sequence,
            last_sequence: add_sequence(base_sequence, record_count.max(1) - 1),
        }
    }
}

/// `seq + delta` modulo 2^31, as Kafka's `DefaultRecordBatch.incrementSequence`.
pub fn add_sequence(seq: i32, delta: i32) -> i32 {
    let modulus = i64::from(i32::MAX) + 1;
    let sum = (i64::from(seq) + i64::from(delta)).rem_euclid(modulus);
    // `rem_euclid` by 2^31 leaves a value in 0..2^31, which fits in i32.
    i32::try_from(sum).unwrap_or(0)
}

/// The sequence Kafka expects after `last_sequence`.
pub fn next_sequence(last_sequence: i32) -> i32 {
    add_sequence(last_sequence, 1)
}

/// What to do with an incoming batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceDecision {
    /// Append it.
    Append,
    /// Already in the log: answer success with the original base offset and
    /// append nothing.
    Duplicate {
        /// The base offset the batch got the first time.
        original_base_offset: i64,
    },
    /// Refuse it with an error code.
    Reject(RejectReason),
}

/// Why a batch was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// A duplicate, answered the pre-2.0 way (46).
    LegacyDuplicate {
        /// The base offset the batch got the first time.
        original_base_offset: i64,
    },
    /// The epoch is older than the one the partition knows (47).
    StaleEpoch {
        /// The batch's epoch.
        incoming: i16,
        /// The partition's epoch for this producer.
        current: i16,
    },
    /// A higher epoch that does not start at sequence 0 (45).
    NewEpochNotAtZero {
        /// The batch's first sequence.
        base_sequence: i32,
    },
    /// Same epoch, but not the next sequence (45).
    OutOfOrder {
        /// The sequence the partition expected.
        expected: i32,
        /// The batch's first sequence.
        base_sequence: i32,
    },
    /// No state on a partition that never held records, and the batch does
    /// not start at 0 (45, [`BehaviourMode::Kafka4_5`] only).
    FirstBatchNotAtZero {
        /// The batch's first sequence.
        base_sequence: i32,
    },
    /// No state for this producer and the batch does not start at 0 (59,
    /// [`BehaviourMode::Pre2_5`] only).
    UnknownProducer {
        /// The batch's first sequence.
        base_sequence: i32,
    },
}

impl RejectReason {
    /// The Kafka error code this refusal is answered with.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            RejectReason::LegacyDuplicate { .. } => ErrorCode::DUPLICATE_SEQUENCE_NUMBER,
            RejectReason::StaleEpoch { .. } => ErrorCode::INVALID_PRODUCER_EPOCH,
            RejectReason::UnknownProducer { .. } => ErrorCode::UNKNOWN_PRODUCER_ID,
            RejectReason::NewEpochNotAtZero { .. }
            | RejectReason::OutOfOrder { .. }
            | RejectReason::FirstBatchNotAtZero { .. } => ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejectReason::LegacyDuplicate {
                original_base_offset,
            } => write!(
                f,
                "duplicate of the batch at offset {original_base_offset} (legacy 46)"
            ),
            RejectReason::StaleEpoch { incoming, current } => {
                write!(
                    f,
                    "epoch {incoming} is older than the current epoch {current}"
                )
            }
            RejectReason::NewEpochNotAtZero { base_sequence } => write!(
                f,
                "a new epoch must start at sequence 0, batch starts at {base_sequence}"
            ),
            RejectReason::OutOfOrder {
                expected,
                base_sequence,
            } => write!(
                f,
                "expected sequence {expected}, batch starts at {base_sequence}"
            ),
            RejectReason::FirstBatchNotAtZero { base_sequence } => write!(
                f,
                "no producer state on a partition that never held records: must start at 0, batch starts at {base_sequence}"
            ),
            RejectReason::UnknownProducer { base_sequence } => write!(
                f,
                "no state for this producer (its records may have been removed): must start at 0, batch starts at {base_sequence}"
            ),
        }
    }
}

/// A batch a partition remembers for duplicate detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachedBatch {
    /// The first sequence.
    pub base_sequence: i32,
    /// The last sequence.
    pub last_sequence: i32,
    /// The offset its first record got.
    pub base_offset: i64,
    /// The offset its last record got.
    pub last_offset: i64,
}

/// What a partition knows about one producer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProducerEntry {
    /// The latest epoch seen.
    pub epoch: i16,
    /// Up to [`BATCHES_RETAINED`] batches of that epoch, oldest first.
    pub batches: VecDeque<CachedBatch>,
}

impl ProducerEntry {
    /// The last sequence appended in the current epoch, if any.
    pub fn last_sequence(&self) -> Option<i32> {
        self.batches.back().map(|b| b.last_sequence)
    }

    /// The last offset written by this producer, if any batch is cached.
    pub fn last_offset(&self) -> Option<i64> {
        self.batches.back().map(|b| b.last_offset)
    }
}

/// Every producer's state on one partition.
#[derive(Debug, Clone, Default)]
pub struct ProducerStates {
    entries: HashMap<i64, ProducerEntry>,
}

impl ProducerStates {
    /// Empty: no producer has written.
    pub fn new() -> Self {
        Self::default()
    }

    /// Judges `batch`. `partition_ever_held_records` is whether any record was
    /// ever appended to this partition (only [`BehaviourMode::Kafka4_5`]
    /// looks at it).
    ///
    /// ```
    /// use kproducer_fake_broker::{IdempotenceRules, IncomingBatch, ProducerStates, SequenceDecision};
    /// let mut states = ProducerStates::new();
    /// let rules = IdempotenceRules::default();
    /// let first = IncomingBatch::new(1, 0, 0, 3);
    /// assert_eq!(states.check(&first, rules, false), SequenceDecision::Append);
    /// states.record_append(&first, 0);
    /// // The same batch again is a duplicate of offset 0.
    /// assert_eq!(
    ///     states.check(&first, rules, true),
    ///     SequenceDecision::Duplicate { original_base_offset: 0 }
    /// );
    /// // Skipping ahead is refused with 45.
    /// let gap = IncomingBatch::new(1, 0, 5, 1);
    /// assert!(matches!(states.check(&gap, rules, true), SequenceDecision::Reject(r) if r.error_code().as_i16() == 45));
    /// ```
    pub fn check(
        &self,
        batch: &IncomingBatch,
        rules: IdempotenceRules,
        partition_ever_held_records: bool,
    ) -> SequenceDecision {
        if batch.producer_id == NO_PRODUCER_ID {
            return SequenceDecision::Append;
        }
        let Some(entry) = self.entries.get(&batch.producer_id) else {
            let base_sequence = batch.base_sequence;
            return match rules.mode {
                _ if base_sequence == 0 => SequenceDecision::Append,
                BehaviourMode::Pre2_5 => {
                    SequenceDecision::Reject(RejectReason::UnknownProducer { base_sequence })
                }
                BehaviourMode::Kafka4_5 if !partition_ever_held_records => {
                    SequenceDecision::Reject(RejectReason::FirstBatchNotAtZero { base_sequence })
                }
                BehaviourMode::Pre4_5 | BehaviourMode::Kafka4_5 => SequenceDecision::Append,
            };
        };
        if batch.producer_epoch == entry.epoch {
            let cached = entry.batches.iter().find(|c| {
                c.base_sequence == batch.base_sequence && c.last_sequence == batch.last_sequence
            });
            if let Some(c) = cached {
                return if rules.legacy_duplicate_error {
                    SequenceDecision::Reject(RejectReason::LegacyDuplicate {
                        original_base_offset: c.base_offset,
                    })
                } else {
                    SequenceDecision::Duplicate {
                        original_base_offset: c.base_offset,
                    }
                };
            }
        }
        if batch.producer_epoch < entry.epoch {
            return SequenceDecision::Reject(RejectReason::StaleEpoch {
                incoming: batch.producer_epoch,
                current: entry.epoch,
            });
        }
        if batch.producer_epoch > entry.epoch {
            return if batch.base_sequence == 0 {
                SequenceDecision::Append
            } else {
                SequenceDecision::Reject(RejectReason::NewEpochNotAtZero {
                    base_sequence: batch.base_sequence,
                })
            };
        }
        let expected = entry.last_sequence().map_or(0, next_sequence);
        if batch.base_sequence == expected {
            SequenceDecision::Append
        } else {
            SequenceDecision::Reject(RejectReason::OutOfOrder {
                expected,
                base_sequence: batch.base_sequence,
            })
        }
    }

    /// Remembers that `batch` was appended at `base_offset` (its records took
    /// consecutive offsets). A higher epoch replaces the cache; the oldest
    /// batch falls out past [`BATCHES_RETAINED`].
    pub fn record_append(&mut self, batch: &IncomingBatch, base_offset: i64) {
        if batch.producer_id == NO_PRODUCER_ID {
            return;
        }
        let span = i64::from(batch.last_sequence) - i64::from(batch.base_sequence);
        let span = if span < 0 {
            span + i64::from(i32::MAX) + 1
        } else {
            span
        };
        let entry = self.entries.entry(batch.producer_id).or_default();
        if entry.epoch != batch.producer_epoch {
            entry.epoch = batch.producer_epoch;
            entry.batches.clear();
        }
        entry.batches.push_back(CachedBatch {
            base_sequence: batch.base_sequence,
            last_sequence: batch.last_sequence,
            base_offset,
            last_offset: base_offset + span,
        });
        while entry.batches.len() > BATCHES_RETAINED {
            entry.batches.pop_front();
        }
    }

    /// Records a transaction marker written by `producer_id` at `epoch`: a
    /// different epoch replaces the producer's state (its next batch must
    /// start at 0), as Kafka's `appendEndTxnMarker` does.
    pub fn record_marker(&mut self, producer_id: i64, epoch: i16) {
        let entry = self.entries.entry(producer_id).or_default();
        if epoch != entry.epoch {
            entry.epoch = epoch;
            entry.batches.clear();
        }
    }

    /// Forgets `producer_id`, as Kafka does when its state expires
    /// (`producer.id.expiration.ms`). Returns whether there was state.
    pub fn expire(&mut self, producer_id: i64) -> bool {
        self.entries.remove(&producer_id).is_some()
    }

    /// Forgets every producer whose last batch ends before `log_start_offset`
    /// (Kafka drops such state when retention or DeleteRecords moves the log
    /// start past it).
    pub fn remove_before(&mut self, log_start_offset: i64) {
        self.entries
            .retain(|_, e| e.last_offset().is_some_and(|o| o >= log_start_offset));
    }

    /// The state for `producer_id`, if any.
    pub fn entry(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.entries.get(&producer_id)
    }
}

#[cfg(test)]
#[path = "producer_state_tests.rs"]
mod tests;
