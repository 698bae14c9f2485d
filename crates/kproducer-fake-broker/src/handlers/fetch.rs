//! Fetch (1): returns the stored batches, base offsets filled in, up to the
//! high watermark (or the last stable offset for `READ_COMMITTED`, with the
//! aborted transactions in range).
//!
//! Simplifications: no fetch sessions (every fetch is a full fetch, answered
//! with session id 0); when nothing is available the broker waits
//! `max_wait_ms` on tokio's clock and answers empty, without waking early
//! when data arrives.

use std::time::Duration;

use bytes::BytesMut;
use kproducer_net::TopicPartition;
use kproducer_protocol::messages::{
    AbortedTransaction, FetchRequest, FetchResponse, FetchResponsePartition, FetchResponseTopic,
};
use kproducer_protocol::{ApiKey, ErrorCode, RequestHeader};

use super::leader::led_partition_mut;
use super::{Handled, InjectedErrors};
use crate::cluster::FakeCluster;
use crate::partition_log::PartitionLog;
use crate::server::response_frame;

use crate::connection_id::ConnectionId;

/// Reads one partition from `fetch_offset`, at most `max_bytes` (but always
/// at least one batch, as Kafka does so that a large batch cannot block a
/// consumer).
fn read(
    log: &PartitionLog,
    fetch_offset: i64,
    max_bytes: usize,
    read_committed: bool,
) -> Result<FetchResponsePartition, ErrorCode> {
    let hw = log.high_watermark();
    if fetch_offset < log.log_start_offset() || fetch_offset > hw {
        return Err(ErrorCode::OFFSET_OUT_OF_RANGE);
    }
    let upper = if read_committed {
        log.last_stable_offset()
    } else {
        hw
    };
    let mut records = BytesMut::new();
    let mut last_fetched = fetch_offset - 1;
    for batch in log.batches_from(fetch_offset) {
        if batch.base_offset >= upper
            || (!records.is_empty() && records.len() + batch.raw.len() > max_bytes)
        {
            break;
        }
        records.extend_from_slice(&batch.bytes_with_offset());
        last_fetched = batch.last_offset();
    }
    let aborted_transactions = read_committed.then(|| {
        log.aborted_transactions()
            .iter()
            .filter(|a| a.last_offset >= fetch_offset && a.first_offset <= last_fetched)
            .map(|a| AbortedTransaction {
                producer_id: a.producer_id,
                first_offset: a.first_offset,
                ..Default::default()
            })
            .collect()
    });
    Ok(FetchResponsePartition {
        high_watermark: hw,
        last_stable_offset: log.last_stable_offset(),
        log_start_offset: log.log_start_offset(),
        aborted_transactions,
        records: Some(records.freeze()),
        ..Default::default()
    })
}

pub(crate) fn handle(
    cluster: &FakeCluster,
    conn: ConnectionId,
    header: &RequestHeader,
    request: &FetchRequest,
    errors: &InjectedErrors,
) -> Handled {
    let read_committed = request.isolation_level == 1;
    let mut budget = usize::try_from(request.max_bytes).unwrap_or(0);
    let mut returned_bytes = 0usize;
    let mut state = cluster.lock();
    let mut responses = Vec::with_capacity(request.topics.len());
    for t in &request.topics {
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in &t.partitions {
            let tp = TopicPartition::new(t.topic.clone(), p.partition);
            let partition_max = usize::try_from(p.partition_max_bytes)
                .unwrap_or(0)
                .min(budget);
            let result = match errors.for_partition(&tp) {
                Some(code) => Err(code),
                None => led_partition_mut(
                    &mut state,
                    conn.broker,
                    &t.topic,
                    p.partition,
                    p.current_leader_epoch,
                )
                .and_then(|part| read(&part.log, p.fetch_offset, partition_max, read_committed)),
            };
            let mut answer = result.unwrap_or_else(|code| FetchResponsePartition {
                error_code: code.as_i16(),
                high_watermark: -1,
                ..Default::default()
            });
            answer.partition_index = p.partition;
            let n = answer.records.as_ref().map_or(0, |r| r.len());
            budget = budget.saturating_sub(n);
            returned_bytes += n;
            partitions.push(answer);
        }
        responses.push(FetchResponseTopic {
            topic: t.topic.clone(),
            partitions,
            ..Default::default()
        });
    }
    drop(state);
    let body = FetchResponse {
        responses,
        ..Default::default()
    };
    let mut handled = Handled::answer(response_frame(
        ApiKey::Fetch,
        header.api_version,
        header.correlation_id,
        &body,
    ));
    if returned_bytes == 0 {
        handled.linger = Duration::from_millis(u64::try_from(request.max_wait_ms).unwrap_or(0));
    }
    handled
}
