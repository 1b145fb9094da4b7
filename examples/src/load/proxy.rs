//! A counting TCP proxy: the independent count of the bytes a load run put on the wire.
//!
//! [`CountingProxy::start`] listens on `127.0.0.1:0` and forwards every connection it accepts
//! to a target address, counting the octets it forwards each way. Pointing `mailsec-load` (or
//! any client) at [`CountingProxy::local_addr`] gives a second count, taken by a different
//! piece of code at a different socket, to check the tool's own figures against
//! (`mailsec-load --via-proxy` does that itself). The proxy sees TLS as opaque bytes; it is
//! transparent to certificates as long as the client verifies the target's name
//! (`--server-name`).
//!
//! Bounded: at most [`MAX_PROXY_CONNECTIONS`] connections at once (more are closed at once),
//! one fixed 16 KiB buffer per direction.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::wire::WireCount;

/// The most connections the proxy forwards at once.
pub const MAX_PROXY_CONNECTIONS: usize = 1024;

#[derive(Debug, Default)]
struct Counters {
    /// read = octets forwarded server → client, written = client → server.
    wire: WireCount,
    accepted: AtomicU64,
    active: AtomicUsize,
    failed: AtomicU64,
}

/// A TCP proxy on loopback that counts the octets it forwards; see the [module docs](self).
/// Dropping it stops accepting and ends the forwarding tasks.
#[derive(Debug)]
pub struct CountingProxy {
    addr: SocketAddr,
    counters: Arc<Counters>,
    shutdown: CancellationToken,
}

impl CountingProxy {
    /// Listens on `127.0.0.1:0` and forwards each connection to `target` (`host:port`). Needs a
    /// tokio runtime (the accept loop is a spawned task).
    pub async fn start(target: &str) -> io::Result<CountingProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let counters = Arc::new(Counters::default());
        let shutdown = CancellationToken::new();
        let target = target.to_owned();
        tokio::spawn(accept_loop(
            listener,
            target,
            Arc::clone(&counters),
            shutdown.clone(),
        ));
        Ok(CountingProxy {
            addr,
            counters,
            shutdown,
        })
    }

    /// The address clients connect to.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Octets forwarded from clients to the target.
    pub fn to_server(&self) -> u64 {
        self.counters.wire.written()
    }

    /// Octets forwarded from the target to clients.
    pub fn to_client(&self) -> u64 {
        self.counters.wire.read()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.counters.accepted.load(Ordering::Relaxed)
    }

    /// Connections that could not be forwarded (the target refused, or too many at once).
    pub fn failed(&self) -> u64 {
        self.counters.failed.load(Ordering::Relaxed)
    }

    /// Connections being forwarded now.
    pub fn active(&self) -> usize {
        self.counters.active.load(Ordering::Relaxed)
    }

    /// Waits until no connection is being forwarded (both directions of each closed), or
    /// `timeout`; returns whether the proxy is idle. Call it after the clients are done and
    /// before reading the counts.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.active() == 0 {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn accept_loop(
    listener: TcpListener,
    target: String,
    counters: Arc<Counters>,
    shutdown: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return,
            a = listener.accept() => a,
        };
        let Ok((client, _)) = accepted else {
            // Out of descriptors and the like: wait a little rather than spin.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        counters.accepted.fetch_add(1, Ordering::Relaxed);
        if counters.active.load(Ordering::Relaxed) >= MAX_PROXY_CONNECTIONS {
            counters.failed.fetch_add(1, Ordering::Relaxed);
            continue; // dropped: closed
        }
        counters.active.fetch_add(1, Ordering::Relaxed);
        let counters = Arc::clone(&counters);
        let target = target.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = shutdown.cancelled() => {}
                ok = forward(client, &target, &counters) => {
                    if !ok {
                        counters.failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            counters.active.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// Forwards one connection both ways until both directions are closed; false if the target
/// could not be reached.
async fn forward(client: TcpStream, target: &str, counters: &Counters) -> bool {
    let Ok(server) = TcpStream::connect(target).await else {
        return false;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let up = pump(client_read, server_write, |n| counters.wire.add_written(n));
    let down = pump(server_read, client_write, |n| counters.wire.add_read(n));
    tokio::join!(up, down);
    true
}

/// Copies `from` to `to`, counting what was written, until `from` ends or either fails; then
/// closes the writing side so the other end sees the end too.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, count: impl Fn(usize)) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
        count(n);
    }
    let _ = to.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn forwards_and_counts_each_way() {
        let echo = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = echo.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (mut s, _) = echo.accept().await.unwrap();
            let mut buf = [0u8; 100];
            let n = s.read(&mut buf).await.unwrap();
            s.write_all(&buf[..n]).await.unwrap();
            s.write_all(b"!!").await.unwrap();
        });
        let proxy = CountingProxy::start(&target).await.unwrap();
        let mut c = TcpStream::connect(proxy.local_addr()).await.unwrap();
        c.write_all(b"hello").await.unwrap();
        let mut got = Vec::new();
        c.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"hello!!");
        drop(c);
        assert!(proxy.wait_idle(Duration::from_secs(5)).await);
        assert_eq!(proxy.to_server(), 5);
        assert_eq!(proxy.to_client(), 7);
        assert_eq!(proxy.connections(), 1);
        assert_eq!(proxy.failed(), 0);
    }

    #[tokio::test]
    async fn an_unreachable_target_is_counted_as_failed() {
        let free = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = free.local_addr().unwrap().to_string();
        drop(free);
        let proxy = CountingProxy::start(&target).await.unwrap();
        let mut c = TcpStream::connect(proxy.local_addr()).await.unwrap();
        let mut got = Vec::new();
        let _ = c.read_to_end(&mut got).await;
        assert!(got.is_empty());
        assert!(proxy.wait_idle(Duration::from_secs(5)).await);
        assert_eq!(proxy.failed(), 1);
    }
}
