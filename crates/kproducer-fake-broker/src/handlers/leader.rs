//! The checks every partition-level request makes before touching a log.

use kproducer_protocol::ErrorCode;

use crate::cluster_state::{ClusterState, PartitionState};

/// The partition, when `broker` leads it and the client's leader epoch (if
/// it sent one, i.e. not -1) is the current one.
///
/// 3 `UNKNOWN_TOPIC_OR_PARTITION` for a missing topic or partition, 6
/// `NOT_LEADER_OR_FOLLOWER` when another broker leads it, 74
/// `FENCED_LEADER_EPOCH` / 75 `UNKNOWN_LEADER_EPOCH` when the client's epoch
/// is older / newer.
pub(crate) fn led_partition_mut<'a>(
    state: &'a mut ClusterState,
    broker: i32,
    topic: &str,
    partition: i32,
    client_leader_epoch: i32,
) -> Result<&'a mut PartitionState, ErrorCode> {
    let p = state
        .partition_mut(topic, partition)
        .map_err(|_| ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)?;
    if p.leader != broker {
        return Err(ErrorCode::NOT_LEADER_OR_FOLLOWER);
    }
    if client_leader_epoch >= 0 {
        if client_leader_epoch < p.leader_epoch {
            return Err(ErrorCode::FENCED_LEADER_EPOCH);
        }
        if client_leader_epoch > p.leader_epoch {
            return Err(ErrorCode::UNKNOWN_LEADER_EPOCH);
        }
    }
    Ok(p)
}
