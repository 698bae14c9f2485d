//! The group coordinator's side of transactional offset commits, as a pure
//! state machine: TxnOffsetCommit leaves a group's offsets *pending* under
//! the producer id; the transaction's commit marker makes them the group's
//! committed offsets, its abort marker discards them (Kafka writes those
//! markers into `__consumer_offsets`; here [`write_markers`] calls
//! [`GroupOffsets::complete`]).
//!
//! Consumer groups have no members unless a test declares them
//! ([`FakeCluster::set_group_members`]): then a TxnOffsetCommit v3 naming a
//! member is checked as Kafka's group coordinator checks it (KIP-447): an
//! unknown member is 25 `UNKNOWN_MEMBER_ID`, another generation 22
//! `ILLEGAL_GENERATION`, a static instance id registered to another member
//! 82 `FENCED_INSTANCE_ID`. A request without group metadata (generation
//! -1, no member id: the pre-KIP-447 form) is not checked, as in Kafka.
//!
//! [`write_markers`]: crate::txn_markers
//! [`FakeCluster::set_group_members`]: crate::FakeCluster::set_group_members
//!
//! # References
//! - KIP-98 (transactional offset commits), KIP-447 (group metadata)

use std::collections::{BTreeMap, HashMap};

use kproducer_net::TopicPartition;
use kproducer_protocol::ErrorCode;

/// An offset a consumer group committed (or has pending in a transaction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    /// The next offset the group will consume.
    pub offset: i64,
    /// The leader epoch of the last consumed record, -1 when unknown.
    pub leader_epoch: i32,
    /// The metadata kept with the offset.
    pub metadata: Option<String>,
}

/// A consumer group's current generation and members, as a test declares
/// them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Membership {
    generation: i32,
    /// Member id → its static group instance id, if any.
    members: BTreeMap<String, Option<String>>,
}

/// The consumer-group metadata a TxnOffsetCommit carries (v3+).
#[derive(Debug, Clone, Copy)]
pub(crate) struct MemberClaim<'a> {
    pub(crate) generation_id: i32,
    pub(crate) member_id: &'a str,
    pub(crate) group_instance_id: Option<&'a str>,
}

type Offsets = BTreeMap<TopicPartition, CommittedOffset>;

/// Every group's committed offsets and the offsets pending in open
/// transactions.
#[derive(Debug, Default)]
pub(crate) struct GroupOffsets {
    committed: HashMap<String, Offsets>,
    /// Producer id → group → offsets waiting for the transaction's marker.
    pending: HashMap<i64, HashMap<String, Offsets>>,
    membership: HashMap<String, Membership>,
}

impl GroupOffsets {
    /// Declares a group's generation and members (member id, static
    /// instance id), replacing earlier ones.
    pub(crate) fn set_members(
        &mut self,
        group: &str,
        generation: i32,
        members: &[(&str, Option<&str>)],
    ) {
        self.membership.insert(
            group.to_owned(),
            Membership {
                generation,
                members: members
                    .iter()
                    .map(|(m, i)| ((*m).to_owned(), i.map(str::to_owned)))
                    .collect(),
            },
        );
    }

    /// Checks the consumer's claim to be a current member of `group`.
    pub(crate) fn check_member(
        &self,
        group: &str,
        claim: MemberClaim<'_>,
    ) -> Result<(), ErrorCode> {
        if claim.generation_id < 0 && claim.member_id.is_empty() {
            return Ok(());
        }
        let Some(m) = self.membership.get(group) else {
            return Err(ErrorCode::UNKNOWN_MEMBER_ID);
        };
        if let Some(instance) = claim.group_instance_id
            && m.members
                .iter()
                .any(|(member, i)| i.as_deref() == Some(instance) && member != claim.member_id)
        {
            return Err(ErrorCode::FENCED_INSTANCE_ID);
        }
        if !m.members.contains_key(claim.member_id) {
            return Err(ErrorCode::UNKNOWN_MEMBER_ID);
        }
        if claim.generation_id != m.generation {
            return Err(ErrorCode::ILLEGAL_GENERATION);
        }
        Ok(())
    }

    /// TxnOffsetCommit: the offsets wait, under `producer_id`, for the
    /// transaction's marker (a later commit of the same partition in the
    /// same transaction replaces the earlier one).
    pub(crate) fn add_pending(
        &mut self,
        producer_id: i64,
        group: &str,
        offsets: impl IntoIterator<Item = (TopicPartition, CommittedOffset)>,
    ) {
        self.pending
            .entry(producer_id)
            .or_default()
            .entry(group.to_owned())
            .or_default()
            .extend(offsets);
    }

    /// A transaction of `producer_id` ended: on commit its pending offsets
    /// for `groups` become the groups' committed offsets; on abort they
    /// are discarded.
    pub(crate) fn complete(&mut self, producer_id: i64, groups: &[String], commit: bool) {
        let Some(by_group) = self.pending.get_mut(&producer_id) else {
            return;
        };
        for group in groups {
            if let Some(offsets) = by_group.remove(group)
                && commit
            {
                self.committed
                    .entry(group.clone())
                    .or_default()
                    .extend(offsets);
            }
        }
        if by_group.is_empty() {
            self.pending.remove(&producer_id);
        }
    }

    /// A group's committed offsets.
    pub(crate) fn committed(&self, group: &str) -> Offsets {
        self.committed.get(group).cloned().unwrap_or_default()
    }

    /// A group's offsets pending in open transactions (of any producer).
    pub(crate) fn pending(&self, group: &str) -> Offsets {
        let mut out = Offsets::new();
        for by_group in self.pending.values() {
            if let Some(offsets) = by_group.get(group) {
                out.extend(offsets.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(offset: i64) -> CommittedOffset {
        CommittedOffset {
            offset,
            leader_epoch: -1,
            metadata: None,
        }
    }

    fn tp(p: i32) -> TopicPartition {
        TopicPartition::new("in", p)
    }

    #[test]
    fn commit_publishes_pending_offsets_and_abort_discards_them() {
        let mut g = GroupOffsets::default();
        g.add_pending(7, "g", [(tp(0), at(10)), (tp(1), at(20))]);
        g.add_pending(7, "g", [(tp(0), at(11))]);
        assert!(g.committed("g").is_empty(), "pending until the marker");
        assert_eq!(g.pending("g").get(&tp(0)), Some(&at(11)));
        g.complete(7, &["g".to_owned()], true);
        assert_eq!(g.committed("g").get(&tp(0)), Some(&at(11)));
        assert_eq!(g.committed("g").get(&tp(1)), Some(&at(20)));
        assert!(g.pending("g").is_empty());

        g.add_pending(7, "g", [(tp(0), at(99))]);
        g.complete(7, &["g".to_owned()], false);
        assert_eq!(
            g.committed("g").get(&tp(0)),
            Some(&at(11)),
            "abort discards"
        );
        assert!(g.pending("g").is_empty());
    }

    #[test]
    fn markers_complete_only_their_producer_and_groups() {
        let mut g = GroupOffsets::default();
        g.add_pending(7, "a", [(tp(0), at(1))]);
        g.add_pending(7, "b", [(tp(0), at(2))]);
        g.add_pending(8, "a", [(tp(1), at(3))]);
        g.complete(7, &["a".to_owned()], true);
        assert_eq!(g.committed("a").len(), 1);
        assert_eq!(g.pending("a").get(&tp(1)), Some(&at(3)));
        assert_eq!(g.pending("b").get(&tp(0)), Some(&at(2)));
    }

    #[test]
    fn member_checks_follow_kip_447() {
        let mut g = GroupOffsets::default();
        let claim = |generation_id, member_id, group_instance_id| MemberClaim {
            generation_id,
            member_id,
            group_instance_id,
        };
        assert_eq!(
            g.check_member("g", claim(-1, "", None)),
            Ok(()),
            "pre-KIP-447 form"
        );
        assert_eq!(
            g.check_member("g", claim(1, "m1", None)),
            Err(ErrorCode::UNKNOWN_MEMBER_ID)
        );
        g.set_members("g", 3, &[("m1", None), ("m2", Some("static-2"))]);
        assert_eq!(g.check_member("g", claim(3, "m1", None)), Ok(()));
        assert_eq!(
            g.check_member("g", claim(2, "m1", None)),
            Err(ErrorCode::ILLEGAL_GENERATION)
        );
        assert_eq!(
            g.check_member("g", claim(3, "gone", None)),
            Err(ErrorCode::UNKNOWN_MEMBER_ID)
        );
        assert_eq!(
            g.check_member("g", claim(3, "m1", Some("static-2"))),
            Err(ErrorCode::FENCED_INSTANCE_ID)
        );
        assert_eq!(
            g.check_member("g", claim(3, "m2", Some("static-2"))),
            Ok(())
        );
    }
}
