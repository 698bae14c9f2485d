//! What `cargo xtask broker start` leaves behind for `stop`, `status` and
//! the integration tests: a small `key=value` file under `target/tansu/`.
//!
//! ```text
//! pid=12345
//! port=40123
//! bootstrap=127.0.0.1:40123
//! log=/path/to/target/tansu/broker.log
//! librdkafka_lib=/home/me/.cache/kproducer/librdkafka-2.16/lib
//! ```
//!
//! `librdkafka_lib` is the `LD_LIBRARY_PATH` that makes kcat use librdkafka
//! 2.16; it is absent when the peer could not be installed.
//!
//! It lives in the checkout's target directory, not in the tool cache, so two
//! clones on one machine each manage their own broker.

use std::fs;
use std::path::{Path, PathBuf};

use crate::process::repo_root;

/// A broker this checkout started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BrokerState {
    /// The tansu process.
    pub(crate) pid: u32,
    /// The loopback port it listens on.
    pub(crate) port: u16,
    /// Where its stdout and stderr go.
    pub(crate) log: PathBuf,
    /// The directory holding librdkafka 2.16, for kcat's `LD_LIBRARY_PATH`.
    pub(crate) librdkafka_lib: Option<PathBuf>,
}

impl BrokerState {
    /// `127.0.0.1:PORT`, what a Kafka client takes as its bootstrap list.
    pub(crate) fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The file's text. `bootstrap` is written for readers (tests, shell
    /// scripts) and ignored when parsing: it follows from `port`.
    fn to_text(&self) -> String {
        let mut text = format!(
            "pid={}\nport={}\nbootstrap={}\nlog={}\n",
            self.pid,
            self.port,
            self.bootstrap(),
            self.log.display()
        );
        if let Some(lib) = &self.librdkafka_lib {
            text.push_str(&format!("librdkafka_lib={}\n", lib.display()));
        }
        text
    }

    /// Parses [`Self::to_text`]; unknown keys are ignored so the format can
    /// grow.
    fn parse(text: &str) -> Result<Self, String> {
        let mut pid = None;
        let mut port = None;
        let mut log = None;
        let mut librdkafka_lib = None;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let Some((key, value)) = line.split_once('=') else {
                return Err(format!("line `{line}` is not key=value"));
            };
            match key {
                "pid" => {
                    pid = Some(
                        value
                            .parse::<u32>()
                            .map_err(|e| format!("pid `{value}`: {e}"))?,
                    );
                }
                "port" => {
                    port = Some(
                        value
                            .parse::<u16>()
                            .map_err(|e| format!("port `{value}`: {e}"))?,
                    );
                }
                "log" => log = Some(PathBuf::from(value)),
                "librdkafka_lib" => librdkafka_lib = Some(PathBuf::from(value)),
                _ => {}
            }
        }
        match (pid, port, log) {
            (Some(pid), Some(port), Some(log)) => Ok(Self {
                pid,
                port,
                log,
                librdkafka_lib,
            }),
            _ => Err("pid, port or log is missing".to_string()),
        }
    }
}

/// The directory for the state file and the broker's log:
/// `$CARGO_TARGET_DIR/tansu`, else `<repo>/target/tansu`.
pub(crate) fn state_dir() -> PathBuf {
    let root = repo_root();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .filter(|v| !v.is_empty())
        .map_or_else(|| root.join("target"), |dir| root.join(dir));
    target.join("tansu")
}

fn state_file(dir: &Path) -> PathBuf {
    dir.join("broker.state")
}

/// Reads the state file in `dir`; `Ok(None)` when there is none.
pub(crate) fn load(dir: &Path) -> Result<Option<BrokerState>, String> {
    let path = state_file(dir);
    match fs::read_to_string(&path) {
        Ok(text) => BrokerState::parse(&text).map(Some).map_err(|why| {
            format!(
                "{} is damaged ({why}); delete it (and stop any tansu by hand)",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Writes the state file in `dir`, replacing any earlier one.
pub(crate) fn save(dir: &Path, state: &BrokerState) -> Result<(), String> {
    let path = state_file(dir);
    fs::write(&path, state.to_text()).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Removes the state file in `dir`, if there is one.
pub(crate) fn forget(dir: &Path) -> Result<(), String> {
    let path = state_file(dir);
    match fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot remove {}: {e}", path.display())),
    }
}

/// True when `pid` is a live (not zombie) tansu process. Checking the
/// command line guards against the pid having been reused by another
/// program since the state file was written — `stop` must never signal a
/// stranger. Linux only (`/proc`), like the rest of the real-broker setup.
pub(crate) fn is_running_tansu(pid: u32) -> bool {
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let Ok(cmdline) = fs::read(proc_dir.join("cmdline")) else {
        return false;
    };
    let program = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    let is_tansu = Path::new(&*String::from_utf8_lossy(program))
        .file_name()
        .is_some_and(|name| name == "tansu");
    is_tansu && !is_zombie(&proc_dir)
}

/// A process that has exited but not been reaped still has a `/proc` entry
/// (state `Z` in `/proc/PID/stat`, after the parenthesised command name).
fn is_zombie(proc_dir: &Path) -> bool {
    fs::read_to_string(proc_dir.join("stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> BrokerState {
        BrokerState {
            pid: 4242,
            port: 40123,
            log: PathBuf::from("/tmp/x/broker.log"),
            librdkafka_lib: Some(PathBuf::from("/c/librdkafka-2.16/lib")),
        }
    }

    #[test]
    fn state_text_round_trips_and_names_the_bootstrap() {
        let text = example().to_text();
        assert!(text.contains("bootstrap=127.0.0.1:40123\n"));
        assert_eq!(BrokerState::parse(&text), Ok(example()));
        let without_peer = BrokerState {
            librdkafka_lib: None,
            ..example()
        };
        assert_eq!(
            BrokerState::parse(&without_peer.to_text()),
            Ok(without_peer)
        );
    }

    #[test]
    fn damaged_state_is_an_error_not_a_guess() {
        assert!(BrokerState::parse("pid=1\nport=2\n").is_err());
        assert!(BrokerState::parse("pid=x\nport=2\nlog=/l\n").is_err());
        assert!(BrokerState::parse("port=70000\npid=1\nlog=/l\n").is_err());
        assert!(BrokerState::parse("garbage").is_err());
    }

    #[test]
    fn save_load_forget() {
        let dir = std::env::temp_dir().join(format!("xtask-state-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        assert_eq!(load(&dir), Ok(None));
        save(&dir, &example()).unwrap();
        assert_eq!(load(&dir), Ok(Some(example())));
        forget(&dir).unwrap();
        assert_eq!(load(&dir), Ok(None));
        forget(&dir).unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn this_test_process_is_not_mistaken_for_tansu() {
        assert!(!is_running_tansu(std::process::id()));
        assert!(!is_running_tansu(u32::MAX));
    }
}
