//! Every property key kproducer recognises: the supported ones, each with
//! the function that sets its field, and the Kafka keys recognised but not
//! supported yet, each with the reason given to the user. Anything else is
//! unknown, and gets the closest known key as a suggestion when it looks
//! like a typo.

use crate::config::ProducerConfig;

use kproducer_net::{PrivateKeyPem, PrivateKeySource};

use super::values::{self, BuiltInPartitioner, Expected};
use crate::security::SecurityProtocol;

/// A configuration being filled from properties, plus what must be decided
/// once every key has been seen (so the result does not depend on the
/// order of the keys).
#[derive(Debug)]
pub(super) struct Filling {
    config: ProducerConfig,
    /// `partitioner.class`, applied last: `UniformStickyPartitioner` means
    /// "ignore keys" whatever `partitioner.ignore.keys` says, as in Java.
    partitioner: Option<BuiltInPartitioner>,
    /// `kproducer.connections.min` or `.max` was given.
    width_bounds_set: bool,
    /// `kproducer.connections.initial` was given.
    initial_width_set: bool,
}

impl Filling {
    pub(super) fn new(config: ProducerConfig) -> Self {
        Filling {
            config,
            partitioner: None,
            width_bounds_set: false,
            initial_width_set: false,
        }
    }

    /// The configuration, with the order-independent decisions made.
    pub(super) fn finish(mut self) -> ProducerConfig {
        if let Some(partitioner) = self.partitioner {
            let (kind, ignores_keys) = partitioner.kind();
            self.config.partitioner_kind = kind;
            if ignores_keys {
                self.config.partitioner_ignore_keys = true;
            }
        }
        // Raising `kproducer.connections.min` (or lowering `.max`) alone
        // must not leave the starting width outside the bounds; an explicit
        // `kproducer.connections.initial` is left for `validate` to judge.
        if self.width_bounds_set && !self.initial_width_set {
            let scaler = &mut self.config.scaler;
            scaler.initial_width = scaler
                .initial_width
                .max(scaler.min_width)
                .min(scaler.max_width);
        }
        self.config
    }
}

/// Sets one field from a trimmed value, or says what form was expected.
pub(super) type Setter = fn(&mut Filling, &str) -> Result<(), Expected>;

/// Every supported key and how it is set, Kafka's first, then kproducer's.
/// `docs/configuration.md` has one row per entry (a test checks it).
pub(super) const SUPPORTED: &[(&str, Setter)] = &[
    ("bootstrap.servers", |f, v| {
        f.config.bootstrap_servers = values::server_list(v);
        Ok(())
    }),
    ("client.id", |f, v| {
        f.config.client_id = v.to_owned();
        Ok(())
    }),
    ("acks", |f, v| {
        f.config.acks = values::acks(v)?;
        Ok(())
    }),
    ("enable.idempotence", |f, v| {
        f.config.enable_idempotence = Some(values::boolean(v)?);
        Ok(())
    }),
    ("linger.ms", |f, v| {
        f.config.linger = values::long_millis(v)?;
        Ok(())
    }),
    ("batch.size", |f, v| {
        f.config.batch_size = values::bytes(v)?;
        Ok(())
    }),
    ("buffer.memory", |f, v| {
        f.config.buffer_memory = values::bytes(v)?;
        Ok(())
    }),
    ("max.block.ms", |f, v| {
        f.config.max_block = values::long_millis(v)?;
        Ok(())
    }),
    ("delivery.timeout.ms", |f, v| {
        f.config.delivery_timeout = values::millis(v)?;
        Ok(())
    }),
    ("request.timeout.ms", |f, v| {
        f.config.request_timeout = values::millis(v)?;
        Ok(())
    }),
    ("retry.backoff.ms", |f, v| {
        f.config.retry_backoff = values::long_millis(v)?;
        Ok(())
    }),
    ("retry.backoff.max.ms", |f, v| {
        f.config.retry_backoff_max = values::long_millis(v)?;
        Ok(())
    }),
    ("transactional.id", |f, v| {
        f.config.transactional_id = (!v.is_empty()).then(|| v.to_owned());
        Ok(())
    }),
    ("transaction.timeout.ms", |f, v| {
        f.config.transaction_timeout = values::positive_millis(v)?;
        Ok(())
    }),
    ("max.in.flight.requests.per.connection", |f, v| {
        f.config.max_in_flight = values::count(v, 1)?;
        Ok(())
    }),
    ("compression.type", |f, v| {
        f.config.compression = values::compression(v)?;
        Ok(())
    }),
    ("max.request.size", |f, v| {
        f.config.max_request_size = values::bytes(v)?;
        Ok(())
    }),
    ("metadata.max.age.ms", |f, v| {
        f.config.metadata_max_age = values::long_millis(v)?;
        Ok(())
    }),
    ("allow.auto.create.topics", |f, v| {
        f.config.allow_auto_create_topics = values::boolean(v)?;
        Ok(())
    }),
    ("partitioner.class", |f, v| {
        f.partitioner = Some(values::partitioner(v)?);
        Ok(())
    }),
    ("partitioner.ignore.keys", |f, v| {
        f.config.partitioner_ignore_keys = values::boolean(v)?;
        Ok(())
    }),
    ("partitioner.adaptive.partitioning.enable", |f, v| {
        f.config.partitioner_adaptive = values::boolean(v)?;
        Ok(())
    }),
    ("partitioner.availability.timeout.ms", |f, v| {
        f.config.partitioner_availability_timeout = values::millis(v)?;
        Ok(())
    }),
    // Accepted and ignored: retries are bounded by delivery.timeout.ms, as
    // Kafka recommends (KIP-91). 0 (never retry) cannot be honoured.
    ("retries", |_, v| match v.parse::<i32>() {
        Ok(n) if n > 0 => Ok(()),
        Ok(0) => Err(
            "a positive number: retries=0 (never retry) is not supported yet; \
             kproducer retries retriable errors until delivery.timeout.ms, so lower that \
             to bound retrying"
                .to_owned(),
        ),
        _ => Err("a positive whole number (retries are bounded by delivery.timeout.ms)".to_owned()),
    }),
    ("security.protocol", |f, v| {
        f.config.security_protocol = SecurityProtocol::parse(v)
            .ok_or_else(|| "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL".to_owned())?;
        Ok(())
    }),
    ("ssl.ca.location", |f, v| {
        f.config.ssl.ca = values::pem_file(v)?;
        Ok(())
    }),
    ("ssl.ca.pem", |f, v| {
        f.config.ssl.ca = values::pem_text(v)?;
        Ok(())
    }),
    ("ssl.certificate.location", |f, v| {
        f.config.ssl.certificate = values::pem_file(v)?;
        Ok(())
    }),
    ("ssl.certificate.pem", |f, v| {
        f.config.ssl.certificate = values::pem_text(v)?;
        Ok(())
    }),
    ("ssl.key.location", |f, v| {
        f.config.ssl.key = (!v.is_empty()).then(|| PrivateKeySource::File(v.into()));
        Ok(())
    }),
    ("ssl.key.pem", |f, v| {
        // `\n` escapes become newlines, as for the other PEM strings.
        f.config.ssl.key = (!v.is_empty())
            .then(|| PrivateKeySource::Pem(PrivateKeyPem::new(v.replace("\\n", "\n"))));
        Ok(())
    }),
    // Empty is accepted (no password); a password means an encrypted key.
    // The value is never echoed: the error message does not quote it.
    ("ssl.key.password", |_, v| {
        if v.is_empty() {
            Ok(())
        } else {
            Err(
                "no value: encrypted private keys are not supported; decrypt the key \
                 (openssl pkcs8 -topk8 -nocrypt -in key.pem -out key-plain.pem), keep it \
                 readable only by the producer's user, and remove ssl.key.password"
                    .to_owned(),
            )
        }
    }),
    ("ssl.endpoint.identification.algorithm", |f, v| {
        f.config.ssl.endpoint_identification = values::endpoint_identification(v)?;
        Ok(())
    }),
    ("sasl.mechanism", |f, v| {
        f.config.sasl_mechanism = Some(values::sasl_mechanism(v)?);
        Ok(())
    }),
    // librdkafka's name for the same setting.
    ("sasl.mechanisms", |f, v| {
        f.config.sasl_mechanism = Some(values::sasl_mechanism(v)?);
        Ok(())
    }),
    ("sasl.username", |f, v| {
        f.config.sasl_username = Some(v.to_owned());
        Ok(())
    }),
    // The value goes straight into a `Secret`; no error message repeats it.
    ("sasl.password", |f, v| {
        f.config.sasl_password = Some(kproducer_net::Secret::new(v));
        Ok(())
    }),
    ("kproducer.connections.adaptive", |f, v| {
        f.config.adaptive_connections = values::boolean(v)?;
        Ok(())
    }),
    ("kproducer.connections.min", |f, v| {
        f.config.scaler.min_width = values::count(v, 1)?;
        f.width_bounds_set = true;
        Ok(())
    }),
    ("kproducer.connections.max", |f, v| {
        f.config.scaler.max_width = values::count(v, 1)?;
        f.width_bounds_set = true;
        Ok(())
    }),
    ("kproducer.connections.initial", |f, v| {
        f.config.scaler.initial_width = values::count(v, 1)?;
        f.initial_width_set = true;
        Ok(())
    }),
    ("kproducer.connections.scale.interval.ms", |f, v| {
        f.config.scale_interval = values::positive_millis(v)?;
        Ok(())
    }),
    ("kproducer.scaler.max.step", |f, v| {
        f.config.scaler.max_step = values::count(v, 1)?;
        Ok(())
    }),
    ("kproducer.scaler.min.window.ms", |f, v| {
        f.config.scaler.min_window = values::positive_millis(v)?;
        Ok(())
    }),
    ("kproducer.scaler.cooldown.ms", |f, v| {
        f.config.scaler.cooldown = values::long_millis(v)?;
        Ok(())
    }),
    ("kproducer.scaler.cooldown.round.trips", |f, v| {
        f.config.scaler.cooldown_round_trips =
            u32::try_from(values::count(v, 0)?).unwrap_or(u32::MAX);
        Ok(())
    }),
    ("kproducer.scaler.sustained.low.ms", |f, v| {
        f.config.scaler.sustained_low = values::long_millis(v)?;
        Ok(())
    }),
    ("kproducer.scaler.up.wait.fraction", |f, v| {
        f.config.scaler.scale_up_wait = values::fraction(v)?;
        Ok(())
    }),
    ("kproducer.scaler.down.wait.fraction", |f, v| {
        f.config.scaler.scale_down_wait = values::fraction(v)?;
        Ok(())
    }),
    ("kproducer.scaler.up.buffer.fill", |f, v| {
        f.config.scaler.scale_up_buffer = values::fraction(v)?;
        Ok(())
    }),
    ("kproducer.scaler.down.buffer.fill", |f, v| {
        f.config.scaler.scale_down_buffer = values::fraction(v)?;
        Ok(())
    }),
    ("kproducer.scaler.up.busy.fraction", |f, v| {
        f.config.scaler.scale_up_busy = values::fraction(v)?;
        Ok(())
    }),
    ("kproducer.scaler.down.busy.fraction", |f, v| {
        f.config.scaler.scale_down_busy = values::fraction(v)?;
        Ok(())
    }),
];

const TWO_PHASE_COMMIT: &str = "is not supported yet: kproducer's transactions end with \
     commit_transaction or abort_transaction (no KIP-939 two-phase commit); remove it";
const SECURITY: &str = "is not supported: kproducer's security settings are security.protocol, \
     the PEM ssl.* settings and sasl.mechanism/sasl.username/sasl.password; remove it";
const SSL_STORES: &str = "is not supported: kproducer reads PEM, not Java key or trust \
     stores; convert them (keytool -exportcert -rfc, openssl pkcs12 -nodes) and use \
     ssl.ca.location, ssl.certificate.location and ssl.key.location instead";
const SSL_TUNING: &str = "is not configurable: kproducer speaks TLS 1.2 and 1.3 with \
     rustls's safe default cipher suites; remove it";
const SASL_OTHER: &str = "is not supported: kproducer's SASL takes sasl.mechanism (PLAIN, \
     SCRAM-SHA-256, SCRAM-SHA-512), sasl.username and sasl.password only (no JAAS, Kerberos or \
     OAUTHBEARER settings; implement kproducer::Mechanism for other mechanisms); remove it";
const SERIALIZER: &str = "is not needed: kproducer takes keys and values as bytes \
     (Record::new(topic, value).with_key(key)); serialize before sending and remove this key";
const INTERCEPTORS: &str = "is not supported yet: kproducer has no interceptors; wrap Producer::send instead and remove it";
const JAVA_METRICS: &str = "does not apply: kproducer has no Java metrics reporters; \
     read Producer::metrics() instead and remove it";
const CONNECTION_TUNING: &str = "is not configurable yet: kproducer uses its built-in \
     connection timings and socket settings; remove it";
const METADATA_TUNING: &str = "is not supported yet: kproducer keeps metadata for every topic \
     it has sent to and resolves addresses through the OS; remove it";
const COMPRESSION_LEVEL: &str = "is not configurable yet: each codec uses its default level; \
     remove it";

/// Kafka producer keys recognised but not supported yet, with the reason.
pub(super) const UNSUPPORTED: &[(&str, &str)] = &[
    ("transaction.two.phase.commit.enable", TWO_PHASE_COMMIT),
    ("security.providers", SECURITY),
    ("ssl.keystore.type", SSL_STORES),
    ("ssl.keystore.location", SSL_STORES),
    ("ssl.keystore.password", SSL_STORES),
    ("ssl.keystore.key", SSL_STORES),
    ("ssl.keystore.certificate.chain", SSL_STORES),
    ("ssl.truststore.type", SSL_STORES),
    ("ssl.truststore.location", SSL_STORES),
    ("ssl.truststore.password", SSL_STORES),
    ("ssl.truststore.certificates", SSL_STORES),
    ("ssl.keymanager.algorithm", SSL_TUNING),
    ("ssl.trustmanager.algorithm", SSL_TUNING),
    ("ssl.protocol", SSL_TUNING),
    ("ssl.enabled.protocols", SSL_TUNING),
    ("ssl.cipher.suites", SSL_TUNING),
    ("ssl.provider", SSL_TUNING),
    ("ssl.secure.random.implementation", SSL_TUNING),
    ("ssl.engine.factory.class", SSL_TUNING),
    ("key.serializer", SERIALIZER),
    ("value.serializer", SERIALIZER),
    ("interceptor.classes", INTERCEPTORS),
    ("metric.reporters", JAVA_METRICS),
    ("auto.include.jmx.reporter", JAVA_METRICS),
    ("enable.metrics.push", JAVA_METRICS),
    ("send.buffer.bytes", CONNECTION_TUNING),
    ("receive.buffer.bytes", CONNECTION_TUNING),
    ("reconnect.backoff.ms", CONNECTION_TUNING),
    ("reconnect.backoff.max.ms", CONNECTION_TUNING),
    ("socket.connection.setup.timeout.ms", CONNECTION_TUNING),
    ("socket.connection.setup.timeout.max.ms", CONNECTION_TUNING),
    ("connections.max.idle.ms", CONNECTION_TUNING),
    ("metadata.max.idle.ms", METADATA_TUNING),
    ("metadata.recovery.strategy", METADATA_TUNING),
    ("metadata.recovery.rebootstrap.trigger.ms", METADATA_TUNING),
    ("client.dns.lookup", METADATA_TUNING),
    ("compression.gzip.level", COMPRESSION_LEVEL),
    ("compression.lz4.level", COMPRESSION_LEVEL),
    ("compression.zstd.level", COMPRESSION_LEVEL),
];

/// Families of Kafka keys recognised by prefix but not supported yet.
pub(super) const UNSUPPORTED_PREFIXES: &[(&str, &str)] = &[
    ("sasl.client.", SASL_OTHER),
    ("sasl.jaas.", SASL_OTHER),
    ("sasl.kerberos.", SASL_OTHER),
    ("sasl.login.", SASL_OTHER),
    ("sasl.oauthbearer.", SASL_OTHER),
    ("metrics.", JAVA_METRICS),
];

/// Keys whose values are secrets: error messages never quote them.
pub(super) const SECRET_VALUES: &[&str] = &["ssl.key.password", "ssl.key.pem", "sasl.password"];

/// What a key is.
#[derive(Debug)]
pub(super) enum Lookup {
    /// Supported: set it with this.
    Supported(Setter),
    /// Recognised, not supported: fail with this reason.
    Unsupported(&'static str),
    /// Unknown; the closest known key, if it looks like a typo of one.
    Unknown(Option<&'static str>),
}

/// How many single-character edits a key may be from a known key to be
/// suggested as a typo of it.
const MAX_TYPO_DISTANCE: usize = 2;

/// Classifies `key` (trimmed, case-sensitive as in Kafka).
pub(super) fn lookup(key: &str) -> Lookup {
    if let Some((_, set)) = SUPPORTED.iter().find(|(k, _)| *k == key) {
        return Lookup::Supported(*set);
    }
    let unsupported = UNSUPPORTED.iter().find(|(k, _)| *k == key).or_else(|| {
        UNSUPPORTED_PREFIXES
            .iter()
            .find(|(p, _)| key.starts_with(p))
    });
    if let Some((_, reason)) = unsupported {
        return Lookup::Unsupported(reason);
    }
    Lookup::Unknown(closest_known(key))
}

/// The known key closest to `key` (ignoring ASCII case) within
/// [`MAX_TYPO_DISTANCE`] edits; the first in table order on a tie.
fn closest_known(key: &str) -> Option<&'static str> {
    let key = key.to_ascii_lowercase();
    SUPPORTED
        .iter()
        .map(|(k, _)| *k)
        .chain(UNSUPPORTED.iter().map(|(k, _)| *k))
        .map(|known| (edit_distance(&key, known), known))
        .filter(|(d, _)| *d <= MAX_TYPO_DISTANCE)
        .min_by_key(|(d, _)| *d)
        .map(|(_, known)| known)
}

/// Levenshtein distance between two strings, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("linger.ms", "linger.ms"), 0);
        assert_eq!(edit_distance("linger.sm", "linger.ms"), 2);
        assert_eq!(edit_distance("lingr.ms", "linger.ms"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggestions_only_for_near_misses() {
        assert_eq!(closest_known("LINGER.MS"), Some("linger.ms"));
        assert_eq!(closest_known("batch_size"), Some("batch.size"));
        assert_eq!(closest_known("transactionalid"), Some("transactional.id"));
        assert_eq!(closest_known("group.id"), None);
        assert_eq!(closest_known("linger"), None);
    }

    #[test]
    fn no_key_is_listed_twice() {
        let mut all: Vec<&str> = SUPPORTED
            .iter()
            .map(|(k, _)| *k)
            .chain(UNSUPPORTED.iter().map(|(k, _)| *k))
            .collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
        for (key, _) in SUPPORTED {
            assert!(
                !UNSUPPORTED_PREFIXES.iter().any(|(p, _)| key.starts_with(p)),
                "{key} is shadowed by an unsupported prefix"
            );
        }
    }
}
