//! A fuzzed broker: the fake cluster answers ApiVersions and Metadata
//! properly, but Produce responses (and now and then any response) are
//! broken on the way back, seeded: bytes flipped, frames cut short, bodies
//! replaced with random bytes, correlation ids changed. Whatever arrives,
//! the producer must not panic and must resolve every future (with an
//! error where it cannot know better) within its delivery timeout.
//!
//! `KPRODUCER_FUZZ_SEEDS=n` runs seeds `0..n` (default 40).

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use common::Frames;
use futures_util::{SinkExt, StreamExt};
use kproducer::{Producer, Record, Topic};
use kproducer_fake_broker::{FakeCluster, FakeTransport};
use kproducer_net::{BoxStream, BrokerAddress, Transport, TransportError};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::io::DuplexStream;

/// Set by the panic hook: any panic on any thread fails the run.
static PANICKED: AtomicBool = AtomicBool::new(false);

/// Responses broken so far (to show the fuzzing bites).
static BROKEN: AtomicU64 = AtomicU64::new(0);

/// Connects through the fake broker's transport, breaking responses.
#[derive(Debug)]
struct FuzzedTransport {
    inner: FakeTransport,
    rng: Arc<Mutex<SmallRng>>,
}

#[async_trait::async_trait]
impl Transport for FuzzedTransport {
    async fn connect(&self, addr: &BrokerAddress) -> Result<BoxStream, TransportError> {
        let broker = self.inner.connect(addr).await?;
        let rng = self.rng.clone();
        Ok(common::interpose(broker, move |client, broker| {
            relay(client, broker, rng)
        }))
    }
}

/// Passes frames between the producer and the broker, remembering each
/// request's API key by correlation id and breaking some responses.
async fn relay(
    mut client: Frames<DuplexStream>,
    mut broker: Frames<BoxStream>,
    rng: Arc<Mutex<SmallRng>>,
) {
    let mut apis: Vec<(i32, i16)> = Vec::new();
    loop {
        tokio::select! {
            request = client.next() => {
                let Some(Ok(frame)) = request else { return };
                if frame.len() >= 8 {
                    let mut header = &frame[..8];
                    let api = header.get_i16();
                    let _version = header.get_i16();
                    apis.push((header.get_i32(), api));
                }
                if broker.send(frame.freeze()).await.is_err() {
                    return;
                }
            }
            response = broker.next() => {
                let Some(Ok(frame)) = response else { return };
                let correlation = (&frame[..4.min(frame.len())]).try_get_i32().unwrap_or(-1);
                let api = apis.iter().find(|(c, _)| *c == correlation).map_or(-1, |(_, a)| *a);
                let frame = frame.freeze();
                let out = {
                    let mut rng = rng.lock().unwrap();
                    // Produce (0) responses often, the rest rarely, so the
                    // producer gets far enough to send records.
                    let odds = if api == 0 { 0.5 } else { 0.02 };
                    if rng.random_bool(odds) {
                        BROKEN.fetch_add(1, Ordering::Relaxed);
                        breakage(&mut rng, frame)
                    } else {
                        Some(frame)
                    }
                };
                let Some(bytes) = out else { return };
                if client.send(bytes).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// One broken version of `frame`, or `None` to close the connection.
fn breakage(rng: &mut SmallRng, frame: Bytes) -> Option<Bytes> {
    let mut out = BytesMut::from(&frame[..]);
    match rng.random_range(0..6) {
        // Flip a few bytes after the correlation id.
        0 if out.len() > 4 => {
            for _ in 0..rng.random_range(1..8) {
                let i = rng.random_range(4..out.len());
                out[i] ^= rng.random_range(1..=255u8);
            }
        }
        // Cut the frame short.
        1 => out.truncate(rng.random_range(0..=out.len())),
        // Keep the correlation id, replace the body with random bytes.
        2 => {
            out.truncate(4.min(out.len()));
            for _ in 0..rng.random_range(0..300) {
                out.put_u8(rng.random());
            }
        }
        // Another correlation id.
        3 if out.len() >= 4 => out[..4].copy_from_slice(&rng.random::<i32>().to_be_bytes()),
        // Huge counts: set a 4-byte field to a large value.
        4 if out.len() > 8 => {
            let i = rng.random_range(4..out.len() - 4);
            out[i..i + 4].copy_from_slice(&rng.random_range(0x1000_0000..i32::MAX).to_be_bytes());
        }
        5 => return None,
        _ => {}
    }
    Some(out.freeze())
}

async fn run(seed: u64) {
    let cluster = FakeCluster::builder()
        .brokers(2)
        .topic("fuzz", 4)
        .record_requests(false)
        .build()
        .unwrap();
    let transport: Arc<dyn Transport> = Arc::new(FuzzedTransport {
        inner: cluster.transport(),
        rng: Arc::new(Mutex::new(SmallRng::seed_from_u64(seed))),
    });
    let producer = Producer::builder()
        .bootstrap_servers(cluster.bootstrap_servers().split(','))
        .transport(transport)
        .seed(seed)
        .request_timeout(Duration::from_secs(1))
        .delivery_timeout(Duration::from_secs(10))
        .linger(Duration::from_millis(2))
        .batch_size(1_000)
        .build()
        .unwrap();
    let topic = Topic::new("fuzz");
    let mut futures = Vec::new();
    for i in 0..300 {
        let record = Record::new(topic.clone(), format!("{i}")).with_partition(i % 4);
        match producer.send(record).await {
            Ok(f) => futures.push(f),
            // A fatal error refuses new records: also a valid ending.
            Err(_) => break,
        }
    }
    let all = futures_util::future::join_all(futures);
    let outcomes = tokio::time::timeout(Duration::from_secs(120), all)
        .await
        .unwrap_or_else(|_| panic!("fuzz seed {seed}: futures unresolved 120 s after sending"));
    let failed = outcomes.iter().filter(|o| o.is_err()).count();
    producer.close(Duration::from_secs(1)).await;
    assert!(
        !PANICKED.load(Ordering::SeqCst),
        "fuzz seed {seed}: something panicked (see above)"
    );
    println!(
        "fuzz seed {seed}: {} records, {failed} failed, {} responses broken so far",
        outcomes.len(),
        BROKEN.load(Ordering::Relaxed)
    );
}

#[test]
fn any_broken_response_yields_errors_not_panics_or_hangs() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICKED.store(true, Ordering::SeqCst);
        default_hook(info);
    }));
    let seeds = std::env::var("KPRODUCER_FUZZ_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40u64);
    for seed in 0..seeds {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(run(seed));
    }
}
