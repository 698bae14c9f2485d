//! Naming a partition: topic plus partition index.

use std::fmt;

/// A partition of a topic.
///
/// ```
/// use kproducer_fake_broker::TopicPartition;
/// let tp = TopicPartition::new("orders", 3);
/// assert_eq!(tp.to_string(), "orders-3");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
}

impl TopicPartition {
    /// A topic-partition from its parts.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        Self {
            topic: topic.into(),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// One client connection to one broker: the broker's id and the ordinal of
/// the connection among those that broker accepted (0 for the first).
///
/// ```
/// use kproducer_fake_broker::ConnectionId;
/// let c = ConnectionId { broker: 1, ordinal: 0 };
/// assert_eq!(c.to_string(), "broker 1 connection #0");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId {
    /// The broker that accepted it.
    pub broker: i32,
    /// Its position among that broker's accepted connections, from 0.
    pub ordinal: u64,
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "broker {} connection #{}", self.broker, self.ordinal)
    }
}
