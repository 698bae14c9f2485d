//! The flags every perf driver accepts, named as `kproducer perf` names them.

use std::num::NonZeroU64;

use clap::{ArgAction, Args, Parser, ValueEnum};

/// A whole perf command line: the shared [`PerfFlags`] and nothing else.
///
/// Each peer binary parses this; `kproducer perf` flattens [`PerfFlags`] into
/// its own command and adds its own flags.
///
/// ```
/// use clap::Parser;
/// use kproducer_bench_peers::{Acks, PerfCommand};
///
/// let flags = PerfCommand::try_parse_from([
///     "krafka-perf", "--bootstrap", "127.0.0.1:9092", "--acks", "1", "--idempotence", "false",
/// ])?
/// .flags;
/// assert_eq!(flags.acks, Acks::Leader);
/// assert!(!flags.idempotence);
/// assert_eq!(flags.linger_ms, 5);
/// # Ok::<(), clap::Error>(())
/// ```
#[derive(Debug, Clone, Parser)]
#[command(
    about = "Produce --num-records records as fast as allowed and report throughput, \
             send-to-acknowledgement latency and this process's CPU time"
)]
pub struct PerfCommand {
    /// The shared perf flags.
    #[command(flatten)]
    pub flags: PerfFlags,
}

/// The perf flags shared by `kproducer perf` and the peer drivers.
///
/// Defaults follow Apache Kafka's producer defaults (`acks=all`, idempotence
/// on, KIP-679) except `linger.ms` (5, Kafka 4.0's default, KIP-1030) and
/// `batch.size` (1 MiB, so that batching, not the batch cap, limits the
/// benchmarks). Every client is passed every value explicitly, so no client's
/// own default decides a comparison.
#[derive(Debug, Clone, Args)]
pub struct PerfFlags {
    /// Broker to bootstrap from.
    #[arg(long, value_name = "HOST:PORT")]
    pub bootstrap: String,

    /// Topic to produce to (must exist, or the broker must auto-create it).
    #[arg(long, default_value = "kproducer-perf")]
    pub topic: String,

    /// How many records to produce.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub num_records: u64,

    /// Size of each record's value in bytes (records have no key).
    #[arg(long, default_value_t = 100)]
    pub record_size: usize,

    /// Cap on records sent per second; unlimited when absent.
    #[arg(long, value_name = "RECORDS_PER_SEC")]
    pub throughput: Option<NonZeroU64>,

    /// Acknowledgements the leader waits for before answering.
    #[arg(long, value_enum, default_value_t = Acks::All, allow_negative_numbers = true)]
    pub acks: Acks,

    /// Idempotent production (`enable.idempotence`); needs `--acks all`.
    #[arg(long, default_value_t = true, action = ArgAction::Set, value_name = "true|false")]
    pub idempotence: bool,

    /// Compression codec for record batches.
    #[arg(long, value_enum, default_value_t = Compression::None)]
    pub compression: Compression,

    /// How long a batch may wait for more records (`linger.ms`).
    #[arg(long, default_value_t = 5)]
    pub linger_ms: u64,

    /// Upper bound on a batch's size in bytes (`batch.size`).
    #[arg(long, default_value_t = 1_048_576)]
    pub batch_size: usize,

    /// Any other client property, as `key=value`; repeatable. Applied after
    /// the flags above, so it overrides them.
    #[arg(long = "property", value_name = "KEY=VALUE", value_parser = Property::parse)]
    pub properties: Vec<Property>,

    /// Print the report as one JSON object, the last line of stdout (the
    /// human summary then goes to stderr).
    #[arg(long)]
    pub json: bool,
}

/// `--acks`: how many replicas must have a batch before the leader answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Acks {
    /// `acks=0`: the broker does not answer; a record counts as delivered once
    /// written to the socket.
    #[value(name = "0")]
    None,
    /// `acks=1`: the leader answers once it has appended the batch.
    #[value(name = "1")]
    Leader,
    /// `acks=all` (`-1`): the leader answers once every in-sync replica has it.
    #[value(name = "all", alias = "-1")]
    All,
}

impl Acks {
    /// The value as Kafka's `acks` property spells it.
    #[must_use]
    pub fn as_property(self) -> &'static str {
        match self {
            Self::None => "0",
            Self::Leader => "1",
            Self::All => "all",
        }
    }
}

/// `--compression`: the record batch codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Compression {
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

impl Compression {
    /// The value as Kafka's `compression.type` property spells it.
    #[must_use]
    pub fn as_property(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Gzip => "gzip",
            Self::Snappy => "snappy",
            Self::Lz4 => "lz4",
            Self::Zstd => "zstd",
        }
    }
}

/// One `--property key=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// The property's name, e.g. `queue.buffering.max.messages`.
    pub key: String,
    /// Its value, as given.
    pub value: String,
}

/// Why a `--property` argument was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PropertyError {
    /// No `=` between name and value.
    #[error("property {0:?} has no '=': write it as key=value, e.g. linger.ms=10")]
    MissingEquals(String),
    /// Nothing before the `=`.
    #[error("property {0:?} has an empty name: write it as key=value, e.g. linger.ms=10")]
    EmptyKey(String),
}

impl Property {
    /// Parses `key=value`; the value may itself contain `=`.
    ///
    /// ```
    /// use kproducer_bench_peers::Property;
    ///
    /// let property = Property::parse("sasl.jaas.config=a=b")?;
    /// assert_eq!((property.key.as_str(), property.value.as_str()), ("sasl.jaas.config", "a=b"));
    /// assert!(Property::parse("linger.ms").is_err());
    /// # Ok::<(), kproducer_bench_peers::PropertyError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`PropertyError`] when there is no `=` or the name is empty.
    pub fn parse(text: &str) -> Result<Self, PropertyError> {
        let (key, value) = text
            .split_once('=')
            .ok_or_else(|| PropertyError::MissingEquals(text.to_owned()))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(PropertyError::EmptyKey(text.to_owned()));
        }
        Ok(Self {
            key: key.to_owned(),
            value: value.trim().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<PerfFlags, clap::Error> {
        let mut argv = vec!["perf"];
        argv.extend_from_slice(args);
        PerfCommand::try_parse_from(argv).map(|command| command.flags)
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let flags = parse(&["--bootstrap", "127.0.0.1:9092"]).expect("valid");
        assert_eq!(flags.bootstrap, "127.0.0.1:9092");
        assert_eq!(flags.topic, "kproducer-perf");
        assert_eq!(flags.num_records, 1_000_000);
        assert_eq!(flags.record_size, 100);
        assert_eq!(flags.throughput, None);
        assert_eq!(flags.acks, Acks::All);
        assert!(flags.idempotence);
        assert_eq!(flags.compression, Compression::None);
        assert_eq!(flags.linger_ms, 5);
        assert_eq!(flags.batch_size, 1_048_576);
        assert!(flags.properties.is_empty());
        assert!(!flags.json);
    }

    #[test]
    fn every_flag_parses() {
        let flags = parse(&[
            "--bootstrap",
            "127.0.0.1:1",
            "--topic",
            "t",
            "--num-records",
            "200000",
            "--record-size",
            "1024",
            "--throughput",
            "50000",
            "--acks",
            "1",
            "--idempotence",
            "false",
            "--compression",
            "zstd",
            "--linger-ms",
            "0",
            "--batch-size",
            "16384",
            "--property",
            "queue.buffering.max.messages=1000000",
            "--property",
            "sasl.jaas.config=a=b",
            "--json",
        ])
        .expect("valid");
        assert_eq!(flags.topic, "t");
        assert_eq!(flags.num_records, 200_000);
        assert_eq!(flags.record_size, 1024);
        assert_eq!(flags.throughput, NonZeroU64::new(50_000));
        assert_eq!(flags.acks, Acks::Leader);
        assert!(!flags.idempotence);
        assert_eq!(flags.compression, Compression::Zstd);
        assert_eq!(flags.linger_ms, 0);
        assert_eq!(flags.batch_size, 16_384);
        assert_eq!(
            flags.properties,
            vec![
                Property {
                    key: "queue.buffering.max.messages".into(),
                    value: "1000000".into()
                },
                Property {
                    key: "sasl.jaas.config".into(),
                    value: "a=b".into()
                },
            ]
        );
        assert!(flags.json);
    }

    #[test]
    fn acks_accepts_kafka_spellings() {
        for (text, acks) in [
            ("0", Acks::None),
            ("1", Acks::Leader),
            ("all", Acks::All),
            ("-1", Acks::All),
        ] {
            let flags = parse(&["--bootstrap", "h:1", "--acks", text]).expect("valid");
            assert_eq!(flags.acks, acks, "--acks {text}");
        }
        assert_eq!(Acks::All.as_property(), "all");
        assert_eq!(Compression::Lz4.as_property(), "lz4");
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(parse(&[]).is_err(), "--bootstrap is required");
        for bad in [
            &["--num-records", "0"][..],
            &["--throughput", "0"],
            &["--acks", "2"],
            &["--idempotence", "maybe"],
            &["--compression", "brotli"],
            &["--property", "novalue"],
            &["--property", "=x"],
        ] {
            let mut args = vec!["--bootstrap", "h:1"];
            args.extend_from_slice(bad);
            assert!(parse(&args).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn property_errors_say_how_to_write_it() {
        let err = Property::parse("linger.ms").expect_err("no =");
        assert!(err.to_string().contains("key=value"), "{err}");
    }
}
