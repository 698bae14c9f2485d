//! One partition's log: batches as received, offsets, producer state and
//! open transactions.
//!
//! Batches are stored as the raw bytes the client sent plus the few header
//! fields the broker needs ([`BatchMeta`]); records are decoded only when a
//! test inspects them, so appending stays cheap enough for benchmarks. The
//! base offset a batch is given is kept beside the bytes and written into a
//! copy when the batch is read back.

use std::collections::{BTreeMap, VecDeque};

use bytes::{Bytes, BytesMut};

use crate::producer_state::{IdempotenceRules, IncomingBatch, ProducerStates, SequenceDecision};
use crate::producer_state::{NO_PRODUCER_ID, RejectReason};

/// The header fields of a record batch the broker acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMeta {
    /// Producer id, or -1 without idempotence.
    pub producer_id: i64,
    /// Producer epoch.
    pub producer_epoch: i16,
    /// First record's sequence.
    pub base_sequence: i32,
    /// Number of offsets the batch spans (`last_offset_delta + 1`).
    pub record_count: i32,
    /// Part of a transaction.
    pub is_transactional: bool,
    /// A control batch (transaction marker).
    pub is_control: bool,
    /// The batch's max timestamp.
    pub max_timestamp: i64,
}

impl BatchMeta {
    /// The fields the idempotence rules look at.
    pub fn incoming(&self) -> IncomingBatch {
        IncomingBatch::new(
            self.producer_id,
            self.producer_epoch,
            self.base_sequence,
            self.record_count,
        )
    }
}

/// A batch in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBatch {
    /// The offset of its first record.
    pub base_offset: i64,
    /// Its header fields.
    pub meta: BatchMeta,
    /// The bytes as the client sent them (base offset not rewritten).
    pub raw: Bytes,
}

impl StoredBatch {
    /// The offset of its last record.
    pub fn last_offset(&self) -> i64 {
        self.base_offset + i64::from(self.meta.record_count.max(1)) - 1
    }

    /// The batch bytes with the base offset the log gave it, as a fetch
    /// returns them.
    pub fn bytes_with_offset(&self) -> Bytes {
        if self.raw.len() < 8 {
            return self.raw.clone();
        }
        let mut copy = BytesMut::from(&self.raw[..]);
        copy[..8].copy_from_slice(&self.base_offset.to_be_bytes());
        copy.freeze()
    }
}

/// What happened to an appended batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOutcome {
    /// Written at `base_offset`.
    Appended {
        /// The offset its first record got.
        base_offset: i64,
    },
    /// A retry of a batch already in the log; nothing written.
    Duplicate {
        /// The offset the original got.
        base_offset: i64,
    },
    /// Refused by the idempotence rules.
    Rejected(RejectReason),
}

/// How a partition's log is bounded (Kafka's `retention.bytes`, enforced on
/// every append rather than by a background cleaner).
///
/// ```
/// use kproducer_fake_broker::Retention;
/// let unbounded = Retention::default();
/// assert_eq!(unbounded.max_bytes, None);
/// assert!(unbounded.keeps_producer_state);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Most batch bytes a partition holds, or `None` for no bound. The
    /// newest batch always stays, even when it alone is larger.
    pub max_bytes: Option<usize>,
    /// Whether producers keep their idempotence state when retention drops
    /// their batches (Kafka 2.5+, KIP-360); `false` drops the state of
    /// producers whose last batch went, as brokers before 2.5 did.
    pub keeps_producer_state: bool,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            max_bytes: None,
            keeps_producer_state: true,
        }
    }
}

/// A transaction that was aborted, for read-committed fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    /// The producer that aborted.
    pub producer_id: i64,
    /// The transaction's first offset in this partition.
    pub first_offset: i64,
    /// The offset of the abort marker.
    pub last_offset: i64,
}

/// One partition's log.
#[derive(Debug, Clone, Default)]
pub struct PartitionLog {
    batches: VecDeque<StoredBatch>,
    log_start_offset: i64,
    log_end_offset: i64,
    ever_held_records: bool,
    producers: ProducerStates,
    open_txns: BTreeMap<i64, i64>,
    aborted: Vec<AbortedTxn>,
    bytes: usize,
    retention: Retention,
}

impl PartitionLog {
    /// An empty log starting at offset 0, never trimmed.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty log starting at offset 0, trimmed after each append as
    /// `retention` says.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use kproducer_fake_broker::{BatchMeta, IdempotenceRules, PartitionLog, Retention};
    ///
    /// let mut log = PartitionLog::with_retention(Retention { max_bytes: Some(100), ..Retention::default() });
    /// let meta = BatchMeta {
    ///     producer_id: -1, producer_epoch: -1, base_sequence: -1, record_count: 1,
    ///     is_transactional: false, is_control: false, max_timestamp: 0,
    /// };
    /// for _ in 0..5 {
    ///     log.append(meta, Bytes::from(vec![0; 40]), IdempotenceRules::default());
    /// }
    /// assert_eq!(log.size_bytes(), 80); // two batches of 40 fit in 100
    /// assert_eq!(log.log_start_offset(), 3);
    /// assert_eq!(log.log_end_offset(), 5);
    /// ```
    pub fn with_retention(retention: Retention) -> Self {
        Self {
            retention,
            ..Self::default()
        }
    }

    /// Judges and, when accepted, appends a data batch.
    pub fn append(
        &mut self,
        meta: BatchMeta,
        raw: Bytes,
        rules: IdempotenceRules,
    ) -> AppendOutcome {
        let incoming = meta.incoming();
        match self
            .producers
            .check(&incoming, rules, self.ever_held_records)
        {
            SequenceDecision::Append => {}
            SequenceDecision::Duplicate {
                original_base_offset,
            } => {
                return AppendOutcome::Duplicate {
                    base_offset: original_base_offset,
                };
            }
            SequenceDecision::Reject(reason) => return AppendOutcome::Rejected(reason),
        }
        let base_offset = self.push(meta, raw);
        self.producers.record_append(&incoming, base_offset);
        if meta.is_transactional && meta.producer_id != NO_PRODUCER_ID {
            self.open_txns
                .entry(meta.producer_id)
                .or_insert(base_offset);
        }
        AppendOutcome::Appended { base_offset }
    }

    /// Appends a transaction marker (control batch) for `producer_id`,
    /// closing its open transaction. Returns the marker's offset.
    pub fn append_marker(&mut self, meta: BatchMeta, raw: Bytes, commit: bool) -> i64 {
        let offset = self.push(meta, raw);
        self.producers
            .record_marker(meta.producer_id, meta.producer_epoch);
        if let Some(first_offset) = self.open_txns.remove(&meta.producer_id)
            && !commit
        {
            self.aborted.push(AbortedTxn {
                producer_id: meta.producer_id,
                first_offset,
                last_offset: offset,
            });
        }
        offset
    }

    fn push(&mut self, meta: BatchMeta, raw: Bytes) -> i64 {
        let base_offset = self.log_end_offset;
        self.bytes += raw.len();
        self.batches.push_back(StoredBatch {
            base_offset,
            meta,
            raw,
        });
        self.log_end_offset += i64::from(meta.record_count.max(1));
        self.ever_held_records = true;
        self.enforce_retention();
        base_offset
    }

    /// Drops the oldest whole batches while the log holds more than the
    /// retention bound, keeping the newest, and moves the log start offset
    /// to the first batch left. Each batch is dropped once, so appends stay
    /// O(1) amortised.
    fn enforce_retention(&mut self) {
        let Some(max) = self.retention.max_bytes else {
            return;
        };
        if self.bytes <= max {
            return;
        }
        while self.bytes > max && self.batches.len() > 1 {
            if let Some(b) = self.batches.pop_front() {
                self.bytes -= b.raw.len();
            }
        }
        // At least one batch is left (the loop stops at one), so there is a
        // front; the log start never moves backwards.
        let start = self
            .batches
            .front()
            .map_or(self.log_end_offset, |b| b.base_offset);
        if start <= self.log_start_offset {
            return;
        }
        self.log_start_offset = start;
        if !self.retention.keeps_producer_state {
            self.producers.remove_before(start);
        }
        let gone = self.aborted.partition_point(|a| a.last_offset < start);
        if gone > 0 {
            self.aborted.drain(..gone);
        }
    }

    /// How this log is bounded.
    pub fn retention(&self) -> Retention {
        self.retention
    }

    /// Moves the log start offset forward (as retention or DeleteRecords
    /// would), dropping batches wholly before it and the state of producers
    /// whose last batch lies before it (as brokers before 2.5 did; the
    /// [`Retention`] bound keeps that state unless told otherwise). Returns the new log start offset,
    /// clamped to the log end offset; never moves backwards.
    pub fn advance_log_start_offset(&mut self, offset: i64) -> i64 {
        let offset = offset.min(self.log_end_offset);
        if offset <= self.log_start_offset {
            return self.log_start_offset;
        }
        self.log_start_offset = offset;
        while self
            .batches
            .front()
            .is_some_and(|b| b.last_offset() < offset)
        {
            if let Some(b) = self.batches.pop_front() {
                self.bytes -= b.raw.len();
            }
        }
        self.producers.remove_before(offset);
        self.aborted.retain(|a| a.last_offset >= offset);
        offset
    }

    /// Forgets a producer's state on this partition.
    pub fn expire_producer(&mut self, producer_id: i64) -> bool {
        self.producers.expire(producer_id)
    }

    /// The idempotence state.
    pub fn producers(&self) -> &ProducerStates {
        &self.producers
    }

    /// The first offset still in the log.
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    /// The offset the next record will get.
    pub fn log_end_offset(&self) -> i64 {
        self.log_end_offset
    }

    /// The high watermark. With one replica it equals the log end offset.
    pub fn high_watermark(&self) -> i64 {
        self.log_end_offset
    }

    /// The last stable offset: the first offset of the oldest open
    /// transaction, or the high watermark.
    pub fn last_stable_offset(&self) -> i64 {
        self.open_txns
            .values()
            .copied()
            .min()
            .unwrap_or(self.log_end_offset)
    }

    /// Aborted transactions, oldest first.
    pub fn aborted_transactions(&self) -> &[AbortedTxn] {
        &self.aborted
    }

    /// Every batch still in the log, oldest first.
    pub fn batches(&self) -> impl Iterator<Item = &StoredBatch> {
        self.batches.iter()
    }

    /// Batches holding `offset` or later, oldest first.
    pub fn batches_from(&self, offset: i64) -> impl Iterator<Item = &StoredBatch> {
        let start = self.batches.partition_point(|b| b.last_offset() < offset);
        self.batches.range(start..)
    }

    /// Bytes of batch data held.
    pub fn size_bytes(&self) -> usize {
        self.bytes
    }

    /// Whether any record was ever appended.
    pub fn ever_held_records(&self) -> bool {
        self.ever_held_records
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn raw(n: usize) -> Bytes {
        Bytes::from(vec![0xAB; n])
    }

    #[test]
    fn offsets_are_consecutive_and_duplicates_get_the_original() {
        let rules = IdempotenceRules::default();
        let mut log = PartitionLog::new();
        assert_eq!(
            log.append(meta(1, 0, 0, 3), raw(70), rules),
            AppendOutcome::Appended { base_offset: 0 }
        );
        assert_eq!(
            log.append(meta(1, 0, 3, 2), raw(70), rules),
            AppendOutcome::Appended { base_offset: 3 }
        );
        assert_eq!(
            log.append(meta(1, 0, 0, 3), raw(70), rules),
            AppendOutcome::Duplicate { base_offset: 0 }
        );
        assert_eq!(log.log_end_offset(), 5);
        assert_eq!(log.batches().count(), 2);
        assert_eq!(log.size_bytes(), 140);
    }

    #[test]
    fn read_back_bytes_carry_the_assigned_base_offset() {
        let mut log = PartitionLog::new();
        log.append(meta(-1, -1, -1, 2), raw(70), IdempotenceRules::default());
        log.append(meta(-1, -1, -1, 1), raw(70), IdempotenceRules::default());
        let second = log.batches_from(2).next().expect("batch at offset 2");
        assert_eq!(&second.bytes_with_offset()[..8], &2i64.to_be_bytes());
        assert_eq!(&second.raw[..8], &[0xAB; 8]);
    }

    #[test]
    fn advancing_the_log_start_drops_batches_and_stale_producers() {
        let rules = IdempotenceRules::default();
        let mut log = PartitionLog::new();
        log.append(meta(1, 0, 0, 2), raw(10), rules); // 0..=1
        log.append(meta(2, 0, 0, 2), raw(10), rules); // 2..=3
        assert_eq!(log.advance_log_start_offset(2), 2);
        assert_eq!(log.batches().count(), 1);
        assert!(log.producers().entry(1).is_none());
        assert!(log.producers().entry(2).is_some());
        assert_eq!(log.advance_log_start_offset(1), 2, "never moves back");
        assert_eq!(log.advance_log_start_offset(99), 4, "clamped to the end");
    }

    #[test]
    fn transactions_hold_the_last_stable_offset_and_aborts_are_listed() {
        let rules = IdempotenceRules::default();
        let mut log = PartitionLog::new();
        let txn = BatchMeta {
            is_transactional: true,
            ..meta(5, 0, 0, 2)
        };
        log.append(meta(-1, -1, -1, 1), raw(10), rules);
        log.append(txn, raw(10), rules);
        assert_eq!(log.last_stable_offset(), 1);
        let marker = BatchMeta {
            is_control: true,
            is_transactional: true,
            ..meta(5, 0, -1, 1)
        };
        assert_eq!(log.append_marker(marker, raw(10), false), 3);
        assert_eq!(log.last_stable_offset(), 4);
        assert_eq!(
            log.aborted_transactions(),
            &[AbortedTxn {
                producer_id: 5,
                first_offset: 1,
                last_offset: 3
            }]
        );
    }

    fn bounded(max: usize, keeps_producer_state: bool) -> PartitionLog {
        PartitionLog::with_retention(Retention {
            max_bytes: Some(max),
            keeps_producer_state,
        })
    }

    #[test]
    fn retention_drops_whole_oldest_batches_and_moves_the_start() {
        let rules = IdempotenceRules::default();
        let mut log = bounded(100, true);
        for seq in 0..4 {
            log.append(meta(1, 0, seq * 2, 2), raw(30), rules); // 2 offsets each
        }
        assert_eq!((log.size_bytes(), log.log_start_offset()), (90, 2));
        log.append(meta(1, 0, 8, 2), raw(30), rules);
        assert_eq!((log.size_bytes(), log.log_start_offset()), (90, 4));
        assert_eq!(log.batches().next().map(|b| b.base_offset), Some(4));
        assert_eq!(log.log_end_offset(), 10);
        assert_eq!(log.batches_from(0).next().map(|b| b.base_offset), Some(4));
    }

    #[test]
    fn the_newest_batch_stays_even_when_larger_than_the_bound() {
        let rules = IdempotenceRules::default();
        let mut log = bounded(10, true);
        log.append(meta(1, 0, 0, 3), raw(50), rules);
        log.append(meta(1, 0, 3, 3), raw(50), rules);
        assert_eq!(log.batches().count(), 1);
        assert_eq!((log.log_start_offset(), log.log_end_offset()), (3, 6));
        // The producer's state is intact: the next sequence follows on.
        assert_eq!(
            log.append(meta(1, 0, 6, 1), raw(50), rules),
            AppendOutcome::Appended { base_offset: 6 }
        );
    }

    #[test]
    fn producer_state_outlives_retained_batches_unless_told_otherwise() {
        let rules = IdempotenceRules::default();
        for keeps in [true, false] {
            let mut log = bounded(25, keeps);
            log.append(meta(1, 0, 0, 1), raw(10), rules);
            log.append(meta(2, 0, 0, 1), raw(10), rules);
            log.append(meta(2, 0, 1, 1), raw(10), rules);
            assert_eq!(log.log_start_offset(), 1, "producer 1's batch is gone");
            assert_eq!(log.producers().entry(1).is_some(), keeps);
            assert!(log.producers().entry(2).is_some());
        }
    }

    #[test]
    fn retention_forgets_aborted_transactions_wholly_before_the_start() {
        let rules = IdempotenceRules::default();
        let mut log = bounded(25, true);
        let txn = BatchMeta {
            is_transactional: true,
            ..meta(5, 0, 0, 1)
        };
        let marker = BatchMeta {
            is_control: true,
            is_transactional: true,
            ..meta(5, 0, -1, 1)
        };
        log.append(txn, raw(10), rules);
        log.append_marker(marker, raw(10), false);
        assert_eq!(log.aborted_transactions().len(), 1);
        log.append(meta(-1, -1, -1, 1), raw(10), rules);
        log.append(meta(-1, -1, -1, 1), raw(10), rules);
        assert_eq!(log.log_start_offset(), 2);
        assert!(log.aborted_transactions().is_empty());
    }
}
