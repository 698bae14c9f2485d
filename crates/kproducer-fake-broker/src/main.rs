//! `kproducer-fake-broker`: starts an in-memory fake Kafka cluster from
//! flags and serves it on 127.0.0.1, one port per broker, until stopped.
//!
//! Prints the bootstrap address (`127.0.0.1:PORT[,127.0.0.1:PORT…]`) alone
//! on the first line of stdout, then serves until SIGINT or SIGTERM (or
//! until stdin reaches end-of-file, with `--stop-on-stdin-eof`). Errors are
//! one line on stderr and a non-zero exit status.
//!
//! ```text
//! kproducer-fake-broker --brokers 3 --partitions 6 --topic perf --service-time-us 50
//! # TLS with a CA generated now, written for clients to trust:
//! kproducer-fake-broker --tls-self-signed /tmp/fake-ca.pem
//! kproducer-fake-broker --sasl-user alice:alice-secret --sasl-mechanism SCRAM-SHA-256
//! ```
//!
//! The request log is off (a long-running broker would keep every request
//! in memory) and each partition keeps at most `--retention-bytes` of
//! batches (256 MiB by default); everything else behaves as [`kproducer_fake_broker::FakeCluster`].

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use kproducer_fake_broker::{BehaviourMode, FakeCluster, SelfSignedTls, ServerTls, ServiceTime};
use kproducer_fake_broker::{SERVED_RETENTION_BYTES, SaslServerConfig};
use kproducer_net::BuiltinMechanism;

/// Which Kafka version's idempotence rules to reproduce.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Mode {
    /// Kafka 2.0 to 2.4: 59 UNKNOWN_PRODUCER_ID for a producer without state
    /// unless it starts at sequence 0.
    #[value(name = "pre-2.5")]
    Pre2_5,
    /// Kafka 2.5 to 4.4 (default): a producer without state may start at any
    /// sequence.
    #[value(name = "pre-4.5")]
    Pre4_5,
    /// Kafka 4.5 (KAFKA-15591): a partition that never held records accepts
    /// only sequence 0.
    #[value(name = "kafka-4.5")]
    Kafka4_5,
}

impl From<Mode> for BehaviourMode {
    fn from(m: Mode) -> Self {
        match m {
            Mode::Pre2_5 => BehaviourMode::Pre2_5,
            Mode::Pre4_5 => BehaviourMode::Pre4_5,
            Mode::Kafka4_5 => BehaviourMode::Kafka4_5,
        }
    }
}

/// A fake Kafka cluster on 127.0.0.1, for benchmarks and interoperability
/// tests. Prints the bootstrap address on the first line of stdout.
#[derive(Debug, Parser)]
#[command(name = "kproducer-fake-broker", version)]
struct Args {
    /// Number of brokers (ids 0..N), each on its own port.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    brokers: u16,
    /// Partitions per topic (and per auto-created topic).
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(i32).range(1..))]
    partitions: i32,
    /// A topic to create (repeatable; default `perf`).
    #[arg(long = "topic", value_name = "NAME")]
    topics: Vec<String>,
    /// Fixed time charged per request, in microseconds.
    #[arg(long, default_value_t = 0)]
    service_time_us: u64,
    /// Time charged per KiB of request, in microseconds.
    #[arg(long, default_value_t = 0)]
    service_us_per_kib: u64,
    /// The first broker's port (the others take the next ones); 0 = a free
    /// port per broker.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Create unknown topics on first use, with --partitions partitions.
    #[arg(long)]
    auto_create: bool,
    /// Largest record batch accepted (message.max.bytes).
    #[arg(long)]
    max_message_bytes: Option<usize>,
    /// Most bytes of record batches each partition keeps (Kafka's
    /// retention.bytes): older batches are dropped and the log start offset
    /// moves, so a long benchmark does not exhaust memory. Default 256 MiB
    /// per partition; -1 keeps everything.
    #[arg(
        long,
        default_value_t = SERVED_RETENTION_BYTES as i64,
        value_parser = clap::value_parser!(i64).range(-1..),
        allow_negative_numbers = true
    )]
    retention_bytes: i64,
    /// Which Kafka version's idempotence rules to reproduce.
    #[arg(long, value_enum, default_value = "pre-4.5")]
    mode: Mode,
    /// Answer duplicate batches with 46 DUPLICATE_SEQUENCE_NUMBER, as
    /// brokers before 2.0 did.
    #[arg(long)]
    legacy_duplicate_error: bool,
    /// Decode every produced batch's records to check them (false is
    /// cheaper; headers, lengths and CRCs are always checked).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    validate_records: bool,
    /// Serve TLS with this certificate chain (PEM, leaf first); needs
    /// --tls-key.
    #[arg(
        long,
        value_name = "PEM",
        requires = "tls_key",
        conflicts_with = "tls_self_signed"
    )]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (unencrypted PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve TLS with a certificate for localhost and 127.0.0.1 signed by a
    /// CA generated now, and write that CA's certificate (PEM) to this path
    /// for clients to trust (ssl.ca.location).
    #[arg(long, value_name = "CA_PEM_OUT")]
    tls_self_signed: Option<PathBuf>,
    /// Require TLS clients to present a certificate signed by this CA (PEM):
    /// Kafka's ssl.client.auth=required.
    #[arg(long, value_name = "PEM")]
    tls_client_ca: Option<PathBuf>,
    /// Also stop when stdin reaches end-of-file (for a parent process that
    /// wants the broker gone when it exits).
    #[arg(long)]
    stop_on_stdin_eof: bool,
    /// Require SASL and accept this user (repeatable), as NAME:PASSWORD.
    /// Test credentials only: command lines are visible to other local
    /// users.
    #[arg(long = "sasl-user", value_name = "NAME:PASSWORD")]
    sasl_users: Vec<String>,
    /// With --sasl-user: enable only these mechanisms (repeatable; default
    /// PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512).
    #[arg(long = "sasl-mechanism", value_name = "MECHANISM")]
    sasl_mechanisms: Vec<String>,
}

/// The SASL settings the flags ask for, if any.
fn sasl(args: &Args) -> Result<Option<SaslServerConfig>, String> {
    if args.sasl_users.is_empty() {
        if !args.sasl_mechanisms.is_empty() {
            return Err("--sasl-mechanism needs at least one --sasl-user".to_owned());
        }
        return Ok(None);
    }
    let mut config = SaslServerConfig::new();
    if !args.sasl_mechanisms.is_empty() {
        let mechanisms = args
            .sasl_mechanisms
            .iter()
            .map(|m| {
                BuiltinMechanism::parse(m).ok_or_else(|| {
                    format!("--sasl-mechanism {m}: not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512")
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        config = config.mechanisms(&mechanisms);
    }
    for user in &args.sasl_users {
        // Never echo the value: it holds a password.
        let (name, password) = user
            .split_once(':')
            .filter(|(name, _)| !name.is_empty())
            .ok_or_else(|| "--sasl-user must be NAME:PASSWORD (NAME not empty)".to_owned())?;
        config = config.user(name, password);
    }
    Ok(Some(config))
}

fn build(args: &Args) -> Result<FakeCluster, String> {
    let topics = if args.topics.is_empty() {
        vec!["perf".to_owned()]
    } else {
        args.topics.clone()
    };
    let mut builder = FakeCluster::builder()
        .brokers(args.brokers)
        .mode(args.mode.into())
        .legacy_duplicate_error(args.legacy_duplicate_error)
        .service_time(ServiceTime::new(
            Duration::from_micros(args.service_time_us),
            Duration::from_micros(args.service_us_per_kib),
        ))
        .validate_records(args.validate_records)
        // -1 (unbounded) is the only negative value the parser lets through.
        .retention_bytes(usize::try_from(args.retention_bytes).ok())
        .record_requests(false);
    for t in topics {
        builder = builder.topic(t, args.partitions);
    }
    if args.auto_create {
        builder = builder.auto_create_topics(Some(args.partitions));
    }
    if let Some(max) = args.max_message_bytes {
        builder = builder.max_message_bytes(max);
    }
    if let Some(sasl) = sasl(args)? {
        builder = builder.sasl(sasl);
    }
    builder.build().map_err(|e| e.to_string())
}

/// The signals that stop the broker, registered before the bootstrap line is
/// printed so that a parent reacting to that line cannot signal too early.
struct StopSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn register() -> Result<Self, String> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())
                .map_err(|e| format!("cannot watch for SIGINT: {e}"))?,
            terminate: signal(SignalKind::terminate())
                .map_err(|e| format!("cannot watch for SIGTERM: {e}"))?,
        })
    }

    /// Resolves when the process should stop: SIGINT, SIGTERM, or (when
    /// asked) end-of-file on stdin. Says which.
    async fn wait(mut self, stop_on_stdin_eof: bool) -> &'static str {
        let stdin_eof = async {
            if stop_on_stdin_eof {
                let mut stdin = tokio::io::stdin();
                let mut buf = [0u8; 1024];
                loop {
                    match tokio::io::AsyncReadExt::read(&mut stdin, &mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                }
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
            () = stdin_eof => "end of stdin",
        }
    }
}

fn read_pem(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// The TLS settings the flags ask for, if any.
fn server_tls(args: &Args) -> Result<Option<ServerTls>, String> {
    let tls = match (&args.tls_cert, &args.tls_key, &args.tls_self_signed) {
        (Some(cert), Some(key), _) => ServerTls::new(&read_pem(cert)?, &read_pem(key)?),
        (_, _, Some(ca_out)) => {
            let generated = SelfSignedTls::for_loopback().map_err(|e| e.to_string())?;
            std::fs::write(ca_out, generated.pki.ca_pem())
                .map_err(|e| format!("cannot write the CA to {}: {e}", ca_out.display()))?;
            generated.server_tls()
        }
        _ if args.tls_client_ca.is_some() => {
            return Err(
                "--tls-client-ca needs TLS: add --tls-cert and --tls-key, or \
                        --tls-self-signed"
                    .to_owned(),
            );
        }
        _ => return Ok(None),
    };
    Ok(Some(match &args.tls_client_ca {
        Some(ca) => tls.require_client_certificates(&read_pem(ca)?),
        None => tls,
    }))
}

async fn run(args: Args) -> Result<(), String> {
    let cluster = build(&args)?;
    let addr = format!("127.0.0.1:{}", args.port);
    let listener = match server_tls(&args)? {
        Some(tls) => cluster.listen_tls(&addr, &tls).await,
        None => cluster.listen(&addr).await,
    }
    .map_err(|e| e.to_string())?;
    let signals = StopSignals::register()?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", listener.bootstrap_servers())
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("cannot write the bootstrap address to stdout: {e}"))?;
    drop(stdout);
    let why = signals.wait(args.stop_on_stdin_eof).await;
    tracing::info!(reason = why, "stopping");
    listener.shutdown().await;
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kproducer-fake-broker: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(args));
    // A stdin read may still be blocking a thread (stopped by a signal with
    // stdin open): do not wait for it.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kproducer-fake-broker: {e}");
            ExitCode::FAILURE
        }
    }
}
