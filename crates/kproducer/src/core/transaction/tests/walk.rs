//! Seeded random walks through the transaction state machine, checking
//! its invariants after every input.

use std::time::Duration;

use kproducer_protocol::ErrorCode;
use tokio::time::Instant;

use super::{coordinator, machine, tp};
use crate::core::transaction::{Answer, Step, TxnOp, TxnRequest};
use crate::error::Error;
use crate::transaction::{ConsumerGroupMetadata, OffsetAndMetadata, TransactionPhase};

/// A deterministic generator for the random walk (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Random inputs in random order; after each, the invariants hold:
/// one request at a time, batches only for added partitions of an open
/// transaction, no commit EndTxn once the transaction is abortable or
/// while offsets are being sent, offsets committed only for a group added
/// to the transaction, a finished operation leaves the machine ready
/// (or fatal; offsets leave it in its transaction), and no commit or
/// abort finishes without EndTxn (or an epoch bump) after an add that may
/// have reached the coordinator (answered, or its answer lost).
#[tokio::test(start_paused = true)]
async fn random_walks_keep_the_invariants() {
    let codes = [
        ErrorCode::NONE,
        ErrorCode::NONE,
        ErrorCode::NONE,
        ErrorCode::NOT_COORDINATOR,
        ErrorCode::COORDINATOR_NOT_AVAILABLE,
        ErrorCode::CONCURRENT_TRANSACTIONS,
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
        ErrorCode::PRODUCER_FENCED,
        ErrorCode::UNKNOWN_PRODUCER_ID,
        ErrorCode::TOPIC_AUTHORIZATION_FAILED,
        ErrorCode::ILLEGAL_GENERATION,
    ];
    // Operations finished successfully across all walks, by kind: the walk
    // must reach every one of them, or it proves little.
    let mut finished: std::collections::BTreeMap<&str, usize> = Default::default();
    for seed in 1..=300u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut t = machine();
        let mut out: Option<TxnRequest> = None;
        let mut now = Instant::now();
        // The coordinator may hold a transaction of ours: an add was
        // answered or its answer was lost, and no EndTxn or epoch bump
        // went since.
        let mut coordinator_may_hold = false;
        for step in 0..400 {
            let ctx = format!("seed {seed}, step {step}, phase {:?}", t.phase());
            match rng.below(12) {
                0 => drop(t.init()),
                1 => drop(t.begin()),
                2 => drop(t.commit()),
                3 => drop(t.abort()),
                4 => {
                    let tp = tp(rng.below(4) as i32);
                    if t.may_send(&tp) {
                        assert!(
                            matches!(
                                t.phase(),
                                TransactionPhase::InTransaction | TransactionPhase::Committing
                            ),
                            "{ctx}: a batch may go only in an open transaction"
                        );
                    }
                }
                5 => t.on_records_failed(&Error::Broker {
                    topic: "t".into(),
                    partition: 0,
                    code: ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
                    message: None,
                }),
                6 => now += Duration::from_millis(rng.below(3000)),
                7 => {
                    let offsets = (0..=rng.below(3) as i32)
                        .map(|p| (tp(p), OffsetAndMetadata::new(rng.below(100) as i64)))
                        .collect();
                    drop(t.send_offsets(ConsumerGroupMetadata::new("g"), offsets));
                }
                _ => {
                    // Answer the request in flight, if any.
                    let Some(request) = out.take() else {
                        continue;
                    };
                    let mut code = codes[rng.below(codes.len() as u64) as usize];
                    // The offsets take three answers in a row: fail them
                    // less often, so that walks get through.
                    let offsets_request = matches!(
                        request,
                        TxnRequest::AddOffsets { .. }
                            | TxnRequest::FindGroupCoordinator { .. }
                            | TxnRequest::CommitOffsets(_)
                    );
                    if offsets_request && rng.below(4) != 0 {
                        code = ErrorCode::NONE;
                    }
                    // An abort's EndTxn is answered 48 often enough that
                    // the walks meet an abort after a lost add answered
                    // "nothing open" (elsewhere 48 is fatal).
                    if request == (TxnRequest::EndTxn { commit: false }) && rng.below(2) == 0 {
                        code = ErrorCode::INVALID_TXN_STATE;
                    }
                    let delivery = rng.below(16);
                    let adds = matches!(
                        request,
                        TxnRequest::AddPartitions(_) | TxnRequest::AddOffsets { .. }
                    );
                    let end_txn = matches!(request, TxnRequest::EndTxn { .. });
                    // AddPartitionsToTxn loses its answer more often: an
                    // abort after a lost add is what the maybe-added rule
                    // is about.
                    let lost_below = if matches!(request, TxnRequest::AddPartitions(_)) {
                        4
                    } else {
                        1
                    };
                    let answer = |ok| {
                        if delivery < lost_below {
                            Answer::Lost("reset".into())
                        } else if delivery == lost_below {
                            Answer::NotSent("no connection".into())
                        } else if code == ErrorCode::NONE {
                            Answer::Ok(ok)
                        } else {
                            Answer::Code(code, None)
                        }
                    };
                    let step = match request {
                        TxnRequest::FindCoordinator => {
                            let a = answer(());
                            t.on_find_coordinator(
                                now,
                                match a {
                                    Answer::Ok(()) => Answer::Ok(coordinator()),
                                    Answer::Code(c, m) => Answer::Code(c, m),
                                    Answer::Lost(w) => Answer::Lost(w),
                                    Answer::NotSent(w) => Answer::NotSent(w),
                                    Answer::Unsendable(w) => Answer::Unsendable(w),
                                },
                            )
                        }
                        TxnRequest::InitProducerId { .. } => t.on_init_producer_id(now, answer(())),
                        TxnRequest::AddPartitions(tps) => {
                            let a = answer(());
                            t.on_add_partitions(
                                now,
                                match a {
                                    Answer::Ok(()) => Answer::Ok(
                                        tps.iter()
                                            .map(|tp| (tp.clone(), ErrorCode::NONE))
                                            .collect(),
                                    ),
                                    Answer::Code(c, m) => Answer::Code(c, m),
                                    Answer::Lost(w) => Answer::Lost(w),
                                    Answer::NotSent(w) => Answer::NotSent(w),
                                    Answer::Unsendable(w) => Answer::Unsendable(w),
                                },
                            )
                        }
                        TxnRequest::EndTxn { .. } => t.on_end_txn(now, answer(())),
                        TxnRequest::AddOffsets { .. } => t.on_add_offsets(now, answer(())),
                        TxnRequest::FindGroupCoordinator { .. } => {
                            let a = answer(());
                            t.on_find_group_coordinator(
                                now,
                                match a {
                                    Answer::Ok(()) => Answer::Ok(coordinator()),
                                    Answer::Code(c, m) => Answer::Code(c, m),
                                    Answer::Lost(w) => Answer::Lost(w),
                                    Answer::NotSent(w) => Answer::NotSent(w),
                                    Answer::Unsendable(w) => Answer::Unsendable(w),
                                },
                            )
                        }
                        TxnRequest::CommitOffsets(c) => {
                            let a = answer(());
                            t.on_commit_offsets(
                                now,
                                match a {
                                    Answer::Ok(()) => Answer::Ok(
                                        c.offsets.keys().map(|tp| (tp.clone(), code)).collect(),
                                    ),
                                    Answer::Code(_, _) => Answer::Ok(
                                        c.offsets.keys().map(|tp| (tp.clone(), code)).collect(),
                                    ),
                                    Answer::Lost(w) => Answer::Lost(w),
                                    Answer::NotSent(w) => Answer::NotSent(w),
                                    Answer::Unsendable(w) => Answer::Unsendable(w),
                                },
                            )
                        }
                    };
                    let answered = delivery > lost_below;
                    if adds && (delivery < lost_below || (answered && code == ErrorCode::NONE)) {
                        coordinator_may_hold = true;
                    }
                    if end_txn
                        && answered
                        && code == ErrorCode::INVALID_TXN_STATE
                        && t.phase() != TransactionPhase::FatalError
                    {
                        // Accepted: the abort after a lost add found
                        // nothing open.
                        *finished.entry("abort, nothing was open").or_default() += 1;
                    }
                    match step {
                        Step::Complete(TxnOp::SendOffsets, Ok(())) => {
                            assert!(
                                matches!(
                                    t.phase(),
                                    TransactionPhase::InTransaction | TransactionPhase::Committing
                                ),
                                "{ctx}: offsets complete inside the transaction, now {:?}",
                                t.phase()
                            );
                            *finished.entry(TxnOp::SendOffsets.name()).or_default() += 1;
                        }
                        Step::Complete(op, Ok(())) => {
                            assert_eq!(t.phase(), TransactionPhase::Ready, "{ctx}");
                            assert!(
                                !(coordinator_may_hold && op != TxnOp::Init),
                                "{ctx}: {} finished without EndTxn after an add that may have \
                                 reached the coordinator",
                                op.name()
                            );
                            *finished.entry(op.name()).or_default() += 1;
                        }
                        _ => {}
                    }
                    continue;
                }
            }
            let settled = rng.below(2) == 0;
            let abortable = t.abortable.is_some();
            let sending_offsets = t.offsets.is_some();
            match t.poll(now, settled) {
                Step::Send(request) => {
                    assert!(
                        out.is_none(),
                        "{ctx}: a second request while {out:?} is out"
                    );
                    if request == (TxnRequest::EndTxn { commit: true }) {
                        assert!(!abortable, "{ctx}: committing an abortable transaction");
                        assert!(settled, "{ctx}: committing before the flush");
                        assert!(!sending_offsets, "{ctx}: committing before the offsets");
                    }
                    if matches!(
                        request,
                        TxnRequest::EndTxn { .. } | TxnRequest::InitProducerId { bump: true }
                    ) {
                        coordinator_may_hold = false;
                    }
                    if request == (TxnRequest::EndTxn { commit: false })
                        && t.maybe_added
                        && t.nothing_added()
                    {
                        *finished
                            .entry("abort ends what a lost add may have opened")
                            .or_default() += 1;
                    }
                    if let TxnRequest::CommitOffsets(c) = &request {
                        assert!(
                            t.groups_added.contains(&c.group.group_id),
                            "{ctx}: offsets for a group not in the transaction"
                        );
                    }
                    out = Some(request);
                }
                Step::Complete(TxnOp::SendOffsets, Ok(())) => {
                    *finished.entry(TxnOp::SendOffsets.name()).or_default() += 1;
                }
                Step::Complete(op, Ok(())) => {
                    assert_eq!(t.phase(), TransactionPhase::Ready, "{ctx}");
                    assert!(
                        !(coordinator_may_hold && op != TxnOp::Init),
                        "{ctx}: {} finished without EndTxn after an add that may have reached \
                         the coordinator",
                        op.name()
                    );
                    *finished.entry(op.name()).or_default() += 1;
                }
                Step::Complete(_, Err(_)) | Step::Idle => {}
            }
            if t.phase() == TransactionPhase::FatalError {
                assert!(t.fatal_error().is_some(), "{ctx}");
                assert!(t.begin().is_err() && t.commit().is_err() && t.abort().is_err());
                assert!(
                    t.send_offsets(ConsumerGroupMetadata::new("g"), Default::default())
                        .is_err()
                );
                // A fatal producer is done: go on with a new one, so that
                // the rest of the walk still exercises something.
                t = machine();
                out = None;
                coordinator_may_hold = false;
            }
        }
    }
    // The offsets need three answers in a row inside an open transaction,
    // so fewer walks get them through (the unit tests cover each step).
    for (op, at_least) in [
        ("init_transactions", 10),
        ("commit_transaction", 10),
        ("abort_transaction", 10),
        ("send_offsets_to_transaction", 5),
        ("abort ends what a lost add may have opened", 5),
        ("abort, nothing was open", 1),
    ] {
        assert!(
            finished.get(op).copied().unwrap_or(0) >= at_least,
            "{op}: {finished:?}"
        );
    }
}
