//! How much of the producer's shared buffer counts as one broker's
//! pressure.
//!
//! `buffer.memory` is one pool for every broker. When one broker is slow,
//! its partitions' batches fill the pool and the sender blocks for all of
//! them; a fast broker next to it is then fed *less*, not more, and a
//! wider group would not help it. So the buffer is pressure on a broker
//! only in proportion to what its own partitions hold (sealed batches
//! waiting, the open batches being filled, and batches in flight), against
//! its share of the pool: [`broker_buffer_used`] gives the level to pass to
//! [`Scaler::observe_buffer`](crate::Scaler::observe_buffer) with the
//! whole `buffer.memory`.

/// What the producer's buffer holds, and for whom: the inputs of
/// [`broker_buffer_used`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BufferHoldings {
    /// Bytes of `buffer.memory` in use (all brokers, and records not yet
    /// routed to a partition).
    pub used: u64,
    /// Bytes of `buffer.memory` the broker's partitions hold: their sealed
    /// batches waiting to be sent, their open batches and their batches in
    /// flight.
    pub held_by_broker: u64,
    /// The same, summed over every broker.
    pub held_by_all: u64,
    /// How many brokers hold anything (`held_by_broker > 0`).
    pub brokers_holding: usize,
}

/// The level of `buffer.memory` that counts as one broker's pressure: the
/// buffer in use, attributed to the brokers in proportion to what their
/// partitions hold, against an equal share of the buffer for each broker
/// that holds anything. That is, `used × brokers_holding × held_by_broker /
/// held_by_all`, at most `used × brokers_holding` (a full buffer held by
/// one broker of three is three times its share; the scaler clamps the
/// fill to 1).
///
/// With one broker, or brokers that hold equal parts, this is `used`
/// exactly (the rule of a single broker is unchanged). A broker that holds
/// nothing gets 0. When no broker holds anything (records still on their
/// way to their partitions), it is `used`: nothing says whose they are.
///
/// ```
/// use kproducer_net::{BufferHoldings, broker_buffer_used};
/// // A full 4 MiB buffer; a slow broker holds 3.9 MiB, two fast ones
/// // 0.05 MiB each.
/// let mib = 1024 * 1024;
/// let all = 4 * mib;
/// let slow = BufferHoldings {
///     used: all,
///     held_by_broker: all - mib / 10,
///     held_by_all: all,
///     brokers_holding: 3,
/// };
/// assert!(broker_buffer_used(slow) >= all); // pressured
/// let fast = BufferHoldings { held_by_broker: mib / 20, ..slow };
/// assert!(broker_buffer_used(fast) < all / 10); // not pressured
/// // One broker: the whole buffer, as before.
/// let one = BufferHoldings { used: all / 2, held_by_broker: all / 2, held_by_all: all / 2, brokers_holding: 1 };
/// assert_eq!(broker_buffer_used(one), all / 2);
/// ```
pub fn broker_buffer_used(h: BufferHoldings) -> u64 {
    if h.held_by_all == 0 || h.brokers_holding == 0 {
        return h.used;
    }
    let held = h.held_by_broker.min(h.held_by_all) as f64;
    let shares = h.brokers_holding as f64 * held / h.held_by_all as f64;
    // `as` saturates: a level beyond u64::MAX (never, for any real
    // buffer) is u64::MAX.
    (h.used as f64 * shares).round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_holdings_or_one_broker_see_the_whole_buffer() {
        for brokers in 1..=5u64 {
            let h = BufferHoldings {
                used: 1_000,
                held_by_broker: 200,
                held_by_all: 200 * brokers,
                brokers_holding: brokers as usize,
            };
            assert_eq!(broker_buffer_used(h), 1_000, "{brokers} brokers");
        }
    }

    #[test]
    fn a_broker_holding_nothing_is_not_pressured_and_nothing_held_is_everyones() {
        let h = BufferHoldings {
            used: 1_000,
            held_by_broker: 0,
            held_by_all: 900,
            brokers_holding: 2,
        };
        assert_eq!(broker_buffer_used(h), 0);
        let none = BufferHoldings {
            used: 1_000,
            ..BufferHoldings::default()
        };
        assert_eq!(broker_buffer_used(none), 1_000);
    }

    #[test]
    fn extreme_values_do_not_overflow() {
        let h = BufferHoldings {
            used: u64::MAX,
            held_by_broker: u64::MAX,
            held_by_all: 1,
            brokers_holding: usize::MAX,
        };
        assert_eq!(broker_buffer_used(h), u64::MAX);
    }
}
