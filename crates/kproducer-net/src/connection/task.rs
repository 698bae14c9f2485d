//! The task that owns one connection's socket.
//!
//! Callers never touch the socket: they queue [`Command`]s on a channel.
//! Inside the task a writer half and a reader half run concurrently (one
//! `select!`, no extra task): the writer assigns correlation ids and writes
//! frames, announcing each request to the reader *before* writing it; the
//! reader matches responses to the oldest outstanding request (Kafka answers
//! one connection's requests strictly in order), enforces request deadlines
//! and the idle timeout. When either half stops, every request not yet
//! answered is failed with the reason, marked `MaybeSent` if it had reached
//! the writer and `NotSent` if it was still queued.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use kproducer_protocol::{ApiKey, ResponseHeader};
use tokio::io::{ReadHalf, WriteHalf};
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};
use tokio::time::{Instant, sleep_until, timeout_at};
use tokio_util::codec::FramedRead;

use super::codec::{FrameError, KafkaFrames, RequestFrame, WriteQueue};
use super::error::{CloseReason, ConnectionError, SendState};
use super::link::Shared;
use crate::transport::BoxStream;

/// Most frames written before one flush, so a burst of pipelined requests
/// costs one syscall without starving the flush.
const MAX_FRAMES_PER_FLUSH: usize = 64;

/// Where a request's outcome goes: `Some(body)` for a response, `None` for a
/// fire-and-forget request once written.
pub(crate) type Reply = oneshot::Sender<Result<Option<Bytes>, ConnectionError>>;

/// An in-flight slot: held from before queueing until the request
/// completes, so at most `max_in_flight` requests are queued or outstanding.
#[derive(Debug)]
pub(crate) struct InFlightSlot {
    _permit: OwnedSemaphorePermit,
    shared: Arc<Shared>,
}

impl InFlightSlot {
    pub(crate) fn new(permit: OwnedSemaphorePermit, shared: Arc<Shared>) -> Self {
        shared.stats.slot_taken();
        Self {
            _permit: permit,
            shared,
        }
    }
}

impl Drop for InFlightSlot {
    fn drop(&mut self) {
        self.shared.stats.slot_released();
    }
}

/// A request on its way to the socket.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) api_key: ApiKey,
    pub(crate) version: i16,
    /// The encoded request header (correlation id patched in by the writer).
    pub(crate) header: Bytes,
    pub(crate) body: Bytes,
    /// More body after `body` (record batches, written without a copy).
    pub(crate) tail: Vec<Bytes>,
    pub(crate) expects_response: bool,
    pub(crate) timeout: Duration,
    pub(crate) deadline: Instant,
    pub(crate) reply: Reply,
    pub(crate) slot: InFlightSlot,
}

/// What callers ask of the task.
#[derive(Debug)]
pub(crate) enum Command {
    /// Write this request.
    Send(Outgoing),
    /// Accept nothing more; close once everything queued before this has
    /// completed.
    CloseWhenIdle,
}

/// A request handed to the writer: from here on it may reach the broker.
#[derive(Debug)]
struct Pending {
    correlation_id: i32,
    api_key: ApiKey,
    version: i16,
    timeout: Duration,
    deadline: Instant,
    reply: Reply,
    _slot: InFlightSlot,
}

impl Pending {
    fn fail(self, shared: &Shared, reason: &CloseReason) {
        let err = shared.error_for(reason, self.correlation_id, self.timeout);
        let _ = self.reply.send(Err(err));
    }
}

/// Writer → reader notes, in write order.
#[derive(Debug)]
enum Written {
    /// A request that expects a response is about to be written.
    Request(Pending),
    /// Fire-and-forget requests were written (resets the idle clock).
    Activity,
    /// A graceful close was requested: stop once nothing is outstanding.
    Drain,
}

/// Runs the connection until it closes, then fails everything left.
pub(crate) async fn run(
    stream: BoxStream,
    mut commands: mpsc::UnboundedReceiver<Command>,
    shared: Arc<Shared>,
    max_frame: usize,
    idle_timeout: Option<Duration>,
) {
    let (rd, wr) = tokio::io::split(stream);
    let mut reader = FramedRead::new(rd, KafkaFrames::new(max_frame));
    let mut writer = Writer {
        stream: wr,
        queue: WriteQueue::default(),
    };
    let (written_tx, mut written_rx) = mpsc::unbounded_channel();
    let mut outstanding = VecDeque::new();
    let mut unflushed = Vec::new();
    let reason = tokio::select! {
        r = write_loop(&mut writer, &mut commands, &written_tx, &mut unflushed, &shared) => r,
        r = read_loop(&mut reader, &mut written_rx, &mut outstanding, &shared, idle_timeout) => r,
        r = shared.aborted() => r,
    };
    match reason {
        CloseReason::ClosedByClient | CloseReason::Idle(_) => {
            tracing::debug!(broker = %shared.broker, slot = ?shared.slot, %reason, "connection closed");
        }
        _ => {
            tracing::info!(broker = %shared.broker, slot = ?shared.slot, %reason, "connection closed")
        }
    }
    shared.mark_closed(reason.clone());
    shared.stats.busy_stop(Instant::now());
    shared.permits.close();
    drop(written_tx);
    for p in outstanding.drain(..) {
        p.fail(&shared, &reason);
    }
    while let Ok(w) = written_rx.try_recv() {
        if let Written::Request(p) = w {
            p.fail(&shared, &reason);
        }
    }
    for p in unflushed.drain(..) {
        p.fail(&shared, &reason);
    }
    commands.close();
    while let Ok(cmd) = commands.try_recv() {
        if let Command::Send(o) = cmd {
            let err = shared.closed_error(reason.clone(), SendState::NotSent);
            let _ = o.reply.send(Err(err));
        }
    }
    drop(reader);
    drop(writer);
    shared.mark_finished();
}

/// The write half and the frames queued for it.
struct Writer {
    stream: WriteHalf<BoxStream>,
    queue: WriteQueue,
}

/// Maps a codec failure on the write side.
fn write_failure(e: FrameError) -> CloseReason {
    let io = match e {
        FrameError::Io(io) => io,
        // Unreachable in practice: the caller validated the frame before
        // queueing it. Reported as a write failure rather than a panic.
        other => std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{other:?}")),
    };
    CloseReason::Write(Arc::new(io))
}

async fn write_loop(
    writer: &mut Writer,
    commands: &mut mpsc::UnboundedReceiver<Command>,
    written: &mpsc::UnboundedSender<Written>,
    unflushed: &mut Vec<Pending>,
    shared: &Shared,
) -> CloseReason {
    let mut next_correlation_id: i32 = 0;
    loop {
        // `None`: every handle is gone; finish what is outstanding, then close.
        let mut next = commands.recv().await;
        let all_handles_gone = next.is_none();
        let mut draining = false;
        let mut frames = 0;
        // Earliest deadline among the frames in this flush, and its request.
        let mut first_deadline: Option<(Instant, i32, Duration)> = None;
        while let Some(cmd) = next.take() {
            let o = match cmd {
                Command::Send(o) => o,
                Command::CloseWhenIdle => {
                    draining = true;
                    break;
                }
            };
            let correlation_id = next_correlation_id;
            next_correlation_id = next_correlation_id.checked_add(1).unwrap_or(0);
            let frame = RequestFrame {
                header: o.header,
                correlation_id,
                body: o.body,
                tail: o.tail,
            };
            let pending = Pending {
                correlation_id,
                api_key: o.api_key,
                version: o.version,
                timeout: o.timeout,
                deadline: o.deadline,
                reply: o.reply,
                _slot: o.slot,
            };
            if first_deadline.is_none_or(|(d, _, _)| o.deadline < d) {
                first_deadline = Some((o.deadline, correlation_id, o.timeout));
            }
            if o.expects_response {
                // Announce before writing: the response cannot overtake it.
                let _ = written.send(Written::Request(pending));
            } else {
                unflushed.push(pending);
            }
            // Queued here, written by the flush below (bounded by the
            // earliest deadline among the queued frames).
            match writer.queue.push(frame) {
                Ok(bytes) => shared.stats.sent(bytes),
                Err(e) => return write_failure(e),
            }
            frames += 1;
            if frames < MAX_FRAMES_PER_FLUSH {
                next = commands.try_recv().ok();
            }
        }
        if frames > 0 {
            let flushed = match first_deadline {
                Some((deadline, correlation_id, timeout)) => {
                    match timeout_at(deadline, writer.queue.write_to(&mut writer.stream)).await {
                        Ok(r) => r,
                        Err(_) => {
                            return CloseReason::RequestTimedOut {
                                correlation_id,
                                timeout,
                            };
                        }
                    }
                }
                None => writer.queue.write_to(&mut writer.stream).await,
            };
            if let Err(e) = flushed {
                return write_failure(e.into());
            }
            if !unflushed.is_empty() {
                for p in unflushed.drain(..) {
                    let _ = p.reply.send(Ok(None));
                }
                let _ = written.send(Written::Activity);
            }
        }
        if draining || all_handles_gone {
            // Graceful close (or every handle dropped): nothing more is
            // accepted; the reader closes once the outstanding queue is empty.
            let _ = written.send(Written::Drain);
            return std::future::pending().await;
        }
    }
}

async fn read_loop(
    reader: &mut FramedRead<ReadHalf<BoxStream>, KafkaFrames>,
    written: &mut mpsc::UnboundedReceiver<Written>,
    outstanding: &mut VecDeque<Pending>,
    shared: &Shared,
    idle_timeout: Option<Duration>,
) -> CloseReason {
    // How long to sleep when there is no deadline (the branch is disabled
    // then; this only has to be a valid instant).
    const FAR: Duration = Duration::from_secs(86_400 * 365);
    let mut draining = false;
    let mut last_activity = Instant::now();
    loop {
        if draining && outstanding.is_empty() {
            return CloseReason::ClosedByClient;
        }
        let now = Instant::now();
        let next_timeout = outstanding
            .iter()
            .min_by_key(|p| p.deadline)
            .map(|p| (p.deadline, p.correlation_id, p.timeout));
        let idle_at = match (outstanding.is_empty(), idle_timeout) {
            (true, Some(idle)) => Some(last_activity + idle),
            _ => None,
        };
        tokio::select! {
            biased;
            note = written.recv() => match note {
                Some(Written::Request(p)) => {
                    // `now` was taken before the wait; the request was
                    // written just now, after any idle time.
                    let written_at = Instant::now();
                    if outstanding.is_empty() {
                        shared.stats.busy_start(written_at);
                    }
                    outstanding.push_back(p);
                    last_activity = written_at;
                }
                Some(Written::Activity) => last_activity = now,
                Some(Written::Drain) => draining = true,
                // The writer is gone only when the connection is closing.
                None => return CloseReason::ClosedByClient,
            },
            frame = reader.next() => {
                let frame = match frame {
                    None => return CloseReason::PeerClosed,
                    Some(Ok(frame)) => frame,
                    Some(Err(FrameError::TooLarge { size, max })) => {
                        if looks_like_tls_record(size) {
                            return CloseReason::TlsListener;
                        }
                        return CloseReason::FrameTooLarge { size, max };
                    }
                    Some(Err(FrameError::Io(e))) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                        return CloseReason::TruncatedFrame;
                    }
                    Some(Err(FrameError::Io(e))) => return CloseReason::Read(Arc::new(e)),
                    Some(Err(FrameError::Encode(e))) => {
                        return CloseReason::Read(Arc::new(std::io::Error::other(e)));
                    }
                };
                shared.stats.received(4 + frame.len());
                if let Err(reason) = complete_oldest(outstanding, frame, shared) {
                    return reason;
                }
                if outstanding.is_empty() {
                    let now = Instant::now();
                    shared.stats.busy_stop(now);
                    last_activity = now;
                }
            }
            () = sleep_until(next_timeout.map_or(now + FAR, |t| t.0)), if next_timeout.is_some() => {
                if let Some((_, correlation_id, timeout)) = next_timeout {
                    return CloseReason::RequestTimedOut { correlation_id, timeout };
                }
            }
            () = sleep_until(idle_at.unwrap_or(now + FAR)), if idle_at.is_some() => {
                return CloseReason::Idle(idle_timeout.unwrap_or_default());
            }
        }
    }
}

/// Hands `frame` to the oldest outstanding request, or says why the stream
/// is out of sync. On error the request stays queued (and is failed as
/// `MaybeSent` by the caller's cleanup).
fn complete_oldest(
    outstanding: &mut VecDeque<Pending>,
    frame: Bytes,
    shared: &Shared,
) -> Result<(), CloseReason> {
    let received =
        ResponseHeader::peek_correlation_id(&frame).map_err(CloseReason::CorruptFrame)?;
    let (header_version, expected) = match outstanding.front() {
        Some(p) => (
            p.api_key.response_header_version(p.version),
            p.correlation_id,
        ),
        None => {
            return Err(CloseReason::UnexpectedCorrelationId {
                received,
                expected: None,
            });
        }
    };
    if received != expected {
        return Err(CloseReason::UnexpectedCorrelationId {
            received,
            expected: Some(expected),
        });
    }
    let mut body = frame;
    ResponseHeader::decode(&mut body, header_version).map_err(CloseReason::CorruptFrame)?;
    if let Some(p) = outstanding.pop_front() {
        shared.stats.response_matched();
        let _ = p.reply.send(Ok(Some(body)));
    }
    Ok(())
}

/// Whether a frame's 4-byte size header is really the start of a TLS record
/// (content type alert/handshake/…, protocol major version 3): a TLS
/// listener answering (usually with an alert) a plaintext client. Such a
/// size is always above 335 MB, so only frames already refused as too large
/// are checked.
fn looks_like_tls_record(size: u64) -> bool {
    let Ok(size) = u32::try_from(size) else {
        return false;
    };
    let [content_type, major, minor, _] = size.to_be_bytes();
    (0x14..=0x17).contains(&content_type) && major == 3 && minor <= 4
}

#[cfg(test)]
mod tls_record_tests {
    use super::looks_like_tls_record;

    #[test]
    fn a_tls_alert_header_is_recognised() {
        // An alert record: type 21, version 3.3, length 2.
        assert!(looks_like_tls_record(u64::from(u32::from_be_bytes([
            0x15, 0x03, 0x03, 0x00
        ]))));
        assert!(!looks_like_tls_record(200 * 1024 * 1024));
        assert!(!looks_like_tls_record(u64::MAX));
    }
}
