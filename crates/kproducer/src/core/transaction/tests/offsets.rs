//! `send_offsets_to_transaction` in the state machine: the AddOffsetsToTxn
//! → FindCoordinator(group) → TxnOffsetCommit sequence, its place before
//! EndTxn, and the classification of each answer.

use std::collections::BTreeMap;

use super::*;
use crate::transaction::{ConsumerGroupMetadata, OffsetAndMetadata};

const BACKOFF: Duration = Duration::from_millis(100);

fn group() -> ConsumerGroupMetadata {
    ConsumerGroupMetadata {
        generation_id: 3,
        member_id: "m-1".into(),
        ..ConsumerGroupMetadata::new("g")
    }
}

fn group_coordinator() -> Coordinator {
    Coordinator {
        node: 2,
        host: "b2".into(),
        port: 9092,
    }
}

fn offsets(parts: &[(i32, i64)]) -> BTreeMap<TopicPartition, OffsetAndMetadata> {
    parts
        .iter()
        .map(|&(p, o)| (TopicPartition::new("in", p), OffsetAndMetadata::new(o)))
        .collect()
}

fn in_tp(p: i32) -> TopicPartition {
    TopicPartition::new("in", p)
}

fn commit_request(parts: &[(i32, i64)]) -> TxnRequest {
    TxnRequest::CommitOffsets(OffsetCommit {
        group: group(),
        offsets: offsets(parts),
    })
}

fn add_offsets() -> TxnRequest {
    TxnRequest::AddOffsets {
        group_id: "g".into(),
    }
}

/// A transaction with partition 0 added and offsets for in-0 and in-1
/// accepted by the transaction coordinator (the group is in the
/// transaction); the group coordinator is known; TxnOffsetCommit is next.
fn offsets_added(now: Instant) -> Transaction {
    let mut t = in_transaction(now);
    assert_eq!(
        t.send_offsets(group(), offsets(&[(0, 10), (1, 20)]))
            .unwrap(),
        Some(Started::New)
    );
    assert_eq!(t.poll(now, true), Step::Send(add_offsets()));
    assert_eq!(t.on_add_offsets(now, Answer::Ok(())), Step::Idle);
    assert_eq!(
        t.poll(now, true),
        Step::Send(TxnRequest::FindGroupCoordinator {
            group_id: "g".into()
        })
    );
    assert_eq!(
        t.on_find_group_coordinator(now, Answer::Ok(group_coordinator())),
        Step::Idle
    );
    assert_eq!(t.group_coordinator(), Some(&group_coordinator()));
    t
}

fn ok_for(parts: &[i32]) -> Answer<Vec<(TopicPartition, ErrorCode)>> {
    Answer::Ok(parts.iter().map(|&p| (in_tp(p), ErrorCode::NONE)).collect())
}

#[tokio::test(start_paused = true)]
async fn offsets_go_add_offsets_then_group_coordinator_then_commit() {
    let now = Instant::now();
    let mut t = offsets_added(now);
    assert_eq!(
        t.poll(now, true),
        Step::Send(commit_request(&[(0, 10), (1, 20)]))
    );
    assert_eq!(
        t.on_commit_offsets(now, ok_for(&[0, 1])),
        Step::Complete(TxnOp::SendOffsets, Ok(()))
    );
    assert_eq!(t.poll(now, true), Step::Idle, "nothing more to send");
    assert_eq!(t.phase(), TransactionPhase::InTransaction);
    t.commit().unwrap();
    assert_eq!(
        t.poll(now, true),
        Step::Send(TxnRequest::EndTxn { commit: true })
    );
}

#[tokio::test(start_paused = true)]
async fn a_transaction_with_only_offsets_still_ends_with_end_txn() {
    let now = Instant::now();
    let mut t = ready(now);
    t.begin().unwrap();
    t.send_offsets(group(), offsets(&[(0, 5)])).unwrap();
    assert_eq!(t.poll(now, true), Step::Send(add_offsets()));
    t.on_add_offsets(now, Answer::Ok(()));
    t.poll(now, true);
    t.on_find_group_coordinator(now, Answer::Ok(group_coordinator()));
    assert_eq!(t.poll(now, true), Step::Send(commit_request(&[(0, 5)])));
    t.on_commit_offsets(now, ok_for(&[0]));
    t.commit().unwrap();
    assert_eq!(
        t.poll(now, true),
        Step::Send(TxnRequest::EndTxn { commit: true }),
        "the group joined the transaction: the coordinator must end it"
    );
    assert!(matches!(
        t.on_end_txn(now, Answer::Ok(())),
        Step::Complete(TxnOp::Commit, Ok(()))
    ));
    // The next transaction starts without the group.
    t.begin().unwrap();
    t.commit().unwrap();
    assert_eq!(t.poll(now, true), Step::Complete(TxnOp::Commit, Ok(())));
}

#[tokio::test(start_paused = true)]
async fn offsets_outside_an_open_transaction_are_refused() {
    let now = Instant::now();
    let mut t = machine();
    assert!(is_invalid_state(
        t.send_offsets(group(), offsets(&[(0, 1)]))
    ));
    let mut t = ready(now);
    assert!(is_invalid_state(
        t.send_offsets(group(), offsets(&[(0, 1)]))
    ));
    t.begin().unwrap();
    t.commit().unwrap();
    assert!(
        is_invalid_state(t.send_offsets(group(), offsets(&[(0, 1)]))),
        "not while committing"
    );
}

#[tokio::test(start_paused = true)]
async fn a_second_call_joins_the_same_offsets_and_refuses_others() {
    let now = Instant::now();
    let mut t = in_transaction(now);
    assert_eq!(
        t.send_offsets(group(), offsets(&[])).unwrap(),
        None,
        "nothing to send"
    );
    t.send_offsets(group(), offsets(&[(0, 1)])).unwrap();
    assert_eq!(
        t.send_offsets(group(), offsets(&[(0, 1)])).unwrap(),
        Some(Started::Joined)
    );
    assert!(is_invalid_state(
        t.send_offsets(group(), offsets(&[(0, 2)]))
    ));
}

#[tokio::test(start_paused = true)]
async fn add_offsets_coordinator_errors_are_retried() {
    let now = Instant::now();
    let mut t = in_transaction(now);
    t.send_offsets(group(), offsets(&[(0, 1)])).unwrap();
    assert_eq!(t.poll(now, true), Step::Send(add_offsets()));
    // 51: retry the same request after the backoff.
    t.on_add_offsets(now, Answer::Code(ErrorCode::CONCURRENT_TRANSACTIONS, None));
    assert_eq!(t.poll(now, true), Step::Idle, "backing off");
    let later = now + BACKOFF;
    assert_eq!(t.poll(later, true), Step::Send(add_offsets()));
    // 16: find the transaction coordinator first.
    t.on_add_offsets(later, Answer::Code(ErrorCode::NOT_COORDINATOR, None));
    let later = later + 2 * BACKOFF;
    assert_eq!(t.poll(later, true), Step::Send(TxnRequest::FindCoordinator));
    t.on_find_coordinator(later, Answer::Ok(coordinator()));
    assert_eq!(t.poll(later, true), Step::Send(add_offsets()));
    // A lost answer: find it again too.
    t.on_add_offsets(later, Answer::Lost("reset".into()));
    let later = later + 4 * BACKOFF;
    assert_eq!(t.poll(later, true), Step::Send(TxnRequest::FindCoordinator));
    assert_eq!(t.phase(), TransactionPhase::InTransaction);
}

#[tokio::test(start_paused = true)]
async fn commit_offsets_retries_only_the_partitions_not_accepted() {
    let now = Instant::now();
    let mut t = offsets_added(now);
    t.poll(now, true);
    // in-0 accepted; in-1 at a coordinator that moved.
    let answer = Answer::Ok(vec![
        (in_tp(0), ErrorCode::NONE),
        (in_tp(1), ErrorCode::NOT_COORDINATOR),
    ]);
    assert_eq!(t.on_commit_offsets(now, answer), Step::Idle);
    let later = now + BACKOFF;
    assert_eq!(
        t.poll(later, true),
        Step::Send(TxnRequest::FindGroupCoordinator {
            group_id: "g".into()
        }),
        "the group coordinator moved: find it again"
    );
    t.on_find_group_coordinator(later, Answer::Ok(group_coordinator()));
    assert_eq!(t.poll(later, true), Step::Send(commit_request(&[(1, 20)])));
    // 14: same coordinator, later.
    t.on_commit_offsets(
        later,
        Answer::Ok(vec![(in_tp(1), ErrorCode::COORDINATOR_LOAD_IN_PROGRESS)]),
    );
    let later = later + 2 * BACKOFF;
    assert_eq!(t.poll(later, true), Step::Send(commit_request(&[(1, 20)])));
    assert_eq!(
        t.on_commit_offsets(later, ok_for(&[1])),
        Step::Complete(TxnOp::SendOffsets, Ok(()))
    );
}

#[tokio::test(start_paused = true)]
async fn a_group_coordinator_not_available_is_found_again() {
    let now = Instant::now();
    let mut t = offsets_added(now);
    t.poll(now, true);
    t.on_commit_offsets(
        now,
        Answer::Ok(vec![
            (in_tp(0), ErrorCode::COORDINATOR_NOT_AVAILABLE),
            (in_tp(1), ErrorCode::COORDINATOR_NOT_AVAILABLE),
        ]),
    );
    let later = now + BACKOFF;
    assert!(matches!(
        t.poll(later, true),
        Step::Send(TxnRequest::FindGroupCoordinator { .. })
    ));
    t.on_find_group_coordinator(
        later,
        Answer::Code(ErrorCode::COORDINATOR_NOT_AVAILABLE, None),
    );
    let later = later + 2 * BACKOFF;
    assert!(matches!(
        t.poll(later, true),
        Step::Send(TxnRequest::FindGroupCoordinator { .. })
    ));
    assert_eq!(
        t.coordinator(),
        Some(&coordinator()),
        "the transaction coordinator stays"
    );
}

#[tokio::test(start_paused = true)]
async fn a_rebalanced_group_makes_the_transaction_abortable() {
    for code in [
        ErrorCode::UNKNOWN_MEMBER_ID,
        ErrorCode::ILLEGAL_GENERATION,
        ErrorCode::FENCED_INSTANCE_ID,
    ] {
        let now = Instant::now();
        let mut t = offsets_added(now);
        t.poll(now, true);
        let answer = Answer::Ok(vec![(in_tp(0), ErrorCode::NONE), (in_tp(1), code)]);
        assert_eq!(t.on_commit_offsets(now, answer), Step::Idle);
        assert_eq!(t.phase(), TransactionPhase::AbortableError, "{code}");
        let Step::Complete(TxnOp::SendOffsets, Err(Error::Transaction(e))) = t.poll(now, true)
        else {
            panic!("{code}: the call fails");
        };
        assert!(e.is_group_rebalance(), "{code}: {e}");
        assert!(e.to_string().contains("rebalanced"), "{e}");
        assert!(matches!(
            t.commit(),
            Err(Error::Transaction(TransactionError::Abortable { .. }))
        ));
        t.abort().unwrap();
        assert_eq!(
            t.poll(now, true),
            Step::Send(TxnRequest::EndTxn { commit: false })
        );
        assert!(matches!(
            t.on_end_txn(now, Answer::Ok(())),
            Step::Complete(TxnOp::Abort, Ok(()))
        ));
        assert_eq!(t.phase(), TransactionPhase::Ready);
    }
}

#[tokio::test(start_paused = true)]
async fn authorization_answers_are_abortable_for_the_group_and_fatal_for_the_producer() {
    let now = Instant::now();
    let mut t = in_transaction(now);
    t.send_offsets(group(), offsets(&[(0, 1)])).unwrap();
    t.poll(now, true);
    t.on_add_offsets(
        now,
        Answer::Code(ErrorCode::GROUP_AUTHORIZATION_FAILED, None),
    );
    assert_eq!(t.phase(), TransactionPhase::AbortableError);
    assert!(matches!(
        t.poll(now, true),
        Step::Complete(TxnOp::SendOffsets, Err(_))
    ));

    for code in [
        ErrorCode::PRODUCER_FENCED,
        ErrorCode::INVALID_PRODUCER_EPOCH,
        ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        ErrorCode::UNSUPPORTED_FOR_MESSAGE_FORMAT,
        ErrorCode::CONCURRENT_TRANSACTIONS,
    ] {
        let mut t = offsets_added(now);
        t.poll(now, true);
        t.on_commit_offsets(now, Answer::Ok(vec![(in_tp(0), code)]));
        assert_eq!(t.phase(), TransactionPhase::FatalError, "{code}");
        assert!(matches!(t.fatal_error(), Some(Error::Fatal { code: Some(c), .. }) if *c == code));
    }
    let mut t = in_transaction(now);
    t.send_offsets(group(), offsets(&[(0, 1)])).unwrap();
    t.poll(now, true);
    t.on_add_offsets(now, Answer::Code(ErrorCode::PRODUCER_FENCED, None));
    assert_eq!(t.phase(), TransactionPhase::FatalError);
}

#[tokio::test(start_paused = true)]
async fn an_abort_fails_the_offsets_and_ends_the_transaction_the_group_joined() {
    let now = Instant::now();
    let mut t = in_transaction(now);
    t.send_offsets(group(), offsets(&[(0, 1)])).unwrap();
    assert_eq!(t.poll(now, true), Step::Send(add_offsets()));
    t.abort().unwrap();
    assert_eq!(t.poll(now, true), Step::Idle, "AddOffsetsToTxn in flight");
    t.on_add_offsets(now, Answer::Ok(()));
    let Step::Complete(TxnOp::SendOffsets, Err(e)) = t.poll(now, true) else {
        panic!("the offsets fail");
    };
    assert!(matches!(e, Error::Transaction(TransactionError::Aborted)));
    assert_eq!(
        t.poll(now, true),
        Step::Send(TxnRequest::EndTxn { commit: false })
    );
}

#[tokio::test(start_paused = true)]
async fn a_commit_sends_pending_offsets_before_end_txn() {
    let now = Instant::now();
    let mut t = in_transaction(now);
    t.send_offsets(group(), offsets(&[(0, 1)])).unwrap();
    t.commit().unwrap();
    assert_eq!(t.poll(now, true), Step::Send(add_offsets()));
    t.on_add_offsets(now, Answer::Ok(()));
    assert!(matches!(
        t.poll(now, true),
        Step::Send(TxnRequest::FindGroupCoordinator { .. })
    ));
    t.on_find_group_coordinator(now, Answer::Ok(group_coordinator()));
    assert_eq!(t.poll(now, true), Step::Send(commit_request(&[(0, 1)])));
    assert_eq!(
        t.on_commit_offsets(now, ok_for(&[0])),
        Step::Complete(TxnOp::SendOffsets, Ok(()))
    );
    assert_eq!(t.poll(now, false), Step::Idle, "records not settled yet");
    assert_eq!(
        t.poll(now, true),
        Step::Send(TxnRequest::EndTxn { commit: true })
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_record_fails_the_offsets_waiting_to_be_sent() {
    let now = Instant::now();
    let mut t = in_transaction(now);
    t.send_offsets(group(), offsets(&[(0, 1)])).unwrap();
    t.on_records_failed(&Error::Transaction(TransactionError::Abortable {
        reason: "a record failed".into(),
        code: Some(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER),
    }));
    assert!(matches!(
        t.poll(now, true),
        Step::Complete(TxnOp::SendOffsets, Err(_))
    ));
    assert!(matches!(
        t.send_offsets(group(), offsets(&[(0, 1)])),
        Err(Error::Transaction(TransactionError::Abortable { .. }))
    ));
}

#[tokio::test(start_paused = true)]
async fn group_metadata_for_an_old_group_coordinator_says_what_to_do() {
    let now = Instant::now();
    let mut t = offsets_added(now);
    assert_eq!(
        t.poll(now, true),
        Step::Send(commit_request(&[(0, 10), (1, 20)]))
    );
    // The group coordinator's TxnOffsetCommit stops at v2: the generation
    // and member id cannot be sent (nothing was).
    t.on_commit_offsets(
        now,
        Answer::Unsendable(Unsendable::GroupMetadataNeedsV3 { version: 2 }),
    );
    assert_eq!(t.phase(), TransactionPhase::FatalError);
    let Some(Error::Fatal { reason, code: None }) = t.fatal_error() else {
        panic!("fatal without a code: {:?}", t.fatal_error());
    };
    for words in [
        "TxnOffsetCommit up to v2",
        "consumer group metadata",
        "needs v3",
        "nothing was sent",
        "ConsumerGroupMetadata::new(group_id)",
        "upgrade the brokers to Kafka 2.5 or later",
    ] {
        assert!(reason.contains(words), "{words:?} missing from: {reason}");
    }
    assert!(
        !reason.contains("cannot run transactions"),
        "the broker runs transactions; only the group metadata is too new for it: {reason}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_request_kproducer_cannot_encode_is_not_blamed_on_the_broker() {
    let now = Instant::now();
    let mut t = offsets_added(now);
    t.poll(now, true);
    t.on_commit_offsets(
        now,
        Answer::Unsendable(Unsendable::Encode(
            "cannot encode TxnOffsetCommit v3 request: member_id is 40000 long, more than the \
             wire format allows"
                .into(),
        )),
    );
    let Some(Error::Fatal { reason, .. }) = t.fatal_error() else {
        panic!("fatal: {:?}", t.fatal_error());
    };
    assert!(
        reason.contains("member_id is 40000 long")
            && reason.contains("nothing was sent")
            && reason.contains("too long for the wire format")
            && !reason.contains("cannot run transactions")
            && !reason.contains("broker"),
        "{reason}"
    );
}
