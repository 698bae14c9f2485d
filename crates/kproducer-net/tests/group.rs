//! ConnectionGroup: lazy connect, reconnect backoff, retiring slots, idle
//! close. Paused time makes every delay exact.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{ScriptedBrokerSide, ScriptedTransport, broker};
use kproducer_net::{Backoff, ConnectionConfig, ConnectionGroup, GroupConfig, GroupError};
use kproducer_protocol::ApiKey;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;

const SEED: u64 = 7;

fn group_config() -> GroupConfig {
    GroupConfig {
        connection: ConnectionConfig {
            // The handshake is covered by the connection tests.
            negotiate_versions: false,
            idle_timeout: None,
            ..ConnectionConfig::default()
        },
        jitter_seed: Some(SEED),
        ..GroupConfig::default()
    }
}

fn group(
    config: GroupConfig,
) -> (
    ConnectionGroup,
    ScriptedTransport,
    UnboundedReceiver<ScriptedBrokerSide>,
) {
    let (t, accepted) = ScriptedTransport::new();
    let g = ConnectionGroup::new(broker(), Arc::new(t.clone()), config);
    (g, t, accepted)
}

#[tokio::test(start_paused = true)]
async fn slots_connect_lazily_and_once() {
    let (g, t, _accepted) = group(group_config());
    g.set_width(2);
    assert!(t.attempts().is_empty());
    assert_eq!(g.metrics(), vec![None, None]);
    assert!(g.try_connection(0).is_none());
    let a = g.connection(0).await.unwrap();
    let again = g.connection(0).await.unwrap();
    assert_eq!(t.attempts().len(), 1);
    assert_eq!(a.metrics(), again.metrics());
    assert!(g.try_connection(0).is_some());
    assert!(g.try_connection(1).is_none());
    g.connection(1).await.unwrap();
    assert_eq!(t.attempts().len(), 2);
    assert!(matches!(
        g.connection(2).await,
        Err(GroupError::NoSuchSlot {
            slot: 2,
            width: 2,
            ..
        })
    ));
}

#[tokio::test(start_paused = true)]
async fn failed_connects_back_off_exponentially_with_seeded_jitter() {
    let (g, t, _accepted) = group(group_config());
    t.refuse_all(true);
    for _ in 0..7 {
        assert!(matches!(
            g.connection(0).await,
            Err(GroupError::Connect { .. })
        ));
    }
    // Slot 0's jitter is seeded with the group seed itself.
    let mut expected = Backoff::new(Duration::from_millis(50), Duration::from_millis(1000), SEED);
    let attempts = t.attempts();
    for (i, w) in attempts.windows(2).enumerate() {
        expected.record_failure();
        let gap = w[1] - w[0];
        assert_eq!(gap, expected.delay(), "gap after failure {}", i + 1);
        let nominal = 50.0 * 2f64.powi(i as i32);
        let ms = gap.as_secs_f64() * 1000.0;
        assert!(
            ms >= (nominal * 0.8).min(1000.0) - 1e-6 && ms <= (nominal * 1.2).min(1000.0) + 1e-6,
            "gap {ms} ms after failure {}",
            i + 1
        );
    }
    // The cap holds.
    assert!(
        attempts
            .windows(2)
            .all(|w| w[1] - w[0] <= Duration::from_secs(1))
    );

    // Success resets the count: a later loss waits about the first delay.
    t.refuse_all(false);
    let conn = g.connection(0).await.unwrap();
    drop(_accepted); // the broker side goes away: the connection is lost
    let lost = tokio::time::timeout(Duration::from_secs(1), async {
        while !conn.is_closed() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    assert!(lost.is_ok());
    let lost_at = Instant::now();
    let _ = g.connection(0).await;
    let waited = *t.attempts().last().unwrap() - lost_at;
    assert!(
        waited >= Duration::from_millis(40) && waited <= Duration::from_millis(60),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn retiring_slot_closes_only_after_its_in_flight_requests() {
    let (g, _t, mut accepted) = group(group_config());
    g.set_width(2);
    let conn = g.connection(1).await.unwrap();
    let mut b = accepted.recv().await.unwrap().0;
    let call = {
        let conn = conn.clone();
        tokio::spawn(async move {
            conn.send_raw(ApiKey::Metadata, 0, Bytes::from_static(b"in flight"))
                .await
        })
    };
    let req = b.next_request().await.unwrap();
    g.set_width(1);
    assert_eq!(g.width(), 1);
    assert_eq!(g.retiring(), 1);
    assert!(matches!(
        g.connection(1).await,
        Err(GroupError::NoSuchSlot { .. })
    ));
    // Still open while its request is in flight, however long that takes.
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(!conn.is_closed());
    b.respond_raw(&req, b"done").await;
    assert_eq!(&call.await.unwrap().unwrap()[..], b"done");
    b.expect_eof().await;
    assert_eq!(g.retiring(), 0);
}

#[tokio::test(start_paused = true)]
async fn idle_connection_closes_and_reconnects_without_backoff() {
    let mut cfg = group_config();
    cfg.connection.idle_timeout = Some(Duration::from_secs(10));
    let (g, t, mut accepted) = group(cfg);
    let start = Instant::now();
    let first = g.connection(0).await.unwrap();
    let mut b = accepted.recv().await.unwrap().0;
    b.expect_eof().await;
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    assert!(first.is_closed());
    tokio::time::sleep(Duration::from_secs(5)).await;
    let second = g.connection(0).await.unwrap();
    assert!(!second.is_closed());
    let attempts = t.attempts();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[1] - start, Duration::from_secs(15));
}

#[tokio::test(start_paused = true)]
async fn a_hanging_connect_blocks_only_its_own_slot() {
    let (g, t, _accepted) = group(group_config());
    g.set_width(2);
    let g = Arc::new(g);
    t.hang_next();
    let stuck = {
        let g = g.clone();
        tokio::spawn(async move { g.connection(0).await })
    };
    tokio::time::sleep(Duration::from_millis(1)).await;
    let other = tokio::time::timeout(Duration::from_secs(1), g.connection(1)).await;
    assert!(other.expect("slot 1 waited for slot 0").is_ok());
    // Resizing does not wait for the stuck connect either.
    g.set_width(3);
    assert_eq!(g.width(), 3);
    assert!(!stuck.is_finished());
    stuck.abort();
}

#[tokio::test(start_paused = true)]
async fn observations_are_per_window_and_restart_after_reconnect() {
    let mut cfg = group_config();
    cfg.connection.max_in_flight = 1;
    let (g, _t, mut accepted) = group(cfg);
    let g = Arc::new(g);
    let conn = g.connection(0).await.unwrap();
    let mut b = accepted.recv().await.unwrap().0;
    let send = |body: &'static [u8]| {
        let conn = conn.clone();
        tokio::spawn(async move {
            conn.send_raw(ApiKey::Metadata, 0, Bytes::from_static(body))
                .await
        })
    };
    let first = send(b"1");
    let req = b.next_request().await.unwrap();
    let second = send(b"2"); // waits for the only permit
    tokio::time::sleep(Duration::from_millis(300)).await;
    b.respond_raw(&req, b"a").await;
    first.await.unwrap().unwrap();
    let req = b.next_request().await.unwrap();
    b.respond_raw(&req, b"b").await;
    second.await.unwrap().unwrap();
    let obs = g.take_observations();
    assert_eq!(obs.len(), 1);
    assert_eq!(obs[0].slot, 0);
    assert_eq!(obs[0].waited, Duration::from_millis(300));
    assert_eq!(obs[0].busy, Duration::from_millis(300));
    // Nothing happened since: the next window is empty.
    let obs = g.take_observations();
    assert_eq!(
        (obs[0].waited, obs[0].busy),
        (Duration::ZERO, Duration::ZERO)
    );

    // A new connection after a loss starts from zero, not from a negative
    // difference against the old one's totals.
    drop(b);
    while !conn.is_closed() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let again = g.connection(0).await.unwrap();
    let mut b = accepted.recv().await.unwrap().0;
    let call = {
        let again = again.clone();
        tokio::spawn(async move {
            again
                .send_raw(ApiKey::Metadata, 0, Bytes::from_static(b"3"))
                .await
        })
    };
    let req = b.next_request().await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    b.respond_raw(&req, b"c").await;
    call.await.unwrap().unwrap();
    let obs = g.take_observations();
    assert_eq!(obs[0].busy, Duration::from_millis(20));
}

#[tokio::test(start_paused = true)]
async fn a_slot_re_added_before_its_old_connection_drained_waits_for_it() {
    let (g, t, mut accepted) = group(group_config());
    let g = Arc::new(g);
    g.set_width(2);
    let old = g.connection(1).await.unwrap();
    let mut b = accepted.recv().await.unwrap().0;
    let call = {
        let old = old.clone();
        tokio::spawn(async move {
            old.send_raw(ApiKey::Metadata, 0, Bytes::from_static(b"old"))
                .await
        })
    };
    let req = b.next_request().await.unwrap();
    g.set_width(1);
    g.set_width(2);
    assert_eq!(g.retiring(), 1);
    let reconnect = {
        let g = g.clone();
        tokio::spawn(async move { g.connection(1).await })
    };
    // Slot 1 must not get a second connection while the old one carries a
    // request: the router sees one slot index as one ordered pipe.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(t.attempts().len(), 1); // slot 1's old connection, nothing new
    assert!(!reconnect.is_finished());
    b.respond_raw(&req, b"done").await;
    call.await.unwrap().unwrap();
    assert!(matches!(
        old.closed().await,
        kproducer_net::CloseReason::ClosedByClient
    ));
    let new = reconnect.await.unwrap().unwrap();
    assert!(!new.is_closed());
    assert_eq!(t.attempts().len(), 2);
    assert_eq!(g.retiring(), 0);
}
