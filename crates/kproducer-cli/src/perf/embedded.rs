//! [`EmbeddedBroker`]: the fake broker started inside `kproducer perf`
//! (`--bootstrap embedded`), served over real TCP on 127.0.0.1, so the
//! command works on a fresh machine and the producer still goes through
//! its real network path.
//!
//! The broker runs on a tokio runtime of its own whose threads are named
//! [`BROKER_THREAD_NAME`], so its CPU time can be told apart from the
//! client's (see `kproducer_perf::threads_cpu_time`).

use std::time::Duration;

use kproducer_fake_broker::{FakeCluster, LoopbackListener, SelfSignedTls, ServiceTime};

use crate::error::CliError;

/// The name of every thread of the embedded broker's runtime (Linux keeps
/// 15 bytes of a thread's name; this fits).
pub(crate) const BROKER_THREAD_NAME: &str = "kp-fake-broker";

/// What to start.
#[derive(Debug, Clone)]
pub(crate) struct EmbeddedSpec {
    /// Brokers (ids 0..n), each on its own port.
    pub(crate) brokers: u16,
    /// The topic to create.
    pub(crate) topic: String,
    /// Its partitions, spread over the brokers.
    pub(crate) partitions: i32,
    /// Fixed time charged per request.
    pub(crate) service_time: Duration,
    /// Time charged per KiB of request.
    pub(crate) service_per_kib: Duration,
    /// Serve TLS with a self-signed certificate (`--embedded-tls`).
    pub(crate) tls: bool,
}

/// A running embedded broker; [`stop`](Self::stop) it when done.
#[derive(Debug)]
pub(crate) struct EmbeddedBroker {
    runtime: tokio::runtime::Runtime,
    listener: Option<LoopbackListener>,
    bootstrap: String,
    /// The CA that signed the broker's certificate, when serving TLS.
    ca_pem: Option<String>,
}

impl EmbeddedBroker {
    /// Builds the cluster and starts serving it on free ports of
    /// 127.0.0.1. Call outside any tokio runtime.
    pub(crate) fn start(spec: &EmbeddedSpec) -> Result<Self, CliError> {
        let cluster = FakeCluster::builder()
            .brokers(spec.brokers)
            .topic(spec.topic.clone(), spec.partitions)
            .service_time(ServiceTime::new(spec.service_time, spec.service_per_kib))
            // A benchmark's broker keeps no request log and does not decode
            // every record (headers, lengths and CRCs are still checked), so
            // that it is not what limits the client.
            .record_requests(false)
            .validate_records(false)
            .build()
            .map_err(|e| CliError::Embedded(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name(BROKER_THREAD_NAME)
            .build()
            .map_err(CliError::Runtime)?;
        let (listener, ca_pem) = if spec.tls {
            let tls =
                SelfSignedTls::for_loopback().map_err(|e| CliError::Embedded(e.to_string()))?;
            let listener = runtime.block_on(cluster.listen_tls("127.0.0.1:0", &tls.server_tls()));
            (listener, Some(tls.pki.ca_pem()))
        } else {
            (runtime.block_on(cluster.listen("127.0.0.1:0")), None)
        };
        let listener = listener.map_err(|e| CliError::Embedded(e.to_string()))?;
        let bootstrap = listener.bootstrap_servers();
        Ok(Self {
            runtime,
            listener: Some(listener),
            bootstrap,
            ca_pem,
        })
    }

    /// The CA to trust, when the broker serves TLS.
    pub(crate) fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// `127.0.0.1:PORT[,…]`, for `bootstrap.servers`.
    pub(crate) fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// Stops serving and the broker's runtime. Call outside any tokio
    /// runtime.
    pub(crate) fn stop(mut self) {
        if let Some(listener) = self.listener.take() {
            self.runtime.block_on(listener.shutdown());
        }
        self.runtime.shutdown_background();
    }
}
