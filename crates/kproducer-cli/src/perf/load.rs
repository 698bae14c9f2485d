//! The hot loop of `kproducer perf --delivery future`: one task hands
//! every record to `Producer::try_send` and waits for the delivery futures
//! in groups of
//! [`GROUP_SIZE`] consecutive sends, timing each record from just before
//! its send to the moment its outcome is seen.
//!
//! A group is one entry of a `FuturesUnordered`: when any of its records
//! resolves the group is woken, and its poll reads the clock once and
//! records every record of the group that has resolved since. So each
//! record is still timed at the first poll after its outcome is written
//! (exactly as a future per record would be), but the set's per-entry
//! costs (a task allocation, a wake-up through the ready queue, a free)
//! are paid once per 64 records instead of once per record. A record's
//! waker is registered once, by the group's first poll; later polls only
//! look at the records still waiting (`DeliveryFuture::is_resolved`, one
//! load) and take the resolved ones. Consecutive
//! sends mostly share a partition and a batch, so a group usually resolves
//! in one or two polls. Groups are reused, so the loop allocates nothing
//! per record.
//!
//! Outcomes are collected every [`DRAIN_EVERY`] sends without waiting, and
//! whenever the loop has to wait anyway: for buffer space (`QueueFull`: the
//! records still outstanding hold it, so the next outcome frees some) or
//! for the `--throughput` schedule.
//!
//! `--delivery report` (the default) sends with a token instead, and its
//! outcomes arrive through the producer's delivery-report sink:
//! [`super::reported`].

use std::collections::BTreeMap;
use std::future::Future;
use std::num::NonZeroU64;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, StreamExt};
use kproducer::{DeliveryFuture, Error, Producer, Record, Topic, TrySendError};
use kproducer_perf::{LatencyRecorder, Pacer};

/// Sends between two non-blocking collections of outcomes: often enough
/// that an outcome is seen within microseconds of its arrival while
/// sending flat out, rarely enough to cost nothing measurable.
const DRAIN_EVERY: u64 = 64;

/// Sends that share one reading of the clock as their send time. Reading
/// it costs tens of nanoseconds (more in a VM); eight sends take a few
/// microseconds, far below the histogram's 0.1 % precision at the
/// millisecond latencies a run sees. The clock is read again after every
/// wait, so waiting is always counted.
pub(crate) const SENDS_PER_CLOCK_READ: u64 = 8;

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
    pub(crate) latency: LatencyRecorder,
    /// CPU time of the thread that ran the loop (sending, collecting
    /// outcomes and the producer's `try_send` path), if readable.
    pub(crate) loop_cpu: Option<Duration>,
}

impl Tally {
    pub(crate) fn new() -> Self {
        Self {
            acked: 0,
            failed: 0,
            by_kind: BTreeMap::new(),
            first_error: None,
            latency: LatencyRecorder::new(),
            loop_cpu: None,
        }
    }

    pub(crate) fn fail(&mut self, error: &Error) {
        self.fail_many(error, 1);
    }

    /// Counts `count` records failed with `error` (one batch's).
    pub(crate) fn fail_many(&mut self, error: &Error, count: u64) {
        self.failed += count;
        *self.by_kind.entry(error_kind(error)).or_default() += count;
        self.first_error.get_or_insert_with(|| error.to_string());
    }
}

/// What to count for a record `try_send` refused for good (anything but
/// `QueueFull`, which the drivers wait out): the producer's own error, or
/// the refusal as an invalid record.
pub(crate) fn refused_for_good(topic: &Topic, refusal: TrySendError) -> Error {
    match refusal {
        TrySendError::Closed(_, e) | TrySendError::Invalid(_, e) => e,
        other => Error::InvalidRecord {
            topic: topic.clone(),
            reason: other.to_string(),
        },
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

/// Consecutive sends waited on together: one `FuturesUnordered` entry each.
const GROUP_SIZE: usize = 64;

/// Up to [`GROUP_SIZE`] consecutive sends: the ones still waiting, with
/// their send times, and what the resolved ones came to. As a future it
/// resolves (to itself) once every record in it has resolved.
#[derive(Debug)]
struct Group {
    /// The records still waiting, each with its send time.
    waiting: Vec<(DeliveryFuture, SentAt)>,
    /// What the send times count from.
    clock: RunClock,
    /// Every record in `waiting` was polled once with this group's waker
    /// (the set's, fixed for as long as the group is in it), so its
    /// sender wakes the group: later polls only look (one load each)
    /// instead of registering again.
    registered: bool,
    /// Send→outcome latency of each acknowledged record, in nanoseconds.
    acked: Vec<u64>,
    failed: Vec<Error>,
}

impl Group {
    /// An empty group with room for [`GROUP_SIZE`] sends.
    fn with_room(clock: RunClock) -> Self {
        Self {
            waiting: Vec::with_capacity(GROUP_SIZE),
            clock,
            acked: Vec::with_capacity(GROUP_SIZE),
            failed: Vec::new(),
            registered: false,
        }
    }

    /// An empty group that holds no memory (what a resolved group leaves
    /// behind in the set).
    fn hollow(clock: RunClock) -> Self {
        Self {
            waiting: Vec::new(),
            clock,
            acked: Vec::new(),
            failed: Vec::new(),
            registered: false,
        }
    }
}

/// The run's clock: time since the run started, so that a send time is one
/// integer and a latency one subtraction (subtracting two `Instant`s is
/// tens of instructions, paid per record).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunClock {
    start: Instant,
}

/// When a record was sent: nanoseconds on the [`RunClock`].
type SentAt = u64;

impl RunClock {
    /// A clock counting from now.
    pub(crate) fn starting_now() -> Self {
        Self {
            start: Instant::now(),
        }
    }

    /// Nanoseconds since the start of the run, read now.
    pub(crate) fn now(self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

impl Future for Group {
    type Output = Group;

    /// Takes every outcome written since the last poll, timed now, and
    /// registers for the rest (any of them wakes the group).
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Group> {
        let this = &mut *self;
        let now = this.clock.now();
        let mut i = 0;
        while let Some((delivery, sent_at)) = this.waiting.get_mut(i) {
            if this.registered && !delivery.is_resolved() {
                i += 1;
                continue;
            }
            match Pin::new(delivery).poll(cx) {
                Poll::Ready(result) => {
                    match result {
                        Ok(_) => this.acked.push(now.saturating_sub(*sent_at)),
                        Err(e) => this.failed.push(e),
                    }
                    // Resolved: its outcome was just taken.
                    drop(this.waiting.swap_remove(i));
                }
                Poll::Pending => i += 1,
            }
        }
        if this.waiting.is_empty() {
            let clock = this.clock;
            Poll::Ready(std::mem::replace(this, Group::hollow(clock)))
        } else {
            this.registered = true;
            Poll::Pending
        }
    }
}

/// The records sent and not yet seen resolved: whole groups in the set,
/// plus the group being filled.
#[derive(Debug)]
struct Outstanding {
    groups: FuturesUnordered<Group>,
    filling: Group,
    /// Resolved groups, emptied, for reuse.
    spare: Vec<Group>,
    clock: RunClock,
}

impl Outstanding {
    fn new(clock: RunClock) -> Self {
        Self {
            groups: FuturesUnordered::new(),
            filling: Group::with_room(clock),
            spare: Vec::new(),
            clock,
        }
    }

    /// Adds a record sent at `sent_at`; a full group joins the set.
    fn push(&mut self, delivery: DeliveryFuture, sent_at: SentAt) {
        self.filling.waiting.push((delivery, sent_at));
        if self.filling.waiting.len() >= GROUP_SIZE {
            self.seal();
        }
    }

    /// Puts the group being filled into the set (before any wait, so that
    /// every record sent is watched while the loop waits).
    fn seal(&mut self) {
        if !self.filling.waiting.is_empty() {
            let clock = self.clock;
            let next = self.spare.pop().unwrap_or_else(|| Group::with_room(clock));
            self.groups.push(std::mem::replace(&mut self.filling, next));
        }
    }

    /// Counts a resolved group and keeps it for reuse.
    fn observe(&mut self, mut group: Group, tally: &mut Tally) {
        tally.acked += group.acked.len() as u64;
        for nanos in group.acked.drain(..) {
            tally.latency.record_micros(nanos / 1000);
        }
        for e in group.failed.drain(..) {
            tally.fail(&e);
        }
        // Its next records will be new to the next waker.
        group.registered = false;
        self.spare.push(group);
    }

    /// Collects every group already resolved, without waiting.
    async fn drain_ready(&mut self, tally: &mut Tally) {
        std::future::poll_fn(|cx| {
            while let Poll::Ready(Some(done)) = self.groups.poll_next_unpin(cx) {
                self.observe(done, tally);
            }
            Poll::Ready(())
        })
        .await;
    }

    /// Waits for the next group to resolve; `false` if none is outstanding.
    async fn next(&mut self, tally: &mut Tally) -> bool {
        self.seal();
        match self.groups.next().await {
            Some(done) => {
                self.observe(done, tally);
                true
            }
            None => false,
        }
    }

    /// Waits until `deadline`, collecting outcomes meanwhile.
    async fn sleep_collecting(&mut self, deadline: Duration, tally: &mut Tally) {
        self.seal();
        let sleep = tokio::time::sleep(deadline);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => return,
                Some(done) = self.groups.next(), if !self.groups.is_empty() => {
                    self.observe(done, tally);
                }
            }
        }
    }
}

/// Sends every record and waits for every outcome. Returns the tally and
/// the time from the first send to the last outcome.
pub(crate) async fn run(producer: &Producer, spec: &LoadSpec) -> (Tally, Duration) {
    let mut tally = Tally::new();
    let cpu_before = kproducer_perf::current_thread_cpu_time().ok();
    let start = Instant::now();
    let clock = RunClock { start };
    let mut outstanding = Outstanding::new(clock);
    let pacer = Pacer::new(start, spec.throughput);
    let mut now: SentAt = 0;
    // The same bytes for every record, shared without a reference count:
    // cloning a `Bytes` of shared memory is an atomic increment here and a
    // decrement on the producer's core thread, one cache line bouncing
    // between the two threads per record. Kafka's perf tool also sends
    // one array every time. One payload per run is kept until exit.
    let payload = Bytes::from_static(Box::leak(spec.payload.to_vec().into_boxed_slice()));
    for index in 0..spec.num_records {
        if pacer.is_limited()
            && let Some(wait) = pacer.wait_before(index, Instant::now())
        {
            outstanding.sleep_collecting(wait, &mut tally).await;
            now = clock.now();
        } else if index % SENDS_PER_CLOCK_READ == 0 {
            now = clock.now();
        }
        let mut record = Record::new(spec.topic.clone(), payload.clone());
        // Stamped before the first attempt, as Kafka's perf tool does: time
        // spent waiting for buffer space counts as latency.
        let sent_at = now;
        loop {
            match producer.try_send(record) {
                Ok(delivery) => {
                    outstanding.push(delivery, sent_at);
                    break;
                }
                Err(TrySendError::QueueFull(back)) => {
                    record = back;
                    if outstanding.next(&mut tally).await {
                        now = clock.now();
                        outstanding.drain_ready(&mut tally).await;
                    } else {
                        // Nothing of ours holds the buffer: wait in send()
                        // (up to max.block.ms).
                        match producer.send(record).await {
                            Ok(delivery) => outstanding.push(delivery, sent_at),
                            Err(e) => tally.fail(&e),
                        }
                        now = clock.now();
                        break;
                    }
                }
                Err(e) => {
                    tally.fail(&refused_for_good(&spec.topic, e));
                    break;
                }
            }
        }
        if index % DRAIN_EVERY == DRAIN_EVERY - 1 {
            outstanding.drain_ready(&mut tally).await;
        }
    }
    while outstanding.next(&mut tally).await {}
    let elapsed = start.elapsed();
    tally.loop_cpu = cpu_before
        .zip(kproducer_perf::current_thread_cpu_time().ok())
        .map(|(before, after)| after.saturating_sub(before));
    (tally, elapsed)
}

#[cfg(test)]
mod tests {
    use super::super::driver_test_setup::{RECORDS, cluster, producer, spec};
    use super::*;

    /// Outcomes that reach one group at different times (six partitions,
    /// each request charged its own service time, a buffer small enough
    /// that the loop also waits for space, groups reused): every record is
    /// counted once and the run ends. A wake-up the driver no longer
    /// registers for (it registers each record's waker once, then only
    /// looks) would leave `run` pending, and the paused clock would run
    /// into the timeout instead of hanging.
    #[tokio::test(start_paused = true)]
    async fn every_outcome_is_seen_when_groups_resolve_piecemeal() {
        let cluster = cluster();
        let producer = producer(&cluster, |b| b);
        let spec = spec();
        let (tally, _) = tokio::time::timeout(Duration::from_secs(3600), run(&producer, &spec))
            .await
            .expect("the run ends: every outcome woke its group");
        assert_eq!(tally.failed, 0, "first failure: {:?}", tally.first_error);
        assert_eq!(tally.acked, RECORDS, "every record acknowledged, once");
    }
}
