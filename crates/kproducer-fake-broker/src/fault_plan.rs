//! Scripted faults: rules that match requests and say what to do to them.
//!
//! A [`FaultRule`] matches on any combination of API key, broker, connection,
//! topic-partition and occurrence count, and carries one [`FaultAction`]. A
//! rule is one-shot (fires once, then is spent) unless made
//! [`sticky`](FaultRule::sticky). The [`FaultPlan`] evaluates every rule
//! against each request before the broker handles it.
//!
//! # Scripting `fault-scenarios.md`
//!
//! | scenario | how |
//! |---|---|
//! | response lost after append (1, 6) | [`FaultAction::DropResponse`] or [`FaultAction::CloseAfterHandling`]; the retry meets the real duplicate cache |
//! | reset with k of 5 appended (2) | sticky `DropResponse` on the connection plus `CloseBeforeHandling` with [`FaultRule::nth`]`(k + 1)` |
//! | 6 on the head batch (3, 5) | [`FaultAction::Error`] with `nth`, or [`FakeCluster::move_leader`](crate::FakeCluster::move_leader) while a [`Hold`] keeps batches in flight |
//! | 7 / 20, possibly persisted (12) | [`FaultAction::ErrorAfterAppend`] |
//! | 59, 87, 2, 10 injected (9, 13, 14) | [`FaultAction::Error`] (87, 2 and 10 also arise from real batch checks) |
//! | InitProducerId errors (17) | `Error` with [`ErrorScope::Request`] on `ApiKey::InitProducerId` |
//! | broken response frames (21) | [`FaultAction::CorruptResponse`] |
//! | a later answer first (8) | [`FaultAction::Discard`] on the head request |
//! | no response vs. close (22) | `DropResponse` vs. `CloseBeforeHandling` / [`FakeCluster::broker_down`](crate::FakeCluster::broker_down) |
//! | two connections racing (23) | [`FaultAction::Hold`] on one connection, then send on another |

use std::time::Duration;

use kproducer_net::TopicPartition;
use kproducer_protocol::{ApiKey, ErrorCode};

use crate::connection_id::ConnectionId;
use crate::hold::Hold;

/// What a matching rule does to a request.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum FaultAction {
    /// Answer with an error code instead of handling the request. For
    /// Produce, the affected partitions are not appended.
    Error {
        /// The Kafka error code.
        code: ErrorCode,
        /// Which part of the request gets it.
        scope: ErrorScope,
    },
    /// Handle the request (Produce appends), then answer with this error
    /// code: what Kafka does with 7 `REQUEST_TIMED_OUT` or 20
    /// `NOT_ENOUGH_REPLICAS_AFTER_APPEND` (the data may be persisted). APIs
    /// other than Produce treat it as [`FaultAction::Error`].
    ErrorAfterAppend {
        /// The Kafka error code.
        code: ErrorCode,
        /// Which part of the request gets it.
        scope: ErrorScope,
    },
    /// Handle the request, then send a response frame that is broken in
    /// the given way.
    CorruptResponse(ResponseCorruption),
    /// Wait this long (tokio's clock) before handling the request. The
    /// connection's later requests wait too.
    Delay(Duration),
    /// Handle the request (Produce appends) but never answer; the connection
    /// stays open, so the client times out.
    DropResponse,
    /// Close the connection without handling the request.
    CloseBeforeHandling,
    /// Handle the request (Produce appends), then close the connection
    /// without answering.
    CloseAfterHandling,
    /// Wait at the gate until the test releases it, then handle normally.
    Hold(Hold),
    /// Lose the request on the way: neither handle it nor answer it, and
    /// keep the connection open (the client times out). Requests behind it
    /// on the connection are served, so their answers arrive before the
    /// lost request's fate is known ("the second response arrives first").
    /// The request log records it as [`Disposition::ResponseDropped`]
    /// without batches.
    ///
    /// [`Disposition::ResponseDropped`]: crate::Disposition::ResponseDropped
    Discard,
}

/// How a [`FaultAction::CorruptResponse`] breaks the response frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseCorruption {
    /// Only the first half of the frame (the length prefix matches what is
    /// sent, so the client reads a complete but short frame).
    Truncate,
    /// The correlation id of no request in flight.
    WrongCorrelationId,
    /// Every byte after the response header inverted.
    Garbage,
}

/// Where an injected error code goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorScope {
    /// Only the partition the rule matched (every partition in the request
    /// when the rule names none). APIs without partitions treat this as
    /// [`ErrorScope::Request`].
    Partition,
    /// The whole request: the top-level error code, or every partition for
    /// APIs that have no top-level one (Produce).
    Request,
}

/// One scripted fault.
///
/// ```
/// use std::time::Duration;
/// use kproducer_protocol::{ApiKey, ErrorCode};
/// use kproducer_fake_broker::{ErrorScope, FaultAction, FaultRule};
///
/// // The second Produce for orders-0 on broker 1 gets NOT_LEADER_OR_FOLLOWER.
/// let rule = FaultRule::new(FaultAction::Error { code: ErrorCode::NOT_LEADER_OR_FOLLOWER, scope: ErrorScope::Partition })
///     .api(ApiKey::Produce)
///     .broker(1)
///     .partition("orders", 0)
///     .nth(2);
/// // Every Metadata request is slowed down by 5 ms.
/// let slow = FaultRule::new(FaultAction::Delay(Duration::from_millis(5)))
///     .api(ApiKey::Metadata)
///     .sticky();
/// # let _ = (rule, slow);
/// ```
#[derive(Debug, Clone)]
pub struct FaultRule {
    api: Option<i16>,
    broker: Option<i32>,
    connection: Option<u64>,
    partition: Option<TopicPartition>,
    nth: u32,
    sticky: bool,
    action: FaultAction,
}

impl FaultRule {
    /// A rule that applies `action` to the first request (of any kind, on
    /// any connection) and is then spent. Narrow it with the other methods.
    pub fn new(action: FaultAction) -> Self {
        Self {
            api: None,
            broker: None,
            connection: None,
            partition: None,
            nth: 1,
            sticky: false,
            action,
        }
    }

    /// Only requests of this API.
    pub fn api(mut self, api: ApiKey) -> Self {
        self.api = Some(api.as_i16());
        self
    }

    /// Only requests to this broker.
    pub fn broker(mut self, broker_id: i32) -> Self {
        self.broker = Some(broker_id);
        self
    }

    /// Only requests on the broker's `ordinal`-th accepted connection (from
    /// 0). Combine with [`FaultRule::broker`] to name one connection.
    pub fn connection(mut self, ordinal: u64) -> Self {
        self.connection = Some(ordinal);
        self
    }

    /// Only requests that carry this topic-partition.
    pub fn partition(mut self, topic: impl Into<std::sync::Arc<str>>, partition: i32) -> Self {
        self.partition = Some(TopicPartition::new(topic, partition));
        self
    }

    /// Skip the first `n - 1` matching requests; act on the `n`-th (from 1).
    pub fn nth(mut self, n: u32) -> Self {
        self.nth = n.max(1);
        self
    }

    /// Keep acting on every matching request from the `n`-th on, instead of
    /// once.
    pub fn sticky(mut self) -> Self {
        self.sticky = true;
        self
    }

    fn matches(&self, req: &RequestFacts<'_>) -> bool {
        self.api.is_none_or(|a| a == req.api_key)
            && self.broker.is_none_or(|b| b == req.connection.broker)
            && self.connection.is_none_or(|c| c == req.connection.ordinal)
            && self
                .partition
                .as_ref()
                .is_none_or(|tp| req.partitions.contains(tp))
    }
}

/// Identifies a rule added to a plan, to remove it later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FaultId(u64);

/// A rule that fired on a request.
#[derive(Debug, Clone)]
pub(crate) struct Firing {
    pub(crate) action: FaultAction,
    /// The partition the rule named, if any.
    pub(crate) partition: Option<TopicPartition>,
}

/// What the plan needs to know about a request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestFacts<'a> {
    pub(crate) api_key: i16,
    pub(crate) connection: ConnectionId,
    pub(crate) partitions: &'a [TopicPartition],
}

#[derive(Debug)]
struct ActiveRule {
    id: FaultId,
    rule: FaultRule,
    seen: u32,
    spent: bool,
}

/// The rules in force on a cluster.
#[derive(Debug, Default)]
pub struct FaultPlan {
    rules: Vec<ActiveRule>,
    next_id: u64,
}

impl FaultPlan {
    /// Adds a rule; it applies to requests that arrive from now on.
    pub fn add(&mut self, rule: FaultRule) -> FaultId {
        let id = FaultId(self.next_id);
        self.next_id += 1;
        self.rules.push(ActiveRule {
            id,
            rule,
            seen: 0,
            spent: false,
        });
        id
    }

    /// Removes a rule. Returns whether it was there.
    pub fn remove(&mut self, id: FaultId) -> bool {
        let before = self.rules.len();
        self.rules.retain(|r| r.id != id);
        self.rules.len() != before
    }

    /// Removes every rule.
    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// Whether a one-shot rule has fired (false for unknown ids).
    pub fn is_spent(&self, id: FaultId) -> bool {
        self.rules.iter().any(|r| r.id == id && r.spent)
    }

    /// Counts the request against every matching rule and returns the
    /// actions that fire, in the order the rules were added.
    pub(crate) fn evaluate(&mut self, req: &RequestFacts<'_>) -> Vec<Firing> {
        let mut fired = Vec::new();
        for active in &mut self.rules {
            if active.spent || !active.rule.matches(req) {
                continue;
            }
            active.seen = active.seen.saturating_add(1);
            if active.seen < active.rule.nth {
                continue;
            }
            if !active.rule.sticky {
                active.spent = true;
            }
            fired.push(Firing {
                action: active.rule.action.clone(),
                partition: active.rule.partition.clone(),
            });
        }
        fired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(
        api: ApiKey,
        broker: i32,
        ordinal: u64,
        tps: &'a [TopicPartition],
    ) -> RequestFacts<'a> {
        RequestFacts {
            api_key: api.as_i16(),
            connection: ConnectionId { broker, ordinal },
            partitions: tps,
        }
    }

    fn error(code: i16) -> FaultAction {
        FaultAction::Error {
            code: ErrorCode::from_i16(code),
            scope: ErrorScope::Partition,
        }
    }

    fn fired_codes(plan: &mut FaultPlan, req: &RequestFacts<'_>) -> Vec<i16> {
        plan.evaluate(req)
            .into_iter()
            .filter_map(|f| match f.action {
                FaultAction::Error { code, .. } => Some(code.as_i16()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn one_shot_fires_once_on_the_nth_match() {
        let mut plan = FaultPlan::default();
        let id = plan.add(FaultRule::new(error(6)).api(ApiKey::Produce).nth(2));
        let tps = [TopicPartition::new("t", 0)];
        let produce = facts(ApiKey::Produce, 0, 0, &tps);
        let metadata = facts(ApiKey::Metadata, 0, 0, &[]);
        assert!(fired_codes(&mut plan, &metadata).is_empty(), "other API");
        assert!(fired_codes(&mut plan, &produce).is_empty(), "first match");
        assert!(!plan.is_spent(id));
        assert_eq!(fired_codes(&mut plan, &produce), vec![6], "second match");
        assert!(plan.is_spent(id));
        assert!(fired_codes(&mut plan, &produce).is_empty(), "spent");
    }

    #[test]
    fn sticky_fires_on_every_match_from_the_nth() {
        let mut plan = FaultPlan::default();
        plan.add(FaultRule::new(error(7)).nth(2).sticky());
        let req = facts(ApiKey::Produce, 0, 0, &[]);
        let got: Vec<usize> = (0..4).map(|_| plan.evaluate(&req).len()).collect();
        assert_eq!(got, vec![0, 1, 1, 1]);
    }

    #[test]
    fn broker_connection_and_partition_narrow_the_match() {
        let mut plan = FaultPlan::default();
        plan.add(
            FaultRule::new(error(45))
                .broker(1)
                .connection(2)
                .partition("t", 3)
                .sticky(),
        );
        let t3 = [TopicPartition::new("t", 3), TopicPartition::new("u", 0)];
        let t4 = [TopicPartition::new("t", 4)];
        let cases = [
            (facts(ApiKey::Produce, 1, 2, &t3), true),
            (facts(ApiKey::Produce, 0, 2, &t3), false),
            (facts(ApiKey::Produce, 1, 1, &t3), false),
            (facts(ApiKey::Produce, 1, 2, &t4), false),
        ];
        for (i, (req, expect)) in cases.iter().enumerate() {
            assert_eq!(!plan.evaluate(req).is_empty(), *expect, "case {i}");
        }
    }

    #[test]
    fn removed_rules_no_longer_fire_and_order_is_kept() {
        let mut plan = FaultPlan::default();
        let first = plan.add(FaultRule::new(error(1)).sticky());
        plan.add(FaultRule::new(error(2)).sticky());
        let req = facts(ApiKey::Produce, 0, 0, &[]);
        assert_eq!(fired_codes(&mut plan, &req), vec![1, 2]);
        assert!(plan.remove(first));
        assert!(!plan.remove(first));
        assert_eq!(fired_codes(&mut plan, &req), vec![2]);
        plan.clear();
        assert!(fired_codes(&mut plan, &req).is_empty());
    }
}
