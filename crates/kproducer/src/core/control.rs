//! The core's control plane: connections per broker slot, Metadata and
//! InitProducerId requests, and the adaptive scaler's tick.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use kproducer_net::{BrokerAddress, BufferHoldings, Connection, ConnectionGroup, Scaler};
use kproducer_protocol::ErrorCode;
use kproducer_protocol::messages::InitProducerIdRequest;
use tokio::time::Instant;

use super::broker::BrokerLink;
use super::idempotence::ProducerIdentity;
use super::{Core, Event};
use crate::error::Error;
use crate::metrics;

/// What one broker's partitions hold, for its scaler (see
/// `Core::holdings_by_broker`).
#[derive(Debug, Clone, Copy, Default)]
struct BrokerHoldings {
    broker: i32,
    /// Bytes of sealed batches waiting to be sent.
    backlog: u64,
    /// `buffer.memory` bytes held: batches waiting, open and in flight.
    held: u64,
    /// Encoded bytes not yet answered: batches waiting, open and in
    /// flight (the unit of the throughput the scaler is told).
    outstanding: u64,
}

impl BrokerHoldings {
    /// Adds to `broker`'s entry of `totals` (a handful of brokers: a
    /// linear search).
    fn add(totals: &mut Vec<BrokerHoldings>, broker: i32, add: BrokerHoldings) {
        match totals.iter_mut().find(|h| h.broker == broker) {
            Some(h) => {
                h.backlog += add.backlog;
                h.held += add.held;
                h.outstanding += add.outstanding;
            }
            None => totals.push(BrokerHoldings { broker, ..add }),
        }
    }
}

/// Exponential backoff: `base * 2^failures`, at most `max`.
pub(super) fn backoff(base: Duration, max: Duration, failures: u32) -> Duration {
    base.saturating_mul(1u32 << failures.min(16)).min(max)
}

impl Core {
    /// The broker's link, created on first use (needs its address).
    pub(super) fn link(&mut self, broker: i32) -> Option<&mut BrokerLink> {
        if !self.brokers.contains_key(&broker) {
            let address = self.metadata.brokers.get(&broker)?.clone();
            let c = &self.settings.config;
            let group = Arc::new(ConnectionGroup::new(
                address,
                self.transport.clone(),
                self.group_config.clone(),
            ));
            let width = super::initial_width(&self.settings);
            let scaler = if c.adaptive_connections {
                let scaler_config = kproducer_net::ScalerConfig {
                    initial_width: width,
                    ..c.scaler.clone()
                };
                Scaler::new(scaler_config, Instant::now().into_std()).ok()
            } else {
                None
            };
            let _ = self.router.set_width(
                broker,
                NonZeroUsize::new(width).unwrap_or(NonZeroUsize::MIN),
            );
            self.shared.metrics.connections(broker, width);
            self.brokers
                .insert(broker, BrokerLink::new(group, width, scaler));
        }
        self.brokers.get_mut(&broker)
    }

    /// Starts connecting `slot` of `broker` unless an attempt is under way.
    pub(super) fn connect(&mut self, broker: i32, slot: usize) {
        let Some(link) = self.link(broker) else {
            return;
        };
        let group = link.group.clone();
        let s = link.slot(slot);
        if s.connecting {
            return;
        }
        s.connecting = true;
        self.events.push(Box::pin(async move {
            let result = group.connection(slot).await;
            Event::Connected {
                broker,
                slot,
                result,
            }
        }));
    }

    /// A connection for control requests (Metadata, InitProducerId): slot 0
    /// of a known broker, else a bootstrap server.
    pub(super) fn control_connection(
        &mut self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Connection, String>> + Send>>
    {
        let mut ids: Vec<i32> = self.metadata.brokers.keys().copied().collect();
        ids.sort_unstable();
        if !ids.is_empty() {
            let id = ids[self.bootstrap_next % ids.len()];
            self.bootstrap_next = self.bootstrap_next.wrapping_add(1);
            if let Some(link) = self.link(id) {
                let group = link.group.clone();
                return Box::pin(
                    async move { group.connection(0).await.map_err(|e| e.to_string()) },
                );
            }
        }
        let servers = &self.settings.bootstrap;
        let (host, port) = servers[self.bootstrap_next % servers.len()].clone();
        self.bootstrap_next = self.bootstrap_next.wrapping_add(1);
        let transport = self.transport.clone();
        let config = self.group_config.connection.clone();
        Box::pin(async move {
            let address = BrokerAddress::new(host, port);
            Connection::connect(transport.as_ref(), &address, config)
                .await
                .map_err(|e| format!("bootstrap server {address}: {e}"))
        })
    }

    /// Starts a Metadata request if one is due.
    pub(super) fn maybe_refresh_metadata(&mut self, now: Instant) {
        if !self
            .metadata
            .refresh_due(now, self.settings.config.metadata_max_age)
        {
            return;
        }
        self.metadata.in_flight = true;
        let request = self
            .metadata
            .request(self.settings.config.allow_auto_create_topics);
        let connection = self.control_connection();
        self.events.push(Box::pin(async move {
            let result = match connection.await {
                Ok(c) => c.send(&request).await.map_err(|e| e.to_string()),
                Err(e) => Err(e),
            };
            Event::Metadata(result)
        }));
    }

    /// Starts InitProducerId if the idempotent producer has no id.
    pub(super) fn maybe_init_producer_id(&mut self, now: Instant) {
        let Some(idem) = &self.idempotence else {
            return;
        };
        if self.transaction.is_some() {
            // The transaction's InitProducerId goes to its coordinator.
            return;
        }
        if idem.producer().is_some()
            || self.init_in_flight
            || self.fatal.is_some()
            || self.init_next_attempt.is_some_and(|t| t > now)
        {
            return;
        }
        self.init_in_flight = true;
        let request = InitProducerIdRequest {
            transactional_id: None,
            transaction_timeout_ms: i32::MAX,
            producer_id: -1,
            producer_epoch: -1,
            tagged_fields: Default::default(),
        };
        let connection = self.control_connection();
        self.events.push(Box::pin(async move {
            let result = match connection.await {
                Ok(c) => c.send(&request).await.map_err(|e| e.to_string()),
                Err(e) => Err(e),
            };
            Event::InitProducerId(result)
        }));
    }

    /// A Metadata answer (or failure) arrived.
    pub(super) fn on_metadata(
        &mut self,
        result: Result<kproducer_protocol::messages::MetadataResponse, String>,
    ) {
        let now = Instant::now();
        self.metadata.in_flight = false;
        let retry_backoff = self.settings.config.retry_backoff;
        let retry_backoff_max = self.settings.config.retry_backoff_max;
        match result {
            Ok(response) => {
                let changes = self.metadata.update(&response, now);
                self.forget_partition_counts();
                // Never more than one refresh per retry.backoff.ms, so a
                // partition without a leader cannot spin the loop.
                self.metadata.next_attempt = Some(now + retry_backoff);
                for (topic, partition, broker) in changes.leaders {
                    let tp = kproducer_net::TopicPartition::new(topic, partition);
                    let _ = self.router.set_leader(tp, broker);
                }
                // Topics still unknown (or in error) are asked for again
                // after a backoff; fatal topic errors fail their records.
                let mut retry = false;
                let wanted: Vec<Arc<str>> = self.metadata.wanted.iter().cloned().collect();
                for topic in wanted {
                    match self.metadata.topics.get(&topic).map(|t| t.error) {
                        Some(ErrorCode::NONE) => {}
                        Some(
                            code @ (ErrorCode::TOPIC_AUTHORIZATION_FAILED
                            | ErrorCode::INVALID_TOPIC_EXCEPTION),
                        ) => {
                            self.fail_waiting(&topic, code);
                        }
                        _ => retry = true,
                    }
                }
                if retry {
                    self.metadata.refresh_requested = true;
                    self.metadata.next_attempt = Some(now + retry_backoff);
                }
                // Records parked for topics now known go to their partitions
                // from the next pass of the loop on, a portion per pass
                // (`Core::release_parked`).
            }
            Err(e) => {
                if self.fail_on_authentication() {
                    return;
                }
                tracing::warn!(error = %e, "metadata request failed");
                self.metadata.failures = self.metadata.failures.saturating_add(1);
                self.metadata.next_attempt =
                    Some(now + backoff(retry_backoff, retry_backoff_max, self.metadata.failures));
                self.metadata.last_error = Some(e);
                self.metadata.refresh_requested = true;
            }
        }
    }

    /// Fails the records waiting for `topic` with a topic-level error.
    fn fail_waiting(&mut self, topic: &str, code: ErrorCode) {
        if let Some(queue) = self.waiting.remove(topic) {
            for w in queue {
                let error = Error::Broker {
                    topic: w.envelope.record.topic.clone(),
                    partition: -1,
                    code,
                    message: None,
                };
                self.resolved(w.flush_gen, 1);
                self.reject(w.envelope, error);
            }
        }
    }

    /// An InitProducerId answer (or failure) arrived.
    pub(super) fn on_init_producer_id(
        &mut self,
        result: Result<kproducer_protocol::messages::InitProducerIdResponse, String>,
    ) {
        let now = Instant::now();
        self.init_in_flight = false;
        if result.is_err() && self.fail_on_authentication() {
            return;
        }
        let c = &self.settings.config;
        let retry_at =
            |failures: u32| now + backoff(c.retry_backoff, c.retry_backoff_max, failures);
        match result {
            Ok(r) if r.error_code == 0 => {
                self.init_failures = 0;
                if let Some(idem) = &mut self.idempotence {
                    let p = ProducerIdentity {
                        id: r.producer_id,
                        epoch: r.producer_epoch,
                    };
                    tracing::info!(producer_id = p.id, epoch = p.epoch, "producer id assigned");
                    idem.set_producer(p);
                }
            }
            Ok(r) => {
                let code = ErrorCode::from_i16(r.error_code);
                if code.is_retriable() {
                    tracing::debug!(%code, "InitProducerId will be retried");
                    self.init_failures = self.init_failures.saturating_add(1);
                    self.init_next_attempt = Some(retry_at(self.init_failures));
                } else {
                    self.set_fatal(Error::Fatal {
                        reason: format!("InitProducerId failed: {code}"),
                        code: Some(code),
                    });
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "InitProducerId request failed; retrying");
                self.init_failures = self.init_failures.saturating_add(1);
                self.init_next_attempt = Some(retry_at(self.init_failures));
                self.last_connect_error = Some(e);
            }
        }
    }

    /// A slot's connect attempt finished.
    pub(super) fn on_connected(
        &mut self,
        broker: i32,
        slot: usize,
        result: Result<Connection, kproducer_net::GroupError>,
    ) {
        let Some(link) = self.brokers.get_mut(&broker) else {
            return;
        };
        let s = link.slot(slot);
        s.connecting = false;
        match result {
            Ok(c) => {
                s.connection = Some(c);
            }
            Err(e) => {
                if self.fail_on_authentication() {
                    return;
                }
                tracing::debug!(broker, slot, error = %e, "connect failed");
                self.last_connect_error = Some(e.to_string());
                self.metadata.refresh_requested = true;
            }
        }
    }

    /// Per broker (by the slot its partitions are routed to), for the
    /// adaptive brokers' scalers: bytes of sealed batches waiting to be
    /// sent (the backlog), and `buffer.memory` bytes its partitions hold
    /// (sealed batches waiting, open batches, batches in flight). One pass
    /// over the partitions and one over the requests in flight, once per
    /// scale tick.
    fn holdings_by_broker(&self) -> Vec<BrokerHoldings> {
        let mut totals: Vec<BrokerHoldings> = Vec::new();
        for (tp, q) in self.partitions.iter() {
            let open = q.open_reserved() as u64;
            if q.ready.is_empty() && open == 0 {
                continue;
            }
            let Some(slot) = self.router.assigned_slot(tp) else {
                continue;
            };
            let (backlog, held) = q.ready.iter().fold((0u64, open), |(b, r), batch| {
                (b + batch.data.len() as u64, r + batch.reserved as u64)
            });
            let outstanding = backlog + q.open_size() as u64;
            let add = BrokerHoldings {
                broker: slot.broker,
                backlog,
                held,
                outstanding,
            };
            BrokerHoldings::add(&mut totals, slot.broker, add);
        }
        for r in self.requests.values() {
            let (held, outstanding) = r.batches.iter().fold((0u64, 0u64), |(h, o), b| {
                (h + b.reserved as u64, o + b.data.len() as u64)
            });
            let add = BrokerHoldings {
                broker: r.broker,
                backlog: 0,
                held,
                outstanding,
            };
            BrokerHoldings::add(&mut totals, r.broker, add);
        }
        totals
    }

    /// Whether the scaler's tick is due: its time has come, or an
    /// adaptive broker answered its first requests since it was idle (or
    /// ever). Those answers set the scaler's window to a few round trips
    /// (`Scaler::window_length`), so a burst's first window closes when
    /// the evidence is there, not on the next 100 ms tick.
    pub(super) fn scale_due(&self, now: Instant) -> bool {
        now >= self.next_scale_tick
            || self.brokers.values().any(|link| {
                link.scaler
                    .as_ref()
                    .is_some_and(|s| !s.paced_by_round_trips())
                    && link.slots.iter().any(|s| s.round_trips.count > 0)
            })
    }

    /// When the scaler's next tick is due after one at `now`: the
    /// configured interval, or sooner when an adaptive broker's window
    /// can close sooner (its windows last a few round trips while it is
    /// answering; `Scaler::next_evaluation`). At least 1 ms away.
    pub(super) fn next_scale_tick_after(&self, now: Instant) -> Instant {
        let interval = self.settings.config.scale_interval;
        let soonest = self
            .brokers
            .values()
            .filter_map(|link| link.scaler.as_ref())
            .map(|s| Instant::from_std(s.next_evaluation()))
            .fold(now + interval, Instant::min);
        soonest.max(now + Duration::from_millis(1))
    }

    /// The oldest Produce request in flight on each slot: broker, slot,
    /// bytes, and how long it has been at the head of its connection's
    /// queue at least (a broker serves a connection's requests in order;
    /// it reached the head when it was handed over or when the slot's
    /// previous answer came, whichever was later, and that answer came no
    /// later than `answered_by`, or now if one is pending). They bound
    /// what the connections can carry (`Scaler::observe_unanswered`). One
    /// pass over the requests in flight, once per scale tick.
    fn unanswered_heads(&self, now: Instant) -> Vec<(i32, usize, u64, Duration)> {
        let mut oldest: Vec<((i32, usize), Instant, u64)> = Vec::new();
        for r in self.requests.values() {
            let key = (r.broker, r.slot);
            match oldest.iter_mut().find(|(k, _, _)| *k == key) {
                Some((_, at, _)) if *at <= r.sent_at => {}
                Some(entry) => {
                    entry.1 = r.sent_at;
                    entry.2 = r.batches.iter().map(|b| b.data.len() as u64).sum();
                }
                None => oldest.push((
                    key,
                    r.sent_at,
                    r.batches.iter().map(|b| b.data.len() as u64).sum(),
                )),
            }
        }
        oldest
            .into_iter()
            .map(|((broker, slot), sent_at, bytes)| {
                let answered_by = self.brokers.get(&broker).and_then(|link| {
                    let s = link.slots.get(slot)?;
                    if s.answered_bytes > 0 {
                        Some(now)
                    } else {
                        s.answered_by
                    }
                });
                let head_since = answered_by.map_or(sent_at, |t| t.max(sent_at));
                (
                    broker,
                    slot,
                    bytes,
                    now.saturating_duration_since(head_since),
                )
            })
            .collect()
    }

    /// The scaler's tick: feed each adaptive broker's signals, apply new
    /// widths to its group and the router.
    pub(super) fn scale(&mut self, now: Instant) {
        let used = self.shared.buffer_used() as u64;
        let memory = self.shared.buffer_memory as u64;
        let now_std = now.into_std();
        let holdings = self.holdings_by_broker();
        let held_by_all = holdings.iter().map(|h| h.held).sum();
        let brokers_holding = holdings.iter().filter(|h| h.held > 0).count();
        let heads = self.unanswered_heads(now);
        for (&broker, link) in &mut self.brokers {
            let Some(scaler) = &mut link.scaler else {
                continue;
            };
            // The scaler's own events do not know the broker: name it.
            let _span = tracing::info_span!("scaler", broker).entered();
            let own = holdings
                .iter()
                .find(|h| h.broker == broker)
                .copied()
                .unwrap_or_default();
            // Sealed batches waiting to be sent, so a scale-up is sized
            // by demand (several connections for a deep backlog) and
            // judged by the load offered, not by a backlog drained.
            scaler.observe_backlog(own.backlog);
            // And everything given to it not yet answered, so the offered
            // load also counts batches that went in flight at once.
            scaler.observe_outstanding(own.outstanding);
            // The requests being served bound what the connections carry,
            // so an early scale-up is judged by a rigorous bound.
            for &(_, slot, bytes, serving_for) in heads.iter().filter(|h| h.0 == broker) {
                scaler.observe_unanswered(slot, bytes, serving_for);
            }
            for (i, s) in link.slots.iter_mut().enumerate() {
                // "Waited for an in-flight slot": the connection's own
                // permit wait plus the time ready batches were held back
                // by a full window here (with idempotence the partition's
                // 5-batch window usually binds before the connection's).
                let held = s.take_blocked(now);
                let (waited, busy) = match &s.connection {
                    Some(c) => {
                        let m = c.metrics();
                        let delta = match &s.last_metrics {
                            Some(prev) => m.delta_since(prev),
                            None => m,
                        };
                        s.last_metrics = Some(m);
                        (delta.permit_wait, delta.busy)
                    }
                    None => (Duration::ZERO, Duration::ZERO),
                };
                scaler.observe(i, waited.max(held), busy);
                // Throughput, so a scale-up that gets no more bytes
                // answered (the core, not the broker, is the bottleneck)
                // is undone.
                let answered = std::mem::take(&mut s.answered_bytes);
                if answered > 0 {
                    s.answered_by = Some(now);
                }
                scaler.observe_throughput(answered);
                // Round trips, so the cooldown after a change lasts as
                // many round trips as the change needs to show.
                let trips = std::mem::take(&mut s.round_trips);
                scaler.observe_round_trips(trips.total, trips.count);
            }
            // The shared buffer is this broker's pressure only in
            // proportion to what its partitions hold: a slow broker's
            // full buffer does not widen its fast neighbours
            // (`docs/scaling.md`, "Several brokers").
            let level = kproducer_net::broker_buffer_used(BufferHoldings {
                used,
                held_by_broker: own.held,
                held_by_all,
                brokers_holding,
            });
            scaler.observe_buffer(now_std, level, memory);
            let decision = scaler.evaluate(now_std);
            if decision.is_change() {
                let width = decision.target_width.max(1);
                link.group.set_width(width);
                for s in link.slots.iter_mut().skip(width) {
                    // Retiring: its connection drains; a later scale-up
                    // reconnects through the group.
                    s.connection = None;
                    s.last_metrics = None;
                }
                let _ = self.router.set_width(
                    broker,
                    NonZeroUsize::new(width).unwrap_or(NonZeroUsize::MIN),
                );
                metrics::add(&self.shared.metrics.scale_events, 1);
                self.shared.metrics.connections(broker, width);
            }
        }
    }
}
