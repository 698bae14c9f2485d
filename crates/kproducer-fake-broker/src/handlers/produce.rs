//! Produce (0): validate each partition's batch, apply the idempotence
//! rules, append, answer (or not, with acks=0).
//!
//! Per partition, in order: an injected error; unknown topic (3, or
//! auto-create); not the leader (6); the batch checks of
//! [`check_batch`](crate::batch_check::check_batch) (87, 2, 10); the
//! sequence rules (45, 46, 47, or a duplicate answered with the original
//! offset). With one replica per partition, acks=1 and acks=all behave the
//! same; acks other than -1, 0 or 1 is 21 `INVALID_REQUIRED_ACKS`.

use std::collections::BTreeSet;

use kproducer_net::TopicPartition;
use kproducer_protocol::messages::{
    LeaderIdAndEpoch, NodeEndpoint, PartitionProduceResponse, ProduceRequest, ProduceResponse,
    TopicProduceResponse,
};
use kproducer_protocol::{ApiKey, ErrorCode, RequestHeader};

use super::leader::led_partition_mut;
use super::{Handled, InjectedErrors};
use crate::batch_check::{BatchRefusal, check_batch, peek_meta};
use crate::cluster::FakeCluster;
use crate::cluster_state::ClusterState;
use crate::inspect::ProducedBatch;
use crate::partition_log::{AppendOutcome, BatchMeta};
use crate::producer_state::add_sequence;
use crate::server::response_frame;

use crate::connection_id::ConnectionId;

/// No batch could be read: what the request log shows for it.
const UNREADABLE: BatchMeta = BatchMeta {
    producer_id: -1,
    producer_epoch: -1,
    base_sequence: -1,
    record_count: 0,
    is_transactional: false,
    is_control: false,
    max_timestamp: -1,
};

struct PartitionResult {
    code: ErrorCode,
    base_offset: i64,
    log_start_offset: i64,
    message: Option<String>,
    meta: BatchMeta,
    /// With 6: the partition's live leader and its epoch (KIP-951).
    current_leader: Option<(i32, i32)>,
}

impl PartitionResult {
    fn error(code: ErrorCode, meta: BatchMeta, message: Option<String>) -> Self {
        Self {
            code,
            base_offset: -1,
            log_start_offset: -1,
            message,
            meta,
            current_leader: None,
        }
    }

    /// The same refusal, reporting the partition's log start offset.
    fn at(self, log_start_offset: i64) -> Self {
        Self {
            log_start_offset,
            ..self
        }
    }
}

fn produce_one(
    state: &mut ClusterState,
    conn: ConnectionId,
    acks_valid: bool,
    tp: &TopicPartition,
    records: Option<&bytes::Bytes>,
    injected: Option<ErrorCode>,
    after_append: Option<ErrorCode>,
) -> PartitionResult {
    let config = &state.config;
    let rules = config.idempotence_rules();
    let max_message_bytes = config.max_message_bytes;
    let validate = config.validate_records;
    let checked = check_batch(records, max_message_bytes, validate);
    let meta = checked
        .as_ref()
        .map_or_else(|_| peek_meta(records).unwrap_or(UNREADABLE), |(m, _)| *m);
    if let Some(code) = injected {
        return PartitionResult::error(code, meta, None);
    }
    if !acks_valid {
        return PartitionResult::error(ErrorCode::INVALID_REQUIRED_ACKS, meta, None);
    }
    if !state.topics.contains_key(&*tp.topic) && state.config.auto_create_topics {
        let partitions = state.config.auto_create_partitions;
        // Fails only for an invalid name, which then reads as unknown below.
        let _ = state.create_topic(&tp.topic, partitions, None);
    }
    let partition = match led_partition_mut(state, conn.broker, &tp.topic, tp.partition, -1) {
        Ok(p) => p,
        Err(code) => {
            let mut refused = PartitionResult::error(code, meta, None);
            if code == ErrorCode::NOT_LEADER_OR_FOLLOWER {
                refused.current_leader = state
                    .partition(&tp.topic, tp.partition)
                    .ok()
                    .filter(|p| state.brokers.get(&p.leader).is_some_and(|b| b.up))
                    .map(|p| (p.leader, p.leader_epoch));
            }
            return refused;
        }
    };
    // Past this point Kafka reports the partition's log start offset with
    // errors too (`unknownLogAppendInfoWithLogStartOffset`): a client tells
    // a 59 after truncation from one after a lost response by it.
    let log_start_offset = partition.log.log_start_offset();
    let (meta, raw) = match checked {
        Ok(ok) => ok,
        Err(BatchRefusal { code, message }) => {
            return PartitionResult::error(code, meta, Some(message)).at(log_start_offset);
        }
    };
    let outcome = partition.log.append(meta, raw, rules);
    if meta.is_transactional
        && matches!(outcome, AppendOutcome::Appended { .. })
        && !state.txn.includes(meta.producer_id, tp)
    {
        state.counters.unadded_transactional_batches += 1;
    }
    let counters = &mut state.counters;
    let result = match outcome {
        AppendOutcome::Appended { base_offset } => {
            counters.batches_appended += 1;
            counters.records_appended += u64::try_from(meta.record_count).unwrap_or(0);
            PartitionResult {
                code: ErrorCode::NONE,
                base_offset,
                log_start_offset,
                message: None,
                meta,
                current_leader: None,
            }
        }
        AppendOutcome::Duplicate { base_offset } => {
            counters.duplicate_batches += 1;
            PartitionResult {
                code: ErrorCode::NONE,
                base_offset,
                log_start_offset,
                message: None,
                meta,
                current_leader: None,
            }
        }
        AppendOutcome::Rejected(reason) => {
            let code = reason.error_code();
            *counters.rejected_batches.entry(code).or_default() += 1;
            PartitionResult::error(code, meta, Some(reason.to_string())).at(log_start_offset)
        }
    };
    match after_append {
        Some(code) => PartitionResult::error(code, meta, None).at(log_start_offset),
        None => result,
    }
}

pub(crate) fn handle(
    cluster: &FakeCluster,
    conn: ConnectionId,
    header: &RequestHeader,
    request: &ProduceRequest,
    errors: &InjectedErrors,
) -> Handled {
    let acks_valid = matches!(request.acks, -1..=1);
    let mut batches = Vec::new();
    let mut leaders = BTreeSet::new();
    let mut state = cluster.lock();
    let responses = request
        .topic_data
        .iter()
        .map(|t| TopicProduceResponse {
            name: t.name.clone(),
            partition_responses: t
                .partition_data
                .iter()
                .map(|p| {
                    let tp = TopicPartition::new(t.name.clone(), p.index);
                    let r = produce_one(
                        &mut state,
                        conn,
                        acks_valid,
                        &tp,
                        p.records.as_ref(),
                        errors.before_append(&tp),
                        errors.after_append(&tp),
                    );
                    batches.push(ProducedBatch {
                        topic_partition: tp,
                        meta: r.meta,
                        last_sequence: add_sequence(
                            r.meta.base_sequence,
                            r.meta.record_count.max(1) - 1,
                        ),
                        error_code: r.code,
                        base_offset: r.base_offset,
                    });
                    PartitionProduceResponse {
                        index: p.index,
                        error_code: r.code.as_i16(),
                        base_offset: r.base_offset,
                        log_append_time_ms: -1,
                        log_start_offset: r.log_start_offset,
                        error_message: r.message,
                        current_leader: r.current_leader.map(|(leader_id, leader_epoch)| {
                            leaders.insert(leader_id);
                            LeaderIdAndEpoch {
                                leader_id,
                                leader_epoch,
                                ..Default::default()
                            }
                        }),
                        ..Default::default()
                    }
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    // KIP-951: name the endpoints of the leaders pointed to above.
    let node_endpoints = (!leaders.is_empty()).then(|| {
        leaders
            .iter()
            .filter_map(|id| state.brokers.get(id).map(|b| (id, b)))
            .map(|(&node_id, b)| NodeEndpoint {
                node_id,
                host: b.address.host.clone(),
                port: i32::from(b.address.port),
                rack: None,
                ..Default::default()
            })
            .collect()
    });
    drop(state);
    let failed = batches.iter().any(|b| !b.error_code.is_ok());
    let frame = (request.acks != 0).then(|| {
        let body = ProduceResponse {
            responses,
            node_endpoints,
            ..Default::default()
        };
        response_frame(
            ApiKey::Produce,
            header.api_version,
            header.correlation_id,
            &body,
        )
    });
    Handled {
        frame,
        batches,
        linger: std::time::Duration::ZERO,
        // acks=0 has no response to carry an error: Kafka closes the
        // connection instead.
        close_connection: request.acks == 0 && failed,
    }
}
