//! `cargo xtask broker start|stop|status|install|roundtrip`: a fresh tansu
//! (a Kafka-compatible broker) on 127.0.0.1 for the real-broker tests.
//!
//! `start` prints the bootstrap address `127.0.0.1:PORT` as the last line of
//! its stdout, and records pid, port and log path in
//! `target/tansu/broker.state` (see [`crate::broker_state`]).

use std::fs::{self, File};
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::broker_state::{self, BrokerState};
use crate::peer::Peer;
use crate::{process, roundtrip, tansu};

const USAGE: &str = "\
usage: cargo xtask broker COMMAND

commands:
  start [--port P] [--partitions N] [--topic NAME[:PARTITIONS]]...
          start a fresh tansu on 127.0.0.1:P (P = 0 or absent: a free port),
          stopping the one this checkout started before; create each topic
          with N partitions (default 6; NAME:PARTITIONS overrides it); print
          the bootstrap address 127.0.0.1:P as the last line
  stop    stop the tansu this checkout started (SIGTERM, then wait)
  status  say whether it runs (exit 0) or not (exit 1)
  install build tansu into the tool cache and install the librdkafka 2.16
          peer (kcat) if they are not there yet
  roundtrip [--records N] [--partitions N] [--bootstrap HOST:PORT]
          produce N numbered records (default 10000) idempotently with kcat
          (librdkafka 2.16) to a new topic, consume them back, check that
          every record arrived once and in order per partition; the broker
          is --bootstrap's, else the one `start` left running, else a fresh
          one started and stopped for the round trip";

/// How long tansu may take to open its port. It takes ~20 ms when idle; the
/// margin is for a machine busy with builds.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long tansu may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Partitions per topic when `start` is not told otherwise: the count the
/// integration tests use.
const DEFAULT_PARTITIONS: u32 = 6;

/// Lines of tansu's log shown when it fails to start.
const LOG_TAIL_LINES: usize = 20;

/// Entry point for `cargo xtask broker ARGS`.
pub(crate) fn main(args: &[String]) -> ExitCode {
    let result = match args.first().map(String::as_str) {
        Some("start") => parse_start(&args[1..]).and_then(|options| {
            let running = start(&options)?;
            println!("{}", running.bootstrap());
            Ok(ExitCode::SUCCESS)
        }),
        Some("stop") => stop().map(|()| ExitCode::SUCCESS),
        Some("status") => status(),
        Some("install") => tansu::ensure_installed()
            .and_then(|_| Peer::ensure_installed())
            .map(|peer| {
                println!(
                    "librdkafka 2.16 for kcat: LD_LIBRARY_PATH={}",
                    peer.lib_dir().display()
                );
                ExitCode::SUCCESS
            }),
        Some("roundtrip") => roundtrip::main(&args[1..]),
        Some("--help" | "-h" | "help") => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        Some(other) => Err(format!("unknown command `{other}`\n{USAGE}")),
        None => Err(USAGE.to_string()),
    };
    result.unwrap_or_else(|why| {
        eprintln!("xtask broker: {why}");
        ExitCode::FAILURE
    })
}

/// A topic `start` creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TopicSpec {
    /// Its name.
    pub(crate) name: String,
    /// How many partitions it gets.
    pub(crate) partitions: u32,
}

/// What `start` was asked for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct StartOptions {
    /// The port; `None` picks a free one.
    pub(crate) port: Option<u16>,
    /// Topics to create once the broker listens.
    pub(crate) topics: Vec<TopicSpec>,
}

/// Parses `start`'s arguments. `--partitions` applies to every `--topic`
/// without its own `:PARTITIONS`, wherever it appears.
fn parse_start(args: &[String]) -> Result<StartOptions, String> {
    let mut port = None;
    let mut partitions = DEFAULT_PARTITIONS;
    let mut topics: Vec<(String, Option<u32>)> = Vec::new();
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let mut value = || {
            rest.next()
                .ok_or_else(|| format!("`{flag}` needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--port" => {
                let v = value()?;
                let p: u16 = v
                    .parse()
                    .map_err(|_| format!("--port `{v}` is not a port number (0–65535)"))?;
                port = (p != 0).then_some(p);
            }
            "--partitions" => partitions = parse_partitions(value()?)?,
            "--topic" => {
                let v = value()?;
                let (name, own) = match v.split_once(':') {
                    Some((name, n)) => (name, Some(parse_partitions(n)?)),
                    None => (v.as_str(), None),
                };
                if name.is_empty() {
                    return Err(format!("--topic `{v}` has no name"));
                }
                topics.push((name.to_string(), own));
            }
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    Ok(StartOptions {
        port,
        topics: topics
            .into_iter()
            .map(|(name, own)| TopicSpec {
                name,
                partitions: own.unwrap_or(partitions),
            })
            .collect(),
    })
}

fn parse_partitions(v: &str) -> Result<u32, String> {
    match v.parse::<u32>() {
        Ok(n) if (1..=i32::MAX as u32).contains(&n) => Ok(n),
        _ => Err(format!("partitions `{v}` must be a whole number ≥ 1")),
    }
}

/// A free loopback port: bind port 0, read what the kernel chose, release
/// it. Another program could take it before tansu binds it; tansu then
/// fails to start and says so in its log, which `start` shows.
pub(crate) fn free_port() -> Result<u16, String> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| format!("cannot find a free port on 127.0.0.1: {e}"))
}

/// Starts a fresh tansu as asked, returning what it records in the state
/// file. The broker outlives xtask; `stop` ends it.
pub(crate) fn start(options: &StartOptions) -> Result<BrokerState, String> {
    let tansu = tansu::ensure_installed()?;
    // The tests need the peer too; without it the broker is still useful
    // (the kproducer CLI, benchmarks), so its absence is a warning here and
    // an error where kcat is run.
    let peer = Peer::ensure_installed()
        .inspect_err(|why| eprintln!("warning: no librdkafka 2.16 peer: {why}"))
        .ok();
    let dir = broker_state::state_dir();
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    if let Some(old) = broker_state::load(&dir)? {
        if broker_state::is_running_tansu(old.pid) {
            println!(
                "stopping the tansu this checkout started before (pid {}, {}) so the new one starts empty",
                old.pid,
                old.bootstrap()
            );
        }
        stop_recorded(&dir, &old)?;
    }
    let port = match options.port {
        Some(port) => {
            // Fail clearly rather than wait for a port some other program
            // already answers on (the wait would "succeed" against it).
            TcpListener::bind((Ipv4Addr::LOCALHOST, port)).map_err(|e| {
                format!("port {port} on 127.0.0.1 is not free ({e}); pick another or omit --port")
            })?;
            port
        }
        None => free_port()?,
    };
    let log = dir.join("broker.log");
    let log_file =
        File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let log_err = log_file
        .try_clone()
        .map_err(|e| format!("cannot reuse {} for stderr: {e}", log.display()))?;
    let url = format!("tcp://127.0.0.1:{port}");
    let mut cmd = Command::new(&tansu);
    cmd.args([
        "broker",
        "--listener-url",
        &url,
        "--advertised-listener-url",
        &url,
    ])
    .args(["--storage-engine", "memory://tansu/"])
    // tansu logs through RUST_LOG; a RUST_LOG meant for our own tests
    // would make it log every request. KPRODUCER_TANSU_LOG chooses.
    .env("RUST_LOG", tansu_log_filter())
    // Settings tansu takes from the environment that we do not pass as
    // flags: an OTLP endpoint or schema registry meant for something else
    // must not change the broker under test.
    .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
    .env_remove("SCHEMA_REGISTRY")
    .env_remove("CLUSTER_ID")
    // tansu loads a `.env` file from its working directory; run it
    // where none can be, so the repository cannot change its settings.
    .current_dir(&dir)
    .stdin(Stdio::null())
    .stdout(log_file)
    .stderr(log_err)
    // Its own process group: a Ctrl-C meant for a later foreground
    // command in the same terminal does not reach the broker.
    .process_group(0);
    println!("{}  > {}", process::describe(&cmd), log.display());
    let launched = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", tansu.display()))?;
    let state = BrokerState {
        pid: child.id(),
        port,
        log: log.clone(),
        librdkafka_lib: peer.map(|peer| peer.lib_dir().to_path_buf()),
    };
    // Recorded before waiting, so `stop` can clean up whatever happens next.
    broker_state::save(&dir, &state)?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            broker_state::forget(&dir)?;
            return Err(format!(
                "tansu exited during startup ({status}); the end of {}:\n{}",
                log.display(),
                log_tail(&log)
            ));
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            break;
        }
        if launched.elapsed() >= START_TIMEOUT {
            let tail = log_tail(&log);
            stop_recorded(&dir, &state)?;
            return Err(format!(
                "tansu did not open {addr} within {} s (stopped it); the end of {}:\n{tail}",
                START_TIMEOUT.as_secs(),
                log.display()
            ));
        }
        thread::sleep(Duration::from_millis(5));
    }
    println!(
        "tansu {} (pid {}) accepts connections on {addr} {} ms after launch; log: {}",
        tansu::VERSION,
        state.pid,
        launched.elapsed().as_millis(),
        log.display()
    );
    for topic in &options.topics {
        if let Err(why) = create_topic(&tansu, &state.bootstrap(), topic) {
            stop_recorded(&dir, &state)?;
            return Err(format!("{why} (stopped the broker)"));
        }
    }
    Ok(state)
}

/// tansu's log filter: `$KPRODUCER_TANSU_LOG`, else `warn`.
fn tansu_log_filter() -> String {
    std::env::var("KPRODUCER_TANSU_LOG")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "warn".to_string())
}

/// Creates `topic` on the broker at `bootstrap` (`HOST:PORT`) with tansu's
/// own admin client.
pub(crate) fn create_topic(tansu: &Path, bootstrap: &str, topic: &TopicSpec) -> Result<(), String> {
    let mut cmd = Command::new(tansu);
    cmd.args(["topic", "create", "--broker"])
        .arg(format!("tcp://{bootstrap}"))
        .arg("--partitions")
        .arg(topic.partitions.to_string())
        .arg(&topic.name)
        .stdin(Stdio::null());
    println!("{}", process::describe(&cmd));
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run `tansu topic create`: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "creating topic `{}` failed ({}):\n{}{}",
            topic.name,
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// `stop`: ends the tansu this checkout started, if any.
fn stop() -> Result<(), String> {
    let dir = broker_state::state_dir();
    match broker_state::load(&dir)? {
        Some(state) => stop_recorded(&dir, &state),
        None => {
            println!("no tansu started by this checkout is recorded; nothing to stop");
            Ok(())
        }
    }
}

/// Sends SIGTERM to `state.pid` if it still is tansu, waits for it to go
/// (SIGKILL after [`STOP_TIMEOUT`]), and removes the state file.
pub(crate) fn stop_recorded(dir: &Path, state: &BrokerState) -> Result<(), String> {
    if !broker_state::is_running_tansu(state.pid) {
        println!(
            "tansu pid {} ({}) is no longer running; forgetting it",
            state.pid,
            state.bootstrap()
        );
        return broker_state::forget(dir);
    }
    let asked = Instant::now();
    signal(state.pid, "TERM")?;
    while broker_state::is_running_tansu(state.pid) {
        if asked.elapsed() >= STOP_TIMEOUT {
            println!(
                "tansu pid {} ignored SIGTERM for {} s; killing it",
                state.pid,
                STOP_TIMEOUT.as_secs()
            );
            signal(state.pid, "KILL")?;
            thread::sleep(Duration::from_millis(100));
            break;
        }
        thread::sleep(Duration::from_millis(10));
    }
    println!(
        "stopped tansu pid {} ({}) in {} ms",
        state.pid,
        state.bootstrap(),
        asked.elapsed().as_millis()
    );
    broker_state::forget(dir)
}

/// `kill -SIGNAL PID` (xtask stays free of libc).
fn signal(pid: u32, name: &str) -> Result<(), String> {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .map_err(|e| format!("cannot run `kill`: {e}"))?;
    // The process may have exited between the check and the signal; the
    // caller looks again either way.
    if !status.success() && broker_state::is_running_tansu(pid) {
        return Err(format!("`kill -{name} {pid}` failed ({status})"));
    }
    Ok(())
}

/// `status`: exit 0 and the address when the recorded tansu runs, else 1.
fn status() -> Result<ExitCode, String> {
    let dir = broker_state::state_dir();
    match broker_state::load(&dir)? {
        Some(state) if broker_state::is_running_tansu(state.pid) => {
            println!(
                "running: tansu pid {}, log {}",
                state.pid,
                state.log.display()
            );
            println!("{}", state.bootstrap());
            Ok(ExitCode::SUCCESS)
        }
        Some(state) => {
            println!(
                "not running: tansu pid {} ({}) has exited; its log: {}",
                state.pid,
                state.bootstrap(),
                state.log.display()
            );
            broker_state::forget(&dir)?;
            Ok(ExitCode::FAILURE)
        }
        None => {
            println!("not running: no tansu started by this checkout");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The last lines of the broker's log, for error messages.
fn log_tail(log: &Path) -> String {
    let mut text = String::new();
    if File::open(log)
        .and_then(|mut f| f.read_to_string(&mut text))
        .is_err()
    {
        return format!("({} could not be read)", log.display());
    }
    last_lines(&text, LOG_TAIL_LINES)
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn start_defaults_to_a_free_port_and_no_topics() {
        assert_eq!(parse_start(&[]), Ok(StartOptions::default()));
        assert_eq!(parse_start(&args("--port 0")), Ok(StartOptions::default()));
    }

    #[test]
    fn partitions_apply_to_every_topic_without_its_own_count() {
        let options = parse_start(&args("--topic a --port 9 --topic b:2 --partitions 3")).unwrap();
        assert_eq!(options.port, Some(9));
        assert_eq!(
            options.topics,
            vec![
                TopicSpec {
                    name: "a".into(),
                    partitions: 3
                },
                TopicSpec {
                    name: "b".into(),
                    partitions: 2
                },
            ]
        );
        let defaulted = parse_start(&args("--topic t")).unwrap();
        assert_eq!(defaulted.topics[0].partitions, DEFAULT_PARTITIONS);
    }

    #[test]
    fn bad_arguments_say_what_is_wrong() {
        for (input, expected) in [
            ("--port", "needs a value"),
            ("--port 70000", "not a port number"),
            ("--partitions 0", "≥ 1"),
            ("--topic :3", "has no name"),
            ("--topic t:x", "≥ 1"),
            ("--bogus", "unknown argument `--bogus`"),
        ] {
            let err = parse_start(&args(input)).unwrap_err();
            assert!(err.contains(expected), "{input}: {err}");
        }
    }

    #[test]
    fn free_port_is_bindable() {
        let port = free_port().unwrap();
        assert_ne!(port, 0);
        TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
    }

    #[test]
    fn log_tail_keeps_the_last_lines() {
        assert_eq!(last_lines("a\nb\nc\n", 2), "b\nc");
        assert_eq!(last_lines("a", 5), "a");
        assert_eq!(last_lines("", 5), "");
    }
}
