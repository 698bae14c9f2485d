//! The hot loop of `kproducer perf`: one task hands every record to
//! `Producer::try_send` and keeps the delivery futures in a
//! `FuturesUnordered` (no task and no extra allocation per record beyond
//! the set's node), timing each from just before its send to the moment
//! its outcome is seen.
//!
//! Outcomes are collected every [`DRAIN_EVERY`] sends without waiting, and
//! whenever the loop has to wait anyway: for buffer space (`QueueFull`: the
//! records still outstanding hold it, so the next outcome frees some) or
//! for the `--throughput` schedule.

use std::collections::BTreeMap;
use std::future::Future;
use std::num::NonZeroU64;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, StreamExt};
use kproducer::{DeliveryFuture, DeliveryResult, Error, Producer, Record, Topic, TrySendError};

use super::latency::Latency;
use super::pacing::Pacer;
use crate::cpu_time;

/// Sends between two non-blocking collections of outcomes: often enough
/// that an outcome is seen within microseconds of its arrival while
/// sending flat out, rarely enough to cost nothing measurable.
const DRAIN_EVERY: u64 = 64;

/// Sends that share one reading of the clock as their send time. Reading
/// it costs tens of nanoseconds (more in a VM); eight sends take a few
/// microseconds, far below the histogram's 0.1 % precision at the
/// millisecond latencies a run sees. The clock is read again after every
/// wait, so waiting is always counted.
const SENDS_PER_CLOCK_READ: u64 = 8;

/// What to send.
#[derive(Debug, Clone)]
pub(crate) struct LoadSpec {
    /// The topic.
    pub(crate) topic: Topic,
    /// Every record's value (shared, not copied).
    pub(crate) payload: Bytes,
    /// How many records.
    pub(crate) num_records: u64,
    /// Records per second cap.
    pub(crate) throughput: Option<NonZeroU64>,
}

/// What happened to the records.
#[derive(Debug)]
pub(crate) struct Tally {
    /// Records acknowledged.
    pub(crate) acked: u64,
    /// Records failed (refused by `send` or failed in delivery).
    pub(crate) failed: u64,
    /// Failures by kind.
    pub(crate) by_kind: BTreeMap<String, u64>,
    /// The first failure, in full.
    pub(crate) first_error: Option<String>,
    /// Latency of the acknowledged records.
    pub(crate) latency: Latency,
    /// CPU time of the thread that ran the loop (sending, collecting
    /// outcomes and the producer's `try_send` path), if readable.
    pub(crate) loop_cpu: Option<Duration>,
}

impl Tally {
    fn new() -> Self {
        Self {
            acked: 0,
            failed: 0,
            by_kind: BTreeMap::new(),
            first_error: None,
            latency: Latency::new(),
            loop_cpu: None,
        }
    }

    fn observe(&mut self, (sent_at, result): (Instant, DeliveryResult), now: Instant) {
        match result {
            Ok(_) => {
                self.acked += 1;
                self.latency.record(now.saturating_duration_since(sent_at));
            }
            Err(e) => self.fail(&e),
        }
    }

    fn fail(&mut self, error: &Error) {
        self.failed += 1;
        *self.by_kind.entry(error_kind(error)).or_default() += 1;
        self.first_error.get_or_insert_with(|| error.to_string());
    }
}

/// A short name for the kind of a failure, for counting.
pub(crate) fn error_kind(error: &Error) -> String {
    match error {
        Error::Broker { code, .. } => format!("broker {}", code.name()),
        Error::DeliveryTimeout { .. } => "delivery timeout".to_owned(),
        Error::BufferTimeout { .. } => "buffer timeout".to_owned(),
        Error::RecordTooLarge { .. } => "record too large".to_owned(),
        Error::InvalidRecord { .. } => "invalid record".to_owned(),
        Error::Fatal { .. } => "fatal producer error".to_owned(),
        Error::Closed => "producer closed".to_owned(),
        Error::Dropped => "producer dropped".to_owned(),
        Error::Config { .. } => "configuration".to_owned(),
        _ => "other".to_owned(),
    }
}

/// A delivery future that also yields when its record was sent.
#[derive(Debug)]
struct Timed {
    delivery: DeliveryFuture,
    sent_at: Instant,
}

impl Future for Timed {
    type Output = (Instant, DeliveryResult);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let sent_at = self.sent_at;
        Pin::new(&mut self.delivery).poll(cx).map(|r| (sent_at, r))
    }
}

/// Collects every outcome already known, without waiting.
async fn drain_ready(pending: &mut FuturesUnordered<Timed>, tally: &mut Tally) {
    std::future::poll_fn(|cx| {
        let now = Instant::now();
        while let Poll::Ready(Some(done)) = pending.poll_next_unpin(cx) {
            tally.observe(done, now);
        }
        Poll::Ready(())
    })
    .await;
}

/// Waits until `deadline`, collecting outcomes meanwhile.
async fn sleep_collecting(
    deadline: Duration,
    pending: &mut FuturesUnordered<Timed>,
    tally: &mut Tally,
) {
    let sleep = tokio::time::sleep(deadline);
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            () = &mut sleep => return,
            Some(done) = pending.next(), if !pending.is_empty() => {
                tally.observe(done, Instant::now());
            }
        }
    }
}

/// Sends every record and waits for every outcome. Returns the tally and
/// the time from the first send to the last outcome.
pub(crate) async fn run(producer: &Producer, spec: &LoadSpec) -> (Tally, Duration) {
    let mut pending: FuturesUnordered<Timed> = FuturesUnordered::new();
    let mut tally = Tally::new();
    let cpu_before = cpu_time::current_thread_cpu().ok();
    let start = Instant::now();
    let pacer = Pacer::new(start, spec.throughput);
    let mut now = start;
    for index in 0..spec.num_records {
        if pacer.is_limited()
            && let Some(wait) = pacer.wait_before(index, Instant::now())
        {
            sleep_collecting(wait, &mut pending, &mut tally).await;
            now = Instant::now();
        } else if index % SENDS_PER_CLOCK_READ == 0 {
            now = Instant::now();
        }
        let mut record = Record::new(spec.topic.clone(), spec.payload.clone());
        // Stamped before the first attempt, as Kafka's perf tool does: time
        // spent waiting for buffer space counts as latency.
        let sent_at = now;
        loop {
            match producer.try_send(record) {
                Ok(delivery) => {
                    pending.push(Timed { delivery, sent_at });
                    break;
                }
                Err(TrySendError::QueueFull(back)) => {
                    record = back;
                    if let Some(done) = pending.next().await {
                        now = Instant::now();
                        tally.observe(done, now);
                        drain_ready(&mut pending, &mut tally).await;
                    } else {
                        // Nothing of ours holds the buffer: wait in send()
                        // (up to max.block.ms).
                        match producer.send(record).await {
                            Ok(delivery) => pending.push(Timed { delivery, sent_at }),
                            Err(e) => tally.fail(&e),
                        }
                        now = Instant::now();
                        break;
                    }
                }
                Err(TrySendError::Closed(_, e) | TrySendError::Invalid(_, e)) => {
                    tally.fail(&e);
                    break;
                }
                Err(e) => {
                    tally.fail(&Error::InvalidRecord {
                        topic: spec.topic.clone(),
                        reason: e.to_string(),
                    });
                    break;
                }
            }
        }
        if index % DRAIN_EVERY == DRAIN_EVERY - 1 {
            drain_ready(&mut pending, &mut tally).await;
        }
    }
    while let Some(done) = pending.next().await {
        tally.observe(done, Instant::now());
    }
    let elapsed = start.elapsed();
    tally.loop_cpu = cpu_before
        .zip(cpu_time::current_thread_cpu().ok())
        .map(|(before, after)| after.saturating_sub(before));
    (tally, elapsed)
}
