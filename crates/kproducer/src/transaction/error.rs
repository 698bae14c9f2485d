//! [`TransactionError`] and [`TransactionPhase`]: what a transactional
//! producer answers when an operation does not fit where its transaction
//! stands, and where that is.

use std::time::Duration;

use kproducer_protocol::ErrorCode;

/// Where a transactional producer's transaction stands (see the state
/// diagram in `docs/transactions.md`).
///
/// ```
/// use kproducer::TransactionPhase;
///
/// assert_eq!(TransactionPhase::InTransaction.to_string(), "in a transaction");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransactionPhase {
    /// `init_transactions` has not been called.
    Uninitialized,
    /// `init_transactions` is finding the coordinator and the producer id.
    Initializing,
    /// Initialized, no transaction open: `begin_transaction` may be called.
    Ready,
    /// A transaction is open: records may be sent.
    InTransaction,
    /// `commit_transaction` is flushing and ending the transaction.
    Committing,
    /// `abort_transaction` is dropping unsent records and ending the
    /// transaction.
    Aborting,
    /// The transaction hit an error it cannot commit after: abort it, then
    /// begin a new one.
    AbortableError,
    /// The producer cannot go on (fenced, not authorized): create a new one.
    FatalError,
}

impl std::fmt::Display for TransactionPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TransactionPhase::Uninitialized => "not initialized",
            TransactionPhase::Initializing => "initializing",
            TransactionPhase::Ready => "ready (no transaction open)",
            TransactionPhase::InTransaction => "in a transaction",
            TransactionPhase::Committing => "committing",
            TransactionPhase::Aborting => "aborting",
            TransactionPhase::AbortableError => "failed (abortable)",
            TransactionPhase::FatalError => "failed (fatal)",
        })
    }
}

/// A transaction operation that cannot go ahead, or a transaction that
/// cannot commit. Fatal errors (fenced by a newer instance, not authorized)
/// are [`Error::Fatal`](crate::Error::Fatal) instead: the producer is done.
///
/// ```
/// use kproducer::{Error, TransactionError, TransactionPhase};
///
/// let e = Error::from(TransactionError::InvalidState {
///     operation: "commit_transaction",
///     phase: TransactionPhase::Ready,
///     hint: "begin a transaction first",
/// });
/// assert!(e.to_string().contains("commit_transaction"));
/// assert!(matches!(e, Error::Transaction(TransactionError::InvalidState { .. })));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransactionError {
    /// A transaction operation on a producer built without
    /// `transactional.id`.
    #[error("{operation} needs a transactional producer: set transactional.id when building it")]
    NotTransactional {
        /// The operation called.
        operation: &'static str,
    },
    /// A record sent while no transaction is open.
    #[error(
        "a transactional producer sends records only inside a transaction: call begin_transaction first"
    )]
    NoTransaction,
    /// The operation does not fit the transaction's phase (committing
    /// twice, beginning inside a transaction, …).
    #[error("{operation} cannot be called while the producer is {phase}: {hint}")]
    InvalidState {
        /// The operation called.
        operation: &'static str,
        /// Where the transaction stood.
        phase: TransactionPhase,
        /// What to do instead.
        hint: &'static str,
    },
    /// The transaction cannot be committed (a record of it failed, or the
    /// coordinator refused it). Call `abort_transaction`, then begin a new
    /// transaction; the producer carries on.
    #[error(
        "the transaction cannot be committed: {reason}; call abort_transaction, then begin a new transaction"
    )]
    Abortable {
        /// What went wrong.
        reason: String,
        /// The broker's error code, when a broker caused it.
        code: Option<ErrorCode>,
    },
    /// The record was dropped unsent because its transaction was aborted
    /// (or could no longer commit).
    #[error("the record's transaction was aborted before the record was sent")]
    Aborted,
    /// The operation did not finish within the caller's timeout. It goes on
    /// in the background: call the same operation again to wait for its
    /// outcome.
    #[error(
        "{operation} did not finish within {timeout:?}; it goes on in the background: call {operation} again to wait for it"
    )]
    Timeout {
        /// The operation called.
        operation: &'static str,
        /// The caller's timeout.
        timeout: Duration,
    },
}

impl TransactionError {
    /// The broker's error code, if a broker caused the error.
    ///
    /// ```
    /// use kproducer::TransactionError;
    /// use kproducer::protocol::ErrorCode;
    ///
    /// let e = TransactionError::Abortable {
    ///     reason: "a batch was refused".into(),
    ///     code: Some(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER),
    /// };
    /// assert_eq!(e.code(), Some(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER));
    /// assert_eq!(TransactionError::Aborted.code(), None);
    /// ```
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            TransactionError::Abortable { code, .. } => *code,
            _ => None,
        }
    }

    /// Whether the transaction failed because the consumer group
    /// rebalanced: the group coordinator refused the offsets of
    /// [`send_offsets_to_transaction`](crate::Producer::send_offsets_to_transaction)
    /// with 25 `UNKNOWN_MEMBER_ID`, 22 `ILLEGAL_GENERATION` or 82
    /// `FENCED_INSTANCE_ID` (KIP-447). Abort the transaction, let the
    /// consumer rejoin the group, and process from its committed offsets
    /// again.
    ///
    /// ```
    /// use kproducer::TransactionError;
    /// use kproducer::protocol::ErrorCode;
    ///
    /// let e = TransactionError::Abortable {
    ///     reason: "the consumer group rebalanced".into(),
    ///     code: Some(ErrorCode::ILLEGAL_GENERATION),
    /// };
    /// assert!(e.is_group_rebalance());
    /// assert!(!TransactionError::Aborted.is_group_rebalance());
    /// ```
    pub fn is_group_rebalance(&self) -> bool {
        matches!(
            self.code(),
            Some(
                ErrorCode::UNKNOWN_MEMBER_ID
                    | ErrorCode::ILLEGAL_GENERATION
                    | ErrorCode::FENCED_INSTANCE_ID
            )
        )
    }
}
