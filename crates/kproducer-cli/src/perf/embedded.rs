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
    /// Most bytes of batches each partition keeps (`retention.bytes`), so
    /// a long run does not exhaust memory.
    pub(crate) retention_bytes: usize,
}

/// A running embedded broker; [`stop`](Self::stop) it when done.
#[derive(Debug)]
pub(crate) struct EmbeddedBroker {
    /// The cluster, for tests to inspect.
    #[cfg(test)]
    cluster: FakeCluster,
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
            .retention_bytes(Some(spec.retention_bytes))
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
            #[cfg(test)]
            cluster,
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use kproducer::{Producer, Record, Topic};

    use super::*;

    static VALUE: [u8; 100] = [b'x'; 100];

    /// A `kproducer perf`-sized run: an idempotent producer (the default)
    /// sends 2,000,000 records of 100 bytes (unbounded, about 37 MB of
    /// batches per partition) through the embedded broker bounded at 1 MiB
    /// per partition. Every record is acknowledged although retention drops
    /// the producer's older batches all along, and no partition holds more
    /// than the bound.
    #[test]
    fn an_idempotent_run_stays_under_the_retention_bound_without_errors() {
        const RECORDS: i64 = 2_000_000;
        const IN_FLIGHT: usize = 50_000;
        const BOUND: usize = 1024 * 1024;
        let spec = EmbeddedSpec {
            brokers: 1,
            topic: "perf".to_owned(),
            partitions: 6,
            service_time: Duration::ZERO,
            service_per_kib: Duration::ZERO,
            tls: false,
            retention_bytes: BOUND,
        };
        let broker = EmbeddedBroker::start(&spec).expect("the broker starts");
        let client = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        client.block_on(async {
            let producer = Producer::builder()
                .bootstrap_servers(broker.bootstrap().split(','))
                .build()
                .expect("a valid producer");
            assert!(producer.is_idempotent());
            let topic = Topic::new("perf");
            let mut deliveries = Vec::with_capacity(IN_FLIGHT);
            for n in 0..RECORDS {
                let record = Record::new(topic.clone(), bytes::Bytes::from_static(&VALUE));
                deliveries.push(producer.send(record).await.expect("accepted"));
                if deliveries.len() == IN_FLIGHT || n == RECORDS - 1 {
                    for d in deliveries.drain(..) {
                        if let Err(e) = d.await {
                            panic!("a record before #{n} failed: {e}");
                        }
                    }
                }
            }
            producer.close(Duration::from_secs(10)).await;
        });
        let partitions = broker.cluster.partitions();
        broker.stop();
        let mut written = 0;
        for p in &partitions {
            assert!(
                p.retained_bytes() <= BOUND,
                "{:?} holds {} bytes",
                p.topic_partition,
                p.retained_bytes()
            );
            assert!(
                p.log_start_offset > 0,
                "{:?}: retention never ran",
                p.topic_partition
            );
            written += p.high_watermark;
        }
        assert_eq!(written, RECORDS);
    }
}
