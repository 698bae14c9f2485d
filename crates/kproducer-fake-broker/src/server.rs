//! Serving one connection: read a frame, decode the header, consult the fault
//! plan, dispatch, charge the service time, write the response — strictly
//! one request at a time, in arrival order, as a Kafka broker does per
//! connection.
//!
//! What Kafka does with requests it cannot serve, reproduced here:
//! - an unknown API key, an unparsable header or body: the connection is
//!   closed;
//! - ApiVersions at a version the broker does not know: a v0 response with
//!   35 `UNSUPPORTED_VERSION` and the supported ranges (KIP-511);
//! - any other API at a version the broker does not support: the connection
//!   is closed;
//! - on a cluster with SASL, any request but ApiVersions, SaslHandshake and
//!   SaslAuthenticate before authentication: the connection is closed
//!   ([`crate::sasl`]); a failed authentication is answered, then closed.

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use kproducer_protocol::{ApiKey, RequestHeader};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::codec::{Framed, LengthDelimitedCodec};

use crate::cluster::FakeCluster;
use crate::connection_id::ConnectionId;
use crate::fault_plan::{FaultAction, RequestFacts, ResponseCorruption};
use crate::handlers::{self, DecodeFailure, InjectedErrors};
use crate::inspect::{Disposition, ProducedBatch, RequestRecord};
use crate::pacer::Pacer;
use crate::sasl::{SaslGate, Verdict};

/// What to do after a request.
enum Served {
    Respond(Bytes),
    /// Answer, then close (a failed SASL authentication).
    RespondThenClose(Bytes),
    Silent,
    Close,
}

/// Serves one accepted connection until the client closes it, the broker
/// goes down (`down` changes) or a request closes it. The same loop serves
/// in-memory duplex streams and loopback TCP streams.
pub(crate) async fn serve_connection<S>(
    cluster: FakeCluster,
    conn: ConnectionId,
    stream: S,
    mut down: watch::Receiver<u64>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let _open = OpenConnection::count(&cluster);
    let max_frame = cluster.lock().config.max_frame_bytes;
    let codec = LengthDelimitedCodec::builder()
        .length_field_length(4)
        .max_frame_length(max_frame)
        .new_codec();
    let mut framed = Framed::new(stream, codec);
    let mut pacer = Pacer::default();
    let sasl = cluster.lock().config.sasl.clone().map(std::sync::Arc::new);
    let mut gate = SaslGate::new(sasl);
    loop {
        let frame = tokio::select! {
            biased;
            _ = down.changed() => return,
            f = framed.next() => match f {
                Some(Ok(f)) => f.freeze(),
                // Closed by the client, or a frame over the limit.
                _ => return,
            },
        };
        let served = tokio::select! {
            biased;
            _ = down.changed() => return,
            s = serve_request(&cluster, conn, frame, &mut pacer, &mut gate) => s,
        };
        match served {
            Served::Respond(bytes) => {
                if framed.send(bytes).await.is_err() {
                    return;
                }
            }
            Served::RespondThenClose(bytes) => {
                let _ = framed.send(bytes).await;
                return;
            }
            Served::Silent => {}
            Served::Close => return,
        }
    }
}

/// Counts a connection in [`Counters::connections_open`](crate::Counters)
/// while it is served; dropping it (however serving ends) uncounts it.
struct OpenConnection(FakeCluster);

impl OpenConnection {
    fn count(cluster: &FakeCluster) -> Self {
        cluster.lock().counters.connections_open += 1;
        Self(cluster.clone())
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.counters.connections_open = s.counters.connections_open.saturating_sub(1);
    }
}

/// The fault actions that fired on one request, sorted by kind.
#[derive(Default)]
struct Faults {
    holds: Vec<crate::hold::Hold>,
    delay: std::time::Duration,
    close_before: bool,
    discard: bool,
    close_after: bool,
    drop_response: bool,
    corrupt: Option<ResponseCorruption>,
    errors: InjectedErrors,
}

fn sort_faults(firings: Vec<crate::fault_plan::Firing>) -> Faults {
    let mut f = Faults::default();
    for firing in firings {
        match firing.action {
            FaultAction::Error { code, scope } => {
                f.errors.push(code, scope, firing.partition, false);
            }
            FaultAction::ErrorAfterAppend { code, scope } => {
                f.errors.push(code, scope, firing.partition, true);
            }
            FaultAction::CorruptResponse(how) => f.corrupt = Some(how),
            FaultAction::Delay(d) => f.delay = f.delay.saturating_add(d),
            FaultAction::DropResponse => f.drop_response = true,
            FaultAction::CloseBeforeHandling => f.close_before = true,
            FaultAction::CloseAfterHandling => f.close_after = true,
            FaultAction::Hold(h) => f.holds.push(h),
            FaultAction::Discard => f.discard = true,
        }
    }
    f
}

async fn serve_request(
    cluster: &FakeCluster,
    conn: ConnectionId,
    mut frame: Bytes,
    pacer: &mut Pacer,
    gate: &mut SaslGate,
) -> Served {
    let received_at = Instant::now();
    let payload_bytes = frame.len();
    let Ok(header) = RequestHeader::decode(&mut frame) else {
        return close(cluster, conn, None, received_at);
    };
    let Some(api) = ApiKey::from_i16(header.api_key) else {
        return close(cluster, conn, Some(&header), received_at);
    };
    let request = match handlers::decode(api, header.api_version, frame) {
        Ok(r) => r,
        Err(DecodeFailure::UnsupportedVersion) if api == ApiKey::ApiVersions => {
            let out = handlers::api_versions::unsupported_version_frame(header.correlation_id);
            log(
                cluster,
                conn,
                Some(&header),
                Vec::new(),
                Disposition::Answered,
                received_at,
            );
            return out.map_or(Served::Close, |b| Served::Respond(b.freeze()));
        }
        Err(DecodeFailure::UnsupportedVersion) => {
            tracing::debug!(%conn, api = %api, version = header.api_version, "unsupported version; closing");
            return close(cluster, conn, Some(&header), received_at);
        }
        Err(DecodeFailure::Malformed(e)) => {
            tracing::debug!(%conn, api = %api, error = %e, "malformed request; closing");
            return close(cluster, conn, Some(&header), received_at);
        }
    };

    let (respond, then_close) = match gate.admit(&header, &request) {
        Verdict::Serve => (None, false),
        Verdict::Respond(frame) => (Some(frame), false),
        Verdict::RespondThenClose(frame) => (Some(frame), true),
        Verdict::Close => return close(cluster, conn, Some(&header), received_at),
    };
    if let Some(frame) = respond {
        let Ok(frame) = frame else {
            return close(cluster, conn, Some(&header), received_at);
        };
        let disposition = if then_close {
            Disposition::ConnectionClosed
        } else {
            Disposition::Answered
        };
        log(
            cluster,
            conn,
            Some(&header),
            Vec::new(),
            disposition,
            received_at,
        );
        return if then_close {
            Served::RespondThenClose(frame.freeze())
        } else {
            Served::Respond(frame.freeze())
        };
    }

    let partitions = handlers::partitions(&request);
    let firings = cluster.lock().faults.evaluate(&RequestFacts {
        api_key: header.api_key,
        connection: conn,
        partitions: &partitions,
    });
    let faults = sort_faults(firings);
    for hold in &faults.holds {
        hold.pass().await;
    }
    if !faults.delay.is_zero() {
        tokio::time::sleep(faults.delay).await;
    }
    if faults.close_before {
        return close(cluster, conn, Some(&header), received_at);
    }
    if faults.discard {
        log(
            cluster,
            conn,
            Some(&header),
            Vec::new(),
            Disposition::ResponseDropped,
            received_at,
        );
        return Served::Silent;
    }

    let handled = handlers::execute(cluster, conn, &header, request, &faults.errors);

    let service = {
        let s = cluster.lock();
        let own = s.brokers.get(&conn.broker).and_then(|b| b.service_time);
        own.unwrap_or(s.config.service_time)
            .for_payload(payload_bytes)
    };
    pacer.charge(service).await;
    if !handled.linger.is_zero() {
        tokio::time::sleep(handled.linger).await;
    }

    let (served, disposition) = if faults.close_after || handled.close_connection {
        (Served::Close, Disposition::ConnectionClosed)
    } else if faults.drop_response {
        (Served::Silent, Disposition::ResponseDropped)
    } else {
        match handled.frame {
            Some(Ok(mut frame)) => {
                if let Some(how) = faults.corrupt {
                    // A response header is the correlation id, plus an empty
                    // tagged-field section (1 byte) in header v1.
                    let header_len = if api.response_header_version(header.api_version) >= 1 {
                        5
                    } else {
                        4
                    };
                    corrupt(&mut frame, how, header_len);
                }
                (Served::Respond(frame.freeze()), Disposition::Answered)
            }
            None => (Served::Silent, Disposition::NoResponseExpected),
            // The broker could not encode its own answer: a bug in this
            // crate, surfaced to the client as a closed connection.
            Some(Err(e)) => {
                tracing::error!(%conn, error = %e, "fake broker could not encode a response");
                (Served::Close, Disposition::ConnectionClosed)
            }
        }
    };
    log(
        cluster,
        conn,
        Some(&header),
        handled.batches,
        disposition,
        received_at,
    );
    served
}

/// Logs a request the broker answers by closing the connection.
fn close(
    cluster: &FakeCluster,
    conn: ConnectionId,
    header: Option<&RequestHeader>,
    received_at: Instant,
) -> Served {
    log(
        cluster,
        conn,
        header,
        Vec::new(),
        Disposition::ConnectionClosed,
        received_at,
    );
    Served::Close
}

fn log(
    cluster: &FakeCluster,
    conn: ConnectionId,
    header: Option<&RequestHeader>,
    batches: Vec<ProducedBatch>,
    disposition: Disposition,
    received_at: Instant,
) {
    cluster.lock().log_request(RequestRecord {
        seq: 0,
        connection: conn,
        api_key: header.map_or(-1, |h| h.api_key),
        api_version: header.map_or(-1, |h| h.api_version),
        correlation_id: header.map_or(-1, |h| h.correlation_id),
        batches,
        disposition,
        received_at,
        finished_at: Instant::now(),
    });
}

/// Breaks a response frame the way a fault plan asked. `header_len` is the
/// size of the response header at the front of `frame`.
fn corrupt(frame: &mut BytesMut, how: ResponseCorruption, header_len: usize) {
    match how {
        ResponseCorruption::Truncate => frame.truncate(frame.len() / 2),
        ResponseCorruption::WrongCorrelationId => {
            if let Some(id) = frame.get_mut(..4) {
                let wrong =
                    i32::from_be_bytes([id[0], id[1], id[2], id[3]]).wrapping_add(1_000_000);
                id.copy_from_slice(&wrong.to_be_bytes());
            }
        }
        ResponseCorruption::Garbage => {
            for b in frame.iter_mut().skip(header_len) {
                *b = !*b;
            }
        }
    }
}

/// A response frame body (without the length prefix) for `api` at `version`.
pub(crate) fn response_frame<M: kproducer_protocol::Message>(
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &M,
) -> Result<BytesMut, kproducer_protocol::EncodeError> {
    let mut buf = BytesMut::new();
    kproducer_protocol::encode_response(&mut buf, api, version, correlation_id, body)?;
    Ok(buf)
}
