//! Which broker the tests run against, found from the environment, and
//! what to do when there is none: print why and skip, or — under CI, where
//! a skip would hide that nothing was tested — fail.

use std::io::Write;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::kcat::Kcat;
use crate::topics::TopicAdmin;

/// The bootstrap address of the broker under test (`HOST:PORT`).
pub const BOOTSTRAP_ENV: &str = "KPRODUCER_BOOTSTRAP";
/// The directory holding librdkafka 2.16's `librdkafka.so.1`, for kcat.
pub const KCAT_LIBDIR_ENV: &str = "KPRODUCER_KCAT_LIBDIR";
/// Set (to anything but `0`) to make a missing broker a failure even
/// outside CI; `cargo xtask ci` sets it.
pub const REQUIRE_ENV: &str = "KPRODUCER_ITESTS_REQUIRE";

const START_HINT: &str = "start one with `cargo xtask broker start` (it records its address in \
     target/tansu/broker.state, which these tests read), or set KPRODUCER_BOOTSTRAP=HOST:PORT \
     and KPRODUCER_KCAT_LIBDIR=<librdkafka 2.16 lib dir>";

/// Which kind of broker answers, for the few checks where tansu and Apache
/// Kafka differ (see `docs/real-broker.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerKind {
    /// tansu 0.6.0.
    Tansu,
    /// Apache Kafka (in a container).
    ApacheKafka,
}

/// A broker to test against, and the tools to inspect it.
#[derive(Debug, Clone)]
pub struct BrokerTarget {
    /// `HOST:PORT` for `bootstrap.servers` and kcat's `-b`.
    pub bootstrap: String,
    /// What it is.
    pub kind: BrokerKind,
    /// kcat, set up to talk to it.
    pub kcat: Kcat,
    /// How topics are created on it.
    pub admin: TopicAdmin,
}

/// Writes to the real stderr, which the test harness does not capture, so a
/// skip or a measurement is never silent.
pub fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "kproducer-integration-tests: {line}");
}

/// True when a missing broker must fail the test: `CI` or
/// `KPRODUCER_ITESTS_REQUIRE` is set to something other than empty, `0` or
/// `false`.
pub fn broker_required() -> bool {
    [REQUIRE_ENV, "CI"]
        .iter()
        .any(|name| std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false"))
}

/// Skips (printing `why`) or, when [`broker_required`], panics with it.
/// Returns `None` so callers can `return` on it.
pub fn skip_or_fail<T>(test: &str, why: &str) -> Option<T> {
    if broker_required() {
        panic!("{test}: {why}; CI needs this test to run: {START_HINT}");
    }
    say(&format!("{test}: SKIPPED: {why}; {START_HINT}"));
    None
}

impl BrokerTarget {
    /// The tansu broker named by the environment, or `None` after printing
    /// why there is none (panicking instead when [`broker_required`]).
    ///
    /// Looks at `KPRODUCER_BOOTSTRAP` (and `KPRODUCER_KCAT_LIBDIR`), else at
    /// the state file `cargo xtask broker start` leaves in
    /// `target/tansu/broker.state`; then checks that something listens
    /// there and that tansu's admin command is available to create topics.
    pub fn tansu_from_env(test: &str) -> Option<Self> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let state = read_state_file();
        let (bootstrap, source) = match (env(BOOTSTRAP_ENV), &state) {
            (Some(b), _) => (b, BOOTSTRAP_ENV.to_string()),
            (None, Some(s)) => (s.bootstrap.clone(), s.path.display().to_string()),
            (None, None) => {
                return skip_or_fail(
                    test,
                    "no broker: KPRODUCER_BOOTSTRAP is not set and no broker state file exists",
                );
            }
        };
        let libdir = env(KCAT_LIBDIR_ENV)
            .map(PathBuf::from)
            .or_else(|| state.and_then(|s| s.librdkafka_lib));
        let Some(libdir) = libdir else {
            return skip_or_fail(
                test,
                "KPRODUCER_KCAT_LIBDIR is not set: kcat needs librdkafka 2.16 to talk to tansu \
                 (Debian's 2.0.2 cannot parse its ApiVersions answer; tools/install-librdkafka-peer.sh \
                 installs it and prints the directory)",
            );
        };
        if let Err(why) = reachable(&bootstrap) {
            return skip_or_fail(test, &format!("the broker from {source}: {why}"));
        }
        let Some(tansu) = TopicAdmin::find_tansu() else {
            return skip_or_fail(
                test,
                "the tansu binary (to create topics) is not found: set KPRODUCER_TANSU, or run \
                 `cargo xtask broker install`",
            );
        };
        Some(Self {
            bootstrap,
            kind: BrokerKind::Tansu,
            kcat: Kcat::new(Some(libdir)),
            admin: tansu,
        })
    }
}

/// Whether a TCP connection to `bootstrap` opens within 2 s.
pub fn reachable(bootstrap: &str) -> Result<(), String> {
    let addrs: Vec<SocketAddr> = bootstrap
        .to_socket_addrs()
        .map_err(|e| format!("`{bootstrap}` is not HOST:PORT ({e})"))?
        .collect();
    let mut last = String::from("it resolves to no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(_) => return Ok(()),
            Err(e) => last = format!("nothing accepts connections on {addr} ({e})"),
        }
    }
    Err(last)
}

/// What the tests need from `cargo xtask broker start`'s state file.
#[derive(Debug)]
struct StateFile {
    path: PathBuf,
    bootstrap: String,
    librdkafka_lib: Option<PathBuf>,
}

/// Reads `$CARGO_TARGET_DIR/tansu/broker.state` (else
/// `<repo>/target/tansu/broker.state`); `None` if absent or unreadable.
fn read_state_file() -> Option<StateFile> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()?
        .to_path_buf();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .filter(|v| !v.is_empty())
        .map_or_else(|| root.join("target"), |dir| root.join(dir));
    let path = target.join("tansu").join("broker.state");
    let text = std::fs::read_to_string(&path).ok()?;
    let mut bootstrap = None;
    let mut librdkafka_lib = None;
    for (key, value) in text.lines().filter_map(|l| l.split_once('=')) {
        match key {
            "bootstrap" => bootstrap = Some(value.to_string()),
            "librdkafka_lib" => librdkafka_lib = Some(PathBuf::from(value)),
            _ => {}
        }
    }
    Some(StateFile {
        path,
        bootstrap: bootstrap?,
        librdkafka_lib,
    })
}
