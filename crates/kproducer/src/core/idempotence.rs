//! The idempotent producer's bookkeeping: producer id and epoch, and per
//! partition the sequence numbers handed out, acknowledged and in doubt.
//!
//! A pure state machine: the core tells it what happened (a batch is about to
//! be sent, a response or a connection failure arrived, a batch expired) and
//! it answers with decisions (send / wait / reset the partition, complete /
//! retry / fail). No I/O, no clock.
//!
//! The rules follow Kafka's Java producer (`TransactionManager.canRetry`,
//! `Sender.completeBatch`, `RecordAccumulator.shouldStopDrainBatchesForPartition`):
//!
//! - A batch gets its sequence when first sent and keeps it on every retry.
//! - At most `max_in_flight` (≤ 5) batches per partition are outstanding, and
//!   only one until the partition's first acknowledgement under the current
//!   epoch (a new partition's state on the broker is not known yet).
//! - A retried batch is sent only when it is the partition's first
//!   outstanding sequence: retries go one at a time, in order.
//! - A duplicate answer is success. `OUT_OF_ORDER_SEQUENCE_NUMBER` on a batch
//!   that is not the next expected one is collateral damage: retry. On the
//!   next expected one (and no sequence in doubt) it is a real gap: the
//!   idempotent producer bumps its epoch (KIP-360, client side, as Java's
//!   `bumpIdempotentProducerEpoch` does) and the partition restarts at
//!   sequence 0 once nothing of it is in flight.
//! - A batch that expired after it may have been written leaves its sequence
//!   "unresolved": a later batch's success resolves it; if the partition goes
//!   idle with it still unresolved, the epoch is bumped.
//!
//! # References
//! - KIP-98 (idempotent producer), KIP-360 (epoch bumps), KIP-679
//! - Kafka `TransactionManager`, `Sender`, `RecordAccumulator`

use std::collections::VecDeque;
use std::hash::Hash;

use kproducer_protocol::ErrorCode;
use kproducer_protocol::records::increment_sequence;

/// A producer id and epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ProducerIdentity {
    pub(crate) id: i64,
    pub(crate) epoch: i16,
}

/// The sequence identity of one batch: who sent it and from which sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchSequence {
    pub(crate) producer: ProducerIdentity,
    pub(crate) base: i32,
    pub(crate) count: i32,
}

impl BatchSequence {
    /// The batch's last sequence (mod 2^31).
    pub(crate) fn last(&self) -> i32 {
        increment_sequence(self.base, self.count - 1)
    }
}

/// Whether a partition's head batch may be sent now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SendCheck {
    /// Yes (for a new batch: call [`Idempotence::assign`] first).
    Send,
    /// Not now: an ordering rule or a missing producer id.
    Wait,
    /// Not now: the partition already has `max_in_flight` batches
    /// outstanding. The in-flight window is the bottleneck (what adaptive
    /// connections relieve).
    Full,
    /// The producer's epoch changed and nothing of this partition is in
    /// flight: the caller drops the sequences of its queued batches (they
    /// will be assigned again, from 0) and calls
    /// [`Idempotence::reset_partition`].
    Reset,
}

/// What happened to a sent batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The partition's answer carried this code (0 included).
    Answer {
        /// The error code (NONE for success).
        code: ErrorCode,
        /// The partition's log start offset in the answer (-1 unknown).
        log_start_offset: i64,
        /// The batch's base offset in the answer.
        base_offset: i64,
    },
    /// No answer: the connection failed or the request timed out.
    /// `maybe_persisted` when the request may have reached the broker.
    Lost {
        /// Whether the broker may have appended the batch.
        maybe_persisted: bool,
    },
}

/// What to do with a batch after its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Acknowledged: complete its records (a duplicate is acknowledged too).
    Complete,
    /// Send the same batch (same records, same sequence) again after the
    /// retry backoff. `maybe_persisted`: the broker may hold it already, so
    /// it must never be re-sequenced. `refresh_metadata`: the leader may have
    /// moved.
    Retry {
        /// Whether the broker may have appended the batch.
        maybe_persisted: bool,
        /// Whether the partition's leader should be looked up again.
        refresh_metadata: bool,
    },
    /// Fail the batch's records with this code; the producer carries on
    /// (the partition's sequences are repaired with an epoch bump).
    Fail,
    /// Split the batch's records into smaller batches (MESSAGE_TOO_LARGE on a
    /// multi-record batch); the partition's sequences are repaired with an
    /// epoch bump.
    Split,
    /// The producer cannot continue (fenced, authorization): fail everything.
    Fatal,
}

/// One partition's sequences.
#[derive(Debug, Clone)]
struct PartitionSequences {
    /// The identity the partition's sequences belong to.
    producer: ProducerIdentity,
    /// The sequence the partition's first batch got (0 but for a test seam).
    first: i32,
    /// The sequence the next new batch gets.
    next: i32,
    /// The last acknowledged sequence under `producer`.
    last_acked: Option<i32>,
    /// Offset of the last acknowledged record (-1 none).
    last_acked_offset: i64,
    /// Base sequences handed out and not yet done (sent, or waiting for a
    /// retry), in order.
    outstanding: VecDeque<i32>,
    /// How many of `outstanding` are in flight right now.
    sent: usize,
    /// The last sequence of a batch that expired after it may have been
    /// written: resolved by a later batch's success.
    unresolved: Option<i32>,
    /// This partition asked for the epoch bump: at the reset, its queued
    /// batches are re-sequenced (they are known not to be written).
    rewrite: bool,
    /// Outstanding batches (by base) whose last attempt may have been
    /// written (response lost, 7 or 20). They are not known not to be
    /// written, so a rewrite must not re-sequence them: each is retried
    /// under its old identity first, where the broker's duplicate cache
    /// answers it (simulation seed 3928).
    in_doubt: Vec<i32>,
}

impl PartitionSequences {
    fn new(producer: ProducerIdentity, first: i32) -> Self {
        PartitionSequences {
            producer,
            first,
            next: first,
            last_acked: None,
            last_acked_offset: -1,
            outstanding: VecDeque::new(),
            sent: 0,
            unresolved: None,
            rewrite: false,
            in_doubt: Vec::new(),
        }
    }

    fn expected(&self) -> i32 {
        self.last_acked
            .map_or(self.first, |l| increment_sequence(l, 1))
    }

    fn remove(&mut self, base: i32) {
        if let Some(i) = self.outstanding.iter().position(|&s| s == base) {
            self.outstanding.remove(i);
        }
        self.in_doubt.retain(|&s| s != base);
    }

    fn mark_in_doubt(&mut self, base: i32) {
        if !self.in_doubt.contains(&base) {
            self.in_doubt.push(base);
        }
    }
}

/// `a` comes after `b` in sequence space (mod 2^31, within half the space).
fn after(a: i32, b: i32) -> bool {
    let d = (i64::from(a) - i64::from(b)).rem_euclid(1 << 31);
    d > 0 && d < (1 << 30)
}

/// The producer's idempotence state, keyed by partition `K`.
#[derive(Debug)]
pub(crate) struct Idempotence<K> {
    producer: Option<ProducerIdentity>,
    transactional: bool,
    max_in_flight: usize,
    bump_requested: bool,
    partitions: super::fast_hash::FastMap<K, PartitionSequences>,
    /// The sequence a partition seen for the first time starts at (a test
    /// seam; 0 by default). Resets after a bump always restart at 0.
    first_sequence: i32,
}

/// What the producer must do about its identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdentityAction {
    /// Nothing.
    None,
    /// The epoch was bumped locally.
    Bumped(ProducerIdentity),
    /// The epoch is exhausted (`i16::MAX`): get a new producer id with
    /// InitProducerId. Nothing is sent until [`Idempotence::set_producer`].
    NewProducerId,
}

impl<K: Hash + Eq + Clone> Idempotence<K> {
    /// State for a producer with no id yet.
    pub(crate) fn new(max_in_flight: usize, transactional: bool) -> Self {
        Idempotence {
            producer: None,
            transactional,
            max_in_flight: max_in_flight.max(1),
            bump_requested: false,
            partitions: super::fast_hash::FastMap::default(),
            first_sequence: 0,
        }
    }

    /// Partitions seen for the first time start at `sequence` instead of 0
    /// (a test seam for sequence wrap-around).
    pub(crate) fn first_sequence(mut self, sequence: i32) -> Self {
        self.first_sequence = sequence;
        self
    }

    /// The current producer id and epoch, once known.
    pub(crate) fn producer(&self) -> Option<ProducerIdentity> {
        self.producer
    }

    /// InitProducerId answered.
    pub(crate) fn set_producer(&mut self, producer: ProducerIdentity) {
        self.producer = Some(producer);
    }

    /// Applies a requested epoch bump; call once per core iteration.
    pub(crate) fn apply_bump(&mut self) -> IdentityAction {
        if !self.bump_requested {
            return IdentityAction::None;
        }
        let Some(p) = self.producer else {
            return IdentityAction::None;
        };
        self.bump_requested = false;
        if p.epoch == i16::MAX {
            self.producer = None;
            return IdentityAction::NewProducerId;
        }
        let bumped = ProducerIdentity {
            id: p.id,
            epoch: p.epoch + 1,
        };
        self.producer = Some(bumped);
        IdentityAction::Bumped(bumped)
    }

    /// Whether a bump is waiting to be applied.
    #[cfg(test)]
    pub(crate) fn bump_requested(&self) -> bool {
        self.bump_requested
    }

    fn request_bump(&mut self, tp: &K) {
        if let Some(p) = self.partitions.get_mut(tp) {
            if p.rewrite {
                // This partition already asked for a bump and restarts at
                // sequence 0 under the new epoch anyway: its other
                // old-epoch batches' refusals (several in flight got the
                // same 59 or 45) need no second bump.
                return;
            }
            p.rewrite = true;
            p.unresolved = None;
        }
        self.bump_requested = true;
    }

    /// May the head batch of `tp` be sent? `head` is its sequence if it
    /// has one (a retry), `None` for a new batch.
    pub(crate) fn check_send(&mut self, tp: &K, head: Option<BatchSequence>) -> SendCheck {
        let Some(producer) = self.producer else {
            return SendCheck::Wait;
        };
        let first = self.first_sequence;
        let p = self
            .partitions
            .entry(tp.clone())
            .or_insert_with(|| PartitionSequences::new(producer, first));
        if p.producer != producer {
            // A stale partition switches once nothing of it is in flight and
            // (unless it asked for the bump) nothing of it is outstanding at
            // all: its old-epoch batches finish under the old epoch.
            let head_in_doubt =
                head.is_some_and(|b| b.producer == p.producer && p.in_doubt.contains(&b.base));
            if p.sent == 0 && (p.outstanding.is_empty() || (p.rewrite && !head_in_doubt)) {
                return SendCheck::Reset;
            }
            return match head {
                Some(b) if b.producer == p.producer && p.outstanding.front() == Some(&b.base) => {
                    SendCheck::Send
                }
                _ => SendCheck::Wait,
            };
        }
        match head {
            Some(b) => {
                if b.producer == p.producer && p.outstanding.front() == Some(&b.base) {
                    SendCheck::Send
                } else {
                    SendCheck::Wait
                }
            }
            None => {
                let first_ack_pending = p.last_acked.is_none() && !p.outstanding.is_empty();
                if p.outstanding.len() >= self.max_in_flight {
                    SendCheck::Full
                } else if first_ack_pending {
                    SendCheck::Wait
                } else {
                    SendCheck::Send
                }
            }
        }
    }

    /// Restarts `tp` at sequence 0 under the current identity (after
    /// [`SendCheck::Reset`]).
    pub(crate) fn reset_partition(&mut self, tp: &K) {
        if let Some(producer) = self.producer {
            self.partitions
                .insert(tp.clone(), PartitionSequences::new(producer, 0));
        }
    }

    /// Hands out the sequence for a new batch of `count` records on `tp`.
    /// Returns `None` when there is no producer id.
    pub(crate) fn assign(&mut self, tp: &K, count: i32) -> Option<BatchSequence> {
        let producer = self.producer?;
        let first = self.first_sequence;
        let p = self
            .partitions
            .entry(tp.clone())
            .or_insert_with(|| PartitionSequences::new(producer, first));
        let base = p.next;
        p.next = increment_sequence(base, count);
        p.outstanding.push_back(base);
        Some(BatchSequence {
            producer: p.producer,
            base,
            count,
        })
    }

    /// The batch is now in flight.
    pub(crate) fn on_sent(&mut self, tp: &K) {
        if let Some(p) = self.partitions.get_mut(tp) {
            p.sent += 1;
        }
    }

    /// Classifies the outcome of a sent batch and updates the partition.
    pub(crate) fn on_outcome(
        &mut self,
        tp: &K,
        batch: BatchSequence,
        outcome: &Outcome,
    ) -> Verdict {
        let transactional = self.transactional;
        let Some(p) = self.partitions.get_mut(tp) else {
            return Verdict::Fail;
        };
        p.sent = p.sent.saturating_sub(1);
        let current = p.producer == batch.producer;
        let (code, log_start_offset, base_offset) = match outcome {
            Outcome::Lost { maybe_persisted } => {
                if *maybe_persisted {
                    p.mark_in_doubt(batch.base);
                }
                return Verdict::Retry {
                    maybe_persisted: *maybe_persisted,
                    refresh_metadata: true,
                };
            }
            Outcome::Answer {
                code,
                log_start_offset,
                base_offset,
            } => (*code, *log_start_offset, *base_offset),
        };
        match code {
            ErrorCode::NONE | ErrorCode::DUPLICATE_SEQUENCE_NUMBER => {
                p.remove(batch.base);
                if current {
                    let last = batch.last();
                    if p.last_acked.is_none_or(|l| after(last, l)) {
                        p.last_acked = Some(last);
                        if base_offset >= 0 {
                            p.last_acked_offset = base_offset + i64::from(batch.count) - 1;
                        }
                    }
                    if p.unresolved.is_some_and(|u| !after(u, last)) {
                        p.unresolved = None;
                    }
                }
                self.resolve_if_idle(tp);
                Verdict::Complete
            }
            ErrorCode::INVALID_PRODUCER_EPOCH | ErrorCode::PRODUCER_FENCED => Verdict::Fatal,
            ErrorCode::CLUSTER_AUTHORIZATION_FAILED
            | ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED => Verdict::Fatal,
            ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER => {
                // Refused, so not written now; nor earlier, or the broker's
                // duplicate cache would have answered.
                p.in_doubt.retain(|&s| s != batch.base);
                let is_next = batch.base == p.expected();
                match p.unresolved {
                    None if !is_next || !current => Verdict::Retry {
                        maybe_persisted: false,
                        refresh_metadata: false,
                    },
                    _ if transactional => {
                        p.remove(batch.base);
                        Verdict::Fail
                    }
                    unresolved => {
                        // A real gap (or the batch right after one in
                        // doubt): bump. Otherwise wait for the doubt to
                        // resolve.
                        if unresolved.is_none()
                            || unresolved.is_some_and(|u| increment_sequence(u, 1) == batch.base)
                        {
                            self.request_bump(tp);
                        }
                        Verdict::Retry {
                            maybe_persisted: false,
                            refresh_metadata: false,
                        }
                    }
                }
            }
            ErrorCode::UNKNOWN_PRODUCER_ID => {
                if transactional {
                    // Inside a transaction the batch fails and the
                    // transaction becomes abortable; the abort bumps the
                    // epoch through the coordinator (KIP-360), as Java's
                    // transactional producer does.
                    p.remove(batch.base);
                    Verdict::Fail
                } else if log_start_offset < 0 {
                    Verdict::Retry {
                        maybe_persisted: false,
                        refresh_metadata: false,
                    }
                } else if p.last_acked_offset < log_start_offset {
                    // The broker dropped our state with the log's head:
                    // nothing is lost, restart the sequences (KIP-360).
                    self.request_bump(tp);
                    Verdict::Retry {
                        maybe_persisted: false,
                        refresh_metadata: false,
                    }
                } else {
                    // The broker forgot us for another reason (a 2.0–2.4
                    // broker's producer state expiry, S20). The batch was
                    // refused, so it is safe to resend it from sequence 0
                    // under a bumped epoch, as Java's idempotent producer
                    // does ("always retry UNKNOWN_PRODUCER_ID").
                    self.request_bump(tp);
                    Verdict::Retry {
                        maybe_persisted: false,
                        refresh_metadata: false,
                    }
                }
            }
            ErrorCode::MESSAGE_TOO_LARGE if batch.count > 1 => {
                p.remove(batch.base);
                self.request_bump(tp);
                Verdict::Split
            }
            // A batch that broker rules say is broken stays broken: ours are
            // CRC-checked, so CORRUPT_MESSAGE means the content is refused
            // (for example a null key on a compacted topic).
            ErrorCode::CORRUPT_MESSAGE => {
                p.remove(batch.base);
                self.request_bump(tp);
                Verdict::Fail
            }
            c if c.is_retriable() => {
                let maybe_persisted = matches!(
                    c,
                    ErrorCode::REQUEST_TIMED_OUT | ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND
                );
                if maybe_persisted {
                    p.mark_in_doubt(batch.base);
                }
                Verdict::Retry {
                    maybe_persisted,
                    refresh_metadata: matches!(
                        c,
                        ErrorCode::NOT_LEADER_OR_FOLLOWER
                            | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                            | ErrorCode::LEADER_NOT_AVAILABLE
                            | ErrorCode::FENCED_LEADER_EPOCH
                            | ErrorCode::UNKNOWN_LEADER_EPOCH
                            | ErrorCode::NOT_ENOUGH_REPLICAS
                    ),
                }
            }
            _ => {
                p.remove(batch.base);
                self.request_bump(tp);
                Verdict::Fail
            }
        }
    }

    /// A batch with a sequence gave up (delivery timeout) while not in
    /// flight. `maybe_persisted`: it may have been written.
    pub(crate) fn on_expired(&mut self, tp: &K, batch: BatchSequence, maybe_persisted: bool) {
        let Some(p) = self.partitions.get_mut(tp) else {
            return;
        };
        p.remove(batch.base);
        if p.producer != batch.producer {
            return;
        }
        if maybe_persisted {
            let last = batch.last();
            // A later batch already acknowledged under the same identity
            // proves this one was written (the broker takes a sequence only
            // right after the previous one): nothing is in doubt.
            let acknowledged = p.last_acked.is_some_and(|l| !after(last, l));
            if !acknowledged && p.unresolved.is_none_or(|u| after(last, u)) {
                p.unresolved = Some(last);
            }
        } else {
            // Known not written: a gap in the sequences, repaired by a bump.
            self.request_bump(tp);
        }
        self.resolve_if_idle(tp);
    }

    /// A partition with a sequence in doubt and nothing outstanding: if
    /// everything up to the doubt was acknowledged it is resolved, else the
    /// sequences restart with a bump (Java's `maybeResolveSequences`).
    fn resolve_if_idle(&mut self, tp: &K) {
        let Some(p) = self.partitions.get_mut(tp) else {
            return;
        };
        let Some(u) = p.unresolved else {
            return;
        };
        if !p.outstanding.is_empty() {
            return;
        }
        if p.last_acked.is_some_and(|l| !after(u, l)) {
            p.unresolved = None;
        } else {
            self.request_bump(tp);
        }
    }

    /// How many batches of `tp` are outstanding (sent or waiting for a
    /// retry).
    #[cfg(test)]
    fn outstanding(&self, tp: &K) -> usize {
        self.partitions.get(tp).map_or(0, |p| p.outstanding.len())
    }
}

#[cfg(test)]
#[path = "idempotence_tests.rs"]
mod tests;
