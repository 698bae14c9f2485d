//! [`ProducerConfig::from_properties`]: a [`ProducerConfig`] filled from
//! Kafka's standard property names (`linger.ms`, `acks`, …) and kproducer's
//! own `kproducer.*` keys, so users can bring the configuration they already
//! have for the Java client.
//!
//! Parsing checks each value's form and names the key when it is wrong;
//! combinations (idempotence against `acks`, in-flight limits, timeouts) are
//! checked later by [`ProducerConfig::validate`], which the producer's build
//! calls, so a configuration filled from properties and one built field by
//! field obey exactly the same rules (KIP-679).
//!
//! The table of keys lives in [`keys`]; how each value is read in
//! [`values`]. `docs/configuration.md` documents every key, and a test keeps
//! the two in step.

mod keys;
mod values;

#[cfg(test)]
mod tests;

use crate::config::ProducerConfig;
use crate::error::Error;

use keys::{Filling, Lookup};

impl ProducerConfig {
    /// Builds a configuration from Kafka property names and string values,
    /// starting from [`ProducerConfig::default`].
    ///
    /// Keys and values are trimmed; a key given twice takes its last value
    /// (as in a Java `Properties` file). Every key is documented, with its
    /// default and where kproducer differs from the Java client, in
    /// `docs/configuration.md`.
    ///
    /// The result is not validated yet: [`ProducerConfig::validate`] (and
    /// therefore [`ProducerBuilder::build`](crate::ProducerBuilder::build))
    /// checks the combinations, such as `enable.idempotence=true` with
    /// `acks=1`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use kproducer::{Acks, Producer, ProducerConfig};
    ///
    /// let config = ProducerConfig::from_properties([
    ///     ("bootstrap.servers", "127.0.0.1:9092, 127.0.0.1:9093"),
    ///     ("acks", "all"),
    ///     ("linger.ms", "20"),
    ///     ("kproducer.connections.max", "8"),
    /// ])?;
    /// assert_eq!(config.linger, Duration::from_millis(20));
    /// assert_eq!(config.scaler.max_width, 8);
    /// assert!(config.validate()?.idempotent);
    ///
    /// // Typos are caught, with a suggestion.
    /// let err = ProducerConfig::from_properties([("linger.sm", "5")]).unwrap_err();
    /// assert!(err.to_string().contains("did you mean `linger.ms`"));
    ///
    /// // The builder takes the result; its build() validates it.
    /// let builder = Producer::builder().config(config);
    /// # drop(builder);
    /// # Ok::<(), kproducer::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] naming the key when the key is unknown (with the
    /// closest known key when it looks like a typo), recognised but not
    /// supported yet (TLS, SASL, transactions, serializers, …), or its value
    /// is not of the expected form.
    pub fn from_properties<I, K, V>(props: I) -> Result<ProducerConfig, Error>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut config = ProducerConfig::default();
        config.apply_properties(props)?;
        Ok(config)
    }

    /// Sets the settings named by `props` on this configuration, leaving
    /// the others as they are. The same rules as
    /// [`from_properties`](ProducerConfig::from_properties); on error this
    /// configuration is left unchanged.
    ///
    /// ```
    /// use kproducer::{Acks, ProducerConfig};
    ///
    /// let mut config = ProducerConfig { client_id: "billing".into(), ..Default::default() };
    /// config.apply_properties([("acks", "1")])?;
    /// assert_eq!(config.acks, Acks::Leader);
    /// assert_eq!(config.client_id, "billing");
    ///
    /// assert!(config.apply_properties([("acks", "2")]).is_err());
    /// assert_eq!(config.acks, Acks::Leader);
    /// # Ok::<(), kproducer::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`from_properties`](ProducerConfig::from_properties).
    pub fn apply_properties<I, K, V>(&mut self, props: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut filling = Filling::new(self.clone());
        for (key, value) in props {
            let key = key.as_ref().trim();
            let value = value.as_ref().trim();
            match keys::lookup(key) {
                Lookup::Supported(set) => set(&mut filling, value).map_err(|expected| {
                    let shown = if keys::SECRET_VALUES.contains(&key) {
                        "<redacted>"
                    } else {
                        value
                    };
                    Error::config(key, format!("`{shown}` is not valid: expected {expected}"))
                })?,
                Lookup::Unsupported(reason) => return Err(Error::config(key, reason)),
                Lookup::Unknown(suggestion) => {
                    let message = match suggestion {
                        Some(known) => format!(
                            "is not a producer property kproducer knows; did you mean `{known}`?"
                        ),
                        None => "is not a producer property kproducer knows; \
                                 docs/configuration.md lists them all"
                            .to_owned(),
                    };
                    return Err(Error::config(key, message));
                }
            }
        }
        *self = filling.finish();
        Ok(())
    }
}
