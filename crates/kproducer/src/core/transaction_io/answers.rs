//! Feeding the coordinator's answers to the transaction state machine:
//! each [`TxnEvent`] becomes an [`Answer`] for the machine, and the step
//! it decides completes the waiting callers. InitProducerId's producer id
//! and epoch go to the idempotence state here.

use kproducer_net::TopicPartition;
use kproducer_protocol::ErrorCode;
use kproducer_protocol::messages::FindCoordinatorResponse;
use tokio::time::Instant;

use super::outcome::TxnEvent;
use crate::core::Core;
use crate::core::idempotence::ProducerIdentity;
use crate::core::transaction::{Answer, Coordinator, Step, Transaction};
use crate::metrics;

impl Core {
    /// A coordinator request's outcome arrived.
    pub(in crate::core) fn on_transaction_event(&mut self, event: TxnEvent) {
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

    pub(super) fn with_machine(&mut self, f: impl FnOnce(&mut Transaction) -> Step) -> Step {
        match &mut self.transaction {
            Some(link) => f(&mut link.machine),
            None => Step::Idle,
        }
    }
}

/// The coordinator a FindCoordinator response names (v4+ answers per key).
pub(super) fn find_coordinator_answer(r: &FindCoordinatorResponse) -> Answer<Coordinator> {
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
