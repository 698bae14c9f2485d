//! `rdkafka-perf`: the librdkafka peer for kproducer's benchmarks.
//!
//! librdkafka 2.12.1 (bundled in `rdkafka-sys` 4.10, built with its own
//! `./configure && make`), driven the fastest way the `rdkafka` crate offers:
//! a `BaseProducer` that this thread polls, with a delivery callback
//! (`ProducerContext::delivery`). Not `FutureProducer`, whose per-record
//! future and channel make it several times slower.
//!
//! Each record's send time travels as its delivery opaque, encoded as the
//! `usize` count of nanoseconds since the context was made: no allocation and
//! no shared array per record (cheaper than a `Box<Instant>` or an index into
//! a preallocated table, which the callback would have to lock). The callback
//! runs on this thread, inside `poll`.
//!
//! Waiting (for `--throughput`, queue space or the final flush) never uses
//! the crate's `poll(timeout)`, which asks librdkafka for whole milliseconds
//! and so spins through the last millisecond of every call: this thread
//! sleeps in steps of [`SERVE_INTERVAL`] and runs the ready callbacks between
//! steps, so a delivery may be seen up to that much late.
//!
//! Run `rdkafka-perf --help` for the flags, which `kproducer perf` shares.

use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::Parser;
use kproducer_bench_peers::{
    LatencyRecorder, Pacer, PerfCommand, PerfFlags, PerfReport, perf_payload, process_cpu_time,
};
use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};

/// Deliveries are served at least this often while sending flat out, so
/// latencies are not inflated by callbacks waiting for a poll.
const SERVE_EVERY_RECORDS: u64 = 256;

/// While waiting, deliveries are served at least this often.
const SERVE_INTERVAL: Duration = Duration::from_micros(250);

/// How long to wait for the metadata that warms the connection up.
const WARM_UP_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the final flush may take before the records still queued count
/// as failed.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(300);

/// What the delivery callback counts.
#[derive(Debug, Default)]
struct DeliveryTally {
    latency: LatencyRecorder,
    delivered: u64,
    failed: u64,
    first_error: Option<String>,
}

/// The producer context: the time origin of the opaques, and the tally.
#[derive(Debug)]
struct PerfContext {
    origin: Instant,
    /// Locked only by the polling thread (callbacks run inside `poll`), so
    /// never contended; a `Mutex` because the context must be `Sync`.
    tally: Mutex<DeliveryTally>,
}

impl PerfContext {
    /// The opaque for a record sent at `now`: nanoseconds since the origin.
    /// A `usize` holds 584 years of them on 64-bit targets.
    fn stamp(&self, now: Instant) -> usize {
        usize::try_from(now.saturating_duration_since(self.origin).as_nanos()).unwrap_or(usize::MAX)
    }

    fn tally(&self) -> std::sync::MutexGuard<'_, DeliveryTally> {
        // A poisoned lock only means a callback panicked mid-update; the
        // counts are still the best there are.
        self.tally
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records with an outcome so far.
    fn outcomes(&self) -> u64 {
        let tally = self.tally();
        tally.delivered + tally.failed
    }

    fn count_failure(&self, error: &KafkaError) {
        let mut tally = self.tally();
        tally.failed += 1;
        tally.first_error.get_or_insert_with(|| error.to_string());
    }
}

impl ClientContext for PerfContext {}

impl ProducerContext for PerfContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, sent_at_nanos: usize) {
        let now_nanos = self.stamp(Instant::now());
        match result {
            Ok(_) => {
                let latency = Duration::from_nanos(now_nanos.saturating_sub(sent_at_nanos) as u64);
                let mut tally = self.tally();
                tally.delivered += 1;
                tally.latency.record(latency);
            }
            Err((error, _)) => self.count_failure(error),
        }
    }
}

fn client_config(flags: &PerfFlags) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &flags.bootstrap)
        .set("acks", flags.acks.as_property())
        .set("enable.idempotence", flags.idempotence.to_string())
        .set("compression.type", flags.compression.as_property())
        .set("linger.ms", flags.linger_ms.to_string())
        .set("batch.size", flags.batch_size.to_string());
    for property in &flags.properties {
        config.set(&property.key, &property.value);
    }
    config
}

/// Runs every delivery callback that is ready, without waiting.
fn serve_deliveries(producer: &BaseProducer<PerfContext>) {
    let context = producer.context();
    loop {
        // `poll` with a zero timeout handles at most one event (a batch of
        // delivery reports); stop once one brings nothing.
        let before = context.outcomes();
        producer.poll(Duration::ZERO);
        if context.outcomes() == before {
            return;
        }
    }
}

/// Waits `wait`, running delivery callbacks as they become ready, without
/// spinning (see the module docs).
fn wait_serving_deliveries(producer: &BaseProducer<PerfContext>, wait: Duration) {
    let deadline = Instant::now() + wait;
    loop {
        serve_deliveries(producer);
        match deadline.checked_duration_since(Instant::now()) {
            Some(left) if !left.is_zero() => std::thread::sleep(left.min(SERVE_INTERVAL)),
            _ => return,
        }
    }
}

/// Waits until every record has its outcome, like `Producer::flush`, but
/// checks every [`SERVE_INTERVAL`]: the `rdkafka` crate's own `flush` polls
/// in steps of up to 100 ms that always run to the end (adding up to 100 ms
/// to the measured time), and spin through their last millisecond.
fn flush_promptly(
    producer: &BaseProducer<PerfContext>,
    timeout: Duration,
) -> Result<(), KafkaError> {
    let deadline = Instant::now() + timeout;
    loop {
        // A zero-timeout flush still tells librdkafka to send lingering
        // batches at once, as a full flush does.
        match producer.flush(Duration::ZERO) {
            Ok(()) => return Ok(()),
            Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut))
                if Instant::now() < deadline =>
            {
                wait_serving_deliveries(producer, SERVE_INTERVAL);
            }
            Err(error) => return Err(error),
        }
    }
}

/// Sends every record, then flushes. Returns the elapsed time.
fn produce(producer: &BaseProducer<PerfContext>, flags: &PerfFlags) -> Duration {
    let payload = perf_payload(flags.record_size);
    let context = producer.context();
    let start = Instant::now();
    let pacer = Pacer::new(start, flags.throughput);
    for sent in 0..flags.num_records {
        if pacer.is_limited()
            && let Some(wait) = pacer.wait_before(sent, Instant::now())
        {
            wait_serving_deliveries(producer, wait);
        }
        // Stamped before the first attempt, like Kafka's perf tool: time spent
        // waiting for queue space counts as latency.
        let mut record: BaseRecord<'_, (), [u8], usize> =
            BaseRecord::with_opaque_to(&flags.topic, context.stamp(Instant::now()))
                .payload(&payload[..]);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    record = returned;
                    wait_serving_deliveries(producer, SERVE_INTERVAL);
                }
                Err((error, _)) => {
                    context.count_failure(&error);
                    break;
                }
            }
        }
        if sent % SERVE_EVERY_RECORDS == 0 {
            serve_deliveries(producer);
        }
    }
    if let Err(error) = flush_promptly(producer, FLUSH_TIMEOUT) {
        // Whatever is still queued will not be acknowledged within this run.
        let stuck = u64::try_from(producer.in_flight_count()).unwrap_or(0);
        let mut tally = context.tally();
        tally.failed += stuck;
        tally.first_error.get_or_insert_with(|| {
            format!("flush did not finish within {FLUSH_TIMEOUT:?} ({error}); {stuck} records never acknowledged")
        });
    }
    start.elapsed()
}

/// Sends one record and waits for it, so an idempotent producer has its
/// producer id before the clock starts — as krafka-perf's has (krafka fetches
/// it while building the producer). librdkafka fetches it in the background,
/// and if no broker connection is up yet at that moment it retries only after
/// 500 ms, which would otherwise land inside the measurement at random. The
/// topic therefore holds one record more than `--num-records`.
fn warm_up_producer_id(producer: &BaseProducer<PerfContext>, topic: &str) -> Result<(), String> {
    let context = producer.context();
    let record: BaseRecord<'_, (), [u8], usize> =
        BaseRecord::with_opaque_to(topic, context.stamp(Instant::now())).payload(&[][..]);
    if let Err((error, _)) = producer.send(record) {
        return Err(format!("the warm-up record was refused: {error}"));
    }
    if let Err(error) = producer.flush(WARM_UP_TIMEOUT) {
        return Err(format!(
            "the warm-up record was not acknowledged within {WARM_UP_TIMEOUT:?} ({error}); is the broker up?"
        ));
    }
    let warm_up = std::mem::take(&mut *context.tally());
    match warm_up.first_error {
        Some(error) => Err(format!("the warm-up record failed: {error}")),
        None => Ok(()),
    }
}

fn main() -> ExitCode {
    let flags = PerfCommand::parse().flags;
    let (_, version) = rdkafka::util::get_rdkafka_version();
    let client = format!("librdkafka-{version}");

    let context = PerfContext {
        origin: Instant::now(),
        tally: Mutex::new(DeliveryTally::default()),
    };
    let producer: BaseProducer<PerfContext> = match client_config(&flags)
        .create_with_context(context)
    {
        Ok(producer) => producer,
        Err(error) => {
            eprintln!(
                "rdkafka-perf: librdkafka refused the configuration: {error}; check --property names and values"
            );
            return ExitCode::FAILURE;
        }
    };
    // Connect and learn the topic's partitions before the clock starts, as
    // krafka-perf does, so neither run times its bootstrap.
    if let Err(error) = producer
        .client()
        .fetch_metadata(Some(&flags.topic), WARM_UP_TIMEOUT)
    {
        eprintln!(
            "rdkafka-perf: no metadata for topic {:?} from {} within {WARM_UP_TIMEOUT:?}: {error}; is the broker up?",
            flags.topic, flags.bootstrap
        );
        return ExitCode::FAILURE;
    }

    if flags.idempotence
        && let Err(message) = warm_up_producer_id(&producer, &flags.topic)
    {
        eprintln!("rdkafka-perf: {message}");
        return ExitCode::FAILURE;
    }

    let elapsed = produce(&producer, &flags);
    let cpu = match process_cpu_time() {
        Ok(cpu) => cpu,
        Err(error) => {
            eprintln!("rdkafka-perf: {error}");
            return ExitCode::FAILURE;
        }
    };
    let tally = producer.context().tally();
    if let Some(error) = &tally.first_error {
        eprintln!(
            "rdkafka-perf: {} records failed; the first: {error}",
            tally.failed
        );
    }
    let report = PerfReport {
        client,
        records: tally.delivered,
        record_size: flags.record_size,
        elapsed,
        latency: tally.latency.summary(),
        cpu,
        errors: tally.failed,
        // librdkafka keeps one connection per broker.
        max_connections_per_broker: 1,
        scale_events: 0,
    };
    report.print(flags.json);
    report.exit_code()
}
