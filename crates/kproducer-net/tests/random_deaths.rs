//! Seeded random interleavings: many callers, a random in-flight limit, the
//! broker answering some requests and then dying at a random point in a
//! random way. Every caller must complete (no hang), every answer must be
//! its own, and `NotSent` must never be claimed for a request the broker
//! actually received.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use common::{connected, frame_with_correlation};
use kproducer_net::{ConnectionConfig, ConnectionError, SendState};
use kproducer_protocol::ApiKey;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

async fn run(seed: u64) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let max_in_flight = rng.random_range(1..=6);
    let requests = rng.random_range(1..=30);
    let answered_before_death = rng.random_range(0..=requests);
    let death = rng.random_range(0..4);
    let cfg = ConnectionConfig {
        max_in_flight,
        idle_timeout: None,
        max_response_frame_bytes: 1 << 16,
        ..ConnectionConfig::default()
    };
    let (conn, mut b) = connected(cfg).await;
    let mut calls = Vec::new();
    for i in 0..requests {
        let conn = conn.clone();
        calls.push(tokio::spawn(async move {
            let body = Bytes::from(format!("req-{i}"));
            conn.send_raw(ApiKey::Metadata, 0, body).await
        }));
        if rng.random_bool(0.3) {
            tokio::task::yield_now().await;
        }
    }
    let mut received = HashSet::new();
    for _ in 0..answered_before_death {
        let Some(req) = b.next_request().await else {
            break;
        };
        received.insert(req.body.clone());
        let mut answer = b"re:".to_vec();
        answer.extend_from_slice(&req.body);
        b.respond_raw(&req, &answer).await;
    }
    // Let a few more arrive unanswered, then die.
    while let Ok(Some(req)) = tokio::time::timeout(Duration::from_millis(1), b.next_request()).await
    {
        received.insert(req.body.clone());
    }
    match death {
        0 => b.send_frame(frame_with_correlation(-5, b"?")).await,
        1 => b.send_frame(Bytes::from_static(&[1])).await,
        2 => b.send_bytes(&u32::MAX.to_be_bytes()).await,
        _ => {}
    }
    drop(b);
    for (i, h) in calls.into_iter().enumerate() {
        let out = tokio::time::timeout(Duration::from_secs(3600), h)
            .await
            .unwrap_or_else(|_| panic!("seed {seed}: request {i} hung"))
            .unwrap();
        let body = Bytes::from(format!("req-{i}"));
        match out {
            Ok(answer) => assert_eq!(
                &answer[3..],
                &body[..],
                "seed {seed}: request {i} got another request's answer"
            ),
            Err(e @ ConnectionError::Closed { .. }) => {
                if e.send_state() == SendState::NotSent {
                    assert!(
                        !received.contains(&body),
                        "seed {seed}: request {i} reached the broker but was reported NotSent"
                    );
                }
            }
            Err(e) => panic!("seed {seed}: request {i}: unexpected error {e}"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn random_interleavings_never_hang_or_misreport() {
    for seed in 0..200 {
        run(seed).await;
    }
}
