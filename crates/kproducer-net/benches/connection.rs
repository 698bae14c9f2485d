//! Request throughput of one `Connection` over loopback TCP against a
//! minimal responder, by in-flight limit: what pipelining buys when the
//! broker answers immediately.
//!
//! `cargo bench -p kproducer-net --bench connection`

#![allow(missing_docs)]

use std::sync::Arc;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures_util::{SinkExt, StreamExt};
use kproducer_net::{BrokerAddress, Connection, ConnectionConfig, TcpTransport};
use kproducer_protocol::ApiKey;
use tokio::net::TcpListener;
use tokio::runtime::Runtime;
use tokio_util::codec::{Framed, LengthDelimitedCodec};

const REQUESTS: usize = 2_000;
const BODY: usize = 1024;

/// Answers every request with its correlation id and an empty body.
async fn responder(listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        // Like a broker: no Nagle delay on small responses.
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let mut framed = Framed::new(stream, LengthDelimitedCodec::new());
            while let Some(Ok(frame)) = framed.next().await {
                let Some(cid) = frame.get(4..8) else { return };
                if framed.send(Bytes::copy_from_slice(cid)).await.is_err() {
                    return;
                }
            }
        });
    }
}

fn bench(c: &mut Criterion) {
    let rt = Runtime::new().expect("runtime");
    let port = rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(responder(listener));
        port
    });
    let mut group = c.benchmark_group("loopback_requests");
    group.throughput(Throughput::Elements(REQUESTS as u64));
    group.sample_size(10);
    for in_flight in [1usize, 5] {
        let conn = rt.block_on(async {
            Connection::connect(
                &TcpTransport::default(),
                &BrokerAddress::new("127.0.0.1", port),
                ConnectionConfig {
                    max_in_flight: in_flight,
                    negotiate_versions: false,
                    ..ConnectionConfig::default()
                },
            )
            .await
            .expect("connect")
        });
        let conn = Arc::new(conn);
        let body = Bytes::from(vec![0u8; BODY]);
        group.bench_with_input(
            BenchmarkId::from_parameter(in_flight),
            &in_flight,
            |b, _| {
                b.to_async(&rt).iter(|| {
                    let conn = conn.clone();
                    let body = body.clone();
                    async move {
                        let calls: Vec<_> = (0..REQUESTS)
                            .map(|_| {
                                let conn = conn.clone();
                                let body = body.clone();
                                tokio::spawn(async move {
                                    conn.send_raw(ApiKey::Metadata, 0, body).await
                                })
                            })
                            .collect();
                        for c in calls {
                            c.await.expect("join").expect("request");
                        }
                    }
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
