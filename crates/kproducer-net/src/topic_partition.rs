//! The routing key: a topic and one of its partitions, and where a partition's
//! batches go.

use std::fmt;
use std::sync::Arc;

/// A partition of a topic: the unit of ordering, sequencing and routing.
///
/// Everything per-partition in kproducer is keyed by the full pair, never by
/// the partition number alone: partition 0 of `orders` and partition 0 of
/// `payments` share nothing.
///
/// ```
/// use kproducer_net::TopicPartition;
/// let a = TopicPartition::new("orders", 0);
/// let b = TopicPartition::new("payments", 0);
/// assert_ne!(a, b);
/// assert_eq!(a.to_string(), "orders-0");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// The topic name.
    pub topic: Arc<str>,
    /// The partition index within the topic.
    pub partition: i32,
}

impl TopicPartition {
    /// A topic-partition from a topic name and a partition index.
    pub fn new(topic: impl Into<Arc<str>>, partition: i32) -> Self {
        Self {
            topic: topic.into(),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    /// Kafka's own notation, `topic-partition`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// One connection slot of one broker's connection group: where a batch is
/// sent.
///
/// ```
/// use kproducer_net::SlotId;
/// let s = SlotId { broker: 3, slot: 1 };
/// assert_eq!(s.to_string(), "broker 3 slot 1");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlotId {
    /// The broker's node id, as metadata reports it.
    pub broker: i32,
    /// The slot index in that broker's group, `0..width` while active.
    pub slot: usize,
}

impl fmt::Display for SlotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "broker {} slot {}", self.broker, self.slot)
    }
}
