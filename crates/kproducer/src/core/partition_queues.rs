//! The core's partition queues, found per record without touching the
//! topic's name.
//!
//! Every topic the producer sends to is interned once into a small dense
//! [`TopicIndex`] (0, 1, 2, … in the order first seen, never reused), and a
//! partition's queue lives at `topics[index].queues[partition]`: two `Vec`
//! indexes, not a hash of the name and a string comparison per record.
//!
//! Finding a record's index: the record's topic `Arc` is compared by
//! pointer with the handles seen recently ([`RECENT`] of them, kept alive
//! here so an address cannot be reused by another name while it is
//! remembered). Records built from one [`Topic`](crate::Topic) handle per
//! topic — the common case — hit by pointer, whatever the name's length
//! and however many topics are interleaved (up to [`RECENT`]). Otherwise
//! the name is compared with the last topic's (records built from `&str`
//! each time), and only then hashed. A handle missed twice in a row is
//! remembered, so a long-lived handle pays the slow path once, while
//! records that each bring a fresh `Arc`, or more topics interleaved than
//! [`RECENT`], do not churn the memory.
//!
//! The rest of the core (drain, answers, expiry) looks queues up by
//! [`TopicPartition`], once per batch, through the name map.

use std::sync::Arc;

use kproducer_net::TopicPartition;

use super::accumulator::PartitionQueue;
use super::fast_hash::FastMap;
use crate::partitioner::load::Availability;
use crate::partitioner::{PartitionLoad, TopicIndex};

/// Topic handles remembered by pointer.
pub(crate) const RECENT: usize = 8;

/// One interned topic.
#[derive(Debug)]
struct TopicEntry {
    /// The first handle seen for this name: what queues and keys share.
    name: Arc<str>,
    /// The partition count metadata gave, remembered until metadata
    /// changes ([`PartitionQueues::forget_partition_counts`]).
    partition_count: Option<usize>,
    /// Per partition index; `None` until the partition's first record.
    queues: Vec<Option<PartitionQueue>>,
}

/// Partition queues by (topic index, partition); see the module docs.
#[derive(Debug, Default)]
pub(crate) struct PartitionQueues {
    topics: Vec<TopicEntry>,
    by_name: FastMap<Arc<str>, TopicIndex>,
    /// Handles seen recently, compared by pointer (at most [`RECENT`]).
    recent: Vec<(Arc<str>, TopicIndex)>,
    /// Where in `recent` the last hit was: checked first.
    last_hit: usize,
    /// Where the next remembered handle goes (round robin).
    next_slot: usize,
    /// The address of the last handle that missed `recent`, only compared
    /// (never dereferenced): a second miss by it makes it remembered.
    last_miss: usize,
    /// How many queues exist.
    len: usize,
}

impl PartitionQueues {
    /// The index of `topic`, interning it on first sight.
    pub(crate) fn intern(&mut self, topic: &Arc<str>) -> TopicIndex {
        if let Some((handle, index)) = self.recent.get(self.last_hit)
            && Arc::ptr_eq(handle, topic)
        {
            return *index;
        }
        if let Some(at) = self.recent.iter().position(|(h, _)| Arc::ptr_eq(h, topic)) {
            self.last_hit = at;
            return self.recent[at].1;
        }
        self.intern_slow(topic)
    }

    /// [`PartitionQueues::intern`] for a handle not remembered: the last
    /// topic's name, then the name map.
    fn intern_slow(&mut self, topic: &Arc<str>) -> TopicIndex {
        let address = Arc::as_ptr(topic).cast::<u8>() as usize;
        let second_miss = std::mem::replace(&mut self.last_miss, address) == address;
        // Same name as the last topic, in another `Arc`.
        if let Some((handle, index)) = self.recent.get(self.last_hit)
            && **handle == **topic
        {
            let index = *index;
            if second_miss {
                self.remember(topic, index);
            }
            return index;
        }
        let index = match self.by_name.get(&**topic) {
            Some(index) => *index,
            None => {
                let index = TopicIndex::new(self.topics.len() as u32);
                self.topics.push(TopicEntry {
                    name: topic.clone(),
                    partition_count: None,
                    queues: Vec::new(),
                });
                self.by_name.insert(topic.clone(), index);
                index
            }
        };
        // While there is room, a topic not remembered at all is remembered
        // at once (it is about to be routed again, most likely). Otherwise
        // only a handle that missed twice in a row replaces another: with
        // more topics interleaved than remembered, handles would push each
        // other out on every record (a clone and a drop of a reference
        // count shared with the sending threads), for no hit.
        if second_miss
            || (self.recent.len() < RECENT && !self.recent.iter().any(|(_, i)| *i == index))
        {
            self.remember(topic, index);
        }
        index
    }

    /// Remembers `topic`'s handle by pointer, in place of the oldest.
    fn remember(&mut self, topic: &Arc<str>, index: TopicIndex) {
        let entry = (topic.clone(), index);
        if self.recent.len() < RECENT {
            self.recent.push(entry);
            self.last_hit = self.recent.len() - 1;
        } else {
            let at = self.next_slot % RECENT;
            self.next_slot = (at + 1) % RECENT;
            self.recent[at] = entry;
            self.last_hit = at;
        }
    }

    /// The interned name of `topic`.
    pub(crate) fn name(&self, topic: TopicIndex) -> &Arc<str> {
        &self.entry(topic).name
    }

    fn entry(&self, topic: TopicIndex) -> &TopicEntry {
        // Indexes are handed out only by `intern`, as positions in `topics`,
        // which never shrinks.
        &self.topics[topic.get()]
    }

    /// The partition count remembered for `topic`, if any.
    pub(crate) fn partition_count(&self, topic: TopicIndex) -> Option<usize> {
        self.entry(topic).partition_count
    }

    /// Remembers `topic`'s partition count (from metadata).
    pub(crate) fn set_partition_count(&mut self, topic: TopicIndex, count: usize) {
        self.topics[topic.get()].partition_count = Some(count);
    }

    /// Forgets every remembered partition count (metadata changed).
    pub(crate) fn forget_partition_counts(&mut self) {
        for t in &mut self.topics {
            t.partition_count = None;
        }
    }

    /// The queue of `topic`-`partition`, created by `create` (given the
    /// topic's interned name) on its first record. `partition` is
    /// non-negative (the caller checked it against the partition count).
    pub(crate) fn get_or_create(
        &mut self,
        topic: TopicIndex,
        partition: i32,
        create: impl FnOnce(&Arc<str>) -> PartitionQueue,
    ) -> &mut PartitionQueue {
        let entry = &mut self.topics[topic.get()];
        let at = usize::try_from(partition).unwrap_or(0);
        if entry.queues.len() <= at {
            entry.queues.resize_with(at + 1, || None);
        }
        let slot = &mut entry.queues[at];
        if slot.is_none() {
            self.len += 1;
        }
        slot.get_or_insert_with(|| create(&entry.name))
    }

    /// How many batches wait in each of `topic`'s queues, for the
    /// partitioner (read only when it chooses a new partition).
    /// With `availability`, which of them are unavailable too
    /// (`partitioner.availability.timeout.ms`).
    #[inline]
    pub(crate) fn load(
        &self,
        topic: TopicIndex,
        availability: Option<Availability>,
    ) -> PartitionLoad<'_> {
        PartitionLoad::of_queues(&self.topics[topic.get()].queues, availability)
    }

    /// The queue of `tp`, if it has one.
    pub(crate) fn get(&self, tp: &TopicPartition) -> Option<&PartitionQueue> {
        let index = self.by_name.get(&*tp.topic)?;
        let at = usize::try_from(tp.partition).ok()?;
        self.entry(*index).queues.get(at)?.as_ref()
    }

    /// The queue of `tp`, if it has one.
    pub(crate) fn get_mut(&mut self, tp: &TopicPartition) -> Option<&mut PartitionQueue> {
        let index = *self.by_name.get(&*tp.topic)?;
        let at = usize::try_from(tp.partition).ok()?;
        self.topics[index.get()].queues.get_mut(at)?.as_mut()
    }

    /// Every queue, by topic index then partition.
    pub(crate) fn values(&self) -> impl Iterator<Item = &PartitionQueue> {
        self.topics
            .iter()
            .flat_map(|t| t.queues.iter().filter_map(Option::as_ref))
    }

    /// Every queue, by topic index then partition.
    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut PartitionQueue> {
        self.topics
            .iter_mut()
            .flat_map(|t| t.queues.iter_mut().filter_map(Option::as_mut))
    }

    /// Every queue with its partition, by topic index then partition.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&TopicPartition, &PartitionQueue)> {
        self.values().map(|q| (&q.tp, q))
    }

    /// How many queues exist.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use kproducer_protocol::records::Compression;

    use super::super::batch_buffers::BatchBuffers;
    use super::*;
    use crate::record::Topic;

    fn queue(name: &Arc<str>, partition: i32) -> PartitionQueue {
        PartitionQueue::new(
            Topic::new(name.clone()),
            partition,
            Compression::None,
            1024,
            BatchBuffers::new(1 << 16),
        )
    }

    #[test]
    fn one_index_per_name_whatever_the_handle() {
        let mut q = PartitionQueues::default();
        let a: Arc<str> = Arc::from("orders");
        let b: Arc<str> = Arc::from("payments");
        let (ia, ib) = (q.intern(&a), q.intern(&b));
        assert_ne!(ia, ib);
        assert_eq!((ia.get(), ib.get()), (0, 1), "dense, in first-seen order");
        for _ in 0..3 {
            // Same handle, another handle of the same name, interleaved.
            assert_eq!(q.intern(&a), ia);
            assert_eq!(q.intern(&Arc::from("orders")), ia);
            assert_eq!(q.intern(&b), ib);
            assert_eq!(q.intern(&Arc::from("payments")), ib);
        }
        assert_eq!(&**q.name(ia), "orders");
        assert!(q.recent.len() <= RECENT);
    }

    #[test]
    fn more_topics_than_remembered_handles_still_resolve() {
        let mut q = PartitionQueues::default();
        let handles: Vec<Arc<str>> = (0..3 * RECENT)
            .map(|i| Arc::from(format!("topic-{i}")))
            .collect();
        for round in 0..3 {
            for (i, h) in handles.iter().enumerate() {
                assert_eq!(q.intern(h).get(), i, "round {round}");
            }
        }
        // The first RECENT stay remembered: interleaving more topics than
        // that does not make handles push each other out on every record.
        let remembered: Vec<usize> = q.recent.iter().map(|(_, i)| i.get()).collect();
        assert_eq!(remembered, (0..RECENT).collect::<Vec<_>>());
        // A handle seen twice in a row is remembered (a new hot topic).
        let hot = &handles[2 * RECENT];
        q.intern(hot);
        q.intern(hot);
        assert!(q.recent.iter().any(|(h, _)| Arc::ptr_eq(h, hot)));
        assert_eq!(q.recent.len(), RECENT);
    }

    #[test]
    fn a_remembered_handle_keeps_the_name_it_was_remembered_for() {
        let mut q = PartitionQueues::default();
        let first: Arc<str> = Arc::from("a");
        let ia = q.intern(&first);
        // The remembered handle is kept alive here, so no other name can
        // come back at its address while it is remembered.
        drop(first);
        for i in 0..100 {
            let other: Arc<str> = Arc::from(format!("b{}", i % 3));
            assert_ne!(q.intern(&other), ia);
        }
        assert_eq!(q.intern(&Arc::from("a")), ia);
    }

    #[test]
    fn queues_are_found_by_index_and_by_topic_partition() {
        let mut q = PartitionQueues::default();
        let t: Arc<str> = Arc::from("t");
        let i = q.intern(&t);
        q.get_or_create(i, 3, |name| queue(name, 3)).in_flight = 7;
        q.get_or_create(i, 0, |name| queue(name, 0));
        assert_eq!(q.len(), 2);
        assert_eq!(
            q.get_or_create(i, 3, |_| unreachable!("exists")).in_flight,
            7
        );
        assert_eq!(q.len(), 2);
        let tp = TopicPartition::new("t", 3);
        assert_eq!(q.get(&tp).map(|p| p.in_flight), Some(7));
        assert!(q.get(&TopicPartition::new("t", 1)).is_none());
        assert!(q.get(&TopicPartition::new("t", -1)).is_none());
        assert!(q.get_mut(&TopicPartition::new("u", 0)).is_none());
        let order: Vec<String> = q.iter().map(|(tp, _)| tp.to_string()).collect();
        assert_eq!(
            order,
            [TopicPartition::new("t", 0).to_string(), tp.to_string()]
        );
    }

    #[test]
    fn partition_counts_are_remembered_until_forgotten() {
        let mut q = PartitionQueues::default();
        let i = q.intern(&Arc::from("t"));
        assert_eq!(q.partition_count(i), None);
        q.set_partition_count(i, 6);
        assert_eq!(q.partition_count(i), Some(6));
        q.forget_partition_counts();
        assert_eq!(q.partition_count(i), None);
    }
}
