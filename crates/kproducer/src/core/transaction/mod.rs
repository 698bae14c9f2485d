//! The transaction state machine: where a transactional producer's
//! transaction stands, which coordinator request is due next, and what each
//! answer means.
//!
//! A pure struct: the core tells it what the user asked for
//! ([`Transaction::init`], [`Transaction::begin`], [`Transaction::commit`],
//! [`Transaction::abort`]), what the drain wants to send
//! ([`Transaction::may_send`]), what the coordinator answered and which
//! records failed; [`Transaction::poll`] answers with the next request to
//! send or an operation's outcome. No I/O and no clock of its own: the
//! caller passes `now`.
//!
//! ```text
//! Uninitialized ─init→ Initializing ─InitProducerId→ Ready ─begin→ InTransaction
//! InTransaction ─commit→ Committing ─flushed, EndTxn(commit)→ Ready
//! InTransaction ─record failed / abortable answer→ AbortableError
//! InTransaction | AbortableError ─abort→ Aborting ─EndTxn(abort) [, InitProducerId bump]→ Ready
//! Committing ─a record failed / abortable answer→ AbortableError (commit fails)
//! any ─fenced / not authorized→ FatalError
//! ```
//!
//! `send_offsets_to_transaction` runs inside an open transaction, as
//! Java's producer sequences it: AddOffsetsToTxn to the transaction
//! coordinator (the group joins the transaction), then FindCoordinator for
//! the group and TxnOffsetCommit to the group coordinator, one request at a
//! time with the partitions' AddPartitionsToTxn (`offsets.rs`). A commit
//! waits for it before EndTxn; an abort or an abortable error fails it.
//!
//! Error classification follows Kafka's Java `TransactionManager`: fenced
//! (90, 47) and authorization (53, 31) answers are fatal; coordinator
//! trouble (15, 16, 14, 51) is retried, after finding the coordinator again
//! for 15 and 16; a record's failure inside a transaction (45, 59, …) makes
//! the transaction abortable: the user aborts and carries on. An abort after
//! such a failure bumps the epoch with InitProducerId naming the current
//! producer id and epoch (KIP-360), so the partitions' sequences restart.
//!
//! An AddPartitionsToTxn or AddOffsetsToTxn whose answer is lost after it
//! was written may have added its partitions or group: the machine
//! remembers that ("maybe added"), and an abort then sends EndTxn(abort)
//! even though nothing is known to be added, instead of leaving the
//! coordinator's transaction open until `transaction.timeout.ms`. Only
//! there, 48 `INVALID_TXN_STATE` ("nothing open", Kafka's answer for a
//! transaction that never started) counts as a successful abort. A commit
//! never needs the rule: the partition or group is added again before
//! EndTxn(commit).
//!
//! # References
//! - KIP-98 (transactions), KIP-360 (epoch bump), Kafka `TransactionManager`

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use kproducer_net::TopicPartition;
use tokio::time::Instant;

use super::control::backoff;

mod answers;
mod offsets;
use crate::error::Error;
use crate::transaction::{
    ConsumerGroupMetadata, OffsetAndMetadata, TransactionError, TransactionPhase,
};
pub(crate) use answers::{Answer, Unsendable};

/// The transaction operations that take a round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxnOp {
    /// `init_transactions`.
    Init,
    /// `commit_transaction`.
    Commit,
    /// `abort_transaction`.
    Abort,
    /// `send_offsets_to_transaction`.
    SendOffsets,
}

impl TxnOp {
    /// The public method's name, for messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            TxnOp::Init => "init_transactions",
            TxnOp::Commit => "commit_transaction",
            TxnOp::Abort => "abort_transaction",
            TxnOp::SendOffsets => "send_offsets_to_transaction",
        }
    }
}

/// Where the transaction coordinator is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Coordinator {
    pub(crate) node: i32,
    pub(crate) host: String,
    pub(crate) port: u16,
}

/// A request for the coordinator (FindCoordinator: for any broker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TxnRequest {
    /// Find the transaction coordinator.
    FindCoordinator,
    /// InitProducerId; `bump`: name the current producer id and epoch
    /// (KIP-360) so the coordinator bumps the epoch.
    InitProducerId { bump: bool },
    /// Add these partitions to the transaction.
    AddPartitions(Vec<TopicPartition>),
    /// End the transaction.
    EndTxn { commit: bool },
    /// Add the consumer group to the transaction (AddOffsetsToTxn).
    AddOffsets { group_id: String },
    /// Find the group's coordinator (FindCoordinator, key type 0: for any
    /// broker).
    FindGroupCoordinator { group_id: String },
    /// Commit these offsets in the transaction (TxnOffsetCommit, to the
    /// group coordinator).
    CommitOffsets(OffsetCommit),
}

/// Offsets to commit for a consumer group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OffsetCommit {
    pub(crate) group: ConsumerGroupMetadata,
    pub(crate) offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
}

/// What [`Transaction::poll`] decided.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// Nothing to do now.
    Idle,
    /// Send this request (the machine now counts it as in flight).
    Send(TxnRequest),
    /// An operation finished: answer its callers.
    Complete(TxnOp, Result<(), Error>),
}

/// Tests compare steps; outcomes compare by operation and success.
#[cfg(test)]
impl PartialEq for Step {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Step::Idle, Step::Idle) => true,
            (Step::Send(a), Step::Send(b)) => a == b,
            (Step::Complete(a, ra), Step::Complete(b, rb)) => a == b && ra.is_ok() == rb.is_ok(),
            _ => false,
        }
    }
}

/// How an operation was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Started {
    /// It starts now.
    New,
    /// The same operation is already under way (the caller timed out
    /// before and calls again): wait for its outcome.
    Joined,
}

/// One transactional producer's transaction state; see the module docs.
#[derive(Debug)]
pub(crate) struct Transaction {
    phase: TransactionPhase,
    coordinator: Option<Coordinator>,
    /// The request in flight, if any (one at a time).
    in_flight: Option<TxnRequest>,
    next_attempt: Option<Instant>,
    failures: u32,
    retry_backoff: Duration,
    retry_backoff_max: Duration,
    /// Partitions the coordinator has added to the open transaction.
    added: HashSet<TopicPartition>,
    /// Partitions with a batch waiting to be added.
    pending: BTreeSet<TopicPartition>,
    /// Why the transaction cannot commit.
    abortable: Option<TransactionError>,
    /// The partitions' sequences need an epoch bump before the next
    /// transaction (a record failed or a sequenced batch was dropped).
    bump_needed: bool,
    /// The abort's EndTxn is done; the epoch bump comes next.
    bumping: bool,
    /// An AddPartitionsToTxn or AddOffsetsToTxn reached the coordinator
    /// (it may have) and its answer was lost: the coordinator may hold a
    /// transaction although nothing is known to be added, so an abort
    /// ends it with EndTxn(abort) rather than leaving it open until
    /// `transaction.timeout.ms`.
    maybe_added: bool,
    fatal: Option<Error>,
    /// The `send_offsets_to_transaction` under way.
    offsets: Option<offsets::PendingOffsets>,
    /// Consumer groups the coordinator has added to the open transaction.
    groups_added: BTreeSet<String>,
    /// A consumer group's coordinator, once found.
    group_coordinator: Option<(String, Coordinator)>,
}

impl Transaction {
    /// A transactional producer before `init_transactions`.
    pub(crate) fn new(retry_backoff: Duration, retry_backoff_max: Duration) -> Self {
        Transaction {
            phase: TransactionPhase::Uninitialized,
            coordinator: None,
            in_flight: None,
            next_attempt: None,
            failures: 0,
            retry_backoff,
            retry_backoff_max,
            added: HashSet::new(),
            pending: BTreeSet::new(),
            abortable: None,
            bump_needed: false,
            bumping: false,
            maybe_added: false,
            fatal: None,
            offsets: None,
            groups_added: BTreeSet::new(),
            group_coordinator: None,
        }
    }

    /// Where the transaction stands.
    pub(crate) fn phase(&self) -> TransactionPhase {
        self.phase
    }

    /// The coordinator, once found.
    pub(crate) fn coordinator(&self) -> Option<&Coordinator> {
        self.coordinator.as_ref()
    }

    /// The fatal error, once the producer is fatal.
    pub(crate) fn fatal_error(&self) -> Option<&Error> {
        self.fatal.as_ref()
    }

    /// When [`Transaction::poll`] may have something to do after a backoff.
    pub(crate) fn next_attempt(&self) -> Option<Instant> {
        self.next_attempt
    }

    /// Records may be sent (the producer handle's fast check).
    pub(crate) fn accepts_records(&self) -> bool {
        matches!(
            self.phase,
            TransactionPhase::InTransaction | TransactionPhase::AbortableError
        )
    }

    /// Unsent batches must be dropped now (aborting, or the transaction
    /// can no longer commit), failing with this error.
    pub(crate) fn drop_unsent(&self) -> Option<Error> {
        match self.phase {
            TransactionPhase::Aborting => Some(TransactionError::Aborted.into()),
            TransactionPhase::AbortableError | TransactionPhase::Committing => {
                self.abortable.clone().map(Error::from)
            }
            _ => None,
        }
    }

    fn invalid(&self, op: &'static str, hint: &'static str) -> Error {
        match &self.fatal {
            Some(e) => e.clone(),
            None => TransactionError::InvalidState {
                operation: op,
                phase: self.phase,
                hint,
            }
            .into(),
        }
    }

    /// `init_transactions`.
    pub(crate) fn init(&mut self) -> Result<Started, Error> {
        match self.phase {
            TransactionPhase::Uninitialized => {
                self.phase = TransactionPhase::Initializing;
                Ok(Started::New)
            }
            TransactionPhase::Initializing => Ok(Started::Joined),
            _ => Err(self.invalid(
                TxnOp::Init.name(),
                "init_transactions is called once, before the first transaction",
            )),
        }
    }

    /// `begin_transaction`.
    pub(crate) fn begin(&mut self) -> Result<(), Error> {
        match self.phase {
            TransactionPhase::Ready => {
                self.phase = TransactionPhase::InTransaction;
                self.added.clear();
                self.groups_added.clear();
                self.pending.clear();
                self.abortable = None;
                self.maybe_added = false;
                Ok(())
            }
            TransactionPhase::Uninitialized | TransactionPhase::Initializing => Err(self.invalid(
                "begin_transaction",
                "call init_transactions (and wait for it) first",
            )),
            _ => Err(self.invalid(
                "begin_transaction",
                "commit or abort the open transaction first",
            )),
        }
    }

    /// A record arrived: may it join the transaction?
    pub(crate) fn check_record(&self) -> Result<(), Error> {
        match (self.phase, &self.abortable) {
            (TransactionPhase::InTransaction, _) => Ok(()),
            (TransactionPhase::AbortableError, Some(e)) => Err(e.clone().into()),
            (TransactionPhase::FatalError, _) => Err(self.invalid("send", "")),
            _ => Err(TransactionError::NoTransaction.into()),
        }
    }

    /// `commit_transaction`.
    pub(crate) fn commit(&mut self) -> Result<Started, Error> {
        match self.phase {
            TransactionPhase::InTransaction => {
                self.phase = TransactionPhase::Committing;
                Ok(Started::New)
            }
            TransactionPhase::Committing => Ok(Started::Joined),
            TransactionPhase::AbortableError => Err(self.abortable.clone().map_or_else(
                || self.invalid(TxnOp::Commit.name(), "abort it"),
                Error::from,
            )),
            _ => Err(self.invalid(
                TxnOp::Commit.name(),
                "only an open transaction can be committed: call begin_transaction first",
            )),
        }
    }

    /// `abort_transaction`.
    pub(crate) fn abort(&mut self) -> Result<Started, Error> {
        match self.phase {
            TransactionPhase::InTransaction | TransactionPhase::AbortableError => {
                self.phase = TransactionPhase::Aborting;
                Ok(Started::New)
            }
            TransactionPhase::Aborting => Ok(Started::Joined),
            _ => Err(self.invalid(
                TxnOp::Abort.name(),
                "only an open transaction can be aborted",
            )),
        }
    }

    /// May a batch of `tp` be sent now? Only once the coordinator has
    /// added `tp` to the transaction; until then the partition waits to be
    /// added (other partitions keep flowing).
    pub(crate) fn may_send(&mut self, tp: &TopicPartition) -> bool {
        if self.added.contains(tp) {
            return matches!(
                self.phase,
                TransactionPhase::InTransaction | TransactionPhase::Committing
            );
        }
        if matches!(
            self.phase,
            TransactionPhase::InTransaction | TransactionPhase::Committing
        ) && self.abortable.is_none()
            && !self.is_adding(tp)
        {
            self.pending.insert(tp.clone());
        }
        false
    }

    fn is_adding(&self, tp: &TopicPartition) -> bool {
        matches!(&self.in_flight, Some(TxnRequest::AddPartitions(tps)) if tps.contains(tp))
    }

    /// Records of the transaction failed with `error`: the transaction can
    /// no longer commit (a fatal error makes the producer fatal).
    pub(crate) fn on_records_failed(&mut self, error: &Error) {
        match error {
            Error::Fatal { .. } => self.on_fatal(error),
            Error::Transaction(TransactionError::Aborted) => {}
            _ => match self.phase {
                TransactionPhase::InTransaction
                | TransactionPhase::Committing
                | TransactionPhase::AbortableError => {
                    self.bump_needed = true;
                    let reason = TransactionError::Abortable {
                        reason: format!("a record of the transaction failed: {error}"),
                        code: error.code(),
                    };
                    self.make_abortable(reason);
                }
                _ => {}
            },
        }
    }

    /// A batch that already had a sequence was dropped unsent: the
    /// partition's sequences need an epoch bump before the next
    /// transaction.
    pub(crate) fn note_sequence_gap(&mut self) {
        self.bump_needed = true;
    }

    fn make_abortable(&mut self, reason: TransactionError) {
        if self.abortable.is_none() {
            self.abortable = Some(reason);
        }
        if self.phase == TransactionPhase::InTransaction {
            self.phase = TransactionPhase::AbortableError;
        }
    }

    /// The producer failed fatally.
    pub(crate) fn on_fatal(&mut self, error: &Error) {
        if self.fatal.is_none() {
            self.fatal = Some(error.clone());
        }
        self.phase = TransactionPhase::FatalError;
    }

    /// The operation under way, if any, for failing its callers.
    pub(crate) fn operation(&self) -> Option<TxnOp> {
        match self.phase {
            TransactionPhase::Initializing => Some(TxnOp::Init),
            TransactionPhase::Committing => Some(TxnOp::Commit),
            TransactionPhase::Aborting => Some(TxnOp::Abort),
            _ => None,
        }
    }

    /// What to do next. `settled`: for a commit, every record sent in the
    /// transaction is resolved; for an abort, nothing of the transaction
    /// is in flight or queued any more.
    pub(crate) fn poll(&mut self, now: Instant, settled: bool) -> Step {
        if self.in_flight.is_some()
            || self.phase == TransactionPhase::FatalError
            || self.next_attempt.is_some_and(|t| t > now)
        {
            return Step::Idle;
        }
        self.next_attempt = None;
        if let Some(step) = self.fail_doomed_offsets() {
            return step;
        }
        let request = match self.phase {
            TransactionPhase::Initializing => TxnRequest::InitProducerId { bump: false },
            TransactionPhase::InTransaction if !self.pending.is_empty() => {
                TxnRequest::AddPartitions(self.pending.iter().cloned().collect())
            }
            TransactionPhase::InTransaction if self.offsets.is_some() => {
                match self.offsets_request() {
                    Some(r) => r,
                    None => return Step::Idle,
                }
            }
            TransactionPhase::Committing => {
                if !self.pending.is_empty() && self.abortable.is_none() {
                    TxnRequest::AddPartitions(self.pending.iter().cloned().collect())
                } else if let Some(r) = self.offsets_request() {
                    // The offsets go before EndTxn (Java orders its
                    // requests the same way).
                    r
                } else if !settled {
                    return Step::Idle;
                } else if let Some(reason) = self.abortable.clone() {
                    self.phase = TransactionPhase::AbortableError;
                    return Step::Complete(TxnOp::Commit, Err(reason.into()));
                } else if self.nothing_added() && !self.maybe_added {
                    // Nothing was added: the coordinator knows of no
                    // transaction, there is nothing to end. (A lost add
                    // answer leaves its partition or group pending: it is
                    // added again before the commit gets here.)
                    return self.finish(TxnOp::Commit);
                } else {
                    TxnRequest::EndTxn { commit: true }
                }
            }
            TransactionPhase::Aborting => {
                if self.bumping {
                    TxnRequest::InitProducerId { bump: true }
                } else if !settled {
                    return Step::Idle;
                } else if self.nothing_added() && !self.maybe_added {
                    if self.bump_needed {
                        self.bumping = true;
                        TxnRequest::InitProducerId { bump: true }
                    } else {
                        return self.finish(TxnOp::Abort);
                    }
                } else {
                    TxnRequest::EndTxn { commit: false }
                }
            }
            _ => return Step::Idle,
        };
        let request = match request {
            TxnRequest::CommitOffsets(c)
                if self.group_coordinator_of(&c.group.group_id).is_none() =>
            {
                TxnRequest::FindGroupCoordinator {
                    group_id: c.group.group_id,
                }
            }
            TxnRequest::CommitOffsets(c) => TxnRequest::CommitOffsets(c),
            _ if self.coordinator.is_none() => TxnRequest::FindCoordinator,
            other => other,
        };
        if let TxnRequest::AddPartitions(_) = &request {
            self.pending.clear();
        }
        self.in_flight = Some(request.clone());
        Step::Send(request)
    }

    /// The transaction ended (or nothing was in it): ready for the next.
    fn finish(&mut self, op: TxnOp) -> Step {
        self.phase = TransactionPhase::Ready;
        self.added.clear();
        self.groups_added.clear();
        self.pending.clear();
        self.abortable = None;
        self.bumping = false;
        self.maybe_added = false;
        self.failures = 0;
        Step::Complete(op, Ok(()))
    }

    /// Neither a partition nor a consumer group joined the transaction: the
    /// coordinator knows of no transaction.
    fn nothing_added(&self) -> bool {
        self.added.is_empty() && self.groups_added.is_empty()
    }

    fn retry_later(&mut self, now: Instant, rediscover: bool) {
        if rediscover {
            self.coordinator = None;
        }
        self.failures = self.failures.saturating_add(1);
        self.next_attempt = Some(
            now + backoff(
                self.retry_backoff,
                self.retry_backoff_max,
                self.failures - 1,
            ),
        );
    }

    fn fail_fatally(&mut self, error: Error) -> Step {
        let op = self.operation();
        self.on_fatal(&error);
        match op {
            Some(op) => Step::Complete(op, Err(error)),
            None => Step::Idle,
        }
    }
}

#[cfg(test)]
mod tests;
