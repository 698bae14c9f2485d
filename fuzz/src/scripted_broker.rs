//! A broker whose answers are scripted by fuzz input, and one complete
//! conversation with a real `kproducer::Producer` through it.
//!
//! Shared, by `#[path]`, between the `producer_responses` fuzz target and
//! the regression tests in `crates/kproducer/tests/`, so that a crashing
//! input replays there byte for byte.
//!
//! The fake cluster computes the correct answer to every request; the
//! script then decides, response by response (in the order they come back,
//! over all connections), what the producer actually receives. Input:
//!
//! - byte 0, the producer's setup: bits 0–1 the delivery mode (0:
//!   idempotent, `acks=all`; 1: `acks=all`; 2: `acks=1`; 3: `acks=0`),
//!   bits 2–4 the number of records minus one (1–8), bit 5 one connection
//!   per broker or up to three (adaptive), bit 6 keyed records instead of
//!   explicit partitions;
//! - then operations, one per response: an op byte (its value modulo
//!   [`OPS`]) and its operands, see [`Op`]. When the script runs out every
//!   later answer passes unchanged, so every run ends with a working broker.
//!
//! What must hold whatever the script ([`converse`] panics otherwise, which
//! libFuzzer reports as a crash): no panic on any task, every delivery
//! future resolves within the delivery timeout plus one request timeout and
//! the backoff, `close` returns within its timeout, and afterwards no task is
//! left on the runtime.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use kproducer::{Acks, Producer, Record, Topic};
use kproducer_fake_broker::{FakeCluster, FakeTransport};
use kproducer_net::{BoxStream, BrokerAddress, Transport, TransportError};
use tokio_util::codec::{Framed, LengthDelimitedCodec};

/// Operations the op byte selects among (its value modulo this).
pub(crate) const OPS: u8 = 9;

/// The topic the producer writes, and its partitions.
const TOPIC: &str = "fuzz";
const PARTITIONS: i32 = 2;

/// The producer's timeouts: short, and on paused virtual time anyway.
const REQUEST_TIMEOUT: Duration = Duration::from_millis(300);
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(2);
const RETRY_BACKOFF_MAX: Duration = Duration::from_millis(100);
const CLOSE_TIMEOUT: Duration = Duration::from_millis(500);

/// What the producer receives instead of one correct response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    /// 0: the correct response.
    Pass,
    /// 1: the correct response with up to four bytes changed: a count byte
    /// (1–4), then per change a big-endian u16 position (modulo the length)
    /// and a byte to XOR there.
    Flip(Vec<(u16, u8)>),
    /// 2: the correct correlation id, then a body from the input: a length
    /// byte (255: all the rest of the input) and that many bytes.
    Body(Vec<u8>),
    /// 3: a whole frame from the input (correlation id included), length as
    /// for `Body`.
    Raw(Vec<u8>),
    /// 4: no answer at all (the request times out).
    Drop,
    /// 5: the connection closes instead.
    Close,
    /// 6: the correct response cut at a big-endian u16 position (modulo the
    /// length plus one).
    Cut(u16),
    /// 7: four bytes of the correct response, at a big-endian u16 position
    /// (modulo the length), replaced by the next four bytes of the input.
    Word(u16, [u8; 4]),
    /// 8: the correct response after a delay of 10 ms times a byte.
    Delay(u8),
}

/// The parsed input: the producer's setup and the operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Script {
    pub(crate) setup: u8,
    pub(crate) ops: VecDeque<Op>,
}

impl Script {
    /// Parses fuzz input; a truncated last operation is dropped.
    pub(crate) fn parse(data: &[u8]) -> Script {
        let (setup, mut rest) = match data {
            [setup, rest @ ..] => (*setup, rest),
            [] => (0, data),
        };
        let mut ops = VecDeque::new();
        while let Some(op) = next_op(&mut rest) {
            ops.push_back(op);
        }
        Script { setup, ops }
    }

    /// The input that parses back to this script.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.setup];
        for op in &self.ops {
            match op {
                Op::Pass => out.push(0),
                Op::Flip(flips) => {
                    // One to four changes: the count byte says how many less one.
                    out.extend([1, flips.len().clamp(1, 4) as u8 - 1]);
                    for (at, x) in flips.iter().take(4) {
                        out.extend(at.to_be_bytes());
                        out.push(*x);
                    }
                }
                Op::Body(b) | Op::Raw(b) => {
                    out.push(if matches!(op, Op::Body(_)) { 2 } else { 3 });
                    out.push(b.len().min(254) as u8);
                    out.extend(&b[..b.len().min(254)]);
                }
                Op::Drop => out.push(4),
                Op::Close => out.push(5),
                Op::Cut(at) => {
                    out.push(6);
                    out.extend(at.to_be_bytes());
                }
                Op::Word(at, w) => {
                    out.push(7);
                    out.extend(at.to_be_bytes());
                    out.extend(w);
                }
                Op::Delay(d) => out.extend([8, *d]),
            }
        }
        out
    }
}

fn take<'a>(rest: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if rest.len() < n {
        return None;
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Some(head)
}

fn take_u16(rest: &mut &[u8]) -> Option<u16> {
    take(rest, 2).map(|b| u16::from_be_bytes([b[0], b[1]]))
}

fn take_bytes(rest: &mut &[u8]) -> Option<Vec<u8>> {
    let len = take(rest, 1)?[0];
    let n = if len == 255 {
        rest.len()
    } else {
        usize::from(len)
    };
    take(rest, n).map(<[u8]>::to_vec)
}

fn next_op(rest: &mut &[u8]) -> Option<Op> {
    let code = take(rest, 1)?[0] % OPS;
    Some(match code {
        0 => Op::Pass,
        1 => {
            let count = take(rest, 1)?[0] % 4 + 1;
            let mut flips = Vec::new();
            for _ in 0..count {
                let at = take_u16(rest)?;
                flips.push((at, take(rest, 1)?[0]));
            }
            Op::Flip(flips)
        }
        2 => Op::Body(take_bytes(rest)?),
        3 => Op::Raw(take_bytes(rest)?),
        4 => Op::Drop,
        5 => Op::Close,
        6 => Op::Cut(take_u16(rest)?),
        7 => {
            let at = take_u16(rest)?;
            let w = take(rest, 4)?;
            Op::Word(at, [w[0], w[1], w[2], w[3]])
        }
        _ => Op::Delay(take(rest, 1)?[0]),
    })
}

/// What the relay does with one correct response.
enum Answer {
    Send(Bytes),
    Nothing,
    Close,
}

/// Applies `op` to the correct response `frame` (without its length).
fn apply(op: Op, frame: Bytes) -> (Answer, Duration) {
    let len = frame.len();
    let mut out = BytesMut::from(&frame[..]);
    let answer = match op {
        Op::Pass => Answer::Send(frame),
        Op::Delay(d) => {
            return (
                Answer::Send(frame),
                Duration::from_millis(10 * u64::from(d)),
            );
        }
        Op::Flip(flips) => {
            if len > 0 {
                for (at, x) in flips {
                    out[usize::from(at) % len] ^= x;
                }
            }
            Answer::Send(out.freeze())
        }
        Op::Body(body) => {
            out.truncate(4.min(len));
            out.extend_from_slice(&body);
            Answer::Send(out.freeze())
        }
        Op::Raw(raw) => Answer::Send(Bytes::from(raw)),
        Op::Drop => Answer::Nothing,
        Op::Close => Answer::Close,
        Op::Cut(at) => {
            out.truncate(usize::from(at) % (len + 1));
            Answer::Send(out.freeze())
        }
        Op::Word(at, w) => {
            if len >= 4 {
                let i = usize::from(at) % (len - 3);
                out[i..i + 4].copy_from_slice(&w);
            }
            Answer::Send(out.freeze())
        }
    };
    (answer, Duration::ZERO)
}

/// Connects through the fake broker, answering as the script says.
#[derive(Debug)]
struct ScriptedTransport {
    inner: FakeTransport,
    ops: Arc<Mutex<VecDeque<Op>>>,
}

#[async_trait::async_trait]
impl Transport for ScriptedTransport {
    async fn connect(&self, addr: &BrokerAddress) -> Result<BoxStream, TransportError> {
        let broker = self.inner.connect(addr).await?;
        let (client, ours) = tokio::io::duplex(1 << 16);
        tokio::spawn(relay(ours, broker, self.ops.clone()));
        Ok(Box::new(client))
    }
}

/// Passes requests to the fake broker and its responses, as scripted, back.
async fn relay(client: tokio::io::DuplexStream, broker: BoxStream, ops: Arc<Mutex<VecDeque<Op>>>) {
    let codec = || {
        LengthDelimitedCodec::builder()
            .length_field_length(4)
            .max_frame_length(64 << 20)
            .new_codec()
    };
    let mut client = Framed::new(client, codec());
    let mut broker = Framed::new(broker, codec());
    loop {
        tokio::select! {
            request = client.next() => {
                let Some(Ok(frame)) = request else { return };
                if broker.send(frame.freeze()).await.is_err() {
                    return;
                }
            }
            response = broker.next() => {
                let Some(Ok(frame)) = response else { return };
                let op = ops.lock().map_or(Op::Pass, |mut ops| ops.pop_front().unwrap_or(Op::Pass));
                let (answer, delay) = apply(op, frame.freeze());
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                match answer {
                    Answer::Send(bytes) => {
                        if client.send(bytes).await.is_err() {
                            return;
                        }
                    }
                    Answer::Nothing => {}
                    Answer::Close => return,
                }
            }
        }
    }
}

/// What one conversation came to (for tests and seed checks).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// Records `send` accepted.
    pub(crate) accepted: usize,
    /// Of those, delivered `Ok`.
    pub(crate) delivered: usize,
    /// Script operations left unused.
    pub(crate) unused_ops: usize,
    /// Virtual time from the first send until `close` returned.
    pub(crate) took: Duration,
}

/// One whole conversation: a producer sends a few records through the
/// scripted broker, waits for every delivery, and closes. Must run on a
/// current-thread runtime with paused time (see [`run`]); panics when an
/// invariant breaks.
pub(crate) async fn converse(data: &[u8]) -> Outcome {
    let script = Script::parse(data);
    let setup = script.setup;
    let ops = Arc::new(Mutex::new(script.ops));
    let cluster = FakeCluster::builder()
        .brokers(2)
        .topic(TOPIC, PARTITIONS)
        .record_requests(false)
        .build()
        .expect("a valid fake cluster");
    let transport: Arc<dyn Transport> = Arc::new(ScriptedTransport {
        inner: cluster.transport(),
        ops: ops.clone(),
    });
    let (acks, idempotent) = match setup & 3 {
        0 => (Acks::All, true),
        1 => (Acks::All, false),
        2 => (Acks::Leader, false),
        _ => (Acks::None, false),
    };
    let records = usize::from((setup >> 2) & 7) + 1;
    let adaptive = setup & 0x20 != 0;
    let keyed = setup & 0x40 != 0;
    let producer = Producer::builder()
        .bootstrap_servers(cluster.bootstrap_servers().split(','))
        .transport(transport)
        .seed(1)
        .enable_idempotence(idempotent)
        .acks(acks)
        .request_timeout(REQUEST_TIMEOUT)
        .delivery_timeout(DELIVERY_TIMEOUT)
        .retry_backoff(Duration::from_millis(10))
        .retry_backoff_max(RETRY_BACKOFF_MAX)
        .linger(Duration::from_millis(1))
        .max_block(Duration::from_millis(100))
        .batch_size(64)
        .adaptive_connections(adaptive)
        .connections(1, if adaptive { 3 } else { 1 })
        .build()
        .expect("a valid producer configuration");
    let topic = Topic::new(TOPIC);
    let start = tokio::time::Instant::now();
    let mut futures = Vec::new();
    for i in 0..records {
        let record = Record::new(topic.clone(), format!("record {i}"));
        let record = if keyed {
            record.with_key(format!("key {i}"))
        } else {
            record.with_partition(i as i32 % PARTITIONS)
        };
        match producer.send(record).await {
            Ok(f) => futures.push(f),
            // A fatal error refuses new records: a valid ending too.
            Err(_) => break,
        }
    }
    let accepted = futures.len();
    // Every record is answered by its delivery timeout; allow one more
    // request timeout and backoff for the answer to arrive, and a little.
    let bound = DELIVERY_TIMEOUT + REQUEST_TIMEOUT + RETRY_BACKOFF_MAX + Duration::from_secs(1);
    let outcomes = tokio::time::timeout(bound, futures_util::future::join_all(futures))
        .await
        .unwrap_or_else(|_| panic!("hang: delivery futures unresolved {bound:?} after sending"));
    let delivered = outcomes.iter().filter(|o| o.is_ok()).count();
    let close_bound = CLOSE_TIMEOUT + Duration::from_secs(1);
    tokio::time::timeout(close_bound, producer.close(CLOSE_TIMEOUT))
        .await
        .unwrap_or_else(|_| {
            panic!("hang: close({CLOSE_TIMEOUT:?}) still running after {close_bound:?}")
        });
    drop(producer);
    let unused_ops = ops.lock().map_or(0, |ops| ops.len());
    Outcome {
        accepted,
        delivered,
        unused_ops,
        took: start.elapsed(),
    }
}

/// Runs [`converse`] on a fresh current-thread runtime with paused time,
/// then checks that nothing is left running.
pub(crate) fn run(data: &[u8]) -> Outcome {
    // Timers only: the in-memory streams need no I/O driver, and leaving it
    // out keeps each run cheap (no epoll set per input).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a tokio runtime");
    let outcome = runtime.block_on(converse(data));
    runtime.block_on(async {
        // Connection and relay tasks end as their streams close (a relay
        // in a scripted delay, at most 2.55 s, once the delay is over).
        for _ in 0..400 {
            if tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks()
                == 0
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let left = tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks();
        panic!("{left} tasks still alive 4 s after close");
    });
    outcome
}

/// A well-formed conversation: the setup byte, then only `Pass`es. Seeds the
/// corpus (a script of one Pass per expected response).
pub(crate) fn well_formed(setup: u8, responses: usize) -> Vec<u8> {
    Script {
        setup,
        ops: std::iter::repeat_n(Op::Pass, responses).collect(),
    }
    .encode()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_round_trip() {
        let script = Script {
            setup: 7,
            ops: VecDeque::from([
                Op::Pass,
                Op::Flip(vec![(3, 1), (400, 255)]),
                Op::Body(vec![1, 2, 3]),
                Op::Raw(vec![]),
                Op::Drop,
                Op::Close,
                Op::Cut(9),
                Op::Word(2, [1, 2, 3, 4]),
                Op::Delay(3),
            ]),
        };
        assert_eq!(Script::parse(&script.encode()), script);
    }
}
