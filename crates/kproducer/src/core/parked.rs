//! Records whose topic's metadata is not known yet: parked per topic,
//! and released a portion per pass of the core's loop once it is.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::time::Instant;

use super::{Core, Envelope, INTAKE_PER_PASS, Waiting, now_ms};

/// Records released per pass of the core's loop from the wait for their
/// topic's metadata ([`Core::release_parked`]): more than the intake's
/// portion, so the waiting queue shrinks even while senders keep sending,
/// and still well under a millisecond of routing between two looks at the
/// network.
pub(super) const RELEASE_PER_PASS: usize = 4 * INTAKE_PER_PASS;

impl Core {
    /// Parks a record whose topic's metadata is not known yet, and asks
    /// for it.
    pub(super) fn park(&mut self, envelope: Envelope, now: Instant, flush_gen: u64) {
        let topic = envelope.record.topic.shared().clone();
        if self.metadata.wanted.insert(topic.clone()) {
            self.metadata.refresh_requested = true;
        }
        self.waiting.entry(topic).or_default().push_back(Waiting {
            envelope,
            received: now,
            flush_gen,
        });
    }

    /// Routes up to [`RELEASE_PER_PASS`] records that waited for their
    /// topic's metadata and whose topic is now known, oldest first per
    /// topic; returns whether such records are left for the next pass.
    ///
    /// Why in portions: at start-up a sender fills `buffer.memory` while the
    /// first Metadata answer is on its way (hundreds of thousands of small
    /// records), and routing them all at once would keep the core from
    /// sending anything for tens of milliseconds: no request would leave,
    /// no answer would be read, and the scaler would see nothing to decide
    /// on. Routing a portion per pass lets each
    /// pass seal and send what is full. Records sent meanwhile queue behind
    /// (see [`Core::route`]), so a partition's records keep their send order.
    pub(super) fn release_parked(&mut self, now: Instant) -> bool {
        if self.waiting.is_empty() {
            return false;
        }
        let ready: Vec<Arc<str>> = self
            .waiting
            .keys()
            .filter(|t| self.metadata.partition_count(t).is_some())
            .cloned()
            .collect();
        let wall_ms = now_ms();
        let mut budget = RELEASE_PER_PASS;
        for topic in ready {
            while budget > 0 {
                let Some(w) = self.waiting.get_mut(&topic).and_then(VecDeque::pop_front) else {
                    break;
                };
                budget -= 1;
                // As if appended when sent: delivery.timeout.ms counts from
                // send, not from when metadata came (found by the
                // producer_responses fuzz target), and CreateTime is the
                // send time.
                let waited = now.saturating_duration_since(w.received);
                let sent_ms =
                    wall_ms.saturating_sub(i64::try_from(waited.as_millis()).unwrap_or(0));
                self.route(w.envelope, w.received, sent_ms, w.flush_gen, false);
            }
            if self.waiting.get(&topic).is_some_and(VecDeque::is_empty) {
                self.waiting.remove(&topic);
            }
            if budget == 0 {
                return self
                    .waiting
                    .keys()
                    .any(|t| self.metadata.partition_count(t).is_some());
            }
        }
        false
    }
}
