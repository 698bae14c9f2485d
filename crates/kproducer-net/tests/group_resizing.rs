//! Seeded random resizing under load: requests keep flowing on random slots
//! while the width goes up and down. A request is either answered or, if
//! its slot was retired before it was queued, refused unsent; none is lost,
//! none fails after reaching the broker, no caller hangs, and every retired
//! connection closes once drained.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{ScriptedTransport, broker};
use kproducer_net::{
    CloseReason, ConnectionConfig, ConnectionError, ConnectionGroup, GroupConfig, GroupError,
    SendState,
};
use kproducer_protocol::ApiKey;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

async fn run(seed: u64) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let (transport, mut accepted) = ScriptedTransport::new();
    let group = Arc::new(ConnectionGroup::new(
        broker(),
        Arc::new(transport),
        GroupConfig {
            connection: ConnectionConfig {
                negotiate_versions: false,
                idle_timeout: None,
                max_in_flight: rng.random_range(1..=5),
                ..ConnectionConfig::default()
            },
            jitter_seed: Some(seed),
            ..GroupConfig::default()
        },
    ));
    // Every accepted connection gets a broker that answers in order after
    // a random service time, and reports when the client closed it.
    let mut brokers = Vec::new();
    let mut answered_total = 0usize;
    let service_seed = rng.random::<u64>();
    let spawn_broker = |b: common::ScriptedBroker, n: u64| {
        tokio::spawn(async move {
            let mut b = b;
            let mut rng = SmallRng::seed_from_u64(service_seed ^ n);
            let mut answered = 0usize;
            while let Some(req) = b.next_request().await {
                tokio::time::sleep(Duration::from_millis(rng.random_range(0..20))).await;
                b.respond_raw(&req, &req.body).await;
                answered += 1;
            }
            answered
        })
    };
    let mut calls = Vec::new();
    for i in 0..200u32 {
        if rng.random_bool(0.05) {
            group.set_width(rng.random_range(1..=4));
        }
        let slot = rng.random_range(0..4);
        let g = group.clone();
        calls.push(tokio::spawn(async move {
            let conn = match g.connection(slot).await {
                Ok(c) => c,
                Err(GroupError::NoSuchSlot { .. } | GroupError::SlotRetired { .. }) => {
                    return None;
                }
                Err(e) => panic!("seed {seed}: {e}"),
            };
            let body = Bytes::from(i.to_be_bytes().to_vec());
            Some((body.clone(), conn.send_raw(ApiKey::Metadata, 0, body).await))
        }));
        while let Ok(side) = accepted.try_recv() {
            let n = brokers.len() as u64;
            brokers.push(spawn_broker(side.0, n));
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..5))).await;
    }
    let mut ok = 0usize;
    for (i, c) in calls.into_iter().enumerate() {
        // Keep accepting connections made while we wait.
        let out = loop {
            while let Ok(side) = accepted.try_recv() {
                let n = brokers.len() as u64;
                brokers.push(spawn_broker(side.0, n));
            }
            if c.is_finished() {
                break c.await.unwrap();
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        match out {
            None => {}
            Some((body, Ok(answer))) => {
                assert_eq!(answer, body, "seed {seed}: request {i}");
                ok += 1;
            }
            Some((_, Err(e @ ConnectionError::Closed { .. }))) => {
                assert_eq!(
                    e.send_state(),
                    SendState::NotSent,
                    "seed {seed}: request {i}: {e}"
                );
                assert!(
                    matches!(e.close_reason(), Some(CloseReason::ClosedByClient)),
                    "seed {seed}: request {i}: {e}"
                );
            }
            Some((_, Err(e))) => panic!("seed {seed}: request {i}: {e}"),
        }
    }
    // Every retired connection drains and closes: its broker sees EOF.
    let width = group.width();
    group.set_width(1);
    drop(group);
    for b in brokers {
        answered_total += tokio::time::timeout(Duration::from_secs(3600), b)
            .await
            .unwrap_or_else(|_| panic!("seed {seed}: a connection never closed (width {width})"))
            .unwrap();
    }
    assert_eq!(answered_total, ok, "seed {seed}: answered vs delivered");
}

#[tokio::test(start_paused = true)]
async fn random_resizing_under_load_loses_nothing() {
    for seed in 0..30 {
        run(seed).await;
    }
}
