//! Table tests for the idempotence state machine.
use super::*;

const P: ProducerIdentity = ProducerIdentity { id: 7, epoch: 0 };

fn ok(base_offset: i64) -> Outcome {
    Outcome::Answer {
        code: ErrorCode::NONE,
        log_start_offset: 0,
        base_offset,
    }
}

fn err(code: ErrorCode) -> Outcome {
    Outcome::Answer {
        code,
        log_start_offset: 0,
        base_offset: -1,
    }
}

fn started() -> Idempotence<&'static str> {
    let mut s = Idempotence::new(5, false);
    s.set_producer(P);
    s
}

fn send(s: &mut Idempotence<&'static str>, count: i32) -> BatchSequence {
    assert_eq!(s.check_send(&"t-0", None), SendCheck::Send);
    let b = s.assign(&"t-0", count).unwrap();
    s.on_sent(&"t-0");
    b
}

#[test]
fn no_producer_id_means_wait() {
    let mut s: Idempotence<&str> = Idempotence::new(5, false);
    assert_eq!(s.check_send(&"t-0", None), SendCheck::Wait);
    assert!(s.assign(&"t-0", 1).is_none());
}

#[test]
fn sequences_advance_by_record_count_and_wrap() {
    let mut s = started();
    let a = send(&mut s, 3);
    assert_eq!(s.on_outcome(&"t-0", a, &ok(0)), Verdict::Complete);
    let b = send(&mut s, 2);
    assert_eq!((a.base, b.base), (0, 3));
    // Near i32::MAX the next sequence wraps to 0.
    s.partitions.get_mut(&"t-0").unwrap().next = i32::MAX - 1;
    assert_eq!(s.on_outcome(&"t-0", b, &ok(3)), Verdict::Complete);
    let c = s.assign(&"t-0", 3).unwrap();
    assert_eq!(c.base, i32::MAX - 1);
    assert_eq!(c.last(), 0);
    assert_eq!(s.assign(&"t-0", 1).unwrap().base, 1);
}

#[test]
fn only_one_in_flight_until_first_ack_then_five() {
    let mut s = started();
    let a = send(&mut s, 1);
    assert_eq!(
        s.check_send(&"t-0", None),
        SendCheck::Wait,
        "S4: one until acked"
    );
    s.on_outcome(&"t-0", a, &ok(0));
    for _ in 0..5 {
        send(&mut s, 1);
    }
    assert_eq!(
        s.check_send(&"t-0", None),
        SendCheck::Full,
        "five in flight"
    );
    assert_eq!(s.outstanding(&"t-0"), 5);
}

#[test]
fn duplicate_answers_are_success() {
    let mut s = started();
    let a = send(&mut s, 1);
    assert_eq!(
        s.on_outcome(&"t-0", a, &err(ErrorCode::DUPLICATE_SEQUENCE_NUMBER)),
        Verdict::Complete
    );
}

#[test]
fn retries_go_only_when_first_outstanding() {
    let mut s = started();
    let a = send(&mut s, 1);
    s.on_outcome(&"t-0", a, &ok(0));
    let b = send(&mut s, 1);
    let c = send(&mut s, 1);
    let v = s.on_outcome(&"t-0", b, &err(ErrorCode::NOT_LEADER_OR_FOLLOWER));
    assert_eq!(
        v,
        Verdict::Retry {
            maybe_persisted: false,
            refresh_metadata: true
        }
    );
    // c comes back with 45 (collateral: not the next expected) → retry, no bump.
    assert_eq!(
        s.on_outcome(&"t-0", c, &err(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)),
        Verdict::Retry {
            maybe_persisted: false,
            refresh_metadata: false
        }
    );
    assert!(!s.bump_requested(), "S3/S8: collateral 45 needs no bump");
    assert_eq!(
        s.check_send(&"t-0", Some(c)),
        SendCheck::Wait,
        "c is not first"
    );
    assert_eq!(s.check_send(&"t-0", Some(b)), SendCheck::Send);
}

#[test]
fn out_of_order_on_next_expected_bumps_and_resets() {
    let mut s = started();
    let a = send(&mut s, 1);
    s.on_outcome(&"t-0", a, &ok(0));
    let b = send(&mut s, 2);
    assert_eq!(
        s.on_outcome(&"t-0", b, &err(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)),
        Verdict::Retry {
            maybe_persisted: false,
            refresh_metadata: false
        }
    );
    assert!(s.bump_requested());
    assert_eq!(
        s.apply_bump(),
        IdentityAction::Bumped(ProducerIdentity { id: 7, epoch: 1 })
    );
    // Nothing in flight, the partition asked for it: reset, restart at 0.
    assert_eq!(s.check_send(&"t-0", Some(b)), SendCheck::Reset);
    s.reset_partition(&"t-0");
    let b2 = send(&mut s, 2);
    assert_eq!((b2.producer.epoch, b2.base), (1, 0));
}

#[test]
fn out_of_order_is_abortable_for_transactions() {
    let mut s: Idempotence<&str> = Idempotence::new(5, true);
    s.set_producer(P);
    let a = send(&mut s, 1);
    assert_eq!(
        s.on_outcome(&"t-0", a, &err(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)),
        Verdict::Fail
    );
    assert!(!s.bump_requested());
}

#[test]
fn stale_partitions_finish_old_batches_before_switching() {
    let mut s = started();
    s.partitions.insert("u-0", PartitionSequences::new(P, 0));
    let a = send(&mut s, 1);
    s.on_outcome(&"t-0", a, &ok(0));
    let b = send(&mut s, 1);
    // Another partition forces a bump.
    s.request_bump(&"u-0");
    s.apply_bump();
    assert_eq!(
        s.check_send(&"t-0", None),
        SendCheck::Wait,
        "b still in flight"
    );
    s.on_outcome(&"t-0", b, &ok(1));
    assert_eq!(s.check_send(&"t-0", None), SendCheck::Reset);
}

#[test]
fn epoch_exhaustion_asks_for_a_new_producer_id() {
    let mut s: Idempotence<&str> = Idempotence::new(5, false);
    s.set_producer(ProducerIdentity {
        id: 7,
        epoch: i16::MAX,
    });
    s.request_bump(&"t-0");
    assert_eq!(s.apply_bump(), IdentityAction::NewProducerId);
    assert_eq!(s.producer(), None);
    assert_eq!(s.check_send(&"t-0", None), SendCheck::Wait);
}

#[test]
fn unknown_producer_id_table() {
    // log start -1: plain retry.
    let mut s = started();
    let a = send(&mut s, 1);
    let o = Outcome::Answer {
        code: ErrorCode::UNKNOWN_PRODUCER_ID,
        log_start_offset: -1,
        base_offset: -1,
    };
    assert!(matches!(s.on_outcome(&"t-0", a, &o), Verdict::Retry { .. }));
    assert!(!s.bump_requested());
    // log start past the last acked offset: silent bump and retry.
    let mut s = started();
    let a = send(&mut s, 1);
    s.on_outcome(&"t-0", a, &ok(10));
    let b = send(&mut s, 1);
    let o = Outcome::Answer {
        code: ErrorCode::UNKNOWN_PRODUCER_ID,
        log_start_offset: 11,
        base_offset: -1,
    };
    assert!(matches!(s.on_outcome(&"t-0", b, &o), Verdict::Retry { .. }));
    assert!(s.bump_requested());
}

#[test]
fn fatal_and_permanent_codes() {
    let mut s = started();
    let a = send(&mut s, 1);
    assert_eq!(
        s.on_outcome(&"t-0", a, &err(ErrorCode::INVALID_PRODUCER_EPOCH)),
        Verdict::Fatal
    );
    let mut s = started();
    let a = send(&mut s, 1);
    assert_eq!(
        s.on_outcome(&"t-0", a, &err(ErrorCode::INVALID_RECORD)),
        Verdict::Fail
    );
    assert!(s.bump_requested(), "S13: the gap is repaired by a bump");
    let mut s = started();
    let a = send(&mut s, 3);
    assert_eq!(
        s.on_outcome(&"t-0", a, &err(ErrorCode::MESSAGE_TOO_LARGE)),
        Verdict::Split
    );
    let mut s = started();
    let a = send(&mut s, 1);
    assert_eq!(
        s.on_outcome(&"t-0", a, &err(ErrorCode::MESSAGE_TOO_LARGE)),
        Verdict::Fail
    );
}

#[test]
fn possibly_persisted_outcomes() {
    let mut s = started();
    let a = send(&mut s, 1);
    assert_eq!(
        s.on_outcome(&"t-0", a, &err(ErrorCode::REQUEST_TIMED_OUT)),
        Verdict::Retry {
            maybe_persisted: true,
            refresh_metadata: false
        }
    );
    s.on_sent(&"t-0");
    assert_eq!(
        s.on_outcome(
            &"t-0",
            a,
            &Outcome::Lost {
                maybe_persisted: true
            }
        ),
        Verdict::Retry {
            maybe_persisted: true,
            refresh_metadata: true
        }
    );
}

#[test]
fn expired_in_doubt_is_resolved_by_a_later_success() {
    let mut s = started();
    let a = send(&mut s, 1);
    s.on_outcome(&"t-0", a, &ok(0));
    let b = send(&mut s, 1);
    let c = send(&mut s, 1);
    s.on_outcome(
        &"t-0",
        b,
        &Outcome::Lost {
            maybe_persisted: true,
        },
    );
    s.on_expired(&"t-0", b, true);
    assert!(!s.bump_requested(), "c may still resolve it");
    assert_eq!(s.on_outcome(&"t-0", c, &ok(2)), Verdict::Complete);
    assert!(
        !s.bump_requested(),
        "S11: c's success acknowledges b implicitly"
    );
}

#[test]
fn expired_in_doubt_with_nothing_after_bumps() {
    let mut s = started();
    let a = send(&mut s, 1);
    s.on_outcome(&"t-0", a, &ok(0));
    let b = send(&mut s, 1);
    s.on_outcome(
        &"t-0",
        b,
        &Outcome::Lost {
            maybe_persisted: true,
        },
    );
    s.on_expired(&"t-0", b, true);
    assert!(s.bump_requested(), "S11: nothing got through, bump");
}

#[test]
fn out_of_order_right_after_a_doubt_bumps_otherwise_waits() {
    let mut s = started();
    let a = send(&mut s, 1);
    s.on_outcome(&"t-0", a, &ok(0));
    let b = send(&mut s, 1);
    let c = send(&mut s, 1);
    let d = send(&mut s, 1);
    s.on_outcome(
        &"t-0",
        b,
        &Outcome::Lost {
            maybe_persisted: true,
        },
    );
    s.on_expired(&"t-0", b, true);
    // d is not right after the doubt: retry, no bump.
    assert!(matches!(
        s.on_outcome(&"t-0", d, &err(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)),
        Verdict::Retry { .. }
    ));
    assert!(!s.bump_requested());
    // c is: b was not written after all, bump.
    assert!(matches!(
        s.on_outcome(&"t-0", c, &err(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)),
        Verdict::Retry { .. }
    ));
    assert!(s.bump_requested());
}

#[test]
fn sequence_order_helper() {
    assert!(after(1, 0));
    assert!(after(0, i32::MAX));
    assert!(!after(0, 0));
    assert!(!after(0, 1));
}

#[test]
fn expired_after_a_later_batch_was_acknowledged_is_already_resolved() {
    // S11: b's answer is lost, c (behind it) is acknowledged, which proves
    // b was written; b then expires. Nothing is in doubt: no bump.
    let mut s = started();
    let a = send(&mut s, 1);
    s.on_outcome(&"t-0", a, &ok(0));
    let b = send(&mut s, 2);
    let c = send(&mut s, 2);
    assert_eq!(s.on_outcome(&"t-0", c, &ok(3)), Verdict::Complete);
    assert!(matches!(
        s.on_outcome(
            &"t-0",
            b,
            &Outcome::Lost {
                maybe_persisted: true
            }
        ),
        Verdict::Retry { .. }
    ));
    s.on_expired(&"t-0", b, true);
    assert!(!s.bump_requested(), "c's success already resolved b");
    assert_eq!(s.check_send(&"t-0", None), SendCheck::Send);
}

#[test]
fn unknown_producer_id_after_state_expiry_bumps_and_retries_once() {
    // S20 on a 2.0–2.4 broker: log start 0, last acked offset past it.
    let expired = Outcome::Answer {
        code: ErrorCode::UNKNOWN_PRODUCER_ID,
        log_start_offset: 0,
        base_offset: -1,
    };
    let mut s = started();
    let a = send(&mut s, 1);
    s.on_outcome(&"t-0", a, &ok(10));
    let b = send(&mut s, 1);
    let c = send(&mut s, 1);
    assert!(matches!(
        s.on_outcome(&"t-0", b, &expired),
        Verdict::Retry {
            maybe_persisted: false,
            ..
        }
    ));
    assert!(s.bump_requested());
    assert!(matches!(s.apply_bump(), IdentityAction::Bumped(_)));
    // The batch behind it gets the same answer: retried, no second bump.
    assert!(matches!(
        s.on_outcome(&"t-0", c, &expired),
        Verdict::Retry { .. }
    ));
    assert!(!s.bump_requested(), "one bump per gap");
    assert_eq!(s.check_send(&"t-0", None), SendCheck::Reset);
    // A transactional producer fails the batch instead.
    let mut s: Idempotence<&str> = Idempotence::new(5, true);
    s.set_producer(P);
    let a = send(&mut s, 1);
    s.on_outcome(&"t-0", a, &ok(10));
    let b = send(&mut s, 1);
    assert_eq!(s.on_outcome(&"t-0", b, &expired), Verdict::Fail);
}

#[test]
fn a_transactional_producer_fails_59_even_without_a_log_start_offset() {
    // Inside a transaction 59 is abortable whatever the log start offset
    // (the idempotent producer would retry it plainly).
    let mut s: Idempotence<&str> = Idempotence::new(5, true);
    s.set_producer(P);
    let a = send(&mut s, 1);
    let unknown = Outcome::Answer {
        code: ErrorCode::UNKNOWN_PRODUCER_ID,
        log_start_offset: -1,
        base_offset: -1,
    };
    assert_eq!(s.on_outcome(&"t-0", a, &unknown), Verdict::Fail);
}
