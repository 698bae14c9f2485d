//! The brokers `cargo xtask bench` runs the clients against, one fresh
//! broker per client run: tansu (a real Kafka-compatible broker, in memory)
//! or kproducer's fake broker over TCP with a service time per request.
//!
//! A [`RunningBroker`] owns its process and kills it when dropped, so an
//! error anywhere in a run still leaves no broker behind. Neither touches
//! `cargo xtask broker`'s state file: a tansu someone started for the tests
//! keeps running.

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::broker::{TopicSpec, create_topic, free_port};
use crate::tansu;

/// The topic every run produces to.
pub(crate) const TOPIC: &str = "perf";

/// Its partitions.
pub(crate) const PARTITIONS: u32 = 6;

/// How long a broker may take to listen. Idle, both take milliseconds; the
/// margin is for a machine busy with builds.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// What the fake broker charges per request, modelling a replicated
/// `acks=all` leader at about 100 MB/s per connection; it serves one request
/// at a time per connection, as Kafka does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ServiceTime {
    /// Fixed time per request, µs.
    pub(crate) per_request_us: u64,
    /// Time per KiB of request, µs.
    pub(crate) per_kib_us: u64,
}

/// The benchmark's fake broker charge: 1 ms + 10 µs per KiB.
pub(crate) const FAKE_SERVICE: ServiceTime = ServiceTime {
    per_request_us: 1000,
    per_kib_us: 10,
};

/// Which broker a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BrokerKind {
    /// tansu 0.6.0, in-memory storage.
    Tansu,
    /// `kproducer-fake-broker` with [`FAKE_SERVICE`].
    Fake,
}

impl BrokerKind {
    /// The name `--only` takes.
    pub(crate) fn name(self) -> &'static str {
        match self {
            BrokerKind::Tansu => "tansu",
            BrokerKind::Fake => "fake",
        }
    }

    /// How the report's tables name it.
    pub(crate) fn describe(self) -> String {
        match self {
            BrokerKind::Tansu => format!("tansu {} (memory storage)", tansu::VERSION),
            BrokerKind::Fake => format!(
                "fake broker over TCP, {} µs + {} µs/KiB per request",
                FAKE_SERVICE.per_request_us, FAKE_SERVICE.per_kib_us
            ),
        }
    }
}

/// Where the brokers are and where their logs go.
#[derive(Debug, Clone)]
pub(crate) struct BrokerBinaries {
    /// The tansu binary (when tansu runs are planned).
    pub(crate) tansu: Option<PathBuf>,
    /// `kproducer-fake-broker`, built in release.
    pub(crate) fake: PathBuf,
    /// A directory for logs (and tansu's working directory).
    pub(crate) work_dir: PathBuf,
}

/// A broker process, killed and reaped on drop.
#[derive(Debug)]
pub(crate) struct RunningBroker {
    child: Child,
    /// Kept open: the fake broker stops when its stdin closes, which also
    /// happens if xtask itself dies.
    _stdin: Option<ChildStdin>,
    bootstrap: String,
}

impl RunningBroker {
    /// `127.0.0.1:PORT`.
    pub(crate) fn bootstrap(&self) -> &str {
        &self.bootstrap
    }
}

impl Drop for RunningBroker {
    fn drop(&mut self) {
        // Memory-only brokers: nothing to flush, so no need to be gentle.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a fresh broker of `kind` with topic [`TOPIC`] of [`PARTITIONS`]
/// partitions, and waits until it accepts connections.
pub(crate) fn start(kind: BrokerKind, bins: &BrokerBinaries) -> Result<RunningBroker, String> {
    fs::create_dir_all(&bins.work_dir)
        .map_err(|e| format!("cannot create {}: {e}", bins.work_dir.display()))?;
    match kind {
        BrokerKind::Tansu => {
            let tansu = bins
                .tansu
                .as_deref()
                .ok_or("no tansu binary was found for the tansu runs")?;
            start_tansu(tansu, &bins.work_dir)
        }
        BrokerKind::Fake => start_fake(&bins.fake, &bins.work_dir),
    }
}

fn log_file(path: &Path) -> Result<(File, File), String> {
    let out = File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("cannot reuse {}: {e}", path.display()))?;
    Ok((out, err))
}

fn start_tansu(tansu: &Path, dir: &Path) -> Result<RunningBroker, String> {
    let port = free_port()?;
    let log = dir.join("tansu.log");
    let (out, err) = log_file(&log)?;
    let url = format!("tcp://127.0.0.1:{port}");
    let mut cmd = Command::new(tansu);
    cmd.args([
        "broker",
        "--listener-url",
        &url,
        "--advertised-listener-url",
        &url,
    ])
    .args(["--storage-engine", "memory://tansu/"])
    // As `cargo xtask broker start`: our RUST_LOG or OTLP settings must
    // not change the broker, nor a `.env` in its working directory.
    .env("RUST_LOG", "warn")
    .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
    .env_remove("SCHEMA_REGISTRY")
    .env_remove("CLUSTER_ID")
    .current_dir(dir)
    .stdin(Stdio::null())
    .stdout(out)
    .stderr(err)
    // Its own process group, so a Ctrl-C reaches xtask (which then
    // kills it on the way out) rather than racing it.
    .process_group(0);
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", tansu.display()))?;
    let mut broker = RunningBroker {
        child,
        _stdin: None,
        bootstrap: format!("127.0.0.1:{port}"),
    };
    wait_until_listening(&mut broker, &log)?;
    let topic = TopicSpec {
        name: TOPIC.to_string(),
        partitions: PARTITIONS,
    };
    create_topic(tansu, broker.bootstrap(), &topic)?;
    Ok(broker)
}

fn wait_until_listening(broker: &mut RunningBroker, log: &Path) -> Result<(), String> {
    let addr: SocketAddr = broker
        .bootstrap
        .parse()
        .map_err(|e| format!("bad bootstrap address {}: {e}", broker.bootstrap))?;
    let launched = Instant::now();
    loop {
        if let Ok(Some(status)) = broker.child.try_wait() {
            return Err(format!(
                "the broker exited during startup ({status}); see {}",
                log.display()
            ));
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if launched.elapsed() >= START_TIMEOUT {
            return Err(format!(
                "the broker did not open {addr} within {} s; see {}",
                START_TIMEOUT.as_secs(),
                log.display()
            ));
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// The fake broker's command line for the benchmark.
pub(crate) fn fake_broker_args() -> Vec<String> {
    vec![
        "--partitions".into(),
        PARTITIONS.to_string(),
        "--topic".into(),
        TOPIC.into(),
        "--service-time-us".into(),
        FAKE_SERVICE.per_request_us.to_string(),
        "--service-us-per-kib".into(),
        FAKE_SERVICE.per_kib_us.to_string(),
        // Headers, lengths and CRCs are still checked; decoding every record
        // would make the broker, not the clients, the thing measured.
        "--validate-records".into(),
        "false".into(),
        "--stop-on-stdin-eof".into(),
    ]
}

fn start_fake(binary: &Path, dir: &Path) -> Result<RunningBroker, String> {
    let log = dir.join("fake-broker.log");
    let (_, err) = log_file(&log)?;
    let mut child = Command::new(binary)
        .args(fake_broker_args())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    // The first stdout line is the bootstrap address; read it on a thread
    // so that a broker that never prints cannot hang xtask.
    let (tx, rx) = mpsc::channel();
    if let Some(stdout) = stdout {
        thread::spawn(move || {
            let mut line = String::new();
            let read = BufReader::new(stdout).read_line(&mut line).map(|_| line);
            let _ = tx.send(read);
        });
    }
    let mut broker = RunningBroker {
        child,
        _stdin: stdin,
        bootstrap: String::new(),
    };
    let first_line = match rx.recv_timeout(START_TIMEOUT) {
        Ok(Ok(line)) if !line.trim().is_empty() => line.trim().to_string(),
        Ok(Ok(_)) | Err(mpsc::RecvTimeoutError::Disconnected) => {
            return Err(format!(
                "{} exited without printing its address; see {}",
                binary.display(),
                log.display()
            ));
        }
        Ok(Err(e)) => return Err(format!("cannot read {}'s stdout: {e}", binary.display())),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            return Err(format!(
                "{} printed no address within {} s; see {}",
                binary.display(),
                START_TIMEOUT.as_secs(),
                log.display()
            ));
        }
    };
    broker.bootstrap = first_line;
    wait_until_listening(&mut broker, &log)?;
    Ok(broker)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fake_broker_models_one_ms_plus_ten_us_per_kib() {
        let args = fake_broker_args().join(" ");
        assert!(args.contains("--service-time-us 1000"), "{args}");
        assert!(args.contains("--service-us-per-kib 10"), "{args}");
        assert!(args.contains("--partitions 6 --topic perf"), "{args}");
    }

    #[test]
    fn a_broker_that_prints_nothing_is_an_error_not_a_hang() {
        let dir = std::env::temp_dir().join(format!("xtask-bench-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        // `true` ignores the flags and exits without printing.
        let err = start_fake(Path::new("true"), &dir).unwrap_err();
        assert!(err.contains("without printing its address"), "{err}");
        let _ = fs::remove_dir_all(&dir);
    }
}
