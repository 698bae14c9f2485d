//! `kproducer perf`: Kafka's `kafka-producer-perf-test`, against an
//! embedded fake broker (the default) or a real cluster.
//!
//! The order of a run: start the embedded broker if asked (its own runtime
//! and threads); check the cluster and topic ([`crate::preflight`]); build
//! the producer; send one empty warm-up record to each partition and wait
//! for them (so metadata, the producer id and a connection to every
//! partition leader are in place before the clock starts, as the benchmark
//! peers warm up too; the topic holds these records besides the measured
//! ones); then the measured run ([`reported`] by default, [`load`] with
//! `--delivery future`) with a
//! [`monitor`] sampling metrics; close; report.
//!
//! The hot loop runs in the runtime's `block_on`, on the main thread, while
//! the producer's tasks run on the runtime's workers: wake-ups between
//! them go through the shared queue, and the loop never holds a worker
//! that the producer needs.

mod args;
#[cfg(test)]
mod driver_test_setup;
mod embedded;
mod load;
mod monitor;
mod report;
mod reported;
mod scaling;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kproducer::{DeliveryReport, Producer, ProducerConfig, Record, Topic};

use args::DeliveryArg;
pub(crate) use args::PerfArgs;

use crate::error::{self, CliError};
use crate::preflight;
use crate::producer_config::{config_from, prop};
use embedded::{BROKER_THREAD_NAME, EmbeddedBroker, EmbeddedSpec};
use kproducer_fake_broker::SERVED_RETENTION_BYTES;
use load::LoadSpec;
use monitor::{Monitor, Watch};
use report::PerfReport;
use reported::ReportTally;

/// How long the warm-up records may take.
const WARM_UP_TIMEOUT: Duration = Duration::from_secs(30);

/// How long closing the producer may take after the run.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `kproducer perf` and prints its report; the exit status is non-zero
/// if any record failed or the run could not start.
pub(crate) fn main(args: &PerfArgs) -> ExitCode {
    match run(args) {
        Ok(report) => {
            if args.json {
                eprint!("{}", report.human_summary());
                println!("{}", report.to_json_line());
            } else {
                print!("{}", report.human_summary());
            }
            if report.errors == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => error::report("perf", &e),
    }
}

/// What the perf flags mean as producer properties (before `--property`).
fn flag_properties(args: &PerfArgs, bootstrap: &str) -> Vec<(String, String)> {
    let mut props = vec![
        prop("bootstrap.servers", bootstrap),
        prop("acks", args.acks.as_property()),
        prop("enable.idempotence", args.idempotence),
        prop("compression.type", args.compression.as_property()),
        prop("linger.ms", args.linger_ms),
        prop("batch.size", args.batch_size),
    ];
    if let Some(max) = args.max_connections_per_broker {
        props.push(prop("kproducer.connections.max", max));
    }
    props
}

fn run(args: &PerfArgs) -> Result<PerfReport, CliError> {
    let embedded_spec = if args.is_embedded() {
        Some(EmbeddedSpec {
            brokers: args.brokers.unwrap_or(1),
            topic: args.topic.clone(),
            partitions: args.partitions.unwrap_or(6),
            service_time: Duration::from_micros(args.broker_service_time_us.unwrap_or(0)),
            service_per_kib: Duration::from_micros(args.broker_service_us_per_kib.unwrap_or(0)),
            tls: args.embedded_tls,
            retention_bytes: args
                .broker_retention_mb
                .map_or(SERVED_RETENTION_BYTES, |mib| {
                    usize::try_from(mib.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX)
                }),
        })
    } else {
        let given = args.embedded_only_flags_given();
        if !given.is_empty() {
            return Err(CliError::Usage(format!(
                "{} only apply with --bootstrap embedded (the fake broker started in-process)",
                given.join(", ")
            )));
        }
        None
    };
    // The configuration is checked before anything starts; the embedded
    // broker's address replaces a placeholder once it is known.
    let placeholder = "127.0.0.1:9092";
    let bootstrap = if args.is_embedded() {
        placeholder
    } else {
        &args.bootstrap
    };
    let mut config = config_from(flag_properties(args, bootstrap), &args.properties)?;
    let broker = embedded_spec
        .as_ref()
        .map(EmbeddedBroker::start)
        .transpose()?;
    if let Some(b) = &broker {
        config.bootstrap_servers = b.bootstrap().split(',').map(str::to_owned).collect();
        if let Some(ca) = b.ca_pem() {
            config.security_protocol = kproducer::SecurityProtocol::Ssl;
            config.ssl.ca = Some(kproducer_net::PemSource::Pem(ca.to_owned()));
        }
    }
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("kp-producer")
        .build()
        .map_err(CliError::Runtime)
        .and_then(|runtime| runtime.block_on(measure(args, config, broker.is_some())));
    if let Some(b) = broker {
        b.stop();
    }
    result
}

/// Sends one empty record to each of `partitions` partitions (one record,
/// placed by the partitioner, when the count is not known yet) and waits
/// for them: every partition leader is then connected. Returns how many
/// records were sent.
async fn warm_up(producer: &Producer, topic: &Topic, partitions: usize) -> Result<u64, CliError> {
    let records: Vec<Record> = if partitions == 0 {
        vec![Record::new(topic.clone(), Bytes::new())]
    } else {
        (0..partitions)
            .filter_map(|p| i32::try_from(p).ok())
            .map(|p| Record::new(topic.clone(), Bytes::new()).with_partition(p))
            .collect()
    };
    let sent = records.len() as u64;
    let mut deliveries = Vec::with_capacity(records.len());
    for record in records {
        let delivery = producer
            .send(record)
            .await
            .map_err(|e| CliError::WarmUp(e.to_string()))?;
        deliveries.push(delivery);
    }
    let all = async {
        for delivery in deliveries {
            delivery.await?;
        }
        Ok::<(), kproducer::Error>(())
    };
    match tokio::time::timeout(WARM_UP_TIMEOUT, all).await {
        Ok(Ok(())) => Ok(sent),
        Ok(Err(e)) => Err(CliError::WarmUp(e.to_string())),
        Err(_) => Err(CliError::WarmUp(format!(
            "no acknowledgement within {WARM_UP_TIMEOUT:?}; is the cluster healthy?"
        ))),
    }
}

async fn measure(
    args: &PerfArgs,
    config: ProducerConfig,
    embedded: bool,
) -> Result<PerfReport, CliError> {
    let partitions = preflight::check_topic(&config, &args.topic).await?;
    // With `--delivery report` the producer reports to the driver's
    // tally; the warm-up's futures work alongside.
    let reports = ReportTally::new();
    let mut builder = Producer::builder().config(config);
    if args.delivery == DeliveryArg::Report {
        let sink = reports.clone();
        builder = builder.delivery_reports(move |r: &DeliveryReport<'_>| sink.on_report(r));
    }
    let producer = builder.build().map_err(CliError::Config)?;
    let topic = Topic::new(args.topic.as_str());
    let warm_up_records = warm_up(&producer, &topic, partitions).await?;
    let spec = LoadSpec {
        topic,
        payload: Bytes::from(kproducer_perf::perf_payload(args.record_size)),
        num_records: args.num_records,
        throughput: args.throughput,
    };
    let show_progress = !args.json && std::io::IsTerminal::is_terminal(&std::io::stdout());
    let monitor = Monitor::start(Watch {
        producer: producer.clone(),
        start: Instant::now(),
        total: args.num_records,
        // The warm-up records (counted in the metrics, perhaps a moment
        // after their outcomes arrived, so not read from them).
        resolved_before: warm_up_records,
        progress: show_progress,
    });
    // Unconstrained: tokio's cooperative budget would otherwise make the
    // delivery futures report Pending once the loop has polled 128 of them
    // without itself waiting, so outcomes would pile up unobserved (and
    // their latencies grow) while sending goes on.
    let (tally, elapsed) = match args.delivery {
        DeliveryArg::Report => {
            tokio::task::unconstrained(reported::run(&producer, &spec, &reports)).await
        }
        DeliveryArg::Future => tokio::task::unconstrained(load::run(&producer, &spec)).await,
    };
    let scaling = monitor.finish().await;
    producer.close(CLOSE_TIMEOUT).await;
    let (cpu, broker_cpu) = measure_cpu(embedded);
    Ok(PerfReport {
        client: format!("kproducer-{}", env!("CARGO_PKG_VERSION")),
        records: tally.acked,
        record_size: args.record_size,
        elapsed,
        latency: tally.latency.summary(),
        cpu,
        broker_cpu,
        loop_cpu: tally.loop_cpu,
        errors: tally.failed,
        errors_by_kind: tally.by_kind,
        first_error: tally.first_error,
        scaling,
    })
}

/// The client's CPU time (the process less the embedded broker's threads)
/// and the broker's. Unreadable `/proc` is reported, and counts as zero.
fn measure_cpu(embedded: bool) -> (Duration, Option<Duration>) {
    let broker = if embedded {
        match kproducer_perf::threads_cpu_time(BROKER_THREAD_NAME) {
            Ok(b) => Some(b),
            Err(e) => {
                eprintln!("kproducer perf: warning: {e}");
                None
            }
        }
    } else {
        None
    };
    let process = kproducer_perf::process_cpu_time().unwrap_or_else(|e| {
        eprintln!("kproducer perf: warning: {e}");
        Duration::ZERO
    });
    (process.saturating_sub(broker.unwrap_or_default()), broker)
}
