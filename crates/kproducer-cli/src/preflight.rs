//! Before producing: ask the bootstrap servers for the topic's metadata
//! directly, with short timeouts, so that an unreachable broker or a
//! missing topic is one clear line within seconds — rather than records
//! that wait out `delivery.timeout.ms` (two minutes by default).

use std::sync::Arc;
use std::time::Duration;

use kproducer::protocol::ErrorCode;
use kproducer::protocol::messages::{MetadataRequest, MetadataRequestTopic};
use kproducer::{ProducerConfig, Settings};
use kproducer_net::{
    BrokerAddress, CloseReason, Connection, ConnectionConfig, ConnectionError, TcpConfig,
    TcpTransport, TransportError,
};

use crate::error::CliError;

/// How long one bootstrap server gets to accept a connection and to answer.
pub(crate) const PREFLIGHT_TIMEOUT: Duration = Duration::from_secs(5);

/// Checks that some bootstrap server answers and knows `topic` (or is
/// creating it, when `allow.auto.create.topics` asks it to). Returns the
/// topic's partition count as that server sees it (0 while it is being
/// created).
pub(crate) async fn check_topic(config: &ProducerConfig, topic: &str) -> Result<usize, CliError> {
    let settings: Settings = config.validate().map_err(CliError::Config)?;
    let tcp = TcpTransport::new(TcpConfig {
        connect_timeout: PREFLIGHT_TIMEOUT,
        ..TcpConfig::default()
    });
    // The same layers (TLS, SASL) the producer will use.
    let transport = config
        .connect_through(Arc::new(tcp), PREFLIGHT_TIMEOUT)
        .map_err(CliError::Config)?;
    let conn_config = ConnectionConfig {
        request_timeout: PREFLIGHT_TIMEOUT,
        client_id: Some(config.client_id.clone()),
        ..ConnectionConfig::default()
    };
    let request = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            name: Some(topic.to_owned()),
            ..MetadataRequestTopic::default()
        }]),
        allow_auto_topic_creation: config.allow_auto_create_topics,
        ..MetadataRequest::default()
    };
    let mut failures = Failures::default();
    for (host, port) in &settings.bootstrap {
        let address = BrokerAddress::new(host.clone(), *port);
        let attempt = async {
            let conn =
                Connection::connect(transport.as_ref(), &address, conn_config.clone()).await?;
            let response = conn.send(&request).await;
            conn.close();
            response
        };
        let response = match tokio::time::timeout(PREFLIGHT_TIMEOUT * 2, attempt).await {
            Ok(Ok(r)) => r,
            // Refused credentials will be refused by every server: say so
            // now (the message never holds the password).
            Ok(Err(ConnectionError::Connect { source, .. }))
                if source.sasl_error().is_some_and(|s| s.is_fatal()) =>
            {
                return Err(CliError::Authentication(source.to_string()));
            }
            // The transport's error already names the address, and for
            // TLS says what to set.
            Ok(Err(ConnectionError::Connect { source, .. })) => {
                failures.push(source.to_string(), is_unreachable(&source));
                continue;
            }
            // A plaintext client at a TLS port: the reason says what to set.
            Ok(Err(ConnectionError::Closed {
                broker,
                reason: reason @ CloseReason::TlsListener,
                ..
            })) => {
                failures.push(format!("{broker}: {reason}"), false);
                continue;
            }
            // Kafka's SASL listeners close a connection that sends
            // Metadata without authenticating.
            Ok(Err(e @ ConnectionError::Closed { .. })) if config.sasl_mechanism.is_none() => {
                failures.push(
                    format!(
                        "{address}: {e}; if that listener requires SASL, set \
                         security.protocol=SASL_PLAINTEXT (or SASL_SSL), sasl.mechanism, \
                         sasl.username and sasl.password"
                    ),
                    false,
                );
                continue;
            }
            Ok(Err(e)) => {
                failures.push(format!("{address}: {e}"), false);
                continue;
            }
            Err(_) => {
                failures.push(
                    format!("{address}: no answer within {:?}", PREFLIGHT_TIMEOUT * 2),
                    true,
                );
                continue;
            }
        };
        let found = response
            .topics
            .iter()
            .find(|t| t.name.as_deref() == Some(topic));
        let code = found.map_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, |t| {
            ErrorCode::from_i16(t.error_code)
        });
        let partitions = found.map_or(0, |t| t.partitions.len());
        return match code {
            ErrorCode::NONE => Ok(partitions),
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION => Err(CliError::UnknownTopic {
                topic: topic.to_owned(),
                bootstrap: address.to_string(),
            }),
            // Being created, or a leader election under way: the producer
            // waits for it.
            c if c.is_retriable() => Ok(0),
            c => Err(CliError::TopicRefused {
                topic: topic.to_owned(),
                bootstrap: address.to_string(),
                reason: c.to_string(),
            }),
        };
    }
    Err(failures.into_error())
}

/// Whether a connect failure means nothing answered there (refused,
/// unreachable, timed out, unresolvable), as opposed to a server that
/// answered and refused the settings (TLS, SASL).
fn is_unreachable(e: &TransportError) -> bool {
    matches!(
        e,
        TransportError::Connect { .. }
            | TransportError::Timeout { .. }
            | TransportError::Resolve { .. }
    )
}

/// What each bootstrap server said, in order.
#[derive(Debug, Default)]
struct Failures {
    lines: Vec<String>,
    /// Whether every failure was a server that did not answer.
    all_unreachable: bool,
}

impl Failures {
    fn push(&mut self, line: String, unreachable: bool) {
        self.all_unreachable = unreachable && (self.lines.is_empty() || self.all_unreachable);
        self.lines.push(line);
    }

    /// "Is a broker running there?" only when nothing answered; otherwise
    /// the servers' own errors, which say what to set.
    fn into_error(self) -> CliError {
        let detail = self.lines.join("; ");
        if self.all_unreachable {
            CliError::Unreachable { detail }
        } else {
            CliError::NotAccepted { detail }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused() -> TransportError {
        TransportError::Connect {
            addr: BrokerAddress::new("127.0.0.1", 9),
            source: std::io::ErrorKind::ConnectionRefused.into(),
        }
    }

    fn unknown_ca() -> TransportError {
        TransportError::TlsUnknownCa {
            addr: BrokerAddress::new("127.0.0.1", 9093),
            detail: "invalid peer certificate: UnknownIssuer".into(),
        }
    }

    fn error_for(failures: &[TransportError]) -> String {
        let mut f = Failures::default();
        for e in failures {
            f.push(e.to_string(), is_unreachable(e));
        }
        f.into_error().to_string()
    }

    #[test]
    fn only_unreachable_servers_ask_whether_a_broker_runs_there() {
        let text = error_for(&[refused()]);
        assert!(text.contains("is a broker running there?"), "{text}");
    }

    #[test]
    fn a_tls_refusal_says_what_to_set_and_not_whether_a_broker_runs_there() {
        for failures in [vec![unknown_ca()], vec![refused(), unknown_ca()]] {
            let text = error_for(&failures);
            assert!(text.contains("set ssl.ca.location"), "{text}");
            assert!(!text.contains("is a broker running there?"), "{text}");
        }
    }
}
