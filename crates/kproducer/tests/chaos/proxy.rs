//! A TCP proxy on 127.0.0.1 that, on a seeded schedule, resets
//! connections, stalls them or cuts a response short.
//!
//! Every chunk of bytes the proxy forwards asks the shared [`Chaos`]
//! (seeded) what to do with it: pass it, stall before it, or cut the
//! connection partway through it (a request chunk: a reset, the broker may
//! or may not get the request; a response chunk: the rest of the response
//! is lost). The chaos is bounded in count and in time, so a run ends.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What the proxy does with one chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mischief {
    /// Forward it.
    Pass,
    /// Forward this many of its bytes, then close both sides.
    Cut(usize),
    /// Wait this long, then forward it.
    Stall(Duration),
}

/// Which way a chunk travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Request,
    Response,
}

#[derive(Debug)]
struct Schedule {
    rng: SmallRng,
    budget: u32,
    resets: u32,
    stalls: u32,
    truncations: u32,
}

/// The seeded schedule and its bounds, shared by every connection of every
/// proxy in a run.
#[derive(Debug)]
pub struct Chaos {
    schedule: Mutex<Schedule>,
    until: Instant,
    odds: f64,
}

impl Chaos {
    /// At most `budget` mischiefs, only within `window` from now, each
    /// chunk picked on with probability `odds`.
    pub fn new(seed: u64, budget: u32, window: Duration, odds: f64) -> Arc<Self> {
        Arc::new(Self {
            schedule: Mutex::new(Schedule {
                rng: SmallRng::seed_from_u64(seed),
                budget,
                resets: 0,
                stalls: 0,
                truncations: 0,
            }),
            until: Instant::now() + window,
            odds,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Schedule> {
        self.schedule
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many resets, stalls and truncated responses were done.
    pub fn counts(&self) -> [u32; 3] {
        let s = self.lock();
        [s.resets, s.stalls, s.truncations]
    }

    fn draw(&self, direction: Direction, len: usize) -> Mischief {
        let mut s = self.lock();
        if s.budget == 0 || Instant::now() > self.until || !s.rng.random_bool(self.odds) {
            return Mischief::Pass;
        }
        s.budget -= 1;
        let at = s.rng.random_range(0..len.max(1));
        match (direction, s.rng.random_range(0..2)) {
            (_, 0) => {
                s.stalls += 1;
                Mischief::Stall(Duration::from_millis(s.rng.random_range(10..3_000)))
            }
            (Direction::Request, _) => {
                s.resets += 1;
                Mischief::Cut(at)
            }
            (Direction::Response, _) => {
                s.truncations += 1;
                Mischief::Cut(at)
            }
        }
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
                let chaos = chaos.clone();
                connections.spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        pipe(client, server, &chaos).await;
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

/// Forwards both ways until either side closes or the chaos cuts it.
async fn pipe(client: TcpStream, server: TcpStream, chaos: &Chaos) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    // Whichever direction ends first ends the connection: dropping the
    // halves closes both sockets.
    tokio::select! {
        () = forward(&mut client_read, &mut server_write, chaos, Direction::Request) => {}
        () = forward(&mut server_read, &mut client_write, chaos, Direction::Response) => {}
    }
}

/// Copies `from` to `to`, chunk by chunk, as the chaos says.
async fn forward<R, W>(from: &mut R, to: &mut W, chaos: &Chaos, direction: Direction)
where
    R: AsyncReadExt + Unpin,
    W: AsyncWriteExt + Unpin,
{
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        match chaos.draw(direction, n) {
            Mischief::Pass => {}
            Mischief::Stall(d) => tokio::time::sleep(d).await,
            Mischief::Cut(at) => {
                let _ = to.write_all(&buf[..at]).await;
                return;
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
