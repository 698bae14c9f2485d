//! `kproducer produce`: one record per line of standard input, like
//! `kcat -P`. A line is split into key and value at the first
//! `--key-separator` when given (a line without it has no key); every
//! `--header` is added to every record. Failures are reported per line on
//! stderr (`line N: why`) as they happen; the exit status is non-zero if
//! any record failed.

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use clap::Args;
use futures_util::stream::{FuturesUnordered, StreamExt};
use kproducer::{DeliveryFuture, DeliveryResult, Header, ProducerConfig, Record, Topic};
use tokio::io::AsyncBufReadExt;

use crate::error::{self, CliError};
use crate::key_value::parse_all;
use crate::preflight;
use crate::producer_config::{config_from, prop, start_producer};

/// How long closing the producer may take once stdin has ended and every
/// record has its outcome.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(30);

/// Produce one record per line of standard input.
#[derive(Debug, Clone, Args)]
pub(crate) struct ProduceArgs {
    /// Brokers to bootstrap from.
    #[arg(long, value_name = "HOST:PORT[,HOST:PORT…]")]
    pub(crate) bootstrap: String,

    /// Topic to produce to.
    #[arg(long)]
    pub(crate) topic: String,

    /// Split each line into key and value at the first occurrence of SEP
    /// (a line without SEP is sent without a key).
    #[arg(long, value_name = "SEP")]
    pub(crate) key_separator: Option<String>,

    /// A header added to every record, as `key=value` (repeatable).
    #[arg(long = "header", value_name = "KEY=VALUE")]
    pub(crate) headers: Vec<String>,

    /// Any producer property, as `key=value` (repeatable).
    #[arg(long = "property", value_name = "KEY=VALUE")]
    pub(crate) properties: Vec<String>,
}

/// How many lines were sent and how many failed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Outcome {
    records: u64,
    failed: u64,
}

/// Runs `kproducer produce`.
pub(crate) fn main(args: &ProduceArgs) -> ExitCode {
    match run(args) {
        Ok(outcome) if outcome.failed == 0 => ExitCode::SUCCESS,
        Ok(outcome) => {
            eprintln!(
                "kproducer produce: {} of {} records failed",
                outcome.failed, outcome.records
            );
            ExitCode::FAILURE
        }
        Err(e) => error::report("produce", &e),
    }
}

fn run(args: &ProduceArgs) -> Result<Outcome, CliError> {
    let headers: Vec<Header> = parse_all("--header", &args.headers)?
        .into_iter()
        .map(|(k, v)| Header::new(k, v))
        .collect();
    if args.key_separator.as_deref() == Some("") {
        return Err(CliError::Usage(
            "--key-separator must not be empty".to_owned(),
        ));
    }
    let config = config_from(
        vec![prop("bootstrap.servers", &args.bootstrap)],
        &args.properties,
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    runtime.block_on(produce(args, config, headers))
}

/// A record's delivery, with its line number.
#[derive(Debug)]
struct LineDelivery {
    line: u64,
    delivery: DeliveryFuture,
}

impl Future for LineDelivery {
    type Output = (u64, DeliveryResult);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let line = self.line;
        Pin::new(&mut self.delivery).poll(cx).map(|r| (line, r))
    }
}

/// Splits a line into `(key, value)` at the first `separator`.
fn split_line<'a>(line: &'a [u8], separator: Option<&[u8]>) -> (Option<&'a [u8]>, &'a [u8]) {
    let Some(sep) = separator else {
        return (None, line);
    };
    match line.windows(sep.len()).position(|w| w == sep) {
        Some(at) => (Some(&line[..at]), &line[at + sep.len()..]),
        None => (None, line),
    }
}

fn report_failure(outcome: &mut Outcome, line: u64, error: &dyn std::fmt::Display) {
    outcome.failed += 1;
    eprintln!("kproducer produce: line {line}: {error}");
}

async fn produce(
    args: &ProduceArgs,
    config: ProducerConfig,
    headers: Vec<Header>,
) -> Result<Outcome, CliError> {
    let _partitions = preflight::check_topic(&config, &args.topic).await?;
    let producer = start_producer(config)?;
    let topic = Topic::new(args.topic.as_str());
    let separator = args.key_separator.as_deref().map(str::as_bytes);
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin());
    let mut pending: FuturesUnordered<LineDelivery> = FuturesUnordered::new();
    let mut outcome = Outcome::default();
    let mut buf = Vec::new();
    let mut line = 0u64;
    loop {
        // read_until keeps what it read in `buf` if the other branch wins,
        // and the next call continues the same line: `buf` is cleared only
        // once a whole line was handled.
        let read = tokio::select! {
            read = stdin.read_until(b'\n', &mut buf) => read.map_err(CliError::Stdin)?,
            Some((n, result)) = pending.next(), if !pending.is_empty() => {
                if let Err(e) = result {
                    report_failure(&mut outcome, n, &e);
                }
                continue;
            }
        };
        if read == 0 && buf.is_empty() {
            break;
        }
        line += 1;
        outcome.records += 1;
        let text = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let (key, value) = split_line(text, separator);
        let mut record = Record::new(topic.clone(), Bytes::copy_from_slice(value));
        if let Some(k) = key {
            record = record.with_key(Bytes::copy_from_slice(k));
        }
        for h in &headers {
            record = record.with_header(h.clone());
        }
        buf.clear();
        match producer.send(record).await {
            Ok(delivery) => pending.push(LineDelivery { line, delivery }),
            Err(e) => report_failure(&mut outcome, line, &e),
        }
    }
    while let Some((n, result)) = pending.next().await {
        if let Err(e) = result {
            report_failure(&mut outcome, n, &e);
        }
    }
    producer.close(CLOSE_TIMEOUT).await;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_at_the_first_separator() {
        assert_eq!(
            split_line(b"k:v:w", Some(b":")),
            (Some(&b"k"[..]), &b"v:w"[..])
        );
        assert_eq!(
            split_line(b"k::v", Some(b"::")),
            (Some(&b"k"[..]), &b"v"[..])
        );
        assert_eq!(split_line(b"no-sep", Some(b":")), (None, &b"no-sep"[..]));
        assert_eq!(split_line(b"a:b", None), (None, &b"a:b"[..]));
        assert_eq!(split_line(b":v", Some(b":")), (Some(&b""[..]), &b"v"[..]));
    }
}
