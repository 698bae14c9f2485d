//! The core's side of transactions: takes the users' transaction commands,
//! runs the [`Transaction`] state machine's decisions as coordinator
//! requests (FindCoordinator, InitProducerId, AddPartitionsToTxn, EndTxn),
//! feeds their answers back, drops unsent records when a transaction is
//! aborted, and answers the callers. `offsets.rs`: the requests of
//! `send_offsets_to_transaction` (AddOffsetsToTxn, FindCoordinator for the
//! group, TxnOffsetCommit).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;

use kproducer_net::{BrokerAddress, Connection, ConnectionError, TopicPartition};
use kproducer_protocol::ErrorCode;
use kproducer_protocol::messages::{
    AddOffsetsToTxnResponse, AddPartitionsToTxnRequest, AddPartitionsToTxnResponse,
    AddPartitionsToTxnTopic, EndTxnRequest, EndTxnResponse, FindCoordinatorRequest,
    FindCoordinatorResponse, InitProducerIdRequest, InitProducerIdResponse,
    TxnOffsetCommitResponse,
};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::idempotence::ProducerIdentity;
use super::transaction::{
    Answer, Coordinator, OffsetCommit, Started, Step, Transaction, TxnOp, TxnRequest,
};
use super::{Core, Event};
use crate::config::ProducerConfig;
use crate::error::Error;
use crate::metrics;
use crate::transaction::{TransactionError, TransactionPhase};

mod offsets;

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

/// Why a coordinator request got no answer.
#[derive(Debug)]
pub(crate) enum RequestFailure {
    /// The connection failed or the request timed out: retry.
    Lost(String),
    /// The broker supports no version of the API: fatal.
    Unsupported(String),
}

impl RequestFailure {
    fn of(e: ConnectionError) -> Self {
        match e {
            // An encode error is a request the broker's version cannot
            // carry (TxnOffsetCommit group metadata below v3): as fatal as
            // a missing API, as in Java.
            ConnectionError::UnsupportedApi { .. } | ConnectionError::Encode { .. } => {
                RequestFailure::Unsupported(e.to_string())
            }
            other => RequestFailure::Lost(other.to_string()),
        }
    }

    fn answer<T>(self) -> Answer<T> {
        match self {
            RequestFailure::Lost(why) => Answer::Lost(why),
            RequestFailure::Unsupported(why) => Answer::Unsupported(why),
        }
    }
}

type Outcome<T> = Result<T, RequestFailure>;

/// A coordinator request's outcome.
#[derive(Debug)]
pub(crate) enum TxnEvent {
    FindCoordinator(Outcome<FindCoordinatorResponse>),
    InitProducerId {
        bump: bool,
        result: Outcome<InitProducerIdResponse>,
    },
    AddPartitions(Outcome<AddPartitionsToTxnResponse>),
    EndTxn(Outcome<EndTxnResponse>),
    AddOffsets(Outcome<AddOffsetsToTxnResponse>),
    FindGroupCoordinator(Outcome<FindCoordinatorResponse>),
    CommitOffsets(Outcome<TxnOffsetCommitResponse>),
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

type ConnectionFuture = Pin<Box<dyn Future<Output = Result<Connection, String>> + Send>>;

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

    /// A connection to the coordinator: the broker's shared connection
    /// when its address is known from metadata, else a direct one.
    fn coordinator_connection(&mut self, c: &Coordinator) -> ConnectionFuture {
        if self.metadata.brokers.contains_key(&c.node)
            && let Some(link) = self.link(c.node)
        {
            let group = link.group.clone();
            return Box::pin(async move { group.connection(0).await.map_err(|e| e.to_string()) });
        }
        let transport = self.transport.clone();
        let config = self.group_config.connection.clone();
        let address = BrokerAddress::new(c.host.clone(), c.port);
        Box::pin(async move {
            Connection::connect(transport.as_ref(), &address, config)
                .await
                .map_err(|e| format!("transaction coordinator {address}: {e}"))
        })
    }

    fn producer_identity(&self) -> ProducerIdentity {
        self.idempotence
            .as_ref()
            .and_then(|i| i.producer())
            .unwrap_or(ProducerIdentity { id: -1, epoch: -1 })
    }

    fn send_transaction_request(&mut self, request: TxnRequest) {
        let Some(link) = &self.transaction else {
            return;
        };
        let id = link.transactional_id.clone();
        let timeout_ms = link.timeout_ms;
        let coordinator = link.machine.coordinator().cloned();
        let producer = self.producer_identity();
        tracing::debug!(?request, "transaction request");
        let group_coordinator = link.machine.group_coordinator().cloned();
        let connection = match (&request, coordinator, group_coordinator) {
            (TxnRequest::CommitOffsets(_), _, Some(g)) => self.coordinator_connection(&g),
            (
                TxnRequest::FindCoordinator
                | TxnRequest::FindGroupCoordinator { .. }
                | TxnRequest::CommitOffsets(_),
                _,
                _,
            )
            | (_, None, _) => self.control_connection(),
            (_, Some(c), _) => self.coordinator_connection(&c),
        };
        let future: Pin<Box<dyn Future<Output = Event> + Send>> = match request {
            TxnRequest::FindCoordinator => {
                let body = FindCoordinatorRequest {
                    key: id.clone(),
                    key_type: 1,
                    coordinator_keys: vec![id],
                    ..Default::default()
                };
                Box::pin(async move {
                    let result = match connection.await {
                        Ok(c) => c.send(&body).await.map_err(RequestFailure::of),
                        Err(e) => Err(RequestFailure::Lost(e)),
                    };
                    Event::Transaction(TxnEvent::FindCoordinator(result))
                })
            }
            TxnRequest::InitProducerId { bump } => {
                let (producer_id, producer_epoch) = if bump {
                    (producer.id, producer.epoch)
                } else {
                    (-1, -1)
                };
                let body = InitProducerIdRequest {
                    transactional_id: Some(id),
                    transaction_timeout_ms: timeout_ms,
                    producer_id,
                    producer_epoch,
                    tagged_fields: Default::default(),
                };
                Box::pin(async move {
                    let result = match connection.await {
                        Ok(c) => c.send(&body).await.map_err(RequestFailure::of),
                        Err(e) => Err(RequestFailure::Lost(e)),
                    };
                    Event::Transaction(TxnEvent::InitProducerId { bump, result })
                })
            }
            TxnRequest::AddPartitions(partitions) => {
                let mut topics: Vec<AddPartitionsToTxnTopic> = Vec::new();
                for tp in partitions {
                    match topics.iter_mut().find(|t| *t.name == *tp.topic) {
                        Some(t) => t.partitions.push(tp.partition),
                        None => topics.push(AddPartitionsToTxnTopic {
                            name: tp.topic.to_string(),
                            partitions: vec![tp.partition],
                            ..Default::default()
                        }),
                    }
                }
                let body = AddPartitionsToTxnRequest {
                    transactional_id: id,
                    producer_id: producer.id,
                    producer_epoch: producer.epoch,
                    topics,
                    ..Default::default()
                };
                Box::pin(async move {
                    let result = match connection.await {
                        Ok(c) => c.send(&body).await.map_err(RequestFailure::of),
                        Err(e) => Err(RequestFailure::Lost(e)),
                    };
                    Event::Transaction(TxnEvent::AddPartitions(result))
                })
            }
            TxnRequest::EndTxn { commit } => {
                let body = EndTxnRequest {
                    transactional_id: id,
                    producer_id: producer.id,
                    producer_epoch: producer.epoch,
                    committed: commit,
                    ..Default::default()
                };
                Box::pin(async move {
                    let result = match connection.await {
                        Ok(c) => c.send(&body).await.map_err(RequestFailure::of),
                        Err(e) => Err(RequestFailure::Lost(e)),
                    };
                    Event::Transaction(TxnEvent::EndTxn(result))
                })
            }
            TxnRequest::AddOffsets { group_id } => {
                offsets::add_offsets(group_id, id, producer, connection)
            }
            TxnRequest::FindGroupCoordinator { group_id } => {
                offsets::find_group_coordinator(group_id, connection)
            }
            TxnRequest::CommitOffsets(commit) => {
                offsets::commit_offsets(commit, id, producer, connection)
            }
        };
        self.events.push(future);
    }

    /// A coordinator request's outcome arrived.
    pub(super) fn on_transaction_event(&mut self, event: TxnEvent) {
        tracing::debug!(?event, "transaction answer");
        let now = Instant::now();
        let code_of =
            |code: i16, message: Option<String>| Answer::Code(ErrorCode::from_i16(code), message);
        let step = match event {
            TxnEvent::FindCoordinator(result) => {
                let answer = match result {
                    Ok(r) => find_coordinator_answer(&r),
                    Err(e) => e.answer(),
                };
                self.with_machine(|m| m.on_find_coordinator(now, answer))
            }
            TxnEvent::InitProducerId { bump, result } => {
                let answer = match result {
                    Ok(r) if r.error_code == 0 => {
                        let p = ProducerIdentity {
                            id: r.producer_id,
                            epoch: r.producer_epoch,
                        };
                        tracing::info!(
                            producer_id = p.id,
                            epoch = p.epoch,
                            bump,
                            "transactional producer id assigned"
                        );
                        if let Some(idem) = &mut self.idempotence {
                            idem.set_producer(p);
                        }
                        if bump {
                            metrics::add(&self.shared.metrics.epoch_bumps, 1);
                        }
                        Answer::Ok(())
                    }
                    Ok(r) => code_of(r.error_code, None),
                    Err(e) => e.answer(),
                };
                self.with_machine(|m| m.on_init_producer_id(now, answer))
            }
            TxnEvent::AddPartitions(result) => {
                let answer = match result {
                    Ok(r) => Answer::Ok(
                        r.results
                            .iter()
                            .flat_map(|t| {
                                t.results.iter().map(|p| {
                                    (
                                        TopicPartition::new(t.name.as_str(), p.partition_index),
                                        ErrorCode::from_i16(p.error_code),
                                    )
                                })
                            })
                            .collect(),
                    ),
                    Err(e) => e.answer(),
                };
                self.with_machine(|m| m.on_add_partitions(now, answer))
            }
            TxnEvent::EndTxn(result) => {
                let answer = match result {
                    Ok(r) if r.error_code == 0 => Answer::Ok(()),
                    Ok(r) => code_of(r.error_code, None),
                    Err(e) => e.answer(),
                };
                self.with_machine(|m| m.on_end_txn(now, answer))
            }
            offsets_event => self.on_offsets_event(now, offsets_event),
        };
        if let Step::Complete(op, result) = step {
            self.complete_operation(op, result);
        }
        // A fatal answer with no operation waiting (AddPartitionsToTxn
        // fenced mid-transaction) still ends the producer.
        if self.fatal.is_none()
            && let Some(e) = self
                .transaction
                .as_ref()
                .and_then(|l| l.machine.fatal_error().cloned())
        {
            self.set_fatal(e);
        }
    }

    fn with_machine(&mut self, f: impl FnOnce(&mut Transaction) -> Step) -> Step {
        match &mut self.transaction {
            Some(link) => f(&mut link.machine),
            None => Step::Idle,
        }
    }
}

/// The coordinator a FindCoordinator response names (v4+ answers per key).
fn find_coordinator_answer(r: &FindCoordinatorResponse) -> Answer<Coordinator> {
    let (code, message, node, host, port) = match r.coordinators.first() {
        Some(c) => (
            c.error_code,
            c.error_message.clone(),
            c.node_id,
            c.host.clone(),
            c.port,
        ),
        None => (
            r.error_code,
            r.error_message.clone(),
            r.node_id,
            r.host.clone(),
            r.port,
        ),
    };
    if code != 0 {
        return Answer::Code(ErrorCode::from_i16(code), message);
    }
    match u16::try_from(port) {
        Ok(port) if node >= 0 => Answer::Ok(Coordinator { node, host, port }),
        _ => Answer::Code(
            ErrorCode::COORDINATOR_NOT_AVAILABLE,
            Some(format!("FindCoordinator named node {node} at port {port}")),
        ),
    }
}
