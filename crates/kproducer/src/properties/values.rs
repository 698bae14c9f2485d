//! Reading one property value (already trimmed) into the type its field
//! holds. Each reader returns the expected form on failure; the caller adds
//! the key and the value to make the error message.

use std::time::Duration;

use kproducer_protocol::records::Compression;

use crate::config::{Acks, PartitionerKind};

/// What a value should have looked like, for the error message.
pub(super) type Expected = String;

/// `true` or `false`, any ASCII case (as Java's `ConfigDef` reads booleans).
pub(super) fn boolean(value: &str) -> Result<bool, Expected> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err("true or false".to_owned())
    }
}

/// The longest duration a time setting can hold: Kafka's time settings are
/// at most 32-bit milliseconds once in use (about 24.8 days).
const MAX_MILLIS: u64 = i32::MAX as u64;

/// A whole number of milliseconds, 0 or more, for a setting Java types as
/// `INT` (`delivery.timeout.ms`, `request.timeout.ms`): larger values are an
/// error, as in Java.
pub(super) fn millis(value: &str) -> Result<Duration, Expected> {
    match value.parse::<u64>() {
        Ok(ms) if ms <= MAX_MILLIS => Ok(Duration::from_millis(ms)),
        _ => {
            Err("a whole number of milliseconds from 0 to 2147483647 (for example 100)".to_owned())
        }
    }
}

/// A whole number of milliseconds, 0 or more, for a setting Java types as
/// `LONG` (`linger.ms`, `max.block.ms`, `retry.backoff.ms`, …): Java accepts
/// up to `Long.MAX_VALUE` and uses at most `Integer.MAX_VALUE` ms, so larger
/// values are accepted and held at 2147483647 ms, as Java does for
/// `linger.ms`. Configurations written for Java keep working.
pub(super) fn long_millis(value: &str) -> Result<Duration, Expected> {
    value
        .parse::<u64>()
        .map(|ms| Duration::from_millis(ms.min(MAX_MILLIS)))
        .map_err(|_| "a whole number of milliseconds, 0 or more (for example 100)".to_owned())
}

/// A whole number of milliseconds, 1 or more, held at 2147483647 like
/// [`long_millis`].
pub(super) fn positive_millis(value: &str) -> Result<Duration, Expected> {
    match value.parse::<u64>() {
        Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms.min(MAX_MILLIS))),
        _ => Err("a whole number of milliseconds, 1 or more (for example 100)".to_owned()),
    }
}

/// A whole number of bytes, 0 or more.
pub(super) fn bytes(value: &str) -> Result<usize, Expected> {
    value
        .parse::<usize>()
        .map_err(|_| "a whole number of bytes, 0 or more (for example 16384)".to_owned())
}

/// A whole number, at least `min`.
pub(super) fn count(value: &str, min: usize) -> Result<usize, Expected> {
    match value.parse::<usize>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(format!("a whole number, {min} or more")),
    }
}

/// A fraction in `[0, 1]`, such as `0.1`.
pub(super) fn fraction(value: &str) -> Result<f64, Expected> {
    match value.parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err("a fraction between 0 and 1 (for example 0.1)".to_owned()),
    }
}

/// `all`, `-1`, `0` or `1`.
pub(super) fn acks(value: &str) -> Result<Acks, Expected> {
    match value {
        "0" => Ok(Acks::None),
        "1" => Ok(Acks::Leader),
        "-1" => Ok(Acks::All),
        _ if value.eq_ignore_ascii_case("all") => Ok(Acks::All),
        _ => Err("one of all, -1, 0 or 1".to_owned()),
    }
}

/// A codec name this build can use.
pub(super) fn compression(value: &str) -> Result<Compression, Expected> {
    let codec: Compression = value
        .parse()
        .map_err(|_| "one of none, gzip, snappy, lz4 or zstd".to_owned())?;
    if codec.is_available() {
        Ok(codec)
    } else {
        Err(format!(
            "a codec this build includes; {codec} is not (enable the `{codec}` feature of \
             kproducer-protocol, or pick another codec)"
        ))
    }
}

/// Java's class name for Kafka's `RoundRobinPartitioner`.
pub(super) const ROUND_ROBIN_CLASS: &str =
    "org.apache.kafka.clients.producer.RoundRobinPartitioner";
/// Java's class name for the pre-KIP-794 default partitioner (deprecated in
/// Kafka 3.3, removed in 4.0).
pub(super) const LEGACY_DEFAULT_CLASS: &str =
    "org.apache.kafka.clients.producer.internals.DefaultPartitioner";
/// Java's class name for `UniformStickyPartitioner` (deprecated in Kafka 3.3,
/// removed in 4.0): sticky for every record, keys ignored.
pub(super) const UNIFORM_STICKY_CLASS: &str =
    "org.apache.kafka.clients.producer.UniformStickyPartitioner";

/// A built-in partitioner, by Java class name or short name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BuiltInPartitioner {
    /// Murmur2 for keys, uniform sticky for the rest.
    Default,
    /// One record per partition in turn.
    RoundRobin,
    /// Uniform sticky for every record, keys ignored.
    UniformSticky,
}

impl BuiltInPartitioner {
    /// The partitioner kind the producer runs, and whether it ignores keys.
    pub(super) fn kind(self) -> (PartitionerKind, bool) {
        match self {
            BuiltInPartitioner::Default => (PartitionerKind::Default, false),
            BuiltInPartitioner::RoundRobin => (PartitionerKind::RoundRobin, false),
            BuiltInPartitioner::UniformSticky => (PartitionerKind::Default, true),
        }
    }
}

/// `partitioner.class`: a built-in by Java class name or short name
/// (`default`, `round-robin`, `uniform-sticky`; `_` for `-` and any ASCII
/// case also accepted).
pub(super) fn partitioner(value: &str) -> Result<BuiltInPartitioner, Expected> {
    let short = value.to_ascii_lowercase().replace('_', "-");
    match (value, short.as_str()) {
        (LEGACY_DEFAULT_CLASS, _) | (_, "default") => Ok(BuiltInPartitioner::Default),
        (ROUND_ROBIN_CLASS, _) | (_, "round-robin" | "roundrobin") => {
            Ok(BuiltInPartitioner::RoundRobin)
        }
        (UNIFORM_STICKY_CLASS, _) | (_, "uniform-sticky") => Ok(BuiltInPartitioner::UniformSticky),
        _ => Err(format!(
            "a built-in partitioner: default, round-robin, uniform-sticky, or Kafka's \
             {ROUND_ROBIN_CLASS}, {UNIFORM_STICKY_CLASS} or {LEGACY_DEFAULT_CLASS}; \
             for a partitioner of your own, implement kproducer::partitioner::Partitioner \
             and pass it to ProducerBuilder::partitioner"
        )),
    }
}

/// `bootstrap.servers`: comma-separated `host:port` entries, each trimmed,
/// empty entries skipped. The addresses themselves are checked by
/// `validate`.
pub(super) fn server_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A PEM file path (`ssl.*.location`); empty means unset.
pub(super) fn pem_file(value: &str) -> Result<Option<kproducer_net::PemSource>, Expected> {
    Ok((!value.is_empty()).then(|| kproducer_net::PemSource::File(value.into())))
}

/// PEM text (`ssl.*.pem`); empty means unset. Newlines may be given as
/// `\n`, as in one-line properties files.
pub(super) fn pem_text(value: &str) -> Result<Option<kproducer_net::PemSource>, Expected> {
    if value.is_empty() {
        return Ok(None);
    }
    if !value.contains("-----BEGIN ") {
        return Err("PEM text starting with -----BEGIN CERTIFICATE-----".to_owned());
    }
    Ok(Some(kproducer_net::PemSource::Pem(
        value.replace("\\n", "\n"),
    )))
}

/// `ssl.endpoint.identification.algorithm`: `https` checks the broker's
/// host name, empty (or `none`, as librdkafka spells it) does not.
pub(super) fn endpoint_identification(value: &str) -> Result<bool, Expected> {
    if value.eq_ignore_ascii_case("https") {
        Ok(true)
    } else if value.is_empty() || value.eq_ignore_ascii_case("none") {
        Ok(false)
    } else {
        Err(
            "https (check the broker's host name, the default), or empty to skip the check \
             (only for testing)"
                .to_owned(),
        )
    }
}

/// A SASL mechanism kproducer implements.
pub(super) fn sasl_mechanism(v: &str) -> Result<kproducer_net::BuiltinMechanism, Expected> {
    kproducer_net::BuiltinMechanism::parse(v).ok_or_else(|| {
        "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (GSSAPI and OAUTHBEARER are not built in; \
         pass your own kproducer::Mechanism to ProducerBuilder::sasl_mechanism)"
            .to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_reject_signs_units_and_overflow() {
        for bad in ["-1", "5ms", "1.5", "", "18446744073709551616"] {
            assert!(millis(bad).is_err(), "{bad:?}");
        }
        assert_eq!(millis("0"), Ok(Duration::ZERO));
        assert!(
            millis("2147483648").is_err(),
            "an INT setting above i32::MAX"
        );
        assert_eq!(
            long_millis("9223372036854775807"),
            Ok(Duration::from_millis(i32::MAX as u64)),
            "a LONG setting is held at i32::MAX ms, as Java does"
        );
        assert!(long_millis("-1").is_err());
        assert!(positive_millis("0").is_err());
        assert_eq!(count("2", 1), Ok(2));
        assert!(count("0", 1).is_err());
        for bad in ["NaN", "inf", "-0.1", "1.01", "half"] {
            assert!(fraction(bad).is_err(), "{bad:?}");
        }
        assert_eq!(fraction("1"), Ok(1.0));
    }

    #[test]
    fn acks_spellings() {
        assert_eq!(acks("ALL"), Ok(Acks::All));
        assert_eq!(acks("-1"), Ok(Acks::All));
        assert!(acks("2").is_err());
        assert!(acks("leader").is_err());
    }

    #[test]
    fn partitioner_names() {
        assert_eq!(
            partitioner("Round_Robin"),
            Ok(BuiltInPartitioner::RoundRobin)
        );
        assert_eq!(
            partitioner(UNIFORM_STICKY_CLASS),
            Ok(BuiltInPartitioner::UniformSticky)
        );
        // Java class names are case-sensitive.
        assert!(partitioner(&ROUND_ROBIN_CLASS.to_lowercase()).is_err());
        assert!(partitioner("com.example.MyPartitioner").is_err());
    }

    #[test]
    fn server_lists_skip_empty_entries() {
        assert_eq!(server_list(" a:1 ,, b:2 ,"), vec!["a:1", "b:2"]);
        assert!(server_list("").is_empty());
    }
}
