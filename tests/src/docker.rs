//! Whether a Docker engine is reachable, for the Apache Kafka suite
//! (testcontainers, `apache/kafka` image). Asked directly — `GET /_ping` on
//! the engine's socket — so the answer, and the reason when it is "no",
//! does not depend on the testcontainers feature being built.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// The engine's default socket.
const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

const PING: &[u8] = b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n";

/// `Ok(endpoint)` when a Docker engine answers `/_ping` at `$DOCKER_HOST`
/// (`unix://PATH` or `tcp://HOST:PORT`) or the default socket; otherwise
/// why not, in words a person can act on.
///
/// # Errors
/// Why no engine is reachable.
pub fn engine() -> Result<String, String> {
    let host = std::env::var("DOCKER_HOST")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| format!("unix://{DEFAULT_SOCKET}"));
    engine_at(&host)
}

/// Like [`engine`], for the engine at `host` (`unix://PATH` or
/// `tcp://HOST:PORT`).
///
/// # Errors
/// Why no engine answers there.
pub fn engine_at(host: &str) -> Result<String, String> {
    let answer = if let Some(path) = host.strip_prefix("unix://") {
        UnixStream::connect(path)
            .and_then(|mut s| {
                s.set_read_timeout(Some(Duration::from_secs(3)))?;
                s.write_all(PING)?;
                read_status(&mut s)
            })
            .map_err(|e| format!("no Docker engine at {host} ({e})"))?
    } else if let Some(addr) = host.strip_prefix("tcp://") {
        TcpStream::connect(addr)
            .and_then(|mut s| {
                s.set_read_timeout(Some(Duration::from_secs(3)))?;
                s.write_all(PING)?;
                read_status(&mut s)
            })
            .map_err(|e| format!("no Docker engine at {host} ({e})"))?
    } else {
        return Err(format!(
            "DOCKER_HOST `{host}` is neither unix:// nor tcp://"
        ));
    };
    if answer.starts_with("HTTP/1.") && answer.contains(" 200") {
        Ok(host.to_string())
    } else {
        Err(format!(
            "{host} does not answer like a Docker engine: `{answer}`"
        ))
    }
}

/// The first line of an HTTP answer.
fn read_status(stream: &mut impl Read) -> std::io::Result<String> {
    let mut buf = [0u8; 256];
    let n = stream.read(&mut buf)?;
    let text = String::from_utf8_lossy(&buf[..n]);
    Ok(text.lines().next().unwrap_or_default().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, TcpListener};
    use std::thread;

    /// A one-shot server on 127.0.0.1 answering `reply` to one request.
    fn answering(reply: &'static str) -> String {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 256];
            let _ = s.read(&mut buf);
            s.write_all(reply.as_bytes()).unwrap();
        });
        format!("tcp://{addr}")
    }

    #[test]
    fn an_engine_answers_ping_with_200() {
        let host = answering("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK");
        assert_eq!(engine_at(&host), Ok(host.clone()));
    }

    #[test]
    fn anything_else_is_no_engine_with_a_reason() {
        let host = answering("SSH-2.0-OpenSSH\r\n");
        assert!(
            engine_at(&host)
                .unwrap_err()
                .contains("does not answer like a Docker engine")
        );
        let free = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap()
            .local_addr()
            .unwrap();
        let err = engine_at(&format!("tcp://{free}")).unwrap_err();
        assert!(
            err.starts_with("no Docker engine at tcp://127.0.0.1:"),
            "{err}"
        );
        let err = engine_at("unix:///nonexistent/docker.sock").unwrap_err();
        assert!(
            err.contains("no Docker engine at unix:///nonexistent"),
            "{err}"
        );
        assert!(engine_at("ssh://host").unwrap_err().contains("neither"));
    }
}
