//! ListOffsets (2): earliest, latest and by-timestamp offsets.
//!
//! Timestamp lookups work at batch granularity (a batch's max timestamp
//! stands for all its records), which is exact for one-record batches and
//! close enough for tests that look up "latest" and "earliest".

use kproducer_net::TopicPartition;
use kproducer_protocol::messages::{
    ListOffsetsPartitionResponse, ListOffsetsRequest, ListOffsetsResponse, ListOffsetsTopicResponse,
};
use kproducer_protocol::{ApiKey, ErrorCode, RequestHeader};

use super::leader::led_partition_mut;
use super::{Handled, InjectedErrors};
use crate::cluster::FakeCluster;
use crate::partition_log::PartitionLog;
use crate::server::response_frame;

use crate::connection_id::ConnectionId;

/// The special timestamps of the ListOffsets API.
const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;

/// `(timestamp, offset)` for a lookup, as Kafka answers it.
fn look_up(log: &PartitionLog, timestamp: i64, read_committed: bool) -> (i64, i64) {
    match timestamp {
        LATEST if read_committed => (-1, log.last_stable_offset()),
        LATEST => (-1, log.high_watermark()),
        EARLIEST => (-1, log.log_start_offset()),
        MAX_TIMESTAMP => log
            .batches()
            .filter(|b| !b.meta.is_control)
            .max_by_key(|b| (b.meta.max_timestamp, -b.base_offset))
            .map_or((-1, -1), |b| (b.meta.max_timestamp, b.base_offset)),
        t => log
            .batches()
            .find(|b| !b.meta.is_control && b.meta.max_timestamp >= t)
            .map_or((-1, -1), |b| (b.meta.max_timestamp, b.base_offset)),
    }
}

pub(crate) fn handle(
    cluster: &FakeCluster,
    conn: ConnectionId,
    header: &RequestHeader,
    request: &ListOffsetsRequest,
    errors: &InjectedErrors,
) -> Handled {
    let read_committed = request.isolation_level == 1;
    let mut state = cluster.lock();
    let topics = request
        .topics
        .iter()
        .map(|t| ListOffsetsTopicResponse {
            name: t.name.clone(),
            partitions: t
                .partitions
                .iter()
                .map(|p| {
                    let tp = TopicPartition::new(t.name.clone(), p.partition_index);
                    let found = match errors.for_partition(&tp) {
                        Some(code) => Err(code),
                        None => led_partition_mut(
                            &mut state,
                            conn.broker,
                            &t.name,
                            p.partition_index,
                            p.current_leader_epoch,
                        )
                        .map(|part| {
                            (
                                look_up(&part.log, p.timestamp, read_committed),
                                part.leader_epoch,
                            )
                        }),
                    };
                    let (error_code, (timestamp, offset), leader_epoch) = match found {
                        Ok((hit, epoch)) => (ErrorCode::NONE, hit, epoch),
                        Err(code) => (code, (-1, -1), -1),
                    };
                    ListOffsetsPartitionResponse {
                        partition_index: p.partition_index,
                        error_code: error_code.as_i16(),
                        timestamp,
                        offset,
                        leader_epoch,
                        ..Default::default()
                    }
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    drop(state);
    let body = ListOffsetsResponse {
        topics,
        ..Default::default()
    };
    Handled::answer(response_frame(
        ApiKey::ListOffsets,
        header.api_version,
        header.correlation_id,
        &body,
    ))
}
