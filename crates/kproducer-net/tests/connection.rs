//! Connection behaviour through its public API, against a scripted broker
//! on an in-memory pipe. Time is paused: timeouts and waits are exact.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{FailingWrites, ScriptedBroker, broker, connected, frame_with_correlation};
use kproducer_net::{CloseReason, Connection, ConnectionConfig, ConnectionError, SendState};
use kproducer_protocol::ApiKey;
use tokio::task::JoinHandle;
use tokio::time::Instant;

type Outcome = Result<Bytes, ConnectionError>;

fn config(max_in_flight: usize) -> ConnectionConfig {
    ConnectionConfig {
        max_in_flight,
        request_timeout: Duration::from_secs(30),
        idle_timeout: None,
        max_response_frame_bytes: 1 << 20,
        ..ConnectionConfig::default()
    }
}

/// Sends a Metadata v0 request with an opaque body from a spawned task.
fn spawn_send(conn: &Connection, body: &'static [u8]) -> JoinHandle<Outcome> {
    let conn = conn.clone();
    tokio::spawn(async move {
        conn.send_raw(ApiKey::Metadata, 0, Bytes::from_static(body))
            .await
    })
}

/// Awaits a caller, failing the test instead of hanging.
async fn outcome(h: JoinHandle<Outcome>) -> Outcome {
    tokio::time::timeout(Duration::from_secs(3600), h)
        .await
        .expect("a waiter hung")
        .expect("caller task panicked")
}

fn assert_closed(o: Outcome, state: SendState, reason: fn(&CloseReason) -> bool) {
    match o {
        Err(ConnectionError::Closed {
            reason: r,
            state: s,
            ..
        }) => {
            assert_eq!(s, state, "reason {r}");
            assert!(reason(&r), "unexpected reason: {r}");
        }
        other => panic!("expected a closed-connection error, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn pipelined_requests_match_in_order() {
    let (conn, mut b) = connected(config(5)).await;
    let calls = [
        spawn_send(&conn, b"one"),
        spawn_send(&conn, b"two"),
        spawn_send(&conn, b"three"),
    ];
    // All three reach the broker before any response: they are pipelined.
    let mut reqs = Vec::new();
    for _ in 0..3 {
        reqs.push(b.next_request().await.unwrap());
    }
    let ids: Vec<i32> = reqs.iter().map(|r| r.header.correlation_id).collect();
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "{ids:?}");
    assert_eq!(reqs[0].header.client_id.as_deref(), Some("kproducer"));
    for r in &reqs {
        let mut answer = b"re:".to_vec();
        answer.extend_from_slice(&r.body);
        b.respond_raw(r, &answer).await;
    }
    let [a, c, d] = calls;
    assert_eq!(&outcome(a).await.unwrap()[..], b"re:one");
    assert_eq!(&outcome(c).await.unwrap()[..], b"re:two");
    assert_eq!(&outcome(d).await.unwrap()[..], b"re:three");
    let m = conn.metrics();
    assert_eq!(m.requests_sent, 4); // ApiVersions + 3
    assert_eq!(m.responses_received, 4);
    assert_eq!(m.in_flight, 0);
}

#[tokio::test(start_paused = true)]
async fn out_of_order_response_closes_the_connection() {
    let (conn, mut b) = connected(config(5)).await;
    let first = spawn_send(&conn, b"one");
    let second = spawn_send(&conn, b"two");
    let _r1 = b.next_request().await.unwrap();
    let r2 = b.next_request().await.unwrap();
    b.respond_raw(&r2, b"early").await;
    for h in [first, second] {
        assert_closed(outcome(h).await, SendState::MaybeSent, |r| {
            matches!(r, CloseReason::UnexpectedCorrelationId { .. })
        });
    }
    assert!(conn.is_closed());
    b.expect_eof().await;
}

#[tokio::test(start_paused = true)]
async fn in_flight_limit_blocks_and_wait_is_measured() {
    let (conn, mut b) = connected(config(2)).await;
    let first = spawn_send(&conn, b"one");
    let second = spawn_send(&conn, b"two");
    let third = spawn_send(&conn, b"three");
    let r1 = b.next_request().await.unwrap();
    let r2 = b.next_request().await.unwrap();
    // The third waits for a slot: the broker sees nothing more.
    assert!(b.nothing_within(Duration::from_millis(250)).await);
    assert_eq!(conn.metrics().in_flight, 2);
    b.respond_raw(&r1, b"a").await;
    let r3 = b.next_request().await.unwrap();
    assert_eq!(&r3.body[..], b"three");
    b.respond_raw(&r2, b"b").await;
    b.respond_raw(&r3, b"c").await;
    for h in [first, second, third] {
        outcome(h).await.unwrap();
    }
    let m = conn.metrics();
    assert_eq!(m.permit_wait, Duration::from_millis(250));
    assert_eq!(m.busy, Duration::from_millis(250));
}

#[tokio::test(start_paused = true)]
async fn request_timeout_fails_it_and_closes_the_connection() {
    let mut cfg = config(5);
    cfg.request_timeout = Duration::from_secs(5);
    let (conn, mut b) = connected(cfg).await;
    let start = Instant::now();
    let first = spawn_send(&conn, b"one");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let second = spawn_send(&conn, b"two");
    let _ = b.next_request().await.unwrap();
    let _ = b.next_request().await.unwrap();
    match outcome(first).await {
        Err(ConnectionError::TimedOut { timeout, state, .. }) => {
            assert_eq!(timeout, Duration::from_secs(5));
            assert_eq!(state, SendState::MaybeSent);
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    assert_closed(outcome(second).await, SendState::MaybeSent, |r| {
        matches!(r, CloseReason::RequestTimedOut { .. })
    });
    b.expect_eof().await;
}

/// Runs one death mode: two requests written, a third waiting for a slot
/// (max in flight 2); `kill` breaks the stream from the broker side.
async fn death_mode<F>(kill: F, expected: fn(&CloseReason) -> bool)
where
    F: AsyncFnOnce(&mut ScriptedBroker, &[common::Received]),
{
    let (conn, mut b) = connected(config(2)).await;
    let first = spawn_send(&conn, b"one");
    let second = spawn_send(&conn, b"two");
    let third = spawn_send(&conn, b"three");
    let reqs = vec![
        b.next_request().await.unwrap(),
        b.next_request().await.unwrap(),
    ];
    assert!(b.nothing_within(Duration::from_millis(10)).await);
    kill(&mut b, &reqs).await;
    assert_closed(outcome(first).await, SendState::MaybeSent, expected);
    assert_closed(outcome(second).await, SendState::MaybeSent, expected);
    assert_closed(outcome(third).await, SendState::NotSent, expected);
    assert!(conn.is_closed());
    // Later requests fail at once, unsent.
    assert_closed(
        outcome(spawn_send(&conn, b"late")).await,
        SendState::NotSent,
        expected,
    );
}

#[tokio::test(start_paused = true)]
async fn eof_fails_every_pending_request() {
    death_mode(
        async |b: &mut ScriptedBroker, _: &[common::Received]| {
            // Replace the broker with a closed pipe: drop its stream.
            let (dead, _) = tokio::io::duplex(1);
            *b = ScriptedBroker::new(dead);
        },
        |r| matches!(r, CloseReason::PeerClosed),
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn oversized_frame_fails_every_pending_request() {
    death_mode(
        async |b: &mut ScriptedBroker, _: &[common::Received]| {
            b.send_bytes(&(64u32 << 20).to_be_bytes()).await;
        },
        |r| {
            matches!(r, CloseReason::FrameTooLarge { size, max } if *size == 64 << 20 && *max == 1 << 20)
        },
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn garbage_frame_fails_every_pending_request() {
    death_mode(
        async |b: &mut ScriptedBroker, _: &[common::Received]| {
            b.send_frame(Bytes::from_static(&[0xde, 0xad])).await;
        },
        |r| matches!(r, CloseReason::CorruptFrame(_)),
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn unknown_correlation_id_fails_every_pending_request() {
    death_mode(
        async |b: &mut ScriptedBroker, _: &[common::Received]| {
            b.send_frame(frame_with_correlation(9_999, b"x")).await;
        },
        |r| {
            matches!(
                r,
                CloseReason::UnexpectedCorrelationId {
                    received: 9_999,
                    expected: Some(_)
                }
            )
        },
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn truncated_frame_fails_every_pending_request() {
    death_mode(
        async |b: &mut ScriptedBroker, reqs: &[common::Received]| {
            let mut partial = 100u32.to_be_bytes().to_vec();
            partial.extend_from_slice(&reqs[0].header.correlation_id.to_be_bytes());
            b.send_bytes(&partial).await;
            let (dead, _) = tokio::io::duplex(1);
            *b = ScriptedBroker::new(dead);
        },
        |r| matches!(r, CloseReason::TruncatedFrame),
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn write_error_fails_every_pending_request() {
    let (client, server) = tokio::io::duplex(1 << 16);
    let mut b = ScriptedBroker::new(server);
    // Room for exactly one Metadata v0 frame with a 3-byte body: length
    // prefix, then api key, version, correlation id, client id (i16 length
    // + "kproducer"), then the body.
    let header_len = 2 + 2 + 4 + 2 + "kproducer".len();
    let one_frame = 4 + header_len + 3;
    let stream = FailingWrites {
        inner: client,
        allow: one_frame,
    };
    let mut cfg = config(2);
    cfg.negotiate_versions = false;
    let conn = Connection::from_stream(Box::new(stream), broker(), cfg)
        .await
        .unwrap();
    let first = spawn_send(&conn, b"one");
    let r1 = b.next_request().await.unwrap();
    assert_eq!(&r1.body[..], b"one");
    let second = spawn_send(&conn, b"two");
    let third = spawn_send(&conn, b"333");
    let is_write = |r: &CloseReason| matches!(r, CloseReason::Write(_));
    assert_closed(outcome(first).await, SendState::MaybeSent, is_write);
    assert_closed(outcome(second).await, SendState::MaybeSent, is_write);
    // The third either waited for a slot or sat in the queue: never written.
    assert_closed(outcome(third).await, SendState::NotSent, is_write);
}

#[tokio::test(start_paused = true)]
async fn fire_and_forget_completes_when_written() {
    let (conn, mut b) = connected(config(5)).await;
    conn.send_raw_no_response(ApiKey::Produce, 8, Bytes::from_static(b"acks0"))
        .await
        .unwrap();
    let got = b.next_request().await.unwrap();
    assert_eq!(got.api(), ApiKey::Produce);
    assert_eq!(&got.body[..], b"acks0");
    // A normal request afterwards is matched despite the skipped id.
    let h = spawn_send(&conn, b"after");
    let r = b.next_request().await.unwrap();
    assert_eq!(r.header.correlation_id, got.header.correlation_id + 1);
    b.respond_raw(&r, b"ok").await;
    assert_eq!(&outcome(h).await.unwrap()[..], b"ok");
    assert_eq!(conn.metrics().in_flight, 0);
}

#[tokio::test(start_paused = true)]
async fn idle_connection_closes() {
    let mut cfg = config(5);
    cfg.idle_timeout = Some(Duration::from_secs(10));
    let (conn, mut b) = connected(cfg).await;
    let start = Instant::now();
    let h = spawn_send(&conn, b"x");
    let r = b.next_request().await.unwrap();
    tokio::time::sleep(Duration::from_secs(20)).await; // in flight: not idle
    assert!(!conn.is_closed());
    b.respond_raw(&r, b"y").await;
    outcome(h).await.unwrap();
    b.expect_eof().await;
    assert_eq!(start.elapsed(), Duration::from_secs(30));
    assert!(matches!(conn.close_reason(), Some(CloseReason::Idle(_))));
}

#[tokio::test(start_paused = true)]
async fn close_when_idle_lets_in_flight_requests_finish() {
    let (conn, mut b) = connected(config(5)).await;
    let h = spawn_send(&conn, b"x");
    let r = b.next_request().await.unwrap();
    conn.close_when_idle();
    assert_closed(
        outcome(spawn_send(&conn, b"late")).await,
        SendState::NotSent,
        |r| matches!(r, CloseReason::ClosedByClient),
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!conn.is_closed());
    b.respond_raw(&r, b"y").await;
    assert_eq!(&outcome(h).await.unwrap()[..], b"y");
    b.expect_eof().await;
    assert!(conn.is_closed());
}

#[tokio::test(start_paused = true)]
async fn close_now_fails_in_flight_requests_as_maybe_sent() {
    let (conn, mut b) = connected(config(5)).await;
    let h = spawn_send(&conn, b"x");
    let _ = b.next_request().await.unwrap();
    conn.close();
    assert_closed(outcome(h).await, SendState::MaybeSent, |r| {
        matches!(r, CloseReason::ClosedByClient)
    });
    b.expect_eof().await;
}

#[tokio::test(start_paused = true)]
async fn requests_queued_behind_a_stuck_write_are_not_sent() {
    // A 64-byte pipe the broker never drains: the first request's write
    // stalls, the second waits in the connection's queue.
    let (client, server) = tokio::io::duplex(64);
    let mut cfg = config(5);
    cfg.negotiate_versions = false;
    let conn = Connection::from_stream(Box::new(client), broker(), cfg)
        .await
        .unwrap();
    let big = spawn_send(&conn, &[7; 4096]);
    tokio::time::sleep(Duration::from_millis(1)).await;
    let queued = spawn_send(&conn, b"queued");
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(conn.metrics().in_flight, 2);
    drop(server);
    let any = |_: &CloseReason| true;
    assert_closed(outcome(big).await, SendState::MaybeSent, any);
    assert_closed(outcome(queued).await, SendState::NotSent, any);
}

#[tokio::test(start_paused = true)]
async fn reservations_bound_in_flight_and_keep_send_order() {
    use kproducer_net::RawRequest;
    let (conn, mut b) = connected(config(3)).await;
    let r1 = conn.reserve().await.unwrap();
    let r2 = conn.reserve().await.unwrap();
    let r3 = conn.reserve().await.unwrap();
    assert_eq!(conn.metrics().in_flight, 3);
    // The window is full: a fourth reservation waits.
    assert!(
        tokio::time::timeout(Duration::from_secs(1), conn.reserve())
            .await
            .is_err()
    );
    // An unused reservation gives its slot back.
    drop(r2);
    let r4 = conn.reserve().await.unwrap();
    // Wire order is the order of `send`, not of reservation.
    let raw = |body: &'static [u8]| RawRequest::new(ApiKey::Metadata, 0, Bytes::from_static(body));
    let p4 = r4.send(raw(b"first")).unwrap();
    let p1 = r1.send(raw(b"second")).unwrap();
    let p3 = r3.send(raw(b"third")).unwrap();
    for want in [&b"first"[..], b"second", b"third"] {
        let r = b.next_request().await.unwrap();
        assert_eq!(&r.body[..], want);
        b.respond_raw(&r, want).await;
    }
    assert_eq!(&p4.await.unwrap().unwrap()[..], b"first");
    assert_eq!(&p1.await.unwrap().unwrap()[..], b"second");
    assert_eq!(&p3.await.unwrap().unwrap()[..], b"third");
    assert_eq!(conn.metrics().in_flight, 0);
    assert_eq!(conn.metrics().permit_wait, Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn try_reserve_never_waits_but_the_pressure_is_measured() {
    use kproducer_net::RawRequest;
    let (conn, mut b) = connected(config(1)).await;
    let r = conn.try_reserve().unwrap().expect("a free slot");
    let pending = r
        .send(RawRequest::new(
            ApiKey::Metadata,
            0,
            Bytes::from_static(b"x"),
        ))
        .unwrap();
    let req = b.next_request().await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Full: refused at once; the clock starts at the first refusal.
    assert!(conn.try_reserve().unwrap().is_none());
    tokio::time::sleep(Duration::from_millis(70)).await;
    assert!(conn.try_reserve().unwrap().is_none());
    tokio::time::sleep(Duration::from_millis(30)).await;
    b.respond_raw(&req, b"y").await;
    pending.await.unwrap();
    assert_eq!(conn.metrics().permit_wait, Duration::from_millis(100));
    assert!(conn.try_reserve().unwrap().is_some());
    conn.close();
    assert!(conn.try_reserve().is_err());
}

#[test]
fn opening_outside_a_runtime_is_an_error_not_a_panic() {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    let (client, _server) = tokio::io::duplex(64);
    let fut = Connection::from_stream(Box::new(client), broker(), config(1));
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(Err(ConnectionError::NoRuntime)) => {}
        other => panic!("expected NoRuntime, got {:?}", other.map(|r| r.map(|_| ()))),
    }
}
