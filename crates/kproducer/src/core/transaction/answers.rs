//! The transaction state machine's side of the coordinator's answers:
//! how each error code is classified (Kafka's Java `TransactionManager`
//! handlers) and what FindCoordinator, InitProducerId, AddPartitionsToTxn
//! and EndTxn answers do to the transaction; the fatal messages for
//! requests that cannot be sent at all ([`Unsendable`]).

use kproducer_net::TopicPartition;
use kproducer_protocol::ErrorCode;
use tokio::time::Instant;

use super::{Coordinator, Step, Transaction, TxnOp, TxnRequest};
use crate::error::Error;
use crate::transaction::{TransactionError, TransactionPhase};

/// An answer from the coordinator, as the machine needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer<T> {
    /// The coordinator answered.
    Ok(T),
    /// The coordinator answered with an error code (and maybe a message).
    Code(ErrorCode, Option<String>),
    /// No answer, and the request may have reached the broker (the
    /// connection failed after it was written, or it timed out): the
    /// coordinator may have acted on it.
    Lost(String),
    /// No answer, and the request never reached the broker (no connection,
    /// or the connection closed before the request was written).
    NotSent(String),
    /// The request could not be sent at all (fatal; nothing was sent).
    Unsendable(Unsendable),
}

/// Why a coordinator request could not be sent at all. Each is fatal, with
/// its own message: what was wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unsendable {
    /// The broker supports no version of the request's API: it cannot run
    /// transactions (tansu 0.6.0 has no EndTxn).
    NoVersion(String),
    /// The group coordinator's newest TxnOffsetCommit is `version` (below
    /// v3, Kafka before 2.5), which cannot carry the consumer group
    /// metadata (generation id, member id, group instance id; KIP-447).
    GroupMetadataNeedsV3 {
        /// The TxnOffsetCommit version the broker offers.
        version: i16,
    },
    /// The request could not be encoded (a value longer than the wire
    /// format can carry, for example).
    Encode(String),
}

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

/// The fatal error's words for a request that could not be sent.
pub(super) fn unsendable_reason(why: &Unsendable) -> String {
    match why {
        Unsendable::NoVersion(why) => format!("{why}: this broker cannot run transactions"),
        Unsendable::GroupMetadataNeedsV3 { version } => format!(
            "send_offsets_to_transaction: the group coordinator speaks TxnOffsetCommit up to \
             v{version}, and the consumer group metadata (generation id, member id, group \
             instance id: KIP-447 fencing of zombie consumers) needs v3 (Kafka 2.5 or later); \
             nothing was sent. Pass ConsumerGroupMetadata::new(group_id), without generation \
             and member, to commit offsets without that fencing, or upgrade the brokers to \
             Kafka 2.5 or later"
        ),
        Unsendable::Encode(why) => format!(
            "{why}; nothing was sent. A transactional.id, group id, member id or offset \
             metadata too long for the wire format causes this; otherwise it is a kproducer \
             bug: please report it"
        ),
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
            Answer::Lost(_) | Answer::NotSent(_) => {
                self.retry_later(now, true);
                Step::Idle
            }
            Answer::Unsendable(why) => self.unsendable(&why),
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
            Answer::Lost(_) | Answer::NotSent(_) => {
                self.retry_later(now, true);
                Step::Idle
            }
            Answer::Unsendable(why) => self.unsendable(&why),
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
                // The coordinator may have added them: whatever happens
                // next, an abort must end the transaction.
                self.maybe_added = true;
                self.pending.extend(sent);
                self.retry_later(now, true);
                return Step::Idle;
            }
            Answer::NotSent(_) => {
                self.pending.extend(sent);
                self.retry_later(now, true);
                return Step::Idle;
            }
            Answer::Unsendable(why) => return self.unsendable(&why),
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
            // EndTxn(abort) went only because an add's answer was lost:
            // 48 says the coordinator holds no open transaction (Kafka
            // answers it for Empty and CompleteCommit), so the add never
            // happened and there was nothing to abort. Anywhere else 48
            // stays fatal.
            Answer::Code(ErrorCode::INVALID_TXN_STATE, _)
                if !commit && self.maybe_added && self.nothing_added() =>
            {
                self.ended(op)
            }
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
            Answer::Lost(_) | Answer::NotSent(_) => {
                self.retry_later(now, true);
                Step::Idle
            }
            Answer::Unsendable(why) => self.unsendable(&why),
        }
    }

    /// A request could not be sent at all: fatal, with what was wrong and
    /// what to do.
    pub(super) fn unsendable(&mut self, why: &Unsendable) -> Step {
        self.fail_fatally(Error::Fatal {
            reason: unsendable_reason(why),
            code: None,
        })
    }

    fn ended(&mut self, op: TxnOp) -> Step {
        if op == TxnOp::Abort && self.bump_needed {
            self.added.clear();
            self.groups_added.clear();
            self.maybe_added = false;
            self.bumping = true;
            self.failures = 0;
            return Step::Idle;
        }
        self.finish(op)
    }
}
