//! A TCP proxy on 127.0.0.1 that, on a seeded schedule, resets
//! connections, stalls them or cuts a response short.
//!
//! Each accepted connection draws one [`Mischief`] from the shared
//! [`Chaos`] (seeded), unless its budget is spent or its time window has
//! passed: the chaos is bounded in count and in time, so a run always ends.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What the proxy does to one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mischief {
    /// Nothing: bytes pass both ways.
    None,
    /// Close both sides once this many request bytes have been forwarded
    /// (the broker may or may not have handled the last request).
    ResetAfterRequestBytes(usize),
    /// Forward this many response bytes, then stop forwarding for a while.
    Stall(usize, Duration),
    /// Forward this many response bytes (usually mid-frame), then close
    /// both sides: the rest of the response is lost.
    TruncateResponse(usize),
}

/// The seeded schedule and its bounds, shared by every connection of every
/// proxy in a run.
#[derive(Debug)]
pub struct Chaos {
    rng: Mutex<SmallRng>,
    budget: Mutex<u32>,
    until: Instant,
    counts: Mutex<[u32; 3]>,
}

impl Chaos {
    /// At most `budget` mischiefs, only within `window` from now; each new
    /// connection is picked on with probability 0.7 while both last.
    pub fn new(seed: u64, budget: u32, window: Duration) -> Arc<Self> {
        Arc::new(Self {
            rng: Mutex::new(SmallRng::seed_from_u64(seed)),
            budget: Mutex::new(budget),
            until: Instant::now() + window,
            counts: Mutex::new([0; 3]),
        })
    }

    /// How many resets, stalls and truncations were done.
    pub fn counts(&self) -> [u32; 3] {
        *self.counts.lock().unwrap()
    }

    fn draw(&self) -> Mischief {
        let mut budget = self.budget.lock().unwrap();
        if *budget == 0 || Instant::now() > self.until {
            return Mischief::None;
        }
        let mut rng = self.rng.lock().unwrap();
        if rng.random_bool(0.3) {
            return Mischief::None;
        }
        *budget -= 1;
        // Requests carry records (kilobytes each), responses are small (a
        // Produce response is about a hundred bytes), so the cut points
        // are drawn to land within the first few dozen of either.
        let (m, i) = match rng.random_range(0..3) {
            0 => (
                Mischief::ResetAfterRequestBytes(rng.random_range(1..400_000)),
                0,
            ),
            1 => (
                Mischief::Stall(
                    rng.random_range(1..4_000),
                    Duration::from_millis(rng.random_range(10..3_000)),
                ),
                1,
            ),
            _ => (Mischief::TruncateResponse(rng.random_range(1..4_000)), 2),
        };
        self.counts.lock().unwrap()[i] += 1;
        m
    }
}

/// One proxy in front of one upstream address.
#[derive(Debug)]
pub struct ChaosProxy {
    local: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for ChaosProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ChaosProxy {
    /// Listens on 127.0.0.1 (a free port) and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr, chaos: Arc<Chaos>) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let local = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                let mischief = chaos.draw();
                connections.spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        pipe(client, server, mischief).await;
                    }
                });
            }
        });
        Ok(Self { local, task })
    }

    /// Where clients connect.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }
}

/// Forwards both ways until either side closes or the mischief cuts it.
async fn pipe(client: TcpStream, server: TcpStream, mischief: Mischief) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let requests = async {
        let limit = match mischief {
            Mischief::ResetAfterRequestBytes(n) => n,
            _ => usize::MAX,
        };
        forward(&mut client_read, &mut server_write, limit, None).await;
    };
    let responses = async {
        let (limit, stall) = match mischief {
            Mischief::TruncateResponse(n) => (n, None),
            Mischief::Stall(n, d) => (usize::MAX, Some((n, d))),
            _ => (usize::MAX, None),
        };
        forward(&mut server_read, &mut client_write, limit, stall).await;
    };
    // Whichever direction ends first ends the connection: dropping the
    // halves closes both sockets.
    tokio::select! {
        () = requests => {}
        () = responses => {}
    }
}

/// Copies `from` to `to`: at most `limit` bytes, pausing once after
/// `stall.0` bytes for `stall.1`.
async fn forward<R, W>(from: &mut R, to: &mut W, limit: usize, mut stall: Option<(usize, Duration)>)
where
    R: AsyncReadExt + Unpin,
    W: AsyncWriteExt + Unpin,
{
    let mut buf = vec![0u8; 64 * 1024];
    let mut done = 0usize;
    loop {
        let Ok(n) = from.read(&mut buf).await else {
            return;
        };
        if n == 0 {
            return;
        }
        let mut chunk = &buf[..n.min(limit - done)];
        if let Some((at, pause)) = stall {
            if done + chunk.len() >= at {
                let (before, after) = chunk.split_at(at.saturating_sub(done).min(chunk.len()));
                if to.write_all(before).await.is_err() {
                    return;
                }
                tokio::time::sleep(pause).await;
                stall = None;
                done += before.len();
                chunk = after;
            }
        }
        if to.write_all(chunk).await.is_err() {
            return;
        }
        done += chunk.len();
        if done >= limit {
            return;
        }
    }
}
