//! The core's side of transactions: takes the users' transaction commands,
//! runs the [`Transaction`] state machine's decisions as coordinator
//! requests, feeds their answers back, drops unsent records when a
//! transaction is aborted, and answers the callers.
//!
//! - `mod.rs`: the users' commands, the state machine's steps after each
//!   drain, and the callers waiting for an operation.
//! - `requests.rs`: the machine's requests built and sent
//!   (FindCoordinator, InitProducerId, AddPartitionsToTxn, EndTxn).
//! - `outcome.rs`: what a request comes back with, and why there may be
//!   no answer.
//! - `answers.rs`: the answers fed back to the machine.
//! - `offsets.rs`: the requests of `send_offsets_to_transaction`
//!   (AddOffsetsToTxn, FindCoordinator for the group, TxnOffsetCommit).

use std::sync::atomic::Ordering;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::Core;
use super::transaction::{OffsetCommit, Started, Step, Transaction, TxnOp};
use crate::config::ProducerConfig;
use crate::error::Error;
use crate::transaction::{TransactionError, TransactionPhase};

mod answers;
mod offsets;
mod outcome;
mod requests;

pub(crate) use outcome::TxnEvent;

/// A transaction operation a producer handle asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TxnCommand {
    Init,
    Begin,
    Commit,
    Abort,
    /// `send_offsets_to_transaction` (boxed: a command stays one record's
    /// size in the queue).
    SendOffsets(Box<OffsetCommit>),
}

/// A transactional producer's transaction as the core holds it: the state
/// machine plus who waits for which operation.
#[derive(Debug)]
pub(crate) struct TransactionLink {
    pub(crate) machine: Transaction,
    transactional_id: String,
    timeout_ms: i32,
    waiters: Vec<(TxnOp, oneshot::Sender<Result<(), Error>>)>,
    /// The flush generation a commit waits for.
    commit_generation: Option<u64>,
    /// An outcome no caller received (each had timed out): the next call of
    /// the same operation gets it.
    unclaimed: Option<(TxnOp, Result<(), Error>)>,
}

impl TransactionLink {
    /// The transaction of a producer configured with `transactional.id`.
    pub(crate) fn new(config: &ProducerConfig) -> Option<Self> {
        let id = config.transactional_id.clone()?;
        Some(TransactionLink {
            machine: Transaction::new(config.retry_backoff, config.retry_backoff_max),
            transactional_id: id,
            timeout_ms: i32::try_from(config.transaction_timeout.as_millis()).unwrap_or(i32::MAX),
            waiters: Vec::new(),
            commit_generation: None,
            unclaimed: None,
        })
    }
}

impl Core {
    /// A handle asked for a transaction operation.
    pub(super) fn on_transaction_command(
        &mut self,
        command: TxnCommand,
        reply: oneshot::Sender<Result<(), Error>>,
    ) {
        let fatal = self.fatal.clone();
        let Some(link) = &mut self.transaction else {
            let operation = match command {
                TxnCommand::Init => "init_transactions",
                TxnCommand::Begin => "begin_transaction",
                TxnCommand::Commit => "commit_transaction",
                TxnCommand::Abort => "abort_transaction",
                TxnCommand::SendOffsets(_) => "send_offsets_to_transaction",
            };
            let _ = reply.send(Err(TransactionError::NotTransactional { operation }.into()));
            return;
        };
        if let Some(e) = fatal {
            let _ = reply.send(Err(e));
            return;
        }
        let op = match command {
            TxnCommand::Begin => {
                let result = link.machine.begin();
                link.unclaimed = None;
                self.shared
                    .in_transaction
                    .store(link.machine.accepts_records(), Ordering::Release);
                let _ = reply.send(result);
                return;
            }
            TxnCommand::SendOffsets(commit) => {
                self.on_send_offsets(*commit, reply);
                return;
            }
            TxnCommand::Init => TxnOp::Init,
            TxnCommand::Commit => TxnOp::Commit,
            TxnCommand::Abort => TxnOp::Abort,
        };
        match link.unclaimed.take() {
            Some((done, result)) if done == op => {
                let _ = reply.send(result);
                return;
            }
            _ => {}
        }
        let started = match op {
            TxnOp::Init => link.machine.init(),
            TxnOp::Commit => link.machine.commit(),
            TxnOp::Abort => link.machine.abort(),
            // Handled above.
            TxnOp::SendOffsets => return,
        };
        match started {
            Err(e) => {
                let _ = reply.send(Err(e));
            }
            Ok(started) => {
                link.waiters.push((op, reply));
                self.shared
                    .in_transaction
                    .store(link.machine.accepts_records(), Ordering::Release);
                if started == Started::New {
                    match op {
                        TxnOp::Commit => {
                            // Flush: records sent before the commit belong
                            // to older generations; sealing is forced while
                            // a flush waiter is registered.
                            self.flush_gen += 1;
                            link.commit_generation = Some(self.flush_gen);
                            let (tx, _) = oneshot::channel();
                            self.flush_waiters.push((self.flush_gen, tx));
                        }
                        // The brokers' addresses, so coordinator requests
                        // share the brokers' connections.
                        TxnOp::Init => self.metadata.refresh_requested = true,
                        TxnOp::Abort | TxnOp::SendOffsets => {}
                    }
                }
            }
        }
    }

    /// `close` with a transaction open aborts it (as Java's producer does on
    /// a graceful close): its unsent records fail with
    /// [`TransactionError::Aborted`] and the coordinator writes abort
    /// markers, so nothing of it waits for `transaction.timeout.ms`.
    pub(super) fn abort_open_transaction_on_close(&mut self) {
        if let Some(link) = &mut self.transaction
            && link.machine.accepts_records()
            && link.machine.abort().is_ok()
        {
            tracing::info!("closing with a transaction open: aborting it");
            self.shared.in_transaction.store(false, Ordering::Release);
        }
    }

    /// No transaction operation is under way (close waits for one, up to
    /// its deadline).
    pub(super) fn transaction_idle(&self) -> bool {
        self.transaction
            .as_ref()
            .is_none_or(|t| t.machine.operation().is_none() || self.fatal.is_some())
    }

    /// After each drain: drop what an abort drops, then let the state
    /// machine send its next request or finish an operation.
    pub(super) fn transaction_tick(&mut self, now: Instant) {
        let Some(link) = &mut self.transaction else {
            return;
        };
        if let Some(e) = &self.fatal
            && link.machine.phase() != TransactionPhase::FatalError
        {
            link.machine.on_fatal(e);
        }
        if link.machine.phase() == TransactionPhase::FatalError {
            self.finish_all_waiters();
            return;
        }
        if let Some(error) = link.machine.drop_unsent() {
            self.drop_unsent(&error);
        }
        loop {
            let settled = self.transaction_settled();
            let Some(link) = &mut self.transaction else {
                return;
            };
            match link.machine.poll(now, settled) {
                Step::Idle => break,
                Step::Send(request) => {
                    self.send_transaction_request(request);
                    break;
                }
                Step::Complete(op, result) => self.complete_operation(op, result),
            }
        }
        if let Some(link) = &self.transaction {
            self.shared
                .in_transaction
                .store(link.machine.accepts_records(), Ordering::Release);
        }
    }

    /// For a commit: every record sent before it is resolved. For an
    /// abort: nothing of the transaction is in flight.
    fn transaction_settled(&self) -> bool {
        let Some(link) = &self.transaction else {
            return true;
        };
        match link.machine.phase() {
            TransactionPhase::Committing => link
                .commit_generation
                .is_none_or(|g| self.outstanding.keys().next().is_none_or(|&o| o >= g)),
            _ => self.requests.is_empty(),
        }
    }

    /// Fails every record not in flight (waiting for metadata, open,
    /// queued, waiting for a retry) with `error`.
    fn drop_unsent(&mut self, error: &Error) {
        for batch in self.fail_waiting_take_unsent(error) {
            if let (Some(idem), Some(seq)) = (&mut self.idempotence, batch.seq) {
                // Its sequence will never be written: the partition needs
                // the epoch bump that follows the abort.
                idem.on_expired(&batch.tp, seq, false);
                if let Some(link) = &mut self.transaction {
                    link.machine.note_sequence_gap();
                }
            }
            self.fail_batch(batch, error);
        }
    }

    /// Answers the callers of `op`; a fatal outcome makes the producer fatal.
    fn complete_operation(&mut self, op: TxnOp, result: Result<(), Error>) {
        if let Err(e @ Error::Fatal { .. }) = &result
            && self.fatal.is_none()
        {
            self.set_fatal(e.clone());
        }
        let Some(link) = &mut self.transaction else {
            return;
        };
        if op == TxnOp::Commit {
            link.commit_generation = None;
        }
        let mut delivered = false;
        let mut i = 0;
        while i < link.waiters.len() {
            if link.waiters[i].0 == op {
                let (_, tx) = link.waiters.swap_remove(i);
                delivered |= tx.send(result.clone()).is_ok();
            } else {
                i += 1;
            }
        }
        // Offsets nobody waits for any more need no keeping: a failure left
        // the transaction abortable, which the next call reports anyway.
        if !delivered && op != TxnOp::SendOffsets {
            link.unclaimed = Some((op, result));
        }
    }

    /// The producer is fatal: every waiting caller gets the error.
    fn finish_all_waiters(&mut self) {
        let Some(error) = self.fatal.clone() else {
            return;
        };
        if let Some(link) = &mut self.transaction {
            for (_, tx) in link.waiters.drain(..) {
                let _ = tx.send(Err(error.clone()));
            }
            self.shared.in_transaction.store(false, Ordering::Release);
        }
    }
}
