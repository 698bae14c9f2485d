//! The producer's errors: one [`Error`] for building, sending and delivery,
//! and [`TrySendError`] for [`Producer::try_send`](crate::Producer::try_send),
//! which hands the record back.

use std::time::Duration;

use kproducer_protocol::ErrorCode;

use crate::record::{Record, Topic};
use crate::transaction::TransactionError;

/// Everything that can go wrong building a producer, sending a record, or
/// delivering it.
///
/// Cloneable: one broker answer fails every record of a batch with the same
/// error.
///
/// ```
/// use kproducer::Error;
/// let e = Error::Config { key: "linger.ms".into(), message: "must be at most 1 hour".into() };
/// assert_eq!(e.to_string(), "invalid configuration `linger.ms`: must be at most 1 hour");
/// assert!(!e.is_retriable());
/// ```
///
/// Matching on what a delivery ended with (the enum is `#[non_exhaustive]`,
/// so keep a catch-all arm):
///
/// ```
/// use kproducer::{DeliveryResult, Error};
///
/// fn handle(result: DeliveryResult) -> &'static str {
///     match result {
///         Ok(_) => "written",
///         Err(Error::Fatal { .. }) => "create a new producer",
///         Err(Error::DeliveryTimeout { .. }) => "maybe written: check before resending",
///         Err(e) if e.is_retriable() => "send it again",
///         Err(Error::RecordTooLarge { .. } | Error::InvalidRecord { .. }) => "fix the record",
///         Err(_) => "give up and log it",
///     }
/// }
/// assert_eq!(handle(Err(Error::Closed)), "give up and log it");
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting is invalid or conflicts with another; `key` is the Kafka
    /// property name.
    #[error("invalid configuration `{key}`: {message}")]
    Config {
        /// The setting, by its Kafka property name (`acks`, `linger.ms`, …).
        key: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// `send` waited `max.block.ms` for `buffer.memory` and none came free.
    #[error(
        "no room in buffer.memory ({buffer_memory} bytes) within max.block.ms ({waited:?}): \
         records are produced faster than the brokers accept them; slow down, or raise \
         buffer.memory or max.block.ms"
    )]
    BufferTimeout {
        /// How long `send` waited.
        waited: Duration,
        /// The configured `buffer.memory`.
        buffer_memory: usize,
    },
    /// A record is larger than a limit; other records are unaffected.
    #[error(
        "record of {size} bytes is larger than {setting} ({limit} bytes); raise {setting} or send a smaller record"
    )]
    RecordTooLarge {
        /// The record's size bound.
        size: usize,
        /// The limit it broke.
        limit: usize,
        /// Which setting (or `the broker's message.max.bytes`).
        setting: &'static str,
    },
    /// The record cannot be encoded (for example a header key that is not
    /// UTF-8) or names a partition the topic does not have.
    #[error("invalid record for topic {topic}: {reason}")]
    InvalidRecord {
        /// The record's topic.
        topic: Topic,
        /// What is wrong with it.
        reason: String,
    },
    /// The broker rejected the record's batch with an error the producer
    /// does not retry.
    #[error("broker rejected a batch for {topic}-{partition}: {code}{}", message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default())]
    Broker {
        /// The topic.
        topic: Topic,
        /// The partition.
        partition: i32,
        /// The broker's error code.
        code: ErrorCode,
        /// The broker's message, if it sent one.
        message: Option<String>,
    },
    /// `delivery.timeout.ms` passed before the record was acknowledged.
    /// With idempotence on, the record may still have been written (then it
    /// is not written twice).
    #[error(
        "delivery.timeout.ms ({timeout:?}) passed before the record was acknowledged by {topic}-{partition}; last problem: {last_problem}"
    )]
    DeliveryTimeout {
        /// The topic.
        topic: Topic,
        /// The partition, or -1 if the topic's metadata never arrived.
        partition: i32,
        /// The configured `delivery.timeout.ms`.
        timeout: Duration,
        /// The last error seen for it (or why it never left the producer).
        last_problem: String,
    },
    /// The producer hit an error it cannot continue from (its producer id
    /// was fenced, authorization failed, …): every outstanding record fails
    /// with it and every later send is refused. Create a new producer.
    #[error("fatal producer error, create a new producer: {reason}")]
    Fatal {
        /// What happened.
        reason: String,
        /// The broker's error code, when a broker caused it.
        code: Option<ErrorCode>,
    },
    /// SASL authentication with a broker was refused in a way retrying
    /// cannot fix: rejected credentials (with the broker's message), a
    /// mechanism the broker does not enable, or a broker that failed to
    /// prove it knows the credentials. Fatal, like [`Error::Fatal`]: every
    /// outstanding record fails with it and later sends are refused. Fix
    /// the `sasl.*` settings (or the user on the broker) and create a new
    /// producer. Never contains the password.
    #[error(
        "SASL authentication with broker {broker} failed; fix the sasl.* settings and create a new producer: {source}"
    )]
    Authentication {
        /// The broker that refused.
        broker: String,
        /// What went wrong.
        #[source]
        source: kproducer_net::SaslError,
    },
    /// Every broker the producer knows of (or every bootstrap server,
    /// before the first metadata) refused its TLS settings in a way
    /// retrying cannot fix: a certificate from an untrusted CA, one that
    /// does not name the host, an expired one, or a port that does not
    /// speak TLS. Fatal, like [`Error::Fatal`]: every outstanding record
    /// fails with it and later sends are refused. `source` is the typed
    /// [`TransportError`](crate::TransportError) (`TlsUnknownCa`,
    /// `TlsNameMismatch`, …), whose text says what to set. Fix the `ssl.*`
    /// or `security.protocol` settings (or the brokers' certificates) and
    /// create a new producer.
    ///
    /// A broker that refuses while others connect does not fail the
    /// producer: its records are retried and, if it stays broken, time out
    /// ([`Error::DeliveryTimeout`]) naming the cause.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use kproducer::Error;
    /// use kproducer::TransportError;
    /// use kproducer_net::BrokerAddress;
    ///
    /// let e = Error::Tls {
    ///     broker: "broker1:9093".into(),
    ///     source: Arc::new(TransportError::TlsUnknownCa {
    ///         addr: BrokerAddress::new("broker1", 9093),
    ///         detail: "invalid peer certificate: UnknownIssuer".into(),
    ///     }),
    /// };
    /// assert!(e.to_string().contains("set ssl.ca.location"));
    /// assert!(!e.is_retriable());
    /// ```
    #[error(
        "TLS connection to broker {broker} failed, and no broker accepts these settings; fix the \
         ssl.* or security.protocol settings (or the brokers' certificates) and create a new \
         producer: {source}"
    )]
    Tls {
        /// The broker that refused (the first, when several did).
        broker: String,
        /// What went wrong, typed.
        #[source]
        source: std::sync::Arc<crate::TransportError>,
    },
    /// The producer was closed (by [`close`](crate::Producer::close)) before
    /// the record was acknowledged, or a send came after close.
    #[error("the producer is closed: the record was not (or not known to be) delivered")]
    Closed,
    /// The producer was dropped (or its task ended) before the record was
    /// acknowledged. The record may or may not have been written.
    #[error(
        "the producer was dropped before this record was acknowledged; call close() or flush() before dropping it"
    )]
    Dropped,
    /// A transaction operation did not fit, or the transaction cannot
    /// commit (see [`TransactionError`]).
    #[error(transparent)]
    Transaction(#[from] TransactionError),
}

impl Error {
    /// Whether sending the same record again may succeed (a timeout,
    /// buffer pressure, a retriable broker code).
    ///
    /// ```
    /// use std::time::Duration;
    /// use kproducer::Error;
    /// use kproducer::protocol::ErrorCode;
    ///
    /// let full = Error::BufferTimeout { waited: Duration::from_secs(60), buffer_memory: 1 << 25 };
    /// assert!(full.is_retriable());
    /// let rejected = Error::Broker {
    ///     topic: "orders".into(),
    ///     partition: 0,
    ///     code: ErrorCode::MESSAGE_TOO_LARGE,
    ///     message: None,
    /// };
    /// assert!(!rejected.is_retriable());
    /// assert!(!Error::Closed.is_retriable());
    /// ```
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::BufferTimeout { .. } | Error::DeliveryTimeout { .. } => true,
            Error::Broker { code, .. } => code.is_retriable(),
            _ => false,
        }
    }

    /// The broker's error code, if a broker caused the error.
    ///
    /// ```
    /// use kproducer::Error;
    /// use kproducer::protocol::ErrorCode;
    ///
    /// let fenced = Error::Fatal {
    ///     reason: "producer id fenced".into(),
    ///     code: Some(ErrorCode::INVALID_PRODUCER_EPOCH),
    /// };
    /// assert_eq!(fenced.code(), Some(ErrorCode::INVALID_PRODUCER_EPOCH));
    /// assert_eq!(Error::Dropped.code(), None);
    /// ```
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Broker { code, .. } => Some(*code),
            Error::Fatal { code, .. } => *code,
            Error::Transaction(e) => e.code(),
            _ => None,
        }
    }

    pub(crate) fn config(key: &str, message: impl Into<String>) -> Self {
        Error::Config {
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

/// Why [`Producer::try_send`](crate::Producer::try_send) did not take a
/// record; the record comes back.
///
/// ```
/// use kproducer::{Record, TrySendError};
/// let e = TrySendError::QueueFull(Record::new("t", "v"));
/// assert!(e.to_string().contains("buffer.memory"));
/// let record = e.into_record();
/// assert_eq!(record.topic.as_str(), "t");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrySendError {
    /// `buffer.memory` is full right now.
    #[error("buffer.memory is full: try again later or use send(), which waits")]
    QueueFull(Record),
    /// The producer is closed (or failed fatally).
    #[error("the producer is closed: {1}")]
    Closed(Record, Error),
    /// The record itself is unacceptable (too large, invalid).
    #[error("{1}")]
    Invalid(Record, Error),
}

impl TrySendError {
    /// The record that was not sent.
    ///
    /// ```
    /// use kproducer::{Error, Record, TrySendError};
    ///
    /// let e = TrySendError::Closed(Record::new("orders", "v").with_key("k"), Error::Closed);
    /// let record = e.into_record();
    /// assert_eq!(record.key.as_deref(), Some(&b"k"[..]));
    /// ```
    pub fn into_record(self) -> Record {
        match self {
            TrySendError::QueueFull(r)
            | TrySendError::Closed(r, _)
            | TrySendError::Invalid(r, _) => r,
        }
    }
}
