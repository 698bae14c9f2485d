//! `send_offsets_to_transaction` in the transaction state machine: the
//! operation's progress (AddOffsetsToTxn, then TxnOffsetCommit to the group
//! coordinator) and how each answer is classified, as Kafka's Java
//! `TransactionManager` does (`AddOffsetsToTxnHandler`,
//! `TxnOffsetCommitHandler`, `FindCoordinatorHandler` for groups).
//!
//! | answer | AddOffsetsToTxn | TxnOffsetCommit |
//! |---|---|---|
//! | 15, 16 | find the transaction coordinator, retry | find the group coordinator, retry |
//! | 7 | retry | find the group coordinator, retry |
//! | 14, 51 | retry | 14: retry (51: fatal, as in Java) |
//! | 3 | retry | retry |
//! | 30 `GROUP_AUTHORIZATION_FAILED` | abortable | abortable |
//! | 25, 22, 82 (the group rebalanced, KIP-447) | — | abortable |
//! | 49, 59 | abortable (the abort bumps the epoch) | fatal |
//! | 90, 47, 53 | fatal | fatal |
//!
//! Partitions answered 0 are done; the others are sent again after the
//! backoff. The operation completes when every partition is done, and fails
//! with the transaction's abortable error (or `Aborted`) when the
//! transaction can no longer commit.
//!
//! # References
//! - KIP-98 (AddOffsetsToTxn, TxnOffsetCommit), KIP-447 (group metadata)

use std::collections::BTreeMap;

use kproducer_net::TopicPartition;
use kproducer_protocol::ErrorCode;
use tokio::time::Instant;

use super::answers::{Reaction, fatal, react};
use super::{Answer, Coordinator, OffsetCommit, Started, Step, Transaction, TxnOp, TxnRequest};
use crate::error::Error;
use crate::transaction::{
    ConsumerGroupMetadata, OffsetAndMetadata, TransactionError, TransactionPhase,
};

/// The `send_offsets_to_transaction` under way.
#[derive(Debug)]
pub(super) struct PendingOffsets {
    /// What the caller asked for (a caller that timed out and calls again
    /// with the same offsets joins the operation).
    requested: OffsetCommit,
    /// Partitions the group coordinator has not accepted yet.
    remaining: BTreeMap<TopicPartition, OffsetAndMetadata>,
    /// AddOffsetsToTxn succeeded: the group is in the transaction.
    added: bool,
}

impl Transaction {
    /// `send_offsets_to_transaction`: only inside an open transaction.
    /// `Ok(None)`: nothing to send (no offsets), done at once.
    pub(crate) fn send_offsets(
        &mut self,
        group: ConsumerGroupMetadata,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> Result<Option<Started>, Error> {
        let op = TxnOp::SendOffsets.name();
        match self.phase {
            TransactionPhase::InTransaction => {}
            TransactionPhase::AbortableError => {
                return Err(self
                    .abortable
                    .clone()
                    .map_or_else(|| self.invalid(op, "abort the transaction"), Error::from));
            }
            _ => {
                return Err(self.invalid(
                    op,
                    "offsets are committed inside an open transaction: call begin_transaction first",
                ));
            }
        }
        let request = OffsetCommit { group, offsets };
        if let Some(p) = &self.offsets {
            return if p.requested == request {
                Ok(Some(Started::Joined))
            } else {
                Err(self.invalid(
                    op,
                    "another send_offsets_to_transaction is under way: wait for it first",
                ))
            };
        }
        if request.offsets.is_empty() {
            return Ok(None);
        }
        self.offsets = Some(PendingOffsets {
            remaining: request.offsets.clone(),
            requested: request,
            added: false,
        });
        Ok(Some(Started::New))
    }

    /// The offsets' next request, if an offsets operation is under way.
    pub(super) fn offsets_request(&self) -> Option<TxnRequest> {
        let p = self.offsets.as_ref()?;
        Some(if p.added {
            TxnRequest::CommitOffsets(OffsetCommit {
                group: p.requested.group.clone(),
                offsets: p.remaining.clone(),
            })
        } else {
            TxnRequest::AddOffsets {
                group_id: p.requested.group.group_id.clone(),
            }
        })
    }

    /// The transaction can no longer commit (or is being aborted): the
    /// offsets operation fails with its reason.
    pub(super) fn fail_doomed_offsets(&mut self) -> Option<Step> {
        self.offsets.as_ref()?;
        let error = match (&self.abortable, self.phase) {
            (Some(reason), _) => reason.clone(),
            (None, TransactionPhase::Aborting) => TransactionError::Aborted,
            _ => return None,
        };
        self.offsets = None;
        Some(Step::Complete(TxnOp::SendOffsets, Err(error.into())))
    }

    /// The coordinator of `group`, if known.
    pub(super) fn group_coordinator_of(&self, group: &str) -> Option<&Coordinator> {
        self.group_coordinator
            .as_ref()
            .filter(|(g, _)| g == group)
            .map(|(_, c)| c)
    }

    /// Where TxnOffsetCommit goes.
    pub(crate) fn group_coordinator(&self) -> Option<&Coordinator> {
        self.group_coordinator.as_ref().map(|(_, c)| c)
    }

    /// AddOffsetsToTxn answered.
    pub(crate) fn on_add_offsets(&mut self, now: Instant, answer: Answer<()>) -> Step {
        let group = match self.in_flight.take() {
            Some(TxnRequest::AddOffsets { group_id }) => group_id,
            _ => String::new(),
        };
        let code = match answer {
            Answer::Ok(()) => {
                self.failures = 0;
                self.groups_added.insert(group.clone());
                if let Some(p) = &mut self.offsets
                    && p.requested.group.group_id == group
                {
                    p.added = true;
                }
                return Step::Idle;
            }
            Answer::Code(code, _) => code,
            Answer::Lost(_) => {
                // The coordinator may have added the group: whatever
                // happens next, an abort must end the transaction.
                self.maybe_added = true;
                self.retry_later(now, true);
                return Step::Idle;
            }
            Answer::NotSent(_) => {
                self.retry_later(now, true);
                return Step::Idle;
            }
            Answer::Unsendable(why) => return self.unsendable(&why),
        };
        if code == ErrorCode::GROUP_AUTHORIZATION_FAILED {
            self.make_abortable(TransactionError::Abortable {
                reason: format!("AddOffsetsToTxn for group {group} failed: {code}"),
                code: Some(code),
            });
            return Step::Idle;
        }
        match react(code) {
            Reaction::Retry { rediscover } => {
                self.retry_later(now, rediscover);
                Step::Idle
            }
            Reaction::Abortable => {
                self.bump_needed |= matches!(
                    code,
                    ErrorCode::UNKNOWN_PRODUCER_ID | ErrorCode::INVALID_PRODUCER_ID_MAPPING
                );
                self.make_abortable(TransactionError::Abortable {
                    reason: format!("AddOffsetsToTxn for group {group} failed: {code}"),
                    code: Some(code),
                });
                Step::Idle
            }
            Reaction::Fatal => self.fail_fatally(fatal("AddOffsetsToTxn", code, None)),
        }
    }

    /// FindCoordinator for the group answered.
    pub(crate) fn on_find_group_coordinator(
        &mut self,
        now: Instant,
        answer: Answer<Coordinator>,
    ) -> Step {
        let group = match self.in_flight.take() {
            Some(TxnRequest::FindGroupCoordinator { group_id }) => group_id,
            _ => String::new(),
        };
        match answer {
            Answer::Ok(c) => {
                self.group_coordinator = Some((group, c));
                Step::Idle
            }
            Answer::Code(ErrorCode::GROUP_AUTHORIZATION_FAILED, _) => {
                self.make_abortable(TransactionError::Abortable {
                    reason: format!("FindCoordinator for group {group}: not authorized"),
                    code: Some(ErrorCode::GROUP_AUTHORIZATION_FAILED),
                });
                Step::Idle
            }
            Answer::Code(code, message) => match react(code) {
                Reaction::Fatal => self.fail_fatally(fatal(
                    &format!("FindCoordinator for group {group}"),
                    code,
                    message.as_deref(),
                )),
                _ => {
                    self.retry_later(now, false);
                    Step::Idle
                }
            },
            Answer::Lost(_) | Answer::NotSent(_) => {
                self.retry_later(now, false);
                Step::Idle
            }
            Answer::Unsendable(why) => self.unsendable(&why),
        }
    }

    /// TxnOffsetCommit answered: each partition's code.
    pub(crate) fn on_commit_offsets(
        &mut self,
        now: Instant,
        answer: Answer<Vec<(TopicPartition, ErrorCode)>>,
    ) -> Step {
        let sent = match self.in_flight.take() {
            Some(TxnRequest::CommitOffsets(c)) => c,
            _ => return Step::Idle,
        };
        let group = sent.group.group_id;
        let results: Vec<(TopicPartition, ErrorCode)> = match answer {
            Answer::Ok(results) => results,
            Answer::Code(code, _) => sent.offsets.into_keys().map(|tp| (tp, code)).collect(),
            Answer::Lost(_) | Answer::NotSent(_) => {
                self.group_coordinator = None;
                self.retry_later(now, false);
                return Step::Idle;
            }
            Answer::Unsendable(why) => return self.unsendable(&why),
        };
        for (tp, code) in results {
            match code {
                ErrorCode::NONE => {
                    if let Some(p) = &mut self.offsets {
                        p.remaining.remove(&tp);
                    }
                }
                ErrorCode::COORDINATOR_NOT_AVAILABLE
                | ErrorCode::NOT_COORDINATOR
                | ErrorCode::REQUEST_TIMED_OUT => {
                    self.group_coordinator = None;
                }
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION | ErrorCode::COORDINATOR_LOAD_IN_PROGRESS => {
                }
                ErrorCode::GROUP_AUTHORIZATION_FAILED => {
                    self.make_abortable(TransactionError::Abortable {
                        reason: format!("TxnOffsetCommit for group {group}: not authorized"),
                        code: Some(code),
                    });
                    return Step::Idle;
                }
                ErrorCode::UNKNOWN_MEMBER_ID
                | ErrorCode::ILLEGAL_GENERATION
                | ErrorCode::FENCED_INSTANCE_ID => {
                    self.make_abortable(TransactionError::Abortable {
                        reason: format!(
                            "the consumer group {group} rebalanced: its coordinator refused the \
                             offsets of {tp} with {code}; rejoin the group and process from its \
                             committed offsets"
                        ),
                        code: Some(code),
                    });
                    return Step::Idle;
                }
                _ => {
                    return self.fail_fatally(fatal(
                        &format!("TxnOffsetCommit for group {group}, {tp}"),
                        code,
                        None,
                    ));
                }
            }
        }
        let done = self
            .offsets
            .as_ref()
            .is_some_and(|p| p.remaining.is_empty());
        if done {
            // Accepted, but the transaction is being aborted (or can no
            // longer commit): the offsets will be discarded.
            if let Some(step) = self.fail_doomed_offsets() {
                return step;
            }
            self.offsets = None;
            self.failures = 0;
            return Step::Complete(TxnOp::SendOffsets, Ok(()));
        }
        // Retriable answers, and partitions the answer left out, are sent
        // again after the backoff.
        self.retry_later(now, false);
        Step::Idle
    }
}
