//! The core's side of `send_offsets_to_transaction`: takes the command,
//! builds AddOffsetsToTxn, FindCoordinator (key type 0, the group) and
//! TxnOffsetCommit from the state machine's decisions, and reads the
//! group coordinator's per-partition answers.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;

use kproducer_net::TopicPartition;
use kproducer_protocol::ErrorCode;
use kproducer_protocol::messages::{
    AddOffsetsToTxnRequest, FindCoordinatorRequest, TxnOffsetCommitPartition,
    TxnOffsetCommitRequest, TxnOffsetCommitResponse, TxnOffsetCommitTopic,
};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::answers::find_coordinator_answer;
use super::outcome::{RequestFailure, TxnEvent};
use super::requests::ConnectionFuture;
use crate::core::idempotence::ProducerIdentity;
use crate::core::transaction::{Answer, OffsetCommit, Started, Step, TxnOp};
use crate::core::{Core, Event};
use crate::error::Error;

impl Core {
    /// A handle called `send_offsets_to_transaction`.
    pub(super) fn on_send_offsets(
        &mut self,
        commit: OffsetCommit,
        reply: oneshot::Sender<Result<(), Error>>,
    ) {
        let Some(link) = &mut self.transaction else {
            return;
        };
        match link.machine.send_offsets(commit.group, commit.offsets) {
            Err(e) => {
                let _ = reply.send(Err(e));
            }
            Ok(None) => {
                let _ = reply.send(Ok(()));
            }
            Ok(Some(Started::New | Started::Joined)) => {
                link.waiters.push((TxnOp::SendOffsets, reply));
                self.shared
                    .in_transaction
                    .store(link.machine.accepts_records(), Ordering::Release);
            }
        }
    }
}

impl Core {
    /// An offsets request's outcome arrived: the state machine's next step.
    pub(super) fn on_offsets_event(&mut self, now: Instant, event: TxnEvent) -> Step {
        let code_of =
            |code: i16, message: Option<String>| Answer::Code(ErrorCode::from_i16(code), message);
        match event {
            TxnEvent::AddOffsets(result) => {
                let answer = match result {
                    Ok(r) if r.error_code == 0 => Answer::Ok(()),
                    Ok(r) => code_of(r.error_code, None),
                    Err(e) => e.answer(),
                };
                self.with_machine(|m| m.on_add_offsets(now, answer))
            }
            TxnEvent::FindGroupCoordinator(result) => {
                let answer = match result {
                    Ok(r) => find_coordinator_answer(&r),
                    Err(e) => e.answer(),
                };
                self.with_machine(|m| m.on_find_group_coordinator(now, answer))
            }
            TxnEvent::CommitOffsets(result) => {
                let answer = match result {
                    Ok(r) => Answer::Ok(partition_codes(&r)),
                    Err(e) => e.answer(),
                };
                self.with_machine(|m| m.on_commit_offsets(now, answer))
            }
            // The transaction's own requests are answered in `mod.rs`.
            _ => Step::Idle,
        }
    }
}

type EventFuture = Pin<Box<dyn Future<Output = Event> + Send>>;

/// AddOffsetsToTxn to the transaction coordinator.
pub(super) fn add_offsets(
    group_id: String,
    transactional_id: String,
    producer: ProducerIdentity,
    connection: ConnectionFuture,
) -> EventFuture {
    let body = AddOffsetsToTxnRequest {
        transactional_id,
        producer_id: producer.id,
        producer_epoch: producer.epoch,
        group_id,
        ..Default::default()
    };
    Box::pin(async move {
        let result = match connection.await {
            Ok(c) => c.send(&body).await.map_err(RequestFailure::of),
            Err(e) => Err(RequestFailure::NotSent(e)),
        };
        Event::Transaction(TxnEvent::AddOffsets(result))
    })
}

/// FindCoordinator for a consumer group (key type 0), to any broker.
pub(super) fn find_group_coordinator(
    group_id: String,
    connection: ConnectionFuture,
) -> EventFuture {
    let body = FindCoordinatorRequest {
        key: group_id.clone(),
        key_type: 0,
        coordinator_keys: vec![group_id],
        ..Default::default()
    };
    Box::pin(async move {
        let result = match connection.await {
            Ok(c) => c.send(&body).await.map_err(RequestFailure::of),
            Err(e) => Err(RequestFailure::NotSent(e)),
        };
        Event::Transaction(TxnEvent::FindGroupCoordinator(result))
    })
}

/// TxnOffsetCommit to the group coordinator.
pub(super) fn commit_offsets(
    commit: OffsetCommit,
    transactional_id: String,
    producer: ProducerIdentity,
    connection: ConnectionFuture,
) -> EventFuture {
    let body = commit_request(commit, transactional_id, producer);
    Box::pin(async move {
        let result = match connection.await {
            Ok(c) => c.send(&body).await.map_err(RequestFailure::of),
            Err(e) => Err(RequestFailure::NotSent(e)),
        };
        Event::Transaction(TxnEvent::CommitOffsets(result))
    })
}

/// TxnOffsetCommit for `commit`, partitions grouped by topic.
fn commit_request(
    commit: OffsetCommit,
    transactional_id: String,
    producer: ProducerIdentity,
) -> TxnOffsetCommitRequest {
    let mut topics: Vec<TxnOffsetCommitTopic> = Vec::new();
    for (tp, o) in commit.offsets {
        let partition = TxnOffsetCommitPartition {
            partition_index: tp.partition,
            committed_offset: o.offset,
            committed_leader_epoch: o.leader_epoch.unwrap_or(-1),
            committed_metadata: o.metadata,
            ..Default::default()
        };
        // The offsets are sorted by topic: a topic's partitions are
        // consecutive.
        match topics.last_mut() {
            Some(t) if *t.name == *tp.topic => t.partitions.push(partition),
            _ => topics.push(TxnOffsetCommitTopic {
                name: tp.topic.to_string(),
                partitions: vec![partition],
                ..Default::default()
            }),
        }
    }
    let group = commit.group;
    TxnOffsetCommitRequest {
        transactional_id,
        group_id: group.group_id,
        producer_id: producer.id,
        producer_epoch: producer.epoch,
        generation_id: group.generation_id,
        member_id: group.member_id,
        group_instance_id: group.group_instance_id,
        topics,
        ..Default::default()
    }
}

/// Each partition's code in a TxnOffsetCommit answer.
fn partition_codes(r: &TxnOffsetCommitResponse) -> Vec<(TopicPartition, ErrorCode)> {
    r.topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| {
                (
                    TopicPartition::new(t.name.as_str(), p.partition_index),
                    ErrorCode::from_i16(p.error_code),
                )
            })
        })
        .collect()
}
