//! Turning command-line flags into a [`ProducerConfig`]: each flag becomes
//! the Kafka property it stands for, then every `--property` is applied on
//! top (so a property overrides a flag, as in the benchmark peers), all
//! through `ProducerConfig::from_properties` — one set of rules and one
//! kind of error message, naming the key.

use kproducer::{Producer, ProducerConfig};

use crate::error::CliError;
use crate::key_value::parse_all;

/// Builds the configuration from `flag_props` (what the command's flags
/// mean, as properties) followed by the user's `--property` arguments.
pub(crate) fn config_from(
    flag_props: Vec<(String, String)>,
    properties: &[String],
) -> Result<ProducerConfig, CliError> {
    let mut props = flag_props;
    props.extend(parse_all("--property", properties)?);
    let config = ProducerConfig::from_properties(props).map_err(CliError::Config)?;
    // Combinations (idempotence against acks, timeouts) are checked here
    // too, so they fail before anything connects.
    config.validate().map_err(CliError::Config)?;
    Ok(config)
}

/// Starts a producer with `config` on the current runtime.
pub(crate) fn start_producer(config: ProducerConfig) -> Result<Producer, CliError> {
    Producer::builder()
        .config(config)
        .build()
        .map_err(CliError::Config)
}

/// A `(key, value)` property pair.
pub(crate) fn prop(key: &str, value: impl ToString) -> (String, String) {
    (key.to_owned(), value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_override_flags() {
        let c = config_from(
            vec![
                prop("bootstrap.servers", "127.0.0.1:9092"),
                prop("linger.ms", 5),
            ],
            &["linger.ms=20".into()],
        )
        .unwrap();
        assert_eq!(c.linger, std::time::Duration::from_millis(20));
    }

    #[test]
    fn bad_properties_name_the_key_in_one_line() {
        let flags = || vec![prop("bootstrap.servers", "127.0.0.1:9092")];
        for (bad, key) in [
            ("linger.sm=5", "linger.sm"),
            ("acks=2", "acks"),
            ("enable.idempotence=maybe", "enable.idempotence"),
        ] {
            let e = config_from(flags(), &[bad.into()]).unwrap_err();
            assert!(matches!(e, CliError::Config(_)), "{bad}: {e}");
            let text = e.to_string();
            assert!(text.contains(key), "{bad}: {text}");
            assert!(!text.contains('\n'));
        }
        // A conflict between settings is caught before connecting.
        let e = config_from(
            flags(),
            &["enable.idempotence=true".into(), "acks=1".into()],
        )
        .unwrap_err();
        assert!(e.to_string().contains("acks"), "{e}");
    }
}
