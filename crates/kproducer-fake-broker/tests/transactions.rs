//! InitProducerId, AddPartitionsToTxn, EndTxn with markers, and what
//! read-committed consumers see through ListOffsets and Fetch.

mod common;

use common::{WireClient, batch, batch_with};
use kproducer_fake_broker::{ErrorScope, FakeCluster, FaultAction, FaultRule, TxnState};
use kproducer_protocol::messages::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnTopic, EndTxnRequest, FetchPartition,
    FetchRequest, FetchTopic, InitProducerIdRequest, ListOffsetsPartition, ListOffsetsRequest,
    ListOffsetsTopic,
};
use kproducer_protocol::records::RecordBatch;
use kproducer_protocol::{ApiKey, ErrorCode};

const T: &str = "t";
const TX: &str = "tx-1";

fn cluster() -> FakeCluster {
    FakeCluster::builder()
        .brokers(2)
        .topic_with_leaders(T, &[0, 0])
        .build()
        .expect("valid cluster")
}

fn init(tid: Option<&str>, pid: i64, epoch: i16) -> InitProducerIdRequest {
    InitProducerIdRequest {
        transactional_id: tid.map(str::to_owned),
        transaction_timeout_ms: 60_000,
        producer_id: pid,
        producer_epoch: epoch,
        ..Default::default()
    }
}

fn add(pid: i64, epoch: i16, partitions: &[i32]) -> AddPartitionsToTxnRequest {
    AddPartitionsToTxnRequest {
        transactional_id: TX.into(),
        producer_id: pid,
        producer_epoch: epoch,
        topics: vec![AddPartitionsToTxnTopic {
            name: T.into(),
            partitions: partitions.to_vec(),
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

fn latest(read_committed: bool) -> ListOffsetsRequest {
    ListOffsetsRequest {
        isolation_level: i8::from(read_committed),
        topics: vec![ListOffsetsTopic {
            name: T.into(),
            partitions: vec![ListOffsetsPartition {
                partition_index: 0,
                timestamp: -1,
                current_leader_epoch: -1,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[tokio::test(start_paused = true)]
async fn init_producer_id_for_idempotent_and_transactional_producers() {
    let cluster = cluster();
    let mut not_coord = WireClient::connect(&cluster, 1).await;
    let r = not_coord.call(4, &init(None, -1, -1)).await;
    assert_eq!(
        (r.error_code, r.producer_epoch),
        (0, 0),
        "any broker for idempotence"
    );
    let r = not_coord.call(4, &init(Some(TX), -1, -1)).await;
    assert_eq!(r.error_code, 16, "transactional ids go to the coordinator");
    let mut coord = WireClient::connect(&cluster, cluster.coordinator()).await;
    let first = coord.call(4, &init(Some(TX), -1, -1)).await;
    let second = coord.call(4, &init(Some(TX), -1, -1)).await;
    assert_eq!(second.producer_id, first.producer_id);
    assert_eq!(second.producer_epoch, first.producer_epoch + 1);
    let fenced = coord
        .call(4, &init(Some(TX), first.producer_id, first.producer_epoch))
        .await;
    assert_eq!(fenced.error_code, 90);
    cluster.add_fault(
        FaultRule::new(FaultAction::Error {
            code: ErrorCode::CLUSTER_AUTHORIZATION_FAILED,
            scope: ErrorScope::Request,
        })
        .api(ApiKey::InitProducerId),
    );
    assert_eq!(coord.call(4, &init(None, -1, -1)).await.error_code, 31);
}

#[tokio::test(start_paused = true)]
async fn commit_and_abort_write_markers_and_read_committed_sees_only_commits() {
    let cluster = cluster();
    let mut c = WireClient::connect(&cluster, 0).await;
    let id = c.call(4, &init(Some(TX), -1, -1)).await;
    let (pid, epoch) = (id.producer_id, id.producer_epoch);

    assert_eq!(
        c.call(3, &add(pid, epoch, &[0])).await.results[0].results[0].error_code,
        0
    );
    assert_eq!(
        c.produce(T, 0, batch_with(pid, epoch, 0, true, &["a"]))
            .await
            .error_code,
        0
    );
    let lso = c.call(7, &latest(true)).await.topics[0].partitions[0].offset;
    let hw = c.call(7, &latest(false)).await.topics[0].partitions[0].offset;
    assert_eq!(
        (lso, hw),
        (0, 1),
        "the open transaction holds the last stable offset"
    );
    assert_eq!(c.call(3, &end(pid, epoch, true)).await.error_code, 0);
    assert_eq!(
        cluster.transaction(TX).map(|t| t.state),
        Some(TxnState::CompleteCommit)
    );

    c.call(3, &add(pid, epoch, &[0])).await;
    c.produce(T, 0, batch_with(pid, epoch, 1, true, &["b"]))
        .await;
    assert_eq!(c.call(3, &end(pid, epoch, false)).await.error_code, 0);
    assert_eq!(
        c.call(3, &end(pid, epoch, false)).await.error_code,
        0,
        "a retried end is fine"
    );

    cluster.assert_values(T, 0, &[b"a"]);
    assert_eq!(cluster.counters().unadded_transactional_batches, 0);
    // A transactional batch to a partition the transaction does not
    // include (no AddPartitionsToTxn) is counted.
    c.produce(T, 1, batch_with(pid, epoch, 0, true, &["c"]))
        .await;
    assert_eq!(cluster.counters().unadded_transactional_batches, 1);
    let snapshot = cluster.partition(T, 0).expect("exists");
    assert_eq!(
        snapshot.high_watermark, 4,
        "a, commit marker, b, abort marker"
    );
    assert_eq!(snapshot.last_stable_offset, 4);

    let fetch = FetchRequest {
        isolation_level: 1,
        topics: vec![FetchTopic {
            topic: T.into(),
            partitions: vec![FetchPartition {
                partition: 0,
                fetch_offset: 0,
                partition_max_bytes: 1 << 20,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let r = c.call(12, &fetch).await;
    let p = &r.responses[0].partitions[0];
    let aborted: Vec<(i64, i64)> = p
        .aborted_transactions
        .iter()
        .flatten()
        .map(|a| (a.producer_id, a.first_offset))
        .collect();
    assert_eq!(aborted, vec![(pid, 2)]);
    let offsets: Vec<i64> = RecordBatch::decode_all(p.records.clone().expect("records"))
        .map(|b| b.expect("valid batch").header().base_offset)
        .collect();
    assert_eq!(offsets, vec![0, 1, 2, 3]);
}

#[tokio::test(start_paused = true)]
async fn a_newer_instance_fences_the_older_one() {
    let cluster = cluster();
    let mut old = WireClient::connect(&cluster, 0).await;
    let id = old.call(4, &init(Some(TX), -1, -1)).await;
    let (pid, epoch) = (id.producer_id, id.producer_epoch);
    old.call(3, &add(pid, epoch, &[0])).await;
    old.produce(T, 0, batch_with(pid, epoch, 0, true, &["a"]))
        .await;

    let mut new = WireClient::connect(&cluster, 0).await;
    let bumped = new.call(4, &init(Some(TX), -1, -1)).await;
    assert_eq!(bumped.producer_epoch, epoch + 1);
    // The ongoing transaction was aborted with markers at the new epoch.
    cluster.assert_values(T, 0, &[]);
    let late = old
        .produce(T, 0, batch_with(pid, epoch, 1, true, &["late"]))
        .await;
    assert_eq!(late.error_code, 47);
    assert_eq!(
        old.call(3, &add(pid, epoch, &[1])).await.results[0].results[0].error_code,
        90
    );
    assert_eq!(old.call(3, &end(pid, epoch, true)).await.error_code, 90);
    assert_eq!(
        old.call(3, &add(pid + 1, epoch, &[1])).await.results[0].results[0].error_code,
        49
    );
    let mut plain = WireClient::connect(&cluster, 0).await;
    assert_eq!(
        plain
            .produce(T, 1, batch(-1, -1, -1, &["x"]))
            .await
            .error_code,
        0
    );
}
