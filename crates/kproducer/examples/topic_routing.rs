//! Measures what routing costs per record as topics get longer names and
//! more numerous: sends keyless 100-byte records round-robin over
//! `--topics` topics to a broker and prints the process's CPU seconds per
//! million records.
//!
//! ```text
//! cargo run --release -p kproducer --example topic_routing -- \
//!     --bootstrap 127.0.0.1:9092 --topics 3 --name-len 60 --records 2000000
//! ```
//!
//! Topic names are `t0`, `t1`, … padded with `x` to `--name-len`
//! characters (the broker must have them: `kproducer-fake-broker --topic
//! …` or `--auto-create`). Each record is built from its topic's
//! [`Topic`] handle, as an application that keeps one handle per topic
//! does.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kproducer::{DeliveryFuture, Producer, Record, Topic, TrySendError};

/// Records sent before the oldest outstanding outcome is awaited.
const WINDOW: usize = 200_000;

struct Args {
    bootstrap: String,
    topics: usize,
    name_len: usize,
    records: usize,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        bootstrap: "127.0.0.1:9092".into(),
        topics: 1,
        name_len: 4,
        records: 1_000_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let number = || value.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--bootstrap" => args.bootstrap = value.clone(),
            "--topics" => args.topics = number()?.max(1),
            "--name-len" => args.name_len = number()?,
            "--records" => args.records = number()?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(args)
}

/// The names `--topics` and `--name-len` describe.
fn names(topics: usize, len: usize) -> Vec<String> {
    (0..topics)
        .map(|i| {
            let mut name = format!("t{i}");
            while name.len() < len {
                name.push('x');
            }
            name
        })
        .collect()
}

/// User plus system CPU time of this process, from `/proc/self/stat`.
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    // utime and stime are fields 14 and 15 of the line (11 and 12 here).
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // The kernel's USER_HZ is 100 on every Linux this runs on.
    Some(Duration::from_millis(ticks * 10))
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let producer = Producer::builder()
        .bootstrap_servers([args.bootstrap.as_str()])
        .linger(Duration::from_millis(5))
        .batch_size(1 << 20)
        .build()?;
    let topics: Vec<Topic> = names(args.topics, args.name_len)
        .into_iter()
        .map(Topic::new)
        .collect();
    // Warm up: every topic's metadata and connections.
    for t in &topics {
        producer
            .send(Record::new(t.clone(), Bytes::new()))
            .await?
            .await?;
    }
    let payload = Bytes::from(vec![b'x'; 100]);
    let mut outstanding: VecDeque<DeliveryFuture> = VecDeque::with_capacity(WINDOW);
    let cpu_before = process_cpu();
    let start = Instant::now();
    for i in 0..args.records {
        let mut record = Record::new(topics[i % topics.len()].clone(), payload.clone());
        loop {
            match producer.try_send(record) {
                Ok(delivery) => {
                    outstanding.push_back(delivery);
                    break;
                }
                Err(TrySendError::QueueFull(back)) => {
                    record = back;
                    if let Some(oldest) = outstanding.pop_front() {
                        oldest.await?;
                    } else {
                        outstanding.push_back(producer.send(record).await?);
                        break;
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        if outstanding.len() >= WINDOW
            && let Some(oldest) = outstanding.pop_front()
        {
            oldest.await?;
        }
    }
    for delivery in outstanding {
        delivery.await?;
    }
    let elapsed = start.elapsed();
    let cpu = process_cpu()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    producer.close(Duration::from_secs(10)).await;
    let per_million = |d: Duration| d.as_secs_f64() * 1e6 / args.records as f64;
    println!(
        "{{\"topics\":{},\"name_len\":{},\"records\":{},\"elapsed_s\":{:.3},\"cpu_s_per_1m\":{}}}",
        args.topics,
        args.name_len,
        args.records,
        elapsed.as_secs_f64(),
        cpu.map_or("null".into(), |c| format!("{:.4}", per_million(c))),
    );
    Ok(())
}

fn main() -> std::process::ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("topic_routing: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("topic_routing: no runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("topic_routing: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
