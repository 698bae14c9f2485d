//! Every idempotence rule through the wire, and the cross-connection race
//! this project exists to prevent.

mod common;

use common::{WireClient, batch, outcome};
use kproducer_fake_broker::{BehaviourMode, ErrorScope, FakeCluster, FaultAction, FaultRule, Hold};
use kproducer_protocol::{ApiKey, ErrorCode};

const T: &str = "orders";
const PID: i64 = 4242;

fn cluster_with(mode: BehaviourMode, legacy: bool) -> FakeCluster {
    FakeCluster::builder()
        .brokers(2)
        .topic_with_leaders(T, &[0, 0])
        .mode(mode)
        .legacy_duplicate_error(legacy)
        .build()
        .expect("valid cluster")
}

fn cluster() -> FakeCluster {
    cluster_with(BehaviourMode::Pre4_5, false)
}

#[tokio::test(start_paused = true)]
async fn batches_get_consecutive_offsets_and_read_back_in_order() {
    let cluster = cluster();
    let mut c = WireClient::connect(&cluster, 0).await;
    assert_eq!(
        outcome(&c.produce(T, 0, batch(PID, 0, 0, &["a", "b"])).await),
        (0, 0)
    );
    assert_eq!(
        outcome(&c.produce(T, 0, batch(PID, 0, 2, &["c"])).await),
        (0, 2)
    );
    assert_eq!(
        outcome(&c.produce(T, 0, batch(-1, -1, -1, &["plain"])).await),
        (0, 3)
    );
    cluster.assert_values(T, 0, &[b"a", b"b", b"c", b"plain"]);
    cluster.assert_no_duplicates();
    let records = cluster.records(T, 0).expect("readable");
    let seqs: Vec<(i64, i32, i64)> = records
        .iter()
        .map(|r| (r.producer_id, r.sequence, r.offset))
        .collect();
    assert_eq!(
        seqs,
        vec![(PID, 0, 0), (PID, 1, 1), (PID, 2, 2), (-1, -1, 3)]
    );
    let snapshot = cluster.partition(T, 0).expect("exists");
    assert_eq!(snapshot.high_watermark, 4);
    assert_eq!(
        snapshot.sequences(),
        vec![(PID, 0, 0, 2), (PID, 0, 2, 1), (-1, -1, -1, 1)]
    );
}

#[tokio::test(start_paused = true)]
async fn a_retry_of_an_appended_batch_is_answered_with_the_original_offset() {
    let cluster = cluster();
    let mut c = WireClient::connect(&cluster, 0).await;
    c.produce(T, 0, batch(PID, 0, 0, &["a"])).await;
    c.produce(T, 0, batch(PID, 0, 1, &["b", "c"])).await;
    assert_eq!(
        outcome(&c.produce(T, 0, batch(PID, 0, 1, &["b", "c"])).await),
        (0, 1)
    );
    assert_eq!(
        outcome(&c.produce(T, 0, batch(PID, 0, 0, &["a"])).await),
        (0, 0)
    );
    cluster.assert_values(T, 0, &[b"a", b"b", b"c"]);
    assert_eq!(cluster.counters().duplicate_batches, 2);
}

#[tokio::test(start_paused = true)]
async fn legacy_switch_answers_duplicates_with_46() {
    let cluster = cluster_with(BehaviourMode::Pre4_5, true);
    let mut c = WireClient::connect(&cluster, 0).await;
    c.produce(T, 0, batch(PID, 0, 0, &["a"])).await;
    let r = c.produce(T, 0, batch(PID, 0, 0, &["a"])).await;
    assert_eq!(outcome(&r), (46, -1));
    cluster.assert_values(T, 0, &[b"a"]);
}

#[tokio::test(start_paused = true)]
async fn out_of_order_stale_epoch_and_new_epoch_rules() {
    let cluster = cluster();
    let mut c = WireClient::connect(&cluster, 0).await;
    c.produce(T, 0, batch(PID, 1, 0, &["a"])).await;
    let cases = [
        ("gap", batch(PID, 1, 2, &["x"]), 45),
        ("stale epoch", batch(PID, 0, 1, &["x"]), 47),
        ("new epoch not at 0", batch(PID, 2, 1, &["x"]), 45),
        ("next in sequence", batch(PID, 1, 1, &["b"]), 0),
        ("new epoch at 0", batch(PID, 2, 0, &["c"]), 0),
        ("old epoch after the bump", batch(PID, 1, 2, &["x"]), 47),
    ];
    for (what, records, code) in cases {
        let r = c.produce(T, 0, records).await;
        assert_eq!(r.error_code, code, "{what}: {:?}", r.error_message);
        if code != 0 {
            assert!(r.error_message.is_some(), "{what}: the refusal says why");
        }
    }
    cluster.assert_values(T, 0, &[b"a", b"b", b"c"]);
    let rejected = cluster.counters().rejected_batches;
    assert_eq!(
        rejected.get(&ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER),
        Some(&2)
    );
    assert_eq!(rejected.get(&ErrorCode::INVALID_PRODUCER_EPOCH), Some(&2));
}

#[tokio::test(start_paused = true)]
async fn without_state_pre_4_5_accepts_any_sequence_and_4_5_wants_zero_on_a_fresh_partition() {
    let pre = cluster_with(BehaviourMode::Pre4_5, false);
    let mut c = WireClient::connect(&pre, 0).await;
    assert_eq!(
        c.produce(T, 0, batch(PID, 0, 7, &["a"])).await.error_code,
        0
    );

    let v45 = cluster_with(BehaviourMode::Kafka4_5, false);
    let mut c = WireClient::connect(&v45, 0).await;
    assert_eq!(
        c.produce(T, 0, batch(PID, 0, 7, &["a"])).await.error_code,
        45
    );
    assert_eq!(
        c.produce(T, 0, batch(PID, 0, 0, &["a"])).await.error_code,
        0
    );
    // On a partition that held records, a stranger may start anywhere.
    assert_eq!(
        c.produce(T, 0, batch(PID + 1, 0, 7, &["b"]))
            .await
            .error_code,
        0
    );
}

#[tokio::test(start_paused = true)]
async fn sequences_wrap_from_i32_max_to_zero() {
    let cluster = cluster();
    let mut c = WireClient::connect(&cluster, 0).await;
    let near = i32::MAX - 1;
    assert_eq!(
        c.produce(T, 0, batch(PID, 0, near, &["a", "b"]))
            .await
            .error_code,
        0
    );
    assert_eq!(
        c.produce(T, 0, batch(PID, 0, 0, &["c"])).await.error_code,
        0
    );
    let seqs: Vec<i32> = cluster
        .records(T, 0)
        .expect("readable")
        .iter()
        .map(|r| r.sequence)
        .collect();
    assert_eq!(seqs, vec![i32::MAX - 1, i32::MAX, 0]);
}

#[tokio::test(start_paused = true)]
async fn expired_or_truncated_producer_state_accepts_the_next_batch() {
    let cluster = cluster();
    let mut c = WireClient::connect(&cluster, 0).await;
    c.produce(T, 0, batch(PID, 0, 0, &["a"])).await;
    assert!(cluster.expire_producer(T, 0, PID).expect("exists"));
    assert_eq!(
        c.produce(T, 0, batch(PID, 0, 5, &["b"])).await.error_code,
        0
    );
    assert_eq!(
        cluster.advance_log_start_offset(T, 0, 2).expect("exists"),
        2
    );
    assert_eq!(
        c.produce(T, 0, batch(PID, 0, 9, &["c"])).await.error_code,
        0
    );
    let r = c.produce(T, 0, batch(PID, 0, 11, &["d"])).await;
    assert_eq!(r.error_code, 45, "state is back after the last append");
    assert_eq!(
        r.log_start_offset, 2,
        "refusals report the log start offset"
    );
}

#[tokio::test(start_paused = true)]
async fn kafka_2_0_answers_59_when_the_producers_records_were_removed() {
    let cluster = cluster_with(BehaviourMode::Pre2_5, false);
    let mut c = WireClient::connect(&cluster, 0).await;
    c.produce(T, 0, batch(PID, 0, 0, &["a", "b"])).await;
    assert_eq!(
        cluster.advance_log_start_offset(T, 0, 2).expect("exists"),
        2
    );
    let r = c.produce(T, 0, batch(PID, 0, 2, &["c"])).await;
    assert_eq!((r.error_code, r.log_start_offset), (59, 2));
    assert_eq!(
        c.produce(T, 0, batch(PID, 1, 0, &["c"])).await.error_code,
        0,
        "after a bump, 0 is fine"
    );
}

#[tokio::test(start_paused = true)]
async fn the_new_leader_answers_retries_of_what_the_old_leader_appended() {
    let cluster = cluster();
    let mut old = WireClient::connect(&cluster, 0).await;
    old.produce(T, 0, batch(PID, 0, 0, &["a"])).await;
    cluster.move_leader(T, 0, 1).expect("valid move");
    let r = old.produce(T, 0, batch(PID, 0, 1, &["b"])).await;
    assert_eq!(r.error_code, 6, "the old leader refuses");
    let mut new = WireClient::connect(&cluster, 1).await;
    assert_eq!(
        outcome(&new.produce(T, 0, batch(PID, 0, 0, &["a"])).await),
        (0, 0)
    );
    assert_eq!(
        outcome(&new.produce(T, 0, batch(PID, 0, 1, &["b"])).await),
        (0, 1)
    );
    cluster.assert_values(T, 0, &[b"a", b"b"]);
}

/// The race: partition 0's batch with sequence 1 is held on connection A
/// while the batch with sequence 2 goes out on connection B. The broker
/// answers 45 — what happens to a producer that moves a partition to
/// another connection without fencing it.
#[tokio::test(start_paused = true)]
async fn a_later_sequence_overtaking_on_another_connection_gets_45() {
    let cluster = cluster();
    let mut a = WireClient::connect(&cluster, 0).await;
    let mut b = WireClient::connect(&cluster, 0).await;
    a.produce(T, 0, batch(PID, 0, 0, &["s0"])).await;
    let hold = Hold::new();
    cluster.add_fault(
        FaultRule::new(FaultAction::Hold(hold.clone()))
            .api(ApiKey::Produce)
            .broker(0)
            .connection(0)
            .partition(T, 0),
    );
    let held = a.send_produce(T, 0, batch(PID, 0, 1, &["s1"])).await;
    hold.reached(1).await;
    let r = b.produce(T, 0, batch(PID, 0, 2, &["s2"])).await;
    assert_eq!(r.error_code, 45, "sequence 2 overtook sequence 1");
    hold.release();
    let (id, r) = a.recv_produce().await.expect("the held batch is answered");
    assert_eq!((id, outcome(&r)), (held, (0, 1)));
    cluster.assert_values(T, 0, &[b"s0", b"s1"]);
    let log: Vec<(u64, i32, i16)> = cluster
        .requests()
        .iter()
        .filter(|r| r.api_key == 0)
        .flat_map(|r| {
            r.batches.iter().map(move |b| {
                (
                    r.connection.ordinal,
                    b.meta.base_sequence,
                    b.error_code.as_i16(),
                )
            })
        })
        .collect();
    assert_eq!(log, vec![(0, 0, 0), (1, 2, 45), (0, 1, 0)]);
}

/// The same race on a fresh partition: in Kafka 4.5 mode the overtaking
/// batch is refused; before 4.5 it is accepted, leaving a hole that makes
/// the held batch fail — why a producer must not have two requests in
/// flight to a new partition before the first is acknowledged.
#[tokio::test(start_paused = true)]
async fn overtaking_on_a_fresh_partition_depends_on_the_mode() {
    for (mode, overtaker, held_after) in [
        (BehaviourMode::Kafka4_5, 45, 0),
        (BehaviourMode::Pre4_5, 0, 45),
    ] {
        let cluster = cluster_with(mode, false);
        let mut a = WireClient::connect(&cluster, 0).await;
        let mut b = WireClient::connect(&cluster, 0).await;
        let hold = Hold::new();
        cluster.add_fault(FaultRule::new(FaultAction::Hold(hold.clone())).connection(0));
        a.send_produce(T, 0, batch(PID, 0, 0, &["s0"])).await;
        hold.reached(1).await;
        assert_eq!(
            b.produce(T, 0, batch(PID, 0, 1, &["s1"])).await.error_code,
            overtaker,
            "{mode:?}"
        );
        hold.release();
        let (_, r) = a.recv_produce().await.expect("answered");
        assert_eq!(r.error_code, held_after, "{mode:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_partition_scoped_error_leaves_other_partitions_alone() {
    let cluster = cluster();
    cluster.add_fault(
        FaultRule::new(FaultAction::Error {
            code: ErrorCode::NOT_LEADER_OR_FOLLOWER,
            scope: ErrorScope::Partition,
        })
        .api(ApiKey::Produce)
        .partition(T, 1),
    );
    let mut c = WireClient::connect(&cluster, 0).await;
    let mut req = common::produce_request(T, 0, batch(PID, 0, 0, &["p0"]), -1);
    let mut p1 = req.topic_data[0].partition_data[0].clone();
    p1.index = 1;
    p1.records = Some(batch(PID, 0, 0, &["p1"]));
    req.topic_data[0].partition_data.push(p1);
    let r = c.call(common::PRODUCE_V, &req).await;
    let codes: Vec<i16> = r.responses[0]
        .partition_responses
        .iter()
        .map(|p| p.error_code)
        .collect();
    assert_eq!(codes, vec![0, 6]);
    cluster.assert_values(T, 0, &[b"p0"]);
    cluster.assert_values(T, 1, &[]);
}

#[tokio::test(start_paused = true)]
async fn close_after_handling_appends_and_the_retry_is_a_duplicate() {
    let cluster = cluster();
    cluster.add_fault(FaultRule::new(FaultAction::CloseAfterHandling).api(ApiKey::Produce));
    let mut c = WireClient::connect(&cluster, 0).await;
    c.send_produce(T, 0, batch(PID, 0, 0, &["a"])).await;
    assert!(c.is_closed().await);
    let mut again = WireClient::connect(&cluster, 0).await;
    assert_eq!(
        outcome(&again.produce(T, 0, batch(PID, 0, 0, &["a"])).await),
        (0, 0)
    );
    cluster.assert_values(T, 0, &[b"a"]);

    let before = FakeCluster::builder()
        .brokers(1)
        .topic(T, 1)
        .build()
        .expect("valid");
    before.add_fault(FaultRule::new(FaultAction::CloseBeforeHandling).api(ApiKey::Produce));
    let mut c = WireClient::connect(&before, 0).await;
    c.send_produce(T, 0, batch(PID, 0, 0, &["a"])).await;
    assert!(c.is_closed().await);
    before.assert_values(T, 0, &[]);
}

#[tokio::test(start_paused = true)]
async fn an_error_after_append_persists_the_batch_and_the_retry_is_a_duplicate() {
    let cluster = cluster();
    cluster.add_fault(
        FaultRule::new(FaultAction::ErrorAfterAppend {
            code: ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND,
            scope: ErrorScope::Partition,
        })
        .api(ApiKey::Produce),
    );
    let mut c = WireClient::connect(&cluster, 0).await;
    assert_eq!(
        outcome(&c.produce(T, 0, batch(PID, 0, 0, &["a"])).await),
        (20, -1)
    );
    cluster.assert_values(T, 0, &[b"a"]);
    assert_eq!(
        outcome(&c.produce(T, 0, batch(PID, 0, 0, &["a"])).await),
        (0, 0)
    );
    cluster.assert_values(T, 0, &[b"a"]);
}

#[tokio::test(start_paused = true)]
async fn not_leader_names_the_new_leader_from_v10() {
    let cluster = cluster();
    cluster.move_leader(T, 0, 1).expect("valid move");
    let mut old = WireClient::connect(&cluster, 0).await;
    let req = common::produce_request(T, 0, batch(PID, 0, 0, &["a"]), -1);
    let r = old.call(10, &req).await;
    let p = &r.responses[0].partition_responses[0];
    assert_eq!(p.error_code, 6);
    let leader = p.current_leader.as_ref().expect("KIP-951 current leader");
    assert_eq!((leader.leader_id, leader.leader_epoch), (1, 1));
    let endpoints: Vec<(i32, String)> = r
        .node_endpoints
        .iter()
        .flatten()
        .map(|e| (e.node_id, e.host.clone()))
        .collect();
    assert_eq!(endpoints, vec![(1, "fake-broker-1".to_owned())]);
}

/// Scenario 2's script: five requests in flight, the first k appended with
/// their responses lost, then the connection resets.
#[tokio::test(start_paused = true)]
async fn a_reset_after_k_of_five_appended() {
    for k in 0..=5u32 {
        let cluster = cluster();
        cluster.add_fault(
            FaultRule::new(FaultAction::DropResponse)
                .api(ApiKey::Produce)
                .sticky(),
        );
        cluster.add_fault(
            FaultRule::new(FaultAction::CloseBeforeHandling)
                .api(ApiKey::Produce)
                .nth(k + 1),
        );
        let mut c = WireClient::connect(&cluster, 0).await;
        for seq in 0..5 {
            c.send_produce(T, 0, batch(PID, 0, seq, &[&format!("s{seq}")]))
                .await;
        }
        if k < 5 {
            assert!(c.is_closed().await, "k={k}");
        }
        cluster.wait_for_requests(u64::from(k.min(4) + 1)).await;
        let want: Vec<String> = (0..k).map(|s| format!("s{s}")).collect();
        let want: Vec<&[u8]> = want.iter().map(|s| s.as_bytes()).collect();
        cluster.assert_values(T, 0, &want);
    }
}

/// Scenario 5's script: the leader moves while three batches are in flight
/// on the old leader's connection; the old leader answers all three with 6.
#[tokio::test(start_paused = true)]
async fn a_leader_move_with_batches_in_flight_answers_them_6() {
    let cluster = cluster();
    let hold = Hold::new();
    cluster.add_fault(FaultRule::new(FaultAction::Hold(hold.clone())).api(ApiKey::Produce));
    let mut old = WireClient::connect(&cluster, 0).await;
    for seq in 0..3 {
        old.send_produce(T, 0, batch(PID, 0, seq, &["x"])).await;
    }
    hold.reached(1).await;
    cluster.move_leader(T, 0, 1).expect("valid move");
    hold.release();
    for _ in 0..3 {
        let (_, r) = old.recv_produce().await.expect("answered");
        assert_eq!(r.error_code, 6);
    }
    cluster.assert_values(T, 0, &[]);
}
