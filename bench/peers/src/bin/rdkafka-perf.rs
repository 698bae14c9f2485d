//! `rdkafka-perf`: the librdkafka peer for kproducer's benchmarks.
//!
//! librdkafka 2.16 (the shared library `tools/install-librdkafka-peer.sh`
//! installs, linked through `rdkafka-sys`'s `dynamic-linking`; or, with the
//! `librdkafka-2-12-bundled` feature alone, the 2.12.1 bundled in
//! `rdkafka-sys` 4.10), driven the fastest way the `rdkafka` crate offers:
//! a `BaseProducer` with a delivery callback (`ProducerContext::delivery`). Not `FutureProducer`, whose per-record
//! future and channel make it several times slower.
//!
//! Each record's send time travels as its delivery opaque, encoded as the
//! `usize` count of nanoseconds since the context was made: no allocation and
//! no shared array per record (cheaper than a `Box<Instant>` or an index into
//! a preallocated table, which the callback would have to lock).
//!
//! One thread sends (and sleeps for `--throughput` or queue space); a second
//! blocks in `poll` and runs the callbacks as deliveries arrive — the
//! arrangement of the crate's `ThreadedProducer`, kept explicit here so the
//! context and the stop are ours.
//!
//! Run `rdkafka-perf --help` for the flags, which `kproducer perf` shares.

use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use kproducer_bench_peers::{
    LatencyRecorder, Pacer, PerfCommand, PerfFlags, PerfReport, perf_payload, process_cpu_time,
};
use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};

/// How long each blocking poll of the polling thread lasts.
const POLL_SLICE: Duration = Duration::from_millis(100);

/// How long the sending thread sleeps when librdkafka's queue is full.
const QUEUE_FULL_BACKOFF: Duration = Duration::from_micros(250);

/// How often the final flush checks whether it is done.
const FLUSH_CHECK_INTERVAL: Duration = Duration::from_micros(250);

/// How long to wait for the metadata that warms the connection up.
const WARM_UP_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// Locked by the polling thread once per delivery, and by the sending
    /// thread only when a send fails, so hardly ever contended.
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

/// Runs delivery callbacks as they arrive until `done` is set.
///
/// `poll(POLL_SLICE)` blocks on librdkafka's queue and wakes for each event,
/// so a delivery is timed the moment it is reported. The crate asks
/// librdkafka for whole milliseconds, so each call spins through its last
/// millisecond: 1 % of a core at this slice, the price of exact timing.
fn serve_deliveries(producer: &BaseProducer<PerfContext>, done: &AtomicBool) {
    while !done.load(Ordering::Acquire) {
        producer.poll(POLL_SLICE);
    }
}

/// Waits until every record has its outcome, like `Producer::flush`, but
/// checks every [`FLUSH_CHECK_INTERVAL`]: the `rdkafka` crate's own `flush`
/// polls in steps of up to 100 ms that always run to the end, which would add
/// up to 100 ms to the measured time. The polling thread runs the callbacks.
fn flush_promptly(
    producer: &BaseProducer<PerfContext>,
    timeout: Duration,
) -> Result<(), KafkaError> {
    let deadline = Instant::now() + timeout;
    loop {
        // librdkafka counts a record until its delivery report is destroyed,
        // i.e. after its callback ran, so Ok means every callback has run.
        match producer.flush(Duration::ZERO) {
            Ok(()) => return Ok(()),
            Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut))
                if Instant::now() < deadline =>
            {
                std::thread::sleep(FLUSH_CHECK_INTERVAL);
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
            std::thread::sleep(wait);
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
                    // The polling thread frees space as deliveries come back.
                    record = returned;
                    std::thread::sleep(QUEUE_FULL_BACKOFF);
                }
                Err((error, _)) => {
                    context.count_failure(&error);
                    break;
                }
            }
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
                "rdkafka-perf: librdkafka refused the configuration: {error}; check the flags and --property values"
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

    let done = AtomicBool::new(false);
    let elapsed = std::thread::scope(|scope| {
        scope.spawn(|| serve_deliveries(&producer, &done));
        let elapsed = produce(&producer, &flags);
        done.store(true, Ordering::Release);
        elapsed
    });
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn flags_become_librdkafka_properties_and_properties_win() {
        let flags = PerfCommand::try_parse_from([
            "rdkafka-perf",
            "--bootstrap",
            "127.0.0.1:9092",
            "--acks",
            "1",
            "--idempotence",
            "false",
            "--compression",
            "lz4",
            "--linger-ms",
            "7",
            "--property",
            "batch.size=65536",
            "--property",
            "queue.buffering.max.messages=500000",
        ])
        .expect("valid flags")
        .flags;
        let config = client_config(&flags);
        for (key, want) in [
            ("bootstrap.servers", "127.0.0.1:9092"),
            ("acks", "1"),
            ("enable.idempotence", "false"),
            ("compression.type", "lz4"),
            ("linger.ms", "7"),
            ("batch.size", "65536"),
            ("queue.buffering.max.messages", "500000"),
        ] {
            assert_eq!(config.get(key), Some(want), "{key}");
        }
    }
}
