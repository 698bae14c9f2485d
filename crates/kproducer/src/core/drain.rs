//! Draining: ready batches → Produce requests, one per connection slot,
//! one batch per partition, within every limit (router fences, the
//! idempotence rules, in-flight windows, `max.request.size`).

use bytes::{Bytes, BytesMut};
use kproducer_net::{Connection, RawRequest, Reservation, Route, SlotId, TopicPartition};
use kproducer_protocol::ApiKey;
use kproducer_protocol::records::rewrite_transactional_state;
use tokio::time::Instant;

use super::accumulator::Batch;
use super::fast_hash::FastMap;
use super::idempotence::{BatchSequence, SendCheck};
use super::produce_body::{PartitionBatch, ProduceFields, produce_body_parts};
use super::{Core, Event, InFlightRequest};
use crate::config::Acks;
use crate::error::Error;
use crate::metrics;

/// Stamps the producer id, epoch and base sequence into a sealed batch.
fn stamp(data: &mut Bytes, seq: BatchSequence, transactional: bool) {
    let bytes = std::mem::take(data);
    let mut owned = bytes
        .try_into_mut()
        .unwrap_or_else(|shared| BytesMut::from(&shared[..]));
    // A batch we sealed ourselves is one complete v2 batch, so the rewrite
    // cannot fail; if it ever did the broker would reject the batch
    // (CORRUPT_MESSAGE) and the record would fail, not vanish.
    if let Err(e) = rewrite_transactional_state(
        &mut owned,
        seq.producer.id,
        seq.producer.epoch,
        seq.base,
        transactional,
    ) {
        tracing::error!(error = %e, "could not stamp the producer state into a batch");
    }
    *data = owned.freeze();
}

/// A Produce request being put together for one slot.
#[derive(Debug)]
struct RequestDraft {
    reservation: Reservation,
    connection: Connection,
    size: usize,
    batches: Vec<Batch>,
}

impl Core {
    /// Whether `tp` must not send now: it is fenced (moving between
    /// connections), or in a transaction the coordinator has not added it
    /// yet (asking for that is `may_send`'s side effect); other partitions
    /// keep flowing either way.
    fn held_back(&mut self, tp: &TopicPartition) -> bool {
        self.router.is_fenced(tp)
            || self
                .transaction
                .as_mut()
                .is_some_and(|txn| !txn.machine.may_send(tp))
    }

    /// One drain pass over every partition with a ready batch: at most one
    /// batch per partition per pass. Returns whether anything was sent (then
    /// another pass may send the next batches at once).
    pub(super) fn drain(&mut self, now: Instant) -> bool {
        if self.fatal.is_some() {
            return false;
        }
        let c = &self.settings.config;
        let max_request = c.max_request_size;
        let max_in_flight = c.max_in_flight;
        let mut keys = std::mem::take(&mut self.scratch_keys);
        keys.clear();
        keys.extend(
            self.partitions
                .iter()
                .filter(|(_, q)| {
                    q.ready
                        .front()
                        .is_some_and(|b| b.retry_at.is_none_or(|t| t <= now))
                })
                .map(|(k, _)| k.clone()),
        );
        // Deterministic order (tests replay the same decisions).
        keys.sort_unstable();
        let mut requests: FastMap<SlotId, RequestDraft> = FastMap::default();
        // Slots where a ready batch was held back by a full window.
        let mut blocked: Vec<SlotId> = Vec::new();
        for tp in &keys {
            // Unsealable batches (compression failed) fail here.
            if let Some(q) = self.partitions.get_mut(tp)
                && q.ready.front().is_some_and(|b| b.data.is_empty())
                && let Some(bad) = q.ready.pop_front()
            {
                let reason = bad.last_error.clone().unwrap_or_default();
                let error = Error::InvalidRecord {
                    topic: bad.topic.clone(),
                    reason,
                };
                self.fail_batch(bad, &error);
                continue;
            }
            let Some(leader) = self.metadata.leader(&tp.topic, tp.partition) else {
                self.metadata.refresh_requested = true;
                continue;
            };
            if self.router.assigned_slot(tp).is_none() {
                let _ = self.router.set_leader(tp.clone(), leader.broker);
            }
            if self.held_back(tp) {
                continue;
            }
            let Some(slot) = self.router.assigned_slot(tp) else {
                continue;
            };
            let Some(q) = self.partitions.get_mut(tp) else {
                continue;
            };
            // Ordering and window rules for this partition.
            match &mut self.idempotence {
                Some(idem) => {
                    let head = q.ready.front().and_then(|b| b.seq);
                    match idem.check_send(tp, head) {
                        SendCheck::Send => {}
                        SendCheck::Wait => continue,
                        SendCheck::Full => {
                            blocked.push(slot);
                            continue;
                        }
                        SendCheck::Reset => {
                            for b in &mut q.ready {
                                b.seq = None;
                            }
                            idem.reset_partition(tp);
                            if idem.check_send(tp, None) != SendCheck::Send {
                                continue;
                            }
                        }
                    }
                }
                None => {
                    if q.in_flight >= max_in_flight {
                        blocked.push(slot);
                        continue;
                    }
                }
            }
            // A connection with a free in-flight slot, reserved without
            // waiting when the slot's request is started (a refusal counts as
            // permit wait for the scaler).
            let Some(link) = self.link(slot.broker) else {
                self.metadata.refresh_requested = true;
                continue;
            };
            let Some(connection) = link.live(slot.slot) else {
                self.connect(slot.broker, slot.slot);
                continue;
            };
            let Some(head_len) = self
                .partitions
                .get(tp)
                .and_then(|q| q.ready.front())
                .map(|b| b.data.len())
            else {
                continue;
            };
            match requests.get(&slot) {
                Some(r) if !r.batches.is_empty() && r.size + head_len > max_request => continue,
                Some(_) => {}
                None => match connection.try_reserve() {
                    Ok(Some(reservation)) => {
                        requests.insert(
                            slot,
                            RequestDraft {
                                reservation,
                                connection,
                                size: 0,
                                batches: Vec::new(),
                            },
                        );
                    }
                    Ok(None) => {
                        blocked.push(slot);
                        continue;
                    }
                    Err(e) => {
                        tracing::debug!(%slot, error = %e, "connection refused a reservation");
                        if let Some(link) = self.brokers.get_mut(&slot.broker) {
                            link.slot(slot.slot).connection = None;
                        }
                        continue;
                    }
                },
            }
            let Some(entry) = requests.get_mut(&slot) else {
                continue;
            };
            self.take_head(tp, slot, entry);
        }
        self.scratch_keys = keys;
        if !requests.is_empty() {
            self.ride_along(&mut requests);
        }
        for (&broker, link) in &mut self.brokers {
            for (i, s) in link.slots.iter_mut().enumerate() {
                let id = SlotId { broker, slot: i };
                s.note_blocked(blocked.contains(&id), now);
            }
        }
        let mut immediate = Vec::new();
        let sent = !requests.is_empty();
        let mut slots: Vec<SlotId> = requests.keys().copied().collect();
        slots.sort_unstable();
        for slot in slots {
            if let Some(draft) = requests.remove(&slot)
                && let Some(event) = self.submit(slot, draft)
            {
                immediate.push(event);
            }
        }
        for event in immediate {
            self.on_event(event);
        }
        sent
    }

    /// Moves `tp`'s first ready batch into `draft`: its sequence is
    /// assigned and stamped at its first send, and the partition, router
    /// and idempotence state count it in flight.
    fn take_head(&mut self, tp: &TopicPartition, slot: SlotId, draft: &mut RequestDraft) {
        let Some(q) = self.partitions.get_mut(tp) else {
            return;
        };
        let Some(mut batch) = q.ready.pop_front() else {
            return;
        };
        if let Some(idem) = &mut self.idempotence {
            if batch.seq.is_none()
                && let Some(seq) = idem.assign(tp, batch.count)
            {
                stamp(&mut batch.data, seq, self.transaction.is_some());
                batch.seq = Some(seq);
            }
            idem.on_sent(tp);
        }
        // A resend of a batch whose last attempt never reached the
        // socket is its first send, not a retry.
        if batch.attempts > 0 && !batch.unsent {
            metrics::add(&self.shared.metrics.retries, 1);
        }
        match self.router.on_send(tp) {
            Ok(Route::Send(s)) if s == slot => {}
            other => {
                // The checks before make this unreachable; say so loudly
                // in debug builds and keep going in release.
                debug_assert!(false, "router disagreed after checks: {other:?}");
                tracing::error!(partition = %tp, ?other, "router refused a checked send");
            }
        }
        q.in_flight += 1;
        draft.size += batch.data.len();
        draft.batches.push(batch);
    }

    /// Once a request goes to a connection, every other partition routed
    /// to that connection sends its open batch in it too, lingered or not,
    /// if its window allows and the request has room: the request and its
    /// fixed cost (a round trip, the broker's per-request work) are paid
    /// anyway, and a partition that waited for its own linger would pay
    /// them again a moment later — with many partitions, up to one request
    /// per partition per linger period. This is how Kafka's Java producer
    /// drains (`RecordAccumulator`: a node is ready when any of its
    /// partitions is, and the drain then takes the first batch of each of
    /// its partitions). A batch that rode along is sealed: the partition's
    /// next records open a new batch with a linger of its own.
    fn ride_along(&mut self, requests: &mut FastMap<SlotId, RequestDraft>) {
        let max_request = self.settings.config.max_request_size;
        let max_in_flight = self.settings.config.max_in_flight;
        let mut keys = std::mem::take(&mut self.scratch_keys);
        keys.clear();
        keys.extend(
            self.partitions
                .iter()
                .filter(|(_, q)| q.ride_along_size().is_some())
                .map(|(k, _)| k.clone()),
        );
        // Deterministic order (tests replay the same decisions).
        keys.sort_unstable();
        for tp in &keys {
            let Some(slot) = self.router.assigned_slot(tp) else {
                continue;
            };
            // One batch per partition per request: a partition whose
            // sealed batch is already in it keeps its open one.
            let Some(entry) = requests
                .get_mut(&slot)
                .filter(|r| r.batches.iter().all(|b| b.tp != *tp))
            else {
                continue;
            };
            if self
                .metadata
                .leader(&tp.topic, tp.partition)
                .is_none_or(|l| l.broker != slot.broker)
                || self.held_back(tp)
            {
                continue;
            }
            let Some(q) = self.partitions.get_mut(tp) else {
                continue;
            };
            let Some(size) = q.ride_along_size() else {
                continue;
            };
            if entry.size + size > max_request {
                continue;
            }
            let window_open = match &mut self.idempotence {
                Some(idem) => idem.check_send(tp, None) == SendCheck::Send,
                None => q.in_flight < max_in_flight,
            };
            if !window_open {
                continue;
            }
            q.seal_now(&mut self.next_order);
            // A batch that could not be sealed (compression failed) stays
            // queued: the next pass fails it.
            if q.ready.front().is_none_or(|b| b.data.is_empty()) {
                continue;
            }
            self.take_head(tp, slot, entry);
        }
        self.scratch_keys = keys;
    }

    /// Encodes and queues one Produce request on `slot` through its
    /// reservation. Queueing is synchronous, so requests reach each
    /// connection in the order the drain built them. Returns the event at
    /// once if the connection refused the request.
    fn submit(&mut self, slot: SlotId, draft: RequestDraft) -> Option<Event> {
        let RequestDraft {
            reservation,
            connection,
            batches,
            ..
        } = draft;
        if batches.is_empty() {
            return None;
        }
        let acks = self.settings.config.acks;
        let timeout_ms =
            i32::try_from(self.settings.config.request_timeout.as_millis()).unwrap_or(i32::MAX);
        let version = connection.versions().version(ApiKey::Produce).unwrap_or(3);
        let parts: Vec<PartitionBatch<'_>> = batches
            .iter()
            .map(|b| PartitionBatch {
                topic: &b.tp.topic,
                partition: b.tp.partition,
                records: &b.data,
            })
            .collect();
        let fields = ProduceFields {
            transactional_id: self.settings.config.transactional_id.as_deref(),
            acks: acks.as_i16(),
            timeout_ms,
        };
        let body = match produce_body_parts(fields, &parts, version) {
            Ok(body) => body,
            Err(e) => {
                drop(parts);
                let error = Error::InvalidRecord {
                    topic: batches[0].topic.clone(),
                    reason: format!("the produce request could not be encoded: {e}"),
                };
                for b in batches {
                    self.undo_send(&b, slot);
                    self.fail_batch(b, &error);
                }
                return None;
            }
        };
        drop(parts);
        // The batches go to the connection as parts of the body, uncopied.
        let mut raw = RawRequest::new(ApiKey::Produce, version, Bytes::new());
        raw.tail = body;
        raw.expects_response = acks != Acks::None;
        let id = self.next_request_id;
        self.next_request_id += 1;
        let n = batches.len() as u64;
        self.requests.insert(
            id,
            InFlightRequest {
                broker: slot.broker,
                slot: slot.slot,
                version,
                connection,
                batches,
                sent_at: Instant::now(),
            },
        );
        if let Some(link) = self.brokers.get_mut(&slot.broker) {
            link.slot(slot.slot).in_flight += 1;
        }
        metrics::add(&self.shared.metrics.requests_sent, 1);
        metrics::add(&self.shared.metrics.in_flight_batches, n);
        match reservation.send(raw) {
            Ok(pending) => {
                self.events.push(Box::pin(async move {
                    Event::Produce {
                        id,
                        result: pending.await,
                    }
                }));
                None
            }
            Err(e) => Some(Event::Produce { id, result: Err(e) }),
        }
    }

    /// Reverses the bookkeeping of a batch taken for sending.
    fn undo_send(&mut self, batch: &Batch, slot: SlotId) {
        let _ = self.router.on_complete(&batch.tp, slot);
        if let Some(q) = self.partitions.get_mut(&batch.tp) {
            q.in_flight = q.in_flight.saturating_sub(1);
        }
        if let (Some(idem), Some(seq)) = (&mut self.idempotence, batch.seq) {
            let _ = idem.on_outcome(
                &batch.tp,
                seq,
                &super::idempotence::Outcome::Lost {
                    maybe_persisted: false,
                },
            );
        }
    }
}
