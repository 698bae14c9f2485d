//! Handling what comes back: each partition's answer in a Produce response
//! (or the request's failure) is classified — by the idempotence state
//! machine when idempotence is on — and the batch completes, retries in its
//! place, splits or fails.

use bytes::Bytes;
use kproducer_net::{ConnectionError, SlotId};
use kproducer_protocol::messages::ProduceResponse;
use kproducer_protocol::records::{BatchParams, RecordBatch, RecordBatchBuilder};
use kproducer_protocol::{ErrorCode, Message};
use tokio::time::Instant;

use super::accumulator::{Batch, Pending};
use super::control::backoff;
use super::idempotence::{Outcome, Verdict};
use super::resolution::BatchOutcome;
use super::{Core, Event};
use crate::config::Acks;
use crate::delivery_report::BatchWritten;
use crate::error::Error;
use crate::metrics;

/// One partition's answer, as far as the producer cares.
#[derive(Debug, Clone)]
struct Answer {
    outcome: Outcome,
    log_append_time: i64,
    message: Option<String>,
}

impl Core {
    /// Dispatches an event.
    pub(super) fn on_event(&mut self, event: Event) {
        match event {
            Event::Produce { id, result } => self.on_produce(id, result),
            Event::Metadata(r) => self.on_metadata(r),
            Event::InitProducerId(r) => self.on_init_producer_id(r),
            Event::Transaction(e) => self.on_transaction_event(e),
            Event::Connected {
                broker,
                slot,
                result,
            } => self.on_connected(broker, slot, result),
        }
    }

    fn on_produce(&mut self, id: u64, result: Result<Option<Bytes>, ConnectionError>) {
        let Some(request) = self.requests.remove(&id) else {
            return;
        };
        let slot = SlotId {
            broker: request.broker,
            slot: request.slot,
        };
        if let Some(link) = self.brokers.get_mut(&request.broker) {
            let s = link.slot(request.slot);
            s.in_flight = s.in_flight.saturating_sub(1);
            if result.is_ok() {
                s.round_trips.note(request.sent_at.elapsed());
                s.answered_bytes += request
                    .batches
                    .iter()
                    .map(|b| b.data.len() as u64)
                    .sum::<u64>();
            }
        }
        metrics::sub(
            &self.shared.metrics.in_flight_batches,
            request.batches.len() as u64,
        );
        let lost = |e: &ConnectionError| Answer {
            outcome: Outcome::Lost {
                maybe_persisted: e.is_possibly_persisted(),
            },
            log_append_time: -1,
            message: Some(e.to_string()),
        };
        match result {
            Err(e) => {
                tracing::debug!(broker = request.broker, slot = request.slot, error = %e, "produce request failed");
                if request.connection.is_closed()
                    && let Some(link) = self.brokers.get_mut(&request.broker)
                {
                    let s = link.slot(request.slot);
                    if s.connection.as_ref().is_some_and(|c| c.is_closed()) {
                        s.connection = None;
                    }
                }
                let answer = lost(&e);
                for b in request.batches {
                    self.on_batch_answer(b, slot, answer.clone());
                }
            }
            Ok(None) => {
                // acks=0: no answer, no offsets.
                for b in request.batches {
                    self.on_batch_answer(
                        b,
                        slot,
                        Answer {
                            outcome: Outcome::Answer {
                                code: ErrorCode::NONE,
                                log_start_offset: -1,
                                base_offset: -1,
                            },
                            log_append_time: -1,
                            message: None,
                        },
                    );
                }
            }
            Ok(Some(mut body)) => match ProduceResponse::decode(&mut body, request.version) {
                Ok(response) => {
                    self.apply_leader_hints(&response);
                    for b in request.batches {
                        let found = response
                            .responses
                            .iter()
                            .find(|t| *t.name == *b.tp.topic)
                            .and_then(|t| {
                                t.partition_responses
                                    .iter()
                                    .find(|p| p.index == b.tp.partition)
                            });
                        let answer = match found {
                            Some(p) => Answer {
                                outcome: Outcome::Answer {
                                    code: ErrorCode::from_i16(p.error_code),
                                    log_start_offset: p.log_start_offset,
                                    base_offset: p.base_offset,
                                },
                                log_append_time: p.log_append_time_ms,
                                message: p.error_message.clone(),
                            },
                            // The broker answered but not for this partition:
                            // it may have been written; retry with the same
                            // sequence (a duplicate answer is success).
                            None => Answer {
                                outcome: Outcome::Lost {
                                    maybe_persisted: true,
                                },
                                log_append_time: -1,
                                message: Some("the response did not mention the partition".into()),
                            },
                        };
                        self.on_batch_answer(b, slot, answer);
                    }
                }
                Err(e) => {
                    // The stream can no longer be trusted (S21).
                    tracing::warn!(broker = request.broker, error = %e, "undecodable produce response; closing the connection");
                    request.connection.close();
                    let answer = Answer {
                        outcome: Outcome::Lost {
                            maybe_persisted: true,
                        },
                        log_append_time: -1,
                        message: Some(format!("undecodable produce response: {e}")),
                    };
                    for b in request.batches {
                        self.on_batch_answer(b, slot, answer.clone());
                    }
                }
            },
        }
    }

    /// KIP-951: a partition answered NOT_LEADER_OR_FOLLOWER (or a leader
    /// epoch error) names its new leader; route there at once instead of
    /// waiting for a metadata round trip. The router fences the partition
    /// until its batches on the old leader are resolved.
    fn apply_leader_hints(&mut self, response: &ProduceResponse) {
        let endpoints = response.node_endpoints.as_deref().unwrap_or_default();
        for t in &response.responses {
            for p in &t.partition_responses {
                let code = ErrorCode::from_i16(p.error_code);
                if !matches!(
                    code,
                    ErrorCode::NOT_LEADER_OR_FOLLOWER | ErrorCode::FENCED_LEADER_EPOCH
                ) {
                    continue;
                }
                let Some(hint) = &p.current_leader else {
                    continue;
                };
                if self.metadata.apply_leader_hint(
                    &t.name,
                    p.index,
                    hint.leader_id,
                    hint.leader_epoch,
                    endpoints,
                ) && let Some(topic) = self
                    .metadata
                    .topics
                    .get_key_value(t.name.as_str())
                    .map(|(k, _)| k.clone())
                {
                    tracing::debug!(topic = %t.name, partition = p.index, leader = hint.leader_id, "leader hint from a produce response");
                    let _ = self.router.set_leader(
                        kproducer_net::TopicPartition::new(topic, p.index),
                        hint.leader_id,
                    );
                }
            }
        }
    }

    /// Plain (non-idempotent) classification: retriable codes and lost
    /// requests retry (which may duplicate), the rest fail.
    fn classify_plain(batch: &Batch, outcome: &Outcome) -> Verdict {
        match outcome {
            Outcome::Lost { maybe_persisted } => Verdict::Retry {
                maybe_persisted: *maybe_persisted,
                refresh_metadata: true,
            },
            Outcome::Answer { code, .. } => match *code {
                ErrorCode::NONE | ErrorCode::DUPLICATE_SEQUENCE_NUMBER => Verdict::Complete,
                ErrorCode::MESSAGE_TOO_LARGE if batch.count > 1 => Verdict::Split,
                ErrorCode::CORRUPT_MESSAGE => Verdict::Fail,
                c if c.is_retriable() => Verdict::Retry {
                    maybe_persisted: false,
                    refresh_metadata: matches!(
                        c,
                        ErrorCode::NOT_LEADER_OR_FOLLOWER
                            | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                            | ErrorCode::LEADER_NOT_AVAILABLE
                    ),
                },
                _ => Verdict::Fail,
            },
        }
    }

    fn on_batch_answer(&mut self, mut batch: Batch, slot: SlotId, answer: Answer) {
        let _ = self.router.on_complete(&batch.tp, slot);
        if let Some(q) = self.partitions.get_mut(&batch.tp) {
            q.in_flight = q.in_flight.saturating_sub(1);
        }
        let code = match &answer.outcome {
            Outcome::Answer { code, .. } => *code,
            Outcome::Lost { .. } => ErrorCode::NONE,
        };
        if code != ErrorCode::NONE {
            self.shared.metrics.error_code(code);
        }
        if let Some(fatal) = self.fatal.clone() {
            self.fail_batch(batch, &fatal);
            return;
        }
        // acks=0 never retries: a request that may have reached the broker
        // (handed to the connection, which then died) is not sent again,
        // since that could write it twice. One that never reached the
        // socket is sent again below: a first send, not a retry.
        if self.settings.config.acks == Acks::None
            && matches!(
                answer.outcome,
                Outcome::Lost {
                    maybe_persisted: true
                }
            )
        {
            let error = Error::Broker {
                topic: batch.topic.clone(),
                partition: batch.tp.partition,
                code: ErrorCode::NETWORK_EXCEPTION,
                message: Some(format!(
                    "acks=0: the connection failed after the batch was handed to it, \
                     so it may or may not have reached the broker; acks=0 does not \
                     resend it (use acks=1 or all to know): {}",
                    answer.message.as_deref().unwrap_or("connection lost")
                )),
            };
            self.fail_batch(batch, &error);
            return;
        }
        let verdict = match (&mut self.idempotence, batch.seq) {
            (Some(idem), Some(seq)) => idem.on_outcome(&batch.tp, seq, &answer.outcome),
            _ => Self::classify_plain(&batch, &answer.outcome),
        };
        let broker_error = |batch: &Batch| Error::Broker {
            topic: batch.topic.clone(),
            partition: batch.tp.partition,
            code,
            message: answer.message.clone(),
        };
        match verdict {
            Verdict::Complete => {
                let base_offset = match answer.outcome {
                    Outcome::Answer { base_offset, .. } => base_offset,
                    Outcome::Lost { .. } => -1,
                };
                self.complete_batch(batch, base_offset, answer.log_append_time);
            }
            Verdict::Retry {
                maybe_persisted,
                refresh_metadata,
            } => {
                let now = Instant::now();
                let c = &self.settings.config;
                batch.maybe_persisted |= maybe_persisted;
                batch.unsent = matches!(
                    answer.outcome,
                    Outcome::Lost {
                        maybe_persisted: false
                    }
                );
                batch.attempts += 1;
                batch.last_error = Some(match &answer.message {
                    Some(m) if code == ErrorCode::NONE => m.clone(),
                    Some(m) => format!("{code}: {m}"),
                    None => code.to_string(),
                });
                if refresh_metadata {
                    self.metadata.refresh_requested = true;
                }
                if batch.created + c.delivery_timeout <= now {
                    self.expire_batch(batch);
                    return;
                }
                batch.retry_at =
                    Some(now + backoff(c.retry_backoff, c.retry_backoff_max, batch.attempts - 1));
                if let Some(q) = self.partitions.get_mut(&batch.tp) {
                    q.requeue(batch);
                }
            }
            Verdict::Fail => {
                let error = broker_error(&batch);
                self.fail_batch(batch, &error);
            }
            Verdict::Split => self.split_batch(batch),
            Verdict::Fatal => {
                let error = Error::Fatal {
                    reason: format!(
                        "the broker answered {code} for {}-{}",
                        batch.topic, batch.tp.partition
                    ),
                    code: Some(code),
                };
                self.fail_batch(batch, &error);
                self.set_fatal(error);
            }
        }
    }

    /// Completes every record of an acknowledged batch. Its memory and
    /// counters are settled first, so whoever learns the outcome (a
    /// future's task, the delivery-report sink) finds the buffer space
    /// free and the metrics up to date.
    fn complete_batch(&mut self, mut batch: Batch, base_offset: i64, log_append_time: i64) {
        let n = batch.records.len();
        self.shared.release(batch.reserved);
        let m = &self.shared.metrics;
        metrics::add(&m.records_sent, n as u64);
        metrics::add(&m.bytes_sent, batch.data.len() as u64);
        metrics::add(&m.batches_sent, 1);
        self.resolved(batch.flush_gen, n);
        self.shared.resolve(
            &batch.topic,
            batch.tp.partition,
            &mut batch.records,
            BatchOutcome::Written(BatchWritten {
                base_offset,
                log_append_time,
            }),
        );
        self.batch_buffers.recycle(batch.data);
    }

    /// MESSAGE_TOO_LARGE on a multi-record batch: its records go again as
    /// one batch each, in their place; a record that is too large alone
    /// then fails with a clear error.
    fn split_batch(&mut self, batch: Batch) {
        let mut data = batch.data.clone();
        let records = RecordBatch::decode(&mut data).and_then(|b| {
            let header = *b.header();
            b.records()?
                .map(|r| r.map(|r| (r.timestamp(&header), r)))
                .collect::<Result<Vec<_>, _>>()
        });
        let records = match records {
            Ok(r) if r.len() == batch.records.len() => r,
            _ => {
                let error = Error::RecordTooLarge {
                    size: batch.data.len(),
                    limit: self.settings.config.max_request_size,
                    setting: "the broker's message.max.bytes",
                };
                self.fail_batch(batch, &error);
                return;
            }
        };
        tracing::info!(partition = %batch.tp, records = records.len(), "splitting a batch the broker found too large");
        let per = batch.reserved / records.len().max(1);
        let mut left = batch.reserved;
        let count = records.len();
        let mut builder = RecordBatchBuilder::new(self.settings.config.compression);
        for (i, ((timestamp, r), pending)) in records.into_iter().zip(batch.records).enumerate() {
            builder.append(timestamp, r.key.as_deref(), r.value.as_deref(), &r.headers);
            let reserved = if i + 1 == count { left } else { per };
            left -= reserved;
            let piece = Batch {
                order: (batch.order.0, batch.order.1 * 1024 + i as u32 + 1),
                topic: batch.topic.clone(),
                tp: batch.tp.clone(),
                data: builder.seal(&BatchParams::default()).unwrap_or_default(),
                count: 1,
                records: vec![Pending {
                    reply: pending.reply,
                    timestamp: pending.timestamp,
                }],
                reserved,
                flush_gen: batch.flush_gen,
                created: batch.created,
                seq: None,
                attempts: batch.attempts,
                retry_at: None,
                maybe_persisted: false,
                unsent: false,
                last_error: Some("split after MESSAGE_TOO_LARGE".into()),
            };
            if let Some(q) = self.partitions.get_mut(&piece.tp) {
                q.requeue(piece);
            }
        }
    }
}
