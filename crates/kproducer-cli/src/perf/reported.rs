//! The hot loop of `kproducer perf --delivery report` (the default): one
//! task hands every record to `Producer::try_send_reported` with its send
//! time as the token, and the producer's delivery-report sink
//! ([`ReportTally::on_report`]) times and counts the records once per
//! batch. No future, waker or wake-up per record: the driver only waits
//! (and is woken) when it has to — for buffer space on `QueueFull`, and
//! at the end for the last reports; the `--throughput` schedule is a plain
//! sleep.
//!
//! A record's latency is the same as with `--delivery future`: from just
//! before its send (the clock read once per [`SENDS_PER_CLOCK_READ`]
//! sends, and after every wait) to the moment its outcome is known — here
//! the moment the core reports its batch, read once per report.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kproducer::{DeliveryReport, Error, Producer, Record, TrySendError};
use kproducer_perf::Pacer;
use tokio::sync::Notify;

use super::load::{LoadSpec, RunClock, SENDS_PER_CLOCK_READ, Tally, refused_for_good};

/// What the sink and the driver share: the outcomes so far, and how the
/// sink wakes the driver when it waits.
#[derive(Debug)]
pub(crate) struct ReportTally {
    /// What tokens (send times) count from.
    clock: RunClock,
    /// Latencies and failures; locked once per report (per batch).
    tally: Mutex<Tally>,
    /// Records reported so far.
    reported: AtomicU64,
    /// The driver waits for a report: the next one must wake it.
    waiting: AtomicBool,
    wake: Notify,
}

impl ReportTally {
    /// An empty tally whose tokens count from now.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            clock: RunClock::starting_now(),
            tally: Mutex::new(Tally::new()),
            reported: AtomicU64::new(0),
            waiting: AtomicBool::new(false),
            wake: Notify::new(),
        })
    }

    /// The producer's sink: counts one batch's records, times the
    /// acknowledged ones, and wakes the driver if it waits. Runs on the
    /// producer's core task: a short lock, no blocking.
    pub(crate) fn on_report(&self, report: &DeliveryReport<'_>) {
        let now = self.clock.now();
        let count = {
            let mut tally = self.tally.lock().unwrap_or_else(PoisonError::into_inner);
            match report.result() {
                Ok(_) => {
                    let mut count = 0;
                    for record in report.records() {
                        tally
                            .latency
                            .record_micros(now.saturating_sub(record.token) / 1000);
                        count += 1;
                    }
                    tally.acked += count;
                    count
                }
                Err(e) => {
                    let count = report.records().count() as u64;
                    tally.fail_many(e, count);
                    count
                }
            }
        };
        self.reported.fetch_add(count, Ordering::SeqCst);
        if self.waiting.load(Ordering::SeqCst) {
            self.wake.notify_one();
        }
    }

    fn reported(&self) -> u64 {
        self.reported.load(Ordering::SeqCst)
    }

    /// Waits until `done` holds, woken by reports. The flag is raised
    /// before `done` is looked at, so a report that lands in between
    /// leaves a wake-up behind instead of being missed.
    async fn wait_until(&self, done: impl Fn(&Self) -> bool) {
        loop {
            self.waiting.store(true, Ordering::SeqCst);
            if done(self) {
                self.waiting.store(false, Ordering::SeqCst);
                return;
            }
            self.wake.notified().await;
        }
    }

    /// A failure the driver saw itself (a send refused).
    fn fail(&self, error: &Error) {
        self.tally
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .fail(error);
    }

    /// Everything counted so far, leaving an empty tally.
    fn take(&self) -> Tally {
        std::mem::replace(
            &mut *self.tally.lock().unwrap_or_else(PoisonError::into_inner),
            Tally::new(),
        )
    }
}

/// Sends every record with its send time as the token and waits for every
/// report. `reports` must be the producer's sink. Returns the tally and
/// the time from the first send to the last report.
pub(crate) async fn run(
    producer: &Producer,
    spec: &LoadSpec,
    reports: &ReportTally,
) -> (Tally, Duration) {
    let cpu_before = kproducer_perf::current_thread_cpu_time().ok();
    let start = Instant::now();
    let clock = reports.clock;
    let pacer = Pacer::new(start, spec.throughput);
    let mut now = clock.now();
    let mut accepted: u64 = 0;
    // One payload for the whole run, shared without a reference count (see
    // `load::run`).
    let payload = Bytes::from_static(Box::leak(spec.payload.to_vec().into_boxed_slice()));
    for index in 0..spec.num_records {
        if pacer.is_limited()
            && let Some(wait) = pacer.wait_before(index, Instant::now())
        {
            tokio::time::sleep(wait).await;
            now = clock.now();
        } else if index % SENDS_PER_CLOCK_READ == 0 {
            now = clock.now();
        }
        let mut record = Record::new(spec.topic.clone(), payload.clone());
        // Stamped before the first attempt: waiting for buffer space counts.
        let sent_at = now;
        loop {
            match producer.try_send_reported(record, sent_at) {
                Ok(()) => {
                    accepted += 1;
                    break;
                }
                Err(TrySendError::QueueFull(back)) => {
                    record = back;
                    let seen = reports.reported();
                    if seen < accepted {
                        // Our records hold the buffer: the next report
                        // frees some.
                        reports.wait_until(|r| r.reported() > seen).await;
                        now = clock.now();
                    } else {
                        // Nothing of ours holds it: wait in send_reported
                        // (up to max.block.ms).
                        match producer.send_reported(record, sent_at).await {
                            Ok(()) => accepted += 1,
                            Err(e) => reports.fail(&e),
                        }
                        now = clock.now();
                        break;
                    }
                }
                Err(e) => {
                    reports.fail(&refused_for_good(&spec.topic, e));
                    break;
                }
            }
        }
    }
    reports.wait_until(|r| r.reported() >= accepted).await;
    let elapsed = start.elapsed();
    let mut tally = reports.take();
    tally.loop_cpu = cpu_before
        .zip(kproducer_perf::current_thread_cpu_time().ok())
        .map(|(before, after)| after.saturating_sub(before));
    (tally, elapsed)
}

#[cfg(test)]
mod tests {
    use super::super::driver_test_setup::{RECORDS, cluster, producer, spec};
    use super::*;

    /// Reports that arrive batch by batch from six partitions, with a
    /// buffer small enough that the driver also waits for space: every
    /// record is counted once and the run ends (a missed wake-up would
    /// leave it waiting, and the paused clock would run into the timeout).
    #[tokio::test(start_paused = true)]
    async fn every_record_is_reported_once_and_the_run_ends() {
        let cluster = cluster();
        let reports = ReportTally::new();
        let sink = reports.clone();
        let producer = producer(&cluster, |b| {
            b.delivery_reports(move |r: &DeliveryReport<'_>| sink.on_report(r))
        });
        let spec = spec();
        let (tally, _) =
            tokio::time::timeout(Duration::from_secs(3600), run(&producer, &spec, &reports))
                .await
                .expect("the run ends: the last report woke the driver");
        assert_eq!(tally.failed, 0, "first failure: {:?}", tally.first_error);
        assert_eq!(tally.acked, RECORDS, "every record acknowledged, once");
        assert_eq!(tally.latency.len(), RECORDS, "every record timed");
    }
}
