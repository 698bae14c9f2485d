//! Every transition of the transaction state machine, driven by hand.

use std::time::Duration;

use kproducer_net::TopicPartition;
use kproducer_protocol::ErrorCode;
use tokio::time::Instant;

use super::*;

fn tp(p: i32) -> TopicPartition {
    TopicPartition::new("t", p)
}

fn coordinator() -> Coordinator {
    Coordinator {
        node: 1,
        host: "b1".into(),
        port: 9092,
    }
}

fn machine() -> Transaction {
    Transaction::new(Duration::from_millis(100), Duration::from_secs(1))
}

/// A machine through init (coordinator found, producer id assigned).
fn ready(now: Instant) -> Transaction {
    let mut t = machine();
    assert_eq!(t.init().unwrap(), Started::New);
    assert_eq!(t.poll(now, true), Step::Send(TxnRequest::FindCoordinator));
    assert_eq!(
        t.on_find_coordinator(now, Answer::Ok(coordinator())),
        Step::Idle
    );
    assert_eq!(
        t.poll(now, true),
        Step::Send(TxnRequest::InitProducerId { bump: false })
    );
    assert!(matches!(
        t.on_init_producer_id(now, Answer::Ok(())),
        Step::Complete(TxnOp::Init, Ok(()))
    ));
    assert_eq!(t.phase(), TransactionPhase::Ready);
    t
}

/// A machine in a transaction with partition 0 added.
fn in_transaction(now: Instant) -> Transaction {
    let mut t = ready(now);
    t.begin().unwrap();
    assert!(!t.may_send(&tp(0)));
    assert_eq!(
        t.poll(now, true),
        Step::Send(TxnRequest::AddPartitions(vec![tp(0)]))
    );
    t.on_add_partitions(now, Answer::Ok(vec![(tp(0), ErrorCode::NONE)]));
    assert!(t.may_send(&tp(0)));
    t
}

fn is_invalid_state(r: Result<impl std::fmt::Debug, Error>) -> bool {
    matches!(
        r,
        Err(Error::Transaction(TransactionError::InvalidState { .. }))
    )
}

#[tokio::test(start_paused = true)]
async fn init_finds_the_coordinator_then_gets_a_producer_id() {
    let now = Instant::now();
    let t = ready(now);
    assert_eq!(t.coordinator(), Some(&coordinator()));
}

#[tokio::test(start_paused = true)]
async fn init_twice_joins_while_running_and_is_refused_after() {
    let now = Instant::now();
    let mut t = machine();
    t.init().unwrap();
    assert_eq!(t.init().unwrap(), Started::Joined);
    let mut t = ready(now);
    assert!(is_invalid_state(t.init()));
}

#[tokio::test(start_paused = true)]
async fn operations_out_of_order_are_typed_state_errors() {
    let now = Instant::now();
    let mut t = machine();
    assert!(is_invalid_state(t.begin()));
    assert!(is_invalid_state(t.commit()));
    assert!(is_invalid_state(t.abort()));
    assert!(matches!(
        t.check_record(),
        Err(Error::Transaction(TransactionError::NoTransaction))
    ));
    let mut t = ready(now);
    assert!(is_invalid_state(t.commit()), "commit without begin");
    assert!(is_invalid_state(t.abort()), "abort without begin");
    t.begin().unwrap();
    assert!(is_invalid_state(t.begin()), "begin twice");
    t.check_record().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_new_partition_waits_for_add_partitions_while_added_ones_flow() {
    let now = Instant::now();
    let mut t = in_transaction(now);
    assert!(!t.may_send(&tp(1)));
    assert!(!t.may_send(&tp(2)));
    assert_eq!(
        t.poll(now, true),
        Step::Send(TxnRequest::AddPartitions(vec![tp(1), tp(2)]))
    );
    // While the request is out, partition 0 keeps flowing and the new
    // ones are not asked for twice.
    assert!(t.may_send(&tp(0)));
    assert!(!t.may_send(&tp(1)));
    assert_eq!(t.poll(now, true), Step::Idle);
    t.on_add_partitions(
        now,
        Answer::Ok(vec![(tp(1), ErrorCode::NONE), (tp(2), ErrorCode::NONE)]),
    );
    assert!(t.may_send(&tp(1)) && t.may_send(&tp(2)));
    assert_eq!(t.poll(now, true), Step::Idle);
}

#[tokio::test(start_paused = true)]
async fn commit_waits_for_the_flush_then_ends_the_transaction() {
    let now = Instant::now();
    let mut t = in_transaction(now);
    assert_eq!(t.commit().unwrap(), Started::New);
    assert_eq!(
        t.commit().unwrap(),
        Started::Joined,
        "a retried commit joins"
    );
    assert!(!t.accepts_records());
    assert!(matches!(
        t.check_record(),
        Err(Error::Transaction(TransactionError::NoTransaction))
    ));
    assert_eq!(t.poll(now, false), Step::Idle, "records still unresolved");
    assert_eq!(
        t.poll(now, true),
        Step::Send(TxnRequest::EndTxn { commit: true })
    );
    assert!(matches!(
        t.on_end_txn(now, Answer::Ok(())),
        Step::Complete(TxnOp::Commit, Ok(()))
    ));
    assert_eq!(t.phase(), TransactionPhase::Ready);
    assert!(is_invalid_state(t.commit()), "committing twice");
}

#[tokio::test(start_paused = true)]
async fn an_empty_transaction_commits_and_aborts_without_end_txn() {
    let now = Instant::now();
    let mut t = ready(now);
    t.begin().unwrap();
    t.commit().unwrap();
    assert!(matches!(
        t.poll(now, true),
        Step::Complete(TxnOp::Commit, Ok(()))
    ));
    t.begin().unwrap();
    t.abort().unwrap();
    assert!(matches!(
        t.poll(now, true),
        Step::Complete(TxnOp::Abort, Ok(()))
    ));
}

#[tokio::test(start_paused = true)]
async fn abort_waits_for_in_flight_batches_then_ends_the_transaction() {
    let now = Instant::now();
    let mut t = in_transaction(now);
    assert_eq!(t.abort().unwrap(), Started::New);
    assert!(matches!(
        t.drop_unsent(),
        Some(Error::Transaction(TransactionError::Aborted))
    ));
    assert!(!t.may_send(&tp(0)), "nothing is sent while aborting");
    assert_eq!(t.poll(now, false), Step::Idle);
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

#[tokio::test(start_paused = true)]
async fn a_failed_record_makes_the_transaction_abortable_and_abort_bumps_the_epoch() {
    let now = Instant::now();
    let mut t = in_transaction(now);
    let refused = Error::Broker {
        topic: "t".into(),
        partition: 0,
        code: ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
        message: None,
    };
    t.on_records_failed(&refused);
    assert_eq!(t.phase(), TransactionPhase::AbortableError);
    let abortable = |r: Option<Error>| {
        matches!(
            r,
            Some(Error::Transaction(TransactionError::Abortable {
                code: Some(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER),
                ..
            }))
        )
    };
    assert!(abortable(t.commit().err()), "commit is refused");
    assert!(abortable(t.check_record().err()), "new records are refused");
    assert!(t.drop_unsent().is_some(), "unsent records are dropped");
    t.abort().unwrap();
    assert_eq!(
        t.poll(now, true),
        Step::Send(TxnRequest::EndTxn { commit: false })
    );
    assert_eq!(t.on_end_txn(now, Answer::Ok(())), Step::Idle);
    assert_eq!(
        t.poll(now, true),
        Step::Send(TxnRequest::InitProducerId { bump: true })
    );
    assert!(matches!(
        t.on_init_producer_id(now, Answer::Ok(())),
        Step::Complete(TxnOp::Abort, Ok(()))
    ));
    // The next transaction starts clean.
    t.begin().unwrap();
    t.check_record().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_record_failing_during_commit_fails_the_commit_as_abortable() {
    let now = Instant::now();
    let mut t = in_transaction(now);
    t.commit().unwrap();
    t.on_records_failed(&Error::Broker {
        topic: "t".into(),
        partition: 0,
        code: ErrorCode::UNKNOWN_PRODUCER_ID,
        message: None,
    });
    assert!(t.drop_unsent().is_some());
    assert_eq!(t.poll(now, false), Step::Idle);
    assert!(matches!(
        t.poll(now, true),
        Step::Complete(
            TxnOp::Commit,
            Err(Error::Transaction(TransactionError::Abortable { .. }))
        )
    ));
    assert_eq!(t.phase(), TransactionPhase::AbortableError);
    t.abort().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_dropped_sequenced_batch_needs_a_bump_even_without_failures() {
    let now = Instant::now();
    let mut t = ready(now);
    t.begin().unwrap();
    t.abort().unwrap();
    t.note_sequence_gap();
    assert_eq!(
        t.poll(now, true),
        Step::Send(TxnRequest::InitProducerId { bump: true })
    );
}

#[tokio::test(start_paused = true)]
async fn coordinator_errors_are_retried_after_a_backoff() {
    let now = Instant::now();
    let mut t = in_transaction(now);
    t.commit().unwrap();
    for (code, rediscover) in [
        (ErrorCode::CONCURRENT_TRANSACTIONS, false),
        (ErrorCode::COORDINATOR_LOAD_IN_PROGRESS, false),
        (ErrorCode::NOT_COORDINATOR, true),
        (ErrorCode::COORDINATOR_NOT_AVAILABLE, true),
    ] {
        let now = Instant::now();
        assert!(matches!(
            t.poll(now, true),
            Step::Send(TxnRequest::EndTxn { .. })
        ));
        assert_eq!(t.on_end_txn(now, Answer::Code(code, None)), Step::Idle);
        assert_eq!(t.poll(now, true), Step::Idle, "{code}: backs off");
        let later = t.next_attempt().unwrap();
        assert!(later > now);
        tokio::time::advance(later - now).await;
        if rediscover {
            assert_eq!(
                t.poll(later, true),
                Step::Send(TxnRequest::FindCoordinator),
                "{code}: the coordinator is found again"
            );
            t.on_find_coordinator(later, Answer::Ok(coordinator()));
        }
    }
    assert!(matches!(
        t.poll(Instant::now(), true),
        Step::Send(TxnRequest::EndTxn { commit: true })
    ));
    assert!(matches!(
        t.on_end_txn(Instant::now(), Answer::Ok(())),
        Step::Complete(TxnOp::Commit, Ok(()))
    ));
}

#[tokio::test(start_paused = true)]
async fn lost_requests_find_the_coordinator_again() {
    let now = Instant::now();
    let mut t = in_transaction(now);
    assert!(!t.may_send(&tp(1)));
    assert!(matches!(
        t.poll(now, true),
        Step::Send(TxnRequest::AddPartitions(_))
    ));
    t.on_add_partitions(now, Answer::Lost("connection reset".into()));
    let later = t.next_attempt().unwrap();
    assert_eq!(t.poll(later, true), Step::Send(TxnRequest::FindCoordinator));
    t.on_find_coordinator(later, Answer::Ok(coordinator()));
    assert_eq!(
        t.poll(later, true),
        Step::Send(TxnRequest::AddPartitions(vec![tp(1)])),
        "the partition is asked for again"
    );
}

#[tokio::test(start_paused = true)]
async fn fenced_answers_are_fatal_everywhere() {
    let now = Instant::now();
    // AddPartitionsToTxn.
    let mut t = in_transaction(now);
    assert!(!t.may_send(&tp(1)));
    t.poll(now, true);
    let step = t.on_add_partitions(now, Answer::Ok(vec![(tp(1), ErrorCode::PRODUCER_FENCED)]));
    assert_eq!(step, Step::Idle, "no operation was waiting");
    assert_eq!(t.phase(), TransactionPhase::FatalError);
    assert!(matches!(
        t.commit(),
        Err(Error::Fatal {
            code: Some(ErrorCode::PRODUCER_FENCED),
            ..
        })
    ));
    assert!(matches!(t.begin(), Err(Error::Fatal { .. })));
    assert!(t.check_record().is_err());
    // EndTxn, with a commit waiting.
    for code in [
        ErrorCode::PRODUCER_FENCED,
        ErrorCode::INVALID_PRODUCER_EPOCH,
        ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
    ] {
        let mut t = in_transaction(now);
        t.commit().unwrap();
        t.poll(now, true);
        assert!(
            matches!(t.on_end_txn(now, Answer::Code(code, None)), Step::Complete(TxnOp::Commit, Err(Error::Fatal { code: Some(c), .. })) if c == code),
            "{code}"
        );
    }
    // InitProducerId.
    let mut t = machine();
    t.init().unwrap();
    t.poll(now, true);
    t.on_find_coordinator(now, Answer::Ok(coordinator()));
    t.poll(now, true);
    assert!(matches!(
        t.on_init_producer_id(
            now,
            Answer::Code(ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED, None)
        ),
        Step::Complete(TxnOp::Init, Err(Error::Fatal { .. }))
    ));
    // A produce answer the core found fatal.
    let mut t = in_transaction(now);
    t.on_records_failed(&Error::Fatal {
        reason: "fenced".into(),
        code: Some(ErrorCode::INVALID_PRODUCER_EPOCH),
    });
    assert_eq!(t.phase(), TransactionPhase::FatalError);
}

#[tokio::test(start_paused = true)]
async fn abortable_add_partitions_answers_stop_the_commit() {
    let now = Instant::now();
    let mut t = in_transaction(now);
    assert!(!t.may_send(&tp(1)));
    t.poll(now, true);
    t.on_add_partitions(
        now,
        Answer::Ok(vec![(tp(1), ErrorCode::TOPIC_AUTHORIZATION_FAILED)]),
    );
    assert_eq!(t.phase(), TransactionPhase::AbortableError);
    assert!(!t.may_send(&tp(1)));
    assert!(matches!(
        t.commit(),
        Err(Error::Transaction(TransactionError::Abortable {
            code: Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED),
            ..
        }))
    ));
    t.abort().unwrap();
    assert_eq!(
        t.poll(now, true),
        Step::Send(TxnRequest::EndTxn { commit: false })
    );
}

#[tokio::test(start_paused = true)]
async fn abort_failures_of_an_unknown_producer_still_end_with_a_bump() {
    let now = Instant::now();
    let mut t = in_transaction(now);
    t.abort().unwrap();
    t.poll(now, true);
    assert_eq!(
        t.on_end_txn(
            now,
            Answer::Code(ErrorCode::INVALID_PRODUCER_ID_MAPPING, None)
        ),
        Step::Idle
    );
    assert_eq!(
        t.poll(now, true),
        Step::Send(TxnRequest::InitProducerId { bump: true })
    );
}

#[tokio::test(start_paused = true)]
async fn a_broker_without_an_api_transactions_need_is_fatal() {
    let now = Instant::now();
    let mut t = in_transaction(now);
    t.commit().unwrap();
    assert!(matches!(
        t.poll(now, true),
        Step::Send(TxnRequest::EndTxn { commit: true })
    ));
    let step = t.on_end_txn(
        now,
        Answer::Unsendable(Unsendable::NoVersion(
            "b1 supports no version of EndTxn(26)".into(),
        )),
    );
    assert!(
        matches!(&step, Step::Complete(TxnOp::Commit, Err(Error::Fatal { reason, code: None })) if reason.contains("EndTxn") && reason.contains("cannot run transactions")),
        "{step:?}"
    );
    assert_eq!(t.phase(), TransactionPhase::FatalError);
}

mod walk;

mod offsets;

mod lost_answers;
