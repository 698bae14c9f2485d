//! The transaction state machine's side of the coordinator's answers:
//! how each error code is classified (Kafka's Java `TransactionManager`
//! handlers) and what FindCoordinator, InitProducerId, AddPartitionsToTxn
//! and EndTxn answers do to the transaction.

use kproducer_net::TopicPartition;
use kproducer_protocol::ErrorCode;
use tokio::time::Instant;

use super::{Answer, Coordinator, Step, Transaction, TxnOp, TxnRequest};
use crate::error::Error;
use crate::transaction::{TransactionError, TransactionPhase};

/// What to do about an error code from the coordinator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reaction {
    /// Retry after a backoff; `rediscover`: find the coordinator first.
    Retry { rediscover: bool },
    /// The transaction must be aborted.
    Abortable,
    /// The producer cannot go on.
    Fatal,
}

/// Classifies a coordinator error code the way Kafka's Java
/// `TransactionManager` handlers do.
pub(super) fn react(code: ErrorCode) -> Reaction {
    match code {
        ErrorCode::COORDINATOR_NOT_AVAILABLE | ErrorCode::NOT_COORDINATOR => {
            Reaction::Retry { rediscover: true }
        }
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
        | ErrorCode::CONCURRENT_TRANSACTIONS
        | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
        | ErrorCode::OPERATION_NOT_ATTEMPTED => Reaction::Retry { rediscover: false },
        ErrorCode::PRODUCER_FENCED
        | ErrorCode::INVALID_PRODUCER_EPOCH
        | ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
        | ErrorCode::CLUSTER_AUTHORIZATION_FAILED
        | ErrorCode::INVALID_TXN_STATE
        | ErrorCode::INVALID_TRANSACTION_TIMEOUT => Reaction::Fatal,
        ErrorCode::UNKNOWN_PRODUCER_ID
        | ErrorCode::INVALID_PRODUCER_ID_MAPPING
        | ErrorCode::TOPIC_AUTHORIZATION_FAILED => Reaction::Abortable,
        c if c.is_retriable() => Reaction::Retry { rediscover: false },
        _ => Reaction::Fatal,
    }
}

/// The fatal error for a coordinator answer.
pub(super) fn fatal(what: &str, code: ErrorCode, message: Option<&str>) -> Error {
    let detail = message.map(|m| format!(" ({m})")).unwrap_or_default();
    let advice = match code {
        ErrorCode::PRODUCER_FENCED | ErrorCode::INVALID_PRODUCER_EPOCH => {
            ": another producer with the same transactional.id has started (this one is fenced)"
        }
        _ => "",
    };
    Error::Fatal {
        reason: format!("{what} failed: {code}{detail}{advice}"),
        code: Some(code),
    }
}

impl Transaction {
    /// FindCoordinator answered.
    pub(crate) fn on_find_coordinator(
        &mut self,
        now: Instant,
        answer: Answer<Coordinator>,
    ) -> Step {
        self.in_flight = None;
        match answer {
            Answer::Ok(c) => {
                // `failures` keeps counting: a coordinator found again and
                // again that then fails is backed off more each time.
                self.coordinator = Some(c);
                Step::Idle
            }
            Answer::Code(code, message) => match react(code) {
                Reaction::Fatal => {
                    self.fail_fatally(fatal("FindCoordinator", code, message.as_deref()))
                }
                _ => {
                    self.retry_later(now, true);
                    Step::Idle
                }
            },
            Answer::Lost(_) => {
                self.retry_later(now, true);
                Step::Idle
            }
            Answer::Unsupported(why) => self.unsupported(&why),
        }
    }

    /// InitProducerId answered (the caller keeps the producer id and
    /// epoch).
    pub(crate) fn on_init_producer_id(&mut self, now: Instant, answer: Answer<()>) -> Step {
        self.in_flight = None;
        match answer {
            Answer::Ok(()) => {
                self.bump_needed = false;
                match self.phase {
                    TransactionPhase::Initializing => self.finish(TxnOp::Init),
                    TransactionPhase::Aborting => self.finish(TxnOp::Abort),
                    _ => Step::Idle,
                }
            }
            Answer::Code(code, message) => match react(code) {
                Reaction::Retry { rediscover } => {
                    self.retry_later(now, rediscover);
                    Step::Idle
                }
                Reaction::Abortable | Reaction::Fatal => {
                    self.fail_fatally(fatal("InitProducerId", code, message.as_deref()))
                }
            },
            Answer::Lost(_) => {
                self.retry_later(now, true);
                Step::Idle
            }
            Answer::Unsupported(why) => self.unsupported(&why),
        }
    }

    /// AddPartitionsToTxn answered: each partition's code.
    pub(crate) fn on_add_partitions(
        &mut self,
        now: Instant,
        answer: Answer<Vec<(TopicPartition, ErrorCode)>>,
    ) -> Step {
        let sent = match self.in_flight.take() {
            Some(TxnRequest::AddPartitions(tps)) => tps,
            _ => Vec::new(),
        };
        let results = match answer {
            Answer::Ok(results) => results,
            Answer::Code(code, _) => sent.iter().map(|tp| (tp.clone(), code)).collect(),
            Answer::Lost(_) => {
                self.pending.extend(sent);
                self.retry_later(now, true);
                return Step::Idle;
            }
            Answer::Unsupported(why) => return self.unsupported(&why),
        };
        let mut retry: Option<bool> = None;
        for (tp, code) in results {
            if code == ErrorCode::NONE {
                self.added.insert(tp);
                continue;
            }
            match react(code) {
                Reaction::Retry { rediscover } => {
                    self.pending.insert(tp);
                    retry = Some(retry.unwrap_or(false) || rediscover);
                }
                Reaction::Abortable => {
                    self.bump_needed |= matches!(
                        code,
                        ErrorCode::UNKNOWN_PRODUCER_ID | ErrorCode::INVALID_PRODUCER_ID_MAPPING
                    );
                    self.make_abortable(TransactionError::Abortable {
                        reason: format!("AddPartitionsToTxn for {tp} failed: {code}"),
                        code: Some(code),
                    });
                }
                Reaction::Fatal => {
                    return self.fail_fatally(fatal(
                        &format!("AddPartitionsToTxn for {tp}"),
                        code,
                        None,
                    ));
                }
            }
        }
        match retry {
            Some(rediscover) => self.retry_later(now, rediscover),
            None => self.failures = 0,
        }
        Step::Idle
    }

    /// EndTxn answered.
    pub(crate) fn on_end_txn(&mut self, now: Instant, answer: Answer<()>) -> Step {
        let commit = matches!(
            self.in_flight.take(),
            Some(TxnRequest::EndTxn { commit: true })
        );
        let op = if commit { TxnOp::Commit } else { TxnOp::Abort };
        match answer {
            Answer::Ok(()) => self.ended(op),
            Answer::Code(code, message) => match react(code) {
                Reaction::Retry { rediscover } => {
                    self.retry_later(now, rediscover);
                    Step::Idle
                }
                Reaction::Abortable if commit => {
                    self.bump_needed = true;
                    self.phase = TransactionPhase::AbortableError;
                    let reason = TransactionError::Abortable {
                        reason: format!("EndTxn(commit) failed: {code}"),
                        code: Some(code),
                    };
                    self.abortable = Some(reason.clone());
                    Step::Complete(op, Err(reason.into()))
                }
                // The coordinator no longer knows this producer id: the
                // transaction is gone anyway; restart the sequences.
                Reaction::Abortable => {
                    self.bump_needed = true;
                    self.ended(op)
                }
                Reaction::Fatal => self.fail_fatally(fatal("EndTxn", code, message.as_deref())),
            },
            Answer::Lost(_) => {
                self.retry_later(now, true);
                Step::Idle
            }
            Answer::Unsupported(why) => self.unsupported(&why),
        }
    }

    /// The broker lacks an API transactions need: fatal.
    pub(super) fn unsupported(&mut self, why: &str) -> Step {
        self.fail_fatally(Error::Fatal {
            reason: format!("{why}: this broker cannot run transactions"),
            code: None,
        })
    }

    fn ended(&mut self, op: TxnOp) -> Step {
        if op == TxnOp::Abort && self.bump_needed {
            self.added.clear();
            self.groups_added.clear();
            self.bumping = true;
            self.failures = 0;
            return Step::Idle;
        }
        self.finish(op)
    }
}
