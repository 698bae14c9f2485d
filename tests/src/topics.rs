//! Creating the topics a test writes to. Neither kproducer nor kcat has an
//! admin API, so each broker kind uses its own tool: tansu's `tansu topic
//! create`, Apache Kafka's `kafka-topics.sh` inside its container.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

/// The tansu version the project pins (`cargo xtask broker install`).
const TANSU_VERSION: &str = "0.6.0";

/// How topics are created on the broker under test.
#[derive(Debug, Clone)]
pub enum TopicAdmin {
    /// `TANSU topic create --broker tcp://BOOTSTRAP --partitions N NAME`.
    Tansu {
        /// The tansu binary.
        binary: PathBuf,
    },
    /// `docker exec CONTAINER /opt/kafka/bin/kafka-topics.sh --create …`,
    /// the `apache/kafka` image's own tool, talking to the broker from
    /// inside its container.
    KafkaContainer {
        /// The container's id.
        container: String,
    },
}

impl TopicAdmin {
    /// tansu's binary: `$KPRODUCER_TANSU`, else the tool cache `cargo xtask
    /// broker install` fills (`$KPRODUCER_TOOLS_CACHE`, else
    /// `$XDG_CACHE_HOME/kproducer`, else `~/.cache/kproducer`), if the file
    /// exists.
    pub fn find_tansu() -> Option<Self> {
        let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let binary = env("KPRODUCER_TANSU").map(PathBuf::from).or_else(|| {
            let cache = env("KPRODUCER_TOOLS_CACHE")
                .map(PathBuf::from)
                .or_else(|| env("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("kproducer")))
                .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".cache/kproducer")))?;
            Some(
                cache
                    .join(format!("tansu-{TANSU_VERSION}"))
                    .join("bin")
                    .join("tansu"),
            )
        })?;
        binary.is_file().then_some(Self::Tansu { binary })
    }

    /// Creates `name` with `partitions` partitions on the broker at
    /// `bootstrap`.
    ///
    /// # Errors
    /// The command that failed, with its exit status and output.
    pub fn create(&self, bootstrap: &str, name: &str, partitions: u32) -> Result<(), String> {
        let mut cmd = match self {
            Self::Tansu { binary } => {
                let mut cmd = Command::new(binary);
                cmd.args(["topic", "create", "--broker"])
                    .arg(format!("tcp://{bootstrap}"))
                    .arg("--partitions")
                    .arg(partitions.to_string())
                    .arg(name);
                cmd
            }
            Self::KafkaContainer { container } => {
                let mut cmd = Command::new("docker");
                cmd.args(["exec", container, "/opt/kafka/bin/kafka-topics.sh"])
                    .args(["--bootstrap-server", "localhost:29092", "--create"])
                    .args(["--topic", name, "--partitions"])
                    .arg(partitions.to_string())
                    .args(["--replication-factor", "1"]);
                cmd
            }
        };
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "creating topic `{name}` with {cmd:?} failed ({}):\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }
}

/// A topic name no earlier run used on a long-lived broker:
/// `<prefix>-<pid>-<milliseconds since the epoch>`.
pub fn unique_name(prefix: &str) -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("{prefix}-{}-{millis}", std::process::id())
}
