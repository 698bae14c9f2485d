//! What `cargo xtask bench` runs: the clients, the workloads, and the one
//! command line all three clients share.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::bench_broker::TOPIC;

/// A producer client under test. All three take the same flags and print
/// the same JSON line (`bench/peers/README.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Client {
    /// `kproducer perf` (this project).
    Kproducer,
    /// `rdkafka-perf`: librdkafka through the `rdkafka` crate.
    Librdkafka,
    /// `krafka-perf`: the krafka crate (pure Rust).
    Krafka,
}

impl Client {
    /// Every client, in the order runs alternate and tables list them.
    pub(crate) const ALL: [Client; 3] = [Client::Kproducer, Client::Librdkafka, Client::Krafka];

    /// The name `--clients` takes and tables show.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Client::Kproducer => "kproducer",
            Client::Librdkafka => "librdkafka",
            Client::Krafka => "krafka",
        }
    }

    /// Parses a `--clients` name.
    pub(crate) fn from_name(name: &str) -> Option<Client> {
        Client::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The program, and the arguments that come before the shared flags.
    pub(crate) fn program(self, bins: &ClientBinaries) -> (PathBuf, &'static [&'static str]) {
        match self {
            Client::Kproducer => (bins.kproducer.clone(), &["perf"]),
            Client::Librdkafka => (bins.peers_dir.join("rdkafka-perf"), &[]),
            Client::Krafka => (bins.peers_dir.join("krafka-perf"), &[]),
        }
    }
}

/// Where the release builds of the clients are.
#[derive(Debug, Clone)]
pub(crate) struct ClientBinaries {
    /// The `kproducer` binary.
    pub(crate) kproducer: PathBuf,
    /// `bench/peers/target/release`.
    pub(crate) peers_dir: PathBuf,
}

impl ClientBinaries {
    /// The usual places under the repository root `root`.
    pub(crate) fn under(root: &Path) -> Self {
        Self {
            kproducer: root.join("target").join("release").join("kproducer"),
            peers_dir: root
                .join("bench")
                .join("peers")
                .join("target")
                .join("release"),
        }
    }
}

/// One workload: how many records of what size, idempotent or not, and
/// (for the latency run) an offered load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Workload {
    /// Records produced per run.
    pub(crate) records: u64,
    /// Value bytes per record.
    pub(crate) record_size: u64,
    /// `--idempotence`.
    pub(crate) idempotent: bool,
    /// `--throughput`, records/s; `None` is as fast as the client can.
    pub(crate) throughput: Option<u64>,
    /// The long run of the headline workload: five times the records, so
    /// that a client that adapts (kproducer's connection scaler, which
    /// needs a few hundred milliseconds per step) is measured mostly at the
    /// width it settles on rather than while it ramps up.
    pub(crate) sustained: bool,
}

impl Workload {
    /// How the tables name it: `1M × 100 B, idempotent`.
    pub(crate) fn label(&self) -> String {
        let count = if self.records >= 1_000_000 && self.records.is_multiple_of(1_000_000) {
            format!("{}M", self.records / 1_000_000)
        } else if self.records >= 1000 && self.records.is_multiple_of(1000) {
            format!("{}k", self.records / 1000)
        } else {
            self.records.to_string()
        };
        let size = if self.record_size >= 1024 && self.record_size.is_multiple_of(1024) {
            format!("{} KiB", self.record_size / 1024)
        } else {
            format!("{} B", self.record_size)
        };
        let idempotence = if self.idempotent {
            "idempotent"
        } else {
            "not idempotent"
        };
        match self.throughput {
            Some(rate) => format!("{count} × {size}, {idempotence}, at {rate} records/s"),
            None => format!("{count} × {size}, {idempotence}"),
        }
    }

    /// The flags every client gets for this workload against `bootstrap`.
    pub(crate) fn flags(&self, bootstrap: &str) -> Vec<String> {
        let mut flags: Vec<String> = [
            "--bootstrap",
            bootstrap,
            "--topic",
            TOPIC,
            "--num-records",
            &self.records.to_string(),
            "--record-size",
            &self.record_size.to_string(),
            "--acks",
            "all",
            "--idempotence",
            if self.idempotent { "true" } else { "false" },
            "--compression",
            "none",
            "--linger-ms",
            "5",
            "--batch-size",
            "1048576",
            "--json",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        if let Some(rate) = self.throughput {
            flags.push("--throughput".into());
            flags.push(rate.to_string());
        }
        flags
    }

    /// How long one run may take before it is killed: generous (the machine
    /// is shared, and the slowest client is 3× slower than the fastest),
    /// but bounded.
    pub(crate) fn time_limit(&self) -> Duration {
        let paced = self
            .throughput
            .map_or(0, |rate| self.records.div_ceil(rate.max(1)));
        // ~200k records/s of 100 B is the slowest rate seen here; 1 KiB
        // records cost about twice as much each.
        let unpaced = self.records * self.record_size.div_ceil(512) / 100_000;
        Duration::from_secs(120 + 3 * paced.max(unpaced))
    }
}

/// The throughput workloads: 1M × 100 B idempotent and not, 200k × 1 KiB
/// idempotent, and 5M × 100 B idempotent (the sustained run); `quick`
/// divides the record counts by 20 for a smoke test.
pub(crate) fn workloads(quick: bool) -> Vec<Workload> {
    let scale = if quick { 20 } else { 1 };
    let run = |records: u64, record_size, idempotent, sustained| Workload {
        records: records / scale,
        record_size,
        idempotent,
        throughput: None,
        sustained,
    };
    vec![
        run(1_000_000, 100, true, false),
        run(1_000_000, 100, false, false),
        run(200_000, 1024, true, false),
        run(5_000_000, 100, true, true),
    ]
}

/// The latency run: the first workload offered at `rate` records/s.
pub(crate) fn latency_workload(quick: bool, rate: u64) -> Workload {
    Workload {
        throughput: Some(rate.max(1)),
        ..workloads(quick).remove(0)
    }
}

/// The command for one run of `client` on `workload`.
pub(crate) fn command(
    client: Client,
    bins: &ClientBinaries,
    workload: &Workload,
    bootstrap: &str,
) -> Command {
    let (program, leading) = client.program(bins);
    let mut cmd = Command::new(program);
    cmd.args(leading).args(workload.flags(bootstrap));
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_client_gets_the_same_flags() {
        let bins = ClientBinaries::under(Path::new("/repo"));
        let w = &workloads(false)[1];
        let args = |c| {
            command(c, &bins, w, "127.0.0.1:9")
                .get_args()
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        };
        let kproducer = args(Client::Kproducer);
        assert_eq!(kproducer[0], "perf");
        assert_eq!(kproducer[1..], args(Client::Librdkafka)[..]);
        assert_eq!(args(Client::Librdkafka), args(Client::Krafka));
        let line = kproducer.join(" ");
        for expected in [
            "--num-records 1000000",
            "--record-size 100",
            "--idempotence false",
            "--linger-ms 5",
            "--batch-size 1048576",
            "--topic perf",
            "--json",
        ] {
            assert!(line.contains(expected), "{line}");
        }
        assert!(!line.contains("--throughput"));
    }

    #[test]
    fn the_latency_run_paces_the_idempotent_workload() {
        let w = latency_workload(false, 700_000);
        assert_eq!(w.label(), "1M × 100 B, idempotent, at 700000 records/s");
        assert!(w.flags("b:1").join(" ").ends_with("--throughput 700000"));
        assert!(w.time_limit() >= Duration::from_secs(120));
    }

    #[test]
    fn labels_and_quick_sizes() {
        let labels: Vec<String> = workloads(false).iter().map(Workload::label).collect();
        assert_eq!(
            labels,
            [
                "1M × 100 B, idempotent",
                "1M × 100 B, not idempotent",
                "200k × 1 KiB, idempotent",
                "5M × 100 B, idempotent"
            ]
        );
        let quick: Vec<u64> = workloads(true).iter().map(|w| w.records).collect();
        assert_eq!(quick, [50_000, 50_000, 10_000, 250_000]);
    }

    #[test]
    fn client_names_round_trip() {
        for c in Client::ALL {
            assert_eq!(Client::from_name(c.name()), Some(c));
        }
        assert_eq!(Client::from_name("kafka"), None);
    }
}
