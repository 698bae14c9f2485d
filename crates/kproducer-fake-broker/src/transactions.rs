//! The transaction coordinator's bookkeeping, as a pure state machine:
//! producer id allocation, InitProducerId (with epoch bumps and fencing),
//! AddPartitionsToTxn and EndTxn. Writing the transaction markers the
//! decisions call for is the caller's job.
//!
//! Simplifications against Apache Kafka (transaction protocol v1, EndTxn
//! v0–v3): state changes are instantaneous, so there are no `Prepare*`
//! states and no 51 `CONCURRENT_TRANSACTIONS`; InitProducerId on a
//! transactional id with an ongoing transaction aborts it at once and
//! bumps the epoch (Kafka answers 51 first and aborts in the background).
//!
//! # References
//! - KIP-98 (transactions), KIP-360 (InitProducerId with an existing id and
//!   epoch), Apache Kafka `TransactionCoordinator`

use std::collections::{BTreeSet, HashMap};

use kproducer_net::TopicPartition;
use kproducer_protocol::ErrorCode;

/// The first producer id the cluster hands out.
pub const FIRST_PRODUCER_ID: i64 = 1000;

/// Where a transactional id's transaction stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnState {
    /// No transaction since the last InitProducerId.
    Empty,
    /// Partitions were added; not yet ended.
    Ongoing,
    /// The last transaction committed.
    CompleteCommit,
    /// The last transaction aborted.
    CompleteAbort,
}

/// The coordinator's record of one transactional id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnEntry {
    /// Its producer id.
    pub producer_id: i64,
    /// Its current epoch.
    pub producer_epoch: i16,
    /// Where its transaction stands.
    pub state: TxnState,
    /// Partitions in the ongoing transaction.
    pub partitions: BTreeSet<TopicPartition>,
    /// Consumer groups whose offsets are in the ongoing transaction
    /// (AddOffsetsToTxn).
    pub groups: BTreeSet<String>,
    /// The `transaction.timeout.ms` the last InitProducerId asked for
    /// (recorded, not enforced: transactions here never expire).
    pub transaction_timeout_ms: i32,
}

/// A transaction that ended: markers must be written to its partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndedTxn {
    /// The producer id the markers carry.
    pub producer_id: i64,
    /// The epoch the markers carry.
    pub producer_epoch: i16,
    /// Commit (true) or abort (false).
    pub commit: bool,
    /// Where to write a marker.
    pub partitions: Vec<TopicPartition>,
    /// Consumer groups whose pending offsets the marker commits or
    /// discards.
    pub groups: Vec<String>,
}

/// The answer to InitProducerId.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitOutcome {
    /// The producer id to use.
    pub producer_id: i64,
    /// The epoch to use.
    pub producer_epoch: i16,
    /// A transaction that had to be aborted first.
    pub aborted: Option<EndedTxn>,
}

/// Producer ids and transactional ids of a cluster.
#[derive(Debug)]
pub struct TransactionCoordinator {
    next_producer_id: i64,
    txns: HashMap<String, TxnEntry>,
}

impl Default for TransactionCoordinator {
    fn default() -> Self {
        Self {
            next_producer_id: FIRST_PRODUCER_ID,
            txns: HashMap::new(),
        }
    }
}

impl TransactionCoordinator {
    /// A fresh id, never handed out before by this cluster.
    pub fn allocate_producer_id(&mut self) -> i64 {
        let id = self.next_producer_id;
        self.next_producer_id += 1;
        id
    }

    /// InitProducerId.
    ///
    /// - Without a transactional id: always a new producer id at epoch 0, as
    ///   Kafka does (idempotent producers bump their epoch locally).
    /// - A new transactional id: a new producer id at epoch 0.
    /// - A known one: the epoch is bumped (a new producer id once the epoch
    ///   is exhausted, at `i16::MAX - 1`), which fences older instances; an
    ///   ongoing transaction is aborted. When the request names an id and
    ///   epoch (KIP-360), they must be the current ones, else 90
    ///   `PRODUCER_FENCED`.
    pub fn init_producer_id(
        &mut self,
        transactional_id: Option<&str>,
        producer_id: i64,
        producer_epoch: i16,
    ) -> Result<InitOutcome, ErrorCode> {
        let Some(tid) = transactional_id else {
            return Ok(InitOutcome {
                producer_id: self.allocate_producer_id(),
                producer_epoch: 0,
                aborted: None,
            });
        };
        let Some(entry) = self.txns.get(tid) else {
            let producer_id = self.allocate_producer_id();
            self.txns.insert(
                tid.to_owned(),
                TxnEntry {
                    producer_id,
                    producer_epoch: 0,
                    state: TxnState::Empty,
                    partitions: BTreeSet::new(),
                    groups: BTreeSet::new(),
                    transaction_timeout_ms: 0,
                },
            );
            return Ok(InitOutcome {
                producer_id,
                producer_epoch: 0,
                aborted: None,
            });
        };
        let names_instance = producer_id != -1 || producer_epoch != -1;
        if names_instance
            && (producer_id != entry.producer_id || producer_epoch != entry.producer_epoch)
        {
            return Err(ErrorCode::PRODUCER_FENCED);
        }
        let exhausted = entry.producer_epoch >= i16::MAX - 1;
        let new_id = if exhausted {
            Some(self.allocate_producer_id())
        } else {
            None
        };
        let Some(entry) = self.txns.get_mut(tid) else {
            // Looked up just above; the map was not touched in between.
            return Err(ErrorCode::UNKNOWN_SERVER_ERROR);
        };
        // As Kafka does, the abort markers carry the bumped epoch, so the old
        // instance's late writes to those partitions are fenced (47).
        let aborted = (entry.state == TxnState::Ongoing).then(|| EndedTxn {
            producer_id: entry.producer_id,
            producer_epoch: entry.producer_epoch.saturating_add(1),
            commit: false,
            partitions: std::mem::take(&mut entry.partitions).into_iter().collect(),
            groups: std::mem::take(&mut entry.groups).into_iter().collect(),
        });
        match new_id {
            Some(id) => {
                entry.producer_id = id;
                entry.producer_epoch = 0;
            }
            None => entry.producer_epoch += 1,
        }
        entry.state = TxnState::Empty;
        entry.partitions.clear();
        entry.groups.clear();
        Ok(InitOutcome {
            producer_id: entry.producer_id,
            producer_epoch: entry.producer_epoch,
            aborted,
        })
    }

    fn checked_entry(
        &mut self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
    ) -> Result<&mut TxnEntry, ErrorCode> {
        let entry = self
            .txns
            .get_mut(transactional_id)
            .filter(|e| e.producer_id == producer_id)
            .ok_or(ErrorCode::INVALID_PRODUCER_ID_MAPPING)?;
        if entry.producer_epoch != producer_epoch {
            return Err(ErrorCode::PRODUCER_FENCED);
        }
        Ok(entry)
    }

    /// AddPartitionsToTxn: 49 `INVALID_PRODUCER_ID_MAPPING` for an unknown
    /// transactional id or another producer id, 90 `PRODUCER_FENCED` for
    /// another epoch; otherwise the partitions join the transaction.
    pub fn add_partitions(
        &mut self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        partitions: &[TopicPartition],
    ) -> Result<(), ErrorCode> {
        let entry = self.checked_entry(transactional_id, producer_id, producer_epoch)?;
        entry.partitions.extend(partitions.iter().cloned());
        entry.state = TxnState::Ongoing;
        Ok(())
    }

    /// AddOffsetsToTxn: the same checks as
    /// [`TransactionCoordinator::add_partitions`]; the group joins the
    /// transaction, so its end commits or discards the group's pending
    /// offsets.
    pub fn add_offsets(
        &mut self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        group_id: &str,
    ) -> Result<(), ErrorCode> {
        let entry = self.checked_entry(transactional_id, producer_id, producer_epoch)?;
        entry.groups.insert(group_id.to_owned());
        entry.state = TxnState::Ongoing;
        Ok(())
    }

    /// TxnOffsetCommit's producer check (Kafka 3.6+ verifies it with the
    /// transaction coordinator, KIP-890): the same checks as
    /// [`TransactionCoordinator::add_partitions`]. `Ok(false)` when the
    /// group is not in the producer's ongoing transaction (the producer
    /// skipped AddOffsetsToTxn: the offsets would never be completed).
    pub fn check_offset_commit(
        &mut self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        group_id: &str,
    ) -> Result<bool, ErrorCode> {
        let entry = self.checked_entry(transactional_id, producer_id, producer_epoch)?;
        Ok(entry.state == TxnState::Ongoing && entry.groups.contains(group_id))
    }

    /// EndTxn: the same checks as [`TransactionCoordinator::add_partitions`];
    /// ending an ongoing transaction returns the markers to write; repeating
    /// the end of a completed one the same way succeeds with nothing to do;
    /// anything else is 48 `INVALID_TXN_STATE`: ending a transaction that
    /// never started (`Empty`, or no partition or group added since the
    /// last commit), and the other end of a completed one. These are
    /// Kafka's answers (`TransactionCoordinator.endTransaction`, transaction
    /// protocol v1); a producer that lost an AddPartitionsToTxn answer and
    /// aborts relies on them.
    pub fn end_txn(
        &mut self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
    ) -> Result<Option<EndedTxn>, ErrorCode> {
        let entry = self.checked_entry(transactional_id, producer_id, producer_epoch)?;
        match (entry.state, commit) {
            (TxnState::Ongoing, _) => {
                entry.state = if commit {
                    TxnState::CompleteCommit
                } else {
                    TxnState::CompleteAbort
                };
                Ok(Some(EndedTxn {
                    producer_id,
                    producer_epoch,
                    commit,
                    partitions: std::mem::take(&mut entry.partitions).into_iter().collect(),
                    groups: std::mem::take(&mut entry.groups).into_iter().collect(),
                }))
            }
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => Ok(None),
            _ => Err(ErrorCode::INVALID_TXN_STATE),
        }
    }

    /// Records the `transaction.timeout.ms` an InitProducerId for
    /// `transactional_id` asked for.
    pub fn set_transaction_timeout(&mut self, transactional_id: &str, timeout_ms: i32) {
        if let Some(entry) = self.txns.get_mut(transactional_id) {
            entry.transaction_timeout_ms = timeout_ms;
        }
    }

    /// Whether `producer_id` has an ongoing transaction that includes `tp`.
    pub fn includes(&self, producer_id: i64, tp: &TopicPartition) -> bool {
        self.txns.values().any(|e| {
            e.producer_id == producer_id
                && e.state == TxnState::Ongoing
                && e.partitions.contains(tp)
        })
    }

    /// The record for a transactional id.
    pub fn entry(&self, transactional_id: &str) -> Option<&TxnEntry> {
        self.txns.get(transactional_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(p: i32) -> TopicPartition {
        TopicPartition::new("t", p)
    }

    #[test]
    fn idempotent_producers_always_get_a_new_id_at_epoch_zero() {
        let mut c = TransactionCoordinator::default();
        let a = c.init_producer_id(None, -1, -1).expect("granted");
        let b = c.init_producer_id(None, a.producer_id, 3).expect("granted");
        assert_eq!((a.producer_id, a.producer_epoch), (FIRST_PRODUCER_ID, 0));
        assert_eq!(
            (b.producer_id, b.producer_epoch),
            (FIRST_PRODUCER_ID + 1, 0)
        );
    }

    #[test]
    fn re_init_bumps_the_epoch_and_fences_the_old_instance() {
        let mut c = TransactionCoordinator::default();
        let first = c.init_producer_id(Some("tx"), -1, -1).expect("granted");
        let second = c.init_producer_id(Some("tx"), -1, -1).expect("granted");
        assert_eq!(second.producer_id, first.producer_id);
        assert_eq!(second.producer_epoch, 1);
        assert_eq!(
            c.add_partitions("tx", first.producer_id, 0, &[tp(0)]),
            Err(ErrorCode::PRODUCER_FENCED)
        );
        assert_eq!(
            c.init_producer_id(Some("tx"), first.producer_id, 0),
            Err(ErrorCode::PRODUCER_FENCED),
            "KIP-360 re-init naming a stale epoch"
        );
        let third = c
            .init_producer_id(Some("tx"), first.producer_id, 1)
            .expect("KIP-360 re-init naming the current epoch");
        assert_eq!(third.producer_epoch, 2);
    }

    #[test]
    fn an_exhausted_epoch_gets_a_new_producer_id() {
        let mut c = TransactionCoordinator::default();
        let first = c.init_producer_id(Some("tx"), -1, -1).expect("granted");
        if let Some(e) = c.txns.get_mut("tx") {
            e.producer_epoch = i16::MAX - 1;
        }
        let next = c.init_producer_id(Some("tx"), -1, -1).expect("granted");
        assert_ne!(next.producer_id, first.producer_id);
        assert_eq!(next.producer_epoch, 0);
    }

    #[test]
    fn commit_returns_markers_and_a_retry_is_a_no_op() {
        let mut c = TransactionCoordinator::default();
        let p = c.init_producer_id(Some("tx"), -1, -1).expect("granted");
        c.add_partitions("tx", p.producer_id, 0, &[tp(1), tp(0), tp(1)])
            .expect("added");
        let ended = c
            .end_txn("tx", p.producer_id, 0, true)
            .expect("ended")
            .expect("markers");
        assert_eq!(ended.partitions, vec![tp(0), tp(1)]);
        assert!(ended.commit);
        assert_eq!(c.end_txn("tx", p.producer_id, 0, true), Ok(None));
        assert_eq!(
            c.end_txn("tx", p.producer_id, 0, false),
            Err(ErrorCode::INVALID_TXN_STATE)
        );
    }

    #[test]
    fn an_abort_with_nothing_open_is_48_and_a_repeated_abort_succeeds() {
        let mut c = TransactionCoordinator::default();
        let p = c.init_producer_id(Some("tx"), -1, -1).expect("granted");
        let id = p.producer_id;
        assert_eq!(
            c.end_txn("tx", id, 0, false),
            Err(ErrorCode::INVALID_TXN_STATE),
            "Empty: nothing to abort"
        );
        c.add_partitions("tx", id, 0, &[tp(0)]).expect("added");
        let ended = c.end_txn("tx", id, 0, false).expect("aborted");
        assert!(ended.is_some_and(|e| !e.commit && e.partitions == vec![tp(0)]));
        assert_eq!(
            c.end_txn("tx", id, 0, false),
            Ok(None),
            "a repeated abort succeeds with nothing to do"
        );
        c.add_partitions("tx", id, 0, &[tp(1)]).expect("added");
        c.end_txn("tx", id, 0, true).expect("committed");
        assert_eq!(
            c.end_txn("tx", id, 0, false),
            Err(ErrorCode::INVALID_TXN_STATE),
            "CompleteCommit: nothing open to abort"
        );
        assert_eq!(
            c.entry("tx").map(|e| e.state),
            Some(TxnState::CompleteCommit)
        );
    }

    #[test]
    fn mapping_errors_and_empty_transactions() {
        let mut c = TransactionCoordinator::default();
        let p = c.init_producer_id(Some("tx"), -1, -1).expect("granted");
        assert_eq!(
            c.add_partitions("other", p.producer_id, 0, &[tp(0)]),
            Err(ErrorCode::INVALID_PRODUCER_ID_MAPPING)
        );
        assert_eq!(
            c.end_txn("tx", p.producer_id + 7, 0, true),
            Err(ErrorCode::INVALID_PRODUCER_ID_MAPPING)
        );
        assert_eq!(
            c.end_txn("tx", p.producer_id, 0, true),
            Err(ErrorCode::INVALID_TXN_STATE),
            "nothing to end"
        );
    }

    #[test]
    fn a_group_joins_the_transaction_and_ends_with_it() {
        let mut c = TransactionCoordinator::default();
        let p = c.init_producer_id(Some("tx"), -1, -1).expect("granted");
        assert_eq!(
            c.check_offset_commit("tx", p.producer_id, 0, "g"),
            Ok(false)
        );
        c.add_offsets("tx", p.producer_id, 0, "g").expect("added");
        assert_eq!(c.check_offset_commit("tx", p.producer_id, 0, "g"), Ok(true));
        assert_eq!(
            c.add_offsets("tx", p.producer_id, 1, "g"),
            Err(ErrorCode::PRODUCER_FENCED)
        );
        let ended = c
            .end_txn("tx", p.producer_id, 0, true)
            .expect("ended")
            .expect("markers");
        assert_eq!(ended.groups, vec!["g".to_owned()]);
        assert!(
            ended.partitions.is_empty(),
            "offsets alone make a transaction"
        );
        assert_eq!(
            c.check_offset_commit("tx", p.producer_id, 0, "g"),
            Ok(false)
        );
    }

    #[test]
    fn re_init_aborts_an_ongoing_transaction() {
        let mut c = TransactionCoordinator::default();
        let p = c.init_producer_id(Some("tx"), -1, -1).expect("granted");
        c.add_partitions("tx", p.producer_id, 0, &[tp(2)])
            .expect("added");
        let again = c.init_producer_id(Some("tx"), -1, -1).expect("granted");
        let aborted = again.aborted.expect("the ongoing transaction is aborted");
        assert!(!aborted.commit);
        assert_eq!(aborted.producer_epoch, 1, "markers carry the bumped epoch");
        assert_eq!(aborted.partitions, vec![tp(2)]);
        assert_eq!(c.entry("tx").map(|e| e.state), Some(TxnState::Empty));
    }
}
