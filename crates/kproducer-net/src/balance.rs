//! Spreading one broker's partitions evenly over its slots with as few moves
//! as possible.
//!
//! Every broker is balanced on its own: its partitions, its slots. The target
//! is that every active slot holds `⌊P / width⌋` or `⌈P / width⌉` of the
//! broker's `P` partitions and retiring slots hold none. Slots that already
//! hold more keep the larger quota, so only the surplus moves; among a slot's
//! surplus, partitions with nothing in flight move first, because moving them
//! needs no fence.

use std::collections::BTreeSet;

use crate::topic_partition::TopicPartition;

/// One partition to reassign within a broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Move {
    pub(crate) partition: TopicPartition,
    pub(crate) to_slot: usize,
}

/// The active slot (index `< width`) holding the fewest partitions, lowest
/// index first. `width` must be at least 1 and `slots.len() >= width`.
pub(crate) fn least_loaded(slots: &[BTreeSet<TopicPartition>], width: usize) -> usize {
    slots
        .iter()
        .take(width)
        .enumerate()
        .min_by_key(|(i, s)| (s.len(), *i))
        .map_or(0, |(i, _)| i)
}

/// Where a partition's in-flight batches are, as far as balancing cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InFlight {
    /// Nothing in flight: moving it needs no fence.
    Idle,
    /// In flight on this slot of the broker being balanced.
    OnSlot(usize),
    /// In flight on another broker (it is fenced, moving in).
    Elsewhere,
}

/// The moves that bring `slots` (their assigned partitions) to an even spread
/// over `0..width`, emptying slots at `width` and beyond.
///
/// Surplus partitions are chosen, in this order: fenced partitions that can go
/// back to the slot their batches are on (that cancels a fence), partitions
/// whose move raises no new fence (idle, or already fenced), then the rest; ties in topic-partition order, so the
/// same input always gives the same moves.
pub(crate) fn rebalance(
    slots: &[BTreeSet<TopicPartition>],
    width: usize,
    in_flight: impl Fn(&TopicPartition) -> InFlight,
) -> Vec<Move> {
    let width = width.min(slots.len());
    if width == 0 {
        return Vec::new();
    }
    let total: usize = slots.iter().map(BTreeSet::len).sum();
    let (base, extra) = (total / width, total % width);

    let mut quota = vec![0usize; slots.len()];
    let mut by_load: Vec<usize> = (0..width).collect();
    by_load.sort_by_key(|&i| (std::cmp::Reverse(slots[i].len()), i));
    for (rank, &i) in by_load.iter().enumerate() {
        quota[i] = base + usize::from(rank < extra);
    }
    let mut deficit: Vec<usize> = (0..slots.len())
        .map(|i| quota[i].saturating_sub(slots[i].len()))
        .collect();
    let mut over: Vec<usize> = (0..slots.len())
        .map(|i| slots[i].len().saturating_sub(quota[i]))
        .collect();

    let mut moves = Vec::new();
    let mut moved = BTreeSet::new();
    // Homecoming: a fenced partition returns to the slot its batches are on.
    for (i, held) in slots.iter().enumerate() {
        for tp in held {
            if over[i] == 0 {
                break;
            }
            if let InFlight::OnSlot(j) = in_flight(tp)
                && j != i
                && deficit.get(j).is_some_and(|&d| d > 0)
            {
                deficit[j] -= 1;
                over[i] -= 1;
                moved.insert(tp.clone());
                moves.push(Move {
                    partition: tp.clone(),
                    to_slot: j,
                });
            }
        }
    }

    let mut surplus = Vec::new();
    for (i, held) in slots.iter().enumerate() {
        if over[i] == 0 {
            continue;
        }
        let mut candidates: Vec<&TopicPartition> =
            held.iter().filter(|tp| !moved.contains(*tp)).collect();
        // Partitions whose batches are not on this very slot first: moving
        // them raises no new fence (idle ones switch at once, fenced ones only
        // change destination). The stable sort keeps topic-partition order.
        candidates.sort_by_key(|tp| in_flight(tp) == InFlight::OnSlot(i));
        surplus.extend(candidates.into_iter().take(over[i]).cloned());
    }

    let mut surplus = surplus.into_iter();
    for (i, missing) in deficit.iter().enumerate().take(width) {
        for _ in 0..*missing {
            match surplus.next() {
                Some(partition) => moves.push(Move {
                    partition,
                    to_slot: i,
                }),
                // Quotas sum to the total, so surplus and deficit match.
                None => return moves,
            }
        }
    }
    moves
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(counts: &[usize]) -> Vec<BTreeSet<TopicPartition>> {
        let mut n = 0;
        counts
            .iter()
            .map(|&c| {
                (0..c)
                    .map(|_| {
                        n += 1;
                        TopicPartition::new("t", n)
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn scale_up_moves_only_the_surplus() {
        let s = slots(&[3, 3, 0]);
        let moves = rebalance(&s, 3, |_| InFlight::Idle);
        assert_eq!(moves.len(), 2);
        assert!(moves.iter().all(|m| m.to_slot == 2));
    }

    #[test]
    fn scale_down_empties_retiring_slots() {
        let s = slots(&[2, 2, 2]);
        let moves = rebalance(&s, 2, |_| InFlight::Idle);
        assert_eq!(moves.len(), 2);
        assert_eq!(moves.iter().filter(|m| m.to_slot == 0).count(), 1);
        assert_eq!(moves.iter().filter(|m| m.to_slot == 1).count(), 1);
    }

    #[test]
    fn idle_partitions_move_first() {
        let s = slots(&[2, 0]);
        let busy = TopicPartition::new("t", 1);
        let moves = rebalance(&s, 2, |tp| {
            if *tp == busy {
                InFlight::OnSlot(0)
            } else {
                InFlight::Idle
            }
        });
        assert_eq!(
            moves,
            vec![Move {
                partition: TopicPartition::new("t", 2),
                to_slot: 1
            }]
        );
    }

    #[test]
    fn fenced_partition_goes_back_to_its_batches() {
        let s = slots(&[3, 0, 0]);
        let back = TopicPartition::new("t", 3);
        let moves = rebalance(&s, 3, |tp| {
            if *tp == back {
                InFlight::OnSlot(2)
            } else {
                InFlight::Idle
            }
        });
        assert!(
            moves.contains(&Move {
                partition: back,
                to_slot: 2
            }),
            "{moves:?}"
        );
        assert_eq!(moves.len(), 2);
    }

    #[test]
    fn balanced_input_needs_no_moves() {
        assert!(rebalance(&slots(&[2, 1, 2]), 3, |_| InFlight::Idle).is_empty());
        assert_eq!(least_loaded(&slots(&[2, 1, 1]), 3), 1);
    }
}
