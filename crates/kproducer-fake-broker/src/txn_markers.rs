//! Writing transaction markers (control batches) into partition logs, and
//! completing the consumer groups' pending offsets (Kafka writes the same
//! markers into `__consumer_offsets`).

use std::time::{SystemTime, UNIX_EPOCH};

use kproducer_protocol::records::{ControlRecordType, build_control_batch};

use crate::cluster_state::ClusterState;
use crate::partition_log::BatchMeta;
use crate::transactions::EndedTxn;

/// Appends a commit or abort marker for `ended` to each of its partitions
/// (partitions deleted since are skipped), and commits or discards the
/// pending offsets of its groups. Markers are timestamped with the
/// wall clock, as Kafka's are; nothing depends on their timestamps.
pub(crate) fn write_markers(state: &mut ClusterState, ended: &EndedTxn) {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let kind = if ended.commit {
        ControlRecordType::Commit
    } else {
        ControlRecordType::Abort
    };
    for tp in &ended.partitions {
        let Ok(partition) = state.partition_mut(&tp.topic, tp.partition) else {
            continue;
        };
        let raw = build_control_batch(kind, ended.producer_id, ended.producer_epoch, 0, now_ms);
        let meta = BatchMeta {
            producer_id: ended.producer_id,
            producer_epoch: ended.producer_epoch,
            base_sequence: -1,
            record_count: 1,
            is_transactional: true,
            is_control: true,
            max_timestamp: now_ms,
        };
        partition.log.append_marker(meta, raw, ended.commit);
    }
    state
        .groups
        .complete(ended.producer_id, &ended.groups, ended.commit);
}
