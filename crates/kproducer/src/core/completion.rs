//! How records leave the core other than by acknowledgement: expiry after
//! `delivery.timeout.ms`, failures, a fatal error, flush and close
//! bookkeeping.

use std::sync::atomic::Ordering;

use tokio::time::Instant;

use super::accumulator::Batch;
use super::resolution::BatchOutcome;
use super::{Core, Waiting};
use crate::error::Error;
use crate::metrics;

impl Core {
    /// Fails records and batches past `delivery.timeout.ms` that are not in
    /// flight.
    pub(super) fn expire(&mut self, now: Instant) {
        let timeout = self.settings.config.delivery_timeout;
        let mut expired_waiting = Vec::new();
        for (topic, queue) in &mut self.waiting {
            while queue.front().is_some_and(|w| w.received + timeout <= now) {
                if let Some(w) = queue.pop_front() {
                    expired_waiting.push((topic.clone(), w));
                }
            }
        }
        self.waiting.retain(|_, q| !q.is_empty());
        for (topic, w) in expired_waiting {
            let problem = match self.metadata.topics.get(&topic) {
                Some(t) if t.error != kproducer_protocol::ErrorCode::NONE => {
                    format!("the topic's metadata says {}", t.error)
                }
                _ => self
                    .metadata
                    .last_error
                    .clone()
                    .unwrap_or_else(|| "the topic's metadata did not arrive".to_owned()),
            };
            let error = Error::DeliveryTimeout {
                topic: w.envelope.record.topic.clone(),
                partition: -1,
                timeout,
                last_problem: problem,
            };
            self.resolved(w.flush_gen, 1);
            self.reject(w.envelope, error);
        }
        let mut expired = Vec::new();
        for q in self.partitions.values_mut() {
            let mut i = 0;
            while i < q.ready.len() {
                if q.ready[i].created + timeout <= now {
                    if let Some(b) = q.ready.remove(i) {
                        expired.push(b);
                    }
                } else {
                    i += 1;
                }
            }
        }
        for batch in expired {
            self.expire_batch(batch);
        }
    }

    /// Fails a batch that ran out of delivery time (not in flight).
    pub(super) fn expire_batch(&mut self, batch: Batch) {
        if let (Some(idem), Some(seq)) = (&mut self.idempotence, batch.seq) {
            idem.on_expired(&batch.tp, seq, batch.maybe_persisted);
        }
        let last_problem = batch
            .last_error
            .clone()
            .or_else(|| self.last_connect_error.clone())
            .unwrap_or_else(|| "it could not be sent in time".to_owned());
        let error = Error::DeliveryTimeout {
            topic: batch.topic.clone(),
            partition: batch.tp.partition,
            timeout: self.settings.config.delivery_timeout,
            last_problem,
        };
        self.fail_batch(batch, &error);
    }

    /// Resolves flush waiters whose records are all resolved.
    pub(super) fn answer_flushes(&mut self) {
        if self.flush_waiters.is_empty() {
            return;
        }
        let oldest = self.outstanding.keys().next().copied();
        let mut i = 0;
        while i < self.flush_waiters.len() {
            // Satisfied when nothing older than the flush is outstanding.
            if oldest.is_none_or(|o| o >= self.flush_waiters[i].0) {
                let (_, tx) = self.flush_waiters.swap_remove(i);
                let _ = tx.send(());
            } else {
                i += 1;
            }
        }
    }

    /// Whether the loop should stop: closing and everything resolved, or
    /// closing and the deadline passed.
    pub(super) fn finished(&self, now: Instant) -> bool {
        match self.closing {
            Some(deadline) => {
                (self.outstanding.is_empty() && self.transaction_idle()) || now >= deadline
            }
            None => false,
        }
    }

    /// Fails every record waiting for metadata with `error` and takes
    /// every batch not in flight (open, queued, waiting for a retry) out of
    /// the partition queues, for the caller to fail.
    pub(super) fn fail_waiting_take_unsent(&mut self, error: &Error) -> Vec<Batch> {
        let waiting: Vec<Waiting> = self.waiting.drain().flat_map(|(_, q)| q).collect();
        for w in waiting {
            self.resolved(w.flush_gen, 1);
            self.reject(w.envelope, error.clone());
        }
        let mut batches = Vec::new();
        for q in self.partitions.values_mut() {
            batches.extend(q.take_all(&mut self.next_order));
        }
        batches
    }

    /// Fails every record the core holds (waiting, open, queued, in flight).
    pub(super) fn fail_everything(&mut self, error: &Error) {
        let mut batches = self.fail_waiting_take_unsent(error);
        for (_, r) in self.requests.drain() {
            metrics::sub(
                &self.shared.metrics.in_flight_batches,
                r.batches.len() as u64,
            );
            batches.extend(r.batches);
        }
        for b in batches {
            self.fail_batch(b, error);
        }
    }

    /// Fails every record of `batch` with `error` and gives its memory back
    /// (first, as `complete_batch` does).
    pub(super) fn fail_batch(&mut self, mut batch: Batch, error: &Error) {
        let n = batch.records.len();
        if let Some(t) = &mut self.transaction {
            t.machine.on_records_failed(error);
        }
        self.shared.release(batch.reserved);
        metrics::add(&self.shared.metrics.records_failed, n as u64);
        self.resolved(batch.flush_gen, n);
        self.shared.resolve(
            &batch.topic,
            batch.tp.partition,
            &mut batch.records,
            BatchOutcome::Failed(error),
        );
    }

    /// The producer cannot go on: fail everything, refuse new records.
    pub(super) fn set_fatal(&mut self, error: Error) {
        tracing::error!(%error, "fatal producer error");
        let _ = self.shared.fatal.set(error.clone());
        self.shared.closed.store(true, Ordering::Release);
        self.fatal = Some(error.clone());
        self.fail_everything(&error);
    }
}

impl Core {
    /// Takes on a fatal error raised outside the core's own decisions (a
    /// delivery-report sink that panicked, see
    /// [`DeliveryReports`](crate::DeliveryReports)): fails everything, as
    /// any fatal error does. One load per pass when there is none.
    pub(super) fn adopt_shared_fatal(&mut self) {
        if self.fatal.is_none()
            && let Some(error) = self.shared.fatal.get()
        {
            self.set_fatal(error.clone());
        }
    }
}

impl Drop for Core {
    /// The core's task was dropped before it finished (its runtime shut
    /// down): every record it still holds fails with [`Error::Dropped`], so
    /// that tokens are reported too (a future's sender would resolve by
    /// itself when dropped; a token has no one else to tell the sink).
    /// After a normal stop there is nothing left and this does nothing.
    fn drop(&mut self) {
        if std::thread::panicking() {
            // The core itself panicked: its state may be inconsistent, and
            // a second panic here would abort the process. Futures still
            // resolve (`Error::Dropped`) as their senders drop.
            return;
        }
        self.fail_everything(&Error::Dropped);
    }
}
