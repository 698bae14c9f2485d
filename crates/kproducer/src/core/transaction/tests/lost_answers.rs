//! The "maybe added" rule: an AddPartitionsToTxn or AddOffsetsToTxn
//! whose answer was lost after it was written may have added its
//! partitions or group, so an abort ends the transaction with
//! EndTxn(abort) even though nothing is known to be added; only there,
//! 48 `INVALID_TXN_STATE` (nothing open) is a successful abort.

use super::*;
use crate::transaction::{ConsumerGroupMetadata, OffsetAndMetadata};

/// A transaction whose only AddPartitionsToTxn (for partition 0) was
/// written and its answer lost; the coordinator is to be found again.
fn add_answer_lost(now: Instant) -> Transaction {
    let mut t = ready(now);
    t.begin().unwrap();
    assert!(!t.may_send(&tp(0)));
    assert_eq!(
        t.poll(now, true),
        Step::Send(TxnRequest::AddPartitions(vec![tp(0)]))
    );
    assert_eq!(
        t.on_add_partitions(now, Answer::Lost("request timed out".into())),
        Step::Idle
    );
    t
}

/// Aborts `t` and walks it to its EndTxn(abort): after the backoff, the
/// coordinator is found again first.
fn abort_until_end_txn(t: &mut Transaction) -> Instant {
    assert_eq!(t.abort().unwrap(), Started::New);
    let later = t.next_attempt().expect("the lost answer backs off");
    assert_eq!(t.poll(later, true), Step::Send(TxnRequest::FindCoordinator));
    t.on_find_coordinator(later, Answer::Ok(coordinator()));
    assert_eq!(
        t.poll(later, true),
        Step::Send(TxnRequest::EndTxn { commit: false }),
        "the coordinator may hold a transaction: the abort ends it"
    );
    later
}

#[tokio::test(start_paused = true)]
async fn an_abort_after_a_lost_add_partitions_answer_sends_end_txn() {
    let now = Instant::now();
    let mut t = add_answer_lost(now);
    let later = abort_until_end_txn(&mut t);
    // The coordinator had added the partition: it aborts the transaction.
    assert!(matches!(
        t.on_end_txn(later, Answer::Ok(())),
        Step::Complete(TxnOp::Abort, Ok(()))
    ));
    assert_eq!(t.phase(), TransactionPhase::Ready);
}

#[tokio::test(start_paused = true)]
async fn nothing_open_after_a_lost_add_is_a_successful_abort() {
    let now = Instant::now();
    let mut t = add_answer_lost(now);
    let later = abort_until_end_txn(&mut t);
    // The add never reached the coordinator's state: it has nothing open
    // (Kafka answers 48 for Empty and CompleteCommit).
    let step = t.on_end_txn(later, Answer::Code(ErrorCode::INVALID_TXN_STATE, None));
    assert!(
        matches!(step, Step::Complete(TxnOp::Abort, Ok(()))),
        "{step:?}"
    );
    assert_eq!(t.phase(), TransactionPhase::Ready);
    assert!(t.fatal_error().is_none());
    // The next transaction starts clean: with nothing added, its abort
    // needs no EndTxn.
    t.begin().unwrap();
    t.abort().unwrap();
    assert!(matches!(
        t.poll(later, true),
        Step::Complete(TxnOp::Abort, Ok(()))
    ));
}

#[tokio::test(start_paused = true)]
async fn nothing_open_stays_fatal_when_the_add_was_confirmed() {
    let now = Instant::now();
    // Partition 0 confirmed added, then partition 1's answer lost: the
    // coordinator must hold a transaction, 48 is not "nothing to abort".
    let mut t = in_transaction(now);
    assert!(!t.may_send(&tp(1)));
    assert_eq!(
        t.poll(now, true),
        Step::Send(TxnRequest::AddPartitions(vec![tp(1)]))
    );
    t.on_add_partitions(now, Answer::Lost("reset".into()));
    let later = abort_until_end_txn(&mut t);
    let step = t.on_end_txn(later, Answer::Code(ErrorCode::INVALID_TXN_STATE, None));
    assert!(
        matches!(step, Step::Complete(TxnOp::Abort, Err(Error::Fatal { .. }))),
        "{step:?}"
    );
    assert_eq!(t.phase(), TransactionPhase::FatalError);
}

#[tokio::test(start_paused = true)]
async fn an_add_that_was_never_sent_needs_no_end_txn() {
    let now = Instant::now();
    let mut t = ready(now);
    t.begin().unwrap();
    assert!(!t.may_send(&tp(0)));
    assert_eq!(
        t.poll(now, true),
        Step::Send(TxnRequest::AddPartitions(vec![tp(0)]))
    );
    t.on_add_partitions(now, Answer::NotSent("connection refused".into()));
    t.abort().unwrap();
    let later = t.next_attempt().unwrap();
    assert!(
        matches!(t.poll(later, true), Step::Complete(TxnOp::Abort, Ok(()))),
        "the coordinator never saw the add: nothing to end"
    );
}

#[tokio::test(start_paused = true)]
async fn an_abort_after_a_lost_add_offsets_answer_sends_end_txn() {
    let now = Instant::now();
    let mut t = ready(now);
    t.begin().unwrap();
    let offsets = [(TopicPartition::new("in", 0), OffsetAndMetadata::new(5))]
        .into_iter()
        .collect();
    t.send_offsets(ConsumerGroupMetadata::new("g"), offsets)
        .unwrap();
    assert_eq!(
        t.poll(now, true),
        Step::Send(TxnRequest::AddOffsets {
            group_id: "g".into()
        })
    );
    t.on_add_offsets(now, Answer::Lost("reset".into()));
    t.abort().unwrap();
    let later = t.next_attempt().unwrap();
    // The offsets call fails first (aborted), then the coordinator is
    // found again and the abort ends what the lost add may have opened.
    assert!(matches!(
        t.poll(later, true),
        Step::Complete(TxnOp::SendOffsets, Err(_))
    ));
    assert_eq!(t.poll(later, true), Step::Send(TxnRequest::FindCoordinator));
    t.on_find_coordinator(later, Answer::Ok(coordinator()));
    assert_eq!(
        t.poll(later, true),
        Step::Send(TxnRequest::EndTxn { commit: false })
    );
    let step = t.on_end_txn(later, Answer::Code(ErrorCode::INVALID_TXN_STATE, None));
    assert!(
        matches!(step, Step::Complete(TxnOp::Abort, Ok(()))),
        "{step:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_bump_after_a_lost_add_comes_after_the_end_txn() {
    let now = Instant::now();
    let mut t = add_answer_lost(now);
    // A record failed: the abort bumps the epoch. EndTxn(abort) goes
    // first (as Java orders them): bumping with an open transaction would
    // make the coordinator fence this producer.
    t.on_records_failed(&Error::Broker {
        topic: "t".into(),
        partition: 0,
        code: ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
        message: None,
    });
    let later = abort_until_end_txn(&mut t);
    assert_eq!(
        t.on_end_txn(later, Answer::Code(ErrorCode::INVALID_TXN_STATE, None)),
        Step::Idle
    );
    assert_eq!(
        t.poll(later, true),
        Step::Send(TxnRequest::InitProducerId { bump: true })
    );
    assert!(matches!(
        t.on_init_producer_id(later, Answer::Ok(())),
        Step::Complete(TxnOp::Abort, Ok(()))
    ));
}

#[tokio::test(start_paused = true)]
async fn a_commit_after_a_lost_add_waits_for_the_coordinator() {
    let now = Instant::now();
    let mut t = add_answer_lost(now);
    t.commit().unwrap();
    let later = t.next_attempt().unwrap();
    assert_eq!(t.poll(later, true), Step::Send(TxnRequest::FindCoordinator));
    t.on_find_coordinator(later, Answer::Ok(coordinator()));
    // The partition is asked for again before anything else: the commit
    // never reports success on a partition the coordinator did not
    // confirm.
    assert_eq!(
        t.poll(later, true),
        Step::Send(TxnRequest::AddPartitions(vec![tp(0)]))
    );
    t.on_add_partitions(later, Answer::Ok(vec![(tp(0), ErrorCode::NONE)]));
    assert!(t.may_send(&tp(0)));
    assert_eq!(t.poll(later, false), Step::Idle, "records still in flight");
    assert_eq!(
        t.poll(later, true),
        Step::Send(TxnRequest::EndTxn { commit: true })
    );
    // 48 to a commit stays fatal: the rule is the abort's only.
    let step = t.on_end_txn(later, Answer::Code(ErrorCode::INVALID_TXN_STATE, None));
    assert!(
        matches!(
            step,
            Step::Complete(TxnOp::Commit, Err(Error::Fatal { .. }))
        ),
        "{step:?}"
    );
}
