//! AddPartitionsToTxn (24): partitions join the ongoing transaction.
//! Every partition gets the same answer: 16 from a broker that is not the
//! coordinator, 3 for a partition that does not exist, 49 / 90 from the
//! coordinator's checks, or 0.

use kproducer_net::TopicPartition;
use kproducer_protocol::messages::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnRequest, AddPartitionsToTxnResponse,
    AddPartitionsToTxnTopicResult,
};
use kproducer_protocol::{ApiKey, ErrorCode, RequestHeader};

use super::coordinator::ensure_coordinator;
use super::{Handled, InjectedErrors};
use crate::cluster::FakeCluster;
use crate::server::response_frame;

use crate::connection_id::ConnectionId;

pub(crate) fn handle(
    cluster: &FakeCluster,
    conn: ConnectionId,
    header: &RequestHeader,
    request: &AddPartitionsToTxnRequest,
    errors: &InjectedErrors,
) -> Handled {
    let partitions: Vec<TopicPartition> = request
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(|&p| TopicPartition::new(t.name.clone(), p))
        })
        .collect();
    let mut state = cluster.lock();
    let missing = partitions
        .iter()
        .any(|tp| state.partition(&tp.topic, tp.partition).is_err());
    let result = match errors.top_level() {
        Some(code) => Err(code),
        None => ensure_coordinator(&state, conn.broker).and_then(|()| {
            if missing {
                Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
            } else {
                state.txn.add_partitions(
                    &request.transactional_id,
                    request.producer_id,
                    request.producer_epoch,
                    &partitions,
                )
            }
        }),
    };
    drop(state);
    let code = result.err().unwrap_or(ErrorCode::NONE).as_i16();
    let body = AddPartitionsToTxnResponse {
        results: request
            .topics
            .iter()
            .map(|t| AddPartitionsToTxnTopicResult {
                name: t.name.clone(),
                results: t
                    .partitions
                    .iter()
                    .map(|&p| AddPartitionsToTxnPartitionResult {
                        partition_index: p,
                        error_code: code,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    Handled::answer(response_frame(
        ApiKey::AddPartitionsToTxn,
        header.api_version,
        header.correlation_id,
        &body,
    ))
}
