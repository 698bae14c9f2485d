//! `krafka-perf`: the pure-Rust `krafka` 0.28 peer for kproducer's
//! benchmarks.
//!
//! Driven the fastest way krafka offers to produce many records with an
//! acknowledgement each: `Producer::enqueue`, which returns once the record is
//! buffered and hands back a `DeliveryHandle`. The sending task hands each
//! handle, with its send time, to a collecting task that awaits them all at
//! once (`FuturesUnordered`) and records each latency as it resolves; so
//! acknowledgements are timed when they arrive, whatever the partition.
//!
//! Run `krafka-perf --help` for the flags, which `kproducer perf` shares.
//! `--property` accepts the Kafka names of the krafka settings listed in
//! [`KrafkaSettings::apply`]; others are refused, since krafka has no
//! string-keyed configuration to pass them to.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use kproducer_bench_peers::{
    Acks, Compression, LatencyRecorder, Pacer, PerfCommand, PerfFlags, PerfReport, Property,
    perf_payload, process_cpu_time,
};
use krafka::producer::{DeliveryHandle, Producer};
use krafka::{CloseOptions, Kafka, KrafkaError};
use tokio::sync::mpsc;

/// The krafka version this binary is built against (`=0.28.1` in
/// Cargo.toml; krafka exports no version constant).
const CLIENT: &str = "krafka-0.28.1";

/// How long the final flush may take before the records still waiting count
/// as failed.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(300);

/// How long a close may take once there is nothing left worth waiting for.
const GIVE_UP_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings `--property` may change, beyond the shared flags.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct KrafkaSettings {
    client_id: Option<String>,
    request_timeout: Option<Duration>,
    max_in_flight_requests: Option<usize>,
    buffer_memory: Option<usize>,
    max_block: Option<Duration>,
    delivery_timeout: Option<Duration>,
    retry_backoff: Option<Duration>,
    max_request_size: Option<usize>,
    compression_level: Option<i32>,
}

/// A `--property` krafka cannot take.
#[derive(Debug, thiserror::Error)]
enum PropertyRefused {
    #[error(
        "krafka-perf does not know property {0:?}; it accepts client.id, request.timeout.ms, \
         max.in.flight.requests.per.connection, buffer.memory, max.block.ms, \
         delivery.timeout.ms, retry.backoff.ms, max.request.size and compression.level"
    )]
    Unknown(String),
    #[error("property {key}={value:?}: the value must be a non-negative integer")]
    NotAnInteger { key: String, value: String },
}

impl KrafkaSettings {
    /// Takes `--property` values by their Kafka names.
    fn apply(properties: &[Property]) -> Result<Self, PropertyRefused> {
        let mut settings = Self::default();
        for Property { key, value } in properties {
            let integer = || {
                value
                    .parse::<u64>()
                    .map_err(|_| PropertyRefused::NotAnInteger {
                        key: key.clone(),
                        value: value.clone(),
                    })
            };
            let size = || integer().map(|n| usize::try_from(n).unwrap_or(usize::MAX));
            let millis = || integer().map(Duration::from_millis);
            match key.as_str() {
                "client.id" => settings.client_id = Some(value.clone()),
                "request.timeout.ms" => settings.request_timeout = Some(millis()?),
                "max.in.flight.requests.per.connection" => {
                    settings.max_in_flight_requests = Some(size()?);
                }
                "buffer.memory" => settings.buffer_memory = Some(size()?),
                "max.block.ms" => settings.max_block = Some(millis()?),
                "delivery.timeout.ms" => settings.delivery_timeout = Some(millis()?),
                "retry.backoff.ms" => settings.retry_backoff = Some(millis()?),
                "max.request.size" => settings.max_request_size = Some(size()?),
                "compression.level" => {
                    let level =
                        value
                            .parse::<i32>()
                            .map_err(|_| PropertyRefused::NotAnInteger {
                                key: key.clone(),
                                value: value.clone(),
                            })?;
                    settings.compression_level = Some(level);
                }
                _ => return Err(PropertyRefused::Unknown(key.clone())),
            }
        }
        Ok(settings)
    }
}

fn krafka_acks(acks: Acks) -> krafka::producer::Acks {
    match acks {
        Acks::None => krafka::producer::Acks::None,
        Acks::Leader => krafka::producer::Acks::Leader,
        Acks::All => krafka::producer::Acks::All,
    }
}

fn krafka_compression(compression: Compression) -> krafka::Compression {
    match compression {
        Compression::None => krafka::Compression::None,
        Compression::Gzip => krafka::Compression::Gzip,
        Compression::Snappy => krafka::Compression::Snappy,
        Compression::Lz4 => krafka::Compression::Lz4,
        Compression::Zstd => krafka::Compression::Zstd,
    }
}

async fn connect(flags: &PerfFlags, settings: &KrafkaSettings) -> Result<Producer, KrafkaError> {
    let mut kafka = Kafka::builder(flags.bootstrap.clone()).client_id(
        settings
            .client_id
            .clone()
            .unwrap_or_else(|| "krafka-perf".into()),
    );
    if let Some(timeout) = settings.request_timeout {
        kafka = kafka.request_timeout(timeout);
    }
    if let Some(max) = settings.max_in_flight_requests {
        kafka = kafka.max_in_flight_requests(max);
    }
    let kafka = kafka.connect().await?;
    let mut producer = kafka
        .producer()
        .acks(krafka_acks(flags.acks))
        .idempotent(flags.idempotence)
        .compression(krafka_compression(flags.compression))
        .compression_level(settings.compression_level)
        .linger(Duration::from_millis(flags.linger_ms))
        .batch_size(flags.batch_size);
    if let Some(bytes) = settings.buffer_memory {
        producer = producer.buffer_memory(bytes);
    }
    if let Some(wait) = settings.max_block {
        producer = producer.max_block(wait);
    }
    if let Some(timeout) = settings.delivery_timeout {
        producer = producer.delivery_timeout(timeout);
    }
    if let Some(backoff) = settings.retry_backoff {
        producer = producer.retry_backoff(backoff);
    }
    if let Some(bytes) = settings.max_request_size {
        producer = producer.max_request_size(bytes);
    }
    producer.build().await
}

/// What the collecting task counted.
#[derive(Debug, Default)]
struct DeliveryTally {
    latency: LatencyRecorder,
    delivered: u64,
    failed: u64,
    first_error: Option<String>,
}

impl DeliveryTally {
    fn count(&mut self, outcome: Result<(), KrafkaError>, sent_at: Instant) {
        match outcome {
            Ok(()) => {
                self.delivered += 1;
                self.latency.record(sent_at.elapsed());
            }
            Err(error) => self.count_failure(&error),
        }
    }

    fn count_failure(&mut self, error: &KrafkaError) {
        self.failed += 1;
        self.first_error.get_or_insert_with(|| error.to_string());
    }
}

/// Awaits every handle it is sent, timing each from its send to its outcome.
async fn collect_acknowledgements(
    mut handles: mpsc::UnboundedReceiver<(Instant, DeliveryHandle)>,
) -> DeliveryTally {
    let mut tally = DeliveryTally::default();
    let mut pending = FuturesUnordered::new();
    let mut sending = true;
    while sending || !pending.is_empty() {
        tokio::select! {
            // Outcomes first: the sooner an acknowledgement is seen, the
            // truer its latency.
            biased;
            Some((outcome, sent_at)) = pending.next(), if !pending.is_empty() => {
                tally.count(outcome, sent_at);
            }
            handle = handles.recv(), if sending => match handle {
                Some((sent_at, handle)) => pending.push(async move {
                    (handle.await.map(|_| ()), sent_at)
                }),
                None => sending = false,
            },
        }
    }
    tally
}

/// Enqueues every record, paced by `--throughput`; returns how many could not
/// even be enqueued, and the first such error.
async fn send_all(
    producer: &Producer,
    flags: &PerfFlags,
    handles: mpsc::UnboundedSender<(Instant, DeliveryHandle)>,
    start: Instant,
) -> DeliveryTally {
    let payload = Bytes::from(perf_payload(flags.record_size));
    let pacer = Pacer::new(start, flags.throughput);
    let mut refused = DeliveryTally::default();
    for sent in 0..flags.num_records {
        if pacer.is_limited()
            && let Some(wait) = pacer.wait_before(sent, Instant::now())
        {
            tokio::time::sleep(wait).await;
        }
        // Stamped before the enqueue, like Kafka's perf tool: time spent
        // waiting for buffer memory counts as latency.
        let sent_at = Instant::now();
        match producer
            .enqueue(krafka::Record::new(flags.topic.as_str(), payload.clone()))
            .await
        {
            // The collector only stops once this sender is dropped, so the
            // send cannot fail while it is alive.
            Ok(handle) => {
                let _ = handles.send((sent_at, handle));
            }
            Err(error) => refused.count_failure(&error),
        }
    }
    refused
}

async fn run(flags: PerfFlags) -> ExitCode {
    let settings = match KrafkaSettings::apply(&flags.properties) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("krafka-perf: {error}");
            return ExitCode::from(2);
        }
    };
    let producer = match connect(&flags, &settings).await {
        Ok(producer) => producer,
        Err(error) => {
            eprintln!(
                "krafka-perf: cannot start a producer on {}: {error}; is the broker up and the configuration valid?",
                flags.bootstrap
            );
            return ExitCode::FAILURE;
        }
    };
    // Learn the topic's partitions before the clock starts, as rdkafka-perf
    // does, so neither run times its bootstrap.
    if let Err(error) = producer.partitions_for(&flags.topic).await {
        eprintln!(
            "krafka-perf: no metadata for topic {:?} from {}: {error}; is the broker up?",
            flags.topic, flags.bootstrap
        );
        return ExitCode::FAILURE;
    }

    let (handles, receiver) = mpsc::unbounded_channel();
    let collector = tokio::spawn(collect_acknowledgements(receiver));
    let start = Instant::now();
    let refused = send_all(&producer, &flags, handles, start).await;
    // `flush` sends lingering batches at once and waits for every outcome
    // (as librdkafka's flush does), but has no bound of its own.
    let flushed = match tokio::time::timeout(FLUSH_TIMEOUT, producer.flush()).await {
        Ok(Ok(())) => true,
        Ok(Err(error)) => {
            eprintln!("krafka-perf: flush failed: {error}");
            false
        }
        Err(_) => {
            eprintln!("krafka-perf: flush did not finish within {FLUSH_TIMEOUT:?}");
            false
        }
    };
    if !flushed {
        // Fails every record still without an outcome, so the collector ends.
        let _ = producer
            .close_with(CloseOptions::new().timeout(GIVE_UP_TIMEOUT))
            .await;
    }
    let mut tally = match collector.await {
        Ok(tally) => tally,
        Err(error) => {
            eprintln!("krafka-perf: the task collecting acknowledgements failed: {error}");
            return ExitCode::FAILURE;
        }
    };
    let elapsed = start.elapsed();
    if flushed
        && let Err(error) = producer
            .close_with(CloseOptions::new().timeout(GIVE_UP_TIMEOUT))
            .await
    {
        eprintln!("krafka-perf: close failed after every record had its outcome: {error}");
    }
    tally.failed += refused.failed;
    if tally.first_error.is_none() {
        tally.first_error = refused.first_error;
    }

    let cpu = match process_cpu_time() {
        Ok(cpu) => cpu,
        Err(error) => {
            eprintln!("krafka-perf: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(error) = &tally.first_error {
        eprintln!(
            "krafka-perf: {} records failed; the first: {error}",
            tally.failed
        );
    }
    let report = PerfReport {
        client: CLIENT.to_owned(),
        records: tally.delivered,
        record_size: flags.record_size,
        elapsed,
        latency: tally.latency.summary(),
        cpu,
        errors: tally.failed,
        // krafka keeps one connection per broker.
        max_connections_per_broker: 1,
        scale_events: 0,
    };
    report.print(flags.json);
    report.exit_code()
}

fn main() -> ExitCode {
    let flags = PerfCommand::parse().flags;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("krafka-perf: cannot start the tokio runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(flags))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn property(key: &str, value: &str) -> Property {
        Property {
            key: key.into(),
            value: value.into(),
        }
    }

    #[test]
    fn known_properties_map_to_settings() {
        let settings = KrafkaSettings::apply(&[
            property("client.id", "bench"),
            property("buffer.memory", "67108864"),
            property("delivery.timeout.ms", "120000"),
            property("max.in.flight.requests.per.connection", "5"),
            property("compression.level", "-1"),
        ])
        .expect("known properties");
        assert_eq!(settings.client_id.as_deref(), Some("bench"));
        assert_eq!(settings.buffer_memory, Some(64 << 20));
        assert_eq!(settings.delivery_timeout, Some(Duration::from_secs(120)));
        assert_eq!(settings.max_in_flight_requests, Some(5));
        assert_eq!(settings.compression_level, Some(-1));
    }

    #[test]
    fn unknown_or_malformed_properties_are_refused_by_name() {
        let unknown = KrafkaSettings::apply(&[property("queue.buffering.max.messages", "1")])
            .expect_err("not a krafka setting");
        assert!(
            unknown.to_string().contains("queue.buffering.max.messages"),
            "{unknown}"
        );
        let malformed =
            KrafkaSettings::apply(&[property("buffer.memory", "lots")]).expect_err("not a number");
        assert!(
            malformed.to_string().contains("buffer.memory"),
            "{malformed}"
        );
    }
}
