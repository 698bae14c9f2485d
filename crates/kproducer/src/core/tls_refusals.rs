//! [`TlsRefusals`]: which brokers refused this producer's TLS settings on
//! their latest connect attempt, and whether that makes the producer
//! unusable.
//!
//! A broker's certificate that fails verification (unknown CA, wrong name,
//! expired, not TLS at all) fails the same way on every attempt until
//! something changes. What must change decides what the producer does:
//!
//! - when **every** broker the producer knows of refuses (or, before the
//!   first Metadata, every bootstrap server), the producer's own settings
//!   are wrong for this cluster, or the whole cluster's certificates are:
//!   the producer fails at once with the typed error instead of retrying
//!   until `delivery.timeout.ms`;
//! - when only some brokers refuse while another connects, the settings
//!   work and those brokers' certificates are at fault (one broker's
//!   certificate expired, or lacks its advertised name), which their
//!   operator can fix without restarting clients: the producer keeps
//!   delivering to the others and retries the refusing ones, whose records
//!   time out naming the cause, as Java's producer and librdkafka do.
//!
//! Plain state: connect outcomes in, a decision out. The core owns the
//! candidates (metadata's brokers, else the bootstrap servers).

use std::collections::HashMap;
use std::sync::Arc;

use kproducer_net::{BrokerAddress, TransportError};

/// The latest TLS refusal per broker address.
#[derive(Debug, Default)]
pub(crate) struct TlsRefusals {
    refused: HashMap<BrokerAddress, Arc<TransportError>>,
}

impl TlsRefusals {
    /// Records a connect attempt's outcome: a refusal that needs a
    /// configuration change is kept; anything else (success, or a failure
    /// that says nothing about TLS settings, such as a refused TCP
    /// connection) clears what was known of `addr`.
    pub(crate) fn record(&mut self, addr: &BrokerAddress, outcome: Result<(), &TransportError>) {
        match outcome.err().and_then(TransportError::configuration_error) {
            Some(refusal) => {
                self.refused.insert(addr.clone(), Arc::new(refusal));
            }
            None => {
                self.refused.remove(addr);
            }
        }
    }

    /// When every one of `candidates` refused on its latest attempt (and
    /// there is at least one), the refusal of the first: the producer
    /// cannot reach the cluster with its settings.
    pub(crate) fn refused_by_all<'a>(
        &self,
        candidates: impl IntoIterator<Item = &'a BrokerAddress>,
    ) -> Option<(BrokerAddress, Arc<TransportError>)> {
        let mut first = None;
        for addr in candidates {
            let refusal = self.refused.get(addr)?;
            first.get_or_insert_with(|| (addr.clone(), refusal.clone()));
        }
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> BrokerAddress {
        BrokerAddress::new("broker", port)
    }

    fn unknown_ca(port: u16) -> TransportError {
        TransportError::TlsUnknownCa {
            addr: addr(port),
            detail: "UnknownIssuer".into(),
        }
    }

    #[test]
    fn a_lone_broker_that_refuses_is_everyone() {
        let mut r = TlsRefusals::default();
        r.record(&addr(1), Err(&unknown_ca(1)));
        let (who, why) = r.refused_by_all([&addr(1)]).unwrap();
        assert_eq!(who, addr(1));
        assert!(matches!(*why, TransportError::TlsUnknownCa { .. }));
    }

    #[test]
    fn one_refusing_broker_among_working_ones_is_not_fatal() {
        let mut r = TlsRefusals::default();
        r.record(&addr(1), Err(&unknown_ca(1)));
        r.record(&addr(2), Ok(()));
        assert!(r.refused_by_all([&addr(1), &addr(2)]).is_none());
        // A broker not tried yet may work: not a refusal either.
        assert!(r.refused_by_all([&addr(1), &addr(3)]).is_none());
        // Once the others refuse too, it is the settings.
        r.record(&addr(2), Err(&unknown_ca(2)));
        r.record(&addr(3), Err(&unknown_ca(3)));
        let (who, _) = r.refused_by_all([&addr(1), &addr(2), &addr(3)]).unwrap();
        assert_eq!(who, addr(1));
    }

    #[test]
    fn success_or_a_transient_failure_clears_a_refusal() {
        let mut r = TlsRefusals::default();
        r.record(&addr(1), Err(&unknown_ca(1)));
        r.record(&addr(1), Ok(()));
        assert!(r.refused_by_all([&addr(1)]).is_none());
        r.record(&addr(1), Err(&unknown_ca(1)));
        let timeout = TransportError::Timeout {
            addr: addr(1),
            timeout_ms: 10_000,
        };
        r.record(&addr(1), Err(&timeout));
        assert!(r.refused_by_all([&addr(1)]).is_none());
    }

    #[test]
    fn no_candidates_is_no_decision() {
        let mut r = TlsRefusals::default();
        r.record(&addr(1), Err(&unknown_ca(1)));
        assert!(r.refused_by_all([]).is_none());
    }
}
