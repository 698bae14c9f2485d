//! `kproducer perf`'s flags: the benchmark peers' flags (`bench/peers`,
//! same names, values and defaults — except `--bootstrap`, which defaults
//! to `embedded` here, and `--topic`, which defaults to `perf`, the topic
//! the fake broker creates) plus the embedded broker's and kproducer's own.

use std::num::NonZeroU64;

use clap::{ArgAction, Args, ValueEnum};

/// `--bootstrap` value that starts the fake broker in-process.
pub(crate) const EMBEDDED: &str = "embedded";

/// Produce `--num-records` records as fast as allowed and report
/// throughput, send→ack latency, CPU time and how connections scaled.
#[derive(Debug, Clone, Args)]
pub(crate) struct PerfArgs {
    /// Broker to bootstrap from, or `embedded` to start a fake broker in
    /// this process on 127.0.0.1 (reached over real TCP).
    #[arg(long, default_value = EMBEDDED, value_name = "HOST:PORT|embedded")]
    pub(crate) bootstrap: String,

    /// Topic to produce to (created by the embedded broker; must exist on a
    /// real one, or the broker must auto-create it).
    #[arg(long, default_value = "perf")]
    pub(crate) topic: String,

    /// Partitions of the topic (embedded only) [default: 6].
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..))]
    pub(crate) partitions: Option<i32>,

    /// Brokers of the embedded cluster (embedded only) [default: 1].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) brokers: Option<u16>,

    /// How many records to produce.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) num_records: u64,

    /// Size of each record's value in bytes (records have no key).
    #[arg(long, default_value_t = 100)]
    pub(crate) record_size: usize,

    /// Cap on records sent per second; unlimited when absent.
    #[arg(long, value_name = "RECORDS_PER_SEC")]
    pub(crate) throughput: Option<NonZeroU64>,

    /// Acknowledgements the leader waits for before answering.
    #[arg(long, value_enum, default_value_t = AcksArg::All, allow_negative_numbers = true)]
    pub(crate) acks: AcksArg,

    /// Idempotent production (`enable.idempotence`); needs `--acks all`.
    #[arg(long, default_value_t = true, action = ArgAction::Set, value_name = "true|false")]
    pub(crate) idempotence: bool,

    /// Compression codec for record batches.
    #[arg(long, value_enum, default_value_t = CompressionArg::None)]
    pub(crate) compression: CompressionArg,

    /// How long a batch may wait for more records (`linger.ms`).
    #[arg(long, default_value_t = 5)]
    pub(crate) linger_ms: u64,

    /// Upper bound on a batch's size in bytes (`batch.size`).
    #[arg(long, default_value_t = 1_048_576)]
    pub(crate) batch_size: usize,

    /// Most connections per broker the adaptive scaler may open
    /// (`kproducer.connections.max`) [default: the producer's, 4].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) max_connections_per_broker: Option<u64>,

    /// Fixed time the embedded broker charges per request, in µs (embedded
    /// only) [default: 0]. The benchmarks model a replicated acks=all leader
    /// with 1000.
    #[arg(long, value_name = "MICROS")]
    pub(crate) broker_service_time_us: Option<u64>,

    /// Time the embedded broker charges per KiB of request, in µs (embedded
    /// only) [default: 0]. The benchmarks use 10.
    #[arg(long, value_name = "MICROS")]
    pub(crate) broker_service_us_per_kib: Option<u64>,

    /// Most MiB of records the embedded broker keeps per partition (its
    /// retention.bytes; older batches are dropped so long runs stay within
    /// memory) (embedded only) [default: 256].
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) broker_retention_mb: Option<u64>,

    /// Serve the embedded broker over TLS with a self-signed certificate
    /// generated in memory, and connect with `security.protocol=SSL`
    /// trusting it (embedded only): measures what TLS costs.
    #[arg(long)]
    pub(crate) embedded_tls: bool,

    /// Any producer property, as `key=value` (repeatable); applied after
    /// the flags above, so it overrides them. docs/configuration.md lists
    /// them.
    #[arg(long = "property", value_name = "KEY=VALUE")]
    pub(crate) properties: Vec<String>,

    /// How the driver learns each record's outcome: `report` (the
    /// default) sends with `try_send_reported` and a token (the send time)
    /// and is told per batch by a delivery-report sink, as librdkafka's
    /// `BaseProducer` peer is by its delivery callback; `future` sends with
    /// `try_send` and awaits a `DeliveryFuture` per record. Latency means
    /// the same in both: send → acknowledgement, per record.
    #[arg(long, value_enum, default_value_t = DeliveryArg::Report)]
    pub(crate) delivery: DeliveryArg,

    /// Print the report as one JSON object, the last line of stdout (the
    /// summary for people then goes to stderr; no progress bar).
    #[arg(long)]
    pub(crate) json: bool,
}

/// `--acks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AcksArg {
    /// `acks=0`: no answer; a record counts as delivered once sent.
    #[value(name = "0")]
    None,
    /// `acks=1`: the leader answers once it has appended the batch.
    #[value(name = "1")]
    Leader,
    /// `acks=all` (`-1`): every in-sync replica has it.
    #[value(name = "all", alias = "-1")]
    All,
}

impl AcksArg {
    /// As the `acks` property spells it.
    pub(crate) fn as_property(self) -> &'static str {
        match self {
            Self::None => "0",
            Self::Leader => "1",
            Self::All => "all",
        }
    }
}

/// `--delivery`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DeliveryArg {
    /// A delivery-report sink, told once per batch (no future per record).
    Report,
    /// A `DeliveryFuture` per record.
    Future,
}

/// `--compression`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CompressionArg {
    /// No compression.
    None,
    /// gzip.
    Gzip,
    /// Snappy.
    Snappy,
    /// LZ4.
    Lz4,
    /// zstd.
    Zstd,
}

impl CompressionArg {
    /// As the `compression.type` property spells it.
    pub(crate) fn as_property(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Gzip => "gzip",
            Self::Snappy => "snappy",
            Self::Lz4 => "lz4",
            Self::Zstd => "zstd",
        }
    }
}

impl PerfArgs {
    /// Whether the embedded broker is asked for.
    pub(crate) fn is_embedded(&self) -> bool {
        self.bootstrap == EMBEDDED
    }

    /// The embedded-only flags given against a real broker.
    pub(crate) fn embedded_only_flags_given(&self) -> Vec<&'static str> {
        let mut given = Vec::new();
        if self.partitions.is_some() {
            given.push("--partitions");
        }
        if self.brokers.is_some() {
            given.push("--brokers");
        }
        if self.broker_service_time_us.is_some() {
            given.push("--broker-service-time-us");
        }
        if self.broker_service_us_per_kib.is_some() {
            given.push("--broker-service-us-per-kib");
        }
        if self.broker_retention_mb.is_some() {
            given.push("--broker-retention-mb");
        }
        if self.embedded_tls {
            given.push("--embedded-tls");
        }
        given
    }
}
