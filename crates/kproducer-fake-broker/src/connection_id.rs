//! Naming a connection: the broker that accepted it and its ordinal.

use std::fmt;

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
