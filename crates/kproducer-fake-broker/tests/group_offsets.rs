//! The group coordinator over the wire: FindCoordinator for a group,
//! AddOffsetsToTxn and TxnOffsetCommit, the markers that commit or discard
//! the offsets, the producer and KIP-447 member checks, and injected
//! errors per partition.

mod common;

use common::WireClient;
use kproducer_fake_broker::{ErrorScope, FakeCluster, FaultAction, FaultRule, TopicPartition};
use kproducer_protocol::messages::{
    AddOffsetsToTxnRequest, EndTxnRequest, FindCoordinatorRequest, InitProducerIdRequest,
    TxnOffsetCommitPartition, TxnOffsetCommitRequest, TxnOffsetCommitResponse,
    TxnOffsetCommitTopic,
};
use kproducer_protocol::{ApiKey, ErrorCode};

const TX: &str = "tx-1";
const GROUP: &str = "readers";

fn cluster() -> FakeCluster {
    FakeCluster::builder()
        .brokers(2)
        .topic("in", 2)
        .build()
        .expect("valid cluster")
}

fn add_offsets(pid: i64, epoch: i16) -> AddOffsetsToTxnRequest {
    AddOffsetsToTxnRequest {
        transactional_id: TX.into(),
        producer_id: pid,
        producer_epoch: epoch,
        group_id: GROUP.into(),
        ..Default::default()
    }
}

/// TxnOffsetCommit of `(partition, offset)` for `in`.
fn commit(pid: i64, epoch: i16, offsets: &[(i32, i64)]) -> TxnOffsetCommitRequest {
    TxnOffsetCommitRequest {
        transactional_id: TX.into(),
        group_id: GROUP.into(),
        producer_id: pid,
        producer_epoch: epoch,
        topics: vec![TxnOffsetCommitTopic {
            name: "in".into(),
            partitions: offsets
                .iter()
                .map(|&(p, o)| TxnOffsetCommitPartition {
                    partition_index: p,
                    committed_offset: o,
                    committed_metadata: Some(format!("m{o}")),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn end(pid: i64, epoch: i16, commit: bool) -> EndTxnRequest {
    EndTxnRequest {
        transactional_id: TX.into(),
        producer_id: pid,
        producer_epoch: epoch,
        committed: commit,
        ..Default::default()
    }
}

fn codes(r: &TxnOffsetCommitResponse) -> Vec<(i32, i16)> {
    r.topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(|p| (p.partition_index, p.error_code))
        })
        .collect()
}

fn committed(cluster: &FakeCluster) -> Vec<(i32, i64)> {
    cluster
        .committed_offsets(GROUP)
        .into_iter()
        .map(|(tp, o)| (tp.partition, o.offset))
        .collect()
}

/// A transactional id initialized on the coordinator: (client, pid, epoch).
async fn initialized(cluster: &FakeCluster) -> (WireClient, i64, i16) {
    let mut coord = WireClient::connect(cluster, cluster.coordinator()).await;
    let r = coord
        .call(
            4,
            &InitProducerIdRequest {
                transactional_id: Some(TX.into()),
                transaction_timeout_ms: 60_000,
                producer_id: -1,
                producer_epoch: -1,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(r.error_code, 0);
    (coord, r.producer_id, r.producer_epoch)
}

#[tokio::test(start_paused = true)]
async fn find_coordinator_names_the_group_coordinator() {
    let cluster = cluster();
    let mut any = WireClient::connect(&cluster, 1).await;
    let r = any
        .call(
            4,
            &FindCoordinatorRequest {
                key_type: 0,
                coordinator_keys: vec![GROUP.into()],
                ..Default::default()
            },
        )
        .await;
    assert_eq!(r.coordinators[0].error_code, 0);
    assert_eq!(r.coordinators[0].node_id, cluster.coordinator());
}

#[tokio::test(start_paused = true)]
async fn commit_markers_publish_the_offsets_and_abort_markers_discard_them() {
    let cluster = cluster();
    let (mut coord, pid, epoch) = initialized(&cluster).await;
    assert_eq!(coord.call(3, &add_offsets(pid, epoch)).await.error_code, 0);
    let r = coord
        .call(3, &commit(pid, epoch, &[(0, 10), (1, 20)]))
        .await;
    assert_eq!(codes(&r), vec![(0, 0), (1, 0)]);
    assert!(committed(&cluster).is_empty(), "pending until the marker");
    assert_eq!(cluster.pending_offsets(GROUP).len(), 2);
    assert_eq!(coord.call(3, &end(pid, epoch, true)).await.error_code, 0);
    assert_eq!(committed(&cluster), vec![(0, 10), (1, 20)]);
    let kept = cluster.committed_offsets(GROUP);
    assert_eq!(
        kept[&TopicPartition::new("in", 1)].metadata.as_deref(),
        Some("m20")
    );

    assert_eq!(coord.call(3, &add_offsets(pid, epoch)).await.error_code, 0);
    coord.call(3, &commit(pid, epoch, &[(0, 99)])).await;
    assert_eq!(coord.call(3, &end(pid, epoch, false)).await.error_code, 0);
    assert_eq!(committed(&cluster), vec![(0, 10), (1, 20)], "aborted");
    assert!(cluster.pending_offsets(GROUP).is_empty());
    assert_eq!(cluster.counters().unadded_offset_commits, 0);

    // Offsets for a group never added stay pending forever (counted).
    coord.call(3, &commit(pid, epoch, &[(0, 5)])).await;
    assert_eq!(cluster.counters().unadded_offset_commits, 1);
}

#[tokio::test(start_paused = true)]
async fn coordinator_and_producer_checks() {
    let cluster = cluster();
    let (mut coord, pid, epoch) = initialized(&cluster).await;
    let mut other = WireClient::connect(&cluster, 1).await;
    assert_eq!(other.call(3, &add_offsets(pid, epoch)).await.error_code, 16);
    assert_eq!(
        codes(&other.call(3, &commit(pid, epoch, &[(0, 1)])).await),
        vec![(0, 16)]
    );
    assert_eq!(
        coord.call(3, &add_offsets(pid, epoch + 1)).await.error_code,
        90
    );
    assert_eq!(
        coord.call(3, &add_offsets(pid + 1, epoch)).await.error_code,
        49
    );
    coord.call(3, &add_offsets(pid, epoch)).await;
    assert_eq!(
        codes(&coord.call(3, &commit(pid, epoch + 1, &[(0, 1)])).await),
        vec![(0, 90)],
        "a fenced epoch"
    );
    assert_eq!(
        codes(&coord.call(3, &commit(pid, epoch, &[(7, 1)])).await),
        vec![(7, 3)],
        "no such partition"
    );
    // A new instance aborts the transaction and discards its offsets.
    coord.call(3, &commit(pid, epoch, &[(0, 1)])).await;
    let (_new, _, new_epoch) = initialized(&cluster).await;
    assert_eq!(new_epoch, epoch + 1);
    assert!(cluster.pending_offsets(GROUP).is_empty());
    assert!(committed(&cluster).is_empty());
}

#[tokio::test(start_paused = true)]
async fn kip_447_member_checks_and_injected_errors() {
    let cluster = cluster();
    let (mut coord, pid, epoch) = initialized(&cluster).await;
    coord.call(3, &add_offsets(pid, epoch)).await;
    cluster.set_group_members(GROUP, 2, &[("m1", Some("host-1"))]);
    let member =
        |generation_id: i32, member_id: &str, instance: Option<&str>| TxnOffsetCommitRequest {
            generation_id,
            member_id: member_id.into(),
            group_instance_id: instance.map(str::to_owned),
            ..commit(pid, epoch, &[(0, 1)])
        };
    let code = |r: TxnOffsetCommitResponse| codes(&r)[0].1;
    assert_eq!(code(coord.call(3, &member(1, "m1", None)).await), 22);
    assert_eq!(code(coord.call(3, &member(2, "m0", None)).await), 25);
    assert_eq!(
        code(coord.call(3, &member(2, "m0", Some("host-1"))).await),
        82
    );
    assert_eq!(
        code(coord.call(3, &member(2, "m1", Some("host-1"))).await),
        0
    );
    // Below v3 the group metadata is not sent, so nothing is checked.
    assert_eq!(code(coord.call(2, &commit(pid, epoch, &[(0, 2)])).await), 0);

    let id = cluster.add_fault(
        FaultRule::new(FaultAction::Error {
            code: ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
            scope: ErrorScope::Partition,
        })
        .api(ApiKey::TxnOffsetCommit)
        .partition("in", 1),
    );
    let r = coord.call(3, &commit(pid, epoch, &[(0, 3), (1, 4)])).await;
    assert!(cluster.fault_fired(id));
    assert_eq!(codes(&r), vec![(0, 0), (1, 14)], "only in-1 is refused");
    assert_eq!(coord.call(3, &end(pid, epoch, true)).await.error_code, 0);
    assert_eq!(committed(&cluster), vec![(0, 3)]);
}
