//! TxnOffsetCommit (28): the group coordinator keeps a consumer group's
//! offsets pending under the producer id until the transaction's marker
//! commits or discards them (see `group_offsets.rs`).
//!
//! Every partition gets the same answer, checked in this order: an
//! injected error (per partition); 16 from a broker that is not the
//! coordinator (the fake broker's one coordinator serves groups and
//! transactions); 49 / 90 from the producer check against the transaction
//! coordinator (what Kafka 3.6+ verifies, KIP-890); 25 / 22 / 82 from the
//! KIP-447 member check; 3 for a partition that does not exist; else 0 and
//! the offsets are pending. A group the ongoing transaction does not
//! include is accepted and counted in
//! [`Counters::unadded_offset_commits`](crate::Counters::unadded_offset_commits).

use kproducer_net::TopicPartition;
use kproducer_protocol::messages::{
    TxnOffsetCommitPartitionResult, TxnOffsetCommitRequest, TxnOffsetCommitResponse,
    TxnOffsetCommitTopicResult,
};
use kproducer_protocol::{ApiKey, ErrorCode, RequestHeader};

use super::coordinator::ensure_coordinator;
use super::{Handled, InjectedErrors};
use crate::cluster::FakeCluster;
use crate::connection_id::ConnectionId;
use crate::group_offsets::{CommittedOffset, MemberClaim};
use crate::server::response_frame;

pub(crate) fn handle(
    cluster: &FakeCluster,
    conn: ConnectionId,
    header: &RequestHeader,
    request: &TxnOffsetCommitRequest,
    errors: &InjectedErrors,
) -> Handled {
    let mut state = cluster.lock();
    let claim = MemberClaim {
        generation_id: request.generation_id,
        member_id: &request.member_id,
        group_instance_id: request.group_instance_id.as_deref(),
    };
    let checked = ensure_coordinator(&state, conn.broker)
        .and_then(|()| {
            state.txn.check_offset_commit(
                &request.transactional_id,
                request.producer_id,
                request.producer_epoch,
                &request.group_id,
            )
        })
        .and_then(|included| {
            state.groups.check_member(&request.group_id, claim)?;
            Ok(included)
        });
    let mut accepted = Vec::new();
    let mut topics = Vec::with_capacity(request.topics.len());
    for t in &request.topics {
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in &t.partitions {
            let tp = TopicPartition::new(t.name.clone(), p.partition_index);
            let code = match (errors.for_partition(&tp), &checked) {
                (Some(code), _) => code,
                (None, Err(code)) => *code,
                (None, Ok(_)) if state.partition(&t.name, p.partition_index).is_err() => {
                    ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                }
                (None, Ok(_)) => {
                    accepted.push((
                        tp,
                        CommittedOffset {
                            offset: p.committed_offset,
                            leader_epoch: p.committed_leader_epoch,
                            metadata: p.committed_metadata.clone(),
                        },
                    ));
                    ErrorCode::NONE
                }
            };
            partitions.push(TxnOffsetCommitPartitionResult {
                partition_index: p.partition_index,
                error_code: code.as_i16(),
                ..Default::default()
            });
        }
        topics.push(TxnOffsetCommitTopicResult {
            name: t.name.clone(),
            partitions,
            ..Default::default()
        });
    }
    if !accepted.is_empty() {
        if checked == Ok(false) {
            state.counters.unadded_offset_commits += 1;
        }
        state
            .groups
            .add_pending(request.producer_id, &request.group_id, accepted);
    }
    drop(state);
    let body = TxnOffsetCommitResponse {
        topics,
        ..Default::default()
    };
    Handled::answer(response_frame(
        ApiKey::TxnOffsetCommit,
        header.api_version,
        header.correlation_id,
        &body,
    ))
}
